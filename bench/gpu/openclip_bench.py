#!/usr/bin/env python3
"""Times open_clip training steps on synthetic batches: the anchor for
`clipstream bench` (scripts/gpu-check.sh runs both in one call).

The step is open_clip_train's: the model under torch.autocast (bf16 on CUDA
by default, as `--precision amp_bf16`), open_clip's ClipLoss, AdamW with
open_clip's settings (betas 0.9/0.98, eps 1e-6, weight decay 0.2 on
matrices only), the logit scale clamped to [0, ln 100] after each step.
Images are float32 [B,3,224,224] in pinned host memory (random pixels
normalised with CLIP's mean and std, as a loader's batches would be),
copied to the device every step (non_blocking); captions are random token ids between start and end markers.
Each step is timed between two torch.cuda.synchronize() calls; the result
is the median timed step. Prints one line per step and one JSON line last.

    python3 bench/gpu/openclip_bench.py --device cuda --batch 256 --steps 20
"""
import argparse
import json
import math
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ViT-B-32")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--batches", type=int, default=4, help="distinct synthetic batches cycled through")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (not open_clip's default)")
    ap.add_argument("--peak-tflops", type=float, default=0)
    ap.add_argument("--gflop-per-sample", type=float, default=44.3, help="the model's training FLOPs per sample")
    a = ap.parse_args()

    import torch
    import open_clip
    from open_clip.loss import ClipLoss

    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model = open_clip.create_model(a.model, pretrained=None).to(dev)
    model.train()
    if a.compile:
        model = torch.compile(model)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        excluded = p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n
        (no_decay if excluded else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": 0.2}],
        lr=5e-4, betas=(0.9, 0.98), eps=1e-6)
    loss_fn = ClipLoss()
    cfg = open_clip.get_model_config(a.model)
    S = cfg["vision_cfg"]["image_size"]
    L = cfg["text_cfg"].get("context_length", 77)
    V = cfg["text_cfg"].get("vocab_size", 49408)

    g = torch.Generator().manual_seed(a.seed)
    images, texts = [], []
    for _ in range(a.batches):
        pix = torch.randint(0, 256, (a.batch, 3, S, S), generator=g, dtype=torch.uint8)
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
        img = (pix.float() / 255 - mean) / std
        if cuda:
            img = img.pin_memory()
        images.append(img)
        tok = torch.zeros(a.batch, L, dtype=torch.long)
        for b in range(a.batch):
            words = 3 + int(torch.randint(0, L - 4, (1,), generator=g))
            tok[b, 0] = V - 2
            tok[b, 1:words + 1] = torch.randint(1, V - 2, (words,), generator=g)
            tok[b, words + 1] = V - 1
        texts.append(tok.pin_memory() if cuda else tok)

    amp = torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    times, losses = [], []
    total = a.warmup + a.steps
    for i in range(total):
        sync()
        t0 = time.perf_counter()
        x = images[i % a.batches].to(dev, non_blocking=True)
        t = texts[i % a.batches].to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        with amp:
            out = model(x, t)
            if isinstance(out, dict):
                out = (out["image_features"], out["text_features"], out["logit_scale"])
            loss = loss_fn(out[0], out[1], out[2])
        loss.backward()
        opt.step()
        with torch.no_grad():
            m = model._orig_mod if a.compile else model
            m.logit_scale.clamp_(0, math.log(100))
        lv = loss.item()  # waits for the step, as ours reads its loss back
        sync()
        d = time.perf_counter() - t0
        losses.append(lv)
        tag = "warm-up"
        if i >= a.warmup:
            times.append(d)
            tag = "timed"
        print(f"step {i + 1}/{total} | loss {lv:.6f} | {d * 1000:.1f} ms | {a.batch / d:.0f} samples/s | {tag}", flush=True)

    med = statistics.median(times)
    sps = a.batch / med
    tflops = a.gflop_per_sample * sps / 1e3
    res = {
        "model": a.model, "device": str(dev), "precision": a.precision, "batch": a.batch, "steps": len(times),
        "median_step_ms": med * 1000, "samples_per_s": sps, "gflop_per_sample": a.gflop_per_sample,
        "tflops": tflops, "torch": torch.__version__, "open_clip": getattr(open_clip, "__version__", "?"),
        "losses": losses,
    }
    if a.peak_tflops > 0:
        res["peak_tflops"] = a.peak_tflops
        res["mfu"] = tflops / a.peak_tflops
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    sys.exit(main())
