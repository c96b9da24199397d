#!/usr/bin/env python3
"""Time the oracle's training iteration at the demo's configuration, the
PyTorch side of bench_model's demo_iteration/32.

usage: oracle_demo_step.py [--steps N] [--warmup W] [--threads N] [--json FILE]

The demo (cmake/run.sh demo) trains attngan's small preset: a 32² first stage
and a 64² second (GF_DIM = DF_DIM = 16, two residual blocks), each sample's
own attention mask, the small DAMSM image encoder fed the 64² image
resized to 128²,
learning rates 1e-3, a 0.99 running average, batch 32. The oracle
(shared/reference/attngan_ref.py) has no 32² stage: its INIT_STAGE_G always
ends in four up-blocks at 64² and its discriminators are 64/128/256 only.
This script gives it the two pieces attngan's small preset uses, with the
same layers and shapes (include/attngan/models/attngan/generator.hpp,
discriminator.hpp):
  - a first stage of 8·GF_DIM channels at 4² and three up-blocks (→ 32²,
    GF_DIM channels), in place of 16·GF_DIM and four;
  - D_NET32: the first three stride-2 convolutions of encode_image_by_16times
    (32² → 4², 4·DF_DIM channels), then Block3x3_leakRelu to 8·DF_DIM, then
    the usual unconditional and conditional heads.
Everything else is the oracle's own code: one full iteration (frozen text
encoder, G forward, one Adam step per D on detached fakes, G step with
adversarial + λ·DAMSM + KL, running average), PyTorch's default
initialisation (as time_step.py --fast-init and bench_model), random
inputs shaped like time_step.py's (captions of 8 to 18 words, the longest
18; 5,450 words of vocabulary).

Reported: median and mean wall-clock ms per iteration (time.perf_counter;
bench_model reports the mean of its 10 iterations), images/s and the
process's peak RSS.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn

ref = os.environ.get("ATTNGAN_REFERENCE_DIR",
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference"))
sys.path.insert(0, ref)
import attngan_ref as R  # noqa: E402

_oracle_discriminator = R.Discriminator


class InitStage32(nn.Module):
    """The first stage of a 32² model: the oracle's InitStageG with three
    up-blocks. The Generator passes 16·GF_DIM; a 32² first stage starts from
    8·GF_DIM so that it ends at GF_DIM, as attngan's init_stage<..., 3>."""

    def __init__(self, ngf16: int, in_dim: int):
        super().__init__()
        ngf = ngf16 // 2
        self.gf_dim = ngf
        self.fc = nn.Sequential(nn.Linear(in_dim, ngf * 4 * 4 * 2, bias=False),
                                nn.BatchNorm1d(ngf * 4 * 4 * 2), R.GLU())
        self.upsample1 = R.up_block(ngf, ngf // 2)
        self.upsample2 = R.up_block(ngf // 2, ngf // 4)
        self.upsample3 = R.up_block(ngf // 4, ngf // 8)

    def forward(self, z, c):
        x = self.fc(torch.cat((c, z), dim=1)).view(-1, self.gf_dim, 4, 4)
        return self.upsample3(self.upsample2(self.upsample1(x)))


class Discriminator32(nn.Module):
    """attngan's D_NET32: img_code_s8 (3 → ndf → 2ndf → 4ndf, 32² → 4²) and
    img_code_s8_1 (Block3x3 4ndf → 8ndf), then the oracle's two heads."""

    def __init__(self, cfg, img_size, unconditional_head=True):
        super().__init__()
        ndf, nef = cfg.df_dim, cfg.emb_dim
        self.img_size = img_size
        self.img_code_s8 = nn.Sequential(*list(R.encode_image_by_16times(ndf).children())[:8])
        self.img_code_s8_1 = R.block3x3_leaky(ndf * 4, ndf * 8)
        self.UNCOND_DNET = R.DLogits(ndf, nef, conditional=False) if unconditional_head else None
        self.COND_DNET = R.DLogits(ndf, nef, conditional=True)

    def forward(self, x):
        return self.img_code_s8_1(self.img_code_s8(x))


def discriminator(cfg, img_size, unconditional_head=True):
    if img_size == 32:
        return Discriminator32(cfg, img_size, unconditional_head)
    return _oracle_discriminator(cfg, img_size, unconditional_head)


def demo_config():
    return R.AttnGANConfig(gf_dim=16, df_dim=16, branch_num=2, base_size=32, damsm_input_size=128,
                           attn_mask_mode="correct", lr_g=1e-3, lr_d=1e-3, ema_decay=0.99)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the result to this file")
    args = ap.parse_args()
    if args.batch < 2:
        ap.error("--batch must be >= 2 (the mismatched-caption D term uses B-1 pairs)")
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)

    R.InitStageG = InitStage32
    R.Discriminator = discriminator
    torch.manual_seed(args.seed)
    cfg = demo_config()
    tr = R.AttnGANTrainer(cfg, "cpu", orthogonal_init=False)
    gen = torch.Generator().manual_seed(args.seed)
    batch = R.random_batch(cfg, args.batch, "cpu", generator=gen)
    with torch.no_grad():
        words, sent, mask = tr.encode_text(batch[1], batch[2])
        fakes, _, _, _ = tr.netG(torch.randn(args.batch, cfg.z_dim), sent, words, mask)
        codes = [tuple(d(f).shape) for d, f in zip(tr.netsD, fakes)]
    got = [tuple(f.shape) for f in fakes]
    want = [(args.batch, 3, s, s) for s in cfg.image_sizes()]
    if got != want:
        sys.exit(f"oracle_demo_step: G made {got}, expected {want}")
    for d, code in zip(tr.netsD, codes):
        if code != (args.batch, cfg.df_dim * 8, 4, 4):
            sys.exit(f"oracle_demo_step: D{d.img_size} gave a code of {code}")

    for _ in range(args.warmup):
        tr.train_step(*batch)
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        tr.train_step(*batch)
        times.append((time.perf_counter() - t0) * 1e3)
    med, mean = statistics.median(times), statistics.mean(times)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.processor() or platform.machine(), "batch": args.batch, "steps": args.steps,
           "median_ms": med, "mean_ms": mean, "min_ms": min(times), "max_ms": max(times),
           "images_per_s": args.batch / (med / 1e3),
           "peak_rss_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
           "g_params": R.count_params(tr.netG), "d_params": [R.count_params(d) for d in tr.netsD]}
    print(f"oracle demo iteration, batch {args.batch}: median {med:.1f} ms, mean {mean:.1f} ms (min {min(times):.1f}, "
          f"max {max(times):.1f}, n={args.steps}), {out['images_per_s']:.1f} img/s, "
          f"peak RSS {out['peak_rss_MiB']:.0f} MiB; G {out['g_params']} parameters, D {out['d_params']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
