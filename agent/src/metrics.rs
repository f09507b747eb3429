//! Image quality: MSE, PSNR and SSIM of frames in `[0, 1]`, `[n, h, w, 3]`.

use candle_core::{DType, Result, Tensor};

/// Mean squared error of each image pair.
pub fn mse(a: &Tensor, b: &Tensor) -> Result<Vec<f64>> {
    let n = a.dims()[0];
    let m: Vec<f32> = (a.to_dtype(DType::F32)? - b.to_dtype(DType::F32)?)?.sqr()?.reshape((n, ()))?.mean(1)?.to_vec1()?;
    Ok(m.into_iter().map(f64::from).collect())
}

/// PSNR in dB of a mean squared error (capped at 100 dB).
///
/// Evaluations report the PSNR of the mean MSE over all their frames, not the mean of per-frame
/// PSNRs: consecutive frames are often identical here (an action that changes nothing), and
/// their infinite per-frame PSNR would swamp any mean.
pub fn psnr_of_mse(mse: f64) -> f64 {
    if mse <= 1e-10 { 100.0 } else { -10.0 * mse.log10() }
}


/// Mean SSIM of each image pair: 7×7 uniform windows, every channel, constants
/// `(0.01)²` and `(0.03)²` for a data range of 1 (as scikit-image's defaults).
pub fn ssim(a: &Tensor, b: &Tensor) -> Result<Vec<f64>> {
    let (n, h, w, c) = a.dims4()?;
    let a: Vec<f32> = a.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    let b: Vec<f32> = b.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    const WIN: usize = 7;
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let count = (WIN * WIN) as f64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let px = |v: &[f32], y: usize, x: usize, ch: usize| f64::from(v[((i * h + y) * w + x) * c + ch]);
        let (mut total, mut windows) = (0.0, 0usize);
        for ch in 0..c {
            for y0 in 0..=h.saturating_sub(WIN) {
                for x0 in 0..=w.saturating_sub(WIN) {
                    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
                    for y in y0..y0 + WIN {
                        for x in x0..x0 + WIN {
                            let (p, q) = (px(&a, y, x, ch), px(&b, y, x, ch));
                            sa += p;
                            sb += q;
                            saa += p * p;
                            sbb += q * q;
                            sab += p * q;
                        }
                    }
                    let (ma, mb) = (sa / count, sb / count);
                    // Sample (co)variances, as scikit-image computes them.
                    let k = count / (count - 1.0);
                    let va = (saa / count - ma * ma) * k;
                    let vb = (sbb / count - mb * mb) * k;
                    let cov = (sab / count - ma * mb) * k;
                    total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
                    windows += 1;
                }
            }
        }
        out.push(total / windows.max(1) as f64);
    }
    Ok(out)
}

/// Mean of a list (0 for an empty one).
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn psnr_and_ssim_match_hand_computed_values() -> Result<()> {
        // Every pixel off by 0.1: MSE 0.01, PSNR 20 dB.
        let a = Tensor::full(0.5f32, (2, 8, 8, 3), &Device::Cpu)?;
        let b = Tensor::full(0.6f32, (2, 8, 8, 3), &Device::Cpu)?;
        for m in mse(&a, &b)? {
            let p = psnr_of_mse(m);
            assert!((p - 20.0).abs() < 1e-4, "{p}");
        }
        assert_eq!(mse(&a, &a)?.into_iter().map(psnr_of_mse).collect::<Vec<_>>(), vec![100.0, 100.0]);
        let same = ssim(&a, &a)?;
        assert!(same.iter().all(|s| (s - 1.0).abs() < 1e-9));
        // Constant images: SSIM = (2·0.5·0.6 + c1) / (0.25 + 0.36 + c1).
        let c1 = 1e-4;
        let expected = (2.0 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1);
        assert!(ssim(&a, &b)?.iter().all(|s| (s - expected).abs() < 1e-4));
        Ok(())
    }
}
