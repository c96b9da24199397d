#!/usr/bin/env python3
"""The highest R-precision any encoder could reach on a synthetic-birds folder.

The ideal scorer knows every test bird's true part colours (synthetic_birds.txt)
and reads each caption exactly: a caption that names a wrong colour scores
-inf; one that is true scores log(1 / P(caption's colours)) = the sum over the
parts it names of log |palette of that part| (rival captions are drawn from
other birds, whose colours are independent draws). Ties are split evenly.
The protocol is 07_evaluate's: for every test image one of its own captions
and 99 captions of other test images, top-1, mean and population std over 10
repeats. No network, no PyTorch: python3 caption_ceiling.py <birds folder>
"""
import argparse
import math
import os
import random

COLOURS = {"red", "orange", "yellow", "green", "blue", "brown", "black", "white", "grey"}
PART_WORDS = {"crown": "crown", "wings": "wing", "wing": "wing", "belly": "belly", "underbelly": "belly",
              "tail": "tail", "beak": "beak", "bill": "beak", "eyes": "eye", "eye": "eye", "body": "body",
              "bird": "body"}
PARTS = ["crown", "wing", "belly", "tail", "beak", "eye", "body"]
PALETTE = {"eye": 5, "beak": 6}  # every other part: the 9 colours


def named_colours(caption):
    """{part: colour} a caption states, from the generator's wordings."""
    t = caption.replace(",", " ").split()
    out = {}
    for i, w in enumerate(t):
        if w not in COLOURS:
            continue
        if i >= 2 and t[i - 1] in ("is", "are") and t[i - 2] in PART_WORDS:   # "its crown is red"
            out[PART_WORDS[t[i - 2]]] = w
        elif i >= 1 and t[i - 1] == "mostly":                                 # "mostly red"
            out["body"] = w
        else:                                                                 # "red feathers on its crown"
            j = next((j for j in range(i + 1, len(t)) if t[j] in PART_WORDS), None)
            if j is None:
                raise ValueError("no part after '%s' in: %s" % (w, caption))
            out[PART_WORDS[t[j]]] = w
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("birds", help="folder written by 03_make_synthetic_birds")
    ap.add_argument("--split", default="test", choices=["test", "train"])
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    truth = {}
    for line in open(os.path.join(a.birds, "synthetic_birds.txt")):
        if line.startswith("#"):
            continue
        w = line.split()
        if w[2] == a.split:
            truth[w[0]] = dict(zip(PARTS, w[7:14]))
    keys = sorted(truth)
    captions = {k: [c.strip() for c in open(os.path.join(a.birds, "text", k + ".txt")) if c.strip()] for k in keys}
    wrong = sum(truth[k][p] != c for k in keys for cap in captions[k] for p, c in named_colours(cap).items())
    if wrong:
        raise SystemExit("the caption reader disagrees with synthetic_birds.txt on %d part(s)" % wrong)

    def score(k, caption):
        s = 0.0
        for p, c in named_colours(caption).items():
            if truth[k][p] != c:
                return -math.inf
            s += math.log(PALETTE.get(p, 9))
        return s

    others_of = {k: [o for o in keys if o != k] for k in keys}
    rng = random.Random(a.seed)
    per_repeat = []
    for _ in range(a.repeats):
        hits = 0.0
        for k in keys:
            own = score(k, rng.choice(captions[k]))
            others = others_of[k]
            rivals = [score(k, rng.choice(captions[rng.choice(others)])) for _ in range(a.candidates - 1)]
            if all(r <= own for r in rivals):
                hits += 1.0 / (1 + sum(r == own for r in rivals))
        per_repeat.append(100.0 * hits / len(keys))
    mean = sum(per_repeat) / len(per_repeat)
    std = math.sqrt(sum((x - mean) ** 2 for x in per_repeat) / len(per_repeat))
    print("%d %s images, %d candidates: ideal R-precision %.2f +- %.2f %%" % (len(keys), a.split, a.candidates, mean, std))


if __name__ == "__main__":
    main()
