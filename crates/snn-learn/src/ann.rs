//! A conventional artificial neural network baseline: a ReLU multilayer perceptron with the same
//! layer sizes as a spiking model, trained with softmax cross-entropy and Adam, for side-by-side
//! comparisons (accuracy, multiply-accumulates, energy).
//!
//! ```text
//! h_1 = relu(x W_1 + b_1), ..., logits = h_{L-1} W_L + b_L
//! ```
//!
//! Weights start like PyTorch's `nn.Linear` (uniform in `±1/sqrt(n_in)`). Deterministic for a
//! seed; single-threaded (the products go through [`gemm`]).

use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::data::Dataset;
use crate::linalg::{Mat, gemm};
use crate::model::argmax;
use crate::optim::{Optimizer, OptimizerKind};

/// A ReLU MLP.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// Layer sizes, input first.
    pub sizes: Vec<usize>,
    /// Per layer: weights (`n_in x n_out`, row-major) and biases (`n_out`).
    pub layers: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Mlp {
    /// A network with the given layer sizes (input, hidden..., output).
    pub fn new(sizes: &[usize], seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xA11_0000_0001);
        let layers = sizes
            .windows(2)
            .map(|w| {
                let b = 1.0 / (w[0] as f32).sqrt();
                let wt = (0..w[0] * w[1]).map(|_| rng.random_range(-b..b)).collect();
                let bias = (0..w[1]).map(|_| rng.random_range(-b..b)).collect();
                (wt, bias)
            })
            .collect();
        Self {
            sizes: sizes.to_vec(),
            layers,
        }
    }

    /// Bytes a network of layer `sizes` takes to train with mini-batches of `batch` and to be
    /// evaluated on `eval_samples` at once ([`accuracy`](Self::accuracy) runs a whole dataset as
    /// one batch): parameters with their gradients and two Adam moments, and every layer's
    /// activations and deltas for the larger of the two batches, all `f32`. `None` when that
    /// overflows `u64`. For refusing a size before allocating it.
    pub fn memory_bytes(sizes: &[usize], batch: usize, eval_samples: usize) -> Option<u64> {
        let params = sizes.windows(2).try_fold(0u64, |acc, w| {
            (w[0] as u64)
                .checked_mul(w[1] as u64)?
                .checked_add(w[1] as u64)?
                .checked_add(acc)
        })?;
        let units = sizes
            .iter()
            .try_fold(0u64, |acc, &n| acc.checked_add(n as u64))?;
        let rows = batch.max(eval_samples) as u64;
        params
            .checked_mul(4 * 4)?
            .checked_add(units.checked_mul(rows)?.checked_mul(2 * 4)?)
    }

    /// Multiply-accumulates of one inference.
    pub fn macs(&self) -> u64 {
        self.sizes.windows(2).map(|w| (w[0] * w[1]) as u64).sum()
    }

    /// Activations of every layer for a batch (`acts[0]` is the input).
    fn forward(&self, x: &[f32], batch: usize) -> Vec<Vec<f32>> {
        let mut acts = vec![x.to_vec()];
        for (l, (w, b)) in self.layers.iter().enumerate() {
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let mut z = vec![0.0f32; batch * n_out];
            gemm(
                Mat::new(&acts[l], batch, n_in),
                Mat::new(w, n_in, n_out),
                &mut z,
                false,
            );
            let last = l + 1 == self.layers.len();
            for row in z.chunks_mut(n_out) {
                for (v, bb) in row.iter_mut().zip(b) {
                    *v += bb;
                    if !last {
                        *v = v.max(0.0);
                    }
                }
            }
            acts.push(z);
        }
        acts
    }

    /// Predicted classes of a batch.
    pub fn predict(&self, x: &[f32], batch: usize) -> Vec<usize> {
        let acts = self.forward(x, batch);
        let out = acts.last().expect("at least the input");
        let n = *self.sizes.last().expect("sizes");
        out.chunks(n).map(argmax).collect()
    }

    /// Accuracy on a dataset.
    pub fn accuracy(&self, data: &Dataset) -> f64 {
        let preds = self.predict(&data.features, data.len());
        preds
            .iter()
            .zip(&data.labels)
            .filter(|(p, l)| **p == **l as usize)
            .count() as f64
            / data.len().max(1) as f64
    }

    /// One epoch of mini-batch Adam on `data`; returns the mean loss.
    pub fn train_epoch(
        &mut self,
        data: &Dataset,
        opt: &mut Optimizer,
        lr: f32,
        batch_size: usize,
        seed: u64,
    ) -> f64 {
        let mut order: Vec<usize> = (0..data.len()).collect();
        order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        let nl = self.layers.len();
        let mut loss = 0.0f64;
        for idx in order.chunks(batch_size.max(1)) {
            let b = idx.len();
            let mut x = Vec::with_capacity(b * data.n_features);
            for &i in idx {
                x.extend_from_slice(data.sample(i));
            }
            let acts = self.forward(&x, b);
            let n_out = self.sizes[nl];
            // dL/dlogits of the mean softmax cross-entropy.
            let mut g = acts[nl].clone();
            for (r, row) in g.chunks_mut(n_out).enumerate() {
                let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0f32;
                for v in row.iter_mut() {
                    *v = (*v - m).exp();
                    sum += *v;
                }
                let y = data.labels[idx[r]] as usize;
                loss -= ((row[y] / sum) as f64).ln();
                for (k, v) in row.iter_mut().enumerate() {
                    *v = (*v / sum - if k == y { 1.0 } else { 0.0 }) / b as f32;
                }
            }
            let mut grads: Vec<(Vec<f32>, Vec<f32>)> = Vec::with_capacity(nl);
            for l in (0..nl).rev() {
                let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
                let mut dw = vec![0.0f32; n_in * n_out];
                gemm(
                    Mat::new(&acts[l], b, n_in).t(),
                    Mat::new(&g, b, n_out),
                    &mut dw,
                    false,
                );
                let mut db = vec![0.0f32; n_out];
                for row in g.chunks(n_out) {
                    for (d, v) in db.iter_mut().zip(row) {
                        *d += v;
                    }
                }
                if l > 0 {
                    let mut gi = vec![0.0f32; b * n_in];
                    gemm(
                        Mat::new(&g, b, n_out),
                        Mat::new(&self.layers[l].0, n_in, n_out).t(),
                        &mut gi,
                        false,
                    );
                    for (v, a) in gi.iter_mut().zip(&acts[l]) {
                        if *a <= 0.0 {
                            *v = 0.0;
                        }
                    }
                    g = gi;
                }
                grads.push((dw, db));
            }
            grads.reverse();
            let params: Vec<(&mut [f32], bool)> = self
                .layers
                .iter_mut()
                .flat_map(|(w, b)| [(w.as_mut_slice(), true), (b.as_mut_slice(), true)])
                .collect();
            let gs: Vec<&[f32]> = grads
                .iter()
                .flat_map(|(w, b)| [w.as_slice(), b.as_slice()])
                .collect();
            opt.step(params, &gs, lr);
        }
        loss / data.len().max(1) as f64
    }

    /// A fresh Adam optimiser for this network.
    pub fn adam(&self) -> Optimizer {
        let sizes: Vec<usize> = self
            .layers
            .iter()
            .flat_map(|(w, b)| [w.len(), b.len()])
            .collect();
        Optimizer::new(OptimizerKind::adam(), &sizes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_counts_parameters_and_the_larger_batch() {
        // 13 parameters x 16 bytes, and 6 units x 10 rows x 8 bytes.
        assert_eq!(
            Mlp::memory_bytes(&[2, 3, 1], 4, 10),
            Some(13 * 16 + 6 * 10 * 8)
        );
        assert_eq!(
            Mlp::memory_bytes(&[2, 3, 1], 20, 10),
            Some(13 * 16 + 6 * 20 * 8)
        );
        assert_eq!(Mlp::memory_bytes(&[64, usize::MAX, 10], 64, 1), None);
    }
    use crate::data::digits;

    #[test]
    fn mlp_learns_the_digits() {
        let (train, test) = digits();
        let mut m = Mlp::new(&[64, 128, 10], 1);
        assert_eq!(m.macs(), 64 * 128 + 128 * 10);
        let mut opt = m.adam();
        let first = m.train_epoch(&train, &mut opt, 1e-3, 64, 1);
        for e in 1..15 {
            m.train_epoch(&train, &mut opt, 1e-3, 64, e);
        }
        let last = m.train_epoch(&train, &mut opt, 1e-3, 64, 99);
        assert!(last < first / 5.0, "loss {first} -> {last}");
        assert!(m.accuracy(&test) > 0.95, "{}", m.accuracy(&test));
    }
}
