#!/usr/bin/env python3
"""DAMSM pretraining with the PyTorch oracle's modules, scored like 07_evaluate --real.

Trains the oracle's TextEncoder and SmallDAMSMImageEncoder (../shared/reference)
on a CUB-layout folder (03_make_synthetic_birds writes one) the way
04_pretrain_damsm does by default in the demo: whole image encoder trained,
Adam (0.5, 0.999), text gradients clipped at 0.25, loss w0 + w1 + s0 + s1 with
class masking, batch 32, the bounding-box crop resized to 76/64 of the input
side, random crop and flip. Then R-precision on real images: for each image
one of its captions and 99 of other images, top-1 by the cosine of image code
and sentence vector, mean and population std over 10 repeats.

--true-attributes replaces the image encoder with linear maps of the true
part colours (synthetic_birds.txt): how fast the text side alone can learn.

Run with Debian's PyTorch:  /usr/bin/python3 oracle_damsm.py <birds> --epochs 60
(ATTNGAN_REFERENCE_DIR: where attngan_ref.py is; default ../shared/reference
next to the repository).
"""
import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("ATTNGAN_REFERENCE_DIR", os.path.join(HERE, "..", "..", "..", "shared", "reference")))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from attngan_ref import AttnGANConfig, SmallDAMSMImageEncoder, TextEncoder, sent_loss, words_loss  # noqa: E402

COLOURS = ["red", "orange", "yellow", "green", "blue", "brown", "black", "white", "grey"]
WORDS_NUM = 18


class TrueAttributes(torch.nn.Module):
    """Diagnostic image side: 7 parts x 9 colours one-hot -> region and code."""

    def __init__(self, nef):
        super().__init__()
        self.nef = nef
        self.regions = torch.nn.Linear(63, nef * 9)
        self.code = torch.nn.Linear(63, nef)

    def forward(self, x):
        return self.regions(x).view(-1, self.nef, 3, 3), self.code(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("birds")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--size", type=int, default=64, help="image encoder input side")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--image-lr", type=float, default=None, help="default: --lr")
    ap.add_argument("--lr-decay", type=float, default=1.0)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--clip", type=float, default=0.25)
    ap.add_argument("--keep-adam", action="store_true", help="one Adam for the run (the original makes one per epoch)")
    ap.add_argument("--no-class-mask", action="store_true")
    ap.add_argument("--no-words-loss", action="store_true")
    ap.add_argument("--true-attributes", action="store_true")
    ap.add_argument("--attribute-pretrain", type=int, default=0, metavar="EPOCHS",
                    help="first train the image encoder's trunk to name each part's colour (synthetic_birds.txt), "
                         "a stand-in for a pretrained trunk")
    ap.add_argument("--freeze-trunk", action="store_true",
                    help="after --attribute-pretrain, train only the image encoder's two projections")
    ap.add_argument("--text-attribute-pretrain", type=int, default=0, metavar="EPOCHS",
                    help="first train the text encoder to name the bird's part colours from one of its captions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)

    cub = os.path.join(a.birds, "CUB_200_2011")
    keys = [line.split()[1][:-4] for line in open(os.path.join(cub, "images.txt"))]
    boxes = [list(map(float, line.split()[1:])) for line in open(os.path.join(cub, "bounding_boxes.txt"))]
    is_train = [line.split()[1] == "1" for line in open(os.path.join(cub, "train_test_split.txt"))]
    classes = [int(line.split()[1]) for line in open(os.path.join(cub, "image_class_labels.txt"))]
    captions = [[c.strip().lower().replace(",", " ,").split()
                 for c in open(os.path.join(a.birds, "text", k + ".txt")) if c.strip()] for k in keys]
    vocab = {"<end>": 0}
    for cs in captions:
        for c in cs:
            for w in c:
                vocab.setdefault(w, len(vocab))
    attributes = {}
    if a.true_attributes or a.attribute_pretrain or a.text_attribute_pretrain:
        for line in open(os.path.join(a.birds, "synthetic_birds.txt")):
            if not line.startswith("#"):
                w = line.split()
                v = torch.zeros(63)
                for p, c in enumerate(w[7:14]):
                    v[p * 9 + COLOURS.index(c)] = 1
                attributes[w[0]] = v

    big = a.size * 76 // 64

    def load(i):
        img = Image.open(os.path.join(cub, "images", keys[i] + ".jpg")).convert("RGB")
        x, y, w, h = boxes[i]
        r = int(max(w, h) * 0.75)
        cx, cy = int(x + w / 2), int(y + h / 2)
        img = img.crop((max(0, cx - r), max(0, cy - r), min(img.size[0], cx + r), min(img.size[1], cy + r)))
        return img.resize((big, big), Image.BILINEAR)

    pictures = [load(i) for i in range(len(keys))]

    def image_input(i, train):
        if a.true_attributes:
            return attributes[keys[i]]
        if train:
            ox, oy = rng.randint(0, big - a.size), rng.randint(0, big - a.size)
            p = pictures[i].crop((ox, oy, ox + a.size, oy + a.size))
            if rng.random() < 0.5:
                p = p.transpose(Image.FLIP_LEFT_RIGHT)
        else:
            p = pictures[i].resize((a.size, a.size), Image.BILINEAR)
        return torch.from_numpy(np.asarray(p, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)

    def tokens(c, train):
        t = [vocab[w] for w in c]
        if len(t) > WORDS_NUM:
            keep = sorted(rng.sample(range(len(t)), WORDS_NUM)) if train else range(WORDS_NUM)
            t = [t[j] for j in keep]
        return t

    def padded(toks):
        lens = torch.tensor([len(t) for t in toks])
        order = torch.argsort(lens, descending=True)
        m = torch.zeros(len(toks), int(lens.max()), dtype=torch.long)
        for r, t in enumerate(toks):
            m[r, :len(t)] = torch.tensor(t)
        return m[order], lens[order], order

    cfg = AttnGANConfig(n_words=len(vocab), text_dropout=a.dropout, damsm_input_size=a.size)
    text = TextEncoder(cfg)
    image = TrueAttributes(cfg.emb_dim) if a.true_attributes else SmallDAMSMImageEncoder(cfg)
    train = [i for i in range(len(keys)) if is_train[i]]
    test = [i for i in range(len(keys)) if not is_train[i]]
    print("%d train, %d test images, %d words" % (len(train), len(test), len(vocab)), flush=True)

    start = time.time()
    def pretrain_on_attributes(epochs, params, width, features, label):
        """Trains `params` and a throwaway width -> 7 x 9 head on features(idx) -> (B, width), with the
        batch's order, to name all seven part colours of each bird (cross-entropy per part)."""
        head = torch.nn.Linear(width, 63)
        opt = torch.optim.Adam(params + list(head.parameters()), lr=1e-3)
        for epoch in range(epochs):
            order = train[:]
            rng.shuffle(order)
            correct = total = 0
            for b in range(0, len(order) - a.batch + 1, a.batch):
                f, idx = features(order[b:b + a.batch])
                logits = head(f).view(-1, 7, 9)
                target = torch.stack([attributes[keys[i]].view(7, 9).argmax(1) for i in idx])
                loss = F.cross_entropy(logits.reshape(-1, 9), target.reshape(-1))
                opt.zero_grad()
                loss.backward()
                opt.step()
                correct += int((logits.argmax(2) == target).sum())
                total += target.numel()
            if (epoch + 1) % 5 == 0 or epoch + 1 == epochs:
                print("%s epoch %d  part accuracy %.1f %%  %.1f s" % (label, epoch + 1, 100.0 * correct / total,
                                                                   time.time() - start), flush=True)

    if a.attribute_pretrain and not a.true_attributes:
        # The trunk: its global 2048-vector, pooled.
        def trunk_features(idx):
            x = torch.stack([image_input(i, True) for i in idx])  # already a.size: no resize
            return F.adaptive_avg_pool2d(image.glob(image.local(x)), 1).flatten(1), idx

        image.train()
        pretrain_on_attributes(a.attribute_pretrain, list(image.local.parameters()) + list(image.glob.parameters()),
                               2048, trunk_features, "attribute")
    if a.text_attribute_pretrain:
        # The text encoder: the sentence vector of one caption; every part is a
        # target, named in the caption or not.
        def sentence_features(idx):
            caps, lens, perm = padded([tokens(rng.choice(captions[i]), True) for i in idx])
            return text(caps, lens)[1], [idx[j] for j in perm.tolist()]

        text.train()
        pretrain_on_attributes(a.text_attribute_pretrain, list(text.parameters()), cfg.emb_dim,
                               sentence_features, "text attribute")
    image_params = list(image.parameters())
    if a.freeze_trunk:
        if not a.attribute_pretrain or a.true_attributes:
            sys.exit("--freeze-trunk needs --attribute-pretrain")
        trunk = {id(p) for p in list(image.local.parameters()) + list(image.glob.parameters())}
        image_params = [p for p in image_params if id(p) not in trunk]
    lr = a.lr
    adam = None
    for epoch in range(a.epochs):
        if adam is None or not a.keep_adam:
            adam = torch.optim.Adam([{"params": list(text.parameters())},
                                     {"params": image_params, "lr": a.image_lr or lr}],
                                    lr=lr, betas=(0.5, 0.999))
        text.train()
        image.train()
        order = train[:]
        rng.shuffle(order)
        total = 0.0
        steps = 0
        for b in range(0, len(order) - a.batch + 1, a.batch):
            idx = order[b:b + a.batch]
            caps, lens, perm = padded([tokens(rng.choice(captions[i]), True) for i in idx])
            idx = [idx[j] for j in perm.tolist()]
            x = torch.stack([image_input(i, True) for i in idx])
            cls = None if a.no_class_mask else torch.tensor([classes[i] for i in idx])
            region, code = image(x)
            words, sent = text(caps, lens)
            s0, s1 = sent_loss(code, sent, cls, 10.0)
            loss = s0 + s1
            if not a.no_words_loss:
                w0, w1, _ = words_loss(region, words, lens, cls, 4.0, 5.0, 10.0)
                loss = loss + w0 + w1
            adam.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(text.parameters(), a.clip)
            adam.step()
            total += loss.item()
            steps += 1
        if lr > a.lr / 10:
            lr *= a.lr_decay
        if (epoch + 1) % 10 == 0 or epoch + 1 == a.epochs:
            print("epoch %d  mean loss %.4f  %.1f s" % (epoch + 1, total / steps, time.time() - start), flush=True)

    def r_precision(images):
        text.eval()
        image.eval()
        with torch.no_grad():
            codes = torch.cat([image(torch.stack([image_input(i, False) for i in images[b:b + 50]]))[1]
                               for b in range(0, len(images), 50)])
            pool, owner = [], []
            for n, i in enumerate(images):
                pool += captions[i]
                owner += [n] * len(captions[i])
            vectors = []
            for b in range(0, len(pool), 100):
                m, lens, perm = padded([tokens(c, False) for c in pool[b:b + 100]])
                _, s = text(m, lens)
                v = torch.empty_like(s)
                v[perm] = s
                vectors.append(v)
            vectors = F.normalize(torch.cat(vectors), dim=1)
            codes = F.normalize(codes, dim=1)
        owner = np.array(owner)
        draw = random.Random(100)
        scores = []
        for _ in range(10):
            hits = 0
            for n in range(len(images)):
                own = np.flatnonzero(owner == n)
                other = list(np.flatnonzero(owner != n))
                cand = [draw.choice(own)] + draw.sample(other, 99)
                hits += int(np.argmax((vectors[cand] @ codes[n]).numpy()) == 0)
            scores.append(100.0 * hits / len(images))
        return np.mean(scores), np.std(scores)

    print("R-precision, real test images %.2f +- %.2f %%; first 200 training images %.2f +- %.2f %%"
          % (*r_precision(test), *r_precision(train[:200])), flush=True)


if __name__ == "__main__":
    main()
