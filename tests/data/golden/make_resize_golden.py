#!/usr/bin/env python3
"""Golden fixtures for attngan/data/transforms.hpp (tests/data/test_transforms.cpp).

Writes, next to this script:
  resize_source.png            a 97x73 synthetic RGB image (gradients, hard
                               edges, noise: every rounding path of the filter)
  resize_<w>x<h>.png           PIL's source.resize((w, h), Image.BILINEAR)
  resize_tiny_<w>x<h>.png      the same from the 5x4 top-left corner of the
                               source (inputs narrower than the filter)
  pipeline_source.png          a 120x90 synthetic RGB image
  pipeline_<case>_<s>.png      the spec §10.1 pipeline with fixed random
                               choices (see CASES), per stage size s

Run with Debian's Pillow (apt-get install python3-pil):
  /usr/bin/python3 tests/data/golden/make_resize_golden.py
The files were generated with Pillow 9.4.0. No numpy needed.
"""
import os

import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))

# Output sizes of the plain resize fixtures (source 97x73): strong and mild
# downscaling (antialiased triangle filter), upscaling, one axis only, mixed.
RESIZE_SIZES = [(24, 18), (29, 23), (50, 73), (97, 40), (160, 121), (200, 17), (7, 5), (97, 73)]
TINY_SIZES = [(1, 1), (2, 3), (9, 2)]

# Pipeline fixtures (source 120x90): bbox, random-crop offsets and flip, for a
# 3-stage pyramid with base 16 (stages 16, 32, 64; Scale(int(64*76/64)) = 76).
BASE, BRANCHES = 16, 3
CASES = {
    "centre": dict(bbox=(30, 20, 50, 40), crop=(5, 9), flip=False),
    "border": dict(bbox=(0, 50, 60, 35), crop=(13, 7), flip=True),
    "nobbox": dict(bbox=None, crop=(20, 3), flip=True),
}


def lcg_bytes(n, state):
    out = []
    for _ in range(n):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out.append((state >> 16) & 0xFF)
    return out, state


def synthetic(width, height, seed):
    noise, _ = lcg_bytes(width * height * 3, seed)
    px = []
    for y in range(height):
        for x in range(width):
            i = (y * width + x) * 3
            r = (x * 255) // max(1, width - 1)
            g = (y * 255) // max(1, height - 1)
            b = 255 if (x // 7 + y // 5) % 2 else 0          # hard edges
            if (x - width // 2) ** 2 + (y - height // 3) ** 2 < (height // 4) ** 2:
                r, g, b = 250, 20, 240                        # a saturated disc
            r = min(255, max(0, r + (noise[i] % 41) - 20))
            g = min(255, max(0, g + (noise[i + 1] % 41) - 20))
            b = min(255, max(0, b + (noise[i + 2] % 41) - 20))
            px.append((r, g, b))
    img = Image.new("RGB", (width, height))
    img.putdata(px)
    return img


def scale(img, size):
    """torchvision 0.2 Scale(size) under Python 2 (int / int floors)."""
    w, h = img.size
    if (w <= h and w == size) or (h <= w and h == size):
        return img
    if w < h:
        return img.resize((size, size * h // w), Image.BILINEAR)
    return img.resize((size * w // h, size), Image.BILINEAR)


def pipeline(img, bbox, crop, flip):
    width, height = img.size
    if bbox is not None:
        r = int(max(bbox[2], bbox[3]) * 0.75)
        cx = int((2 * bbox[0] + bbox[2]) / 2)
        cy = int((2 * bbox[1] + bbox[3]) / 2)
        img = img.crop([max(0, cx - r), max(0, cy - r), min(width, cx + r), min(height, cy + r)])
    final = BASE * 2 ** (BRANCHES - 1)
    img = scale(img, int(final * 76 / 64))
    x, y = crop
    img = img.crop((x, y, x + final, y + final))
    if flip:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    out = []
    for i in range(BRANCHES):
        s = BASE * 2 ** i
        out.append((s, scale(img, s) if i < BRANCHES - 1 else img))
    return out


def main():
    src = synthetic(97, 73, 12345)
    src.save(os.path.join(HERE, "resize_source.png"))
    for w, h in RESIZE_SIZES:
        src.resize((w, h), Image.BILINEAR).save(os.path.join(HERE, f"resize_{w}x{h}.png"))
    tiny = src.crop((0, 0, 5, 4))
    for w, h in TINY_SIZES:
        tiny.resize((w, h), Image.BILINEAR).save(os.path.join(HERE, f"resize_tiny_{w}x{h}.png"))
    psrc = synthetic(120, 90, 777)
    psrc.save(os.path.join(HERE, "pipeline_source.png"))
    for name, case in CASES.items():
        for s, img in pipeline(psrc, **case):
            assert img.size == (s, s), (name, s, img.size)
            img.save(os.path.join(HERE, f"pipeline_{name}_{s}.png"))
    print("Pillow", PIL.__version__, "->", HERE)


if __name__ == "__main__":
    main()
