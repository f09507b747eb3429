//! World-model evaluation on held-out episodes: tokenizer reconstruction, 1-step and k-step
//! open-loop prediction against copying the last real frame, the same rollouts with the
//! horizon's actions taken from another window (does the model use the actions?), two token-space
//! oracles (decoding the true next tokens: the tokenizer's ceiling; decoding the last real
//! frame's tokens: copy-last in token space), 1-step PSNR per kind of action, and token accuracy.

use candle_core::{DType, Device, IndexOp, Tensor};
use serde::{Deserialize, Serialize};

use crate::AgentError;
use crate::config::Config;
use crate::dataset::{Dataset, WindowSampler};
use crate::metrics::{mean, mse, psnr_of_mse, ssim};
use crate::model::{Dynamics, Tokenizer, interleave};

/// PSNRs (dB) of one set of predicted frames against the truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Psnrs {
    /// The model fed the true actions.
    pub model_psnr: f64,
    /// The model fed another window's actions over the horizon (the context keeps its own).
    pub shuffled_actions_psnr: f64,
    /// The last real frame, repeated.
    pub copy_last_psnr: f64,
    /// Oracle: the true frame's tokens, decoded (the tokenizer's ceiling).
    pub true_tokens_psnr: f64,
    /// Oracle: the last real frame's tokens, decoded (copy-last in token space).
    pub copy_tokens_psnr: f64,
}

/// One horizon of the open-loop rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HorizonRow {
    /// Steps ahead of the last real frame.
    pub k: usize,
    /// The PSNRs at this horizon.
    #[serde(flatten)]
    pub psnr: Psnrs,
}

/// 1-step PSNR of the windows whose first predicted frame follows one kind of action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindRow {
    /// `move` (forward, back, strafes), `turn` or `other`.
    pub kind: String,
    /// Windows of this kind.
    pub windows: usize,
    /// The PSNRs at k = 1.
    #[serde(flatten)]
    pub psnr: Psnrs,
}

/// What `eval-wm` reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WmReport {
    /// Windows evaluated.
    pub windows: usize,
    /// Real frames before the rollout.
    pub context_frames: usize,
    /// Rollout length.
    pub horizon: usize,
    /// Seed of the window choice.
    pub seed: u64,
    /// Tokenizer encode→decode PSNR over every frame of the windows, dB. Every PSNR here is that
    /// of the mean squared error over all evaluated frames.
    pub recon_psnr: f64,
    /// Tokenizer SSIM.
    pub recon_ssim: f64,
    /// 1-step prediction PSNR.
    pub one_step_psnr: f64,
    /// 1-step prediction SSIM.
    pub one_step_ssim: f64,
    /// Copy-last PSNR at 1 step.
    pub copy_last_psnr: f64,
    /// Copy-last SSIM at 1 step.
    pub copy_last_ssim: f64,
    /// Per horizon k = 1…horizon.
    pub rollout: Vec<HorizonRow>,
    /// At k = 1, per kind of action.
    pub by_action: Vec<KindRow>,
    /// Teacher-forced accuracy of next-frame codes.
    pub token_accuracy: f64,
}

/// `eval-wm/eval.json`: which world model was evaluated on which data, and its report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WmEvalResult {
    /// The checkpoint evaluated.
    pub checkpoint: std::path::PathBuf,
    /// Its training step.
    pub step: u64,
    /// Its config's name.
    pub config: String,
    /// The held-out datasets.
    pub data: Vec<std::path::PathBuf>,
    /// What was measured.
    pub report: WmReport,
}

/// The kind of an action by its name: `move`, `turn` or `other`.
pub fn action_kind(name: &str) -> &'static str {
    match name {
        "forward" | "back" | "strafe_left" | "strafe_right" => "move",
        "turn_left" | "turn_right" => "turn",
        _ => "other",
    }
}

/// Imagine `k` frames after `context` codes `[b, c, p]`, feeding `actions[i][j]` (the action
/// taken from frame `j` of window `i`), greedily, one forward pass per frame, with a sliding
/// context of at most `frames − 1` frames. Returns codes `[b, k, p]`.
pub fn imagine(cfg: &Config, dynamics: &Dynamics, context: &Tensor, actions: &[Vec<i64>], k: usize) -> Result<Tensor, AgentError> {
    let (b, c, p) = context.dims3()?;
    let mut frames: Vec<Vec<Vec<u32>>> = (0..b).map(|i| context.i(i)?.to_vec2::<u32>()).collect::<Result<_, _>>()?;
    let keep = cfg.dynamics.frames - 1;
    for step in 0..k {
        let cur = c + step;
        let first = cur.saturating_sub(keep);
        let mut blocks = Vec::with_capacity(b * (cur - first) * (p + 1));
        for (i, window) in frames.iter().enumerate() {
            for (j, codes) in window.iter().enumerate().take(cur).skip(first) {
                let a = *actions[i].get(j).ok_or_else(|| AgentError::Config(format!("window {i} has no action for frame {j}")))?;
                if a < 0 {
                    return Err(AgentError::Config(format!("window {i} ends at frame {j}; nothing to roll out")));
                }
                blocks.extend_from_slice(codes);
                blocks.push(cfg.action_token(a as usize));
            }
        }
        let len = blocks.len() / b;
        let next = dynamics.next_frame(&Tensor::from_vec(blocks, (b, len), &Device::Cpu)?)?.to_vec2::<u32>()?;
        for (window, codes) in frames.iter_mut().zip(next) {
            window.push(codes);
        }
    }
    let out: Vec<u32> = frames.iter().flat_map(|w| w[c..].iter().flatten().copied()).collect();
    Ok(Tensor::from_vec(out, (b, k, p), &Device::Cpu)?)
}

/// Which windows `evaluate` draws.
#[derive(Clone, Copy, Debug)]
pub struct EvalOptions {
    /// About this many windows (whole batches of up to 16, at least 2).
    pub windows: usize,
    /// Rollout length.
    pub horizon: usize,
    /// Seed of the window choice.
    pub seed: u64,
}

/// Squared errors per frame of one comparison, gathered over batches.
#[derive(Clone, Default)]
struct Errors {
    model: Vec<f64>,
    shuffled: Vec<f64>,
    copy: Vec<f64>,
    true_tokens: Vec<f64>,
    copy_tokens: Vec<f64>,
}

impl Errors {
    /// Add the frames of `e` that `keep` selects.
    fn extend(&mut self, e: &Errors, keep: impl Fn(usize) -> bool) {
        for (dst, src) in [(&mut self.model, &e.model), (&mut self.shuffled, &e.shuffled), (&mut self.copy, &e.copy), (&mut self.true_tokens, &e.true_tokens), (&mut self.copy_tokens, &e.copy_tokens)] {
            dst.extend(src.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, v)| v));
        }
    }

    /// The PSNR of each comparison's mean squared error.
    fn psnrs(&self) -> Psnrs {
        let db = |v: &[f64]| psnr_of_mse(mean(v));
        Psnrs {
            model_psnr: db(&self.model),
            shuffled_actions_psnr: db(&self.shuffled),
            copy_last_psnr: db(&self.copy),
            true_tokens_psnr: db(&self.true_tokens),
            copy_tokens_psnr: db(&self.copy_tokens),
        }
    }
}

/// Evaluate on windows drawn from every episode of `data` long enough for `frames − 1` context
/// frames and `horizon` more.
pub fn evaluate(cfg: &Config, tokenizer: &Tokenizer, dynamics: &Dynamics, data: &[&Dataset], opts: EvalOptions, device: &Device) -> Result<WmReport, AgentError> {
    let EvalOptions { windows, horizon, seed } = opts;
    if horizon == 0 {
        return Err(AgentError::Config("the rollout horizon must be at least 1".into()));
    }
    let context = cfg.dynamics.frames - 1;
    let len = context + horizon;
    let names = data.first().map(|d| d.info().action_vocabulary.clone()).unwrap_or_default();
    let all: Vec<Vec<usize>> = data.iter().map(|d| (0..d.num_episodes()).collect()).collect();
    let sources: Vec<(&Dataset, &[usize])> = data.iter().zip(&all).map(|(d, e)| (*d, e.as_slice())).collect();
    // At least two windows a batch: the shuffled row gives each window another's actions.
    let batch = 16.min(windows.max(2));
    let mut sampler = WindowSampler::new(&sources, len, batch, seed)?;
    let batches = windows.div_ceil(batch);
    let (mut recon_p, mut recon_s, mut one_s, mut copy_s, mut acc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut per_k: Vec<Errors> = vec![Errors::default(); horizon];
    let kinds = ["move", "turn", "other"];
    let mut per_kind: Vec<Errors> = vec![Errors::default(); kinds.len()];
    let (h, w) = data[0].frame_size();
    for _ in 0..batches {
        let wb = sampler.next_batch(data, device)?;
        let b = wb.episodes.len();
        let frames = wb.frames.reshape((b * len, h, w, 3))?;
        let truth = (frames.to_dtype(DType::F32)? / 255.0)?;
        let codes = tokenizer.encode(&frames)?;
        let p = codes.dims()[1];
        let recon = tokenizer.decode(&codes)?;
        recon_p.extend(mse(&recon, &truth)?);
        recon_s.extend(ssim(&recon, &truth)?);
        let codes = codes.reshape((b, len, p))?.to_device(&Device::Cpu)?;
        let actions_t = wb.actions.to_device(&Device::Cpu)?;
        let tokens = interleave(cfg, &codes.narrow(1, 0, cfg.dynamics.frames)?.contiguous()?, &actions_t.narrow(1, 0, cfg.dynamics.frames)?.contiguous()?)?;
        acc.push(dynamics.loss(&tokens)?.1);

        let actions: Vec<Vec<i64>> = actions_t.to_vec2()?;
        // Another window's actions over the horizon; the context keeps its own.
        let shuffled: Vec<Vec<i64>> = (0..b)
            .map(|i| actions[i][..context - 1].iter().chain(&actions[(i + 1) % b][context - 1..]).copied().collect())
            .collect();
        let ctx = codes.narrow(1, 0, context)?.contiguous()?;
        let pred = imagine(cfg, dynamics, &ctx, &actions, horizon)?;
        let pred_shuffled = imagine(cfg, dynamics, &ctx, &shuffled, horizon)?;
        let truth = truth.reshape((b, len, h, w, 3))?;
        let recon = recon.reshape((b, len, h, w, 3))?;
        let last_real = truth.i((.., context - 1))?;
        let last_tokens = recon.i((.., context - 1))?;
        for k in 1..=horizon {
            let target = truth.i((.., context - 1 + k))?;
            let model = tokenizer.decode(&pred.i((.., k - 1))?.contiguous()?.to_device(device)?)?;
            let other = tokenizer.decode(&pred_shuffled.i((.., k - 1))?.contiguous()?.to_device(device)?)?;
            let e = Errors {
                model: mse(&model, &target)?,
                shuffled: mse(&other, &target)?,
                copy: mse(&last_real, &target)?,
                true_tokens: mse(&recon.i((.., context - 1 + k))?, &target)?,
                copy_tokens: mse(&last_tokens, &target)?,
            };
            if k == 1 {
                one_s.extend(ssim(&model, &target)?);
                copy_s.extend(ssim(&last_real, &target)?);
                let kind_of: Vec<&str> = actions.iter().map(|row| usize::try_from(row[context - 1]).ok().and_then(|a| names.get(a)).map_or("other", |n| action_kind(n))).collect();
                for (kind, dst) in kinds.iter().zip(per_kind.iter_mut()) {
                    dst.extend(&e, |i| kind_of[i] == *kind);
                }
            }
            per_k[k - 1].extend(&e, |_| true);
        }
    }
    let db = |v: &[f64]| psnr_of_mse(mean(v));
    Ok(WmReport {
        windows: batches * batch,
        context_frames: context,
        horizon,
        seed,
        recon_psnr: db(&recon_p),
        recon_ssim: mean(&recon_s),
        one_step_psnr: db(&per_k[0].model),
        one_step_ssim: mean(&one_s),
        copy_last_psnr: db(&per_k[0].copy),
        copy_last_ssim: mean(&copy_s),
        rollout: per_k.iter().enumerate().map(|(i, e)| HorizonRow { k: i + 1, psnr: e.psnrs() }).collect(),
        by_action: kinds
            .iter()
            .zip(&per_kind)
            .filter(|(_, e)| !e.model.is_empty())
            .map(|(kind, e)| KindRow { kind: (*kind).to_string(), windows: e.model.len(), psnr: e.psnrs() })
            .collect(),
        token_accuracy: mean(&acc),
    })
}
