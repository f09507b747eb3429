//! AdamW with decoupled weight decay, global-norm gradient clipping and a warm-up + cosine
//! schedule. Written here rather than taken from candle-nn so its moments can be saved and
//! restored: a resumed run must continue exactly.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};
use candle_nn::VarMap;
use rayon::prelude::*;

use crate::model::ops::{fused, read};

/// AdamW over every variable of a [`VarMap`], in name order. Each variable's rate is the step's
/// rate times its group's scale ([`AdamW::scale_rates`]; 1 unless set).
pub struct AdamW {
    vars: Vec<(String, Var)>,
    /// Per variable: its group's learning-rate scale.
    lr_scale: Vec<f64>,
    /// Per variable: the update before which it stays as it is (0: from the start). Its moments
    /// and bias correction start there.
    starts_at: Vec<u64>,
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
        let (lr_scale, starts_at) = (vec![1.0; vars.len()], vec![0; vars.len()]);
        Ok(Self { vars, lr_scale, starts_at, m, v, steps: 0, weight_decay })
    }

    /// Parameter groups: each variable's learning rate (and so its decay) is the step's rate
    /// times `scale(name)`, for a pretrained trunk that moves slower than the parts new to it.
    pub fn scale_rates(&mut self, scale: impl Fn(&str) -> f64) {
        self.lr_scale = self.vars.iter().map(|(name, _)| scale(name)).collect();
    }

    /// Hold the variables `held` names as they are for the first `updates` updates, as in
    /// LP-FT's first phase (train the new parts on a fixed trunk); their moments and bias
    /// correction start afterwards, as if they were new.
    pub fn hold_until(&mut self, held: impl Fn(&str) -> bool, updates: u64) {
        self.starts_at = self.vars.iter().map(|(name, _)| if held(name) { updates } else { 0 }).collect();
    }

    /// Updates applied so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Clip gradients to `clip` global norm (0 disables), update with rate `lr`, and return the
    /// norm before clipping.
    ///
    /// On the CPU each variable is updated in one fused pass (moments, bias correction, decay and
    /// step together) instead of a dozen tensor ops, and the squared norm is summed once, in
    /// fixed chunks, so the result does not depend on the thread count.
    pub fn step(&mut self, grads: &GradStore, lr: f64, clip: f64) -> Result<f64> {
        let mut sq = 0.0f64;
        // Held variables take no step, so their gradients do not scale the others'.
        for (_, var) in self.vars.iter().enumerate().filter(|(i, _)| self.steps >= self.starts_at[*i]).map(|(_, v)| v) {
            if let Some(g) = grads.get(var.as_tensor()) {
                sq += if fused(g) { read(g, |g| Ok(sum_of_squares(g)))? } else { f64::from(g.sqr()?.sum_all()?.to_dtype(DType::F32)?.to_scalar::<f32>()?) };
            }
        }
        let norm = sq.sqrt();
        let scale = if clip > 0.0 && norm > clip { clip / norm } else { 1.0 };
        let before = self.steps;
        self.steps += 1;
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            if before < self.starts_at[i] {
                continue;
            }
            let t = (self.steps - self.starts_at[i]) as i32;
            let (c1, c2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
            let lr = lr * self.lr_scale[i];
            let decay = if var.rank() >= 2 { self.weight_decay } else { 0.0 };
            let theta = var.as_tensor();
            if fused(theta) && fused(g) {
                let h = Hyper { scale: scale as f32, c1: c1 as f32, c2: c2 as f32, lr: lr as f32, shrink: (1.0 - lr * decay) as f32 };
                let (next, m, v) = read(theta, |th| read(g, |g| read(&self.m[i], |m| read(&self.v[i], |v| Ok(h.apply(th, g, m, v))))))?;
                let shape = theta.shape();
                var.set(&Tensor::from_vec(next, shape, theta.device())?)?;
                self.m[i] = Tensor::from_vec(m, shape, theta.device())?;
                self.v[i] = Tensor::from_vec(v, shape, theta.device())?;
                continue;
            }
            let g = (g * scale)?;
            let m = ((&self.m[i] * BETA1)? + (&g * (1.0 - BETA1))?)?;
            let v = ((&self.v[i] * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?;
            let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + EPS)?)?;
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

/// Elements per parallel task of the fused update.
const CHUNK: usize = 16 * 1024;

/// The scalars of one update.
struct Hyper {
    scale: f32,
    c1: f32,
    c2: f32,
    lr: f32,
    shrink: f32,
}

impl Hyper {
    /// The next weights and moments of one variable.
    fn apply(&self, theta: &[f32], g: &[f32], m: &[f32], v: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let n = theta.len();
        let (mut next, mut m2, mut v2) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        let (b1, b2, eps) = (BETA1 as f32, BETA2 as f32, EPS as f32);
        next.par_chunks_mut(CHUNK)
            .zip(m2.par_chunks_mut(CHUNK).zip(v2.par_chunks_mut(CHUNK)))
            .enumerate()
            .for_each(|(c, (next, (m2, v2)))| {
                let lo = c * CHUNK;
                for k in 0..next.len() {
                    let j = lo + k;
                    let g = g[j] * self.scale;
                    m2[k] = b1 * m[j] + (1.0 - b1) * g;
                    v2[k] = b2 * v[j] + (1.0 - b2) * g * g;
                    let update = (m2[k] / self.c1) / ((v2[k] / self.c2).sqrt() + eps);
                    next[k] = theta[j] * self.shrink - self.lr * update;
                }
            });
        (next, m2, v2)
    }
}

/// Sum of squares in f64, over fixed chunks added in order (deterministic under any threads).
fn sum_of_squares(g: &[f32]) -> f64 {
    let partials: Vec<f64> = g.par_chunks(CHUNK).map(|c| c.iter().map(|&x| f64::from(x) * f64::from(x)).sum()).collect();
    partials.iter().sum()
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

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};
    use candle_nn::{Init, VarMap};

    use super::*;

    /// Two AdamW steps against numbers worked out by hand: with a constant gradient the
    /// bias-corrected step is `lr` (less a hair of `EPS`) and decay shrinks matrices only.
    #[test]
    fn two_steps_match_hand_computed_numbers() -> Result<()> {
        let map = VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let bias = vb.get_with_hints(2, "bias", Init::Const(0.0))?;
        let matrix = vb.get_with_hints((1, 1), "matrix", Init::Const(0.0))?;
        {
            let data = map.data().lock().unwrap_or_else(|p| p.into_inner());
            data["bias"].set(&Tensor::new(&[1.0f32, -2.0], &Device::Cpu)?)?;
            data["matrix"].set(&Tensor::new(&[[1.0f32]], &Device::Cpu)?)?;
        }
        let mut opt = AdamW::new(&map, 0.01)?;
        let grads = || -> Result<GradStore> {
            let loss = ((&bias * 0.5)?.sum_all()? + (&matrix * 0.5)?.sum_all()?)?;
            loss.backward()
        };
        // Step 1: m = 0.05, v = 0.0125, m̂ = 0.5, v̂ = 0.25, step = 0.5 / (0.5 + 1e-8).
        let norm = opt.step(&grads()?, 0.1, 0.0)?;
        assert!((norm - 0.75f64.sqrt()).abs() < 1e-6);
        let step = 0.1 * 0.5 / (0.5 + 1e-8);
        let b: Vec<f32> = bias.to_vec1()?;
        let m: f32 = matrix.flatten_all()?.to_vec1::<f32>()?[0];
        assert!((f64::from(b[0]) - (1.0 - step)).abs() < 1e-6 && (f64::from(b[1]) - (-2.0 - step)).abs() < 1e-6, "{b:?}");
        assert!((f64::from(m) - (1.0 * (1.0 - 0.1 * 0.01) - step)).abs() < 1e-6, "{m}");
        // Step 2: m = 0.095, v = 0.024375, c1 = 0.19, c2 = 0.0975: again m̂ = 0.5, v̂ = 0.25.
        opt.step(&grads()?, 0.1, 0.0)?;
        let b: Vec<f32> = bias.to_vec1()?;
        let m2: f32 = matrix.flatten_all()?.to_vec1::<f32>()?[0];
        assert!((f64::from(b[0]) - 0.8).abs() < 1e-5 && (f64::from(b[1]) + 2.2).abs() < 1e-5, "{b:?}");
        assert!((f64::from(m2) - (f64::from(m) * (1.0 - 0.1 * 0.01) - 0.1)).abs() < 1e-5, "{m2}");
        assert_eq!(opt.steps(), 2);
        Ok(())
    }

    /// Two parameter groups, one at a quarter of the rate: the first step of each is its own
    /// rate (bias-corrected m̂/√v̂ is the gradient's sign), and decay shrinks by its own rate.
    #[test]
    fn each_group_steps_at_its_own_rate() -> Result<()> {
        let map = VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let trunk = vb.get_with_hints((1, 2), "blocks.w", Init::Const(1.0))?;
        let head = vb.get_with_hints((1, 2), "text_pos", Init::Const(1.0))?;
        let mut opt = AdamW::new(&map, 0.5)?;
        opt.scale_rates(|name| if name.starts_with("blocks.") { 0.25 } else { 1.0 });
        let loss = ((&trunk * 3.0)?.sum_all()? + (&head * -2.0)?.sum_all()?)?;
        opt.step(&loss.backward()?, 0.1, 0.0)?;
        // trunk: rate 0.025, gradient +3: 1 · (1 − 0.025 · 0.5) − 0.025 · 3 / (3 + 1e-8).
        let want_trunk = 1.0 - 0.025 * 0.5 - 0.025 * 3.0 / (3.0 + 1e-8);
        // head: rate 0.1, gradient −2: 1 · (1 − 0.1 · 0.5) + 0.1 · 2 / (2 + 1e-8).
        let want_head = 1.0 - 0.1 * 0.5 + 0.1 * 2.0 / (2.0 + 1e-8);
        for (var, want) in [(&trunk, want_trunk), (&head, want_head)] {
            for got in var.flatten_all()?.to_vec1::<f32>()? {
                assert!((f64::from(got) - want).abs() < 1e-6, "{got} against {want}");
            }
        }
        Ok(())
    }

    /// A variable held for two updates stays as it is, then takes the step of a fresh one (its
    /// bias correction starts with it), while the other moves every time.
    #[test]
    fn a_held_variable_starts_fresh_after_its_hold() -> Result<()> {
        let map = VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let trunk = vb.get_with_hints(2, "blocks.b", Init::Const(1.0))?;
        let head = vb.get_with_hints(2, "text_pos", Init::Const(1.0))?;
        let mut opt = AdamW::new(&map, 0.0)?;
        opt.hold_until(|name| name.starts_with("blocks."), 2);
        let step = |opt: &mut AdamW| -> Result<()> {
            let loss = ((&trunk * 0.5)?.sum_all()? + (&head * 0.5)?.sum_all()?)?;
            opt.step(&loss.backward()?, 0.1, 0.0).map(|_| ())
        };
        let value = |t: &Tensor| -> Result<f64> { Ok(f64::from(t.to_vec1::<f32>()?[0])) };
        step(&mut opt)?;
        step(&mut opt)?;
        // A constant gradient: every bias-corrected step is lr (less a hair of EPS).
        let one = 0.1 * 0.5 / (0.5 + 1e-8);
        assert_eq!(value(&trunk)?, 1.0, "held");
        assert!((value(&head)? - (1.0 - 2.0 * one)).abs() < 1e-5);
        step(&mut opt)?;
        assert!((value(&trunk)? - (1.0 - one)).abs() < 1e-6, "the first step of its own: {}", value(&trunk)?);
        assert!((value(&head)? - (1.0 - 3.0 * one)).abs() < 1e-5);
        Ok(())
    }
}
