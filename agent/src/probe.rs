//! Linear probes: what a trunk's frozen features hold. A frame goes through the agent's layout
//! (no instruction, one frame, its action slot), its features are the frame slots' final-norm
//! features averaged over each of up to four bands of image columns (so where a thing is
//! survives) and the action slot's, side by side; ridge regressions fitted on them
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
    image_size: usize,
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
        Ok(Self { tokenizer, agent, image_size: cfg.image_size })
    }

    /// Features of RGB frames (`image_size`² × 3 bytes each): `(bands + 1) · dim` numbers per
    /// frame.
    pub fn features(&self, frames: &[Vec<u8>], device: &Device) -> Result<Vec<Vec<f32>>, AgentError> {
        const CHUNK: usize = 64;
        let side = self.image_size;
        let frame_bytes = side * side * 3;
        let mut out = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(CHUNK) {
            let mut bytes = Vec::with_capacity(chunk.len() * frame_bytes);
            for f in chunk {
                if f.len() != frame_bytes {
                    return Err(AgentError::Config(format!("a probed frame has {} bytes, the model reads {}", f.len(), frame_bytes)));
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
            let cols = (p as f64).sqrt() as usize;
            let bands = cols.clamp(1, 4);
            for (r, &decide) in seqs.decide_at.iter().enumerate() {
                let row = feats.get(r)?;
                // Slots are row-major over the patch grid: [rows, cols, dim], then bands of columns.
                let grid = row.narrow(0, decide - p, p)?.reshape((p / cols, cols, ()))?;
                let mut parts = Vec::with_capacity(bands + 1);
                for b in 0..bands {
                    let (from, to) = (b * cols / bands, (b + 1) * cols / bands);
                    parts.push(grid.narrow(1, from, to - from)?.mean((0, 1))?);
                }
                parts.push(row.get(decide)?);
                out.push(Tensor::cat(&parts, 0)?.to_vec1::<f32>()?);
            }
        }
        Ok(out)
    }
}

/// The ridge penalties tried; the one that scores best on the validation rows is kept.
const LAMBDAS: [f64; 6] = [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0];

/// How a probe's predictions of some rows are scored against their targets.
type Scorer<'s> = dyn Fn(&[Vec<f64>], &[usize]) -> f64 + 's;

/// Rows to fit on, rows that choose the penalty, rows that score: apart by episode.
#[derive(Clone, Copy, Debug)]
pub struct Folds<'a> {
    /// Fit rows.
    pub fit: &'a [usize],
    /// Rows that choose the penalty.
    pub val: &'a [usize],
    /// Scored rows.
    pub test: &'a [usize],
}

/// Ridge regressions from one set of features over fixed folds: the features are standardised
/// with the fitted rows' statistics, and the normal equations' Gram matrices of the fit rows
/// and of the fit and validation rows together are formed once for every probe and penalty.
pub struct Probe<'a> {
    rows: Vec<Vec<f64>>,
    folds: Folds<'a>,
    /// `[fit, fit ∪ val]`: the Gram matrix over `[standardised features, 1]`, `k × k`.
    grams: [Vec<f64>; 2],
    k: usize,
}

impl<'a> Probe<'a> {
    /// Standardise `features` and form the folds' Gram matrices.
    pub fn new(features: &[Vec<f32>], folds: Folds<'a>) -> Result<Self, AgentError> {
        let train: Vec<usize> = folds.fit.iter().chain(folds.val).copied().collect();
        if folds.fit.is_empty() || folds.val.is_empty() || folds.test.is_empty() {
            return Err(AgentError::Config(format!("a probe needs rows to fit ({}), to choose its penalty ({}) and to score ({})", folds.fit.len(), folds.val.len(), folds.test.len())));
        }
        let d = features[train[0]].len();
        let n = train.len() as f64;
        let mut mean = vec![0.0; d];
        for &i in &train {
            for (m, &x) in mean.iter_mut().zip(&features[i]) {
                *m += f64::from(x) / n;
            }
        }
        let mut scale = vec![0.0; d];
        for &i in &train {
            for ((s, &x), m) in scale.iter_mut().zip(&features[i]).zip(&mean) {
                *s += (f64::from(x) - m).powi(2) / n;
            }
        }
        let scale: Vec<f64> = scale.into_iter().map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 }).collect();
        let rows: Vec<Vec<f64>> = features
            .iter()
            .map(|f| {
                let mut x: Vec<f64> = f.iter().zip(&mean).zip(&scale).map(|((&v, m), s)| (f64::from(v) - m) / s).collect();
                x.push(1.0);
                x
            })
            .collect();
        let k = d + 1;
        let mut fit = vec![0.0; k * k];
        let add = |gram: &mut Vec<f64>, set: &[usize]| {
            for &r in set {
                let x = &rows[r];
                for i in 0..k {
                    let xi = x[i];
                    for (g, xj) in gram[i * k..i * k + i + 1].iter_mut().zip(x) {
                        *g += xi * xj;
                    }
                }
            }
        };
        add(&mut fit, folds.fit);
        let mut both = fit.clone();
        add(&mut both, folds.val);
        Ok(Self { rows, folds, grams: [fit, both], k })
    }

    /// Weights (one vector per output) fitted on Gram `g` of `set` for `targets` of every row.
    fn solve(&self, g: usize, set: &[usize], targets: &dyn Fn(usize) -> Vec<f64>, lambda: f64) -> Result<Vec<Vec<f64>>, AgentError> {
        let k = self.k;
        let mut gram = self.grams[g].clone();
        for i in 0..k {
            for j in 0..i {
                gram[j * k + i] = gram[i * k + j];
            }
            if i + 1 < k {
                gram[i * k + i] += lambda;
            }
        }
        let chol = cholesky(&gram, k).ok_or_else(|| AgentError::Config("the probe's normal equations are singular".into()))?;
        let outputs = targets(set[0]).len();
        let mut rhs = vec![vec![0.0; k]; outputs];
        for &r in set {
            let t = targets(r);
            for (o, acc) in rhs.iter_mut().enumerate() {
                for (a, x) in acc.iter_mut().zip(&self.rows[r]) {
                    *a += x * t[o];
                }
            }
        }
        Ok(rhs.iter().map(|b| solve_cholesky(&chol, k, b)).collect())
    }

    fn predict(&self, weights: &[Vec<f64>], r: usize) -> Vec<f64> {
        weights.iter().map(|w| w.iter().zip(&self.rows[r]).map(|(a, b)| a * b).sum()).collect()
    }

    /// Fit with each penalty on the fit rows and score on the validation rows; refit the best
    /// on both and return its score on the test rows.
    fn best(&self, targets: &dyn Fn(usize) -> Vec<f64>, score: &Scorer<'_>) -> Result<f64, AgentError> {
        let mut best = (f64::NEG_INFINITY, LAMBDAS[0]);
        for lambda in LAMBDAS {
            let s = score(&self.solve(0, self.folds.fit, targets, lambda)?, self.folds.val);
            if s > best.0 {
                best = (s, lambda);
            }
        }
        let both: Vec<usize> = self.folds.fit.iter().chain(self.folds.val).copied().collect();
        Ok(score(&self.solve(1, &both, targets, best.1)?, self.folds.test))
    }

    /// A classifier (ridge on one-hot targets, argmax) of `labels`: its accuracy on the test
    /// rows, and the majority class's (the class most common in the fitted rows).
    pub fn classify(&self, labels: &[usize]) -> Result<(f64, f64), AgentError> {
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        let onehot = |r: usize| (0..classes).map(|c| if c == labels[r] { 1.0 } else { 0.0 }).collect::<Vec<f64>>();
        let accuracy = |w: &[Vec<f64>], rows: &[usize]| {
            let hits = rows.iter().filter(|&&r| crate::model::argmax(&self.predict(w, r).iter().map(|&v| v as f32).collect::<Vec<_>>()) == labels[r]).count();
            hits as f64 / rows.len().max(1) as f64
        };
        let acc = self.best(&onehot, &accuracy)?;
        let mut counts = vec![0usize; classes];
        for &r in self.folds.fit.iter().chain(self.folds.val) {
            counts[labels[r]] += 1;
        }
        let majority = counts.iter().enumerate().max_by_key(|&(c, &n)| (n, std::cmp::Reverse(c))).map_or(0, |(c, _)| c);
        let base = self.folds.test.iter().filter(|&&r| labels[r] == majority).count();
        Ok((acc, base as f64 / self.folds.test.len() as f64))
    }

    /// A regression of `values`: R² on the test rows (1 is exact, 0 is no better than their
    /// mean).
    pub fn regress(&self, values: &[f64]) -> Result<f64, AgentError> {
        let r2 = |w: &[Vec<f64>], rows: &[usize]| {
            let mean = rows.iter().map(|&r| values[r]).sum::<f64>() / rows.len().max(1) as f64;
            let (mut err, mut var) = (0.0, 0.0);
            for &r in rows {
                err += (self.predict(w, r)[0] - values[r]).powi(2);
                var += (mean - values[r]).powi(2);
            }
            if var > 0.0 { 1.0 - err / var } else { 0.0 }
        };
        self.best(&|r| vec![values[r]], &r2)
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
        let split = |k: usize| (0..n).filter(|i| i % 4 == k).collect::<Vec<_>>();
        let fit: Vec<usize> = (0..n).filter(|i| i % 4 >= 2).collect();
        let (val, test) = (split(1), split(0));
        let probe = Probe::new(&features, Folds { fit: &fit, val: &val, test: &test })?;
        assert!(probe.regress(&values)? > 0.99);
        let (acc, _) = probe.classify(&classes)?;
        assert!(acc > 0.9, "planted class read at {acc}");
        let (acc, majority) = probe.classify(&unrelated)?;
        assert!(acc <= majority + 0.05, "an unrelated label read at {acc} against {majority}");
        Ok(())
    }
}
