//! Where a dynamics training step's time goes, layer by layer. candle runs the whole backward
//! pass as one call, so each layer is timed on its own here: its real input from a forward pass,
//! made a variable, then forward and backward of that layer alone, each inside a tracing span.

use std::time::Instant;

use candle_core::{Module, Result, Tensor, Var};

use crate::model::Dynamics;
use crate::model::ops;

/// One layer's cost.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerTiming {
    /// `embed`, `blocks.N.attn`, `blocks.N.mlp` or `head+loss`.
    pub layer: String,
    /// Median forward milliseconds.
    pub forward_ms: f64,
    /// Median backward milliseconds.
    pub backward_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

/// Time `f`'s forward and the backward of a scalar made from its output, `repeats` times.
fn time(name: &str, repeats: usize, f: &dyn Fn() -> Result<Tensor>) -> Result<LayerTiming> {
    let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        let t = Instant::now();
        let y = {
            let _span = tracing::info_span!("forward", layer = name).entered();
            f()?
        };
        let scalar = if y.rank() == 0 { y } else { y.sqr()?.mean_all()? };
        fwd.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        {
            let _span = tracing::info_span!("backward", layer = name).entered();
            scalar.backward()?;
        }
        bwd.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(LayerTiming { layer: name.to_string(), forward_ms: median(fwd), backward_ms: median(bwd) })
}

/// Per-layer forward and backward times of `dynamics` (built on variables) on interleaved
/// windows `tokens` `[b, n]`, block teacher-forced as in training.
pub fn profile_dynamics(dynamics: &Dynamics, tokens: &Tensor, repeats: usize) -> Result<Vec<LayerTiming>> {
    let tf = dynamics.teacher_forcing(tokens)?;
    let mask = dynamics.mask(0);
    let mut out = Vec::new();
    let embed = || dynamics.embed(&tf.input);
    out.push(time("embed", repeats, &embed)?);
    let mut h = embed()?.detach();
    for (i, block) in dynamics.blocks.iter().enumerate() {
        let x = Var::from_tensor(&h)?;
        let attn = || x.as_tensor() + block.attn.forward(&block.ln1.forward(x.as_tensor())?, mask)?;
        out.push(time(&format!("blocks.{i}.attn"), repeats, &attn)?);
        let mid = Var::from_tensor(&attn()?.detach())?;
        let mlp = || mid.as_tensor() + block.mlp.forward(&block.ln2.forward(mid.as_tensor())?)?;
        out.push(time(&format!("blocks.{i}.mlp"), repeats, &mlp)?);
        h = mlp()?.detach();
    }
    let x = Var::from_tensor(&h)?;
    let targets = Tensor::from_vec(tf.targets.clone(), tf.targets.len(), tokens.device())?;
    let head = || ops::cross_entropy(&dynamics.teacher_forced_logits(&dynamics.norm.forward(x.as_tensor())?, &tf)?, &targets);
    out.push(time("head+loss", repeats, &head)?);
    Ok(out)
}
