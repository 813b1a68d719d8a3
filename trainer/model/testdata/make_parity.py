#!/usr/bin/env python3
"""Golden outputs of open_clip for trainer/model's parity test.

Reads the files the Go test writes (weights from our Export, and a batch):

    go test ./trainer/model -run TestOpenCLIPParity -write-parity-input
    ~/.cache/clipstream/venv/bin/python trainer/model/testdata/make_parity.py

builds open_clip's CLIP from the config JSON in the input's metadata, loads
our weights with load_state_dict(strict=True), runs the batch in float64,
computes open_clip's ClipLoss, backpropagates, and writes
parity_golden.safetensors.gz: image_features, text_features,
logits_per_image, loss and grad.<name> for every parameter, with the SHA-256
of both input files so the Go test can tell a stale golden file.

With --check-vitb32 DIR it instead checks our ViT-B-32 export (written by
go test ./trainer/model -run TestWriteViTB32Check -vitb32-dir DIR) loads
into open_clip.create_model('ViT-B-32') with strict=True and gives the same
embeddings within 1e-4.

It also writes vit_b_32_state_dict.txt: the names and shapes, in order, of
open_clip.create_model('ViT-B-32')'s state dict, which the Go layout test
compares with ours.

Needs: pip install torch open-clip-torch safetensors (CPU is enough).
"""
import gzip
import hashlib
import json
import os
import sys

import torch
import open_clip
from open_clip.loss import ClipLoss
from open_clip.model import CLIP
from safetensors.torch import load_file, save

HERE = os.path.dirname(os.path.abspath(__file__))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def metadata(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n)).get("__metadata__", {})


def vit_b_32_layout():
    model = open_clip.create_model("ViT-B-32")
    lines = [f"{k} {','.join(str(d) for d in v.shape)}" for k, v in model.state_dict().items()]
    with open(os.path.join(HERE, "vit_b_32_state_dict.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    n = sum(v.numel() for v in model.state_dict().values())
    print(f"ViT-B-32: {len(lines)} tensors, {n} parameters")


def golden():
    wpath = os.path.join(HERE, "parity_weights.safetensors")
    ipath = os.path.join(HERE, "parity_input.safetensors")
    meta = metadata(ipath)
    cfg = json.loads(meta["open_clip_config"])
    quick = cfg.pop("quick_gelu", False)
    torch.manual_seed(0)
    model = CLIP(**cfg, quick_gelu=quick)
    missing, unexpected = model.load_state_dict(load_file(wpath), strict=True)
    assert not missing and not unexpected
    inputs = load_file(ipath)
    images, tokens = inputs["images"], inputs["tokens"].long()

    def run(dtype):
        m = model.to(dtype)
        m.zero_grad()
        out = m(images.to(dtype), tokens)
        img, txt, scale = out["image_features"], out["text_features"], out["logit_scale"]
        loss = ClipLoss()(img, txt, scale)
        loss.backward()
        logits = scale * img @ txt.T
        res = {
            "image_features": img.detach(),
            "text_features": txt.detach(),
            "logits_per_image": logits.detach(),
            "loss": loss.detach().reshape(1),
        }
        for name, p in m.named_parameters():
            res["grad." + name] = p.grad.detach().clone()
        return res

    model.output_dict = True
    ref = run(torch.float64)
    f32 = run(torch.float32)
    worst = max(
        ((f32[k].double() - ref[k]).norm() / ref[k].norm()).item() for k in ref if ref[k].norm() > 0
    )
    print(f"loss {ref['loss'].item():.6f}; torch float32 vs float64: worst relative error {worst:.3g}")
    tensors = {k: v.to(torch.float32).contiguous() for k, v in ref.items()}
    blob = save(tensors, metadata={
        "weights_sha256": sha256(wpath),
        "input_sha256": sha256(ipath),
        "open_clip_version": open_clip.__version__,
        "torch_version": torch.__version__,
        "dtype": "float64",
    })
    out = os.path.join(HERE, "parity_golden.safetensors.gz")
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write(blob)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


def check_vit_b_32(d):
    """Loads our ViT-B-32 export into create_model('ViT-B-32') strictly and
    compares its embeddings with ours (written by the Go test with
    -vitb32-dir)."""
    model = open_clip.create_model("ViT-B-32")
    model.load_state_dict(load_file(os.path.join(d, "vit_b_32.safetensors")), strict=True)
    model.eval()
    ours = load_file(os.path.join(d, "vit_b_32_check.safetensors"))
    with torch.no_grad():
        img = model.encode_image(ours["images"], normalize=True)
        txt = model.encode_text(ours["tokens"].long(), normalize=True)
    for name, theirs in (("image_features", img), ("text_features", txt)):
        err = ((ours[name] - theirs).norm() / theirs.norm()).item()
        print(f"ViT-B-32 {name}: relative error {err:.3g}")
        assert err < 1e-4, name
    print("ViT-B-32: strict load OK, embeddings match")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-vitb32":
        check_vit_b_32(sys.argv[2])
        sys.exit(0)
    vit_b_32_layout()
    golden()
    sys.exit(0)
