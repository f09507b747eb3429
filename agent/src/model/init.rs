//! Seeded weight initialisation. candle's CPU random generator cannot be seeded, so a fresh
//! model's weights are drawn here from a ChaCha8 stream in the order the layers ask for them.

use std::collections::HashMap;
use std::sync::Mutex;

use candle_core::{DType, Device, Result, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A [`VarMap`] whose new variables are initialised from a seeded generator.
pub struct SeededInit {
    map: VarMap,
    rng: Mutex<ChaCha8Rng>,
}

impl SeededInit {
    /// Variables will be created in `map`, drawn from `seed`.
    pub fn new(map: VarMap, seed: u64) -> Self {
        Self { map, rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)) }
    }

    /// A builder that creates variables through this initialiser.
    pub fn builder(self, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self), DType::F32, device.clone())
    }

    fn draw(&self, shape: &Shape, init: Init) -> Vec<f32> {
        let n = shape.elem_count();
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        match init {
            Init::Const(v) => vec![v as f32; n],
            Init::Randn { mean, stdev } => (0..n).map(|_| mean as f32 + normal(&mut rng, stdev)).collect(),
            Init::Uniform { lo, up } => (0..n).map(|_| (lo + (up - lo) * rng.random::<f64>()) as f32).collect(),
            Init::Kaiming { .. } => {
                // Fan-in is every dimension but the first (out features).
                let fan_in: usize = shape.dims().iter().skip(1).product::<usize>().max(1);
                let std = 1.0 / (fan_in as f64).sqrt();
                (0..n).map(|_| normal(&mut rng, std)).collect()
            }
        }
    }
}

/// A normal draw with standard deviation `std` (Box–Muller).
fn normal(rng: &mut ChaCha8Rng, std: f64) -> f32 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * std) as f32
}

impl SimpleBackend for SeededInit {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let mut data = self.map.data().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = data.get(name) {
            if v.shape() != &s {
                candle_core::bail!("variable {name} has shape {:?}, asked for {s:?}", v.shape());
            }
            return Ok(v.as_tensor().clone());
        }
        let values = self.draw(&s, h);
        let var = Var::from_tensor(&Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?)?;
        let t = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        candle_core::bail!("variable {name} must be requested with its shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.map.data().lock().map(|d| d.contains_key(name)).unwrap_or(false)
    }
}

/// A builder over detached copies of `map`'s variables: a model built from it records no
/// autograd graph, which is what evaluation and generation want.
pub fn frozen(map: &VarMap, device: &Device) -> VarBuilder<'static> {
    let data = map.data().lock().unwrap_or_else(|p| p.into_inner());
    let tensors: HashMap<String, Tensor> = data.iter().map(|(k, v)| (k.clone(), v.as_tensor().detach())).collect();
    VarBuilder::from_tensors(tensors, DType::F32, device)
}
