//! The instruction-following agent (stages two and three): the pretrained dynamics transformer
//! reading `[instruction words][frame tokens][action][frame tokens][action]…`, trained to emit
//! the next action token and, after the `answer` action, the answer word.
//!
//! Its weights are the dynamics model's, under the same names, plus `text_pos` (positions of the
//! instruction words and of the answer word), so a pretraining checkpoint loads into it as is and a
//! fine-tuned checkpoint still loads as a world model.

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::dynamics::Dynamics;
use super::ops;
use crate::config::{ACTION_TOKENS, Config};
use crate::text::PAD_ID;

/// The dataset token of the `answer` action.
pub const ANSWER_ACTION: usize = ACTION_TOKENS - 1;

/// One training or inference window: an instruction, up to `frames` frames (as codes) and what
/// was done after each.
#[derive(Clone, Debug, Default)]
pub struct Episode {
    /// Instruction word ids (text vocabulary), at most `text_len`.
    pub text: Vec<u32>,
    /// Codes of each frame, `tokens_per_frame` each.
    pub codes: Vec<Vec<u32>>,
    /// The action index taken after each frame, or a negative number where none is known (the
    /// frame to act on).
    pub actions: Vec<i64>,
    /// The answer word id, when the last action is `answer` and its word is known.
    pub answer: Option<u32>,
}

/// Token ids, position ids and per-position loss weights of a batch of windows, all `[b, n]`
/// row-major (weights `[b, n - 1]`: the weight of predicting token `i + 1` from position `i`).
#[derive(Clone, Debug)]
pub struct Sequences {
    /// Rows.
    pub rows: usize,
    /// Length of every row.
    pub len: usize,
    /// Token ids.
    pub tokens: Vec<u32>,
    /// Rows of the position table.
    pub positions: Vec<u32>,
    /// 1 where the next token is an action or answer word.
    pub act_weight: Vec<f32>,
    /// 1 where the next token is a frame token of a frame after the first.
    pub frame_weight: Vec<f32>,
    /// Per row, the position whose logits choose the next decision (the last frame's last token).
    pub decide_at: Vec<usize>,
    /// Per row, the position of the answer action, if the row has one.
    pub answer_at: Vec<Option<usize>>,
}

/// Dynamics transformer with instruction positions.
#[derive(Clone, Debug)]
pub struct Agent {
    pub(crate) dynamics: Dynamics,
    /// Positions of the instruction's word slots, then the answer word's.
    pub(crate) text_pos: Tensor,
    text_len: usize,
    frames: usize,
    tokens_per_frame: usize,
    codebook: usize,
    text_offset: usize,
}

impl Agent {
    /// Build on `vb`, whose dynamics variables (if present, from pretraining) are reused.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let text_len = cfg.finetune.text_len;
        Ok(Self {
            dynamics: Dynamics::new(cfg, vb.clone())?,
            text_pos: vb.get_with_hints((text_len + 1, cfg.dynamics.dim), "text_pos", Init::Randn { mean: 0.0, stdev: 0.02 })?,
            text_len,
            frames: cfg.finetune.frames,
            tokens_per_frame: cfg.tokens_per_frame(),
            codebook: cfg.codebook(),
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

    /// Length of every sequence: instruction, `frames` frame blocks with their actions, answer.
    pub fn seq_len(&self) -> usize {
        self.text_len + self.frames * (self.tokens_per_frame + 1) + 1
    }

    /// Lay out windows as sequences. Words past `text_len` and frames past `frames` are errors:
    /// callers cut windows to fit.
    pub fn sequences(&self, windows: &[Episode]) -> Result<Sequences> {
        let n = self.seq_len();
        let (p, tl) = (self.tokens_per_frame, self.text_len);
        let text_tok = |id: u32| (self.text_offset as u32) + id;
        // Position table rows: 0..=tl are text slots and the answer slot; body position j is tl + 1 + j.
        let body = |j: usize| (tl + 1 + j) as u32;
        let mut s = Sequences {
            rows: windows.len(),
            len: n,
            tokens: Vec::with_capacity(windows.len() * n),
            positions: Vec::with_capacity(windows.len() * n),
            act_weight: Vec::with_capacity(windows.len() * (n - 1)),
            frame_weight: Vec::with_capacity(windows.len() * (n - 1)),
            decide_at: Vec::new(),
            answer_at: Vec::new(),
        };
        for (r, w) in windows.iter().enumerate() {
            if w.text.len() > tl {
                candle_core::bail!("window {r}: {} instruction words, the model reads {tl}", w.text.len());
            }
            if w.codes.is_empty() || w.codes.len() > self.frames || w.actions.len() != w.codes.len() {
                candle_core::bail!("window {r}: {} frames and {} actions (1..={} frames, one action each)", w.codes.len(), w.actions.len(), self.frames);
            }
            let (mut tok, mut pos) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut act, mut fr) = (vec![0f32; n], vec![0f32; n]);
            for i in 0..tl {
                let word = if i + w.text.len() >= tl { w.text[i + w.text.len() - tl] } else { PAD_ID };
                tok.push(text_tok(word));
                pos.push(i as u32);
            }
            let mut answer_at = None;
            for (f, (codes, &a)) in w.codes.iter().zip(&w.actions).enumerate() {
                if codes.len() != p {
                    candle_core::bail!("window {r} frame {f}: {} codes, expected {p}", codes.len());
                }
                for (k, &c) in codes.iter().enumerate() {
                    if f > 0 {
                        fr[tok.len()] = 1.0;
                    }
                    tok.push(c);
                    pos.push(body(f * (p + 1) + k));
                }
                if a >= 0 {
                    if a as usize >= ACTION_TOKENS {
                        candle_core::bail!("window {r}: action {a} is outside the {ACTION_TOKENS} action tokens");
                    }
                    act[tok.len()] = 1.0;
                    if a as usize == ANSWER_ACTION {
                        answer_at = Some(tok.len());
                    }
                    tok.push((self.codebook + a as usize) as u32);
                    pos.push(body(f * (p + 1) + p));
                    if a as usize == ANSWER_ACTION {
                        if let Some(word) = w.answer {
                            act[tok.len()] = 1.0;
                            tok.push(text_tok(word));
                            pos.push(tl as u32);
                        }
                        break;
                    }
                } else {
                    break;
                }
            }
            let last_frame = w.actions.iter().position(|&a| a < 0 || a as usize == ANSWER_ACTION).unwrap_or(w.codes.len() - 1);
            s.decide_at.push(tl + last_frame * (p + 1) + p - 1);
            s.answer_at.push(answer_at);
            while tok.len() < n {
                tok.push(text_tok(PAD_ID));
                pos.push(0);
            }
            // Weight i is for predicting token i + 1, so shift the marks by one.
            s.act_weight.extend_from_slice(&act[1..]);
            s.frame_weight.extend_from_slice(&fr[1..]);
            s.tokens.extend(tok);
            s.positions.extend(pos);
        }
        Ok(s)
    }

    /// Final-norm features `[b, n, d]` of laid-out sequences (the trunk without the head).
    pub fn features(&self, s: &Sequences) -> Result<Tensor> {
        let device = self.text_pos.device();
        let d = &self.dynamics;
        let tokens = Tensor::from_vec(s.tokens.clone(), (s.rows, s.len), device)?;
        let pos_ids = Tensor::from_vec(s.positions.clone(), s.rows * s.len, device)?;
        let body = self.frames * (self.tokens_per_frame + 1);
        let table = Tensor::cat(&[&self.text_pos, &d.position(0, body)?], 0)?;
        let pos = table.index_select(&pos_ids, 0)?.reshape((s.rows, s.len, ()))?;
        let x = (d.tok_emb.forward(&tokens)? + pos)?;
        d.hidden(x, 0, None)
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

    /// Weighted next-token cross-entropy on actions and answer words, plus `frame_weight` times
    /// that on frame tokens; and the fraction of action and answer tokens predicted exactly.
    /// Only positions with a target go through the head.
    pub fn loss(&self, s: &Sequences, frame_weight: f64) -> Result<(Tensor, f64)> {
        let device = self.text_pos.device().clone();
        let w = s.len - 1;
        let use_frames = frame_weight > 0.0;
        // Flat positions (in the full `[b, n]` layout) whose next token is a target.
        let (mut at, mut targets, mut act_w, mut frame_w) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..s.rows * w {
            let (a, f) = (s.act_weight[i], if use_frames { s.frame_weight[i] } else { 0.0 });
            if a > 0.0 || f > 0.0 {
                let (r, j) = (i / w, i % w);
                at.push((r * s.len + j) as u32);
                targets.push(s.tokens[r * s.len + j + 1]);
                act_w.push(a);
                frame_w.push(f);
            }
        }
        let act_total: f32 = act_w.iter().sum();
        if act_total == 0.0 {
            candle_core::bail!("no action or answer targets in the batch");
        }
        let k = at.len();
        let logits = self.logits_at(s, &at)?; // [k, vocab]
        let nll = ops::nll(&logits, &Tensor::from_vec(targets.clone(), k, &device)?)?; // [k]
        let weighted = |w: &[f32], total: f32| -> Result<Tensor> { nll.mul(&Tensor::from_vec(w.to_vec(), k, &device)?)?.sum_all()? / f64::from(total) };
        let mut loss = weighted(&act_w, act_total)?;
        let frame_total: f32 = frame_w.iter().sum();
        if frame_total > 0.0 {
            loss = (loss + (weighted(&frame_w, frame_total)? * frame_weight)?)?;
        }
        let pred: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
        let (mut hits, mut count) = (0usize, 0usize);
        for ((&p, &t), &a) in pred.iter().zip(&targets).zip(&act_w) {
            if a > 0.0 {
                count += 1;
                hits += usize::from(p == t);
            }
        }
        Ok((loss, hits as f64 / count.max(1) as f64))
    }

    /// The decision for each window (whose last action is unknown): an action index, and for
    /// `answer` the answer word id among `answer_words`. `choose(row, logits)` picks an index
    /// from a row's logits over the candidates ([`argmax`] for greedy decoding).
    pub fn decide(&self, windows: &[Episode], answer_words: &[u32], choose: &mut dyn FnMut(usize, &[f32]) -> usize) -> Result<Vec<(usize, Option<u32>)>> {
        let s = self.sequences(windows)?;
        let at: Vec<u32> = s.decide_at.iter().enumerate().map(|(r, &p)| (r * s.len + p) as u32).collect();
        let logits = self.logits_at(&s, &at)?.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
        let mut out = Vec::with_capacity(windows.len());
        let mut asking = Vec::new();
        for r in 0..s.rows {
            let row: Vec<f32> = logits.get(r)?.narrow(0, self.codebook, ACTION_TOKENS)?.to_vec1()?;
            let a = choose(r, &row).min(ACTION_TOKENS - 1);
            if a == ANSWER_ACTION {
                asking.push(r);
            }
            out.push((a, None));
        }
        if asking.is_empty() || answer_words.is_empty() {
            return Ok(out);
        }
        // Ask again with the answer action in place; its next token is the word.
        let again: Vec<Episode> = asking
            .iter()
            .map(|&r| {
                let mut w = windows[r].clone();
                let last = w.actions.iter().position(|&a| a < 0).unwrap_or(w.actions.len() - 1);
                w.actions[last] = ANSWER_ACTION as i64;
                w.codes.truncate(last + 1);
                w.actions.truncate(last + 1);
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
