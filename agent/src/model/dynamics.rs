//! The dynamics model: a transformer over the interleaved sequence
//! `[frame tokens][action][frame tokens][action]…`, where each frame's tokens and the action taken
//! from it form one block. Three choices make it a world model rather than a token predictor:
//!
//! - **One pass per frame** (block teacher forcing): under a block-causal mask every token of a
//!   block sees its whole block, and slot `i` of frame `t` predicts slot `i` of frame `t + 1`, so
//!   all tokens of the next frame come out of one forward pass, in training and in generation.
//! - **Actions where they act**: the block's action embedding is added to every frame slot of
//!   the block, not left as one token for attention to find.
//! - **A copy path**: a learned gate adds a logit to the code the slot holds now, so "this patch
//!   stays as it is" costs one number instead of a reconstruction through the whole head.
//!
//! Action and text ids share the one vocabulary (see [`Config::vocab`]), so instruction tuning adds
//! text tokens without new embeddings; the `null` action token stands for "no action given" (the
//! agent's view, and the action dropout of pretraining).

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{Embedding, Init, VarBuilder, embedding};

use super::nn::{Block, Dense, LayerNorm};
use super::ops::{self, Mask};
use crate::config::Config;

/// A teacher-forced batch: the input blocks, the frame slots that predict, the code each holds
/// and the code of the same slot one frame later (both `[b · slots]`, row-major).
pub(crate) struct TeacherForcing {
    pub(crate) input: Tensor,
    pub(crate) slots: Vec<u32>,
    pub(crate) current: Vec<u32>,
    pub(crate) targets: Vec<u32>,
}

/// Block-causal transformer over frame, action and text tokens.
#[derive(Clone, Debug)]
pub struct Dynamics {
    pub(crate) tok_emb: Embedding,
    /// Position within a frame's block of tokens (the last slot is the action). Initialised at
    /// the token embeddings' scale (σ = 1), not GPT's 0.02: predicting a slot from its neighbours
    /// is attention by position, and a faint position signal left a tiny model on a plateau for
    /// three times as many steps before it learned to follow a turn.
    pub(crate) slot_emb: Tensor,
    /// Which frame of the window.
    pub(crate) frame_emb: Tensor,
    pub(crate) blocks: Vec<Block>,
    pub(crate) norm: LayerNorm,
    pub(crate) head: Dense,
    /// The copy gate: features → the logit added to the slot's current code.
    pub(crate) copy: Dense,
    pub(crate) codebook: usize,
    tokens_per_frame: usize,
    max_seq: usize,
    null: u32,
    copy_gate: bool,
    action_at_slots: bool,
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
                if a as usize >= cfg.dynamics.action_tokens {
                    candle_core::bail!("window {i}: action {a} is outside the model's {} action tokens", cfg.dynamics.action_tokens);
                }
                out.push(cfg.action_token(a as usize));
            }
        }
    }
    Tensor::from_vec(out, (b, len), &Device::Cpu)
}

impl Dynamics {
    /// Build from `cfg.dynamics`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let d = &cfg.dynamics;
        // The gate starts in favour of copying (bias 2): most of a frame is the last one.
        let copy = Dense::from_parts(
            vb.pp("copy").get_with_hints((1, d.dim), "weight", Init::Randn { mean: 0.0, stdev: 0.02 })?,
            Some(vb.pp("copy").get_with_hints(1, "bias", Init::Const(2.0))?),
        );
        Ok(Self {
            tok_emb: embedding(cfg.vocab(), d.dim, vb.pp("tok_emb"))?,
            slot_emb: vb.get_with_hints((cfg.tokens_per_frame() + 1, d.dim), "slot_emb", Init::Randn { mean: 0.0, stdev: 1.0 })?,
            frame_emb: vb.get_with_hints((d.frames, d.dim), "frame_emb", Init::Randn { mean: 0.0, stdev: 0.02 })?,
            blocks: (0..d.layers).map(|i| Block::new(d.dim, d.heads, vb.pp(format!("blocks.{i}")))).collect::<Result<_>>()?,
            norm: LayerNorm::new(d.dim, vb.pp("norm"))?,
            head: Dense::no_bias(d.dim, cfg.vocab(), vb.pp("head"))?,
            copy,
            codebook: cfg.codebook(),
            tokens_per_frame: cfg.tokens_per_frame(),
            max_seq: cfg.max_seq(),
            null: cfg.null_action_token(),
            copy_gate: d.copy_gate,
            action_at_slots: d.action_at_slots,
        })
    }

    /// Tokens per frame.
    pub fn tokens_per_frame(&self) -> usize {
        self.tokens_per_frame
    }

    /// The `null` action token: no action given.
    pub fn null_token(&self) -> u32 {
        self.null
    }

    /// The block-causal mask of a sequence whose frame blocks start after `prefix` positions.
    pub fn mask(&self, prefix: usize) -> Mask {
        Mask::Blocks { prefix, block: self.tokens_per_frame + 1 }
    }

    /// For each of `n` tokens at body positions `0..n`: the position of its block's action
    /// token, for frame slots whose block's action is among them.
    pub(crate) fn body_actions(&self, n: usize) -> Vec<Option<usize>> {
        let block = self.tokens_per_frame + 1;
        (0..n)
            .map(|pos| {
                let action = pos - pos % block + self.tokens_per_frame;
                (pos % block < self.tokens_per_frame && action < n).then_some(action)
            })
            .collect()
    }

    /// The action embeddings `[b, n, d]` added to the tokens `[b, n]`: position `j` gets the
    /// embedding of token `of[j]` of its row, or nothing (everywhere, without `action_at_slots`).
    pub(crate) fn action_context(&self, tokens: &Tensor, of: &[Option<usize>]) -> Result<Tensor> {
        let device = tokens.device();
        let none;
        let of = if self.action_at_slots {
            of
        } else {
            none = vec![None; of.len()];
            &none
        };
        let idx = Tensor::from_vec(of.iter().map(|a| a.unwrap_or(0) as u32).collect::<Vec<_>>(), of.len(), device)?;
        let on = Tensor::from_vec(of.iter().map(|a| if a.is_some() { 1f32 } else { 0.0 }).collect::<Vec<_>>(), (of.len(), 1), device)?;
        self.tok_emb.forward(&tokens.contiguous()?.index_select(&idx, 1)?)?.broadcast_mul(&on)
    }

    /// Embeddings `[b, n, d]` of tokens `[b, n]` at positions `0..n`: token, position, and for
    /// frame slots the action of their block.
    pub(crate) fn embed(&self, tokens: &Tensor) -> Result<Tensor> {
        let (_, n) = tokens.dims2()?;
        if n > self.max_seq {
            candle_core::bail!("sequence of {n} tokens exceeds the model's {}", self.max_seq);
        }
        let tokens = tokens.to_device(self.slot_emb.device())?;
        let x = self.tok_emb.forward(&tokens)?.broadcast_add(&self.position(n)?)?;
        x + self.action_context(&tokens, &self.body_actions(n))?
    }

    /// The final-norm features `[b, n, d]` of embedded tokens `x` under `mask`.
    pub(crate) fn hidden(&self, mut x: Tensor, mask: Mask) -> Result<Tensor> {
        for b in &self.blocks {
            x = b.forward(&x, mask)?;
        }
        self.norm.forward(&x)
    }

    /// The final-norm features `[b, n, d]` of interleaved tokens `[b, n]`.
    pub(crate) fn features(&self, tokens: &Tensor) -> Result<Tensor> {
        self.hidden(self.embed(tokens)?, self.mask(0))
    }

    /// Logits `[b, n, vocab]` of interleaved tokens `[b, n]`.
    pub fn logits(&self, tokens: &Tensor) -> Result<Tensor> {
        self.head.forward(&self.features(tokens)?)
    }

    /// Logits `[rows, classes]` of features `[rows, d]` over the first `classes` tokens of the
    /// vocabulary only: frame targets need the codebook's rows of the head, not the whole vocabulary.
    pub(crate) fn head_over(&self, features: &Tensor, classes: usize) -> Result<Tensor> {
        ops::linear(features, &self.head.weight().narrow(0, 0, classes)?, None)
    }

    /// Next-frame logits `[rows, codebook]` of frame-slot features `[rows, d]` whose slots now
    /// hold the codes `current` (u32 `[rows]`): the head over the codebook plus the copy gate's
    /// logit on each slot's current code.
    pub(crate) fn frame_logits(&self, features: &Tensor, current: &[u32]) -> Result<Tensor> {
        if !self.copy_gate {
            return self.head_over(features, self.codebook);
        }
        let rows = current.len();
        let mut onehot = vec![0f32; rows * self.codebook];
        for (r, &c) in current.iter().enumerate() {
            if c as usize >= self.codebook {
                candle_core::bail!("slot {r} holds token {c}, which is not a frame code");
            }
            onehot[r * self.codebook + c as usize] = 1.0;
        }
        let onehot = Tensor::from_vec(onehot, (rows, self.codebook), features.device())?;
        self.head_over(features, self.codebook)? + onehot.broadcast_mul(&self.copy.forward(features)?)?
    }

    /// Position embeddings `[n, d]` of positions `0..n`: the slot within the frame block plus
    /// the frame's index. Factorised so that the same patch in consecutive frames
    /// shares an embedding.
    pub(crate) fn position(&self, n: usize) -> Result<Tensor> {
        let block = self.tokens_per_frame + 1;
        let device = self.slot_emb.device();
        let slots = Tensor::from_vec((0..n).map(|i| (i % block) as u32).collect::<Vec<_>>(), n, device)?;
        let frames = Tensor::from_vec((0..n).map(|i| (i / block) as u32).collect::<Vec<_>>(), n, device)?;
        self.slot_emb.index_select(&slots, 0)? + self.frame_emb.index_select(&frames, 0)?
    }

    /// For a sequence of `blocks` whole blocks: the frame-slot positions whose outputs predict
    /// the next frame (slot `i` of block `f`, for every block), in order.
    pub(crate) fn frame_slots(&self, blocks: usize) -> Vec<u32> {
        let block = self.tokens_per_frame + 1;
        (0..blocks).flat_map(|f| (0..self.tokens_per_frame).map(move |i| (f * block + i) as u32)).collect()
    }

    /// Split interleaved windows `tokens` `[b, t·(p+1) − 1]` (as from [`interleave`]) for block
    /// teacher forcing: the first `t − 1` blocks go in, and every slot of frame `f` predicts the
    /// same slot of frame `f + 1`.
    pub(crate) fn teacher_forcing(&self, tokens: &Tensor) -> Result<TeacherForcing> {
        let (b, n) = tokens.dims2()?;
        let block = self.tokens_per_frame + 1;
        let frames = (n + 1) / block;
        if frames < 2 || frames * block != n + 1 {
            candle_core::bail!("a window of {n} tokens is not whole frames of {} tokens with actions between", self.tokens_per_frame);
        }
        let all: Vec<u32> = tokens.flatten_all()?.to_vec1()?;
        let slots = self.frame_slots(frames - 1);
        let (mut current, mut targets) = (Vec::with_capacity(b * slots.len()), Vec::with_capacity(b * slots.len()));
        for r in 0..b {
            for &s in &slots {
                current.push(all[r * n + s as usize]);
                targets.push(all[r * n + s as usize + block]);
            }
        }
        let device = self.slot_emb.device();
        Ok(TeacherForcing { input: tokens.narrow(1, 0, (frames - 1) * block)?.contiguous()?.to_device(device)?, slots, current, targets })
    }

    /// Next-frame logits `[b·slots, codebook]` of the final-norm `features` `[b, n, d]` of a
    /// teacher-forced input.
    pub(crate) fn teacher_forced_logits(&self, features: &Tensor, tf: &TeacherForcing) -> Result<Tensor> {
        let (b, m) = (features.dim(0)?, tf.slots.len());
        let idx = Tensor::from_vec(tf.slots.clone(), m, features.device())?;
        self.frame_logits(&features.index_select(&idx, 1)?.reshape((b * m, ()))?, &tf.current)
    }

    /// Mean next-frame cross-entropy of interleaved windows `tokens`, block teacher-forced (see
    /// [`Self::teacher_forcing`]), and the fraction of next-frame codes predicted exactly
    /// (argmax).
    pub fn loss(&self, tokens: &Tensor) -> Result<(Tensor, f64)> {
        let tf = self.teacher_forcing(tokens)?;
        let features = self.features(&tf.input)?;
        let logits = self.teacher_forced_logits(&features, &tf)?;
        let targets = Tensor::from_vec(tf.targets.clone(), tf.targets.len(), features.device())?;
        let loss = ops::cross_entropy(&logits, &targets)?;
        let hits: f64 = logits.argmax(D::Minus1)?.eq(&targets)?.to_dtype(DType::F64)?.sum_all()?.to_scalar()?;
        Ok((loss, hits / tf.targets.len() as f64))
    }

    /// The next frame's codes `[b, p]` after `blocks` `[b, f·(p+1)]` (whole blocks, each frame
    /// followed by the action taken from it), greedily, in one forward pass: the argmax of the
    /// last block's frame slots.
    pub fn next_frame(&self, blocks: &Tensor) -> Result<Tensor> {
        let (b, n) = blocks.dims2()?;
        let block = self.tokens_per_frame + 1;
        if n == 0 || n % block != 0 {
            candle_core::bail!("the context of {n} tokens is not whole blocks of a frame and its action ({block} tokens)");
        }
        let features = self.features(blocks)?;
        let last = features.narrow(1, n - block, self.tokens_per_frame)?.reshape((b * self.tokens_per_frame, ()))?;
        let current: Vec<u32> = blocks.narrow(1, n - block, self.tokens_per_frame)?.flatten_all()?.to_vec1()?;
        let pred = self.frame_logits(&last, &current)?.argmax(D::Minus1)?.to_dtype(DType::U32)?;
        pred.reshape((b, self.tokens_per_frame))?.to_device(&Device::Cpu)
    }
}
