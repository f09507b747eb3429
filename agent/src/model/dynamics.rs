//! The dynamics model: a GPT over the interleaved sequence
//! `[frame tokens][action][frame tokens][action]…[frame tokens]`, trained with next-token
//! cross-entropy on the frame tokens. Action and text ids share the one vocabulary
//! (see [`Config::vocab`]), so instruction tuning can add text tokens without new embeddings.

use candle_core::{D, DType, IndexOp, Module, Result, Tensor};
use candle_nn::{Embedding, Init, VarBuilder, embedding};

use super::nn::{Block, Dense, KvCache, LayerNorm};
use super::ops;
use crate::config::Config;

/// Causal transformer over frame, action and text tokens.
#[derive(Clone, Debug)]
pub struct Dynamics {
    pub(crate) tok_emb: Embedding,
    /// Position within a frame's block of tokens (the last slot is the action).
    pub(crate) slot_emb: Tensor,
    /// Which frame of the window.
    pub(crate) frame_emb: Tensor,
    pub(crate) blocks: Vec<Block>,
    pub(crate) norm: LayerNorm,
    pub(crate) head: Dense,
    pub(crate) codebook: usize,
    tokens_per_frame: usize,
    max_seq: usize,
}

/// Build the interleaved token sequence of `codes` `[b, t, p]` (u32) and `actions` `[b, t]`
/// (i64 dataset indices): each frame's tokens, then the action taken from it, except after the
/// last frame. Returns u32 `[b, t·(p+1) − 1]`.
pub fn interleave(cfg: &Config, codes: &Tensor, actions: &Tensor) -> Result<Tensor> {
    let (b, t, p) = codes.dims3()?;
    let codes: Vec<u32> = codes.flatten_all()?.to_vec1()?;
    let actions: Vec<i64> = actions.flatten_all()?.to_vec1()?;
    let len = t * (p + 1) - 1;
    let mut out = Vec::with_capacity(b * len);
    for i in 0..b {
        for f in 0..t {
            out.extend_from_slice(&codes[(i * t + f) * p..(i * t + f + 1) * p]);
            if f + 1 < t {
                let a = actions[i * t + f];
                if a < 0 {
                    candle_core::bail!("window {i} has no action after frame {f} (an episode's last frame inside a window)");
                }
                if a as usize >= crate::config::ACTION_TOKENS {
                    candle_core::bail!("window {i}: action {a} is outside the model's {} action tokens", crate::config::ACTION_TOKENS);
                }
                out.push(cfg.action_token(a as usize));
            }
        }
    }
    Tensor::from_vec(out, (b, len), &candle_core::Device::Cpu)
}

impl Dynamics {
    /// Build from `cfg.dynamics`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let d = &cfg.dynamics;
        Ok(Self {
            tok_emb: embedding(cfg.vocab(), d.dim, vb.pp("tok_emb"))?,
            slot_emb: vb.get_with_hints((cfg.tokens_per_frame() + 1, d.dim), "slot_emb", Init::Randn { mean: 0.0, stdev: 0.02 })?,
            frame_emb: vb.get_with_hints((d.frames, d.dim), "frame_emb", Init::Randn { mean: 0.0, stdev: 0.02 })?,
            blocks: (0..d.layers).map(|i| Block::new(d.dim, d.heads, vb.pp(format!("blocks.{i}")))).collect::<Result<_>>()?,
            norm: LayerNorm::new(d.dim, vb.pp("norm"))?,
            head: Dense::no_bias(d.dim, cfg.vocab(), vb.pp("head"))?,
            codebook: cfg.codebook(),
            tokens_per_frame: cfg.tokens_per_frame(),
            max_seq: cfg.max_seq(),
        })
    }

    /// Empty KV caches, one per block, each with room for the longest sequence.
    pub fn caches(&self) -> Vec<KvCache> {
        vec![KvCache::new(self.max_seq); self.blocks.len()]
    }

    /// Logits `[b, n, vocab]` for tokens `[b, n]` at positions `offset..offset + n`, reusing and
    /// extending `caches` (one per block) when given.
    pub fn forward_at(&self, tokens: &Tensor, offset: usize, caches: Option<&mut [KvCache]>) -> Result<Tensor> {
        self.trunk(self.embed(tokens, offset)?, offset, caches)
    }

    /// Token plus position embeddings `[b, n, d]` of tokens `[b, n]` at positions
    /// `offset..offset + n`.
    pub(crate) fn embed(&self, tokens: &Tensor, offset: usize) -> Result<Tensor> {
        let (_, n) = tokens.dims2()?;
        if offset + n > self.max_seq {
            candle_core::bail!("sequence of {} tokens exceeds the model's {}", offset + n, self.max_seq);
        }
        let tokens = tokens.to_device(self.slot_emb.device())?;
        self.tok_emb.forward(&tokens)?.broadcast_add(&self.position(offset, n)?)
    }

    /// Logits of embedded tokens `x` `[b, n, d]` at positions `offset..offset + n` through the
    /// causal blocks, the final norm and the head.
    pub(crate) fn trunk(&self, x: Tensor, offset: usize, caches: Option<&mut [KvCache]>) -> Result<Tensor> {
        self.head.forward(&self.hidden(x, offset, caches)?)
    }

    /// The final-norm features `[b, n, d]` of embedded tokens `x` at positions
    /// `offset..offset + n`: the trunk without the head.
    pub(crate) fn hidden(&self, mut x: Tensor, offset: usize, caches: Option<&mut [KvCache]>) -> Result<Tensor> {
        match caches {
            Some(caches) => {
                for (b, c) in self.blocks.iter().zip(caches.iter_mut()) {
                    x = b.forward(&x, Some(offset), Some(c))?;
                }
            }
            None => {
                for b in &self.blocks {
                    x = b.forward(&x, Some(offset), None)?;
                }
            }
        }
        self.norm.forward(&x)
    }

    /// Logits `[rows, classes]` of features `[rows, d]` over the first `classes` tokens of the
    /// vocabulary only: frame targets need the codebook's rows of the head, not the whole vocabulary.
    pub(crate) fn head_over(&self, features: &Tensor, classes: usize) -> Result<Tensor> {
        ops::linear(features, &self.head.weight().narrow(0, 0, classes)?, None)
    }

    /// Position embeddings `[n, d]` of positions `offset..offset + n`: the slot within the frame
    /// block plus the frame's index. Factorised so that the same patch in consecutive frames
    /// shares an embedding, which makes "look at this patch one frame back" easy to learn.
    pub(crate) fn position(&self, offset: usize, n: usize) -> Result<Tensor> {
        let block = self.tokens_per_frame + 1;
        let device = self.slot_emb.device();
        let slots = Tensor::from_vec((offset..offset + n).map(|i| (i % block) as u32).collect::<Vec<_>>(), n, device)?;
        let frames = Tensor::from_vec((offset..offset + n).map(|i| (i / block) as u32).collect::<Vec<_>>(), n, device)?;
        self.slot_emb.index_select(&slots, 0)? + self.frame_emb.index_select(&frames, 0)?
    }

    /// Positions whose next token is a frame token (the loss positions): every position except
    /// those just before an action.
    pub(crate) fn frame_target_positions(&self, n: usize) -> Vec<u32> {
        let p1 = self.tokens_per_frame + 1;
        (0..n - 1).filter(|&i| (i + 1) % p1 != self.tokens_per_frame).map(|i| i as u32).collect()
    }

    /// Mean next-token cross-entropy over frame-token targets of `tokens` `[b, n]`, and the
    /// fraction predicted exactly (argmax). Every target is a frame code, so the softmax runs
    /// over the codebook only.
    pub fn loss(&self, tokens: &Tensor) -> Result<(Tensor, f64)> {
        let (b, n) = tokens.dims2()?;
        let device = self.slot_emb.device().clone();
        let tokens = tokens.to_device(&device)?;
        let features = self.hidden(self.embed(&tokens, 0)?, 0, None)?; // [b, n, d]
        let pos = self.frame_target_positions(n);
        let m = pos.len();
        let idx = Tensor::from_vec(pos.clone(), m, &device)?;
        let tgt_idx = Tensor::from_vec(pos.iter().map(|i| i + 1).collect::<Vec<u32>>(), m, &device)?;
        let features = features.index_select(&idx, 1)?.reshape((b * m, ()))?;
        let logits = self.head_over(&features, self.codebook)?; // [b·m, codebook]
        let targets = tokens.index_select(&tgt_idx, 1)?.reshape(b * m)?;
        let loss = ops::cross_entropy(&logits, &targets)?;
        let pred = logits.argmax(D::Minus1)?;
        let hits: f64 = pred.eq(&targets)?.to_dtype(DType::F64)?.sum_all()?.to_scalar()?;
        Ok((loss, hits / (b * m) as f64))
    }

    /// Generate one frame's codes `[b, p]` after `prefix` `[b, n]` (which must end with an
    /// action token), greedily: the most likely frame code at each of the frame's positions.
    pub fn next_frame(&self, prefix: &Tensor) -> Result<Tensor> {
        let (_, n) = prefix.dims2()?;
        let mut caches = self.caches();
        let mut logits = self.forward_at(prefix, 0, Some(&mut caches))?.i((.., n - 1..n, ..))?;
        let mut out = Vec::with_capacity(self.tokens_per_frame);
        for k in 0..self.tokens_per_frame {
            let next = logits.narrow(2, 0, self.codebook)?.argmax(D::Minus1)?.to_dtype(DType::U32)?; // [b, 1]
            out.push(next.clone());
            if k + 1 < self.tokens_per_frame {
                logits = self.forward_at(&next, n + k, Some(&mut caches))?;
            }
        }
        Tensor::cat(&out, 1)?.to_device(&candle_core::Device::Cpu)
    }
}
