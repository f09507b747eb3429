//! Bounds-checked matrix products over strided views of f32 slices, on the `gemm` crate (the
//! kernels candle itself uses). The fused layers read heads and transposes straight out of
//! their inputs through strides, with no copies and no autograd nodes in between.

use gemm::Parallelism;

/// A matrix inside a slice: element `(i, j)` is at `offset + i·row_stride + j·col_stride`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl View {
    /// A row-major `rows × cols` matrix with rows `ld` apart, starting at `offset`.
    pub fn rows(offset: usize, rows: usize, cols: usize, ld: usize) -> Self {
        Self { offset, rows, cols, row_stride: ld, col_stride: 1 }
    }

    /// The transpose of this view (no data moves).
    pub fn t(self) -> Self {
        Self { offset: self.offset, rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride }
    }

    /// One past the largest offset the view touches.
    fn end(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return self.offset;
        }
        self.offset + (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
    }
}

/// How a product is written into its destination.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Write {
    /// `dst = scale · a·b`.
    Set(f32),
    /// `dst += scale · a·b`.
    Add(f32),
}

/// `dst (+)= scale · a·b` over strided views, on `threads` threads (1 runs on the caller's).
///
/// # Panics
/// If the shapes disagree or a view reaches past its slice: both are bugs of the caller, and
/// the check is what makes the unchecked kernel call below sound.
#[expect(clippy::too_many_arguments, reason = "one product: a destination and two operands, each with its view, the write mode and the threads")]
pub(crate) fn matmul(dst: &mut [f32], d: View, a: &[f32], av: View, b: &[f32], bv: View, write: Write, threads: usize) {
    assert!(av.rows == d.rows && bv.cols == d.cols && av.cols == bv.rows, "matmul shapes {d:?} = {av:?} · {bv:?}");
    assert!(d.end() <= dst.len() && av.end() <= a.len() && bv.end() <= b.len(), "matmul view out of bounds");
    if d.rows == 0 || d.cols == 0 {
        return;
    }
    let (read_dst, scale) = match write {
        Write::Set(s) => (false, s),
        Write::Add(s) => (true, s),
    };
    let parallelism = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    let (dst, a, b) = (&mut dst[d.offset..], &a[av.offset..], &b[bv.offset..]);
    // SAFETY: every element the kernel reads or writes lies inside the slices (checked above by
    // each view's last element), `dst` is borrowed mutably so it cannot alias `a` or `b`, and
    // strides are at most a slice length, which fits in `isize`.
    #[expect(unsafe_code, reason = "the gemm kernel takes raw strided pointers; bounds are checked above")]
    unsafe {
        gemm::gemm(
            d.rows,
            d.cols,
            av.cols,
            dst.as_mut_ptr(),
            d.col_stride as isize,
            d.row_stride as isize,
            read_dst,
            a.as_ptr(),
            av.col_stride as isize,
            av.row_stride as isize,
            b.as_ptr(),
            bv.col_stride as isize,
            bv.row_stride as isize,
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_products_match_a_naive_loop() {
        // a: 3×4 inside a buffer with rows 6 apart, from offset 1; b: the transpose of a 5×4.
        let a: Vec<f32> = (0..20).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..20).map(|i| (i % 7) as f32 - 2.0).collect();
        let av = View::rows(1, 3, 4, 6);
        let bv = View::rows(0, 5, 4, 4).t();
        let mut dst = vec![1.0f32; 15];
        matmul(&mut dst, View::rows(0, 3, 5, 5), &a, av, &b, bv, Write::Add(2.0), 1);
        for i in 0..3 {
            for j in 0..5 {
                let dot: f32 = (0..4).map(|k| a[1 + i * 6 + k] * b[j * 4 + k]).sum();
                assert!((dst[i * 5 + j] - (1.0 + 2.0 * dot)).abs() < 1e-4);
            }
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_view_past_its_slice_is_refused() {
        let a = vec![0f32; 8];
        let mut dst = vec![0f32; 4];
        matmul(&mut dst, View::rows(0, 2, 2, 2), &a, View::rows(1, 2, 4, 4), &a, View::rows(0, 4, 2, 2), Write::Set(1.0), 1);
    }
}
