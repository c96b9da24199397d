#!/usr/bin/env python3
"""Golden fixtures for the AttnGAN training iteration (tests/models/test_trainer.cpp):
five consecutive iterations of the oracle's AttnGANTrainer.train_step on a
reduced configuration, from weights and inputs that both sides compute from
the hash formula of make_gen_fixtures.py.

Configuration (train_tiny.txt):
  text encoder  vocabulary 20, word dim 8, nef 16 (eval mode: frozen, no dropout)
  generator     z 8, ncf 6, gf_dim 4, R_NUM 2, a 32x32 first stage (three
                up-blocks, InitStage32 of make_gen_fixtures.py) and one
                attentional stage to 64x64
  D's           D32 (make_gen_fixtures.py) and D64, df_dim 4
  image encoder the oracle's small encoder with widths 4 6 8 10 12 16 at
                input 95 (as make_damsm_fixtures.py), eval mode, frozen
  batch 3, captions of lengths 5 4 2 (padded to 5), class ids 1 2 1 (the
  DAMSM terms mask the same-class pair), lambda 5, KL weight 1, Adam lr 2e-4
  betas (0.5, 0.999) for G and both D's, EMA decay 0.999.
The state entries of every network take hash stream k = their index in
state_dict order; the avg_params of the trainer restart at G's parameters
after that. Iteration j (0..4) feeds real images formula_input(2000 + 10j + i)
for stage i, z = formula_input(2100 + j) and eps = formula_input(2200 + j)
(uniform in [-1, 1]: only sameness matters).

Stored per iteration j: it<j>.errD<i>, it<j>.g<i> (uncond + cond of stage i),
it<j>.w_loss and it<j>.s_loss (lambda-weighted, as the oracle reports them),
it<j>.kl, it<j>.errG. After the five iterations: G's parameters
(g.param.<name>), their running average (ema.<name>), every D's parameters
(d<i>.param.<name>) and G's BatchNorm running statistics (g.buffer.<name>);
then G in eval mode (as generate) on z = formula_input(2300), eps =
formula_input(2301): gen.image<i>, gen.attention0.

The oracle runs in float64 on the float32-rounded weights and inputs (as in
make_gen_fixtures.py), so the fixtures hold the exact answer for the float32
inputs.

Run with Debian's PyTorch:
    /usr/bin/python3 tests/models/golden/make_train_fixtures.py [out_dir]
The oracle is imported from $ATTNGAN_REFERENCE_DIR, default ../shared/reference
relative to the repository root.
"""
import dataclasses
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_damsm_fixtures as damsm  # noqa: E402  (also puts the oracle on sys.path)
import make_gen_fixtures as gen  # noqa: E402

ref = gen.ref
gen.FULL_LIMIT = 400  # larger tensors as a subsample + weighted sum (see make_gen_fixtures.Writer.put)

ITERATIONS = 5
LENGTHS = [5, 4, 2]
CLASS_IDS = [1, 2, 1]
WIDTHS = (4, 6, 8, 10, 12, 16)


def config():
    return ref.AttnGANConfig(n_words=20, word_dim=8, emb_dim=16, words_num=5, text_dropout=0.0, z_dim=8,
                             cond_dim=6, gf_dim=4, df_dim=4, r_num=2, branch_num=2, base_size=32,
                             damsm_input_size=95)


def captions(cfg):
    """Token ids hash(3000, i) mapped to [1, n_words), 0 past each length."""
    b, t = len(LENGTHS), cfg.words_num
    u = gen.hashed_uniform(3000, b * t).reshape(b, t)
    ids = torch.tensor((1 + (u * (cfg.n_words - 1)).astype("int64")))
    pos = torch.arange(t).view(1, -1)
    return ids.masked_fill(pos >= torch.tensor(LENGTHS).view(-1, 1), 0)


def build(cfg):
    # the oracle's trainer knows only 64/128/256 D's: build it at base 64, then
    # swap in the 32x32 first stage and D32 (G's other stages do not depend on
    # the base size)
    tr = ref.AttnGANTrainer(dataclasses.replace(cfg, base_size=64), orthogonal_init=False)
    tr.cfg = cfg
    tr.netG.h_net1 = gen.InitStage32(cfg.gf_dim * 8, cfg.z_dim + cfg.cond_dim)
    tr.netsD = [gen.D32(cfg), ref.Discriminator(cfg, 64)]
    tr.image_encoder = damsm.small_encoder(cfg, WIDTHS)
    for m in [tr.text_encoder, tr.image_encoder, tr.netG] + tr.netsD:
        gen.set_formula_state(m)
        m.double()
    tr.text_encoder.eval()
    tr.image_encoder.eval()
    for p in list(tr.text_encoder.parameters()) + list(tr.image_encoder.parameters()):
        p.requires_grad_(False)
    tr.netG.train()
    for d in tr.netsD:
        d.train()
    tr.optG = torch.optim.Adam(tr.netG.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    tr.optsD = [torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=cfg.betas) for d in tr.netsD]
    tr.avg_params = [p.detach().clone() for p in tr.netG.parameters()]
    return tr


def main(out_dir):
    torch.manual_seed(0)
    cfg = config()
    tr = build(cfg)
    caps = captions(cfg)
    lens = torch.tensor(LENGTHS)
    cls = torch.tensor(CLASS_IDS)
    b = len(LENGTHS)
    w = gen.Writer()
    w.raw("captions", caps.double())
    for j in range(ITERATIONS):
        reals = [gen.formula_input(2000 + 10 * j + i, (b, 3, s, s)).double() for i, s in enumerate(cfg.image_sizes())]
        z = gen.formula_input(2100 + j, (b, cfg.z_dim)).double()
        eps = gen.formula_input(2200 + j, (b, cfg.cond_dim)).double()
        parts = tr.train_step(reals, caps, lens, cls, noise=z, ca_eps=eps)
        for i, e in enumerate(parts["errD"]):
            w.raw(f"it{j}.errD{i}", e.reshape(1))
        for i in range(len(tr.netsD)):
            w.raw(f"it{j}.g{i}", parts[f"g{i}"].reshape(1))
        for k in ("w_loss", "s_loss", "kl", "errG"):
            w.raw(f"it{j}.{k}", parts[k].reshape(1))
    for (name, p), a in zip(tr.netG.named_parameters(), tr.avg_params):
        w.put(f"g.param.{name}", p)
        w.put(f"ema.{name}", a)
    for name, t in tr.netG.named_buffers():
        if not name.endswith("num_batches_tracked"):
            w.put(f"g.buffer.{name}", t)
    for i, d in enumerate(tr.netsD):
        for name, p in d.named_parameters():
            w.put(f"d{i}.param.{name}", p)
    # inference after training (the trainer's generate, with explicit CA noise):
    # text encoder and G in eval mode, BatchNorm running statistics
    zg = gen.formula_input(2300, (b, cfg.z_dim)).double()
    epsg = gen.formula_input(2301, (b, cfg.cond_dim)).double()
    words, sent, mask = tr.encode_text(caps, lens)
    tr.netG.eval()
    with torch.no_grad():
        imgs, atts, _, _ = tr.netG(zg, sent, words, mask, epsg)
    tr.netG.train()
    for i, x in enumerate(imgs):
        w.put(f"gen.image{i}", x)
    for i, a in enumerate(atts):
        w.put(f"gen.attention{i}", a)
    w.save(os.path.join(out_dir, "train_tiny.txt"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE)
