#!/usr/bin/env python3
"""PyTorch (eager) reference of sandtable's dynamics transformer, for speed comparison only.

It mirrors agent/src/model/{dynamics,tokenizer,nn}.rs layer for layer. Dynamics: token and
learned position embeddings plus each block's action embedding on its frame slots, pre-norm blocks
(LayerNorm, qkv attention with a block-causal mask, 4x MLP with tanh GELU), a final LayerNorm, and
an unbiased head applied, as in candle, only at the frame slots of the first T-1 blocks and only
over the codebook's rows, plus the copy gate's logit on each slot's current code, with
cross-entropy against the same slot of the next frame (block teacher forcing).
Tokenizer: 8x8 (or the config's) patches, a patch transformer encoder, FSQ with a straight-through
round, a patch transformer decoder and MSE. Both train with AdamW (betas 0.9/0.95, decay on
matrices only) and global-norm clipping.

Optional: never needed by the tests. `sandtable bench train --torch PYTHON` runs it in the same
run as the candle measurement and prints the ratio. Install torch in its own virtual
environment (the PyPI wheel pulls in CUDA packages, about 3 GB):
    python3 -m venv /root/torchref && /root/torchref/bin/pip install torch numpy
Usage: python torch_reference.py --config CONFIG.json [--steps 8] [--threads 2]
Prints one JSON line: forward_ms, backward_ms, optimizer_ms, step_ms (medians), tokens_per_s, and
tokenizer_step_ms (median tokenizer step).
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

# The model's action tokens when the config does not say (dynamics.action_tokens): the env's
# eleven actions and `answer`.
ACTION_TOKENS = 12


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
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        if mask is not None:
            scores = scores + mask
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
        self.copy = nn.Linear(dim, 1)
        self.block = block

    def features(self, tokens, mask):
        t = tokens.shape[1]
        x = self.tok_emb(tokens) + self.slot_emb[self.slots[:t]] + self.frame_emb[self.frames[:t]]
        # Each frame slot also gets its block's action (the block's last token).
        pos = torch.arange(t)
        action_at = pos - pos % self.block + self.block - 1
        frame_slot = (pos % self.block != self.block - 1).float().unsqueeze(-1)
        x = x + self.tok_emb(tokens[:, action_at]) * frame_slot
        for b in self.blocks:
            x = b(x, mask)
        return self.norm(x)


class Tokenizer(nn.Module):
    def __init__(self, image, patch, dim, heads, enc_layers, dec_layers, levels):
        super().__init__()
        self.grid, self.patch = image // patch, patch
        p, pixels = self.grid ** 2, patch * patch * 3
        self.patch_in = nn.Linear(pixels, dim)
        self.enc_pos = nn.Parameter(torch.randn(p, dim) * 0.02)
        self.encoder = nn.ModuleList(Block(dim, heads) for _ in range(enc_layers))
        self.enc_norm = nn.LayerNorm(dim, eps=1e-5)
        self.to_code = nn.Linear(dim, len(levels))
        self.from_code = nn.Linear(len(levels), dim)
        self.dec_pos = nn.Parameter(torch.randn(p, dim) * 0.02)
        self.decoder = nn.ModuleList(Block(dim, heads) for _ in range(dec_layers))
        self.dec_norm = nn.LayerNorm(dim, eps=1e-5)
        self.patch_out = nn.Linear(dim, pixels)
        self.register_buffer("half_levels", torch.tensor([(l - 1) / 2 for l in levels]))

    def forward(self, frames):
        n, g, s = frames.shape[0], self.grid, self.patch
        x = frames.float() / 127.5 - 1.0
        x = x.reshape(n, g, s, g, s, 3).permute(0, 1, 3, 2, 4, 5).reshape(n, g * g, s * s * 3)
        x = self.patch_in(x) + self.enc_pos
        for b in self.encoder:
            x = b(x, None)
        bounded = torch.tanh(self.to_code(self.enc_norm(x))) * self.half_levels
        q = (bounded + (bounded.round() - bounded).detach()) / self.half_levels
        x = self.from_code(q) + self.dec_pos
        for b in self.decoder:
            x = b(x, None)
        x = self.patch_out(self.dec_norm(x))
        x = x.reshape(n, g, g, s, s, 3).permute(0, 1, 3, 2, 4, 5).reshape(n, g * s, g * s, 3)
        return (x + 1.0) / 2.0


def adamw(model, cfg, lr):
    decay = [q for q in model.parameters() if q.dim() >= 2]
    rest = [q for q in model.parameters() if q.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg["train"]["weight_decay"]}, {"params": rest, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.95), eps=1e-8,
    )


def tokenizer_step_ms(cfg, steps):
    """Median tokenizer step on patterned frames, as `sandtable bench train` times candle's."""
    t = cfg["tokenizer"]
    model = Tokenizer(cfg["image_size"], t["patch"], t["dim"], t["heads"], t["encoder_layers"], t["decoder_layers"], t["levels"])
    opt = adamw(model, cfg, cfg["train"]["tokenizer_lr"])
    n, s = cfg["train"]["tokenizer_batch"], cfg["image_size"]
    i = torch.arange(n * s * s * 3)
    frames = ((i * 7 + i // 977) % 253).to(torch.uint8).reshape(n, s, s, 3)
    target = frames.float() / 255.0
    times = []
    for k in range(steps + 2):
        t0 = time.perf_counter()
        loss = ((model(frames) - target) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["train"]["grad_clip"])
        opt.step()
        if k >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


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
    vocab = codebook + d.get("action_tokens", ACTION_TOKENS) + 1 + d["text_tokens"]
    max_seq = d["frames"] * (p + 1) - 1
    # Block teacher forcing: the first frames-1 blocks (frame + action) go in.
    seq = (d["frames"] - 1) * (p + 1)
    b = cfg["train"]["dynamics_batch"]
    model = Dynamics(vocab, max_seq, d["dim"], d["heads"], d["layers"], p + 1, d["frames"])
    opt = adamw(model, cfg, cfg["train"]["dynamics_lr"])
    idx = torch.arange(b * max_seq).reshape(b, max_seq)
    tokens = torch.where(idx % max_seq % (p + 1) == p, codebook + idx % 7, (idx * 31 + 7) % codebook)
    block_of = torch.arange(seq) // (p + 1)
    mask = torch.where(block_of.unsqueeze(1) >= block_of.unsqueeze(0), 0.0, float("-inf"))
    pos = torch.tensor([i for i in range(seq) if i % (p + 1) != p])
    inputs = tokens[:, :seq]
    current = inputs[:, pos].reshape(-1)
    targets = tokens[:, pos + p + 1].reshape(-1)
    onehot = F.one_hot(current, codebook).float()
    fwd, bwd, upd = [], [], []
    for i in range(args.steps + 2):
        t0 = time.perf_counter()
        feats = model.features(inputs, mask)[:, pos].reshape(-1, d["dim"])
        logits = feats @ model.head.weight[:codebook].t() + onehot * model.copy(feats)
        loss = F.cross_entropy(logits, targets)
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
        "params": sum(q.numel() for q in model.parameters()), "batch": b, "seq": seq,
        "forward_ms": f, "backward_ms": g, "optimizer_ms": u, "step_ms": f + g + u,
        "tokens_per_s": b * seq / (f + g + u) * 1e3,
        "tokenizer_step_ms": tokenizer_step_ms(cfg, args.steps),
    }))


if __name__ == "__main__":
    main()
