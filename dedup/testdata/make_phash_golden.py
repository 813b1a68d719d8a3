#!/usr/bin/env python3
"""Make the pHash golden file for dedup's TestPHashGolden.

Writes small deterministic PNGs into phash/ and phash_golden.json with, for each
image, imagehash.phash (the anchor), the hash under clipstream's definition
(imagehash's algorithm with DCT coefficients below 1e-6 in magnitude set to 0,
see dedup/phash.go), whether imagehash's bits depend on FFT rounding noise, and
PIL's 32x32 grayscale resize (hex) so a mismatch can be located.

Regenerate (from the repository root):

    python3 -m venv ~/.cache/clipstream/venv
    ~/.cache/clipstream/venv/bin/pip install imagehash==4.3.2 pillow==13.0.0 numpy scipy
    ~/.cache/clipstream/venv/bin/python dedup/testdata/make_phash_golden.py

The Go test needs neither Python nor this script.
"""
import json
import os

import imagehash
import numpy as np
import PIL
import scipy
import scipy.fftpack
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "phash")
EPS = 1e-6


def images():
    """(name, PIL image) pairs; every value is a function of its position or a seeded RNG."""
    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([(xx * 4) % 256, (yy * 5) % 256, (xx * yy) % 256], axis=-1).astype(np.uint8)
    yield "gradient_rgb_64x48", Image.fromarray(rgb, "RGB")

    yy, xx = np.mgrid[0:40, 0:40]
    yield "checker_gray_40x40", Image.fromarray((((xx // 5 + yy // 5) % 2) * 255).astype(np.uint8), "L")

    yy, xx = np.mgrid[0:70, 0:90]
    off = (((xx // 7 + yy // 5) % 2) * 200 + xx + 2 * yy) % 256
    yield "checker_skew_rgb_90x70", Image.fromarray(np.stack([off, off // 2, 255 - off], -1).astype(np.uint8), "RGB")

    yield "noise_rgb_100x80_seed1", Image.fromarray(np.random.RandomState(1).randint(0, 256, (80, 100, 3), dtype=np.uint8), "RGB")
    yield "noise_gray_33x57_seed2", Image.fromarray(np.random.RandomState(2).randint(0, 256, (57, 33), dtype=np.uint8), "L")
    yield "noise_up_gray_7x9_seed3", Image.fromarray(np.random.RandomState(3).randint(0, 256, (9, 7), dtype=np.uint8), "L")
    yield "noise_tall_gray_40x90_seed8", Image.fromarray(np.random.RandomState(8).randint(0, 256, (90, 40), dtype=np.uint8), "L")
    yield "noise_tall_gray_45x58_seed9", Image.fromarray(np.random.RandomState(9).randint(0, 256, (58, 45), dtype=np.uint8), "L")
    yield "noise_wide_rgb_120x20_seed10", Image.fromarray(np.random.RandomState(10).randint(0, 256, (20, 120, 3), dtype=np.uint8), "RGB")
    yield "noise_gray_32x32_seed7", Image.fromarray(np.random.RandomState(7).randint(0, 256, (32, 32), dtype=np.uint8), "L")
    yield "noise_rgba_64x64_seed4", Image.fromarray(np.random.RandomState(4).randint(0, 256, (64, 64, 4), dtype=np.uint8), "RGBA")

    rs = np.random.RandomState(5)
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float64)
    acc = np.zeros((96, 128, 3))
    for _ in range(12):
        cx, cy, s = rs.uniform(0, 128), rs.uniform(0, 96), rs.uniform(5, 30)
        col = rs.uniform(0, 255, 3)
        g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        acc += g[..., None] * col
    yield "blobs_rgb_128x96_seed5", Image.fromarray(np.clip(acc, 0, 255).astype(np.uint8), "RGB")

    pal = Image.fromarray(np.random.RandomState(6).randint(0, 256, (40, 60, 3), dtype=np.uint8), "RGB")
    yield "palette_60x40_seed6", pal.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)

    yield "black_32x32", Image.new("L", (32, 32), 0)
    yield "white_50x50", Image.new("RGB", (50, 50), (255, 255, 255))
    yield "gray_40x30", Image.new("RGB", (40, 30), (128, 128, 128))


def bits_to_hex(bits):
    v = 0
    for b in bits.flatten():
        v = (v << 1) | int(b)
    return "%016x" % v


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = []
    for name, im in images():
        path = os.path.join(OUT, name + ".png")
        im.save(path, optimize=False)
        im = Image.open(path)  # hash what the Go test will decode
        anchor = str(imagehash.phash(im))
        small = im.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
        px = np.asarray(small)
        dct = scipy.fftpack.dct(scipy.fftpack.dct(px, axis=0), axis=1)[:8, :8]
        assert bits_to_hex(dct > np.median(dct)) == anchor
        snapped = np.where(np.abs(dct) < EPS, 0.0, dct)
        ours = bits_to_hex(snapped > np.median(snapped))
        med = np.median(dct)
        noise = bool(np.any(np.abs(dct) < EPS) or np.min(np.abs(dct - med)) < EPS)
        if not noise:
            assert ours == anchor, name
        rows.append({
            "file": "phash/" + name + ".png",
            "imagehash": anchor,
            "clipstream": ours,
            "noise_dependent": noise,
            "gray32": px.astype(np.uint8).tobytes().hex(),
        })
    meta = {
        "generator": "dedup/testdata/make_phash_golden.py",
        "imagehash": imagehash.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "images": rows,
    }
    with open(os.path.join(HERE, "phash_golden.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
