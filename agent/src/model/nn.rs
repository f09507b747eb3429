//! Transformer parts: dense layers, layer norm, attention with an optional KV cache, the MLP and
//! the pre-norm block, built on the fused operations of [`super::ops`].

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, Linear, VarBuilder};

use super::ops;

/// Layer normalisation over the last dimension, through [`ops::layer_norm`] (candle-nn's fused
/// `LayerNorm` has no backward pass).
#[derive(Clone, Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    /// Scale 1, shift 0.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { weight: vb.get_with_hints(dim, "weight", Init::Const(1.0))?, bias: vb.get_with_hints(dim, "bias", Init::Const(0.0))? })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::layer_norm(x, &self.weight, &self.bias, 1e-5)
    }
}

/// A linear layer: candle-nn's weights, names and initialisation, applied through the fused
/// [`ops::linear`].
#[derive(Clone, Debug)]
pub struct Dense(Linear);

impl Dense {
    /// `inp` → `out` with a bias.
    pub fn new(inp: usize, out: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self(candle_nn::linear(inp, out, vb)?))
    }

    /// `inp` → `out` without a bias.
    pub fn no_bias(inp: usize, out: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self(candle_nn::linear_no_bias(inp, out, vb)?))
    }

    /// A layer of the given weight `[out, in]` and bias `[out]`.
    pub fn from_parts(weight: Tensor, bias: Option<Tensor>) -> Self {
        Self(Linear::new(weight, bias))
    }

    /// The weight, `[out, in]`.
    pub fn weight(&self) -> &Tensor {
        self.0.weight()
    }
}

impl Module for Dense {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::linear(x, self.0.weight(), self.0.bias())
    }
}

/// Two linear layers with a GELU between them, 4× wide.
#[derive(Clone, Debug)]
pub struct Mlp {
    fc: Dense,
    proj: Dense,
}

impl Mlp {
    /// An MLP of width `dim`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { fc: Dense::new(dim, 4 * dim, vb.pp("fc"))?, proj: Dense::new(4 * dim, dim, vb.pp("proj"))? })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.proj.forward(&ops::gelu(&self.fc.forward(x)?)?)
    }
}

/// Keys and values of the positions already processed, per layer, for step-by-step generation,
/// in buffers allocated once for the whole sequence (appending copies into place instead of
/// concatenating a new tensor per token).
#[derive(Clone, Debug)]
pub struct KvCache {
    kv: candle_nn::kv_cache::KvCache,
}

impl KvCache {
    /// A cache with room for `max_len` positions.
    pub fn new(max_len: usize) -> Self {
        Self { kv: candle_nn::kv_cache::KvCache::new(2, max_len) }
    }

    /// Positions cached.
    pub fn len(&self) -> usize {
        self.kv.current_seq_len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Multi-head self-attention.
#[derive(Clone, Debug)]
pub struct Attention {
    qkv: Dense,
    proj: Dense,
    heads: usize,
}

impl Attention {
    /// `heads` heads over width `dim`.
    pub fn new(dim: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { qkv: Dense::new(dim, 3 * dim, vb.pp("qkv"))?, proj: Dense::new(dim, dim, vb.pp("proj"))?, heads })
    }

    /// Attend over `x` `[b, t, d]` (and what `cache` holds before it): the rows of `x` sit at
    /// absolute positions `offset..offset + t` and see the keys `mask` gives them.
    pub fn forward(&self, x: &Tensor, mask: ops::Mask, offset: usize, cache: Option<&mut KvCache>) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let hd = d / self.heads;
        let qkv = self.qkv.forward(x)?; // [b, t, 3d]
        let Some(cache) = cache else {
            // Training and full-sequence passes: one fused node per attention.
            if offset > 0 {
                candle_core::bail!("an offset needs the KV cache of the earlier positions");
            }
            return self.proj.forward(&ops::attention(&qkv, self.heads, mask)?);
        };
        let qkv = qkv.reshape((b, t, 3, self.heads, hd))?.permute((2, 0, 3, 1, 4))?;
        let q = qkv.get(0)?.contiguous()?;
        let (k, v) = cache.kv.append(&qkv.get(1)?.contiguous()?, &qkv.get(2)?.contiguous()?)?;
        // The transposed view goes to the matrix product as it is (no copy); the scale and the
        // mask are applied inside the fused softmax.
        let scores = q.matmul(&k.t()?)?; // [b, h, t, cached + t]
        let att = ops::softmax(&scores, 1.0 / (hd as f64).sqrt(), mask, offset)?;
        let y = att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.proj.forward(&y)
    }
}

/// Pre-norm transformer block.
#[derive(Clone, Debug)]
pub struct Block {
    pub(crate) ln1: LayerNorm,
    pub(crate) attn: Attention,
    pub(crate) ln2: LayerNorm,
    pub(crate) mlp: Mlp,
}

impl Block {
    /// A block of width `dim`.
    pub fn new(dim: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            ln1: LayerNorm::new(dim, vb.pp("ln1"))?,
            attn: Attention::new(dim, heads, vb.pp("attn"))?,
            ln2: LayerNorm::new(dim, vb.pp("ln2"))?,
            mlp: Mlp::new(dim, vb.pp("mlp"))?,
        })
    }

    /// Apply the block to rows at positions `offset..` under `mask`.
    pub fn forward(&self, x: &Tensor, mask: ops::Mask, offset: usize, cache: Option<&mut KvCache>) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln1.forward(x)?, mask, offset, cache)?)?;
        &x + self.mlp.forward(&self.ln2.forward(&x)?)?
    }
}
