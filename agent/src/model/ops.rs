//! Fused CPU operations with hand-written backward passes: linear layers, multi-head attention,
//! layer norm, tanh-GELU, and per-row softmax cross-entropy.
//!
//! candle builds each of these from many small ops, each with its own backward node, fresh
//! buffers and a single-threaded loop; that is where a training step lost 3–4× against PyTorch.
//! Here each is one pass forward and one pass backward over contiguous f32 rows, split over the
//! rayon pool in fixed chunks. Every sum across rows adds its chunk partials in chunk order, so
//! results do not depend on the thread count or timing. On other devices and dtypes each
//! function falls back to the composed reference it is tested against.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, D, DType, Layout, Result, Shape, Storage, Tensor, bail};
use rayon::prelude::*;

use super::matmul::{View, Write, matmul};

/// Elements per parallel task for elementwise work: large enough that scheduling is noise.
const ELEMS_PER_TASK: usize = 16 * 1024;

/// Whether the fused CPU kernels apply to `t`.
pub(crate) fn fused(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

/// The contiguous f32 data of a CPU storage.
fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{what}: the fused kernel needs a contiguous input"),
    }
}

/// Run `f` on the contiguous f32 data of CPU tensor `t`.
pub(crate) fn read<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(s) => f(slice(s, layout, "read")?),
        _ => bail!("the fused kernels run on CPU tensors only"),
    }
}

fn cpu_tensor(data: Vec<f32>, shape: &Shape) -> Result<Tensor> {
    Tensor::from_vec(data, shape.clone(), &candle_core::Device::Cpu)
}

/// Which keys a query sees. Every mask here lets a query see a prefix of the keys, so it is one
/// number per row and never a mask tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// Every key.
    Full,
    /// Keys up to and including the query's own position.
    Causal,
    /// Block-causal: the first `prefix` positions are causal, the rest fall in blocks of `block`
    /// positions, and a query sees every key up to the end of its own block. This is the world
    /// model's mask: all tokens of a frame's block see each other (and the block's action), so
    /// the whole next frame is predicted in one pass.
    Blocks {
        /// Causal positions before the first block (the instruction).
        prefix: usize,
        /// Positions per block.
        block: usize,
    },
}

impl Mask {
    /// Keys visible to the query at absolute position `pos`, of `keys` keys in all.
    pub fn visible(self, pos: usize, keys: usize) -> usize {
        let end = match self {
            Mask::Full => keys,
            Mask::Causal => pos + 1,
            Mask::Blocks { prefix, .. } if pos < prefix => pos + 1,
            Mask::Blocks { prefix, block } => prefix + ((pos - prefix) / block + 1) * block,
        };
        end.min(keys)
    }

    /// The additive mask `[t, s]` (0 or −∞) of queries at positions `0..t` over keys `0..s`,
    /// for the composed reference.
    fn tensor(self, t: usize, s: usize, device: &candle_core::Device) -> Result<Tensor> {
        let mask: Vec<f32> = (0..t).flat_map(|i| (0..s).map(move |j| if j < self.visible(i, s) { 0.0 } else { f32::NEG_INFINITY })).collect();
        Tensor::from_vec(mask, (t, s), device)
    }
}

// ---------------------------------------------------------------------------------------------
// GELU (tanh approximation, as candle's `gelu` and PyTorch's `approximate="tanh"`)

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// `tanh` as a rational function of odd degree 13 over even degree 6 on `[-7.9, 7.9]` (beyond which
/// `tanh` is ±1 in f32), accurate to a few ulp. libm's `tanhf` is a branchy scalar call that cost
/// more than the MLP's matrix products; this is straight-line arithmetic the compiler vectorises.
#[inline(always)]
fn fast_tanh(x: f32) -> f32 {
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let mut p = -2.760_768_5e-16_f32;
    p = p * x2 + 2.000_188e-13;
    p = p * x2 - 8.604_672e-11;
    p = p * x2 + 5.122_297e-8;
    p = p * x2 + 1.485_722_4e-5;
    p = p * x2 + 6.372_619_3e-4;
    p = p * x2 + 4.893_524_6e-3;
    let mut q = 1.198_258_4e-6_f32;
    q = q * x2 + 1.185_347_1e-4;
    q = q * x2 + 2.268_434_6e-3;
    q = q * x2 + 4.893_525e-3;
    x * p / q
}

fn gelu_value(x: f32) -> f32 {
    0.5 * x * (1.0 + fast_tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)))
}

fn gelu_slope(x: f32) -> f32 {
    let t = fast_tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x)
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "sandtable-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(s, l, self.name())?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(ELEMS_PER_TASK).zip(x.par_chunks(ELEMS_PER_TASK)).for_each(|(y, x)| {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = gelu_value(x);
            }
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let dx = read(arg, |x| {
            read(grad, |g| {
                let mut dx = vec![0f32; x.len()];
                dx.par_chunks_mut(ELEMS_PER_TASK).zip(x.par_chunks(ELEMS_PER_TASK).zip(g.par_chunks(ELEMS_PER_TASK))).for_each(|(dx, (x, g))| {
                    for ((dx, &x), &g) in dx.iter_mut().zip(x).zip(g) {
                        *dx = g * gelu_slope(x);
                    }
                });
                Ok(dx)
            })
        })?;
        Ok(Some(cpu_tensor(dx, arg.shape())?))
    }
}

/// GELU with the tanh approximation.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if !fused(x) {
        return x.gelu();
    }
    x.contiguous()?.apply_op1(Gelu)
}

// ---------------------------------------------------------------------------------------------
// Masked row softmax (the attention's), and its composed reference

/// Softmax of `scale · row` over its first `n` entries, in place; the rest (masked) become 0.
fn softmax_row(row: &mut [f32], n: usize, scale: f32) {
    let max = row[..n].iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v * scale));
    let mut sum = 0f32;
    for v in &mut row[..n] {
        *v = (*v * scale - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in &mut row[..n] {
        *v *= inv;
    }
    row[n..].fill(0.0);
}

/// The backward pass of [`softmax_row`], in place: `d` holds the gradient of the probabilities
/// `y` and becomes that of the scores, `scale · y · (d − y·d)`; masked entries (past `n`) get 0.
fn softmax_row_grad(d: &mut [f32], y: &[f32], n: usize, scale: f32) {
    let dot: f32 = y[..n].iter().zip(&d[..n]).map(|(y, g)| y * g).sum();
    for (d, &y) in d[..n].iter_mut().zip(&y[..n]) {
        *d = scale * y * (*d - dot);
    }
    d[n..].fill(0.0);
}

/// Rows per parallel task of a row-wise kernel with rows of `width` elements.
fn rows_per_task(width: usize) -> usize {
    (ELEMS_PER_TASK / width.max(1)).max(1)
}

/// `softmax(scale · x)` over the last dimension, row `i` of each `[t, s]` matrix seeing the
/// columns `mask` gives position `i`, composed from candle ops (with candle's own backward
/// passes): the reference the fused attention is tested against.
pub fn softmax_reference(x: &Tensor, scale: f64, mask: Mask) -> Result<Tensor> {
    let x = (x * scale)?;
    let x = match mask {
        Mask::Full => x,
        _ => {
            let (t, s) = (x.dim(D::Minus2)?, x.dim(D::Minus1)?);
            x.broadcast_add(&mask.tensor(t, s, x.device())?.to_dtype(x.dtype())?)?
        }
    };
    candle_nn::ops::softmax(&x, D::Minus1)
}

// ---------------------------------------------------------------------------------------------
// Layer norm over the last dimension

struct LayerNormOp {
    eps: f32,
}

impl LayerNormOp {
    /// Mean and reciprocal standard deviation of one row.
    fn stats(&self, x: &[f32]) -> (f32, f32) {
        let d = x.len() as f32;
        let mean = x.iter().sum::<f32>() / d;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d;
        (mean, 1.0 / (var + self.eps).sqrt())
    }
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "sandtable-layer-norm"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(s1, l1, self.name())?;
        let (w, b) = (slice(s2, l2, self.name())?, slice(s3, l3, self.name())?);
        let d = w.len();
        if b.len() != d || l1.shape().dims().last() != Some(&d) {
            bail!("layer norm: input {:?}, weight {d}, bias {}", l1.shape().dims(), b.len());
        }
        let mut y = vec![0f32; x.len()];
        let per = rows_per_task(d);
        y.par_chunks_mut(per * d).zip(x.par_chunks(per * d)).for_each(|(y, x)| {
            for (y, x) in y.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
                let (mean, rstd) = self.stats(x);
                for (((y, &x), &w), &b) in y.iter_mut().zip(x).zip(w).zip(b) {
                    *y = (x - mean) * rstd * w + b;
                }
            }
        });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(&self, x_t: &Tensor, w_t: &Tensor, _b: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = w_t.elem_count();
        let per = rows_per_task(d);
        let (dx, dw, db) = read(x_t, |x| {
            read(w_t, |w| {
                read(grad, |g| {
                    let mut dx = vec![0f32; x.len()];
                    // One (dw, db) partial per chunk of rows, summed in chunk order below.
                    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
                        .par_chunks_mut(per * d)
                        .zip(x.par_chunks(per * d).zip(g.par_chunks(per * d)))
                        .map(|(dx, (x, g))| {
                            let (mut dw, mut db) = (vec![0f32; d], vec![0f32; d]);
                            for ((dx, x), g) in dx.chunks_exact_mut(d).zip(x.chunks_exact(d)).zip(g.chunks_exact(d)) {
                                let (mean, rstd) = self.stats(x);
                                let (mut sum_dxhat, mut sum_dxhat_xhat) = (0f32, 0f32);
                                for k in 0..d {
                                    let xhat = (x[k] - mean) * rstd;
                                    dw[k] += g[k] * xhat;
                                    db[k] += g[k];
                                    let dxhat = g[k] * w[k];
                                    sum_dxhat += dxhat;
                                    sum_dxhat_xhat += dxhat * xhat;
                                }
                                let (m1, m2) = (sum_dxhat / d as f32, sum_dxhat_xhat / d as f32);
                                for k in 0..d {
                                    let xhat = (x[k] - mean) * rstd;
                                    dx[k] = rstd * (g[k] * w[k] - m1 - xhat * m2);
                                }
                            }
                            (dw, db)
                        })
                        .collect();
                    let (mut dw, mut db) = (vec![0f32; d], vec![0f32; d]);
                    for (pw, pb) in &partials {
                        for k in 0..d {
                            dw[k] += pw[k];
                            db[k] += pb[k];
                        }
                    }
                    Ok((dx, dw, db))
                })
            })
        })?;
        Ok((Some(cpu_tensor(dx, x_t.shape())?), Some(cpu_tensor(dw, w_t.shape())?), Some(cpu_tensor(db, w_t.shape())?)))
    }
}

/// Layer normalisation of `x` over its last dimension, scaled by `w` and shifted by `b`.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    if !fused(x) {
        return candle_nn::ops::layer_norm_slow(x, w, b, eps as f32);
    }
    x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, LayerNormOp { eps: eps as f32 })
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy per row

struct Nll;

impl Nll {
    /// Log-sum-exp of a row.
    fn lse(row: &[f32]) -> f32 {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        max + row.iter().map(|&v| (v - max).exp()).sum::<f32>().ln()
    }
}

impl CustomOp2 for Nll {
    fn name(&self) -> &'static str {
        "sandtable-nll"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(s1, l1, self.name())?;
        let (n, v) = l1.shape().dims2()?;
        let targets = match (s2, l2.contiguous_offsets()) {
            (CpuStorage::U32(t), Some((a, b))) => &t[a..b],
            _ => bail!("cross-entropy targets must be contiguous u32"),
        };
        if targets.len() != n {
            bail!("cross-entropy: {n} rows of logits, {} targets", targets.len());
        }
        if let Some(&bad) = targets.iter().find(|&&t| t as usize >= v) {
            bail!("cross-entropy: target {bad} is outside the {v} classes");
        }
        let mut out = vec![0f32; n];
        let per = rows_per_task(v);
        out.par_chunks_mut(per).zip(x.par_chunks(per * v).zip(targets.par_chunks(per))).for_each(|(out, (x, t))| {
            for ((o, row), &t) in out.iter_mut().zip(x.chunks_exact(v)).zip(t) {
                *o = Self::lse(row) - row[t as usize];
            }
        });
        Ok((CpuStorage::F32(out), Shape::from(n)))
    }

    fn bwd(&self, logits: &Tensor, targets: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, v) = logits.dims2()?;
        let targets: Vec<u32> = targets.to_vec1()?;
        let per = rows_per_task(v);
        let dx = read(logits, |x| {
            read(grad, |g| {
                let mut dx = vec![0f32; x.len()];
                dx.par_chunks_mut(per * v).zip(x.par_chunks(per * v)).zip(g.par_chunks(per).zip(targets.par_chunks(per))).for_each(|((dx, x), (g, t))| {
                    for (((dx, row), &g), &t) in dx.chunks_exact_mut(v).zip(x.chunks_exact(v)).zip(g).zip(t) {
                        let lse = Self::lse(row);
                        for (d, &x) in dx.iter_mut().zip(row) {
                            *d = g * (x - lse).exp();
                        }
                        dx[t as usize] -= g;
                    }
                });
                Ok(dx)
            })
        })?;
        Ok((Some(cpu_tensor(dx, logits.shape())?), None))
    }
}

/// Per-row softmax cross-entropy `[n]` of logits `[n, v]` against u32 class indices `[n]`.
pub fn nll(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if !fused(logits) {
        return nll_reference(logits, targets);
    }
    logits.contiguous()?.apply_op2(&targets.contiguous()?, Nll)
}

/// [`nll`] composed from candle ops.
pub fn nll_reference(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    logp.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?.neg()
}

/// Mean softmax cross-entropy of logits `[n, v]` against u32 class indices `[n]`.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    nll(logits, targets)?.mean_all()
}

// ---------------------------------------------------------------------------------------------
// Linear layers: y = x·wᵀ + b

/// Rows and input width of `x` against weight `[out, in]`.
fn linear_dims(x: &Shape, w: &Shape) -> Result<(usize, usize, usize)> {
    let (out, inp) = w.dims2()?;
    match x.dims().last() {
        Some(&k) if k == inp => Ok((x.elem_count() / inp.max(1), inp, out)),
        _ => bail!("linear: input {:?} against weight {:?}", x.dims(), w.dims()),
    }
}

/// The output shape: `x`'s with the last dimension replaced by `out`.
fn linear_shape(x: &Shape, out: usize) -> Shape {
    let mut dims = x.dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = out;
    }
    Shape::from(dims)
}

fn linear_fwd(x: &[f32], w: &[f32], b: Option<&[f32]>, (n, inp, out): (usize, usize, usize)) -> Vec<f32> {
    let mut y = vec![0f32; n * out];
    let write = match b {
        Some(b) => {
            for row in y.chunks_exact_mut(out) {
                row.copy_from_slice(b);
            }
            Write::Add(1.0)
        }
        None => Write::Set(1.0),
    };
    matmul(&mut y, View::rows(0, n, out, out), x, View::rows(0, n, inp, inp), w, View::rows(0, out, inp, inp).t(), write, rayon::current_num_threads());
    y
}

/// Gradients of input, weight and (with `bias`) bias of a linear layer.
fn linear_bwd(x_t: &Tensor, w_t: &Tensor, grad: &Tensor, bias: bool) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    let (n, inp, out) = linear_dims(x_t.shape(), w_t.shape())?;
    let threads = rayon::current_num_threads();
    let (dx, dw, db) = read(x_t, |x| {
        read(w_t, |w| {
            read(grad, |g| {
                let gv = View::rows(0, n, out, out);
                let mut dx = vec![0f32; n * inp];
                matmul(&mut dx, View::rows(0, n, inp, inp), g, gv, w, View::rows(0, out, inp, inp), Write::Set(1.0), threads);
                let mut dw = vec![0f32; out * inp];
                matmul(&mut dw, View::rows(0, out, inp, inp), g, gv.t(), x, View::rows(0, n, inp, inp), Write::Set(1.0), threads);
                let db = bias.then(|| {
                    let mut db = vec![0f32; out];
                    for row in g.chunks_exact(out) {
                        for (d, &v) in db.iter_mut().zip(row) {
                            *d += v;
                        }
                    }
                    db
                });
                Ok((dx, dw, db))
            })
        })
    })?;
    let db = match db {
        Some(db) => Some(cpu_tensor(db, &Shape::from(out))?),
        None => None,
    };
    Ok((cpu_tensor(dx, x_t.shape())?, cpu_tensor(dw, w_t.shape())?, db))
}

struct LinearOp;

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "sandtable-linear"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = linear_dims(l1.shape(), l2.shape())?;
        let b = slice(s3, l3, self.name())?;
        if b.len() != dims.2 {
            bail!("linear: bias of {} for {} outputs", b.len(), dims.2);
        }
        let y = linear_fwd(slice(s1, l1, self.name())?, slice(s2, l2, self.name())?, Some(b), dims);
        Ok((CpuStorage::F32(y), linear_shape(l1.shape(), dims.2)))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _b: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = linear_bwd(x, w, grad, true)?;
        Ok((Some(dx), Some(dw), db))
    }
}

struct LinearNoBiasOp;

impl CustomOp2 for LinearNoBiasOp {
    fn name(&self) -> &'static str {
        "sandtable-linear-no-bias"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = linear_dims(l1.shape(), l2.shape())?;
        let y = linear_fwd(slice(s1, l1, self.name())?, slice(s2, l2, self.name())?, None, dims);
        Ok((CpuStorage::F32(y), linear_shape(l1.shape(), dims.2)))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = linear_bwd(x, w, grad, false)?;
        Ok((Some(dx), Some(dw)))
    }
}

/// `x·wᵀ + b` over the last dimension of `x`, with weight `[out, in]`: one autograd node, whose
/// backward writes the weight's gradient directly in its own layout.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    if !fused(x) {
        return linear_reference(x, w, b);
    }
    let (x, w) = (x.contiguous()?, w.contiguous()?);
    match b {
        Some(b) => x.apply_op3(&w, &b.contiguous()?, LinearOp),
        None => x.apply_op2(&w, LinearNoBiasOp),
    }
}

/// [`linear`] composed from candle ops.
pub fn linear_reference(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let k = w.dim(1)?;
    let y = x.reshape(((), k))?.matmul(&w.t()?)?;
    let y = match b {
        Some(b) => y.broadcast_add(b)?,
        None => y,
    };
    y.reshape(linear_shape(x.shape(), w.dim(0)?))
}

// ---------------------------------------------------------------------------------------------
// Multi-head attention over packed queries, keys and values

/// Attention of every head of every sequence, reading `[b, t, 3·d]` (queries, keys, values, each
/// `heads` heads wide) in place through strides. The forward pass keeps each head's probabilities
/// for the backward pass (`[b, heads, t, t]` floats), which recomputes them if they are absent.
struct AttentionOp {
    heads: usize,
    mask: Mask,
    probs: std::sync::Mutex<Vec<Vec<f32>>>,
}

/// Sizes of one attention call.
#[derive(Clone, Copy)]
struct AttnDims {
    b: usize,
    t: usize,
    d: usize,
    hd: usize,
}

impl AttentionOp {
    fn dims(&self, shape: &Shape) -> Result<AttnDims> {
        let (b, t, d3) = shape.dims3()?;
        if d3 % (3 * self.heads) != 0 {
            bail!("attention: width {d3} is not 3 × {} heads", self.heads);
        }
        let d = d3 / 3;
        Ok(AttnDims { b, t, d, hd: d / self.heads })
    }

    /// Views of head `h` of sequence `bi`'s queries, keys and values, each `[t, hd]`.
    fn views(&self, z: AttnDims, bi: usize, h: usize) -> (View, View, View) {
        let base = bi * z.t * 3 * z.d + h * z.hd;
        let view = |part: usize| View::rows(base + part * z.d, z.t, z.hd, 3 * z.d);
        (view(0), view(1), view(2))
    }

    /// Keys query `i` of `t` sees.
    fn visible(&self, i: usize, t: usize) -> usize {
        self.mask.visible(i, t)
    }

    /// Attention probabilities `[t, t]` of one head (masked entries 0).
    fn probs(&self, qkv: &[f32], z: AttnDims, bi: usize, h: usize) -> Vec<f32> {
        let (q, k, _) = self.views(z, bi, h);
        let t = z.t;
        let mut p = vec![0f32; t * t];
        let scale = 1.0 / (z.hd as f32).sqrt();
        matmul(&mut p, View::rows(0, t, t, t), qkv, q, qkv, k.t(), Write::Set(scale), 1);
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            // The scale is already in the product.
            softmax_row(row, self.visible(i, t), 1.0);
        }
        p
    }
}

impl CustomOp1 for AttentionOp {
    fn name(&self) -> &'static str {
        "sandtable-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let qkv = slice(s, l, self.name())?;
        let z = self.dims(l.shape())?;
        let t = z.t;
        let (heads, probs): (Vec<Vec<f32>>, Vec<Vec<f32>>) = (0..z.b * self.heads)
            .into_par_iter()
            .map(|j| {
                let (bi, h) = (j / self.heads, j % self.heads);
                let p = self.probs(qkv, z, bi, h);
                let (_, _, v) = self.views(z, bi, h);
                let mut y = vec![0f32; t * z.hd];
                matmul(&mut y, View::rows(0, t, z.hd, z.hd), &p, View::rows(0, t, t, t), qkv, v, Write::Set(1.0), 1);
                (y, p)
            })
            .unzip();
        *self.probs.lock().unwrap_or_else(|p| p.into_inner()) = probs;
        let mut y = vec![0f32; z.b * t * z.d];
        for (j, head) in heads.iter().enumerate() {
            let (bi, h) = (j / self.heads, j % self.heads);
            for (i, row) in head.chunks_exact(z.hd).enumerate() {
                let at = (bi * t + i) * z.d + h * z.hd;
                y[at..at + z.hd].copy_from_slice(row);
            }
        }
        Ok((CpuStorage::F32(y), Shape::from((z.b, t, z.d))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let z = self.dims(arg.shape())?;
        let t = z.t;
        let scale = 1.0 / (z.hd as f32).sqrt();
        let saved = std::mem::take(&mut *self.probs.lock().unwrap_or_else(|p| p.into_inner()));
        let dqkv = read(arg, |qkv| {
            read(grad, |g| {
                let heads: Vec<[Vec<f32>; 3]> = (0..z.b * self.heads)
                    .into_par_iter()
                    .map(|j| {
                        let (bi, h) = (j / self.heads, j % self.heads);
                        let (q, k, v) = self.views(z, bi, h);
                        let recomputed;
                        let p = match saved.get(j) {
                            Some(p) => p,
                            None => {
                                recomputed = self.probs(qkv, z, bi, h);
                                &recomputed
                            }
                        };
                        let pv = View::rows(0, t, t, t);
                        let dy = View::rows(bi * t * z.d + h * z.hd, t, z.hd, z.d);
                        let out = View::rows(0, t, z.hd, z.hd);
                        let mut dv = vec![0f32; t * z.hd];
                        matmul(&mut dv, out, p, pv.t(), g, dy, Write::Set(1.0), 1);
                        let mut ds = vec![0f32; t * t];
                        matmul(&mut ds, pv, g, dy, qkv, v.t(), Write::Set(1.0), 1);
                        for (i, (dsr, pr)) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)).enumerate() {
                            softmax_row_grad(dsr, pr, self.visible(i, t), scale);
                        }
                        let mut dq = vec![0f32; t * z.hd];
                        matmul(&mut dq, out, &ds, pv, qkv, k, Write::Set(1.0), 1);
                        let mut dk = vec![0f32; t * z.hd];
                        matmul(&mut dk, out, &ds, pv.t(), qkv, q, Write::Set(1.0), 1);
                        [dq, dk, dv]
                    })
                    .collect();
                let mut dqkv = vec![0f32; z.b * t * 3 * z.d];
                for (j, parts) in heads.iter().enumerate() {
                    let (bi, h) = (j / self.heads, j % self.heads);
                    for (part, grad) in parts.iter().enumerate() {
                        for (i, row) in grad.chunks_exact(z.hd).enumerate() {
                            let at = (bi * t + i) * 3 * z.d + part * z.d + h * z.hd;
                            dqkv[at..at + z.hd].copy_from_slice(row);
                        }
                    }
                }
                Ok(dqkv)
            })
        })?;
        Ok(Some(cpu_tensor(dqkv, arg.shape())?))
    }
}

/// Multi-head self-attention of packed `qkv` `[b, t, 3·d]` (all queries, then all keys, then all
/// values, each split into `heads` heads), scaled by `1/√(d/heads)`, under `mask` (positions
/// start at 0); returns the heads' outputs side by side, `[b, t, d]`.
pub fn attention(qkv: &Tensor, heads: usize, mask: Mask) -> Result<Tensor> {
    if !fused(qkv) {
        return attention_reference(qkv, heads, mask);
    }
    qkv.contiguous()?.apply_op1(AttentionOp { heads, mask, probs: Default::default() })
}

/// [`attention`] composed from candle ops.
pub fn attention_reference(qkv: &Tensor, heads: usize, mask: Mask) -> Result<Tensor> {
    let (b, t, d3) = qkv.dims3()?;
    let d = d3 / 3;
    let hd = d / heads;
    let qkv = qkv.reshape((b, t, 3, heads, hd))?.permute((2, 0, 3, 1, 4))?;
    let (q, k, v) = (qkv.get(0)?.contiguous()?, qkv.get(1)?.contiguous()?, qkv.get(2)?.contiguous()?);
    let att = softmax_reference(&q.matmul(&k.t()?)?, 1.0 / (hd as f64).sqrt(), mask)?;
    att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))
}

#[cfg(test)]
mod tests;
