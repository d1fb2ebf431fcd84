//! The one dense matrix product of the crate, through nalgebra (which hands `f32` products of
//! non-trivial size to `matrixmultiply`'s blocked, runtime-dispatched SIMD kernels).
//!
//! Matrices are row-major slices; transposition is expressed with strides, never copied.

use nalgebra::{DMatrixView, DMatrixViewMut, Dyn};

/// A row-major matrix operand: `rows x cols`, optionally used transposed.
#[derive(Debug, Clone, Copy)]
pub struct Mat<'a> {
    /// Row-major data, `rows * cols` values.
    pub data: &'a [f32],
    /// Rows as stored.
    pub rows: usize,
    /// Columns as stored.
    pub cols: usize,
    /// Use the transpose.
    pub t: bool,
}

impl<'a> Mat<'a> {
    /// A stored matrix used as is.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        debug_assert_eq!(data.len(), rows * cols);
        Self {
            data,
            rows,
            cols,
            t: false,
        }
    }

    /// The same matrix, transposed.
    pub fn t(self) -> Self {
        Self { t: !self.t, ..self }
    }

    fn shape(&self) -> (usize, usize) {
        if self.t {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    #[inline]
    fn at(&self, i: usize, j: usize) -> f32 {
        if self.t {
            self.data[j * self.cols + i]
        } else {
            self.data[i * self.cols + j]
        }
    }

    fn view(&self) -> DMatrixView<'a, f32, Dyn, Dyn> {
        let (r, c) = self.shape();
        // Element (i, j) of the stored row-major matrix is at i * cols + j.
        let (rs, cs) = if self.t {
            (1, self.cols)
        } else {
            (self.cols, 1)
        };
        DMatrixView::from_slice_with_strides_generic(self.data, Dyn(r), Dyn(c), Dyn(rs), Dyn(cs))
    }
}

/// `c = a * b + (accumulate ? c : 0)`, with `c` row-major `m x n`.
///
/// # Panics
/// If the shapes do not agree (a programming error inside this crate, never user input).
pub fn gemm(a: Mat<'_>, b: Mat<'_>, c: &mut [f32], accumulate: bool) {
    let (m, k) = a.shape();
    let (k2, n) = b.shape();
    assert_eq!(k, k2, "gemm: inner dimensions {k} and {k2} differ");
    assert_eq!(
        c.len(),
        m * n,
        "gemm: output has {} values, expected {m} x {n}",
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    if m.min(n).min(k) <= SMALL_DIM {
        // nalgebra's own path for tiny products indexes strided views as if they were
        // contiguous; products this small are cheap, so do them here.
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0f32;
                for p in 0..k {
                    acc += a.at(i, p) * b.at(p, j);
                }
                let x = &mut c[i * n + j];
                *x = if accumulate { *x + acc } else { acc };
            }
        }
        return;
    }
    let mut cv = DMatrixViewMut::from_slice_with_strides_generic(c, Dyn(m), Dyn(n), Dyn(n), Dyn(1));
    cv.gemm(
        1.0,
        &a.view(),
        &b.view(),
        if accumulate { 1.0 } else { 0.0 },
    );
}

/// Above this size in every dimension nalgebra hands the product to `matrixmultiply`.
const SMALL_DIM: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], m: usize, k: usize, b: &[f32], n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn all_transpositions_agree_with_naive() {
        for &(m, k, n) in &[
            (13usize, 17usize, 11usize),
            (3, 17, 11),
            (13, 2, 11),
            (13, 17, 4),
            (1, 1, 1),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0)
                .collect();
            let want = naive(&a, m, k, &b, n);
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect(); // k x m
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect(); // n x k
            for (x, y) in [
                (Mat::new(&a, m, k), Mat::new(&b, k, n)),
                (Mat::new(&at, k, m).t(), Mat::new(&b, k, n)),
                (Mat::new(&a, m, k), Mat::new(&bt, n, k).t()),
                (Mat::new(&at, k, m).t(), Mat::new(&bt, n, k).t()),
            ] {
                let mut c = vec![1.0; m * n];
                gemm(x, y, &mut c, false);
                for (p, q) in c.iter().zip(&want) {
                    assert!((p - q).abs() < 1e-4, "{p} vs {q}");
                }
                gemm(x, y, &mut c, true);
                for (p, q) in c.iter().zip(&want) {
                    assert!((p - 2.0 * q).abs() < 2e-4);
                }
            }
        }
    }
}
