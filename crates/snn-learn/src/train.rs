//! The training loop: input coding, mini-batches, parallel shards, evaluation, early stopping.
//!
//! **Determinism.** A batch is cut into shards of [`SHARD`] samples, a fixed size that does not
//! depend on the thread count. Threads compute shard gradients independently and the shard
//! gradients are summed in shard order, so the trained weights are bit-identical for any number
//! of threads. The sample order of epoch `e` is a permutation drawn from `(seed, e)` and the
//! random input coding of sample `i` in epoch `e` from `(seed, e, i)`: resuming from a checkpoint
//! continues exactly as an uninterrupted run.

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use snn_encode::{Encoder, Normalize, RateEncoder, TtfsEncoder};

use crate::augment::Augment;
use crate::data::{Dataset, EventSample, NMNIST_SIZE, bin_events};
use crate::model::{Grads, Input, Model, PassOptions, ShardStats, Tape};
use crate::optim::{Optimizer, OptimizerKind, Schedule, clip_grad_norm};

/// Samples per shard: the unit of parallel work and of the fixed-order gradient reduction.
pub const SHARD: usize = 64;

/// How samples become network input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Encoding {
    /// The analog features as an input current at every step (direct coding).
    Direct,
    /// Bernoulli rate coding (`snn_encode::RateEncoder`, Poisson mode): input `i` spikes at each
    /// step with probability `clamp(x_i * p_max, 0, 1)`.
    Rate {
        /// Spike probability per step at full intensity.
        p_max: f32,
    },
    /// Latency coding (`snn_encode::TtfsEncoder`, linear mapping): at most one spike per input,
    /// brighter inputs earlier; inputs at or below `threshold` never spike.
    Ttfs {
        /// Intensity at or below which an input stays silent.
        threshold: f32,
    },
    /// Event recordings binned into one frame per step over `duration_us`.
    Events {
        /// Recording window (µs) split into `steps` bins.
        duration_us: u32,
    },
}

impl Encoding {
    /// Checks the coding's parameter: rate `p_max` in `(0, 1]`, latency `threshold` in `(0, 1)`,
    /// event `duration_us` at least 1.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Encoding::Direct => Ok(()),
            Encoding::Rate { p_max } if !(p_max > 0.0 && p_max <= 1.0) => Err(format!(
                "rate encoding p_max must be in (0, 1], got {p_max}"
            )),
            Encoding::Ttfs { threshold } if !(threshold > 0.0 && threshold < 1.0) => Err(format!(
                "ttfs encoding threshold must be in (0, 1), got {threshold}"
            )),
            Encoding::Events { duration_us: 0 } => {
                Err("events encoding duration_us must be at least 1".into())
            }
            _ => Ok(()),
        }
    }
}

/// A labelled set of samples that can be turned into a batch input.
pub trait Source: Sync {
    /// Number of samples.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Label of sample `i`.
    fn label(&self, i: usize) -> u8;
    /// Checks the source's own consistency (sizes of its arrays) before training or evaluation
    /// index it; the default accepts everything.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
    /// Input features per step.
    fn n_inputs(&self) -> usize;
    /// The shape `[channels, height, width]` of a sample's features (default: flat,
    /// `[1, 1, n_inputs]`).
    fn input_shape(&self) -> [usize; 3] {
        [1, 1, self.n_inputs()]
    }
    /// The input of samples `idx` for `steps` steps; `seed` keys any randomness per sample
    /// (combined with the sample index so batches do not matter).
    fn input(
        &self,
        idx: &[usize],
        steps: usize,
        enc: Encoding,
        seed: u64,
    ) -> Result<Input, TrainError>;
}

/// Why training could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// The configuration is inconsistent.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// The data does not fit the model (labels beyond its classes, no samples, wrong sizes).
    #[error("data: {0}")]
    Data(String),
    /// The input coding does not fit the data.
    #[error("encoding {encoding} cannot be used with {data}")]
    Encoding {
        /// Encoding name.
        encoding: String,
        /// Data kind.
        data: String,
    },
    /// The run would need more memory than the machine has (refused before allocating).
    #[error("{0}")]
    TooLarge(#[from] snn_types::budget::TooLarge),
    /// Training diverged: the loss or a parameter stopped being a finite number (a learning
    /// rate far too large, typically). The epoch is not counted.
    #[error(
        "training diverged in epoch {epoch} (by batch {batch}): {what} is no longer a finite number; \
         lower the learning rate (it was {lr:.3e}) or clip the gradients"
    )]
    Diverged {
        /// The epoch (1-based) that diverged.
        epoch: usize,
        /// The batch (1-based) by which it was seen (the loss is checked after every batch, the
        /// parameters after the last).
        batch: usize,
        /// `the loss` or `a parameter`.
        what: &'static str,
        /// The learning rate of that epoch.
        lr: f64,
    },
}

impl<T: Source + ?Sized> Source for &T {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn label(&self, i: usize) -> u8 {
        (**self).label(i)
    }
    fn validate(&self) -> Result<(), String> {
        (**self).validate()
    }
    fn n_inputs(&self) -> usize {
        (**self).n_inputs()
    }
    fn input_shape(&self) -> [usize; 3] {
        (**self).input_shape()
    }
    fn input(
        &self,
        idx: &[usize],
        steps: usize,
        enc: Encoding,
        seed: u64,
    ) -> Result<Input, TrainError> {
        (**self).input(idx, steps, enc, seed)
    }
}

fn spikes_from(
    per_sample: impl Fn(usize, &mut Vec<u32>, usize),
    idx: &[usize],
    steps: usize,
) -> Input {
    // per_sample(sample position, out, t) appends the sorted active inputs at step t.
    let b = idx.len();
    let mut offsets = Vec::with_capacity(steps * b + 1);
    offsets.push(0u32);
    let mut all = Vec::new();
    for t in 0..steps {
        for k in 0..b {
            per_sample(k, &mut all, t);
            offsets.push(all.len() as u32);
        }
    }
    Input::Spikes { offsets, idx: all }
}

impl Dataset {
    /// Encodes samples `idx` with a `snn-encode` encoder; sample `i` always uses stream
    /// `(seed, i)`, whatever batch it is in.
    fn encoded<E: Encoder>(
        &self,
        enc: &E,
        idx: &[usize],
        steps: usize,
        seed: u64,
    ) -> Result<Input, TrainError> {
        let rasters = idx
            .iter()
            .map(|&i| enc.encode_sample(self.sample(i), Normalize::UNIT, seed, i as u64))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TrainError::Config(e.to_string()))?;
        Ok(spikes_from(
            |k, out, t| out.extend_from_slice(rasters[k].at(t as u64)),
            idx,
            steps,
        ))
    }
}

impl Source for Dataset {
    fn len(&self) -> usize {
        Dataset::len(self)
    }
    fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }
    fn validate(&self) -> Result<(), String> {
        Dataset::validate(self)
    }
    fn n_inputs(&self) -> usize {
        self.n_features
    }
    fn input_shape(&self) -> [usize; 3] {
        [1, self.shape.0, self.shape.1]
    }
    fn input(
        &self,
        idx: &[usize],
        steps: usize,
        enc: Encoding,
        seed: u64,
    ) -> Result<Input, TrainError> {
        let nf = self.n_features;
        match enc {
            Encoding::Direct => {
                let mut x = Vec::with_capacity(idx.len() * nf);
                for &i in idx {
                    x.extend_from_slice(self.sample(i));
                }
                Ok(Input::Static(x))
            }
            Encoding::Rate { p_max } => {
                let enc = RateEncoder::poisson(p_max as f64 * 1000.0, 1.0, steps)
                    .map_err(|e| TrainError::Config(e.to_string()))?;
                self.encoded(&enc, idx, steps, seed)
            }
            Encoding::Ttfs { threshold } => {
                let enc = TtfsEncoder::linear(steps, threshold)
                    .map_err(|e| TrainError::Config(e.to_string()))?;
                self.encoded(&enc, idx, steps, seed)
            }
            Encoding::Events { .. } => Err(TrainError::Encoding {
                encoding: "events".into(),
                data: "an image dataset".into(),
            }),
        }
    }
}

/// Event recordings (N-MNIST) as a training source: `2 x 34 x 34` inputs per step.
#[derive(Debug, Clone, Copy)]
pub struct EventSource<'a>(pub &'a [EventSample]);

impl Source for EventSource<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn label(&self, i: usize) -> u8 {
        self.0[i].label
    }
    fn n_inputs(&self) -> usize {
        2 * NMNIST_SIZE * NMNIST_SIZE
    }
    fn input_shape(&self) -> [usize; 3] {
        [2, NMNIST_SIZE, NMNIST_SIZE]
    }
    fn input(
        &self,
        idx: &[usize],
        steps: usize,
        enc: Encoding,
        _seed: u64,
    ) -> Result<Input, TrainError> {
        let Encoding::Events { duration_us } = enc else {
            return Err(TrainError::Encoding {
                encoding: format!("{enc:?}"),
                data: "event recordings (use events)".into(),
            });
        };
        let per = self.n_inputs();
        let frames: Vec<Vec<f32>> = idx
            .iter()
            .map(|&i| bin_events(&self.0[i].events, steps, duration_us))
            .collect();
        Ok(spikes_from(
            |k, out, t| {
                let f = &frames[k][t * per..(t + 1) * per];
                out.extend(
                    f.iter()
                        .enumerate()
                        .filter(|(_, x)| **x != 0.0)
                        .map(|(j, _)| j as u32),
                );
            },
            idx,
            steps,
        ))
    }
}

/// Training hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Epochs to run (in total, including resumed ones).
    pub epochs: usize,
    /// Samples per mini-batch.
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f32,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Clip the global gradient norm to this value.
    pub clip_norm: Option<f32>,
    /// Input coding.
    pub encoding: Encoding,
    /// Seed of shuffling and random input coding.
    pub seed: u64,
    /// Stop after this many epochs without a better test accuracy, keeping the best model.
    pub early_stop_patience: Option<usize>,
    /// Truncated BPTT window (steps); `None` for full BPTT.
    pub tbptt_window: Option<usize>,
    /// Training-time augmentation of the training samples (none by default; never applied at
    /// evaluation). Not stored in checkpoints, so that the checkpoint format is unchanged:
    /// a resumed run uses the augmentation its caller sets again.
    #[serde(skip)]
    pub augment: Augment,
}

impl TrainConfig {
    /// The recipe of the targets: Adam 5e-4, batch 128, direct coding, constant rate.
    pub fn recipe(epochs: usize, seed: u64) -> Self {
        Self {
            epochs,
            batch_size: 128,
            lr: 5e-4,
            optimizer: OptimizerKind::adam(),
            schedule: Schedule::Constant,
            clip_norm: None,
            encoding: Encoding::Direct,
            seed,
            early_stop_patience: None,
            tbptt_window: None,
            augment: Augment::default(),
        }
    }

    /// Checks every hyper-parameter: batch size and windows at least 1, a finite positive
    /// learning rate, the optimiser's, schedule's and encoding's parameters in range, a finite
    /// positive clipping norm, a patience of at least 1. The message names the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!(
                "learning rate must be finite and > 0, got {}",
                self.lr
            ));
        }
        if let Some(c) = self.clip_norm.filter(|c| !(c.is_finite() && *c > 0.0)) {
            return bad(format!("clip_norm must be finite and > 0, got {c}"));
        }
        if self.tbptt_window == Some(0) {
            return bad("tbptt_window must be at least 1".into());
        }
        if self.early_stop_patience == Some(0) {
            return bad("early_stop_patience must be at least 1".into());
        }
        self.optimizer
            .validate()
            .and_then(|()| self.schedule.validate())
            .and_then(|()| self.encoding.validate())
            .or_else(bad)
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (during the epoch, with the weights of each batch).
    pub train_acc: f64,
    /// Test accuracy after the epoch.
    pub test_acc: f64,
    /// Learning rate used.
    pub lr: f32,
    /// Wall time of the training part of the epoch (s), as returned by
    /// [`Trainer::run_epoch`]. It is 0 in [`Trainer::history`]: checkpoints hold no timings, so
    /// identical runs give byte-identical files.
    pub train_s: f64,
    /// Mean hidden spike probability per neuron and step.
    pub hidden_rate: f64,
}

/// The best model seen so far, for early stopping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Its test accuracy.
    pub test_acc: f64,
    /// Its epoch (1-based).
    pub epoch: usize,
    /// The model.
    pub model: Model,
}

/// A model being trained, with everything needed to continue exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trainer {
    /// The model.
    pub model: Model,
    /// Optimiser state.
    pub optimizer: Optimizer,
    /// Hyper-parameters.
    pub config: TrainConfig,
    /// Epochs completed.
    pub epoch: usize,
    /// Metrics of every completed epoch.
    pub history: Vec<EpochMetrics>,
    /// Best model so far (when early stopping is on).
    pub best: Option<Best>,
    /// True once early stopping has ended training.
    pub stopped_early: bool,
    /// What the model is trained on (e.g. `digits`), for checks on resume and evaluation.
    pub dataset: String,
}

/// Progress of an epoch, for progress bars: `(batches done, batches, running loss, running
/// accuracy)`.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, f64, f64);

impl Trainer {
    /// A trainer for `model` with fresh optimiser state; the configuration is checked
    /// ([`TrainConfig::validate`]) and so is the model ([`Model::validate`]).
    pub fn new(model: Model, config: TrainConfig) -> Result<Self, TrainError> {
        config.validate()?;
        model
            .validate()
            .map_err(|e| TrainError::Config(format!("model: {e}")))?;
        let mut m = model;
        let sizes: Vec<usize> = m.params_mut().iter().map(|(p, _)| p.len()).collect();
        let optimizer = Optimizer::new(config.optimizer, &sizes);
        Ok(Self {
            model: m,
            optimizer,
            config,
            epoch: 0,
            history: Vec::new(),
            best: None,
            stopped_early: false,
            dataset: String::new(),
        })
    }

    /// Checks that a trainer (typically a decoded checkpoint) is consistent before anything
    /// indexes its vectors: the model ([`Model::validate`]), the configuration
    /// ([`TrainConfig::validate`]), the optimiser state against the model's parameter tensors,
    /// the history against the epoch count, and the best model against the model. The message
    /// names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.model.validate().map_err(|e| format!("model: {e}"))?;
        self.config.validate().map_err(|e| e.to_string())?;
        if self.optimizer.kind != self.config.optimizer {
            return Err(format!(
                "optimiser state is for {:?} but the configuration says {:?}",
                self.optimizer.kind, self.config.optimizer
            ));
        }
        let sizes: Vec<usize> = self
            .model
            .layers
            .iter()
            .flat_map(|l| [l.w.len(), l.rec.as_ref().map_or(0, Vec::len), 1, 1])
            .collect();
        self.optimizer.validate(&sizes)?;
        if self.history.len() != self.epoch {
            return Err(format!(
                "history has {} epochs of metrics, expected {} (epochs completed)",
                self.history.len(),
                self.epoch
            ));
        }
        if let Some((i, m)) = self
            .history
            .iter()
            .enumerate()
            .find(|(i, m)| m.epoch != i + 1)
        {
            return Err(format!(
                "history entry {} is numbered epoch {}",
                i + 1,
                m.epoch
            ));
        }
        if let Some(b) = &self.best {
            b.model.validate().map_err(|e| format!("best model: {e}"))?;
            if b.model.config != self.model.config {
                return Err("best model: its configuration differs from the model's".into());
            }
            if b.epoch == 0 || b.epoch > self.epoch {
                return Err(format!(
                    "best model: epoch {} is outside 1..={} (epochs completed)",
                    b.epoch, self.epoch
                ));
            }
        }
        Ok(())
    }

    /// True when every configured epoch has run (or early stopping ended training).
    pub fn finished(&self) -> bool {
        self.stopped_early || self.epoch >= self.config.epochs
    }

    /// Trains one epoch on `train` with `threads` threads, evaluates on `test`, records the
    /// metrics and applies early stopping. Returns the epoch's metrics.
    pub fn run_epoch(
        &mut self,
        train: &dyn Source,
        test: &dyn Source,
        threads: usize,
        progress: Progress<'_>,
    ) -> Result<EpochMetrics, TrainError> {
        self.config.validate()?;
        check_data(&self.model, train, "training")?;
        check_data(&self.model, test, "test")?;
        if train.is_empty() {
            return Err(TrainError::Data("the training set is empty".into()));
        }
        let augment = self.config.augment;
        if !augment.is_none() && train.input_shape()[1] < 2 {
            return Err(TrainError::Config(format!(
                "augmentation {augment} needs 2-D input maps, but the training data is flat ({} inputs)",
                train.n_inputs()
            )));
        }
        let e = self.epoch;
        let lr = self.config.schedule.lr(self.config.lr, e);
        let epoch_seed = self.config.seed ^ ((e as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(epoch_seed));
        let t0 = Instant::now();
        let bs = self.config.batch_size;
        let n_batches = order.len().div_ceil(bs);
        let (mut loss_sum, mut correct, mut seen, mut hidden_spikes) =
            (0.0f64, 0usize, 0usize, 0u64);
        let steps = self.model.config.steps;
        let mut total = Grads::zeros(&self.model);
        let mut shard_grads: Vec<Grads> = Vec::new();
        let mut tapes: Vec<Tape> = Vec::new();
        for (bi, batch) in order.chunks(bs).enumerate() {
            let shards: Vec<&[usize]> = batch.chunks(SHARD).collect();
            while shard_grads.len() < shards.len() {
                shard_grads.push(Grads::zeros(&self.model));
            }
            let k = threads.clamp(1, shards.len());
            while tapes.len() < k {
                tapes.push(Tape::default());
            }
            let inputs: Vec<Input> = shards
                .iter()
                .map(|s| {
                    let mut x = train.input(s, steps, self.config.encoding, epoch_seed)?;
                    augment.apply(&mut x, s, steps, train.input_shape(), epoch_seed);
                    Ok(x)
                })
                .collect::<Result<_, TrainError>>()?;
            let labels: Vec<Vec<u8>> = shards
                .iter()
                .map(|s| s.iter().map(|&i| train.label(i)).collect())
                .collect();
            let model = &self.model;
            let tbptt = self.config.tbptt_window;
            let total_batch = batch.len();
            let mut stats = vec![ShardStats::default(); shards.len()];
            {
                // Shard i goes to thread i % k; each thread owns its tape and its shards' gradients.
                let mut work: Vec<Vec<(usize, &mut Grads, &mut ShardStats)>> =
                    (0..k).map(|_| Vec::new()).collect();
                for (i, (g, st)) in shard_grads
                    .iter_mut()
                    .zip(stats.iter_mut())
                    .enumerate()
                    .take(shards.len())
                {
                    work[i % k].push((i, g, st));
                }
                let run = |items: Vec<(usize, &mut Grads, &mut ShardStats)>, tape: &mut Tape| {
                    for (i, g, st) in items {
                        g.clear();
                        // Dropout masks keyed by the shard's place in the epoch, not the thread.
                        let opts = PassOptions {
                            tbptt,
                            dropout_seed: Some(dropout_seed(epoch_seed, bi, i)),
                        };
                        *st = model.forward_backward_with(
                            &inputs[i],
                            &labels[i],
                            total_batch,
                            tape,
                            g,
                            opts,
                        );
                    }
                };
                // A worker whose thread the system refuses runs on this thread: the same
                // gradients (each shard's are its own, summed in shard order below).
                let tasks: Vec<_> = work.into_iter().zip(tapes.iter_mut()).collect();
                snn_core::workers::run_each(
                    tasks,
                    |(items, tape)| run(items, tape),
                    snn_core::workers::spawn,
                );
            }
            total.clear();
            for g in &shard_grads[..shards.len()] {
                total.add(g);
            }
            for st in &stats {
                loss_sum += st.loss_sum;
                correct += st.correct;
                hidden_spikes += st.hidden_spikes;
            }
            seen += batch.len();
            if let Some(max) = self.config.clip_norm {
                let mut gs: Vec<&mut [f32]> = total
                    .layers
                    .iter_mut()
                    .flat_map(|l| l.iter_mut().map(|v| v.as_mut_slice()))
                    .collect();
                clip_grad_norm(&mut gs, max);
            }
            let grads: Vec<&[f32]> = total
                .layers
                .iter()
                .flat_map(|l| l.iter().map(|v| v.as_slice()))
                .collect();
            self.optimizer.step(self.model.params_mut(), &grads, lr);
            self.model.clamp_params();
            // The loss every batch (free); the parameters once per epoch, below (a pass over
            // every weight each batch cost about 1% of an MNIST epoch).
            if !loss_sum.is_finite() {
                return Err(TrainError::Diverged {
                    epoch: e + 1,
                    batch: bi + 1,
                    what: "the loss",
                    lr: lr as f64,
                });
            }
            progress(
                bi + 1,
                n_batches,
                loss_sum / seen as f64,
                correct as f64 / seen as f64,
            );
        }
        let train_s = t0.elapsed().as_secs_f64();
        if !self
            .model
            .params_mut()
            .iter()
            .all(|(p, _)| p.iter().all(|x| x.is_finite()))
        {
            return Err(TrainError::Diverged {
                epoch: e + 1,
                batch: n_batches,
                what: "a parameter",
                lr: lr as f64,
            });
        }
        let test_acc = self.evaluate(test, threads)?.0;
        let hidden: usize = self.model.config.hidden.iter().map(|h| h.size).sum();
        let m = EpochMetrics {
            epoch: e + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: correct as f64 / seen.max(1) as f64,
            test_acc,
            lr,
            train_s,
            hidden_rate: hidden_spikes as f64 / (seen.max(1) * steps * hidden.max(1)) as f64,
        };
        self.epoch += 1;
        // No wall time in the history: checkpoints of identical runs are identical.
        self.history.push(EpochMetrics {
            train_s: 0.0,
            ..m.clone()
        });
        if let Some(patience) = self.config.early_stop_patience {
            let better = self.best.as_ref().is_none_or(|b| test_acc > b.test_acc);
            if better {
                self.best = Some(Best {
                    test_acc,
                    epoch: e + 1,
                    model: self.model.clone(),
                });
            } else if let Some(b) = &self.best
                && e + 1 - b.epoch >= patience
            {
                self.model = b.model.clone();
                self.stopped_early = true;
            }
        }
        Ok(m)
    }

    /// Accuracy and per-sample predictions of the current model on `data`.
    pub fn evaluate(
        &self,
        data: &dyn Source,
        threads: usize,
    ) -> Result<(f64, Vec<usize>), TrainError> {
        evaluate(
            &self.model,
            data,
            self.config.encoding,
            self.config.seed,
            threads,
        )
    }
}

/// The seed of the dropout masks of shard `shard` of batch `batch` in the epoch keyed by
/// `epoch_seed`.
pub fn dropout_seed(epoch_seed: u64, batch: usize, shard: usize) -> u64 {
    let k = (batch as u64) << 20 | shard as u64;
    (epoch_seed ^ 0xD50F_0000_0000_0000).wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Checks that `data` fits `model`: inputs per step, labels within the model's classes, and the
/// source's own consistency. `what` names the set in errors (`training`, `test`).
pub fn check_data(model: &Model, data: &dyn Source, what: &str) -> Result<(), TrainError> {
    model
        .validate()
        .map_err(|e| TrainError::Config(format!("model: {e}")))?;
    data.validate()
        .map_err(|e| TrainError::Data(format!("{what} set: {e}")))?;
    let n_in = model.config.n_inputs;
    if data.n_inputs() != n_in {
        return Err(TrainError::Data(format!(
            "the {what} set has {} inputs per step but the model expects {n_in}",
            data.n_inputs()
        )));
    }
    if let Some(shape) = model.config.input_shape
        && data.input_shape() != shape
    {
        let [c, h, w] = data.input_shape();
        return Err(TrainError::Data(format!(
            "the {what} set's samples are {c} x {h} x {w} but the model expects {} x {} x {}",
            shape[0], shape[1], shape[2]
        )));
    }
    let classes = model.config.n_outputs;
    if let Some((i, l)) = (0..data.len())
        .map(|i| (i, data.label(i)))
        .find(|&(_, l)| l as usize >= classes)
    {
        return Err(TrainError::Data(format!(
            "{what} sample {i} has label {l}, but the model has {classes} classes (0..={})",
            classes.saturating_sub(1)
        )));
    }
    Ok(())
}

/// Accuracy and predictions of `model` on `data` (random codings keyed by `seed`). The data is
/// checked against the model first ([`check_data`]).
pub fn evaluate(
    model: &Model,
    data: &dyn Source,
    enc: Encoding,
    seed: u64,
    threads: usize,
) -> Result<(f64, Vec<usize>), TrainError> {
    check_data(model, data, "evaluation")?;
    let n = data.len();
    if n == 0 {
        return Ok((0.0, Vec::new()));
    }
    let idx: Vec<usize> = (0..n).collect();
    let shards: Vec<&[usize]> = idx.chunks(SHARD).collect();
    let k = threads.clamp(1, shards.len());
    // A checkpoint's conv layers can define far more neurons than its small file suggests:
    // refuse a tape that cannot fit before allocating it.
    let needed = model
        .config
        .eval_memory_bytes(k)
        .map_err(|e| TrainError::Config(format!("model: {e}")))?;
    snn_types::budget::MemoryBudget::check_system(
        format!(
            "evaluating {} ({} steps, {})",
            crate::arch::describe(&model.config),
            model.config.steps,
            crate::model::threads_text(k)
        ),
        needed,
    )?;
    let eval_seed = seed ^ 0xE7A1_0000_0000_0001;
    let steps = model.config.steps;
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); shards.len()];
    let mut slots: Vec<Vec<(usize, &mut Vec<usize>)>> = (0..k).map(|_| Vec::new()).collect();
    for (i, p) in preds.iter_mut().enumerate() {
        slots[i % k].push((i, p));
    }
    // A worker whose thread the system refuses runs on this thread: the same predictions.
    let shards = &shards;
    let results = snn_core::workers::run_each(
        slots,
        |items| {
            let mut tape = Tape::default();
            for (i, out) in items {
                let input = data.input(shards[i], steps, enc, eval_seed)?;
                *out = model.forward(&input, shards[i].len(), &mut tape);
            }
            Ok(())
        },
        snn_core::workers::spawn,
    );
    results.into_iter().collect::<Result<(), TrainError>>()?;
    let preds: Vec<usize> = preds.into_iter().flatten().collect();
    let correct = preds
        .iter()
        .enumerate()
        .filter(|&(i, &p)| p == data.label(i) as usize)
        .count();
    Ok((correct as f64 / n as f64, preds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;

    /// Training and evaluation whose worker threads the system refuses run the refused workers'
    /// shards on the calling thread: the same weights, losses and predictions as one thread.
    #[test]
    fn refused_threads_give_the_same_training_and_predictions() {
        let (train, _) = crate::data::digits();
        // Batches of 200 are 4 shards of at most 64 samples; the evaluation has 7 shards.
        let data = train.take(400);
        let run = |threads: usize, refuse: usize| {
            let model = Model::new(ModelConfig::feed_forward(64, &[24], 10, 6), 7).unwrap();
            let mut tc = TrainConfig::recipe(1, 3);
            tc.batch_size = 200;
            let mut t = Trainer::new(model, tc).unwrap();
            snn_core::workers::with_refused_thread(refuse, || {
                let m = t
                    .run_epoch(&data, &data, threads, &mut |_, _, _, _| {})
                    .unwrap();
                let preds = evaluate(&t.model, &data, t.config.encoding, 1, threads).unwrap();
                (t.model.clone(), m.train_loss, preds)
            })
        };
        let one = run(1, 0);
        for refuse in [1, 2] {
            assert_eq!(run(3, refuse), one, "thread {refuse} of 3 refused");
        }
    }
}
