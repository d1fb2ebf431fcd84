//! Optimisers, learning-rate schedules and gradient clipping.
//!
//! * Adam (Kingma & Ba 2015) with decoupled weight decay (AdamW, Loshchilov & Hutter 2019):
//!   `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
//!   `p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + lr wd p`.
//! * SGD with momentum: `buf = mu buf + g`, `p -= lr (buf + wd p)`.
//! * Schedules give the learning rate of each epoch: constant, cosine annealing from `lr` to
//!   `min_lr` over `total_epochs`, or step decay by `gamma` every `every` epochs.
//! * Clipping rescales all gradients together when their global L2 norm exceeds `max_norm`.

use serde::{Deserialize, Serialize};

/// Which optimiser, with its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// Adam with decoupled weight decay.
    Adam {
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator guard.
        eps: f32,
        /// Decoupled weight decay per step (multiplied by the learning rate).
        weight_decay: f32,
    },
    /// SGD with momentum.
    Sgd {
        /// Momentum factor.
        momentum: f32,
        /// L2 weight decay added to the gradient.
        weight_decay: f32,
    },
}

impl OptimizerKind {
    /// Adam with PyTorch's defaults (0.9, 0.999, 1e-8) and no weight decay.
    pub fn adam() -> Self {
        OptimizerKind::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl OptimizerKind {
    /// Checks the hyper-parameters: decays in `[0, 1)`, `eps` finite and > 0, weight decay finite
    /// and >= 0; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |name: &str, v: f32| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} must be in [0, 1), got {v}"))
            }
        };
        let wd = |v: f32| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("weight decay must be finite and >= 0, got {v}"))
            }
        };
        match *self {
            OptimizerKind::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                unit("Adam beta1", beta1)?;
                unit("Adam beta2", beta2)?;
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(format!("Adam eps must be finite and > 0, got {eps}"));
                }
                wd(weight_decay)
            }
            OptimizerKind::Sgd {
                momentum,
                weight_decay,
            } => {
                unit("SGD momentum", momentum)?;
                wd(weight_decay)
            }
        }
    }
}

impl Schedule {
    /// Checks the schedule's parameters; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Cosine {
                total_epochs,
                min_lr,
            } => {
                if total_epochs == 0 {
                    return Err("cosine schedule total_epochs must be at least 1".into());
                }
                if !(min_lr.is_finite() && min_lr >= 0.0) {
                    return Err(format!(
                        "cosine schedule min_lr must be finite and >= 0, got {min_lr}"
                    ));
                }
                Ok(())
            }
            Schedule::Step { every, gamma } => {
                if every == 0 {
                    return Err("step schedule every must be at least 1".into());
                }
                if !(gamma.is_finite() && gamma > 0.0) {
                    return Err(format!(
                        "step schedule gamma must be finite and > 0, got {gamma}"
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Learning rate per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// Always the base rate.
    Constant,
    /// Cosine annealing: `min + (lr - min) (1 + cos(pi e / E)) / 2`.
    Cosine {
        /// Epochs over which to anneal.
        total_epochs: usize,
        /// Final rate.
        min_lr: f32,
    },
    /// `lr * gamma^(e / every)`.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Decay factor.
        gamma: f32,
    },
}

impl Schedule {
    /// The rate for (0-based) epoch `e` given the base rate.
    pub fn lr(&self, base: f32, e: usize) -> f32 {
        match *self {
            Schedule::Constant => base,
            Schedule::Cosine {
                total_epochs,
                min_lr,
            } => {
                let x = (e.min(total_epochs) as f32) / total_epochs.max(1) as f32;
                min_lr + (base - min_lr) * (1.0 + (std::f32::consts::PI * x).cos()) / 2.0
            }
            Schedule::Step { every, gamma } => base * gamma.powi((e / every.max(1)) as i32),
        }
    }
}

/// Optimiser state: one pair of moment buffers per parameter tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Optimizer {
    /// Kind and hyper-parameters.
    pub kind: OptimizerKind,
    /// Steps taken.
    pub t: u64,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl Optimizer {
    /// A fresh optimiser for tensors of the given lengths.
    pub fn new(kind: OptimizerKind, sizes: &[usize]) -> Self {
        let v = match kind {
            OptimizerKind::Adam { .. } => sizes.iter().map(|&n| vec![0.0; n]).collect(),
            OptimizerKind::Sgd { .. } => Vec::new(),
        };
        Self {
            kind,
            t: 0,
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v,
        }
    }

    /// Checks the state against the kind and the parameter tensors' lengths `sizes` (as
    /// [`new`](Self::new) takes them): one first-moment buffer per tensor (and one second-moment
    /// buffer for Adam), each as long as its tensor. The message names the tensor (0-based).
    pub fn validate(&self, sizes: &[usize]) -> Result<(), String> {
        self.kind.validate()?;
        let mut bufs = vec![("first-moment", &self.m)];
        match self.kind {
            OptimizerKind::Adam { .. } => bufs.push(("second-moment", &self.v)),
            OptimizerKind::Sgd { .. } => {
                if !self.v.is_empty() {
                    return Err(format!(
                        "SGD optimiser state has {} second-moment buffers, expected none",
                        self.v.len()
                    ));
                }
            }
        }
        for (name, b) in bufs {
            if b.len() != sizes.len() {
                return Err(format!(
                    "optimiser state: {} {name} buffers, expected {} (one per parameter tensor)",
                    b.len(),
                    sizes.len()
                ));
            }
            for (i, (v, &n)) in b.iter().zip(sizes).enumerate() {
                if v.len() != n {
                    return Err(format!(
                        "optimiser state: {name} buffer {i}: {} values, expected {n}",
                        v.len()
                    ));
                }
            }
        }
        Ok(())
    }

    /// One update of every trained tensor (`(params, trained)` pairs) with its gradient.
    pub fn step(&mut self, params: Vec<(&mut [f32], bool)>, grads: &[&[f32]], lr: f32) {
        self.t += 1;
        let t = self.t as i32;
        for (i, ((p, trained), g)) in params.into_iter().zip(grads).enumerate() {
            if !trained {
                continue;
            }
            match self.kind {
                OptimizerKind::Adam {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                } => {
                    let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                    let (m, v) = (&mut self.m[i], &mut self.v[i]);
                    for j in 0..p.len() {
                        m[j] = beta1 * m[j] + (1.0 - beta1) * g[j];
                        v[j] = beta2 * v[j] + (1.0 - beta2) * g[j] * g[j];
                        let upd = (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
                        p[j] -= lr * upd + lr * weight_decay * p[j];
                    }
                }
                OptimizerKind::Sgd {
                    momentum,
                    weight_decay,
                } => {
                    let m = &mut self.m[i];
                    for j in 0..p.len() {
                        let gj = g[j] + weight_decay * p[j];
                        m[j] = momentum * m[j] + gj;
                        p[j] -= lr * m[j];
                    }
                }
            }
        }
    }
}

/// Rescales `grads` so that their global L2 norm is at most `max_norm`; returns the norm before.
pub fn clip_grad_norm(grads: &mut [&mut [f32]], max_norm: f32) -> f32 {
    let norm = grads
        .iter()
        .flat_map(|g| g.iter())
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt() as f32;
    if norm > max_norm && norm > 0.0 {
        let s = max_norm / norm;
        for g in grads.iter_mut() {
            for x in g.iter_mut() {
                *x *= s;
            }
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_and_sgd_minimise_a_quadratic() {
        for kind in [
            OptimizerKind::adam(),
            OptimizerKind::Sgd {
                momentum: 0.9,
                weight_decay: 0.0,
            },
        ] {
            let mut p = vec![3.0f32, -2.0];
            let mut opt = Optimizer::new(kind, &[2]);
            for _ in 0..500 {
                let g: Vec<f32> = p.iter().map(|x| 2.0 * (x - 1.0)).collect();
                opt.step(vec![(&mut p[..], true)], &[&g], 0.05);
            }
            assert!(p.iter().all(|x| (x - 1.0).abs() < 1e-2), "{kind:?}: {p:?}");
        }
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let mut p = vec![0.0f32, 0.0];
        let mut opt = Optimizer::new(OptimizerKind::adam(), &[2]);
        opt.step(vec![(&mut p[..], true)], &[&[0.3, -7.0]], 0.01);
        assert!(
            (p[0] + 0.01).abs() < 1e-6 && (p[1] - 0.01).abs() < 1e-6,
            "{p:?}"
        );
    }

    #[test]
    fn schedules_and_clipping() {
        let c = Schedule::Cosine {
            total_epochs: 10,
            min_lr: 0.0,
        };
        assert!(
            (c.lr(1.0, 0) - 1.0).abs() < 1e-6
                && (c.lr(1.0, 5) - 0.5).abs() < 1e-6
                && c.lr(1.0, 10).abs() < 1e-6
        );
        let s = Schedule::Step {
            every: 3,
            gamma: 0.5,
        };
        assert_eq!((s.lr(1.0, 2), s.lr(1.0, 3), s.lr(1.0, 6)), (1.0, 0.5, 0.25));
        let mut a = [3.0f32];
        let mut b = [4.0f32];
        let n = clip_grad_norm(&mut [&mut a[..], &mut b[..]], 1.0);
        assert!((n - 5.0).abs() < 1e-6 && (a[0] - 0.6).abs() < 1e-6 && (b[0] - 0.8).abs() < 1e-6);
    }
}
