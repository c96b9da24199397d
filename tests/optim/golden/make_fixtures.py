#!/usr/bin/env python3
"""Golden fixtures for tests/optim: torch.optim.Adam for ten steps on fixed
parameters and gradients (AttnGAN's betas (0.5, 0.999), lr 2e-4; and
PyTorch's defaults with weight decay), clip_grad_norm_, and the 0.999 EMA.

    /usr/bin/python3 tests/optim/golden/make_fixtures.py tests/optim/golden
Same text format as tests/nn/golden (name rank dims... values...).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nn", "golden"))
from make_fixtures import write  # noqa: E402


def adam_case(out_dir, name, n, steps, **kw):
    torch.manual_seed(len(name))
    p = torch.nn.Parameter(torch.randn(n))
    grads = [torch.randn(n) * (0.1 + s) for s in range(steps)]
    start = p.detach().clone()
    opt = torch.optim.Adam([p], **kw)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    tensors = [("start", start)] + [(f"grad{s}", g) for s, g in enumerate(grads)] + [("final", p)]
    write(os.path.join(out_dir, name + ".txt"), tensors)


def main(out_dir):
    adam_case(out_dir, "adam_attngan", 257, 10, lr=2e-4, betas=(0.5, 0.999))
    adam_case(out_dir, "adam_default_wd", 100, 10, lr=1e-2, weight_decay=0.1)
    torch.manual_seed(3)
    g = torch.randn(300) * 0.05
    p = torch.nn.Parameter(torch.zeros(300))
    p.grad = g.clone()
    norm = torch.nn.utils.clip_grad_norm_([p], 0.25)
    write(os.path.join(out_dir, "clip.txt"), [("grad", g), ("clipped", p.grad), ("norm", norm.reshape(1))])
    torch.manual_seed(4)
    avg = torch.randn(50)
    ps = [torch.randn(50) for _ in range(5)]
    start = avg.clone()
    for q in ps:
        avg.mul_(0.999).add_(q, alpha=0.001)
    write(os.path.join(out_dir, "ema.txt"), [("start", start)] + [(f"p{s}", q) for s, q in enumerate(ps)] + [("final", avg)])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
