//! Layered spiking models and their hand-written forward and backward passes (BPTT).
//!
//! A model is a stack of layers; layer `l` maps the spikes (or, for the first layer, the input) of
//! layer `l - 1` through a dense weight matrix `W_l` (`n_in x n_out`, no bias) into a LIF
//! population. Each step, in this order (the same discrete LIF as `snn-core`'s `lif_beta`):
//!
//! ```text
//! I_t   = sum over active inputs i of W[i, :]  (+ sum over own spikes k at t-1 of V[k, :] if recurrent)
//!         (+ X W for an analog first layer)
//! syn_t = alpha syn_{t-1} + I_t                 (synaptic layers only; else syn_t = I_t)
//! u_t   = beta v_{t-1} + syn_t                  (membrane before the spike)
//! s_t   = H(u_t - threshold)                    (spike, strictly above threshold)
//! v_t   = u_t - threshold s_t   (reset by subtraction)   or   u_t (1 - s_t)   (reset to zero)
//! ```
//!
//! The output layer is either spiking (classified by spike count) or a non-spiking leaky
//! integrator (`v_t = u_t`, classified by the mean membrane over time).
//!
//! **Backward.** The spike's derivative is replaced by a [`Surrogate`]; the reset path is detached
//! (treated as a constant, as snnTorch does), which keeps gradients stable. Layers are processed
//! top-down, each with a full sweep backwards in time, so every weight gradient is one matrix
//! product over all steps at once.
//!
//! **What BPTT stores per step**: for every layer, the membrane `u_t` and the spikes `s_t`
//! (`2 * 4` bytes per neuron per sample per step). A 784-1000-10 network at 25 steps stores
//! 0.2 MB per sample. Long sequences can bound memory with truncated BPTT (see
//! [`TrainConfig::tbptt_window`](crate::train::TrainConfig::tbptt_window)).
//!
//! **Exactness against the engine.** Spike inputs are summed by gathering the weight rows of the
//! active inputs in ascending order, starting from zero, exactly as `snn-core` accumulates
//! arriving spikes, so an exported model simulated by the engine reproduces the forward pass bit
//! for bit.

use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use snn_types::ResetMode;

use crate::conv::{ConvConfig, ConvGeom, Plan};
use crate::linalg::{Mat, gemm};
use crate::surrogate::Surrogate;

/// The most time steps per sample a loaded model may have (a decoded checkpoint with more is
/// rejected as corrupt).
pub const MAX_STEPS: usize = 1 << 20;

/// A hidden layer's shape and options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerConfig {
    /// Number of neurons.
    pub size: usize,
    /// Add recurrent weights `V` (`size x size`) from the layer's own spikes one step earlier.
    #[serde(default)]
    pub recurrent: bool,
    /// Synaptic current decay for a two-state (synaptic) LIF; `None` for the plain LIF.
    #[serde(default)]
    pub alpha: Option<f32>,
    /// A convolution (with optional pooling of its currents) instead of dense weights; `size`
    /// is then the neurons of its output shape `C x H' x W'`.
    #[serde(default)]
    pub conv: Option<ConvConfig>,
    /// Dropout probability of the layer's output spikes during training (inverted dropout:
    /// kept spikes count `1 / (1 - p)`); the identity at evaluation and export.
    #[serde(default)]
    pub dropout: Option<f32>,
}

impl LayerConfig {
    /// A plain feed-forward LIF layer.
    pub fn lif(size: usize) -> Self {
        Self {
            size,
            recurrent: false,
            alpha: None,
            conv: None,
            dropout: None,
        }
    }

    /// A conv layer of `size` neurons (the output shape's product).
    pub fn conv(size: usize, conv: ConvConfig) -> Self {
        Self {
            conv: Some(conv),
            ..Self::lif(size)
        }
    }
}

/// How the output layer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Readout {
    /// Spiking output neurons; the class is the one with most spikes.
    SpikeCount,
    /// Non-spiking leaky integrators; the class is the one with the highest mean membrane.
    Membrane,
}

/// The training loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Loss {
    /// Cross-entropy of the softmax of the readout (spike counts or mean membrane).
    CrossEntropy,
    /// Mean squared error between output firing rates and target rates (spike-count readout).
    MseCount {
        /// Target firing probability per step of the correct class.
        correct_rate: f32,
        /// Target firing probability per step of the other classes.
        incorrect_rate: f32,
    },
}

/// A firing-rate regulariser on hidden layers: `lambda * mean((count / T - target_rate)^2)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateReg {
    /// Strength.
    pub lambda: f32,
    /// Target spike probability per step.
    pub target_rate: f32,
}

/// Everything that defines a model's architecture and neuron dynamics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Input features.
    pub n_inputs: usize,
    /// Hidden layers.
    pub hidden: Vec<LayerConfig>,
    /// Output classes.
    pub n_outputs: usize,
    /// Time steps per sample.
    pub steps: usize,
    /// Initial membrane decay of every layer, in `[0, 1]`.
    pub beta: f32,
    /// Initial firing threshold of every layer.
    pub threshold: f32,
    /// Reset rule.
    pub reset: ResetMode,
    /// Learn each layer's beta.
    pub learn_beta: bool,
    /// Learn each layer's threshold.
    pub learn_threshold: bool,
    /// Surrogate derivative.
    pub surrogate: Surrogate,
    /// Output readout.
    pub readout: Readout,
    /// Loss.
    pub loss: Loss,
    /// Optional firing-rate regulariser on hidden layers.
    pub rate_reg: Option<RateReg>,
    /// Shape `[channels, height, width]` of the input (`n_inputs` values, index
    /// `(c * H + y) * W + x`); needed by conv layers, `None` for a flat input.
    #[serde(default)]
    pub input_shape: Option<[usize; 3]>,
}

/// Sizes of one layer as the configuration defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerGeom {
    /// Inputs.
    pub n_in: usize,
    /// Neurons.
    pub n_out: usize,
    /// The folded convolution of a conv layer (see [`crate::conv`]).
    pub conv: Option<ConvGeom>,
}

impl ModelConfig {
    /// A feed-forward `n_inputs - hidden... - n_outputs` LIF classifier with snnTorch-like
    /// defaults: beta 0.95, threshold 1, reset by subtraction, fast-sigmoid (k = 25), spike-count
    /// cross-entropy.
    pub fn feed_forward(n_inputs: usize, hidden: &[usize], n_outputs: usize, steps: usize) -> Self {
        Self {
            n_inputs,
            hidden: hidden.iter().map(|&n| LayerConfig::lif(n)).collect(),
            n_outputs,
            steps,
            beta: 0.95,
            threshold: 1.0,
            reset: ResetMode::Subtract,
            learn_beta: false,
            learn_threshold: false,
            surrogate: Surrogate::default(),
            readout: Readout::SpikeCount,
            loss: Loss::CrossEntropy,
            rate_reg: None,
            input_shape: None,
        }
    }

    /// The sizes of every layer (hidden layers, then the output layer), with the folded
    /// geometry of conv layers; an error names the layer and the field.
    pub fn layer_geoms(&self) -> Result<Vec<LayerGeom>, String> {
        let mut shape = match self.input_shape {
            Some(s) => {
                if s.iter().try_fold(1usize, |a, &b| a.checked_mul(b)) != Some(self.n_inputs) {
                    return Err(format!(
                        "input_shape {} x {} x {} does not hold n_inputs = {}",
                        s[0], s[1], s[2], self.n_inputs
                    ));
                }
                Some(s)
            }
            None => None,
        };
        let mut n = self.n_inputs;
        let mut out = Vec::with_capacity(self.hidden.len() + 1);
        for (i, h) in self.hidden.iter().enumerate() {
            if let Some(p) = h.dropout
                && !(0.0..1.0).contains(&p)
            {
                return Err(format!("hidden[{i}].dropout must be in [0, 1), got {p}"));
            }
            let Some(c) = &h.conv else {
                out.push(LayerGeom {
                    n_in: n,
                    n_out: h.size,
                    conv: None,
                });
                n = h.size;
                shape = None;
                continue;
            };
            let Some(s) = shape else {
                return Err(format!(
                    "hidden[{i}] is a conv layer but its input has no shape (a conv layer needs \
                     input_shape and cannot follow a dense layer)"
                ));
            };
            if h.recurrent {
                return Err(format!(
                    "hidden[{i}] is a conv layer and cannot be recurrent"
                ));
            }
            let g = c.folded(s).map_err(|e| {
                format!(
                    "hidden[{i}].conv on a {} x {} x {} input: {e}",
                    s[0], s[1], s[2]
                )
            })?;
            let [oc, oh, ow] = g.out_shape;
            let size = oc * oh * ow;
            if h.size != size {
                return Err(format!(
                    "hidden[{i}].size is {}, but the conv's output {oc} x {oh} x {ow} has {size} neurons",
                    h.size
                ));
            }
            out.push(LayerGeom {
                n_in: n,
                n_out: size,
                conv: Some(g),
            });
            n = size;
            shape = Some(g.out_shape);
        }
        out.push(LayerGeom {
            n_in: n,
            n_out: self.n_outputs,
            conv: None,
        });
        Ok(out)
    }

    /// Checks the configuration; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if self.n_inputs == 0 || self.n_outputs == 0 {
            return Err("n_inputs and n_outputs must be at least 1".into());
        }
        if self.steps == 0 {
            return Err("steps must be at least 1".into());
        }
        if self.reset == ResetMode::SubtractDelayed {
            return Err(
                "reset subtract_delayed is not implemented by the trainer (use subtract or zero)"
                    .into(),
            );
        }
        if let Some((i, _)) = self.hidden.iter().enumerate().find(|(_, l)| l.size == 0) {
            return Err(format!("hidden[{i}].size must be at least 1"));
        }
        if let Some((i, a)) = self
            .hidden
            .iter()
            .enumerate()
            .find_map(|(i, l)| l.alpha.map(|a| (i, a)))
            .filter(|(_, a)| !(0.0..=1.0).contains(a))
        {
            return Err(format!("hidden[{i}].alpha must be in [0, 1], got {a}"));
        }
        if !(0.0..=1.0).contains(&self.beta) {
            return Err(format!("beta must be in [0, 1], got {}", self.beta));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(format!("threshold must be > 0, got {}", self.threshold));
        }
        if matches!(self.loss, Loss::MseCount { .. }) && self.readout == Readout::Membrane {
            return Err("the spike-count MSE loss needs the spike-count readout".into());
        }
        self.layer_geoms().map(|_| ())
    }

    /// Trainable values the configuration defines (every layer's weights or kernel, recurrent
    /// weights), saturating: computed from the shapes alone, before anything is allocated.
    pub fn n_param_values(&self) -> Result<u64, String> {
        let mut n = 0u64;
        for (l, g) in self.layer_geoms()?.iter().enumerate() {
            let hid = self.hidden.get(l);
            let w = match (g.conv, hid.and_then(|h| h.conv)) {
                (Some(cg), Some(c)) => c.n_weights(cg.in_shape[0]).map_or(u64::MAX, |v| v as u64),
                _ => (g.n_in as u64).saturating_mul(g.n_out as u64),
            };
            let rec = if hid.is_some_and(|h| h.recurrent) {
                (g.n_out as u64).saturating_mul(g.n_out as u64)
            } else {
                0
            };
            n = n.saturating_add(w).saturating_add(rec).saturating_add(2);
        }
        Ok(n)
    }

    /// Estimated peak bytes of training this model with mini-batches of `batch_size` on `threads`
    /// threads (and of evaluating it): the parameters with Adam's two moments, the epoch's
    /// gradient and one gradient per shard of a batch, plus per thread the BPTT tape of one shard
    /// (a few `f32` per neuron, step and sample, and a conv layer's im2col columns) and the
    /// batch's input. Computed from the shapes alone (saturating), so a request too large for
    /// memory can be refused before [`Model::new`] allocates anything. An upper estimate: the
    /// trainer's measured peak is typically half of it.
    pub fn train_memory_bytes(&self, batch_size: usize, threads: usize) -> Result<u64, String> {
        /// `f32` values the tape keeps per neuron, step and sample (membrane, spikes, dropout
        /// mask, surrogate derivative, backward deltas).
        const TAPE_PER_NEURON: u64 = 6;
        let geoms = self.layer_geoms()?;
        let m = |a: u64, b: u64| a.saturating_mul(b);
        let steps = self.steps.max(1) as u64;
        let shard = batch_size.clamp(1, crate::train::SHARD) as u64;
        let n_shards = batch_size.max(1).div_ceil(crate::train::SHARD) as u64;
        let threads = threads.max(1) as u64;
        let (mut neurons, mut columns) = (0u64, 0u64);
        for g in &geoms {
            neurons = neurons.saturating_add(g.n_out as u64);
            if let Some(cg) = g.conv {
                let pout = m(cg.out_shape[1] as u64, cg.out_shape[2] as u64);
                let ck = m(
                    cg.in_shape[0] as u64,
                    m(cg.kernel[0] as u64, cg.kernel[1] as u64),
                );
                // The columns of a shard's inputs and their gradient.
                columns = columns.saturating_add(m(2, m(pout, ck)));
            }
        }
        let params = m(self.n_param_values()?, 4 + n_shards);
        let per_sample = m(steps, m(neurons, TAPE_PER_NEURON))
            .saturating_add(m(steps, self.n_inputs as u64))
            .saturating_add(columns);
        let tapes = m(threads, m(shard, per_sample));
        let inputs = m(n_shards, m(shard, m(steps, self.n_inputs as u64)));
        Ok(m(4, params.saturating_add(tapes).saturating_add(inputs)))
    }

    /// Estimated bytes of the forward-only tapes of evaluating this model on `threads` threads
    /// (one shard each: membranes and spikes per neuron, step and sample, the input, the conv
    /// columns); saturating, from the shapes alone.
    pub fn eval_memory_bytes(&self, threads: usize) -> Result<u64, String> {
        let m = |a: u64, b: u64| a.saturating_mul(b);
        let steps = self.steps.max(1) as u64;
        let (mut neurons, mut columns) = (0u64, 0u64);
        for g in &self.layer_geoms()? {
            neurons = neurons.saturating_add(g.n_out as u64);
            if let Some(cg) = g.conv {
                let pout = m(cg.out_shape[1] as u64, cg.out_shape[2] as u64);
                columns = columns.saturating_add(m(
                    pout,
                    m(
                        cg.in_shape[0] as u64,
                        m(cg.kernel[0] as u64, cg.kernel[1] as u64),
                    ),
                ));
            }
        }
        let per_sample = m(steps, m(neurons, 2))
            .saturating_add(m(steps, self.n_inputs as u64))
            .saturating_add(columns);
        Ok(m(
            4,
            m(
                threads.max(1) as u64,
                m(crate::train::SHARD as u64, per_sample),
            ),
        ))
    }

    /// Refuses, before anything is allocated, a model whose training
    /// ([`train_memory_bytes`](Self::train_memory_bytes)) does not fit `budget`; the error names
    /// the architecture, the batch, the steps and the threads.
    pub fn check_train_memory(
        &self,
        batch_size: usize,
        threads: usize,
        budget: &snn_types::budget::MemoryBudget,
    ) -> Result<(), snn_types::budget::TooLarge> {
        let needed = self
            .train_memory_bytes(batch_size, threads)
            .unwrap_or(u64::MAX);
        budget.check_parts(
            format!(
                "training {} (batch {batch_size}, {} steps, {})",
                crate::arch::describe(self),
                self.steps,
                threads_text(threads.max(1))
            ),
            needed,
            "parameters, optimiser state, gradients, BPTT tapes",
        )
    }
}

/// One layer's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Inputs.
    pub n_in: usize,
    /// Neurons.
    pub n_out: usize,
    /// Feed-forward weights, row-major `n_in x n_out`.
    pub w: Vec<f32>,
    /// Recurrent weights, row-major `n_out x n_out` (`V[k, j]`: from neuron k to neuron j).
    pub rec: Option<Vec<f32>>,
    /// Membrane decay (one value; a vector of one so that optimisers treat it like any tensor).
    pub beta: Vec<f32>,
    /// Threshold (one value).
    pub threshold: Vec<f32>,
    /// Synaptic decay for two-state layers.
    pub alpha: Option<f32>,
    /// False for the leaky-integrator readout.
    pub spiking: bool,
}

/// A model: configuration plus parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The configuration.
    pub config: ModelConfig,
    /// Layers, input side first; the last is the output layer.
    pub layers: Vec<Layer>,
}

/// The input of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Analog features presented unchanged at every step (direct / current coding), row-major
    /// `batch x n_inputs`. The first layer's input current `X W` is computed once for all steps.
    Static(Vec<f32>),
    /// Analog features per step, `steps x batch x n_inputs`.
    Sequence(Vec<f32>),
    /// Binary spikes: for each `(t, b)` (index `t * batch + b`), the sorted active inputs
    /// `idx[offsets[i]..offsets[i + 1]]`.
    Spikes {
        /// `steps * batch + 1` offsets.
        offsets: Vec<u32>,
        /// Active input indices.
        idx: Vec<u32>,
    },
}

impl Input {
    /// The rows of samples `lo..hi` of a batch of `batch` samples, as an input of its own.
    pub fn shard(&self, batch: usize, steps: usize, n_in: usize, lo: usize, hi: usize) -> Input {
        match self {
            Input::Static(x) => Input::Static(x[lo * n_in..hi * n_in].to_vec()),
            Input::Sequence(x) => {
                let mut v = Vec::with_capacity(steps * (hi - lo) * n_in);
                for t in 0..steps {
                    v.extend_from_slice(&x[(t * batch + lo) * n_in..(t * batch + hi) * n_in]);
                }
                Input::Sequence(v)
            }
            Input::Spikes { offsets, idx } => {
                let mut o = vec![0u32];
                let mut v = Vec::new();
                for t in 0..steps {
                    for b in lo..hi {
                        let k = t * batch + b;
                        v.extend_from_slice(&idx[offsets[k] as usize..offsets[k + 1] as usize]);
                        o.push(v.len() as u32);
                    }
                }
                Input::Spikes { offsets: o, idx: v }
            }
        }
    }
}

/// Gradients with the same structure as the parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Grads {
    /// Per layer: `w`, `rec` (empty if none), `beta` (1), `threshold` (1).
    pub layers: Vec<[Vec<f32>; 4]>,
}

impl Grads {
    /// Zero gradients for `model`.
    pub fn zeros(model: &Model) -> Self {
        Grads {
            layers: model
                .layers
                .iter()
                .map(|l| {
                    [
                        vec![0.0; l.w.len()],
                        vec![0.0; l.rec.as_ref().map_or(0, Vec::len)],
                        vec![0.0],
                        vec![0.0],
                    ]
                })
                .collect(),
        }
    }

    /// `self += other`, element by element (the fixed-order reduction of shard gradients).
    pub fn add(&mut self, other: &Grads) {
        for (a, b) in self.layers.iter_mut().zip(&other.layers) {
            for (x, y) in a.iter_mut().zip(b) {
                for (p, q) in x.iter_mut().zip(y) {
                    *p += *q;
                }
            }
        }
    }

    /// Sets every gradient to zero.
    pub fn clear(&mut self) {
        for l in &mut self.layers {
            for x in l.iter_mut() {
                x.fill(0.0);
            }
        }
    }
}

/// Per `(t, b)` a `(start, len)` range into a list of spiking neuron indices.
type ActiveLists = (Vec<(u32, u32)>, Vec<u32>);

/// Per-shard forward results kept for the backward pass (reused between batches).
#[derive(Debug, Default, Clone)]
pub struct Tape {
    /// Per layer: membranes `u` (`steps x batch x n`).
    u: Vec<Vec<f32>>,
    /// Per layer: spikes (`steps x batch x n`, 0 or 1).
    s: Vec<Vec<f32>>,
    /// First-layer analog input current (`batch x n` for static, `steps x batch x n` for a
    /// sequence).
    pre: Vec<f32>,
    /// Readout values (`batch x n_outputs`).
    logits: Vec<f32>,
    batch: usize,
    /// Scratch for `dL/dI` of the layer being processed.
    delta: Vec<f32>,
    /// Per layer: the spiking neurons of each `(t, b)`, as `(start, len)` ranges into a list.
    act: Vec<ActiveLists>,
    /// Per layer: the folded kernel, index tables and scratch of a conv layer.
    conv: Vec<ConvTape>,
    /// Per layer with dropout in training: the mask (`steps x batch x n`, 0 or `1 / (1 - p)`);
    /// empty when no dropout was applied.
    mask: Vec<Vec<f32>>,
    /// Per layer with dropout: the spikes times the mask (what a dense layer above received).
    ds: Vec<Vec<f32>>,
    /// Per layer with dropout: the active lists after the mask.
    dact: Vec<ActiveLists>,
}

/// Options of a training pass ([`Model::forward_backward_with`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassOptions {
    /// Truncated BPTT window (steps); `None` for full BPTT.
    pub tbptt: Option<usize>,
    /// Seed of the dropout masks; `None` turns dropout off.
    pub dropout_seed: Option<u64>,
}

/// A conv layer's per-pass data: index tables, the folded kernel in two layouts, scratch.
#[derive(Debug, Default, Clone)]
struct ConvTape {
    plan: Plan,
    conv: Option<ConvConfig>,
    /// Folded kernel `C_out x C_in x kh' x kw'`.
    kf: Vec<f32>,
    /// Folded kernel with the output channel innermost (see [`Plan::transpose_kernel`]).
    kt: Vec<f32>,
    /// Position-major `H' W' x C_out` scratch.
    acc: Vec<f32>,
    /// Column scratch.
    col: Vec<f32>,
    /// Per output position, the kernel rows of the arriving spikes (see [`Plan::scatter`]).
    buckets: Vec<u32>,
    /// Bucket lengths.
    lens: Vec<u32>,
}

impl ConvTape {
    /// Builds the tables and folds the kernel `k` for this pass.
    fn prepare(&mut self, c: &ConvConfig, g: &ConvGeom, k: &[f32]) {
        self.plan = Plan::new(g);
        self.conv = Some(*c);
        c.fold_kernel(g.in_shape[0], k, &mut self.kf);
        self.plan.transpose_kernel(&self.kf, &mut self.kt);
        self.acc.clear();
        self.acc.resize(self.plan.pout * self.plan.cout, 0.0);
        self.buckets.clear();
        self.buckets
            .resize(self.plan.pout * self.plan.cin * self.plan.khw, 0);
        self.lens.clear();
        self.lens.resize(self.plan.pout, 0);
    }

    /// The folded convolution of `rows` analog inputs `x` (`rows x C_in H W`) into `out`
    /// (`rows x C_out H' W'`), one matrix product per input: `K' col(x)`.
    #[inline(always)]
    fn analog_current(&mut self, x: &[f32], rows: usize, out: &mut [f32]) {
        let p = &self.plan;
        let (nin, nout, ck) = (p.cin * p.pin, p.cout * p.pout, p.cin * p.khw);
        self.col.resize(ck * p.pout, 0.0);
        for r in 0..rows {
            p.im2col(&x[r * nin..(r + 1) * nin], &mut self.col);
            gemm(
                Mat::new(&self.kf, p.cout, ck),
                Mat::new(&self.col, ck, p.pout),
                &mut out[r * nout..(r + 1) * nout],
                false,
            );
        }
    }
}

/// The spikes a layer receives: the input's lists or the layer below's.
enum Spk<'a> {
    /// No spikes (analog input).
    None,
    /// `Input::Spikes` offsets and indices.
    Input(&'a [u32], &'a [u32]),
    /// Active lists of a layer.
    Layer(&'a [(u32, u32)], &'a [u32]),
}

impl Model {
    /// The spikes layer `l` receives (the input's, or the layer below's after its dropout mask)
    /// and the scale of each (`1 / (1 - p)` for inverted dropout, else 1).
    fn received_spikes<'a>(
        &self,
        l: usize,
        input: &'a Input,
        mask: &[Vec<f32>],
        act: &'a [ActiveLists],
        dact: &'a [ActiveLists],
    ) -> (Spk<'a>, f32) {
        if l == 0 {
            let s = match input {
                Input::Spikes { offsets, idx } => Spk::Input(offsets, idx),
                _ => Spk::None,
            };
            return (s, 1.0);
        }
        if mask[l - 1].is_empty() {
            return (Spk::Layer(&act[l - 1].0, &act[l - 1].1), 1.0);
        }
        let p = self.config.hidden[l - 1].dropout.unwrap_or(0.0);
        (Spk::Layer(&dact[l - 1].0, &dact[l - 1].1), 1.0 / (1.0 - p))
    }
}

impl Spk<'_> {
    /// The active inputs of `(t, b)` number `k = t * batch + b`, ascending.
    #[inline(always)]
    fn get(&self, k: usize) -> &[u32] {
        match *self {
            Spk::None => &[],
            Spk::Input(off, idx) => &idx[off[k] as usize..off[k + 1] as usize],
            Spk::Layer(rng, idx) => {
                let (a0, len) = rng[k];
                &idx[a0 as usize..(a0 + len) as usize]
            }
        }
    }
}

/// Appends the indices of the non-zero values of `sr`, ascending: a bit mask per 32 neurons,
/// then one iteration per set bit.
#[inline(always)]
fn compact(sr: &[f32], out: &mut Vec<u32>) {
    out.reserve(sr.len());
    for (ci, chunk) in sr.chunks(32).enumerate() {
        let mut mask = 0u32;
        for (i, &x) in chunk.iter().enumerate() {
            mask |= ((x != 0.0) as u32) << i;
        }
        while mask != 0 {
            out.push((ci * 32) as u32 + mask.trailing_zeros());
            mask &= mask - 1;
        }
    }
}

/// What one shard's forward (and backward) pass produced.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ShardStats {
    /// Sum of the per-sample losses (not divided by the batch size).
    pub loss_sum: f64,
    /// Correct predictions.
    pub correct: usize,
    /// Hidden-layer spikes (for activity reports).
    pub hidden_spikes: u64,
}

impl Model {
    /// A model with weights drawn like PyTorch's `nn.Linear`: uniform in
    /// `[-1/sqrt(n_in), 1/sqrt(n_in)]`, from a seeded stream.
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self, String> {
        config.validate()?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5EED_0F1A_7E55);
        let geoms = config.layer_geoms()?;
        let mut layers = Vec::new();
        for (l, g) in geoms.iter().enumerate() {
            let (n_in, n_out) = (g.n_in, g.n_out);
            let hid = config.hidden.get(l);
            let (fan_in, n_w) = match (g.conv, hid.and_then(|h| h.conv)) {
                (Some(cg), Some(c)) => {
                    let fan = cg.in_shape[0] * c.kernel[0] * c.kernel[1];
                    (fan, c.out_channels * fan)
                }
                _ => (n_in, n_in * n_out),
            };
            let bound = 1.0 / (fan_in as f32).sqrt();
            let w = (0..n_w).map(|_| rng.random_range(-bound..bound)).collect();
            let rec = hid.filter(|h| h.recurrent).map(|_| {
                let b = 1.0 / (n_out as f32).sqrt();
                (0..n_out * n_out)
                    .map(|_| rng.random_range(-b..b))
                    .collect()
            });
            let is_out = l == geoms.len() - 1;
            layers.push(Layer {
                n_in,
                n_out,
                w,
                rec,
                beta: vec![config.beta],
                threshold: vec![config.threshold],
                alpha: hid.and_then(|h| h.alpha),
                spiking: !(is_out && config.readout == Readout::Membrane),
            });
        }
        Ok(Model { config, layers })
    }

    /// Checks that the parameters are consistent with the configuration: the number of layers,
    /// every layer's sizes against the configuration, the length of every weight vector against
    /// its shape, and the neuron parameters' ranges. A decoded checkpoint passes through this
    /// before anything indexes its vectors; the message names the layer (1-based, input side
    /// first) and the field, e.g. `layer 1 weights: 640 values, expected 64 x 100 = 6400`.
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.config;
        c.validate()?;
        if c.steps > MAX_STEPS {
            return Err(format!("steps {} is absurd (at most {MAX_STEPS})", c.steps));
        }
        let geoms = c.layer_geoms()?;
        if self.layers.len() != geoms.len() {
            return Err(format!(
                "{} layers, expected {} ({} hidden + the output layer)",
                self.layers.len(),
                geoms.len(),
                c.hidden.len()
            ));
        }
        let last = self.layers.len() - 1;
        for (l, (layer, g)) in self.layers.iter().zip(&geoms).enumerate() {
            let k = l + 1;
            let (n_in, n_out) = (g.n_in, g.n_out);
            if layer.n_in != n_in || layer.n_out != n_out {
                return Err(format!(
                    "layer {k} is {} x {}, expected {n_in} x {n_out} from the configuration",
                    layer.n_in, layer.n_out
                ));
            }
            if let (Some(cg), Some(cc)) = (g.conv, c.hidden.get(l).and_then(|h| h.conv)) {
                let [ci, kh, kw] = [cg.in_shape[0], cc.kernel[0], cc.kernel[1]];
                let co = cc.out_channels;
                let want = cc
                    .n_weights(ci)
                    .ok_or_else(|| format!("layer {k}: conv kernel size overflows"))?;
                if layer.w.len() != want {
                    return Err(format!(
                        "layer {k} (conv) kernel: {} values, expected {co} x {ci} x {kh} x {kw} = {want}",
                        layer.w.len()
                    ));
                }
            } else {
                let want = n_in
                    .checked_mul(n_out)
                    .ok_or_else(|| format!("layer {k}: {n_in} x {n_out} weights overflow"))?;
                if layer.w.len() != want {
                    return Err(format!(
                        "layer {k} weights: {} values, expected {n_in} x {n_out} = {want}",
                        layer.w.len()
                    ));
                }
            }
            let hid = c.hidden.get(l);
            let recurrent = hid.is_some_and(|h| h.recurrent);
            match (&layer.rec, recurrent) {
                (Some(r), true) => {
                    let want = n_out.checked_mul(n_out).ok_or_else(|| {
                        format!("layer {k}: {n_out} x {n_out} recurrent weights overflow")
                    })?;
                    if r.len() != want {
                        return Err(format!(
                            "layer {k} recurrent weights: {} values, expected {n_out} x {n_out} = {want}",
                            r.len()
                        ));
                    }
                }
                (None, false) => {}
                (Some(_), false) => {
                    return Err(format!(
                        "layer {k} has recurrent weights but the configuration says it is not recurrent"
                    ));
                }
                (None, true) => {
                    return Err(format!(
                        "layer {k} has no recurrent weights but the configuration says it is recurrent"
                    ));
                }
            }
            for (name, v) in [("beta", &layer.beta), ("threshold", &layer.threshold)] {
                if v.len() != 1 {
                    return Err(format!("layer {k} {name}: {} values, expected 1", v.len()));
                }
            }
            let (beta, thr) = (layer.beta[0], layer.threshold[0]);
            if !(0.0..=1.0).contains(&beta) {
                return Err(format!("layer {k} beta must be in [0, 1], got {beta}"));
            }
            if !(thr.is_finite() && thr > 0.0) {
                return Err(format!("layer {k} threshold must be > 0, got {thr}"));
            }
            let alpha = hid.and_then(|h| h.alpha);
            if layer.alpha != alpha {
                return Err(format!(
                    "layer {k} synaptic decay {:?} differs from the configuration's {alpha:?}",
                    layer.alpha
                ));
            }
            let spiking = !(l == last && c.readout == Readout::Membrane);
            if layer.spiking != spiking {
                return Err(format!(
                    "layer {k} is {}spiking but the readout needs it {}spiking",
                    if layer.spiking { "" } else { "non-" },
                    if spiking { "" } else { "non-" }
                ));
            }
        }
        Ok(())
    }

    /// Number of trainable values.
    pub fn n_params(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.w.len() + l.rec.as_ref().map_or(0, Vec::len) + 2)
            .sum()
    }

    /// Mutable parameter tensors in the order of [`Grads::layers`], with whether each is trained.
    pub fn params_mut(&mut self) -> Vec<(&mut [f32], bool)> {
        let (lb, lt) = (self.config.learn_beta, self.config.learn_threshold);
        let mut v: Vec<(&mut [f32], bool)> = Vec::new();
        for l in &mut self.layers {
            v.push((&mut l.w, true));
            match &mut l.rec {
                Some(r) => v.push((r.as_mut_slice(), true)),
                None => v.push((&mut [], false)),
            }
            v.push((&mut l.beta, lb));
            v.push((&mut l.threshold, lt && l.spiking));
        }
        v
    }

    /// Keeps learned neuron parameters in their valid ranges (beta in `[0, 1]`, threshold
    /// positive) after an optimiser step.
    pub fn clamp_params(&mut self) {
        for l in &mut self.layers {
            l.beta[0] = l.beta[0].clamp(0.0, 1.0);
            l.threshold[0] = l.threshold[0].max(1e-3);
        }
    }

    /// Runs the forward pass of `batch` samples, keeping on `tape` what backward needs, and
    /// returns per-sample predictions. The readout values are on the tape
    /// ([`Tape::logits`]).
    pub fn forward(&self, input: &Input, batch: usize, tape: &mut Tape) -> Vec<usize> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, the only feature the function enables.
            return unsafe { self.forward_avx2(input, batch, tape, None) };
        }
        self.forward_body(input, batch, tape, None)
    }

    /// The forward pass compiled for AVX2. No FMA is enabled, so the results are bit-identical
    /// to the baseline build (and to the engine).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn forward_avx2(
        &self,
        input: &Input,
        batch: usize,
        tape: &mut Tape,
        dropout_seed: Option<u64>,
    ) -> Vec<usize> {
        self.forward_body(input, batch, tape, dropout_seed)
    }

    /// The first layer's input current of `batch` static (direct-coded) samples `x`
    /// (`batch x n_inputs`), `batch x n` for the `n` neurons of the first layer: `X W_0` for a
    /// dense layer, the folded convolution of each sample for a conv layer. The forward pass
    /// computes exactly this (the engine classifier injects it into the exported network).
    pub fn input_current(&self, x: &[f32], batch: usize) -> Result<Vec<f32>, String> {
        self.validate()?;
        let l0 = &self.layers[0];
        if x.len() != batch * l0.n_in {
            return Err(format!(
                "{} values for {batch} samples of {} inputs",
                x.len(),
                l0.n_in
            ));
        }
        let mut pre = vec![0.0f32; batch * l0.n_out];
        let geoms = self.config.layer_geoms()?;
        match (
            geoms[0].conv,
            self.config.hidden.first().and_then(|h| h.conv),
        ) {
            (Some(g), Some(c)) => {
                let mut ct = ConvTape::default();
                ct.prepare(&c, &g, &l0.w);
                ct.analog_current(x, batch, &mut pre);
            }
            _ => gemm(
                Mat::new(x, batch, l0.n_in),
                Mat::new(&l0.w, l0.n_in, l0.n_out),
                &mut pre,
                false,
            ),
        }
        Ok(pre)
    }

    #[inline(always)]
    fn forward_body(
        &self,
        input: &Input,
        batch: usize,
        tape: &mut Tape,
        dropout_seed: Option<u64>,
    ) -> Vec<usize> {
        let t_steps = self.config.steps;
        let nl = self.layers.len();
        let geoms = self
            .config
            .layer_geoms()
            .expect("a validated model has consistent layer sizes");
        tape.batch = batch;
        tape.u.resize(nl, Vec::new());
        tape.s.resize(nl, Vec::new());
        tape.conv.resize(nl, ConvTape::default());
        tape.mask.resize(nl, Vec::new());
        tape.ds.resize(nl, Vec::new());
        tape.dact.resize(nl, (Vec::new(), Vec::new()));
        for (l, geom) in geoms.iter().enumerate() {
            if let (Some(g), Some(c)) = (geom.conv, self.config.hidden.get(l).and_then(|h| h.conv))
            {
                tape.conv[l].prepare(&c, &g, &self.layers[l].w);
            }
            tape.mask[l].clear();
        }
        // Analog first-layer currents, once for all steps.
        let l0 = &self.layers[0];
        match input {
            Input::Static(x) => {
                tape.pre.clear();
                tape.pre.resize(batch * l0.n_out, 0.0);
                if geoms[0].conv.is_some() {
                    tape.conv[0].analog_current(x, batch, &mut tape.pre);
                } else {
                    gemm(
                        Mat::new(x, batch, l0.n_in),
                        Mat::new(&l0.w, l0.n_in, l0.n_out),
                        &mut tape.pre,
                        false,
                    );
                }
            }
            Input::Sequence(x) => {
                tape.pre.clear();
                tape.pre.resize(t_steps * batch * l0.n_out, 0.0);
                if geoms[0].conv.is_some() {
                    tape.conv[0].analog_current(x, t_steps * batch, &mut tape.pre);
                } else {
                    gemm(
                        Mat::new(x, t_steps * batch, l0.n_in),
                        Mat::new(&l0.w, l0.n_in, l0.n_out),
                        &mut tape.pre,
                        false,
                    );
                }
            }
            Input::Spikes { .. } => tape.pre.clear(),
        }
        tape.act.resize(nl, (Vec::new(), Vec::new()));
        for (l, geom) in geoms.iter().enumerate() {
            let layer = &self.layers[l];
            let n = layer.n_out;
            let is_conv = geom.conv.is_some();
            let mut u = std::mem::take(&mut tape.u[l]);
            let mut s = std::mem::take(&mut tape.s[l]);
            let mut ct = std::mem::take(&mut tape.conv[l]);
            u.resize(t_steps * batch * n, 0.0);
            s.resize(t_steps * batch * n, 0.0);
            let (beta, thr) = (layer.beta[0], layer.threshold[0]);
            let subtract = self.config.reset == ResetMode::Subtract;
            let mut v = vec![0.0f32; n];
            let mut syn = vec![0.0f32; n];
            let mut cur = vec![0.0f32; n];
            // Active lists of this layer: per (t, b) a (start, len) range into `act_idx`.
            let (mut act_rng, mut act_idx) = std::mem::take(&mut tape.act[l]);
            act_rng.clear();
            act_rng.resize(t_steps * batch, (0, 0));
            act_idx.clear();
            // The spikes this layer receives (after the layer below's dropout, if any).
            let (spikes_in, in_scale) =
                self.received_spikes(l, input, &tape.mask, &tape.act, &tape.dact);
            for b in 0..batch {
                v.fill(0.0);
                syn.fill(0.0);
                for t in 0..t_steps {
                    let row = (t * batch + b) * n;
                    let k = t * batch + b;
                    cur.fill(0.0);
                    if is_conv {
                        // Scatter of the kernel of each arriving spike, ascending, from zero.
                        if !matches!(spikes_in, Spk::None) {
                            ct.plan.scatter(
                                &ct.kt,
                                spikes_in.get(k),
                                &mut ct.buckets,
                                &mut ct.lens,
                                &mut cur,
                            );
                        }
                    } else {
                        // Feed-forward spikes, ascending, from zero (as the engine's ring buffer).
                        for &i in spikes_in.get(k) {
                            add_row(&mut cur, &layer.w[i as usize * n..(i as usize + 1) * n]);
                        }
                    }
                    if in_scale != 1.0 {
                        for c in cur.iter_mut() {
                            *c *= in_scale;
                        }
                    }
                    if let (Some(rec), true) = (&layer.rec, t > 0) {
                        let (a0, len) = act_rng[(t - 1) * batch + b];
                        for &k in &act_idx[a0 as usize..(a0 + len) as usize] {
                            add_row(&mut cur, &rec[k as usize * n..(k as usize + 1) * n]);
                        }
                    }
                    if l == 0 {
                        match input {
                            Input::Static(_) => add_row(&mut cur, &tape.pre[b * n..(b + 1) * n]),
                            Input::Sequence(_) => add_row(&mut cur, &tape.pre[row..row + n]),
                            Input::Spikes { .. } => {}
                        }
                    }
                    if let Some(a) = layer.alpha {
                        for j in 0..n {
                            syn[j] = a * syn[j] + cur[j];
                        }
                        cur.copy_from_slice(&syn);
                    }
                    let (ur, sr) = (&mut u[row..row + n], &mut s[row..row + n]);
                    if layer.spiking {
                        for j in 0..n {
                            let uj = beta * v[j] + cur[j];
                            let spike = uj > thr;
                            ur[j] = uj;
                            sr[j] = if spike { 1.0 } else { 0.0 };
                            let reset = if subtract { uj - thr } else { 0.0 };
                            v[j] = if spike { reset } else { uj };
                        }
                        let start = act_idx.len();
                        compact(sr, &mut act_idx);
                        let c = act_idx.len() - start;
                        act_rng[t * batch + b] = (start as u32, c as u32);
                    } else {
                        for j in 0..n {
                            let uj = beta * v[j] + cur[j];
                            ur[j] = uj;
                            sr[j] = 0.0;
                            v[j] = uj;
                        }
                    }
                }
            }
            // Dropout of this layer's spikes (training only): a seeded mask per (t, b, neuron).
            if let (Some(seed), Some(p), true) = (
                dropout_seed,
                self.config.hidden.get(l).and_then(|h| h.dropout),
                l + 1 < nl,
            ) && p > 0.0
            {
                let keep = 1.0 / (1.0 - p);
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                    seed ^ (l as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let mut mask = std::mem::take(&mut tape.mask[l]);
                mask.clear();
                mask.extend((0..s.len()).map(|_| if rng.random::<f32>() < p { 0.0 } else { keep }));
                let (mut drng, mut didx) = std::mem::take(&mut tape.dact[l]);
                drng.clear();
                didx.clear();
                for k in 0..t_steps * batch {
                    let (a0, len) = act_rng[k];
                    let start = didx.len();
                    let mk = &mask[k * n..(k + 1) * n];
                    didx.extend(
                        act_idx[a0 as usize..(a0 + len) as usize]
                            .iter()
                            .filter(|&&i| mk[i as usize] != 0.0),
                    );
                    drng.push((start as u32, (didx.len() - start) as u32));
                }
                let mut ds = std::mem::take(&mut tape.ds[l]);
                ds.clear();
                ds.extend(s.iter().zip(&mask).map(|(a, b)| a * b));
                tape.ds[l] = ds;
                tape.dact[l] = (drng, didx);
                tape.mask[l] = mask;
            }
            tape.u[l] = u;
            tape.s[l] = s;
            tape.conv[l] = ct;
            tape.act[l] = (act_rng, act_idx);
        }
        // Readout.
        let out = &self.layers[nl - 1];
        let no = out.n_out;
        tape.logits.clear();
        tape.logits.resize(batch * no, 0.0);
        let src = if out.spiking {
            &tape.s[nl - 1]
        } else {
            &tape.u[nl - 1]
        };
        for t in 0..t_steps {
            for b in 0..batch {
                let r = &src[(t * batch + b) * no..(t * batch + b + 1) * no];
                for (acc, x) in tape.logits[b * no..(b + 1) * no].iter_mut().zip(r) {
                    *acc += *x;
                }
            }
        }
        if !out.spiking {
            for x in &mut tape.logits {
                *x /= t_steps as f32;
            }
        }
        (0..batch)
            .map(|b| argmax(&tape.logits[b * no..(b + 1) * no]))
            .collect()
    }

    /// Loss and readout gradient of a forward pass: returns per-sample `(loss, correct)` stats and
    /// fills `g_out` (`steps x batch x n_outputs`) with `dL/ds` (spiking output) or `dL/du`
    /// (membrane readout), scaled by `1 / total_batch` so that shard gradients add up to the
    /// batch mean.
    fn loss_grad(
        &self,
        tape: &Tape,
        labels: &[u8],
        total_batch: usize,
        g_out: &mut Vec<f32>,
    ) -> ShardStats {
        let (t_steps, batch) = (self.config.steps, tape.batch);
        let out = self.layers.last().expect("a model has an output layer");
        let no = out.n_out;
        let mut d = vec![0.0f32; batch * no];
        let mut st = ShardStats::default();
        let inv_b = 1.0 / total_batch as f32;
        for b in 0..batch {
            let z = &tape.logits[b * no..(b + 1) * no];
            let y = labels[b] as usize;
            if argmax(z) == y {
                st.correct += 1;
            }
            match self.config.loss {
                Loss::CrossEntropy => {
                    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let e: Vec<f64> = z.iter().map(|&x| ((x - m) as f64).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    st.loss_sum += sum.ln() - (z[y] - m) as f64;
                    for k in 0..no {
                        let p = (e[k] / sum) as f32;
                        d[b * no + k] = (p - if k == y { 1.0 } else { 0.0 }) * inv_b;
                    }
                }
                Loss::MseCount {
                    correct_rate,
                    incorrect_rate,
                } => {
                    for k in 0..no {
                        let target = if k == y { correct_rate } else { incorrect_rate };
                        let r = z[k] / t_steps as f32 - target;
                        st.loss_sum += (r * r) as f64;
                        d[b * no + k] = 2.0 * r / t_steps as f32 * inv_b;
                    }
                }
            }
        }
        // dL/d(readout) -> per step.
        let per_step = if out.spiking {
            1.0
        } else {
            1.0 / t_steps as f32
        };
        g_out.clear();
        g_out.resize(t_steps * batch * no, 0.0);
        for t in 0..t_steps {
            for (i, &x) in d.iter().enumerate() {
                g_out[t * batch * no + i] = x * per_step;
            }
        }
        st
    }

    /// Forward, loss and backward for one shard of `labels.len()` samples of a batch of
    /// `total_batch`; adds the gradients into `grads` (which the caller zeroes) and returns the
    /// shard's statistics. With `tbptt` set, gradients flow back at most that many steps.
    /// Dropout is off (as at evaluation); see [`forward_backward_with`](Self::forward_backward_with).
    pub fn forward_backward(
        &self,
        input: &Input,
        labels: &[u8],
        total_batch: usize,
        tape: &mut Tape,
        grads: &mut Grads,
        tbptt: Option<usize>,
    ) -> ShardStats {
        let opts = PassOptions {
            tbptt,
            dropout_seed: None,
        };
        self.forward_backward_with(input, labels, total_batch, tape, grads, opts)
    }

    /// [`forward_backward`](Self::forward_backward) with every option: truncated BPTT and the
    /// seed of the dropout masks (dropout is applied only when a seed is given; the masks are a
    /// function of the seed alone, so a shard keyed by its position in the epoch gets the same
    /// masks for any thread count).
    pub fn forward_backward_with(
        &self,
        input: &Input,
        labels: &[u8],
        total_batch: usize,
        tape: &mut Tape,
        grads: &mut Grads,
        opts: PassOptions,
    ) -> ShardStats {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, the only feature the function enables.
            return unsafe {
                self.forward_backward_avx2(input, labels, total_batch, tape, grads, opts)
            };
        }
        self.forward_backward_body(input, labels, total_batch, tape, grads, opts)
    }

    /// [`forward_backward_with`](Self::forward_backward_with) compiled for AVX2 (no FMA:
    /// identical results).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn forward_backward_avx2(
        &self,
        input: &Input,
        labels: &[u8],
        total_batch: usize,
        tape: &mut Tape,
        grads: &mut Grads,
        opts: PassOptions,
    ) -> ShardStats {
        self.forward_backward_body(input, labels, total_batch, tape, grads, opts)
    }

    #[inline(always)]
    fn forward_backward_body(
        &self,
        input: &Input,
        labels: &[u8],
        total_batch: usize,
        tape: &mut Tape,
        grads: &mut Grads,
        opts: PassOptions,
    ) -> ShardStats {
        let batch = labels.len();
        self.forward_body(input, batch, tape, opts.dropout_seed);
        let tbptt = opts.tbptt;
        let geoms = self
            .config
            .layer_geoms()
            .expect("a validated model has consistent layer sizes");
        let mut g = Vec::new();
        let mut st = self.loss_grad(tape, labels, total_batch, &mut g);
        let t_steps = self.config.steps;
        let nl = self.layers.len();
        let subtract = self.config.reset == ResetMode::Subtract;
        let sur = self.config.surrogate;
        let window = tbptt.unwrap_or(usize::MAX).max(1);
        for l in (0..nl).rev() {
            let layer = &self.layers[l];
            let n = layer.n_out;
            let (u, s) = (&tape.u[l], &tape.s[l]);
            // Firing-rate regulariser on hidden layers.
            if l + 1 < nl {
                if let Some(reg) = self.config.rate_reg {
                    let scale = reg.lambda * 2.0 / (t_steps as f32 * total_batch as f32 * n as f32);
                    for b in 0..batch {
                        for j in 0..n {
                            let c: f32 = (0..t_steps).map(|t| s[(t * batch + b) * n + j]).sum();
                            st.loss_sum += (reg.lambda
                                * (c / t_steps as f32 - reg.target_rate).powi(2)
                                / n as f32) as f64;
                            let gj = scale * (c / t_steps as f32 - reg.target_rate);
                            for t in 0..t_steps {
                                g[(t * batch + b) * n + j] += gj;
                            }
                        }
                    }
                }
                st.hidden_spikes += s.iter().filter(|&&x| x != 0.0).count() as u64;
            }
            let (beta, thr) = (layer.beta[0], layer.threshold[0]);
            let m = batch * n;
            let mut delta = std::mem::take(&mut tape.delta);
            delta.clear();
            delta.resize(t_steps * m, 0.0);
            let mut gv = vec![0.0f32; m];
            let mut gsyn = vec![0.0f32; m];
            let mut grec = vec![0.0f32; m];
            let (mut dbeta, mut dthr) = (0.0f64, 0.0f64);
            let need = self.config.learn_beta || self.config.learn_threshold;
            for t in (0..t_steps).rev() {
                // Truncated BPTT: restart the temporal gradient at window boundaries.
                if (t + 1) % window == 0 && t + 1 < t_steps {
                    gv.fill(0.0);
                    gsyn.fill(0.0);
                    grec.fill(0.0);
                }
                let base = t * m;
                let prev = (t > 0).then(|| (&u[base - m..base], &s[base - m..base]));
                let k = StepBack {
                    spiking: layer.spiking,
                    subtract,
                    thr,
                    beta,
                    alpha: layer.alpha,
                    need,
                };
                let (db, dt) = match sur {
                    Surrogate::FastSigmoid(kk) => k.run(
                        |x| {
                            let d = 1.0 + kk * x.abs();
                            1.0 / (d * d)
                        },
                        &g[base..base + m],
                        &u[base..base + m],
                        &s[base..base + m],
                        prev,
                        &mut gv,
                        &grec,
                        &mut gsyn,
                        &mut delta[base..base + m],
                    ),
                    other => k.run(
                        |x| other.grad(x),
                        &g[base..base + m],
                        &u[base..base + m],
                        &s[base..base + m],
                        prev,
                        &mut gv,
                        &grec,
                        &mut gsyn,
                        &mut delta[base..base + m],
                    ),
                };
                dbeta += db;
                dthr += dt;
                // Recurrent contribution to dL/ds at t - 1: delta_t V^T.
                if let (Some(rec), true) = (&layer.rec, t > 0) {
                    gemm(
                        Mat::new(&delta[base..base + m], batch, n),
                        Mat::new(rec, n, n).t(),
                        &mut grec,
                        false,
                    );
                }
            }
            let gl = &mut grads.layers[l];
            gl[2][0] += dbeta as f32;
            gl[3][0] += dthr as f32;
            // Recurrent weights: sum_t s_{t-1}^T delta_t.
            if layer.rec.is_some() && t_steps > 1 {
                let m = (t_steps - 1) * batch;
                gemm(
                    Mat::new(&s[..m * n], m, n).t(),
                    Mat::new(&delta[batch * n..], m, n),
                    &mut gl[1],
                    true,
                );
            }
            if let (Some(_), Some(c)) = (
                geoms[l].conv,
                self.config.hidden.get(l).and_then(|h| h.conv),
            ) {
                self.conv_backward(l, &c, input, tape, &delta, &mut gl[0], &mut g);
                tape.delta = delta;
                continue;
            }
            // Feed-forward weights and the gradient into the layer below.
            if l > 0 {
                let np = layer.n_in;
                // The spikes as the layer received them (dropped and scaled in training).
                let dropped = !tape.mask[l - 1].is_empty();
                let sp = if dropped {
                    &tape.ds[l - 1]
                } else {
                    &tape.s[l - 1]
                };
                gemm(
                    Mat::new(sp, t_steps * batch, np).t(),
                    Mat::new(&delta, t_steps * batch, n),
                    &mut gl[0],
                    true,
                );
                g.clear();
                g.resize(t_steps * batch * np, 0.0);
                gemm(
                    Mat::new(&delta, t_steps * batch, n),
                    Mat::new(&layer.w, np, n).t(),
                    &mut g,
                    false,
                );
                if dropped {
                    for (x, m) in g.iter_mut().zip(&tape.mask[l - 1]) {
                        *x *= *m;
                    }
                }
            } else {
                match input {
                    Input::Static(x) => {
                        // The input is the same every step: dW = X^T (sum_t delta_t).
                        let mut dsum = vec![0.0f32; batch * n];
                        for t in 0..t_steps {
                            for (a, d) in dsum
                                .iter_mut()
                                .zip(&delta[t * batch * n..(t + 1) * batch * n])
                            {
                                *a += *d;
                            }
                        }
                        gemm(
                            Mat::new(x, batch, layer.n_in).t(),
                            Mat::new(&dsum, batch, n),
                            &mut gl[0],
                            true,
                        );
                    }
                    Input::Sequence(x) => {
                        gemm(
                            Mat::new(x, t_steps * batch, layer.n_in).t(),
                            Mat::new(&delta, t_steps * batch, n),
                            &mut gl[0],
                            true,
                        );
                    }
                    Input::Spikes { offsets, idx } => {
                        for k in 0..t_steps * batch {
                            let d = &delta[k * n..(k + 1) * n];
                            for &i in &idx[offsets[k] as usize..offsets[k + 1] as usize] {
                                add_row(&mut gl[0][i as usize * n..(i as usize + 1) * n], d);
                            }
                        }
                    }
                }
            }
            tape.delta = delta;
        }
        st
    }
}

impl Model {
    /// The weight gradient of conv layer `l` (added to `dk`) and, above the first layer, the
    /// gradient into the layer below (`g`, `steps x batch x n_in`), from `delta = dL/dI`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn conv_backward(
        &self,
        l: usize,
        c: &ConvConfig,
        input: &Input,
        tape: &mut Tape,
        delta: &[f32],
        dk: &mut [f32],
        g: &mut Vec<f32>,
    ) {
        let t_steps = self.config.steps;
        let batch = tape.batch;
        let mut ct = std::mem::take(&mut tape.conv[l]);
        let p = &ct.plan;
        let (cin, cout, pout, khw) = (p.cin, p.cout, p.pout, p.khw);
        let (n, nin, ck) = (cout * pout, cin * p.pin, cin * khw);
        // dL/dK' in the folded layout (C_out x C_in khw).
        let mut dkf = vec![0.0f32; cout * ck];
        let analog = l == 0 && !matches!(input, Input::Spikes { .. });
        if analog {
            ct.col.resize(ck * pout, 0.0);
            let mut dsum = vec![0.0f32; n];
            match input {
                Input::Static(x) => {
                    // The input is the same every step: dK' = sum_b (sum_t delta) col(x_b)^T.
                    for b in 0..batch {
                        dsum.fill(0.0);
                        for t in 0..t_steps {
                            add_row(&mut dsum, &delta[(t * batch + b) * n..][..n]);
                        }
                        ct.plan.im2col(&x[b * nin..(b + 1) * nin], &mut ct.col);
                        gemm(
                            Mat::new(&dsum, cout, pout),
                            Mat::new(&ct.col, ck, pout).t(),
                            &mut dkf,
                            true,
                        );
                    }
                }
                Input::Sequence(x) => {
                    for r in 0..t_steps * batch {
                        ct.plan.im2col(&x[r * nin..(r + 1) * nin], &mut ct.col);
                        gemm(
                            Mat::new(&delta[r * n..(r + 1) * n], cout, pout),
                            Mat::new(&ct.col, ck, pout).t(),
                            &mut dkf,
                            true,
                        );
                    }
                }
                Input::Spikes { .. } => {}
            }
        } else {
            // Spike input: gather, for each active input, the dL/dI of the outputs it reaches.
            let (spikes, scale) = self.received_spikes(l, input, &tape.mask, &tape.act, &tape.dact);
            let mut dkt = vec![0.0f32; ck * cout];
            let mut lens = vec![0u32; ck];
            for k in 0..t_steps * batch {
                let active = spikes.get(k);
                if active.is_empty() {
                    continue;
                }
                let d = &delta[k * n..(k + 1) * n];
                for (pp, a) in ct.acc.chunks_exact_mut(cout).enumerate() {
                    for (co, x) in a.iter_mut().enumerate() {
                        *x = d[co * pout + pp] * scale;
                    }
                }
                ct.plan
                    .gather_grad(&ct.acc, active, &mut ct.buckets, &mut lens, &mut dkt);
            }
            for co in 0..cout {
                for r in 0..ck {
                    dkf[co * ck + r] = dkt[r * cout + co];
                }
            }
            if l > 0 {
                // dL/ds below = K'^T delta, one product per step, then the columns back onto
                // the input positions.
                g.clear();
                g.resize(t_steps * batch * nin, 0.0);
                let mut dpm = vec![0.0f32; batch * pout * cout];
                ct.col.resize(batch * pout * ck, 0.0);
                for t in 0..t_steps {
                    for b in 0..batch {
                        let d = &delta[(t * batch + b) * n..][..n];
                        let dst = &mut dpm[b * pout * cout..(b + 1) * pout * cout];
                        for (pp, a) in dst.chunks_exact_mut(cout).enumerate() {
                            for (co, x) in a.iter_mut().enumerate() {
                                *x = d[co * pout + pp];
                            }
                        }
                    }
                    gemm(
                        Mat::new(&dpm, batch * pout, cout),
                        Mat::new(&ct.kf, cout, ck),
                        &mut ct.col,
                        false,
                    );
                    for b in 0..batch {
                        ct.plan.col2im_add(
                            &ct.col[b * pout * ck..(b + 1) * pout * ck],
                            &mut g[(t * batch + b) * nin..][..nin],
                        );
                    }
                }
                if l > 0 && !tape.mask[l - 1].is_empty() {
                    for (x, m) in g.iter_mut().zip(&tape.mask[l - 1]) {
                        *x *= *m;
                    }
                }
            }
        }
        c.unfold_grad(cin, &dkf, dk);
        tape.conv[l] = ct;
    }
}

/// The per-step backward kernel of one layer (see the module docs for the equations).
struct StepBack {
    spiking: bool,
    subtract: bool,
    thr: f32,
    beta: f32,
    alpha: Option<f32>,
    /// Accumulate the beta and threshold gradients.
    need: bool,
}

impl StepBack {
    /// Processes one step for all samples and neurons: from `dL/ds` (`g`), the carried `dL/dv`
    /// (`gv`, updated in place) and the recurrent gradient (`grec`), computes `delta = dL/dI`.
    /// Returns this step's contributions to `dL/dbeta` and `dL/dthreshold`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn run<F: Fn(f32) -> f32>(
        &self,
        sg: F,
        g: &[f32],
        u: &[f32],
        s: &[f32],
        prev: Option<(&[f32], &[f32])>,
        gv: &mut [f32],
        grec: &[f32],
        gsyn: &mut [f32],
        delta: &mut [f32],
    ) -> (f64, f64) {
        let m = g.len();
        let (gv, grec, gsyn, u, s) = (&mut gv[..m], &grec[..m], &mut gsyn[..m], &u[..m], &s[..m]);
        let delta = &mut delta[..m];
        // dL/du: through the surrogate, plus the carried membrane gradient.
        for i in 0..m {
            let gin = gv[i];
            let du = if self.spiking {
                let gs = g[i] + grec[i];
                let carried = if self.subtract {
                    gin
                } else {
                    gin * (1.0 - s[i])
                };
                gs * sg(u[i] - self.thr) + carried
            } else {
                g[i] + gin
            };
            delta[i] = du;
        }
        let (mut dbeta, mut dthr) = (0.0f64, 0.0f64);
        if self.need {
            let (mut db, mut dt) = (0.0f32, 0.0f32);
            if let Some((up, sp)) = prev {
                for i in 0..m {
                    let vprev = if !self.spiking {
                        up[i]
                    } else if self.subtract {
                        up[i] - self.thr * sp[i]
                    } else {
                        up[i] * (1.0 - sp[i])
                    };
                    db += delta[i] * vprev;
                }
            }
            if self.spiking {
                for i in 0..m {
                    let gs = g[i] + grec[i];
                    dt -= gs * sg(u[i] - self.thr);
                    if self.subtract {
                        dt -= gv[i] * s[i];
                    }
                }
            }
            dbeta = db as f64;
            dthr = dt as f64;
        }
        // Carry dL/dv to the previous step, and apply the synaptic filter.
        for i in 0..m {
            gv[i] = self.beta * delta[i];
        }
        if let Some(a) = self.alpha {
            for i in 0..m {
                gsyn[i] = delta[i] + a * gsyn[i];
                delta[i] = gsyn[i];
            }
        }
        (dbeta, dthr)
    }
}

impl Tape {
    /// Readout values of the last forward pass (`batch x n_outputs`): spike counts, or mean
    /// membranes for a membrane readout.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Spikes of layer `l` from the last forward pass (`steps x batch x n`, 0 or 1).
    pub fn spikes(&self, l: usize) -> &[f32] {
        &self.s[l]
    }

    /// Membranes of layer `l` from the last forward pass (`steps x batch x n`).
    pub fn membranes(&self, l: usize) -> &[f32] {
        &self.u[l]
    }
}

#[inline]
fn add_row(acc: &mut [f32], row: &[f32]) {
    for (a, r) in acc.iter_mut().zip(row) {
        *a += *r;
    }
}

/// Index of the largest value; ties go to the lowest index.
pub fn argmax(z: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in z.iter().enumerate() {
        if x > z[best] {
            best = i;
        }
    }
    best
}

/// `"1 thread"`, `"2 threads"`: for messages.
pub(crate) fn threads_text(k: usize) -> String {
    if k == 1 {
        "1 thread".into()
    } else {
        format!("{k} threads")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With beta 0 and an unreachable threshold a conv layer's membrane is its input current,
    /// a linear function of the kernel: `L(K) = sum C * I(K)` has the gradient the backward
    /// pass computes from `delta = C`, which finite differences check for every kernel value,
    /// for static, per-step analog and spike input, with average, sum and no pooling.
    #[test]
    fn conv_weight_gradients_match_finite_differences_of_a_linear_probe() {
        let shape = [2, 9, 9];
        let (steps, batch) = (3, 2);
        let n_in = 2 * 9 * 9;
        for s in [
            "3C3-AP2-FC4",
            "2C2s2p1-SP3-FC4",
            "3C3p1-FC4",
            "2C4s2-AP2-FC4",
        ] {
            let a = crate::arch::parse(s, shape).unwrap();
            let mut cfg = ModelConfig::feed_forward(n_in, &[], a.n_outputs, steps);
            cfg.hidden = a.hidden;
            cfg.input_shape = Some(shape);
            cfg.beta = 0.0;
            cfg.threshold = 1e30;
            let m = Model::new(cfg, 5).unwrap();
            let c = m.config.hidden[0].conv.unwrap();
            let n = m.layers[0].n_out;
            let x: Vec<f32> = (0..steps * batch * n_in)
                .map(|i| ((i * 29 % 17) as f32) / 17.0)
                .collect();
            let mut offsets = vec![0u32];
            let mut idx = Vec::new();
            for k in 0..steps * batch {
                idx.extend((0..n_in as u32).filter(|i| (i * 7 + k as u32 * 3).is_multiple_of(5)));
                offsets.push(idx.len() as u32);
            }
            for input in [
                Input::Static(x[..batch * n_in].to_vec()),
                Input::Sequence(x.clone()),
                Input::Spikes { offsets, idx },
            ] {
                let coef: Vec<f32> = (0..steps * batch * n)
                    .map(|i| ((i * 13 % 11) as f32 - 5.0) / 7.0)
                    .collect();
                let probe = |m: &Model| {
                    let mut tape = Tape::default();
                    m.forward(&input, batch, &mut tape);
                    tape.u[0]
                        .iter()
                        .zip(&coef)
                        .map(|(u, c)| (*u as f64) * (*c as f64))
                        .sum::<f64>()
                };
                let mut tape = Tape::default();
                m.forward(&input, batch, &mut tape);
                let mut dk = vec![0.0f32; m.layers[0].w.len()];
                let mut g = Vec::new();
                m.conv_backward(0, &c, &input, &mut tape, &coef, &mut dk, &mut g);
                let h = 1e-2f32;
                for (i, &an) in dk.iter().enumerate() {
                    let (mut p, mut q) = (m.clone(), m.clone());
                    p.layers[0].w[i] += h;
                    q.layers[0].w[i] -= h;
                    let fd = (probe(&p) - probe(&q)) / (2.0 * h as f64);
                    assert!(
                        (fd - an as f64).abs() < 1e-3 * fd.abs().max(1.0),
                        "{s} {:?} dK[{i}]: analytic {an} vs finite difference {fd}",
                        std::mem::discriminant(&input),
                    );
                }
            }
        }
    }
}
