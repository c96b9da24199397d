#!/usr/bin/env python3
"""Golden fixtures for the generator side of AttnGAN (tests/models): CA,
word attention (both mask modes), the stage-list generator, the stage
discriminators, the D loss and the generator's adversarial loss, with
gradients of every G and D parameter by name.

Every parameter, buffer and input comes from a deterministic integer hash
that the C++ test computes too (`hashed_uniform` below and in
tests/models/gen_fixture.hpp), so the fixtures hold only results:

    u(k, i) = splitmix-style hash of (stream k, element i) -> [0, 1)
    weights (rank >= 2): (2u - 1) * sqrt(3 / fan_in)
    batch-norm weight 1 + 0.2 (2u - 1); biases and running means 0.1 (2u - 1);
    running variances 1 + 0.5 u
with k the entry's index in state_dict order (buffers included); inputs use
streams 1000 + j.

Cases (batch 2, two caption lengths so the two mask modes differ):
  tiny64  the bird topology at small widths: base 64, three stages
          (64/128/256), D64/D128/D256
  tiny32  a 32x32 first stage (three up-blocks from an 8*ngf code) and one
          attentional stage to 64x64, with D32 (built here from the oracle's
          blocks: the first three convolutions of encode_image_by_16times as
          img_code_s8, then Block3x3(4ndf -> 8ndf) as img_code_s8_1) and D64
  bird    the full bird generator (forward only, images and attention maps)

The oracle runs in float64 on the float32-rounded weights and inputs, so the
fixtures hold the exact answer for the float32 inputs and the C++ float32
run is compared against it (tests/support/golden.hpp, tolerance "model":
|got - want| <= 1e-4 * max|want| per tensor). PyTorch's own float32 run is
not a usable reference at that tolerance: through the batch norms it differs
from float64 by up to 6e-5 (tiny widths below) and up to 4e-4 of the
tensor's largest value at gf_dim = 2, mostly in gradients of batch-norm biases
that a later batch norm almost cancels.

Large tensors are stored as a strided subsample plus a weighted sum over all
elements (see `put`), to keep the files small.

Run with Debian's PyTorch:
    /usr/bin/python3 tests/models/golden/make_gen_fixtures.py
The oracle is imported from $ATTNGAN_REFERENCE_DIR, default ../shared/reference
relative to the repository root.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.environ.get("ATTNGAN_REFERENCE_DIR", os.path.join(REPO, "..", "shared", "reference")))
import attngan_ref as ref  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

FULL_LIMIT = 3000   # tensors with more elements are subsampled
DOT_STREAM = 9999   # hash stream of the weights of the weighted sum

M64 = (1 << 64) - 1


def hashed_uniform(stream, n):
    """u(stream, i) for i < n, exactly as the C++ side computes it (uint64 wrap-around)."""
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = (i + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        h ^= np.uint64(((stream + 1) * 0xC2B2AE3D27D4EB4F) & M64)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def formula_value(name, shape, stream):
    n = int(np.prod(shape)) if len(shape) else 1
    u = hashed_uniform(stream, n)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "weight" and len(shape) >= 2:
        v = (2 * u - 1) * np.sqrt(3.0 / (n // shape[0]))
    elif leaf == "weight":
        v = 1 + 0.2 * (2 * u - 1)
    elif leaf == "running_var":
        v = 1 + 0.5 * u
    else:  # biases, running means
        v = 0.1 * (2 * u - 1)
    return torch.tensor(v.astype(np.float32)).reshape(shape)


def set_formula_state(module):
    with torch.no_grad():
        k = 0
        for name, t in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            t.copy_(formula_value(name, list(t.shape), k))
            k += 1


def formula_input(stream, shape, low=-1.0, high=1.0):
    u = hashed_uniform(stream, int(np.prod(shape)))
    return torch.tensor((low + (high - low) * u).astype(np.float32)).reshape(shape)


class Writer:
    def __init__(self):
        self.lines = []

    def raw(self, name, t):
        t = t.detach().to(torch.float64).contiguous()
        dims = list(t.shape)
        vals = " ".join(f"{v:.9g}" for v in t.reshape(-1).tolist())
        self.lines.append(f"{name} {len(dims)} {' '.join(str(d) for d in dims)} {vals}".replace("  ", " "))

    def put(self, name, t):
        """Small tensors in full; larger ones as <name>.shape, <name>.absmax
        (largest magnitude), <name>.sub (every stride-th element, stride odd),
        <name>.stride, <name>.dot = sum_i x_i w_i with w = 2u(DOT_STREAM, i) - 1,
        and <name>.absdot = sum_i |x_i w_i|."""
        t = t.detach().to(torch.float64).contiguous()
        n = t.numel()
        if n <= FULL_LIMIT:
            self.raw(name, t)
            return
        stride = -(-n // 1000)
        stride += 1 - stride % 2
        flat = t.reshape(-1)
        self.raw(name + ".shape", torch.tensor(list(t.shape), dtype=torch.float64))
        self.raw(name + ".absmax", t.abs().max().reshape(1))
        self.raw(name + ".stride", torch.tensor([float(stride)]))
        self.raw(name + ".sub", flat[::stride])
        w = torch.tensor(2 * hashed_uniform(DOT_STREAM, n) - 1, dtype=torch.float64)
        x = flat.to(torch.float64)
        self.raw(name + ".dot", torch.tensor([float((x * w).sum())]))
        self.raw(name + ".absdot", torch.tensor([float((x * w).abs().sum())]))

    def save(self, path):
        with open(path, "w") as f:
            f.write("\n".join(self.lines) + "\n")


def write_keys(path, modules):
    with open(path, "w") as f:
        for prefix, m in modules:
            for name, t in m.state_dict().items():
                if not name.endswith("num_batches_tracked"):
                    f.write(f"{prefix}\t{name}\t{','.join(str(d) for d in t.shape)}\n")


class InitStage32(ref.InitStageG):
    """INIT_STAGE_G with three up-blocks: (c, z) -> 4x4 x ngf -> 32x32 x ngf/8."""

    def __init__(self, ngf, in_dim):
        super().__init__(ngf, in_dim)
        del self.upsample4

    def forward(self, z, c):
        x = self.fc(torch.cat((c, z), dim=1)).view(-1, self.gf_dim, 4, 4)
        return self.upsample3(self.upsample2(self.upsample1(x)))


class D32(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ndf, nef = cfg.df_dim, cfg.emb_dim
        self.img_code_s8 = ref.encode_image_by_16times(ndf)[:8]
        self.img_code_s8_1 = ref.block3x3_leaky(ndf * 4, ndf * 8)
        self.UNCOND_DNET = ref.DLogits(ndf, nef, conditional=False)
        self.COND_DNET = ref.DLogits(ndf, nef, conditional=True)

    def forward(self, x):
        return self.img_code_s8_1(self.img_code_s8(x))


def build(cfg, base32):
    g = ref.Generator(cfg)
    if base32:
        g.h_net1 = InitStage32(cfg.gf_dim * 8, cfg.z_dim + cfg.cond_dim)
        ds = [D32(cfg)] + [ref.Discriminator(cfg, s) for s in cfg.image_sizes()[1:]]
    else:
        ds = [ref.Discriminator(cfg, s) for s in cfg.image_sizes()]
    for m in [g] + ds:
        set_formula_state(m)
        m.double().train()
    return g, ds


def inputs(cfg, batch, words_n, lengths):
    z = formula_input(1000, (batch, cfg.z_dim)).double()
    eps = formula_input(1001, (batch, cfg.cond_dim)).double()
    sent = formula_input(1002, (batch, cfg.emb_dim)).double()
    words = formula_input(1003, (batch, cfg.emb_dim, words_n)).double()
    mask = torch.arange(words_n).view(1, -1) >= torch.tensor(lengths).view(-1, 1)
    reals = [formula_input(1010 + i, (batch, 3, s, s)).double() for i, s in enumerate(cfg.image_sizes())]
    return z, eps, sent, words, mask, reals


def training_case(out_dir, case, cfg, base32, lengths, words_n=5):
    g, ds = build(cfg, base32)
    write_keys(os.path.join(out_dir, case + "_keys.tsv"),
               [("G", g)] + [(f"D{i}", d) for i, d in enumerate(ds)])
    batch = len(lengths)
    z, eps, sent, words, mask, reals = inputs(cfg, batch, words_n, lengths)
    w = Writer()

    # the 'correct' mask first (forward only), then the official one with gradients
    g.h_net2.att.mask_mode = "correct"
    if hasattr(g, "h_net3"):
        g.h_net3.att.mask_mode = "correct"
    with torch.no_grad():
        imgs_c, atts_c, _, _ = g(z, sent, words, mask, eps)
    for i, x in enumerate(imgs_c):
        w.put(f"correct.image{i}", x)
    for i, a in enumerate(atts_c):
        w.put(f"correct.attention{i}", a)
    g.h_net2.att.mask_mode = "official"
    if hasattr(g, "h_net3"):
        g.h_net3.att.mask_mode = "official"

    c, mu, logvar = g.ca_net(sent, eps)
    w.put("ca.c", c)
    imgs, atts, mu, logvar = g(z, sent, words, mask, eps)
    w.put("ca.mu", mu)
    w.put("ca.logvar", logvar)
    kl = ref.kl_loss(mu, logvar)
    w.put("loss.kl", kl)
    for i, x in enumerate(imgs):
        w.put(f"image{i}", x)
    for i, a in enumerate(atts):
        w.put(f"attention{i}", a)

    # discriminators: head outputs, loss terms, loss, gradients (each D on its own)
    b = batch
    for i, d in enumerate(ds):
        with torch.no_grad():
            rf, ff = d(reals[i]), d(imgs[i].detach())
            w.put(f"d{i}.real_uncond", d.UNCOND_DNET(rf))
            w.put(f"d{i}.real_cond", d.COND_DNET(rf, sent))
            w.put(f"d{i}.fake_uncond", d.UNCOND_DNET(ff))
            w.put(f"d{i}.fake_cond", d.COND_DNET(ff, sent))
            w.put(f"d{i}.wrong_cond", d.COND_DNET(rf[: b - 1], sent[1:b]))
        d.zero_grad(set_to_none=True)
        err = ref.discriminator_loss(d, reals[i], imgs[i], sent)
        err.backward()
        w.put(f"d{i}.loss", err)
        for name, p in d.named_parameters():
            w.put(f"d{i}.grad.{name}", p.grad)
        d.zero_grad(set_to_none=True)

    # generator: adversarial terms through every D, a stand-in for the DAMSM
    # terms (mean(x_last^2), so that lambda and the last image's path are
    # exercised), and KL; gradients of every G parameter
    adv = 0
    for i, d in enumerate(ds):
        f = d(imgs[i])
        gu = ref._bce(d.UNCOND_DNET(f), 1.0)
        gc = ref._bce(d.COND_DNET(f, sent), 1.0)
        w.put(f"g{i}.uncond", gu)
        w.put(f"g{i}.cond", gc)
        adv = adv + gu + gc
    damsm = imgs[-1].pow(2).mean()
    w.put("loss.damsm_standin", damsm)
    err_g = adv + cfg.lam * damsm + cfg.kl_weight * kl
    w.put("loss.g", err_g)
    g.zero_grad(set_to_none=True)
    err_g.backward()
    for name, p in g.named_parameters():
        w.put(f"g.grad.{name}", p.grad)
    w.save(os.path.join(out_dir, case + ".txt"))


def bird_forward(out_dir, lengths=(6, 4), words_n=6):
    cfg = ref.AttnGANConfig.bird()
    g = ref.Generator(cfg)
    set_formula_state(g)
    g.double().train()
    z, eps, sent, words, mask, _ = inputs(cfg, len(lengths), words_n, list(lengths))
    w = Writer()
    with torch.no_grad():
        imgs, atts, mu, logvar = g(z, sent, words, mask, eps)
    w.put("ca.mu", mu)
    w.put("ca.logvar", logvar)
    for i, x in enumerate(imgs):
        w.put(f"image{i}", x)
    for i, a in enumerate(atts):
        w.put(f"attention{i}", a)
    w.save(os.path.join(out_dir, "bird_forward.txt"))


def main(out_dir):
    tiny = dict(n_words=50, word_dim=8, emb_dim=16, z_dim=8, cond_dim=6, gf_dim=4, df_dim=4, r_num=2)
    training_case(out_dir, "tiny64", ref.AttnGANConfig(**tiny, branch_num=3, base_size=64), False, [5, 3])
    training_case(out_dir, "tiny32", ref.AttnGANConfig(**tiny, branch_num=2, base_size=32), True, [5, 3])
    bird_forward(out_dir)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE)
