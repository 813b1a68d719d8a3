"""Golden values for trainer's AdamW, schedule, clipping and clamp.

Runs torch.optim.AdamW with open_clip_train's parameter groups (its exclude
rule), its cosine_lr schedule, torch.nn.utils.clip_grad_norm_ and the
logit_scale clamp, on a handful of small named tensors for a few steps, and
writes adamw_golden.json. The Go test (optim_test.go) replays it; it never
needs Python.

    ~/.cache/clipstream/venv/bin/python trainer/testdata/make_adamw_golden.py
"""
import json
import math
import os

import torch
from open_clip_train.scheduler import cosine_lr

torch.manual_seed(0)
shapes = [
    ("positional_embedding", (3, 4)),
    ("text_projection", (4, 2)),
    ("logit_scale", ()),
    ("visual.class_embedding", (4,)),
    ("visual.ln_pre.weight", (4,)),
    ("visual.transformer.resblocks.0.attn.in_proj_bias", (6,)),
    ("visual.transformer.resblocks.0.mlp.c_fc.weight", (5, 4)),
    ("ln_final.bias", (4,)),
]
params = {}
for name, shape in shapes:
    p = torch.randn(shape) * 0.5
    if name == "logit_scale":
        p = torch.tensor(math.log(100) - 0.01)  # near the clamp, so it bites
    params[name] = torch.nn.Parameter(p.float())

exclude = lambda n, p: p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n
named = list(params.items())
gain_or_bias = [p for n, p in named if exclude(n, p)]
rest = [p for n, p in named if not exclude(n, p)]
base_lr, warmup, steps, wd, clip = 0.05, 2, 6, 0.2, 1.0
opt = torch.optim.AdamW(
    [{"params": gain_or_bias, "weight_decay": 0.0}, {"params": rest, "weight_decay": wd}],
    lr=base_lr, betas=(0.9, 0.98), eps=1e-6, foreach=False,
)
sched = cosine_lr(opt, base_lr, warmup, steps)

flat = lambda d: [float(x) for n, _ in shapes for x in d[n].detach().reshape(-1).tolist()]
out = {
    "names": [n for n, _ in shapes],
    "shapes": [list(s) for _, s in shapes],
    "decay": [not exclude(n, params[n]) for n, _ in shapes],
    "base_lr": base_lr, "warmup": warmup, "steps": steps, "weight_decay": wd, "clip": clip,
    "init": flat(params),
    "grads": [], "lrs": [], "norms": [], "after": [],
}
for step in range(steps):
    lr = sched(step)
    g = {n: (torch.randn(params[n].shape) * (3.0 if step % 2 == 0 else 0.1)).float() for n, _ in shapes}
    g["logit_scale"] = torch.tensor(-2.0)  # pushes logit_scale up, past ln 100
    for n, p in params.items():
        p.grad = g[n].clone()
    norm = torch.nn.utils.clip_grad_norm_(list(params.values()), clip, norm_type=2.0)
    opt.step()
    with torch.no_grad():
        params["logit_scale"].clamp_(0, math.log(100))
    out["grads"].append(flat(g))
    out["lrs"].append(lr)
    out["norms"].append(float(norm))
    out["after"].append(flat(params))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adamw_golden.json")
with open(path, "w") as f:
    json.dump(out, f, indent=None)
    f.write("\n")
print("wrote", path)
