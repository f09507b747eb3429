//! Each fused op against its composed reference (forward, gradients) and against finite
//! differences, on contiguous and strided inputs, batch 1 and sequence 1.

use candle_core::{Device, Result, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

fn random(shape: &[usize], seed: u64) -> Result<Tensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-2.0f32..2.0)).collect();
    Tensor::from_vec(v, shape, &Device::Cpu)
}

/// Largest absolute difference over the largest reference magnitude.
fn rel_err(a: &Tensor, b: &Tensor) -> Result<f32> {
    let diff: f32 = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar()?;
    let scale: f32 = b.abs()?.flatten_all()?.max(0)?.to_scalar()?;
    Ok(diff / scale.max(1e-12))
}

/// Forward outputs and input gradients of `f` at `inputs`, through the loss `sum(f(x) · r)`
/// with a fixed random `r`.
fn run(f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) -> Result<(Tensor, Vec<Tensor>)> {
    let vars: Vec<Var> = inputs.iter().map(Var::from_tensor).collect::<Result<_>>()?;
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts)?;
    let r = random(y.dims(), 99)?;
    let grads = (&y * &r)?.sum_all()?.backward()?;
    let g = vars.iter().map(|v| grads.get(v.as_tensor()).cloned().ok_or_else(|| candle_core::Error::Msg("no gradient".into()))).collect::<Result<_>>()?;
    Ok((y, g))
}

/// The fused op equals the reference within 1e-5 (forward) and 1e-4 (gradients), relative.
fn check(fused: &dyn Fn(&[Tensor]) -> Result<Tensor>, reference: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) -> Result<()> {
    let (y, g) = run(fused, inputs)?;
    let (y_ref, g_ref) = run(reference, inputs)?;
    assert_eq!(y.dims(), y_ref.dims());
    let e = rel_err(&y, &y_ref)?;
    assert!(e < 1e-5, "forward differs by {e}");
    for (i, (a, b)) in g.iter().zip(&g_ref).enumerate() {
        let e = rel_err(a, b)?;
        assert!(e < 1e-4, "gradient of input {i} differs by {e}");
    }
    Ok(())
}

/// Central finite differences of `sum(f(x) · r)` against the fused op's gradient, every element
/// of input 0.
fn finite_difference(f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) -> Result<()> {
    let (y, g) = run(f, inputs)?;
    let r = random(y.dims(), 99)?;
    let objective = |x: &[Tensor]| -> Result<f64> { Ok(f64::from((f(x)? * &r)?.sum_all()?.to_scalar::<f32>()?)) };
    let x0: Vec<f32> = inputs[0].flatten_all()?.to_vec1()?;
    let analytic: Vec<f32> = g[0].flatten_all()?.to_vec1()?;
    let h = 1e-2f32;
    for i in 0..x0.len() {
        let at = |delta: f32| -> Result<f64> {
            let mut x = x0.clone();
            x[i] += delta;
            let mut xs = inputs.to_vec();
            xs[0] = Tensor::from_vec(x, inputs[0].shape(), &Device::Cpu)?;
            objective(&xs)
        };
        let numeric = (at(h)? - at(-h)?) / (2.0 * f64::from(h));
        let a = f64::from(analytic[i]);
        assert!((numeric - a).abs() <= 2e-2 * (1.0 + a.abs()), "element {i}: finite difference {numeric}, analytic {a}");
    }
    Ok(())
}

#[test]
fn gelu_matches_candle() -> Result<()> {
    let f = |x: &[Tensor]| gelu(&x[0]);
    let r = |x: &[Tensor]| x[0].gelu();
    for (shape, seed) in [(vec![4, 7, 33], 1), (vec![1, 1, 5], 2)] {
        check(&f, &r, &[random(&shape, seed)?])?;
    }
    // Strided: a transposed view.
    let t = |x: &[Tensor]| gelu(&x[0].t()?);
    let tr = |x: &[Tensor]| x[0].t()?.gelu();
    check(&t, &tr, &[random(&[6, 9], 3)?])?;
    finite_difference(&f, &[random(&[2, 5], 4)?])
}

#[test]
fn masks_give_each_position_a_prefix_of_the_keys() {
    let keys = 9;
    let visible = |m: Mask| (0..keys).map(|p| m.visible(p, keys)).collect::<Vec<_>>();
    assert_eq!(visible(Mask::Full), vec![9; 9]);
    assert_eq!(visible(Mask::Causal), (1..=9).collect::<Vec<_>>());
    // Two causal prefix positions, then blocks of three: a block sees itself whole; the last
    // block is cut at the keys there are.
    assert_eq!(visible(Mask::Blocks { prefix: 2, block: 3 }), vec![1, 2, 5, 5, 5, 8, 8, 8, 9]);
}

#[test]
fn layer_norm_matches_slow_reference() -> Result<()> {
    let f = |x: &[Tensor]| layer_norm(&x[0], &x[1], &x[2], 1e-5);
    let r = |x: &[Tensor]| candle_nn::ops::layer_norm_slow(&x[0], &x[1], &x[2], 1e-5);
    for (shape, seed) in [(vec![3, 11, 24], 10), (vec![1, 1, 24], 11), (vec![70, 24], 12)] {
        check(&f, &r, &[random(&shape, seed)?, random(&[24], seed + 100)?, random(&[24], seed + 200)?])?;
    }
    let t = |x: &[Tensor]| layer_norm(&x[0].transpose(0, 1)?, &x[1], &x[2], 1e-5);
    let tr = |x: &[Tensor]| candle_nn::ops::layer_norm_slow(&x[0].transpose(0, 1)?.contiguous()?, &x[1], &x[2], 1e-5);
    check(&t, &tr, &[random(&[5, 4, 8], 13)?, random(&[8], 14)?, random(&[8], 15)?])?;
    let (x, w, b) = (random(&[2, 6], 16)?, random(&[6], 17)?, random(&[6], 18)?);
    finite_difference(&f, &[x.clone(), w.clone(), b.clone()])?;
    finite_difference(&|v: &[Tensor]| layer_norm(&v[1], &v[0], &v[2], 1e-5), &[w, x, b])
}

#[test]
fn nll_matches_log_softmax_reference() -> Result<()> {
    let targets = |n: usize, v: usize| Tensor::from_vec((0..n).map(|i| ((i * 7 + 3) % v) as u32).collect::<Vec<_>>(), n, &Device::Cpu);
    for (n, v, seed) in [(37, 50, 20), (1, 9, 21)] {
        let t = targets(n, v)?;
        let f = |x: &[Tensor]| nll(&x[0], &t);
        let r = |x: &[Tensor]| nll_reference(&x[0], &t);
        check(&f, &r, &[random(&[n, v], seed)?])?;
        let fm = |x: &[Tensor]| cross_entropy(&x[0], &t);
        let rm = |x: &[Tensor]| candle_nn::loss::cross_entropy(&x[0], &t);
        check(&fm, &rm, &[random(&[n, v], seed)?])?;
    }
    let t = targets(6, 4)?;
    let strided = |x: &[Tensor]| nll(&x[0].t()?, &t);
    let strided_ref = |x: &[Tensor]| nll_reference(&x[0].t()?, &t);
    check(&strided, &strided_ref, &[random(&[4, 6], 22)?])?;
    finite_difference(&|x: &[Tensor]| nll(&x[0], &t), &[random(&[6, 4], 23)?])?;
    // A target outside the classes is an error, not a read out of bounds.
    let bad = Tensor::from_vec(vec![9u32], 1, &Device::Cpu)?;
    assert!(nll(&random(&[1, 4], 24)?, &bad).is_err());
    Ok(())
}

#[test]
fn linear_matches_matmul_reference() -> Result<()> {
    let f = |x: &[Tensor]| linear(&x[0], &x[1], Some(&x[2]));
    let r = |x: &[Tensor]| linear_reference(&x[0], &x[1], Some(&x[2]));
    for (shape, seed) in [(vec![3, 5, 7], 40), (vec![1, 1, 7], 41), (vec![9, 7], 42)] {
        check(&f, &r, &[random(&shape, seed)?, random(&[4, 7], seed + 1)?, random(&[4], seed + 2)?])?;
    }
    let nb = |x: &[Tensor]| linear(&x[0], &x[1], None);
    let nbr = |x: &[Tensor]| linear_reference(&x[0], &x[1], None);
    check(&nb, &nbr, &[random(&[2, 6, 7], 43)?, random(&[5, 7], 44)?])?;
    // Strided input and a narrowed weight, as the codebook-restricted head uses.
    let st = |x: &[Tensor]| linear(&x[0].transpose(0, 1)?, &x[1].narrow(0, 0, 3)?, None);
    let str = |x: &[Tensor]| linear_reference(&x[0].transpose(0, 1)?, &x[1].narrow(0, 0, 3)?, None);
    check(&st, &str, &[random(&[7, 4], 45)?, random(&[6, 7], 46)?])?;
    let (x, w, b) = (random(&[3, 4], 47)?, random(&[2, 4], 48)?, random(&[2], 49)?);
    finite_difference(&f, &[x.clone(), w.clone(), b.clone()])?;
    finite_difference(&|v: &[Tensor]| linear(&v[1], &v[0], Some(&v[2])), &[w.clone(), x.clone(), b.clone()])?;
    finite_difference(&|v: &[Tensor]| linear(&v[1], &v[2], Some(&v[0])), &[b, x, w])
}

#[test]
fn attention_matches_composed_reference() -> Result<()> {
    for mask in [Mask::Full, Mask::Causal, Mask::Blocks { prefix: 1, block: 2 }, Mask::Blocks { prefix: 0, block: 4 }] {
        let f = move |x: &[Tensor]| attention(&x[0], 2, mask);
        let r = move |x: &[Tensor]| attention_reference(&x[0], 2, mask);
        check(&f, &r, &[random(&[2, 5, 24], 50)?])?;
        check(&f, &r, &[random(&[1, 1, 24], 51)?])?;
        check(&f, &r, &[random(&[1, 70, 12], 52)?])?;
        // Strided: the packed input as a transposed view.
        let st = move |x: &[Tensor]| attention(&x[0].transpose(1, 2)?, 2, mask);
        let str = move |x: &[Tensor]| attention_reference(&x[0].transpose(1, 2)?, 2, mask);
        check(&st, &str, &[random(&[2, 12, 4], 53)?])?;
        finite_difference(&f, &[random(&[1, 3, 12], 54)?])?;
        // A second backward pass over the same graph recomputes the probabilities it handed over.
        let x = Var::from_tensor(&random(&[2, 5, 24], 55)?)?;
        let loss = (attention(x.as_tensor(), 2, mask)? * random(&[2, 5, 8], 56)?)?.sum_all()?;
        let (g1, g2) = (loss.backward()?, loss.backward()?);
        let (a, b) = (g1.get(x.as_tensor()).expect("grad"), g2.get(x.as_tensor()).expect("grad"));
        assert_eq!(a.flatten_all()?.to_vec1::<f32>()?, b.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(())
}

#[test]
fn fast_tanh_matches_libm() {
    let mut worst = 0f32;
    for i in -200_000..=200_000 {
        let x = i as f32 * 1e-4;
        worst = worst.max((fast_tanh(x) - x.tanh()).abs());
    }
    assert!(worst < 1e-6, "largest error {worst}");
    assert!(fast_tanh(50.0) <= 1.0 && 1.0 - fast_tanh(50.0) < 1e-6 && fast_tanh(-50.0) == -fast_tanh(50.0));
}
