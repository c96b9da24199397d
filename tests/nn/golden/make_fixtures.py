#!/usr/bin/env python3
"""Golden fixtures for tests/nn: each case runs a PyTorch layer on a fixed
input, back-propagates L = sum(out * proj) for a fixed random proj, and writes
the input, every parameter and buffer (by state_dict name, before the
forward), the output, the buffers after the forward, and the gradients of the
input and of every parameter.

Run with Debian's PyTorch (apt-get install python3-torch):
    /usr/bin/python3 tests/nn/golden/make_fixtures.py tests/nn/golden
The C++ tests read the files; they never need PyTorch.

File format (text, one tensor per line):
    <name> <rank> <d0> ... <d_rank-1> <v0> <v1> ...
values printed with 9 significant digits (round-trip exact for float32).
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def write(path, tensors):
    with open(path, "w") as f:
        for name, t in tensors:
            t = t.detach().to(torch.float32).contiguous()
            dims = list(t.shape)
            vals = " ".join(f"{v:.9g}" for v in t.reshape(-1).tolist())
            f.write(f"{name} {len(dims)} {' '.join(str(d) for d in dims)} {vals}\n".replace("  ", " "))


def run_case(out_dir, case, module, x_shape, seed, train=True, inputs=None):
    torch.manual_seed(seed)
    for p in module.parameters():  # non-trivial values for every parameter
        with torch.no_grad():
            p.uniform_(-0.5, 0.5) if p.dim() == 1 else None
    module.train(train)
    xs = inputs if inputs is not None else [torch.randn(*x_shape)]
    for x in xs:
        x.requires_grad_(True)
    before = [(k, v.clone()) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")]
    out = module(*xs)
    proj = torch.randn(out.shape)
    (out * proj).sum().backward()
    tensors = [(f"input{i}", x) for i, x in enumerate(xs)]
    tensors += [(f"param.{k}", v) for k, v in before]
    tensors += [("proj", proj), ("output", out)]
    tensors += [(f"after.{k}", v) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")]
    tensors += [(f"grad.input{i}", x.grad) for i, x in enumerate(xs)]
    tensors += [(f"grad.{k}", p.grad) for k, p in module.named_parameters()]
    write(os.path.join(out_dir, case + ".txt"), tensors)


class Fn(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, *x):
        return self.f(*x)


def main(out_dir):
    conv_cases = [  # name, (in, out, kernel, stride, padding, bias), input shape
        ("conv3x3_s1_p1", (4, 6, 3, 1, 1, False), (2, 4, 7, 6)),
        ("conv4x4_s2_p1", (3, 5, 4, 2, 1, False), (2, 3, 8, 8)),
        ("conv4x4_s4_p0", (3, 4, 4, 4, 0, False), (2, 3, 8, 12)),
        ("conv1x1", (6, 3, 1, 1, 0, False), (2, 6, 5, 4)),
        ("conv3x3_s2_p0", (3, 4, 3, 2, 0, False), (2, 3, 9, 9)),
        ("conv5x5_p2_bias", (3, 4, 5, 1, 2, True), (2, 3, 6, 7)),
        ("conv1x7_p03_bias", (3, 4, (1, 7), 1, (0, 3), True), (2, 3, 5, 9)),
        ("conv7x1_p30_bias", (3, 4, (7, 1), 1, (3, 0), True), (2, 3, 9, 5)),
        ("conv1x3_p01", (2, 3, (1, 3), 1, (0, 1), False), (2, 2, 4, 5)),
        ("conv3x1_p10", (2, 3, (3, 1), 1, (1, 0), False), (2, 2, 5, 4)),
    ]
    for seed, (name, (i, o, k, s, p, b), shape) in enumerate(conv_cases):
        torch.manual_seed(100 + seed)
        run_case(out_dir, name, nn.Conv2d(i, o, k, s, p, bias=b), shape, 200 + seed)

    torch.manual_seed(1)
    run_case(out_dir, "linear_bias", nn.Linear(5, 3), (4, 5), 2)
    torch.manual_seed(3)
    run_case(out_dir, "linear_nobias", nn.Linear(6, 4, bias=False), (3, 6), 4)

    torch.manual_seed(5)
    run_case(out_dir, "batch_norm2d_train", nn.BatchNorm2d(3), (4, 3, 5, 6), 6)
    torch.manual_seed(7)
    bn = nn.BatchNorm2d(3, eps=1e-3)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    run_case(out_dir, "batch_norm2d_eval_eps1e-3", bn, (2, 3, 4, 4), 8, train=False)
    torch.manual_seed(9)
    run_case(out_dir, "batch_norm1d_train", nn.BatchNorm1d(6), (5, 6), 10)

    run_case(out_dir, "glu", Fn(lambda x: F.glu(x, dim=1)), (2, 6, 3, 4), 11)
    run_case(out_dir, "upsample_nearest2", nn.Upsample(scale_factor=2, mode="nearest"), (2, 3, 3, 4), 12)
    run_case(out_dir, "leaky_relu0.2", nn.LeakyReLU(0.2), (2, 3, 4, 4), 13)
    run_case(out_dir, "relu", nn.ReLU(), (2, 3, 4, 4), 14)
    run_case(out_dir, "tanh", nn.Tanh(), (2, 3, 4, 4), 15)
    run_case(out_dir, "sigmoid", nn.Sigmoid(), (2, 3, 4, 4), 16)
    torch.manual_seed(17)
    run_case(out_dir, "concat_channels", Fn(lambda a, b: torch.cat((a, b), 1)), None, 18,
             inputs=[torch.randn(2, 3, 4, 5), torch.randn(2, 2, 4, 5)])

    # softmax / log_softmax with AttnGAN's padding mask (B, 1, T) over scores (B, N, T)
    torch.manual_seed(21)
    scores = torch.randn(3, 4, 5)
    mask = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0], [0, 1, 1, 1, 1]], dtype=torch.bool).unsqueeze(1)
    write(os.path.join(out_dir, "mask_b1t.txt"), [("mask", mask.float())])
    run_case(out_dir, "softmax_masked", Fn(lambda x: F.softmax(x.masked_fill(mask, float("-inf")), dim=2)), None, 22,
             inputs=[scores.clone()])
    run_case(out_dir, "log_softmax_axis1", Fn(lambda x: F.log_softmax(x, dim=1)), (3, 4, 5), 23)
    # losses (scalar outputs) and cosine similarity
    torch.manual_seed(24)
    p = torch.sigmoid(torch.randn(6, 1))
    y = torch.tensor([[1.0], [0.0], [1.0], [1.0], [0.0], [0.0]])
    run_case(out_dir, "bce", Fn(lambda q, t: nn.BCELoss()(q, t)), None, 25, inputs=[p, y])
    run_case(out_dir, "bce_with_logits", Fn(lambda x, t: nn.BCEWithLogitsLoss()(x, t)), None, 26,
             inputs=[torch.randn(4, 3), (torch.rand(4, 3) > 0.5).float()])
    labels = torch.tensor([2, 0, 4, 1])
    write(os.path.join(out_dir, "labels.txt"), [("labels", labels.float())])
    run_case(out_dir, "cross_entropy", Fn(lambda x: nn.CrossEntropyLoss()(x, labels)), (4, 5), 27)
    kl = Fn(lambda mu, lv: torch.mean(mu.pow(2).add(lv.exp()).mul(-1).add(1).add(lv)).mul(-0.5))
    run_case(out_dir, "ca_kl", kl, None, 28, inputs=[torch.randn(3, 4), torch.randn(3, 4) * 0.5])

    def attngan_cosine(x1, x2, dim=1, eps=1e-8):  # AttnGAN's miscc/losses.py cosine_similarity
        w12 = torch.sum(x1 * x2, dim)
        w1 = torch.norm(x1, 2, dim)
        w2 = torch.norm(x2, 2, dim)
        return (w12 / (w1 * w2).clamp(min=eps)).squeeze()
    run_case(out_dir, "cosine_similarity", Fn(attngan_cosine), None, 29, inputs=[torch.randn(5, 8), torch.randn(5, 8)])

    # LSTM and bidirectional LSTM over a padded batch (packed sequences)
    for name, bidir in (("lstm", False), ("bilstm", True)):
        torch.manual_seed(30 + bidir)
        rnn = nn.LSTM(5, 4, 1, batch_first=True, bidirectional=bidir)
        x = torch.randn(3, 6, 5, requires_grad=True)
        lengths = [5, 3, 2]  # sorted descending, the longest shorter than T = 6
        before = [(k, v.clone()) for k, v in rnn.state_dict().items()]
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
        out, (h_n, c_n) = rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        proj, proj_h, proj_c = torch.randn(out.shape), torch.randn(h_n.shape), torch.randn(c_n.shape)
        ((out * proj).sum() + (h_n * proj_h).sum() + (c_n * proj_c).sum()).backward()
        tensors = [("input0", x), ("lengths", torch.tensor(lengths, dtype=torch.float32))]
        tensors += [(f"param.{k}", v) for k, v in before]
        tensors += [("proj", proj), ("proj_h", proj_h), ("proj_c", proj_c), ("output", out), ("h_n", h_n), ("c_n", c_n)]
        tensors += [("grad.input0", x.grad)] + [(f"grad.{k}", q.grad) for k, q in rnn.named_parameters()]
        write(os.path.join(out_dir, name + ".txt"), tensors)

    # pooling (Inception's windows) and bilinear resizing (both conventions, up and down)
    run_case(out_dir, "max_pool3x3_s2", nn.MaxPool2d(3, 2), (2, 3, 9, 8), 40)
    run_case(out_dir, "avg_pool3x3_s1_p1", nn.AvgPool2d(3, 1, 1), (2, 3, 5, 6), 41)
    run_case(out_dir, "avg_pool3x3_s2_p1_exclude_pad", nn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 3, 7, 6), 42)
    for name, size, align in (("resize_up_align", (11, 9), True), ("resize_down_align", (3, 4), True),
                              ("resize_up_noalign", (11, 9), False), ("resize_down_noalign", (3, 4), False)):
        run_case(out_dir, name, Fn(lambda x, s=size, a=align: F.interpolate(x, size=s, mode="bilinear", align_corners=a)),
                 (2, 3, 6, 7), 43)
    torch.manual_seed(44)
    emb = nn.Embedding(10, 4)
    ids = torch.tensor([[1, 3, 3, 0], [9, 1, 2, 2]])
    write(os.path.join(out_dir, "embedding_ids.txt"), [("ids", ids.float())])
    before = [(k, v.clone()) for k, v in emb.state_dict().items()]
    out = emb(ids)
    proj = torch.randn(out.shape)
    (out * proj).sum().backward()
    write(os.path.join(out_dir, "embedding.txt"), [(f"param.{k}", v) for k, v in before] +
          [("proj", proj), ("output", out), ("grad.weight", emb.weight.grad)])
    run_case(out_dir, "tile_spatial", Fn(lambda v: v.view(3, 4, 1, 1).repeat(1, 1, 5, 6)), (3, 4), 45)

    # AttnGAN's upBlock(8 -> 4): Upsample, conv3x3(8 -> 8), BatchNorm2d(8), GLU
    torch.manual_seed(19)
    up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 8, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(8), Fn(lambda x: F.glu(x, dim=1)))
    run_case(out_dir, "up_block_8_4", up, (2, 8, 4, 4), 20)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
