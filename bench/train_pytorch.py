#!/usr/bin/env python3
"""The PyTorch baselines for bench/train_vs_pytorch.sh: the same DNN, data, batch size, epochs,
threads and evaluation protocol as `emnist train --model dnn`, in two plain forms.

  --mode plain       the fastest plain form, as the seed's loop did: one preloaded uint8 tensor,
                     a permutation per epoch, x[idx] batches converted to float per step
  --mode dataloader  the form most users write: TensorDataset + DataLoader(shuffle=True)

Prints one JSON line: {"mode", "seconds", "samples_per_s", "test_accuracy", "steps"}; the clock
runs from the first step to the end of the final whole-test-set evaluation, as emnist's
wall_time_s does (data loading and process start-up excluded).
"""

import argparse
import gzip
import json
import math
import struct
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, rows, cols)
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--mode", choices=["plain", "dataloader"], required=True)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    d = Path(a.data)
    xtr = torch.from_numpy(read_idx(d / "train-images-idx3-ubyte.gz").copy())
    ytr = torch.from_numpy(read_idx(d / "train-labels-idx1-ubyte.gz"))
    xte = torch.from_numpy(read_idx(d / "t10k-images-idx3-ubyte.gz").copy())
    yte = torch.from_numpy(read_idx(d / "t10k-labels-idx1-ubyte.gz"))
    k = int(ytr.max()) + 1
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.ELU(), nn.Linear(512, 256), nn.ELU(), nn.Linear(256, k)
    )
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    n = len(ytr)
    steps_per_epoch = math.ceil(n / a.batch_size)
    eval_every = max(1, steps_per_epoch // 20)
    gen = torch.Generator().manual_seed(a.seed)
    sample = torch.randperm(len(yte), generator=gen)[: math.ceil(0.05 * len(yte))]

    def evaluate(idx=None):
        model.eval()
        correct, total = 0, 0
        with torch.no_grad():
            rows = idx if idx is not None else torch.arange(len(yte))
            for s in range(0, len(rows), 1024):
                r = rows[s : s + 1024]
                out = model(xte[r].float() / 255.0)
                correct += int((out.argmax(1) == yte[r]).sum())
                total += len(r)
        model.train()
        return correct / total

    if a.mode == "dataloader":
        ds = torch.utils.data.TensorDataset(xtr, ytr)
        loader = torch.utils.data.DataLoader(ds, batch_size=a.batch_size, shuffle=True, generator=gen)
    step = 0
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        if a.mode == "plain":
            perm = torch.randperm(n, generator=gen)
            batches = ((xtr[perm[s : s + a.batch_size]], ytr[perm[s : s + a.batch_size]]) for s in range(0, n, a.batch_size))
        else:
            batches = iter(loader)
        for xb, yb in batches:
            out = model(xb.float() / 255.0)
            loss = loss_fn(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % eval_every == 0:
                evaluate(sample)
    acc = evaluate()
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "mode": a.mode, "seconds": round(seconds, 3), "samples_per_s": round(a.epochs * n / seconds, 1),
        "test_accuracy": round(acc, 4), "steps": step,
    }))


if __name__ == "__main__":
    main()
