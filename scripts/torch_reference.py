#!/usr/bin/env python3
"""PyTorch (eager) reference of sandtable's dynamics transformer, for speed comparison only.

It mirrors agent/src/model/dynamics.rs and nn.rs layer for layer: token and learned position
embeddings, pre-norm blocks (LayerNorm, qkv attention with a causal mask, 4x MLP with tanh GELU),
a final LayerNorm and an unbiased head over the whole vocabulary, cross-entropy on frame-token
targets, AdamW (betas 0.9/0.95, decay on matrices only) with global-norm clipping.

Optional: never needed by the tests. `sandtable bench train --torch PYTHON` runs it in the same
run as the candle measurement and prints the ratio. Install torch in its own virtual
environment (the PyPI wheel pulls in CUDA packages, about 3 GB):
    python3 -m venv /root/torchref && /root/torchref/bin/pip install torch numpy
Usage: python torch_reference.py --config CONFIG.json [--steps 8] [--threads 2]
Prints one JSON line: forward_ms, backward_ms, optimizer_ms, step_ms (medians), tokens_per_s.
"""
import argparse
import json
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTION_TOKENS = 11


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.heads = heads

    def forward(self, x, mask):
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + mask
        y = torch.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, 4 * dim)
        self.proj = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim)

    def forward(self, x, mask):
        x = x + self.attn(self.ln1(x), mask)
        return x + self.mlp(self.ln2(x))


class Dynamics(nn.Module):
    def __init__(self, vocab, max_seq, dim, heads, layers, block, frames):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, dim)
        # Factorised positions: slot within a frame's block of tokens, plus the frame's index.
        self.slot_emb = nn.Parameter(torch.randn(block, dim) * 0.02)
        self.frame_emb = nn.Parameter(torch.randn(frames, dim) * 0.02)
        pos = torch.arange(max_seq)
        self.register_buffer("slots", pos % block)
        self.register_buffer("frames", pos // block)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim, eps=1e-5)
        self.head = nn.Linear(dim, vocab, bias=False)

    def forward(self, tokens, mask):
        t = tokens.shape[1]
        x = self.tok_emb(tokens) + self.slot_emb[self.slots[:t]] + self.frame_emb[self.frames[:t]]
        for b in self.blocks:
            x = b(x, mask)
        return self.head(self.norm(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = json.load(open(args.config))
    levels = cfg["tokenizer"]["levels"]
    codebook = math.prod(levels)
    grid = cfg["image_size"] // cfg["tokenizer"]["patch"]
    p = grid * grid
    d = cfg["dynamics"]
    vocab = codebook + ACTION_TOKENS + d["text_tokens"]
    max_seq = d["frames"] * (p + 1) - 1
    b = cfg["train"]["dynamics_batch"]
    model = Dynamics(vocab, max_seq, d["dim"], d["heads"], d["layers"], p + 1, d["frames"])
    decay = [q for q in model.parameters() if q.dim() >= 2]
    rest = [q for q in model.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg["train"]["weight_decay"]}, {"params": rest, "weight_decay": 0.0}],
        lr=cfg["train"]["dynamics_lr"], betas=(0.9, 0.95), eps=1e-8,
    )
    idx = torch.arange(b * max_seq).reshape(b, max_seq)
    tokens = torch.where(idx % max_seq % (p + 1) == p, codebook + idx % 7, (idx * 31 + 7) % codebook)
    mask = torch.full((max_seq, max_seq), float("-inf")).triu(1)
    pos = torch.tensor([i for i in range(max_seq - 1) if (i + 1) % (p + 1) != p])
    fwd, bwd, upd = [], [], []
    for i in range(args.steps + 2):
        t0 = time.perf_counter()
        logits = model(tokens, mask)
        loss = F.cross_entropy(logits[:, pos].reshape(-1, vocab), tokens[:, pos + 1].reshape(-1))
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["train"]["grad_clip"])
        opt.step()
        t3 = time.perf_counter()
        if i >= 2:
            fwd.append((t1 - t0) * 1e3)
            bwd.append((t2 - t1) * 1e3)
            upd.append((t3 - t2) * 1e3)
    f, g, u = (statistics.median(x) for x in (fwd, bwd, upd))
    print(json.dumps({
        "torch": torch.__version__, "threads": args.threads, "config": cfg["name"],
        "params": sum(q.numel() for q in model.parameters()), "batch": b, "seq": max_seq,
        "forward_ms": f, "backward_ms": g, "optimizer_ms": u, "step_ms": f + g + u,
        "tokens_per_s": b * max_seq / (f + g + u) * 1e3,
    }))


if __name__ == "__main__":
    main()
