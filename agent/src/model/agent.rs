//! The instruction-following agent (stages two and three): the pretrained dynamics transformer
//! reading `[instruction words][frame tokens][null][frame tokens][null]…`, trained to emit each
//! frame's action from that frame's action slot and, from an answer slot holding the `answer`
//! action, the answer word.
//!
//! The agent is given no past actions: every action slot holds the `null` token (the one
//! pretraining drops actions to), so it cannot copy its last action instead of looking. Under the
//! world model's block-causal mask an action slot sees its whole frame, and the frame slots still
//! predict the next frame (action-free) for the auxiliary frame loss.
//!
//! Its weights are the dynamics model's, under the same names, plus `text_pos` (positions of the
//! instruction words and of the answer word) and, with `finetune.pixel_stem`, the pixel stem's
//! `stem.*` (its features are added to the frame slots), so a pretraining checkpoint loads into it
//! as is and a fine-tuned checkpoint still loads as a world model.

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::dynamics::Dynamics;
use super::ops;
use super::stem::PixelStem;
use crate::config::Config;
use crate::text::PAD_ID;

/// One training or inference window: an instruction, up to `frames` frames (as codes) and what
/// was done after each.
#[derive(Clone, Debug, Default)]
pub struct AgentWindow {
    /// Instruction word ids (text vocabulary), at most `text_len`.
    pub text: Vec<u32>,
    /// Codes of each frame, `tokens_per_frame` each.
    pub codes: Vec<Vec<u32>>,
    /// The action index taken after each frame, or a negative number where none is known (the
    /// frame to act on).
    pub actions: Vec<i64>,
    /// The answer word id, when the last action is `answer` and its word is known.
    pub answer: Option<u32>,
    /// Each frame's RGB bytes, for an agent with a pixel stem (empty for one without).
    pub pixels: Vec<Vec<u8>>,
}

/// A pretraining window in the agent's layout: an instruction, `frames` frames with the action
/// taken after each (given, or dropped to `null`), and one frame more, which is only predicted.
#[derive(Clone, Debug, Default)]
pub struct PlayWindow {
    /// Instruction word ids (text vocabulary), at most `text_len`.
    pub text: Vec<u32>,
    /// Codes of `frames + 1` frames: the last one is a target only.
    pub codes: Vec<Vec<u32>>,
    /// The action taken after each frame but the last, or `None` where it is not given.
    pub actions: Vec<Option<usize>>,
    /// Each input frame's RGB bytes, for an agent with a pixel stem (empty for one without).
    pub pixels: Vec<Vec<u8>>,
}

/// Token ids, position ids and training targets of a batch of windows laid out as rows of one
/// length. Positions are flat: `row · len + position`.
#[derive(Clone, Debug)]
pub struct Sequences {
    /// Rows.
    pub rows: usize,
    /// Length of every row.
    pub len: usize,
    /// Token ids, `[rows, len]` row-major.
    pub tokens: Vec<u32>,
    /// Rows of the position table, `[rows, len]`.
    pub positions: Vec<u32>,
    /// Positions trained to emit an action or an answer word, with that token.
    pub act_targets: Vec<(u32, u32)>,
    /// Frame slots with a next frame: the position, the code the slot holds and the code of the
    /// same slot one frame later.
    pub frame_targets: Vec<(u32, u32, u32)>,
    /// Per row, the position whose output chooses the next decision (the last frame's action
    /// slot).
    pub decide_at: Vec<usize>,
    /// Per row, the answer slot (it holds the `answer` action and emits the word), if any.
    pub answer_at: Vec<Option<usize>>,
    /// For a pixel stem: the RGB bytes of every frame laid out, one after another.
    pub pixels: Vec<u8>,
    /// For a pixel stem: the flat position of each laid-out frame's first code slot.
    pub pixel_slots: Vec<u32>,
}

/// Dynamics transformer with instruction positions.
#[derive(Clone, Debug)]
pub struct Agent {
    pub(crate) dynamics: Dynamics,
    /// Positions of the instruction's word slots, then the answer word's.
    pub(crate) text_pos: Tensor,
    /// Continuous patch features from the pixels, added to the frame slots.
    stem: Option<PixelStem>,
    image_size: usize,
    text_len: usize,
    frames: usize,
    tokens_per_frame: usize,
    codebook: usize,
    action_tokens: usize,
    text_offset: usize,
}

impl Agent {
    /// The action index of `answer`: the last action token.
    pub fn answer_action(&self) -> usize {
        self.action_tokens - 1
    }

    /// Build on `vb`, whose dynamics variables (if present, from pretraining) are reused.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Self::with_stem(cfg, vb, cfg.finetune.pixel_stem)
    }

    /// The agent's layout without a pixel stem, whatever the config says: what pretraining in
    /// the agent's layout trains (the stem is the agent's own).
    pub fn without_stem(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Self::with_stem(cfg, vb, false)
    }

    fn with_stem(cfg: &Config, vb: VarBuilder, stem: bool) -> Result<Self> {
        let text_len = cfg.finetune.text_len;
        Ok(Self {
            dynamics: Dynamics::new(cfg, vb.clone())?,
            text_pos: vb.get_with_hints((text_len + 1, cfg.dynamics.dim), "text_pos", Init::Randn { mean: 0.0, stdev: 0.02 })?,
            stem: if stem { Some(PixelStem::new(cfg, vb.pp("stem"))?) } else { None },
            image_size: cfg.image_size,
            text_len,
            frames: cfg.finetune.frames,
            tokens_per_frame: cfg.tokens_per_frame(),
            codebook: cfg.codebook(),
            action_tokens: cfg.dynamics.action_tokens,
            text_offset: cfg.text_offset(),
        })
    }

    /// Replace the transformer blocks by detached views of the same weights in `map`: they keep
    /// their values (the storage is shared) and backward computes no gradient for them, so a
    /// frozen trunk costs only the forward pass.
    pub fn freeze_blocks(&mut self, cfg: &Config, map: &candle_nn::VarMap) -> Result<()> {
        self.dynamics.blocks = Dynamics::new(cfg, super::frozen(map, self.text_pos.device()))?.blocks;
        Ok(())
    }

    /// Frames of context the agent reads.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Whether the agent reads pixels (then every window carries each frame's bytes).
    pub fn reads_pixels(&self) -> bool {
        self.stem.is_some()
    }

    /// Length of every sequence: instruction, `frames` frame blocks with their actions, answer.
    pub fn seq_len(&self) -> usize {
        self.text_len + self.frames * (self.tokens_per_frame + 1) + 1
    }

    /// Lay out windows as sequences. Words past `text_len` and frames past `frames` are errors:
    /// callers cut windows to fit.
    pub fn sequences(&self, windows: &[AgentWindow]) -> Result<Sequences> {
        let n = self.seq_len();
        let (p, tl) = (self.tokens_per_frame, self.text_len);
        let text_tok = |id: u32| (self.text_offset as u32) + id;
        let null = self.dynamics.null_token();
        // Position table rows: 0..=tl are text slots and the answer slot; body position j is tl + 1 + j.
        let body = |j: usize| (tl + 1 + j) as u32;
        let mut s = self.empty_sequences(windows.len());
        for (r, w) in windows.iter().enumerate() {
            if w.text.len() > tl {
                candle_core::bail!("window {r}: {} instruction words, the model reads {tl}", w.text.len());
            }
            if w.codes.is_empty() || w.codes.len() > self.frames || w.actions.len() != w.codes.len() {
                candle_core::bail!("window {r}: {} frames and {} actions (1..={} frames, one action each)", w.codes.len(), w.actions.len(), self.frames);
            }
            let flat = |at: usize| (r * n + at) as u32;
            let (mut tok, mut pos) = self.instruction(&w.text, n);
            let (mut answer_at, mut last_frame) = (None, w.codes.len() - 1);
            for (f, (codes, &a)) in w.codes.iter().zip(&w.actions).enumerate() {
                if codes.len() != p {
                    candle_core::bail!("window {r} frame {f}: {} codes, expected {p}", codes.len());
                }
                self.push_pixels(&mut s, &w.pixels, r, f, flat(tok.len()))?;
                let next = w.codes.get(f + 1).filter(|_| a >= 0 && a as usize != self.answer_action());
                for (k, &c) in codes.iter().enumerate() {
                    if let Some(next) = next {
                        let later = *next.get(k).ok_or_else(|| candle_core::Error::Msg(format!("window {r} frame {}: too few codes", f + 1)))?;
                        s.frame_targets.push((flat(tok.len()), c, later));
                    }
                    tok.push(c);
                    pos.push(body(f * (p + 1) + k));
                }
                let slot = tok.len();
                tok.push(null);
                pos.push(body(f * (p + 1) + p));
                if a < 0 {
                    last_frame = f;
                    break;
                }
                if a as usize >= self.action_tokens {
                    candle_core::bail!("window {r}: action {a} is outside the {} action tokens", self.action_tokens);
                }
                s.act_targets.push((flat(slot), (self.codebook + a as usize) as u32));
                if a as usize == self.answer_action() {
                    last_frame = f;
                    answer_at = Some(tok.len());
                    tok.push((self.codebook + self.answer_action()) as u32);
                    pos.push(tl as u32);
                    if let Some(word) = w.answer {
                        s.act_targets.push((flat(tok.len() - 1), text_tok(word)));
                    }
                    break;
                }
            }
            s.decide_at.push(tl + last_frame * (p + 1) + p);
            s.answer_at.push(answer_at);
            self.finish_row(&mut s, tok, pos);
        }
        Ok(s)
    }

    /// Lay out pretraining windows: every frame but the last in its block, its action slot
    /// holding the action given (or `null`), and each frame's slots predicting the next frame's,
    /// the newest one's included. No action is a target.
    pub fn play_sequences(&self, windows: &[PlayWindow]) -> Result<Sequences> {
        let n = self.seq_len();
        let (p, tl) = (self.tokens_per_frame, self.text_len);
        let null = self.dynamics.null_token();
        let mut s = self.empty_sequences(windows.len());
        for (r, w) in windows.iter().enumerate() {
            if w.text.len() > tl {
                candle_core::bail!("window {r}: {} instruction words, the model reads {tl}", w.text.len());
            }
            let frames = w.actions.len();
            if frames == 0 || frames > self.frames || w.codes.len() != frames + 1 {
                candle_core::bail!("window {r}: {} frames and {} actions (1..={} actions and one frame more)", w.codes.len(), frames, self.frames);
            }
            let flat = |at: usize| (r * n + at) as u32;
            let (mut tok, mut pos) = self.instruction(&w.text, n);
            for (f, action) in w.actions.iter().enumerate() {
                let (codes, next) = (&w.codes[f], &w.codes[f + 1]);
                if codes.len() != p || next.len() != p {
                    candle_core::bail!("window {r} frame {f}: {} and {} codes, expected {p}", codes.len(), next.len());
                }
                self.push_pixels(&mut s, &w.pixels, r, f, flat(tok.len()))?;
                for (k, (&c, &later)) in codes.iter().zip(next).enumerate() {
                    s.frame_targets.push((flat(tok.len()), c, later));
                    tok.push(c);
                    pos.push((tl + 1 + f * (p + 1) + k) as u32);
                }
                tok.push(match *action {
                    Some(a) if a < self.action_tokens => (self.codebook + a) as u32,
                    Some(a) => candle_core::bail!("window {r}: action {a} is outside the {} action tokens", self.action_tokens),
                    None => null,
                });
                pos.push((tl + 1 + f * (p + 1) + p) as u32);
            }
            s.decide_at.push(tl + frames * (p + 1) - 1);
            s.answer_at.push(None);
            self.finish_row(&mut s, tok, pos);
        }
        Ok(s)
    }

    fn empty_sequences(&self, rows: usize) -> Sequences {
        let n = self.seq_len();
        Sequences {
            rows,
            len: n,
            tokens: Vec::with_capacity(rows * n),
            positions: Vec::with_capacity(rows * n),
            act_targets: Vec::new(),
            frame_targets: Vec::new(),
            decide_at: Vec::new(),
            answer_at: Vec::new(),
            pixels: Vec::new(),
            pixel_slots: Vec::new(),
        }
    }

    /// A row's instruction slots (left-padded words at positions `0..text_len`), with room for
    /// a row of `n`.
    fn instruction(&self, text: &[u32], n: usize) -> (Vec<u32>, Vec<u32>) {
        let tl = self.text_len;
        let (mut tok, mut pos) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..tl {
            let word = if i + text.len() >= tl { text[i + text.len() - tl] } else { PAD_ID };
            tok.push((self.text_offset as u32) + word);
            pos.push(i as u32);
        }
        (tok, pos)
    }

    /// With a pixel stem, frame `f`'s bytes of window `r`, laid out for the slot at `slot`.
    fn push_pixels(&self, s: &mut Sequences, pixels: &[Vec<u8>], r: usize, f: usize, slot: u32) -> Result<()> {
        if self.stem.is_none() {
            return Ok(());
        }
        let frame_bytes = self.image_size * self.image_size * 3;
        let bytes = pixels.get(f).filter(|b| b.len() == frame_bytes);
        let bytes = bytes.ok_or_else(|| candle_core::Error::Msg(format!("window {r} frame {f}: the agent reads pixels and this frame has none of {frame_bytes} bytes")))?;
        s.pixels.extend_from_slice(bytes);
        s.pixel_slots.push(slot);
        Ok(())
    }

    /// Pad a row to the sequence length and append it.
    fn finish_row(&self, s: &mut Sequences, mut tok: Vec<u32>, mut pos: Vec<u32>) {
        while tok.len() < s.len {
            tok.push((self.text_offset as u32) + PAD_ID);
            pos.push(0);
        }
        s.tokens.extend(tok);
        s.positions.extend(pos);
    }

    /// Final-norm features `[b, n, d]` of laid-out sequences (the trunk without the head).
    pub fn features(&self, s: &Sequences) -> Result<Tensor> {
        let device = self.text_pos.device();
        let d = &self.dynamics;
        let tokens = Tensor::from_vec(s.tokens.clone(), (s.rows, s.len), device)?;
        let pos_ids = Tensor::from_vec(s.positions.clone(), s.rows * s.len, device)?;
        let body = self.frames * (self.tokens_per_frame + 1);
        let table = Tensor::cat(&[&self.text_pos, &d.position(body)?], 0)?;
        let pos = table.index_select(&pos_ids, 0)?.reshape((s.rows, s.len, ()))?;
        // Frame slots get their block's action slot added, as in pretraining (here always `null`);
        // an answer slot is not a frame slot, wherever in the row it falls.
        let mut of = vec![None; self.text_len];
        of.extend(d.body_actions(s.len - self.text_len).into_iter().map(|a| a.map(|i| i + self.text_len)));
        let mut keep = vec![1f32; s.rows * s.len];
        for (r, at) in s.answer_at.iter().enumerate() {
            if let Some(at) = at {
                keep[r * s.len + at] = 0.0;
            }
        }
        let keep = Tensor::from_vec(keep, (s.rows, s.len, 1), device)?;
        let mut x = ((d.tok_emb.forward(&tokens)? + pos)? + d.action_context(&tokens, &of)?.broadcast_mul(&keep)?)?;
        if let Some(stem) = &self.stem {
            x = (x + self.pixel_features(stem, s)?)?;
        }
        d.hidden(x, d.mask(self.text_len))
    }

    /// The stem's features of every frame, placed at the frame's code slots: `[b, n, d]`, zero
    /// elsewhere. One row of zeros after the frames' rows is what other positions select.
    fn pixel_features(&self, stem: &PixelStem, s: &Sequences) -> Result<Tensor> {
        let device = self.text_pos.device();
        let (n, p) = (s.pixel_slots.len(), self.tokens_per_frame);
        let frames = Tensor::from_slice(&s.pixels, (n, self.image_size, self.image_size, 3), device)?;
        let feats = stem.forward(&frames)?;
        let dim = feats.dim(2)?;
        let table = Tensor::cat(&[&feats.reshape((n * p, dim))?, &Tensor::zeros((1, dim), feats.dtype(), device)?], 0)?;
        let mut pick = vec![(n * p) as u32; s.rows * s.len];
        for (f, &slot) in s.pixel_slots.iter().enumerate() {
            for k in 0..p {
                pick[slot as usize + k] = (f * p + k) as u32;
            }
        }
        let pick = Tensor::from_vec(pick, s.rows * s.len, device)?;
        table.index_select(&pick, 0)?.reshape((s.rows, s.len, dim))
    }

    /// Logits `[k, vocab]` at the flat positions `at` (`row · len + position`) of laid-out
    /// sequences: the head runs only on the rows that are read.
    fn logits_at(&self, s: &Sequences, at: &[u32]) -> Result<Tensor> {
        let features = self.features(s)?;
        let d = features.dim(2)?;
        let idx = Tensor::from_vec(at.to_vec(), at.len(), features.device())?;
        let picked = features.reshape((s.rows * s.len, d))?.index_select(&idx, 0)?;
        self.dynamics.head.forward(&picked)
    }

    /// Cross-entropy on actions and answer words, plus `frame_weight` times the next-frame
    /// cross-entropy of the frame slots (through the copy path, as in pretraining); and the
    /// fraction of action and answer tokens predicted exactly. Only positions with a target go
    /// through the head.
    pub fn loss(&self, s: &Sequences, frame_weight: f64) -> Result<(Tensor, f64)> {
        if s.act_targets.is_empty() {
            candle_core::bail!("no action or answer targets in the batch");
        }
        let features = self.flat_features(s)?;
        let k = s.act_targets.len();
        let logits = self.dynamics.head.forward(&pick(&features, s.act_targets.iter().map(|t| t.0))?)?;
        let targets: Vec<u32> = s.act_targets.iter().map(|t| t.1).collect();
        let mut loss = ops::cross_entropy(&logits, &Tensor::from_vec(targets.clone(), k, features.device())?)?;
        if frame_weight > 0.0 && !s.frame_targets.is_empty() {
            let (logits, next) = self.frame_term(&features, s)?;
            loss = (loss + (ops::cross_entropy(&logits, &next)? * frame_weight)?)?;
        }
        let pred: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
        let hits = pred.iter().zip(&targets).filter(|(p, t)| p == t).count();
        Ok((loss, hits as f64 / k as f64))
    }

    /// The next-frame cross-entropy of laid-out sequences' frame slots alone (pretraining in
    /// the agent's layout, and replayed play windows), and the fraction of codes predicted
    /// exactly.
    pub fn frame_loss(&self, s: &Sequences) -> Result<(Tensor, f64)> {
        if s.frame_targets.is_empty() {
            candle_core::bail!("no next-frame targets in the batch");
        }
        let (logits, next) = self.frame_term(&self.flat_features(s)?, s)?;
        let hits: f64 = logits.argmax(D::Minus1)?.eq(&next)?.to_dtype(DType::F64)?.sum_all()?.to_scalar()?;
        Ok((ops::cross_entropy(&logits, &next)?, hits / next.elem_count() as f64))
    }

    /// Features `[rows · len, d]`.
    fn flat_features(&self, s: &Sequences) -> Result<Tensor> {
        let features = self.features(s)?;
        let dim = features.dim(2)?;
        features.reshape((s.rows * s.len, dim))
    }

    /// The next-frame logits of the frame targets' slots, given flat features, and the codes
    /// they should predict.
    fn frame_term(&self, features: &Tensor, s: &Sequences) -> Result<(Tensor, Tensor)> {
        let m = s.frame_targets.len();
        let current: Vec<u32> = s.frame_targets.iter().map(|t| t.1).collect();
        let logits = self.dynamics.frame_logits(&pick(features, s.frame_targets.iter().map(|t| t.0))?, &current)?;
        let next = Tensor::from_vec(s.frame_targets.iter().map(|t| t.2).collect::<Vec<u32>>(), m, features.device())?;
        Ok((logits, next))
    }

    /// The decision for each window (whose last action is unknown): an action index, and for
    /// `answer` the answer word id among `answer_words`. `choose(row, logits)` picks an index
    /// from a row's logits over the candidates ([`argmax`] for greedy decoding).
    pub fn decide(&self, windows: &[AgentWindow], answer_words: &[u32], choose: &mut dyn FnMut(usize, &[f32]) -> usize) -> Result<Vec<(usize, Option<u32>)>> {
        let s = self.sequences(windows)?;
        let at: Vec<u32> = s.decide_at.iter().enumerate().map(|(r, &p)| (r * s.len + p) as u32).collect();
        let logits = self.logits_at(&s, &at)?.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
        let mut out = Vec::with_capacity(windows.len());
        let mut asking = Vec::new();
        for r in 0..s.rows {
            let row: Vec<f32> = logits.get(r)?.narrow(0, self.codebook, self.action_tokens)?.to_vec1()?;
            let a = choose(r, &row).min(self.action_tokens - 1);
            if a == self.answer_action() {
                asking.push(r);
            }
            out.push((a, None));
        }
        if asking.is_empty() || answer_words.is_empty() {
            return Ok(out);
        }
        // Ask again with the answer action in place; its next token is the word.
        let again: Vec<AgentWindow> = asking
            .iter()
            .map(|&r| {
                let mut w = windows[r].clone();
                let last = w.actions.iter().position(|&a| a < 0).unwrap_or(w.actions.len() - 1);
                w.actions[last] = self.answer_action() as i64;
                w.codes.truncate(last + 1);
                w.actions.truncate(last + 1);
                w.pixels.truncate(last + 1);
                w.answer = None;
                w
            })
            .collect();
        let s = self.sequences(&again)?;
        let asked: Vec<(usize, usize)> = asking.iter().enumerate().filter_map(|(k, &r)| Some((r, k * s.len + s.answer_at[k]?))).collect();
        if asked.is_empty() {
            return Ok(out);
        }
        let at: Vec<u32> = asked.iter().map(|&(_, p)| p as u32).collect();
        let logits = self.logits_at(&s, &at)?.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
        for (k, &(r, _)) in asked.iter().enumerate() {
            let row: Vec<f32> = logits.get(k)?.to_vec1()?;
            let scores: Vec<f32> = answer_words.iter().map(|&w| row[self.text_offset + w as usize]).collect();
            out[r].1 = Some(answer_words[choose(r, &scores).min(answer_words.len() - 1)]);
        }
        Ok(out)
    }
}

/// Rows `at` of flat features.
fn pick(features: &Tensor, at: impl Iterator<Item = u32>) -> Result<Tensor> {
    let at: Vec<u32> = at.collect();
    let k = at.len();
    features.index_select(&Tensor::from_vec(at, k, features.device())?, 0)
}

/// Index of the largest value (the first among equals).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
