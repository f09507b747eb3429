"""A calibration probe for the question scenarios: how well do small PyTorch models answer them,
trained on the same recorded episodes the agent is? Not part of the pipeline; it needs a Python
with torch and numpy (see scripts/torch_reference.py for the venv).

    sandtable record --scenario describe_object count_objects --episodes 16000 --policy expert \
        --workers 2 --seed 200 --out runs/questions
    python scripts/probe_questions.py runs/questions merge 8000

ARCH: `merge` (four 2x2 patch merges to a 4x4 grid, as the agent's pixel stem), `merge64` (three,
to 8x8), `ovl` (an overlapping 8x8 stride-4 convolution, then two merges), `cnn_film` (4x4
stride-2 convolutions with FiLM from the question). Each reads the question's words and the
frame's tokens with a 3-layer, 128-wide transformer and answers from a query token. The last
1,000 episodes are held out; accuracy per scenario is printed every 1,000 steps.
"""
import glob
import json
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)
root, arch, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
episodes = [json.loads(line) for line in open(f"{root}/episodes.jsonl")]


def tensor(blob, header, name, dtype):
    start, end = header[name]["data_offsets"]
    return np.frombuffer(blob[start:end], dtype).reshape(header[name]["shape"])


frames, rows = [], []
for path in sorted(glob.glob(f"{root}/data/*.safetensors")):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header, blob = json.loads(raw[8:8 + n]), raw[8 + n:]
    frames.append(tensor(blob, header, "frames", np.uint8))
    rows.append(tensor(blob, header, "episode_index", np.int64))
frames, rows = np.concatenate(frames), np.concatenate(rows)
first = {}
for i, e in enumerate(rows):
    first.setdefault(int(e), i)
words = sorted({w for ep in episodes for w in ep["mission"].replace("?", "").split()})
answers = sorted({ep["given_answer"] for ep in episodes})
word_id, answer_id = {w: i + 1 for i, w in enumerate(words)}, {a: i for i, a in enumerate(answers)}
images = torch.tensor(np.stack([frames[first[ep["index"]]] for ep in episodes])).permute(0, 3, 1, 2).float() / 127.5 - 1
L = 8
text = torch.zeros(len(episodes), L, dtype=torch.long)
for k, ep in enumerate(episodes):
    ids = [word_id[w] for w in ep["mission"].replace("?", "").split()][:L]
    text[k, :len(ids)] = torch.tensor(ids)
labels = torch.tensor([answer_id[ep["given_answer"]] for ep in episodes])
kinds = [ep["scenario"] for ep in episodes]
held = 1000
train = len(episodes) - held


class Film(nn.Module):
    def __init__(self, channels, dim):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x, t):
        scale, shift = self.proj(t).chunk(2, -1)
        return x * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class Probe(nn.Module):
    def __init__(self, arch, dim=128):
        super().__init__()
        self.emb = nn.Embedding(len(words) + 1, dim, padding_idx=0)
        convs = {
            "merge": [(3, 32, 2, 2, 0), (32, 64, 2, 2, 0), (64, 128, 2, 2, 0), (128, dim, 2, 2, 0)],
            "merge64": [(3, 32, 2, 2, 0), (32, 64, 2, 2, 0), (64, dim, 2, 2, 0)],
            "ovl": [(3, 64, 8, 4, 2), (64, 128, 2, 2, 0), (128, dim, 2, 2, 0)],
            "cnn_film": [(3, 32, 4, 2, 1), (32, 64, 4, 2, 1), (64, 128, 4, 2, 1), (128, dim, 4, 2, 1)],
        }[arch]
        self.convs = nn.ModuleList([nn.Conv2d(i, o, k, s, p) for i, o, k, s, p in convs])
        self.film = nn.ModuleList([Film(o, dim) for _, o, _, _, _ in convs[:-1]]) if arch == "cnn_film" else None
        self.tokens = 64 if arch == "merge64" else 16
        self.pos = nn.Parameter(torch.randn(self.tokens + 1 + L, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, 4, 4 * dim, 0.0, batch_first=True, norm_first=True)
        self.trunk = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.out = nn.Linear(dim, len(answers))

    def forward(self, x, t):
        e = self.emb(t)
        mask = (t > 0).float()
        question = (e * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = F.gelu(x)
                if self.film is not None:
                    x = self.film[i](x, question)
        seq = torch.cat([e, x.flatten(2).transpose(1, 2), self.query.expand(len(x), -1, -1)], 1) + self.pos
        pad = torch.cat([t == 0, torch.zeros(len(x), self.tokens + 1, dtype=torch.bool)], 1)
        return self.out(self.trunk(seq, src_key_padding_mask=pad)[:, -1])


net = Probe(arch)
opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=0.01)
start = time.time()
for step in range(1, steps + 1):
    idx = torch.randint(0, train, (16,))
    loss = F.cross_entropy(net(images[idx], text[idx]), labels[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 1000 == 0 or step == steps:
        with torch.no_grad():
            hit = (net(images[train:], text[train:]).argmax(-1) == labels[train:]).numpy()
        by_kind = {k: round(float(hit[[i for i in range(held) if kinds[train + i] == k]].mean()), 3) for k in sorted(set(kinds))}
        print(json.dumps({"arch": arch, "step": step, "seconds": round(time.time() - start), "accuracy": by_kind}), flush=True)
