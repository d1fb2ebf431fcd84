//! Export of a trained model as a [`NetworkSpec`], and classification by simulating that spec in
//! `snn-core`'s engine.
//!
//! The spec has an `input` population (`n_inputs` neurons of model `input`), one `lif_beta`
//! population per layer (`hidden0`, `hidden1`, ..., `output`) with the layer's beta, threshold and
//! reset, and dense projections with the trained weights (recurrent layers get a projection onto
//! themselves). `dt_ms` is 1: one training step is one millisecond of simulated time. A
//! membrane readout becomes a `lif_beta` population whose threshold (`f32::MAX`) is never reached,
//! i.e. a leaky integrator.
//!
//! **Timing.** In the engine every synapse has a delay of at least one step, while the trainer's
//! layers see their inputs within the same step. The engine therefore reproduces training step
//! `t` of layer `l` at engine step `t + l + 1` when the input is spikes (the input population
//! fires at `t`), and at `t + l` when the input is analog; [`EngineClassifier`] runs the extra
//! steps and reads the output over the shifted window.
//!
//! **Analog (direct) input** has no spike representation: the classifier computes the first
//! layer's input current `X W_0` with the trainer's own matrix product and injects it as a
//! current into `hidden0`; everything downstream runs in the engine.
//!
//! Synaptic (two-state) layers have no counterpart among the engine's models and are refused.

use snn_core::{BuildError, Network, SpikeSink};
use snn_types::{
    Connectivity, LifBetaParams, NetworkSpec, NeuronModel, PopulationSpec, ProjectionSpec,
    Receptor, RecordingSpec, SpikeRaster, StateVar, Step, TraceSpec, ValueSpec,
};

use crate::linalg::{Mat, gemm};
use crate::model::{Input, Model, argmax};

/// Why a model could not be exported or simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    /// The model uses something the engine cannot represent.
    #[error("cannot export: {0}")]
    Unsupported(String),
    /// The engine refused the network.
    #[error(transparent)]
    Engine(#[from] BuildError),
    /// The input does not match the model.
    #[error("input mismatch: {0}")]
    Input(String),
}

/// Name of population `l` (0-based layer index) of an exported model with `n_layers` layers.
pub fn layer_name(l: usize, n_layers: usize) -> String {
    if l + 1 == n_layers {
        "output".into()
    } else {
        format!("hidden{l}")
    }
}

/// The model as a network spec (see the module docs for the layout).
pub fn to_network_spec(model: &Model) -> Result<NetworkSpec, ExportError> {
    let nl = model.layers.len();
    let mut populations = vec![PopulationSpec {
        name: "input".into(),
        size: model.config.n_inputs as u32,
        neuron: NeuronModel::Input,
        v_init: None,
    }];
    let mut projections = Vec::new();
    let dense = |w: &[f32], n_in: usize, n_out: usize| Connectivity::Dense {
        weights: (0..n_in)
            .map(|i| {
                w[i * n_out..(i + 1) * n_out]
                    .iter()
                    .map(|&x| x as f64)
                    .collect()
            })
            .collect(),
    };
    for (l, layer) in model.layers.iter().enumerate() {
        if layer.alpha.is_some() {
            return Err(ExportError::Unsupported(format!(
                "layer {l} is a synaptic (two-state) LIF, which the engine does not model"
            )));
        }
        let name = layer_name(l, nl);
        let threshold = if layer.spiking {
            layer.threshold[0] as f64
        } else {
            f32::MAX as f64
        };
        populations.push(PopulationSpec {
            name: name.clone(),
            size: layer.n_out as u32,
            neuron: NeuronModel::LifBeta(LifBetaParams {
                beta: layer.beta[0] as f64,
                threshold,
                reset: model.config.reset,
                bias: 0.0,
            }),
            v_init: None,
        });
        let source = if l == 0 {
            "input".to_string()
        } else {
            layer_name(l - 1, nl)
        };
        let prj = |source: String, connectivity, autapses| ProjectionSpec {
            name: None,
            source,
            target: name.clone(),
            connectivity,
            weight: ValueSpec::Constant(1.0),
            delay_ms: Some(ValueSpec::Constant(1.0)),
            receptor: Receptor::Excitatory,
            allow_autapses: autapses,
        };
        projections.push(prj(source, dense(&layer.w, layer.n_in, layer.n_out), false));
        if let Some(rec) = &layer.rec {
            projections.push(prj(
                name.clone(),
                dense(rec, layer.n_out, layer.n_out),
                true,
            ));
        }
    }
    let out_name = layer_name(nl - 1, nl);
    let out = &model.layers[nl - 1];
    let recording = RecordingSpec {
        spikes: Some(vec![out_name.clone()]),
        rates: Vec::new(),
        state: if out.spiking {
            Vec::new()
        } else {
            vec![TraceSpec {
                population: out_name,
                neurons: (0..out.n_out as u32).collect(),
                variable: StateVar::V,
            }]
        },
    };
    let spec = NetworkSpec {
        name: Some("trained-snn".into()),
        dt_ms: 1.0,
        duration_ms: Some(model.config.steps as f64),
        seed: 0,
        populations,
        projections,
        stimuli: Vec::new(),
        recording,
    };
    spec.validate()
        .map_err(|e| ExportError::Unsupported(e.to_string()))?;
    Ok(spec)
}

/// Counts spikes per output neuron inside a window of engine steps.
struct WindowCounter {
    first: u32,
    counts: Vec<f32>,
    from: Step,
}

impl SpikeSink for WindowCounter {
    fn on_step(&mut self, step: Step, neurons: &[u32]) {
        if step < self.from {
            return;
        }
        for &g in neurons {
            if let Some(c) = self.counts.get_mut((g - self.first) as usize) {
                *c += 1.0;
            }
        }
    }
}

/// Classifies samples by simulating an exported model in the engine.
pub struct EngineClassifier {
    net: Network,
    model_w0: Vec<f32>,
    n_in: usize,
    n_h0: usize,
    n_layers: usize,
    steps: usize,
    out_first: u32,
    n_out: usize,
    spiking_out: bool,
}

impl EngineClassifier {
    /// Exports `model` and builds the engine network.
    pub fn new(model: &Model) -> Result<Self, ExportError> {
        let spec = to_network_spec(model)?;
        let net = Network::build(&spec)?;
        let nl = model.layers.len();
        let out_pop = &net.populations()[nl];
        Ok(Self {
            out_first: out_pop.start,
            n_out: out_pop.size as usize,
            net,
            model_w0: model.layers[0].w.clone(),
            n_in: model.config.n_inputs,
            n_h0: model.layers[0].n_out,
            n_layers: nl,
            steps: model.config.steps,
            spiking_out: model.layers[nl - 1].spiking,
        })
    }

    /// The engine network (e.g. for its statistics).
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Predicted classes of the `batch` samples of `input` (the same input type the trainer
    /// used), plus the synaptic events the engine processed.
    pub fn predict(
        &mut self,
        input: &Input,
        batch: usize,
    ) -> Result<(Vec<usize>, u64), ExportError> {
        let t_steps = self.steps;
        // Analog input: the trainer's own product, for the whole batch at once.
        let pre = match input {
            Input::Static(x) => {
                if x.len() != batch * self.n_in {
                    return Err(ExportError::Input(format!(
                        "{} values for {batch} samples of {} features",
                        x.len(),
                        self.n_in
                    )));
                }
                let mut pre = vec![0.0f32; batch * self.n_h0];
                gemm(
                    Mat::new(x, batch, self.n_in),
                    Mat::new(&self.model_w0, self.n_in, self.n_h0),
                    &mut pre,
                    false,
                );
                Some(pre)
            }
            Input::Sequence(_) => {
                return Err(ExportError::Unsupported(
                    "time-varying analog input cannot be injected into the engine".into(),
                ));
            }
            Input::Spikes { offsets, .. } => {
                if offsets.len() != t_steps * batch + 1 {
                    return Err(ExportError::Input(format!(
                        "{} spike offsets for {batch} samples of {t_steps} steps",
                        offsets.len()
                    )));
                }
                None
            }
        };
        let shift = if pre.is_some() {
            self.n_layers - 1
        } else {
            self.n_layers
        };
        let mut preds = Vec::with_capacity(batch);
        let mut events = 0u64;
        for b in 0..batch {
            self.net.reset();
            match (&pre, input) {
                (Some(p), _) => self
                    .net
                    .set_input_current(1, &p[b * self.n_h0..(b + 1) * self.n_h0])?,
                (None, Input::Spikes { offsets, idx }) => {
                    let mut r = SpikeRaster::new(0);
                    for t in 0..t_steps {
                        let k = t * batch + b;
                        r.push_step(&idx[offsets[k] as usize..offsets[k + 1] as usize]);
                    }
                    self.net.inject_input(0, &r)?;
                }
                _ => unreachable!("checked above"),
            }
            let mut sink = WindowCounter {
                first: self.out_first,
                counts: vec![0.0; self.n_out],
                from: shift as Step,
            };
            let stats = self.net.run((t_steps + shift) as u64, &mut sink);
            events += stats.syn_events;
            let logits = if self.spiking_out {
                sink.counts
            } else {
                let rec = self.net.take_recordings();
                let mut z = vec![0.0f32; self.n_out];
                for t in 0..t_steps {
                    for (k, tr) in rec.traces.iter().enumerate() {
                        z[k] += tr.values[shift + t];
                    }
                }
                for x in &mut z {
                    *x /= t_steps as f32;
                }
                z
            };
            preds.push(argmax(&logits));
        }
        Ok((preds, events))
    }
}
