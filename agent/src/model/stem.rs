//! The agent's pixel stem: continuous features of each frame patch, read from the pixels beside
//! the tokenizer's codes. A code keeps 4 quantised channels of a 16-pixel patch, enough to
//! reconstruct colour blobs but not to tell a cube from a sphere of the same colour, which is
//! what a mission names; the stem gives the policy the patch itself.
//!
//! It is a stack of 2×2 patch merges (a stride-2, kernel-2 convolution each, as matrix products):
//! level one reads 2×2 pixels, every later level 2×2 outputs of the one below, until one vector
//! covers a tokenizer patch. Pixels are laid out once in Z-order within each patch, so every merge
//! is a reshape of a contiguous tensor and a dense layer. The last layer starts at zero, so a
//! pretrained trunk starts from exactly what it was.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::nn::Dense;
use super::ops;
use super::tokenizer::patch_pixels;
use crate::config::Config;

/// Hierarchical patch-merging MLP from pixels to one vector per tokenizer patch.
#[derive(Clone, Debug)]
pub struct PixelStem {
    /// Merge layers below the last, each 4 × its input width → its width, then GELU.
    levels: Vec<Dense>,
    /// The last merge, to the trunk's width (zero at initialisation).
    out: Dense,
    patch: usize,
    grid: usize,
}

impl PixelStem {
    /// A stem for `cfg`'s image size and tokenizer patch (a power of two, at least 2), emitting
    /// vectors of the dynamics width.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let patch = cfg.tokenizer.patch;
        if patch < 2 || !patch.is_power_of_two() {
            candle_core::bail!("the pixel stem needs a power-of-two patch of at least 2 pixels, not {patch}");
        }
        let depth = patch.trailing_zeros() as usize;
        let dim = cfg.dynamics.dim;
        let (mut levels, mut width) = (Vec::new(), 3);
        for i in 0..depth - 1 {
            let next = (32 << i).min(dim);
            levels.push(Dense::new(4 * width, next, vb.pp(format!("levels.{i}")))?);
            width = next;
        }
        let weight = vb.get_with_hints((dim, 4 * width), "out.weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(dim, "out.bias", Init::Const(0.0))?;
        Ok(Self { levels, out: Dense::from_parts(weight, Some(bias)), patch, grid: cfg.image_size / patch })
    }

    /// Pixels of u8 frames `[n, h, w, 3]` in `[-1, 1]`, patch by patch in raster order, and
    /// within a patch in Z-order, so that four consecutive pixels form a 2×2 block, four
    /// consecutive blocks a 4×4 block, and so on.
    fn layout(&self, frames: &Tensor) -> Result<Vec<f32>> {
        let s = self.patch;
        // Z-order: the bits of the index within a patch alternate x and y.
        let order: Vec<(usize, usize)> = (0..s * s)
            .map(|m| {
                let (mut x, mut y) = (0, 0);
                for bit in 0..s.trailing_zeros() as usize {
                    x |= ((m >> (2 * bit)) & 1) << bit;
                    y |= ((m >> (2 * bit + 1)) & 1) << bit;
                }
                (x, y)
            })
            .collect();
        patch_pixels(frames, self.grid, s, &order)
    }
}

impl Module for PixelStem {
    /// u8 frames `[n, h, w, 3]` → features `[n, patches, dim]`.
    fn forward(&self, frames: &Tensor) -> Result<Tensor> {
        let (n, h, w, c) = frames.dims4()?;
        let side = self.grid * self.patch;
        if (h, w, c) != (side, side, 3) {
            candle_core::bail!("the pixel stem reads {side}x{side} RGB frames, not {h}x{w}x{c}");
        }
        let p = self.grid * self.grid;
        let mut x = Tensor::from_vec(self.layout(frames)?, (n * p * self.patch * self.patch, 3), frames.device())?;
        for level in &self.levels {
            let rows = x.dim(0)? / 4;
            let width = x.dim(1)?;
            x = ops::gelu(&level.forward(&x.reshape((rows, 4 * width))?)?)?;
        }
        let width = x.dim(1)?;
        self.out.forward(&x.reshape((n * p, 4 * width))?)?.reshape((n, p, ()))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Module, Tensor};
    use candle_nn::VarMap;

    use super::PixelStem;
    use crate::config::Config;
    use crate::model::SeededInit;

    /// A patch's features depend on that patch's pixels and on no other: the Z-order layout
    /// and the merges keep patches apart, and every pixel of a patch counts.
    #[test]
    fn each_patch_reads_exactly_its_own_pixels() -> candle_core::Result<()> {
        let cfg = Config::tiny();
        let map = VarMap::new();
        let stem = PixelStem::new(&cfg, SeededInit::new(map.clone(), 1).builder(&Device::Cpu))?;
        let out = map.data().lock().expect("lock")["out.weight"].clone();
        out.set(&out.as_tensor().randn_like(0.0, 0.1)?)?;
        let (side, patch) = (cfg.image_size, cfg.tokenizer.patch);
        let grid = side / patch;
        let base: Vec<u8> = (0..side * side * 3).map(|i| ((i * 37) % 256) as u8).collect();
        let features = |bytes: &[u8]| -> candle_core::Result<Vec<Vec<f32>>> { stem.forward(&Tensor::from_slice(bytes, (1, side, side, 3), &Device::Cpu)?)?.squeeze(0)?.to_vec2() };
        let before = features(&base)?;
        assert_eq!(before.len(), grid * grid);
        // Change one pixel at a time (a corner and an inner pixel of patch (1, 2)).
        for (y, x) in [(patch, 2 * patch), (patch + patch - 1, 2 * patch + 3)] {
            let mut bytes = base.clone();
            bytes[(y * side + x) * 3 + 1] ^= 0x80;
            let after = features(&bytes)?;
            for (k, (a, b)) in after.iter().zip(&before).enumerate() {
                assert_eq!(a != b, k == grid + 2, "patch {k} after a change at ({y}, {x})");
            }
        }
        Ok(())
    }
}
