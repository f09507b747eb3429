//! AdamW with decoupled weight decay, global-norm gradient clipping and a warm-up + cosine
//! schedule. Written here rather than taken from candle-nn so its moments can be saved and
//! restored: a resumed run must continue exactly.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use candle_nn::VarMap;

/// AdamW over every variable of a [`VarMap`], in name order.
pub struct AdamW {
    vars: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    steps: u64,
    weight_decay: f64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.95;
const EPS: f64 = 1e-8;

impl AdamW {
    /// Optimise `map`'s variables. Weight decay applies to matrices only, not to biases and norms.
    pub fn new(map: &VarMap, weight_decay: f64) -> Result<Self> {
        let mut vars: Vec<(String, Var)> =
            map.data().lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let m = vars.iter().map(|(_, v)| v.zeros_like()).collect::<Result<_>>()?;
        let v = vars.iter().map(|(_, v)| v.zeros_like()).collect::<Result<_>>()?;
        Ok(Self { vars, m, v, steps: 0, weight_decay })
    }

    /// Updates applied so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Clip gradients to `clip` global norm (0 disables), update with rate `lr`, and return the
    /// norm before clipping.
    pub fn step(&mut self, grads: &GradStore, lr: f64, clip: f64) -> Result<f64> {
        let mut sq = 0.0f64;
        for (_, var) in &self.vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
            }
        }
        let norm = sq.sqrt();
        let scale = if clip > 0.0 && norm > clip { clip / norm } else { 1.0 };
        self.steps += 1;
        let t = self.steps as i32;
        let (c1, c2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let g = (g * scale)?;
            let m = ((&self.m[i] * BETA1)? + (&g * (1.0 - BETA1))?)?;
            let v = ((&self.v[i] * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?;
            let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + EPS)?)?;
            let decay = if var.rank() >= 2 { self.weight_decay } else { 0.0 };
            let theta = var.as_tensor();
            let next = ((theta * (1.0 - lr * decay))? - (update * lr)?)?;
            var.set(&next)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(norm)
    }

    /// The moments, as `m.NAME` and `v.NAME`.
    pub fn state(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.insert(format!("m.{name}"), self.m[i].clone());
            out.insert(format!("v.{name}"), self.v[i].clone());
        }
        out
    }

    /// Restore moments saved by [`AdamW::state`] after `steps` updates.
    pub fn load_state(&mut self, state: &HashMap<String, Tensor>, steps: u64) -> std::result::Result<(), String> {
        for (i, (name, var)) in self.vars.iter().enumerate() {
            for (kind, slot) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let t = state.get(&format!("{kind}.{name}")).ok_or_else(|| format!("optimiser state lacks `{kind}.{name}`"))?;
                if t.shape() != var.shape() {
                    return Err(format!("optimiser state `{kind}.{name}` has shape {:?}, the model's is {:?}", t.dims(), var.dims()));
                }
                *slot = t.clone();
            }
        }
        self.steps = steps;
        Ok(())
    }
}

/// Learning rate at `step` of `total`: linear warm-up to `peak`, then cosine decay to
/// `peak · min_fraction`.
pub fn learning_rate(step: u64, total: u64, warmup: u64, peak: f64, min_fraction: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).min(1.0);
    let floor = peak * min_fraction;
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}
