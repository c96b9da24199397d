#!/usr/bin/env python3
"""PyTorch side of bench/bench_layers.cpp: the same layers, shapes and
forward + backward work, timed the same way (median of repetitions), on the
same CPU threads.

    /usr/bin/python3 bench/torch_layers.py [--threads 2] [--repetitions 10]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median_ms(fn, repetitions, warmup=2, min_time=0.5):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repetitions):
        start, n = time.perf_counter(), 0
        while True:  # like Google Benchmark: iterate until min_time, report the mean of the repetition
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
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repetitions", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn {torch.backends.mkldnn.is_available()}")
    for batch, size in [(2, 64), (2, 128), (20, 64), (20, 128)]:
        conv = nn.Conv2d(64, 128, 3, 1, 1, bias=False)
        x = torch.randn(batch, 64, size, size, requires_grad=True)
        print(f"conv3x3_64_128/{batch}/{size}  {median_ms(layer_step(conv, x), args.repetitions):.2f} ms")
    bn = nn.BatchNorm2d(128)
    x = torch.randn(20, 128, 64, 64, requires_grad=True)
    print(f"batch_norm_glu  {median_ms(layer_step(nn.Sequential(bn, nn.GLU(1)), x), args.repetitions):.2f} ms")
    rnn = nn.LSTM(300, 128, 1, batch_first=True, bidirectional=True)
    x = torch.randn(20, 18, 300, requires_grad=True)
    lengths = [18] * 20

    def lstm_step():
        rnn.zero_grad(set_to_none=False)
        x.grad = None
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
        out, (h_n, _) = rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        (out.sum() + h_n.sum()).backward()
    print(f"bilstm_text_encoder  {median_ms(lstm_step, args.repetitions):.2f} ms")


if __name__ == "__main__":
    main()
