//! World-model evaluation on held-out episodes: tokenizer reconstruction (the ceiling), 1-step
//! and k-step open-loop prediction against copying the last real frame, the same rollouts with
//! actions shuffled across the batch (does the model use the actions?), and token accuracy.

use candle_core::{Device, IndexOp, Tensor};
use serde::{Deserialize, Serialize};

use crate::AgentError;
use crate::config::Config;
use crate::dataset::{Dataset, WindowSampler};
use crate::metrics::{mean, mse, psnr_of_mse, ssim};
use crate::model::{Dynamics, Tokenizer, interleave};

/// One horizon of the open-loop rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HorizonRow {
    /// Steps ahead of the last real frame.
    pub k: usize,
    /// The model fed the true actions.
    pub model_psnr: f64,
    /// The last real frame, repeated.
    pub copy_last_psnr: f64,
    /// The model fed another window's actions.
    pub shuffled_actions_psnr: f64,
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
    /// Tokenizer encode→decode PSNR, dB (the ceiling for prediction). Every PSNR here is that of
    /// the mean squared error over all evaluated frames.
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
    /// Teacher-forced next-token accuracy on frame tokens.
    pub token_accuracy: f64,
}

/// Imagine `k` frames after `context` codes `[b, c, p]`, feeding `actions[i][j]` (the action
/// taken from frame `j` of window `i`), greedily, with a sliding context of at most
/// `frames − 1` frames. Returns codes `[b, k, p]`.
pub fn imagine(cfg: &Config, dynamics: &Dynamics, context: &Tensor, actions: &[Vec<i64>], k: usize) -> Result<Tensor, AgentError> {
    let (b, c, p) = context.dims3()?;
    let mut frames: Vec<Vec<Vec<u32>>> = (0..b).map(|i| context.i(i)?.to_vec2::<u32>()).collect::<Result<_, _>>()?;
    let keep = cfg.dynamics.frames - 1;
    for step in 0..k {
        let cur = c + step;
        let first = cur.saturating_sub(keep);
        let mut prefix = Vec::with_capacity(b * (cur - first) * (p + 1));
        for (i, window) in frames.iter().enumerate() {
            for (j, codes) in window.iter().enumerate().take(cur).skip(first) {
                let a = *actions[i].get(j).ok_or_else(|| AgentError::Config(format!("window {i} has no action for frame {j}")))?;
                if a < 0 {
                    return Err(AgentError::Config(format!("window {i} ends at frame {j}; nothing to roll out")));
                }
                prefix.extend_from_slice(codes);
                prefix.push(cfg.action_token(a as usize));
            }
        }
        let len = prefix.len() / b;
        let next = dynamics.next_frame(&Tensor::from_vec(prefix, (b, len), &Device::Cpu)?)?.to_vec2::<u32>()?;
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
    /// About this many windows (whole batches of 16).
    pub windows: usize,
    /// Rollout length.
    pub horizon: usize,
    /// Seed of the window choice.
    pub seed: u64,
}

/// Evaluate on windows drawn from every episode of `data` long enough for `frames − 1` context
/// frames and `horizon` more.
pub fn evaluate(cfg: &Config, tokenizer: &Tokenizer, dynamics: &Dynamics, data: &[&Dataset], opts: EvalOptions, device: &Device) -> Result<WmReport, AgentError> {
    let EvalOptions { windows, horizon, seed } = opts;
    let context = cfg.dynamics.frames - 1;
    let len = context + horizon;
    let all: Vec<Vec<usize>> = data.iter().map(|d| (0..d.num_episodes()).collect()).collect();
    let sources: Vec<(&Dataset, &[usize])> = data.iter().zip(&all).map(|(d, e)| (*d, e.as_slice())).collect();
    let batch = 16.min(windows.max(1));
    let mut sampler = WindowSampler::new(&sources, len, batch, seed)?;
    let batches = windows.div_ceil(batch);
    let (mut recon_p, mut recon_s, mut one_p, mut one_s, mut copy_p, mut copy_s, mut acc) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut per_k: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new(), Vec::new()); horizon];
    let (h, w) = data[0].frame_size();
    for _ in 0..batches {
        let wb = sampler.next_batch(data, device)?;
        let b = wb.episodes.len();
        let frames = wb.frames.reshape((b * len, h, w, 3))?;
        let truth = (frames.to_dtype(candle_core::DType::F32)? / 255.0)?;
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
        let shuffled: Vec<Vec<i64>> = (0..b).map(|i| actions[(i + 1) % b].clone()).collect();
        let ctx = codes.narrow(1, 0, context)?.contiguous()?;
        let pred = imagine(cfg, dynamics, &ctx, &actions, horizon)?;
        let pred_shuffled = imagine(cfg, dynamics, &ctx, &shuffled, horizon)?;
        let truth = truth.reshape((b, len, h, w, 3))?;
        let last_real = truth.i((.., context - 1))?;
        for k in 1..=horizon {
            let target = truth.i((.., context - 1 + k))?;
            let model = tokenizer.decode(&pred.i((.., k - 1))?.contiguous()?.to_device(device)?)?;
            let other = tokenizer.decode(&pred_shuffled.i((.., k - 1))?.contiguous()?.to_device(device)?)?;
            let (mp, cp, sp) = (mse(&model, &target)?, mse(&last_real, &target)?, mse(&other, &target)?);
            if k == 1 {
                one_p.extend(&mp);
                one_s.extend(ssim(&model, &target)?);
                copy_p.extend(&cp);
                copy_s.extend(ssim(&last_real, &target)?);
            }
            per_k[k - 1].0.extend(mp);
            per_k[k - 1].1.extend(cp);
            per_k[k - 1].2.extend(sp);
        }
    }
    Ok(WmReport {
        windows: batches * batch,
        context_frames: context,
        horizon,
        seed,
        recon_psnr: psnr_of_mse(mean(&recon_p)),
        recon_ssim: mean(&recon_s),
        one_step_psnr: psnr_of_mse(mean(&one_p)),
        one_step_ssim: mean(&one_s),
        copy_last_psnr: psnr_of_mse(mean(&copy_p)),
        copy_last_ssim: mean(&copy_s),
        rollout: per_k
            .iter()
            .enumerate()
            .map(|(i, (m, c, s))| HorizonRow {
                k: i + 1,
                model_psnr: psnr_of_mse(mean(m)),
                copy_last_psnr: psnr_of_mse(mean(c)),
                shuffled_actions_psnr: psnr_of_mse(mean(s)),
            })
            .collect(),
        token_accuracy: mean(&acc),
    })
}
