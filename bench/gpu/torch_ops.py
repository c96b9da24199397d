#!/usr/bin/env python3
"""PyTorch eager on the GPU, the same work as bench/gpu/bench_cuda_ops.cu.

Each case is forward + backward of one layer at AttnGAN's bird shapes
(batch 20), with the gradient of every output element set to one, ending in
torch.cuda.synchronize(); timed like Google Benchmark (iterate for at least
min_time, mean per iteration; median over repetitions). fp32 means TF32 off
for both cuDNN and cuBLAS; tf32 turns both on. cuDNN runs with its default
algorithm choice (cudnn.benchmark = False, as AttnGAN's code leaves it) and,
for the convolutions, also with cudnn.benchmark = True.

  python3 bench/gpu/torch_ops.py [--repetitions 5]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn


def median_ms(fn, repetitions, warmup=3, min_time=0.3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repetitions):
        start, n = time.perf_counter(), 0
        while True:
            fn()
            n += 1
            if time.perf_counter() - start >= min_time:
                break
        times.append((time.perf_counter() - start) / n * 1e3)
    return statistics.median(times)


def layer_step(module, x):
    def step():
        module.zero_grad(set_to_none=False)
        x.grad = None
        y = module(x)
        y.backward(torch.ones_like(y))
        torch.cuda.synchronize()
    return step


def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()
    dev = torch.device("cuda")
    torch.manual_seed(1)
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name(0)}")

    class GLU(nn.Module):
        def forward(self, x):
            c = x.size(1) // 2
            return x[:, :c] * torch.sigmoid(x[:, c:])

    convs = [
        ("conv3x3_64_128/64", nn.Conv2d(64, 128, 3, 1, 1, bias=False), (20, 64, 64, 64)),
        ("conv3x3_64_128/128", nn.Conv2d(64, 128, 3, 1, 1, bias=False), (20, 64, 128, 128)),
        ("conv3x3_32_64_256", nn.Conv2d(32, 64, 3, 1, 1, bias=False), (20, 32, 256, 256)),
        ("conv4x4_s2_64_128", nn.Conv2d(64, 128, 4, 2, 1, bias=False), (20, 64, 128, 128)),
    ]
    for bench_mode in (False, True):
        torch.backends.cudnn.benchmark = bench_mode
        for tf32 in (False, True):
            set_tf32(tf32)
            for name, conv, shape in convs:
                conv = conv.to(dev)
                x = torch.randn(*shape, device=dev, requires_grad=True)
                ms = median_ms(layer_step(conv, x), args.repetitions)
                print(f"torch {name} {'tf32' if tf32 else 'fp32'} cudnn.benchmark={bench_mode}  {ms:.3f} ms")
    torch.backends.cudnn.benchmark = False
    set_tf32(False)

    bn_glu = nn.Sequential(nn.BatchNorm2d(128), GLU()).to(dev)
    x = torch.randn(20, 128, 64, 64, device=dev, requires_grad=True)
    print(f"torch batch_norm_glu  {median_ms(layer_step(bn_glu, x), args.repetitions):.3f} ms")

    lrelu = nn.LeakyReLU(0.2).to(dev)
    x = torch.randn(20, 256, 32, 32, device=dev, requires_grad=True)
    print(f"torch leaky_relu_02  {median_ms(layer_step(lrelu, x), args.repetitions):.3f} ms")

    a = torch.randn(20, 64, 64, 64, device=dev, requires_grad=True)
    b = torch.randn(20, 64, 64, 64, device=dev, requires_grad=True)

    def residual():
        a.grad = None
        b.grad = None
        y = a + b
        y.backward(torch.ones_like(y))
        torch.cuda.synchronize()
    print(f"torch residual_add  {median_ms(residual, args.repetitions):.3f} ms")

    lstm = nn.LSTM(300, 128, 1, batch_first=True, bidirectional=True).to(dev)
    x = torch.randn(20, 18, 300, device=dev, requires_grad=True)
    lengths = torch.full((20,), 18, dtype=torch.long)

    def lstm_step():
        lstm.zero_grad(set_to_none=False)
        x.grad = None
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
        out, (h, _) = lstm(packed)
        out = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)[0]
        (out.sum() + h.sum()).backward()
        torch.cuda.synchronize()
    print(f"torch bilstm_text_encoder  {median_ms(lstm_step, args.repetitions):.3f} ms")


if __name__ == "__main__":
    main()
