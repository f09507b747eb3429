//! The frame tokenizer: frames are cut into patches, a transformer encoder maps each patch to a
//! few FSQ channels (one token per patch), and a transformer decoder maps the grid of quantised
//! tokens back to pixels. Patches rather than convolutions: everything is a matrix product,
//! which candle runs at full speed on CPU.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::fsq::Fsq;
use super::nn::{Block, Dense, LayerNorm};
use super::ops::Mask;
use crate::config::Config;

/// Patch transformer autoencoder with an FSQ bottleneck.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    patch_in: Dense,
    enc_pos: Tensor,
    encoder: Vec<Block>,
    enc_norm: LayerNorm,
    to_code: Dense,
    from_code: Dense,
    dec_pos: Tensor,
    decoder: Vec<Block>,
    dec_norm: LayerNorm,
    patch_out: Dense,
    fsq: Fsq,
    patch: usize,
    grid: usize,
}

/// The pixels of u8 frames `[n, h, w, 3]` in `[-1, 1]`, patch by patch (`grid` × `grid` patches of
/// `patch` pixels, in raster order), and within a patch in `order` (`(x, y)` positions): one pass
/// over the bytes, on the CPU.
pub(super) fn patch_pixels(frames: &Tensor, grid: usize, patch: usize, order: &[(usize, usize)]) -> Result<Vec<f32>> {
    let bytes: Vec<u8> = frames.flatten_all()?.to_vec1()?;
    let w = grid * patch;
    let mut out = Vec::with_capacity(bytes.len());
    for img in bytes.chunks_exact(w * w * 3) {
        for gy in 0..grid {
            for gx in 0..grid {
                for &(x, y) in order {
                    let at = ((gy * patch + y) * w + gx * patch + x) * 3;
                    out.extend(img[at..at + 3].iter().map(|&b| f32::from(b) / 127.5 - 1.0));
                }
            }
        }
    }
    Ok(out)
}

impl Tokenizer {
    /// Build from `cfg.tokenizer`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let t = &cfg.tokenizer;
        let grid = cfg.image_size / t.patch;
        let p = grid * grid;
        let pixels = t.patch * t.patch * 3;
        let pos = Init::Randn { mean: 0.0, stdev: 0.02 };
        Ok(Self {
            patch_in: Dense::new(pixels, t.dim, vb.pp("patch_in"))?,
            enc_pos: vb.get_with_hints((p, t.dim), "enc_pos", pos)?,
            encoder: (0..t.encoder_layers).map(|i| Block::new(t.dim, t.heads, vb.pp(format!("encoder.{i}")))).collect::<Result<_>>()?,
            enc_norm: LayerNorm::new(t.dim, vb.pp("enc_norm"))?,
            to_code: Dense::new(t.dim, t.levels.len(), vb.pp("to_code"))?,
            from_code: Dense::new(t.levels.len(), t.dim, vb.pp("from_code"))?,
            dec_pos: vb.get_with_hints((p, t.dim), "dec_pos", pos)?,
            decoder: (0..t.decoder_layers).map(|i| Block::new(t.dim, t.heads, vb.pp(format!("decoder.{i}")))).collect::<Result<_>>()?,
            dec_norm: LayerNorm::new(t.dim, vb.pp("dec_norm"))?,
            patch_out: Dense::new(t.dim, pixels, vb.pp("patch_out"))?,
            fsq: Fsq::new(&t.levels, vb.device())?,
            patch: t.patch,
            grid,
        })
    }

    /// Tokens per frame.
    pub fn tokens(&self) -> usize {
        self.grid * self.grid
    }

    /// u8 frames `[n, h, w, 3]` → patches `[n, p, patch·patch·3]` in `[-1, 1]`. Frames are
    /// constants (no gradient flows into them), so on the CPU the patches are laid out in one
    /// pass over the bytes rather than through a permute and its strided copy.
    fn patchify(&self, frames: &Tensor) -> Result<Tensor> {
        let n = frames.dims()[0];
        let (g, s) = (self.grid, self.patch);
        if !frames.device().is_cpu() {
            let x = ((frames.to_dtype(DType::F32)? / 127.5)? - 1.0)?;
            return x.reshape((n, g, s, g, s, 3))?.permute((0, 1, 3, 2, 4, 5))?.reshape((n, g * g, s * s * 3));
        }
        let raster: Vec<(usize, usize)> = (0..s).flat_map(|y| (0..s).map(move |x| (x, y))).collect();
        Tensor::from_vec(patch_pixels(frames, g, s, &raster)?, (n, g * g, s * s * 3), frames.device())
    }

    /// Patches `[n, p, patch·patch·3]` in `[-1, 1]` → images `[n, h, w, 3]` in `[0, 1]`.
    fn unpatchify(&self, patches: &Tensor) -> Result<Tensor> {
        let n = patches.dims()[0];
        let (g, s) = (self.grid, self.patch);
        let x = patches.reshape((n, g, g, s, s, 3))?.permute((0, 1, 3, 2, 4, 5))?.reshape((n, g * s, g * s, 3))?;
        (x + 1.0)? / 2.0
    }

    fn encode_latent(&self, frames: &Tensor) -> Result<Tensor> {
        self.encode_patches(&self.patchify(frames)?)
    }

    /// Latents `[n, p, channels]` of patches `[n, p, patch·patch·3]`.
    fn encode_patches(&self, patches: &Tensor) -> Result<Tensor> {
        let mut x = self.patch_in.forward(patches)?.broadcast_add(&self.enc_pos)?;
        for b in &self.encoder {
            x = b.forward(&x, Mask::Full)?;
        }
        self.to_code.forward(&self.enc_norm.forward(&x)?)
    }

    fn decode_values(&self, q: &Tensor) -> Result<Tensor> {
        self.unpatchify(&self.decode_patches(q)?)
    }

    /// Patches `[n, p, patch·patch·3]` in `[-1, 1]` of quantised values.
    fn decode_patches(&self, q: &Tensor) -> Result<Tensor> {
        let mut x = self.from_code.forward(q)?.broadcast_add(&self.dec_pos)?;
        for b in &self.decoder {
            x = b.forward(&x, Mask::Full)?;
        }
        self.patch_out.forward(&self.dec_norm.forward(&x)?)
    }

    /// Reconstruct u8 frames `[n, h, w, 3]` through the quantiser (straight-through gradient);
    /// returns f32 images in `[0, 1]` (unclamped, for the loss).
    pub fn reconstruct(&self, frames: &Tensor) -> Result<Tensor> {
        self.decode_values(&self.fsq.quantize(&self.encode_latent(frames)?)?)
    }

    /// Token codes `[n, p]` (u32) of u8 frames `[n, h, w, 3]`.
    pub fn encode(&self, frames: &Tensor) -> Result<Tensor> {
        self.fsq.codes(&self.fsq.quantize(&self.encode_latent(frames)?)?)
    }

    /// Images `[n, h, w, 3]` in `[0, 1]` of codes `[n, p]`.
    pub fn decode(&self, codes: &Tensor) -> Result<Tensor> {
        self.decode_values(&self.fsq.values(codes)?)?.clamp(0.0, 1.0)
    }

    /// Mean squared error of the reconstruction against the frames, in `[0, 1]` units. Computed
    /// in patch layout: a pixel in `[0, 1]` is half its patch value plus one half, so the error
    /// is a quarter of the patches' squared error, with no unpatchify copy in either direction.
    pub fn loss(&self, frames: &Tensor) -> Result<Tensor> {
        let x = self.patchify(frames)?;
        let out = self.decode_patches(&self.fsq.quantize(&self.encode_patches(&x)?)?)?;
        (out - x)?.sqr()?.mean_all()? / 4.0
    }

    /// Images as u8 `[n, h, w, 3]`.
    pub fn to_u8(images: &Tensor) -> Result<Tensor> {
        (images.clamp(0.0, 1.0)? * 255.0)?.round()?.to_dtype(DType::U8)
    }
}

