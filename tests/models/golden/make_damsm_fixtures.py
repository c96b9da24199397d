#!/usr/bin/env python3
"""Golden fixtures for tests/models (the DAMSM side of AttnGAN): the text
encoder, the small and the Inception image encoders, the DAMSM word and
sentence losses, their gradients and one DAMSM pretraining step, computed by
the PyTorch oracle (shared/reference/attngan_ref.py).

Run with Debian's PyTorch:
    /usr/bin/python3 tests/models/golden/make_damsm_fixtures.py [out_dir]
The oracle is imported from $ATTNGAN_REFERENCE_DIR (default: ../shared/reference
relative to the repository root). The C++ tests read the files; they never
need PyTorch. Format as tests/nn/golden (one tensor per line:
<name> <rank> <dims...> <values...>, 9 significant digits).

Fixtures
  damsm_small.txt   reduced configuration (vocab 20, word dim 12, nef 8,
                    batch 4 with lengths 6 5 5 3 and captions padded to 7,
                    two samples of one class; the small image encoder with
                    widths 4 6 8 10 12 16 at input 95 from 20x20 images):
                    every parameter and buffer, the inputs, the encoders'
                    outputs (image encoder in eval and in train mode), the
                    four loss terms and the unmasked similarity matrices, the
                    gradients of L = w0 + w1 + s0 + s1 for every parameter and
                    for the images, and the state after one DAMSM pretraining
                    step (spec 10.6: clip 0.25 on the text encoder, Adam lr
                    0.002 betas (0.5, 0.999) on the text encoder and the two
                    projections; trunk frozen, BatchNorm in train mode),
                    and after a second step on the same batch.
  damsm_small_names.txt  names and shapes of the default-width small encoder.
  inception.txt     the Inception-v3 encoder (nef 16) at 299 on one 40x40
                    image in eval mode with the gradient of
                    sum(region * P) + sum(code * Q) (P, Q by formula) with
                    respect to the image, and the first BatchNorm's running
                    statistics after a train-mode forward; every parameter and
                    buffer and the image given by a formula both sides compute
                    (splitmix64 of (tensor index, element index)), so only the
                    outputs are stored.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
REF_DIR = os.environ.get("ATTNGAN_REFERENCE_DIR", os.path.join(REPO, "..", "shared", "reference"))
sys.path.insert(0, REF_DIR)
import attngan_ref as ref  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def write(path, tensors):
    with open(path, "w") as f:
        for name, t in tensors:
            t = torch.as_tensor(t).detach().to(torch.float32).contiguous()
            dims = list(t.shape)
            vals = " ".join(f"{v:.9g}" for v in t.reshape(-1).tolist())
            f.write(f"{name} {len(dims)} {' '.join(str(d) for d in dims)} {vals}\n".replace("  ", " "))


def state(module):
    return [(k, v.clone()) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")]


def small_encoder(cfg, widths):
    """The oracle's SmallDAMSMImageEncoder with its trunk widths reduced
    (same units, same names; the defaults are 32 64 128 768 512 2048)."""
    c1, c2, c3, local, g1, glob = widths
    enc = ref.SmallDAMSMImageEncoder(cfg)
    if widths != (32, 64, 128, 768, 512, 2048):
        U = ref._ConvBNReLU
        enc.local = torch.nn.Sequential(U(3, c1, 3, stride=2), U(c1, c2, 3, stride=2), U(c2, c3, 3, stride=2),
                                        U(c3, local, 3, stride=2))
        enc.glob = torch.nn.Sequential(U(local, g1, 3, stride=2), U(g1, glob, 1))
        enc.emb_features = ref.conv1x1(local, cfg.emb_dim)
        enc.emb_cnn_code = torch.nn.Linear(glob, cfg.emb_dim)
    return enc


def randomise_bn(module):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)


def damsm_small(out_dir):
    torch.manual_seed(1234)
    cfg = ref.AttnGANConfig.tiny(n_words=20, word_dim=12, emb_dim=8, words_num=7, text_dropout=0.0,
                                 damsm_input_size=95)
    text = ref.TextEncoder(cfg)
    image = small_encoder(cfg, (4, 6, 8, 10, 12, 16))
    randomise_bn(image)
    text_before, image_before = state(text), state(image)

    lengths = torch.tensor([6, 5, 5, 3])
    captions = torch.randint(1, cfg.n_words, (4, cfg.words_num))
    captions = captions.masked_fill(torch.arange(cfg.words_num).view(1, -1) >= lengths.view(-1, 1), 0)
    class_ids = torch.tensor([3, 7, 3, 1])
    images = (torch.rand(4, 3, 20, 20) * 2 - 1).requires_grad_(True)
    g1, g2, g3 = cfg.gamma1, cfg.gamma2, cfg.gamma3

    image.eval()
    with torch.no_grad():
        eval_region, eval_code = image(images)
    text.train()
    image.train()
    words, sent = text(captions, lengths)
    region, code = image(images)
    w0, w1, _ = ref.words_loss(region, words, lengths, class_ids, g1, g2, g3)
    s0, s1 = ref.sent_loss(code, sent, class_ids, g3)
    _, _, w_sim = ref.words_loss(region, words, lengths, None, g1, g2, g3)
    s_sim = (code @ sent.t()) / (code.norm(dim=1, keepdim=True) * sent.norm(dim=1, keepdim=True).t()).clamp(min=1e-8) * g3
    # the same losses without class masking
    nw0, nw1, _ = ref.words_loss(region, words, lengths, None, g1, g2, g3)
    ns0, ns1 = ref.sent_loss(code, sent, None, g3)
    loss = w0 + w1 + s0 + s1
    loss.backward()

    tensors = [("captions", captions.float()), ("lengths", lengths.float()), ("class_ids", class_ids.float()),
               ("images", images)]
    tensors += [(f"param.{k}", v) for k, v in text_before]
    tensors += [(f"image.param.{k}", v) for k, v in image_before]
    tensors += [("words", words), ("sent", sent), ("eval.region", eval_region), ("eval.code", eval_code),
                ("region", region), ("code", code)]
    tensors += [("w_loss0", w0), ("w_loss1", w1), ("s_loss0", s0), ("s_loss1", s1),
                ("nomask.w_loss0", nw0), ("nomask.w_loss1", nw1), ("nomask.s_loss0", ns0), ("nomask.s_loss1", ns1),
                ("w_similarity", w_sim), ("s_similarity", s_sim)]
    tensors += [(f"grad.{k}", p.grad.clone()) for k, p in text.named_parameters()]
    tensors += [(f"image.grad.{k}", p.grad.clone()) for k, p in image.named_parameters()]
    tensors += [("grad.images", images.grad.clone())]  # before the clip below scales the text grads in place

    # one DAMSM pretraining step (pretrain_DAMSM.py, spec 10.6) from these gradients
    trained = list(text.parameters()) + list(image.emb_features.parameters()) + list(image.emb_cnn_code.parameters())
    norm = torch.nn.utils.clip_grad_norm_(list(text.parameters()), 0.25)
    opt = torch.optim.Adam(trained, lr=0.002, betas=(0.5, 0.999))
    opt.step()
    tensors += [("step.text_grad_norm", norm)]
    tensors += [(f"step.{k}", v) for k, v in state(text)]
    tensors += [(f"step.image.{k}", v) for k, v in state(image)]
    # a second step on the same batch: with Adam's moments from step 1, the
    # parameters now depend on the clip factors of both steps
    opt.zero_grad()
    words, sent = text(captions, lengths)
    region, code = image(images)
    w0, w1, _ = ref.words_loss(region, words, lengths, class_ids, g1, g2, g3)
    s0, s1 = ref.sent_loss(code, sent, class_ids, g3)
    (w0 + w1 + s0 + s1).backward()
    norm2 = torch.nn.utils.clip_grad_norm_(list(text.parameters()), 0.25)
    opt.step()
    tensors += [("step2.w_loss0", w0), ("step2.s_loss0", s0), ("step2.text_grad_norm", norm2)]
    tensors += [(f"step2.{k}", v) for k, v in state(text)]
    tensors += [(f"step2.image.{k}", v) for k, v in state(image)]
    write(os.path.join(out_dir, "damsm_small.txt"), tensors)

    full = small_encoder(ref.AttnGANConfig.bird(), (32, 64, 128, 768, 512, 2048))
    with open(os.path.join(out_dir, "damsm_small_names.txt"), "w") as f:
        for k, v in full.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                f.write(f"{k}\t{','.join(str(d) for d in v.shape)}\n")


MASK64 = (1 << 64) - 1


def splitmix_uniform(k, n):
    """n values in [-1, 1): splitmix64 of (k << 32) + i, top 53 bits."""
    with np.errstate(over="ignore"):
        z = (np.uint64(k) << np.uint64(32)) + np.arange(n, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)
    return 2.0 * u - 1.0


def formula_value(name, k, shape):
    """The deterministic value of state entry k (C++: formula_state in test_image_encoder.cpp)."""
    n = int(np.prod(shape)) if len(shape) else 1
    u = splitmix_uniform(k, n)
    if name.endswith("running_mean"):
        v = 0.1 * u
    elif name.endswith("running_var"):
        v = 1.0 + 0.5 * u
    elif name.endswith("bn.weight"):
        v = 1.0 + 0.25 * u
    elif name.endswith("bn.bias") or name.endswith("emb_cnn_code.bias"):
        v = 0.1 * u
    else:  # conv / linear weights: U(-sqrt(3 / fan_in), sqrt(3 / fan_in))
        fan_in = n // shape[0]
        v = np.sqrt(3.0 / fan_in) * u
    return torch.from_numpy(v.astype(np.float32)).reshape(shape)


def inception(out_dir):
    cfg = ref.AttnGANConfig.bird(emb_dim=16, image_encoder="inception")
    enc = ref.InceptionDAMSMImageEncoder(cfg)
    sd = enc.state_dict()
    names = [k for k in sd if not k.endswith("num_batches_tracked")]
    with torch.no_grad():
        for k, name in enumerate(names):
            sd[name].copy_(formula_value(name, k, tuple(sd[name].shape)))
    image = torch.from_numpy(splitmix_uniform(100000, 3 * 40 * 40).astype(np.float32)).reshape(1, 3, 40, 40)
    # Parity in eval mode (running statistics, as in GAN training and sampling):
    # a train-mode forward at batch 1 normalises some near-constant channels,
    # where float32 rounding alone moves the output by ~1e-3 (torch float32 vs
    # float64), so it cannot be compared at 1e-4.
    enc.eval()
    for p in enc.parameters():
        p.requires_grad_(False)  # frozen, as in GAN training; the gradient reaches the image
    image.requires_grad_(True)
    region, code = enc(image)
    proj_r = torch.from_numpy(splitmix_uniform(100001, region.numel()).astype(np.float32)).reshape(region.shape)
    proj_c = torch.from_numpy(splitmix_uniform(100002, code.numel()).astype(np.float32)).reshape(code.shape)
    ((region * proj_r).sum() + (code * proj_c).sum()).backward()
    # one train-mode forward: the first BatchNorm's statistics update (well conditioned)
    enc.train()
    with torch.no_grad():
        enc(image.detach())
    bn = enc.Conv2d_1a_3x3.bn
    write(os.path.join(out_dir, "inception.txt"),
          [("region", region), ("code", code), ("grad.image", image.grad),
           ("after.Conv2d_1a_3x3.bn.running_mean", bn.running_mean),
           ("after.Conv2d_1a_3x3.bn.running_var", bn.running_var)])


def main(out_dir):
    damsm_small(out_dir)
    inception(out_dir)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE)
