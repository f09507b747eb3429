//! Linear probes: what a trunk's frozen features hold. A frame goes through the agent's layout
//! (no instruction, one frame, its action slot), its features are the mean of the frame slots'
//! final-norm features and the action slot's, side by side; ridge regressions fitted on them
//! read quantities the env knows (where the target is, whether it is in view, what is at the
//! centre of the image). Fitted on one set of episodes and scored on others, for a pretrained
//! trunk against the same architecture with random weights.

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::AgentError;
use crate::card::AgentCard;
use crate::checkpoint::{self, load_into};
use crate::model::{Agent, AgentWindow, Tokenizer};
use crate::weights::Weights;

/// A trunk to probe: the tokenizer whose codes it reads and the transformer.
pub struct Trunk {
    tokenizer: Tokenizer,
    agent: Agent,
    frame_bytes: usize,
}

/// Which weights a probed trunk has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrunkWeights {
    /// The checkpoint's.
    Trained,
    /// The checkpoint's tokenizer, and a transformer with the weights it started from: what the
    /// probe reads is then what the tokenizer's codes hold, before training.
    RandomTransformer,
}

impl Trunk {
    /// The trunk of checkpoint `ckpt` (a pretraining or a fine-tuning checkpoint, or a run).
    pub fn load(ckpt: &Path, weights: TrunkWeights, device: &Device) -> Result<Self, AgentError> {
        let ckpt = checkpoint::resolve(ckpt)?;
        let mut cfg = checkpoint::load_config(&ckpt)?;
        let tuned = AgentCard::load(&ckpt).is_ok();
        // A world model has no pixel stem; a fine-tuned agent keeps its own.
        cfg.finetune.pixel_stem &= tuned;
        let seed = cfg.train.seed;
        let (w, tokenizer, agent) = match (tuned, weights) {
            (true, TrunkWeights::Trained) => {
                let built = Weights::agent(&cfg, seed, None, device)?;
                built.0.load(&ckpt)?;
                built
            }
            (false, TrunkWeights::Trained) => Weights::agent(&cfg, seed, Some(&ckpt), device)?,
            (_, TrunkWeights::RandomTransformer) => Weights::agent(&cfg, seed, None, device)?,
        };
        if weights == TrunkWeights::RandomTransformer {
            load_into(&w.tokenizer, &ckpt, "tokenizer")?;
        }
        Ok(Self { tokenizer, agent, frame_bytes: cfg.image_size * cfg.image_size * 3 })
    }

    /// Features of RGB frames (`frame_bytes` each): `2 · dim` numbers per frame.
    pub fn features(&self, frames: &[Vec<u8>], device: &Device) -> Result<Vec<Vec<f32>>, AgentError> {
        const CHUNK: usize = 64;
        let side = ((self.frame_bytes / 3) as f64).sqrt() as usize;
        let mut out = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(CHUNK) {
            let mut bytes = Vec::with_capacity(chunk.len() * self.frame_bytes);
            for f in chunk {
                if f.len() != self.frame_bytes {
                    return Err(AgentError::Config(format!("a probed frame has {} bytes, the model reads {}", f.len(), self.frame_bytes)));
                }
                bytes.extend_from_slice(f);
            }
            let codes: Vec<u32> = self.tokenizer.encode(&Tensor::from_vec(bytes, (chunk.len(), side, side, 3), device)?)?.flatten_all()?.to_vec1()?;
            let p = codes.len() / chunk.len();
            let windows: Vec<AgentWindow> = chunk
                .iter()
                .enumerate()
                .map(|(i, f)| AgentWindow {
                    codes: vec![codes[i * p..(i + 1) * p].to_vec()],
                    actions: vec![-1],
                    pixels: if self.agent.reads_pixels() { vec![f.clone()] } else { Vec::new() },
                    ..AgentWindow::default()
                })
                .collect();
            let seqs = self.agent.sequences(&windows)?;
            let feats = self.agent.features(&seqs)?.to_device(&Device::Cpu)?;
            for (r, &decide) in seqs.decide_at.iter().enumerate() {
                let row = feats.get(r)?;
                let slots = row.narrow(0, decide - p, p)?.mean(0)?;
                let slot = row.get(decide)?;
                out.push(Tensor::cat(&[&slots, &slot], 0)?.to_vec1::<f32>()?);
            }
        }
        Ok(out)
    }
}

/// A ridge regression from standardised features to several outputs.
#[derive(Clone, Debug)]
pub struct Ridge {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// Per output: the weights of the standardised features, then the bias.
    weights: Vec<Vec<f64>>,
}

impl Ridge {
    /// Fit `targets` (rows of outputs) from `features` (rows) with penalty `lambda` on the
    /// weights (not the bias).
    pub fn fit(features: &[Vec<f32>], targets: &[Vec<f64>], lambda: f64) -> Result<Self, AgentError> {
        let n = features.len();
        if n == 0 || targets.len() != n {
            return Err(AgentError::Config(format!("a probe needs rows with targets: {n} rows, {} targets", targets.len())));
        }
        let d = features[0].len();
        let outputs = targets[0].len();
        let mut mean = vec![0.0; d];
        let mut scale = vec![0.0; d];
        for f in features {
            for (m, &x) in mean.iter_mut().zip(f) {
                *m += f64::from(x) / n as f64;
            }
        }
        for f in features {
            for ((s, &x), m) in scale.iter_mut().zip(f).zip(&mean) {
                *s += (f64::from(x) - m).powi(2) / n as f64;
            }
        }
        let scale: Vec<f64> = scale.into_iter().map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 }).collect();
        let mut ridge = Self { mean, scale, weights: Vec::new() };
        // Normal equations over [standardised features, 1].
        let k = d + 1;
        let mut gram = vec![0.0; k * k];
        let mut rhs = vec![vec![0.0; k]; outputs];
        for (f, t) in features.iter().zip(targets) {
            let x = ridge.row(f);
            for i in 0..k {
                for j in 0..=i {
                    gram[i * k + j] += x[i] * x[j];
                }
                for (o, r) in rhs.iter_mut().enumerate() {
                    r[i] += x[i] * t[o];
                }
            }
        }
        for i in 0..k {
            for j in 0..i {
                gram[j * k + i] = gram[i * k + j];
            }
            if i < d {
                gram[i * k + i] += lambda;
            }
        }
        let chol = cholesky(&gram, k).ok_or_else(|| AgentError::Config("the probe's normal equations are singular".into()))?;
        ridge.weights = rhs.iter().map(|r| solve_cholesky(&chol, k, r)).collect();
        Ok(ridge)
    }

    /// Standardised features with the bias input.
    fn row(&self, f: &[f32]) -> Vec<f64> {
        let mut x: Vec<f64> = f.iter().zip(&self.mean).zip(&self.scale).map(|((&v, m), s)| (f64::from(v) - m) / s).collect();
        x.push(1.0);
        x
    }

    /// The outputs for one row of features.
    pub fn predict(&self, f: &[f32]) -> Vec<f64> {
        let x = self.row(f);
        self.weights.iter().map(|w| w.iter().zip(&x).map(|(a, b)| a * b).sum()).collect()
    }
}

/// Lower-triangular `l` with `l · lᵀ = a` (`k × k`, row-major), if `a` is positive definite.
fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|m| l[i * k + m] * l[j * k + m]).sum();
            if i == j {
                let v = a[i * k + i] - s;
                if v <= 0.0 {
                    return None;
                }
                l[i * k + i] = v.sqrt();
            } else {
                l[i * k + j] = (a[i * k + j] - s) / l[j * k + j];
            }
        }
    }
    Some(l)
}

/// `x` with `l · lᵀ · x = b`.
fn solve_cholesky(l: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; k];
    for i in 0..k {
        y[i] = (b[i] - (0..i).map(|m| l[i * k + m] * y[m]).sum::<f64>()) / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        x[i] = (y[i] - (i + 1..k).map(|m| l[m * k + i] * x[m]).sum::<f64>()) / l[i * k + i];
    }
    x
}

/// Fit a classifier (ridge on one-hot targets, argmax) on the `train` rows and score it on the
/// `test` rows: its accuracy and the majority class's.
pub fn classify(features: &[Vec<f32>], labels: &[usize], train: &[usize], test: &[usize], lambda: f64) -> Result<(f64, f64), AgentError> {
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let onehot = |c: usize| (0..classes).map(|k| if k == c { 1.0 } else { 0.0 }).collect::<Vec<f64>>();
    let ridge = Ridge::fit(&train.iter().map(|&i| features[i].clone()).collect::<Vec<_>>(), &train.iter().map(|&i| onehot(labels[i])).collect::<Vec<_>>(), lambda)?;
    let mut counts = vec![0usize; classes];
    for &i in train {
        counts[labels[i]] += 1;
    }
    let majority = counts.iter().enumerate().max_by_key(|&(k, &c)| (c, std::cmp::Reverse(k))).map_or(0, |(k, _)| k);
    let hits = test.iter().filter(|&&i| crate::model::argmax(&ridge.predict(&features[i]).iter().map(|&v| v as f32).collect::<Vec<_>>()) == labels[i]).count();
    let base = test.iter().filter(|&&i| labels[i] == majority).count();
    let n = test.len().max(1) as f64;
    Ok((hits as f64 / n, base as f64 / n))
}

/// Fit a regression on the `train` rows and score it on the `test` rows: R² (1 is exact, 0 is
/// no better than the training mean).
pub fn regress(features: &[Vec<f32>], values: &[f64], train: &[usize], test: &[usize], lambda: f64) -> Result<f64, AgentError> {
    let ridge = Ridge::fit(&train.iter().map(|&i| features[i].clone()).collect::<Vec<_>>(), &train.iter().map(|&i| vec![values[i]]).collect::<Vec<_>>(), lambda)?;
    let mean = train.iter().map(|&i| values[i]).sum::<f64>() / train.len().max(1) as f64;
    let (mut err, mut var) = (0.0, 0.0);
    for &i in test {
        err += (ridge.predict(&features[i])[0] - values[i]).powi(2);
        var += (mean - values[i]).powi(2);
    }
    Ok(if var > 0.0 { 1.0 - err / var } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// A value and a class planted linearly in noisy features are read back on held-out rows;
    /// a label the features do not carry scores at its majority rate.
    #[test]
    fn probes_recover_a_planted_linear_signal() -> Result<(), AgentError> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, d) = (600, 12);
        let features: Vec<Vec<f32>> = (0..n).map(|_| (0..d).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect()).collect();
        let values: Vec<f64> = features.iter().map(|f| f64::from(2.0 * f[0] - f[3] + 0.5)).collect();
        let classes: Vec<usize> = features.iter().map(|f| if f[5] + 0.3 * f[7] > 0.0 { 1 } else { 0 }).collect();
        let unrelated: Vec<usize> = (0..n).map(|_| usize::from(rng.random::<f64>() < 0.3)).collect();
        let (train, test): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 4 != 0);
        assert!(regress(&features, &values, &train, &test, 1e-3)? > 0.999);
        let (acc, _) = classify(&features, &classes, &train, &test, 1e-3)?;
        assert!(acc > 0.9, "planted class read at {acc}");
        let (acc, majority) = classify(&features, &unrelated, &train, &test, 1e-3)?;
        assert!(acc <= majority + 0.05, "an unrelated label read at {acc} against {majority}");
        Ok(())
    }
}
