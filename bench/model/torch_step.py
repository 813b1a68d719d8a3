#!/usr/bin/env python3
"""PyTorch/open_clip anchor for bench/model/run.sh.

Times one CLIP training step on the CPU, the same step as our bench/model
program: zero_grad, forward of both towers, open_clip's ClipLoss, backward.
The model is open_clip.model.CLIP built from the config JSON our program
prints (-print-config), as trainer/model/testdata/make_parity.py builds it,
in float32 and train mode, with torch.set_num_threads(--threads).

    torch_step.py --config-json '{...}' --name small --batch 32 --threads 2 --warmup 2 --steps 5

Prints one JSON line: the median seconds per step over --steps timed steps
(after --warmup untimed ones), samples/s = batch / median, every step's time
and the peak resident memory.

Needs: torch, open-clip-torch (run.sh finds or makes the venv).
"""
import argparse
import json
import resource
import statistics
import time

import torch
import open_clip
from open_clip.loss import ClipLoss
from open_clip.model import CLIP

# The same captions as bench/model/main.go, cycled over the batch.
CAPTIONS = [
    "a photo of a cat sitting on a red sofa",
    "Vintage bicycle leaning against a brick wall, 1970s",
    "diagram: the water cycle (evaporation → condensation → precipitation)",
    "two dogs",
    "Sunset over the harbour in Marseille with fishing boats and gulls, long exposure, golden hour",
    "",
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config-json", required=True)
    p.add_argument("--name", default="")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    cfg = json.loads(a.config_json)
    quick = cfg.pop("quick_gelu", False)
    model = CLIP(**cfg, quick_gelu=quick).float().train()
    loss_fn = ClipLoss()
    S = cfg["vision_cfg"]["image_size"]
    images = torch.randn(a.batch, 3, S, S, dtype=torch.float32)
    ctx = cfg["text_cfg"]["context_length"]
    tokens = open_clip.tokenize([CAPTIONS[i % len(CAPTIONS)] for i in range(a.batch)], context_length=ctx)

    def step():
        model.zero_grad()  # set_to_none, as an optimizer's zero_grad
        img, txt, scale = model(images, tokens)
        loss = loss_fn(img, txt, scale)
        loss.backward()
        return loss.item()

    loss = None
    for _ in range(a.warmup):
        loss = step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "impl": "pytorch", "config": a.name, "batch": a.batch, "threads": a.threads,
        "torch": torch.__version__, "open_clip": open_clip.__version__,
        "params": sum(p.numel() for p in model.parameters()), "loss": loss,
        "s_per_step": med, "samples_per_s": a.batch / med, "steps": times,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
