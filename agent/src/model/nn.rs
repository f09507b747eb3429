//! Transformer parts: dense layers, layer norm, masked attention, the MLP and
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

    /// Attend over `x` `[b, t, d]`: row `i` sees the keys `mask` gives position `i`. One
    /// fused node per attention.
    pub fn forward(&self, x: &Tensor, mask: ops::Mask) -> Result<Tensor> {
        self.proj.forward(&ops::attention(&self.qkv.forward(x)?, self.heads, mask)?)
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

    /// Apply the block under `mask`.
    pub fn forward(&self, x: &Tensor, mask: ops::Mask) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln1.forward(x)?, mask)?)?;
        &x + self.mlp.forward(&self.ln2.forward(&x)?)?
    }
}
