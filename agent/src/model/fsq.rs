//! Finite scalar quantisation (Mentzer et al., 2023): each latent channel is bounded and rounded
//! to one of a few levels; the code is the mixed-radix number of the rounded channels. There is
//! no codebook to learn or collapse, and no commitment loss.

use candle_core::{Device, Result, Tensor};

/// The quantiser for a list of odd level counts.
#[derive(Clone, Debug)]
pub struct Fsq {
    levels: Vec<u32>,
    half: Tensor,
}

impl Fsq {
    /// Levels per channel (odd, so zero is a level and rounding is symmetric).
    pub fn new(levels: &[u32], device: &Device) -> Result<Self> {
        let half: Vec<f32> = levels.iter().map(|&l| ((l - 1) / 2) as f32).collect();
        Ok(Self { levels: levels.to_vec(), half: Tensor::from_vec(half, levels.len(), device)? })
    }

    /// Channels per token.
    pub fn channels(&self) -> usize {
        self.levels.len()
    }

    /// Codebook size.
    pub fn codebook(&self) -> usize {
        self.levels.iter().map(|&l| l as usize).product()
    }

    /// Bound `z` (`[.., channels]`) and round it with a straight-through gradient; the result is
    /// in `[-1, 1]`.
    pub fn quantize(&self, z: &Tensor) -> Result<Tensor> {
        let bounded = z.tanh()?.broadcast_mul(&self.half)?;
        let rounded = bounded.round()?;
        let st = (&bounded + (rounded - &bounded)?.detach())?;
        st.broadcast_div(&self.half)
    }

    /// Codes of quantised values (`[n, p, channels]` in `[-1, 1]`) → `[n, p]` u32.
    pub fn codes(&self, q: &Tensor) -> Result<Tensor> {
        let (n, p, c) = q.dims3()?;
        let ints: Vec<f32> = q.broadcast_mul(&self.half)?.flatten_all()?.to_vec1()?;
        let mut out = Vec::with_capacity(n * p);
        for token in ints.chunks_exact(c) {
            let mut code = 0u32;
            for (k, &v) in token.iter().enumerate().rev() {
                let half = (self.levels[k] - 1) / 2;
                let digit = (v.round() as i64 + i64::from(half)).clamp(0, i64::from(self.levels[k] - 1)) as u32;
                code = code * self.levels[k] + digit;
            }
            out.push(code);
        }
        Tensor::from_vec(out, (n, p), q.device())
    }

    /// Quantised values `[n, p, channels]` of codes `[n, p]`.
    pub fn values(&self, codes: &Tensor) -> Result<Tensor> {
        let (n, p) = codes.dims2()?;
        let c = self.channels();
        let codes: Vec<u32> = codes.flatten_all()?.to_vec1()?;
        let mut out = Vec::with_capacity(n * p * c);
        for mut code in codes {
            for &l in &self.levels {
                let half = ((l - 1) / 2) as f32;
                out.push(((code % l) as f32 - half) / half);
                code /= l;
            }
        }
        Tensor::from_vec(out, (n, p, c), self.half.device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_values_round_trip() -> Result<()> {
        let fsq = Fsq::new(&[7, 5, 3], &Device::Cpu)?;
        assert_eq!(fsq.codebook(), 105);
        let all: Vec<u32> = (0..105).collect();
        let codes = Tensor::from_vec(all.clone(), (1, 105), &Device::Cpu)?;
        let back: Vec<u32> = fsq.codes(&fsq.values(&codes)?)?.flatten_all()?.to_vec1()?;
        assert_eq!(back, all);
        // Quantised values sit on the grid and stay within [-1, 1].
        let z = Tensor::from_vec(vec![-5.0f32, 0.2, 0.9, 3.0, -0.1, 0.0], (1, 2, 3), &Device::Cpu)?;
        let q: Vec<f32> = fsq.quantize(&z)?.flatten_all()?.to_vec1()?;
        assert!(q.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert_eq!(q[0], -1.0);
        Ok(())
    }
}
