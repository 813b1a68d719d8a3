#!/usr/bin/env python3
"""The anchor of bench/loader: the Python webdataset loader on clipstream's shards.

Reads every shard under DIR/shards/ through `pipe:zstd -dc < FILE` with webdataset,
decodes the JPEG with PIL (convert("RGB"), as open_clip does), applies
torchvision's RandomResizedCrop as open_clip trains (scale (0.9, 1.0), ratio
(3/4, 4/3), bicubic; the parameters drawn exactly as
torchvision.transforms.RandomResizedCrop.get_params draws them, the crop and
resize done with PIL as torchvision does for PIL images), normalises with
CLIP's mean and std in numpy into float32 CHW, decodes the caption, and
collates batches of 64 into one float32 [64, 3, 224, 224] array. No torch.

Single process: the figure is per core. CPU time counts this process and
its children (the zstd processes of the pipe: URLs).

  wds_loader.py DIR [--epochs 1] [--batch 64] [--size 224] [--label wds]

Prints one RESULT line like loaderbench's.
"""

import argparse
import glob
import io
import math
import os
import random
import resource
import time

import numpy as np
import webdataset as wds
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
SCALE = (0.9, 1.0)
RATIO = (3.0 / 4.0, 4.0 / 3.0)


def get_params(width, height, rng):
    """torchvision RandomResizedCrop.get_params, with Python's RNG for torch's."""
    area = height * width
    log_ratio = (math.log(RATIO[0]), math.log(RATIO[1]))
    for _ in range(10):
        target_area = area * rng.uniform(SCALE[0], SCALE[1])
        aspect_ratio = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            i = rng.randint(0, height - h)
            j = rng.randint(0, width - w)
            return i, j, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(RATIO):
        w = width
        h = int(round(w / min(RATIO)))
    elif in_ratio > max(RATIO):
        h = height
        w = int(round(h * max(RATIO)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def make_transform(size, rng):
    scale = (1.0 / (255.0 * STD)).astype(np.float32)
    bias = (-MEAN / STD).astype(np.float32)

    def transform(sample):
        img = Image.open(io.BytesIO(sample["jpg"])).convert("RGB")
        i, j, h, w = get_params(img.width, img.height, rng)
        # torchvision.transforms.functional.resized_crop on a PIL image:
        # crop, then resize (PIL resize is antialiased).
        img = img.crop((j, i, j + w, i + h)).resize((size, size), Image.BICUBIC)
        a = np.asarray(img, dtype=np.float32)
        a = a * scale + bias  # (x/255 - mean) / std
        return a.transpose(2, 0, 1), sample["txt"].decode("utf-8")

    return transform


def collate(samples):
    imgs = np.stack([s[0] for s in samples])
    return imgs, [s[1] for s in samples]


def cpu_seconds():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--label", default="wds")
    args = ap.parse_args()
    shards = sorted(glob.glob(os.path.join(args.dir, "shards", "*.tar.zst")))
    if not shards:
        raise SystemExit(f"no shards under {args.dir}/shards")
    urls = [f"pipe:zstd -dc < {s}" for s in shards]
    rng = random.Random(1)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    n = 0
    for epoch in range(args.epochs):
        ds = (
            wds.WebDataset(urls, shardshuffle=False, empty_check=False)
            .shuffle(1000, initial=100, rng=random.Random(epoch))
            .map(make_transform(args.size, rng))
            .batched(args.batch, collation_fn=collate, partial=True)
        )
        for imgs, caps in ds:
            assert imgs.dtype == np.float32 and imgs.shape[1:] == (3, args.size, args.size)
            n += len(caps)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    print(
        f"RESULT label={args.label} procs=1 samples={n} wall_s={wall:.3f} cpu_s={cpu:.3f} "
        f"samples_per_s={n / wall:.1f} samples_per_cpu_s={n / cpu:.1f} stall_s=0 fetch_wait_s=0 skipped=0"
    )


if __name__ == "__main__":
    main()
