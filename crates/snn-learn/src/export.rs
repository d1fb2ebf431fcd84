//! Export of a trained model as a [`NetworkSpec`] that carries its own readout, and
//! classification by simulating that spec in `snn-core`'s engine.
//!
//! The spec has an `input` population (`n_inputs` neurons of model `input`), one `lif_beta`
//! population per layer (`hidden0`, `hidden1`, ..., `output`) with the layer's beta, threshold and
//! reset, and dense projections with the trained weights (recurrent layers get a projection onto
//! themselves). `dt_ms` is 1: one training step is one millisecond of simulated time. A
//! membrane readout becomes a `lif_beta` population whose threshold (`f32::MAX`) is never reached,
//! i.e. a leaky integrator.
//!
//! **Readout.** The spec's `[readout]` section ([`snn_types::ReadoutSpec`]) says how the
//! trainer's prediction is read from a run: the sample enters `input` with the training
//! encoding, the class is the `output` neuron with the most spikes (`spike_count`) or the highest
//! mean membrane (`mean_membrane`) over the trainer's `steps`, read `input_shift_ms` later.
//! [`snn_types::Readout`] makes the decision for the engine ([`EngineClassifier`]) and for the
//! chip model alike; [`encode_samples`], [`sample_raster`] and [`sample_spikes`] turn samples into
//! the input the readout describes.
//!
//! **Timing.** In the engine every synapse has a delay of at least one step, while the trainer's
//! layers see their inputs within the same step. The engine therefore reproduces training step
//! `t` of layer `l` at engine step `t + l + 1` when the input is spikes (the input population
//! fires at `t`), and at `t + l` when the input is analog; the readout's `input_shift_ms` is
//! that latency for the output layer (`n_layers` steps for spike input, `n_layers - 1` for
//! analog input).
//!
//! **Analog (direct) input** has no spike representation: the classifier computes the first
//! layer's input current (`X W_0`, or the folded convolution of each sample for a conv layer)
//! with the trainer's own code ([`Model::input_current`]) and injects it as a current into
//! `hidden0`; everything downstream runs in the engine.
//!
//! **Conv layers** become `conv2d` projections carrying the *folded* kernel (conv and average /
//! sum pooling of currents as one convolution, see [`crate::conv`]); their populations and the
//! input population get `shape = [C, H, W]`. Because the trainer runs with the same folded kernel
//! and sums arriving spikes in ascending order from zero, as the engine does, the engine
//! reproduces the trainer's forward pass bit for bit. Dropout is the identity at export.
//!
//! Synaptic (two-state) layers have no counterpart among the engine's models and are refused.

use snn_core::{BuildError, Network};
use snn_types::{
    Connectivity, InputCoding, LifBetaParams, NetworkSpec, NeuronModel, PopulationSpec,
    ProjectionSpec, Readout, ReadoutInput, ReadoutRule, ReadoutSpec, Receptor, RecordingSpec,
    SpecError, Spike, SpikeRaster, StateVar, TraceSpec, ValueSpec,
};

use crate::model::{Input, Model};
use crate::train::{Encoding, Source, TrainError};

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
    /// The spec has no usable readout.
    #[error(transparent)]
    Readout(#[from] SpecError),
    /// The samples could not be encoded.
    #[error(transparent)]
    Encode(#[from] TrainError),
}

/// Name of population `l` (0-based layer index) of an exported model with `n_layers` layers.
pub fn layer_name(l: usize, n_layers: usize) -> String {
    if l + 1 == n_layers {
        "output".into()
    } else {
        format!("hidden{l}")
    }
}

/// The readout coding (spec side) of a training encoding.
pub fn input_coding(enc: Encoding) -> InputCoding {
    match enc {
        Encoding::Direct => InputCoding::Direct,
        Encoding::Rate { p_max } => InputCoding::Rate {
            p_max: p_max as f64,
        },
        Encoding::Ttfs { threshold } => InputCoding::Latency {
            threshold: threshold as f64,
        },
        Encoding::Events { duration_us } => InputCoding::Events { duration_us },
    }
}

/// The training encoding a readout coding stands for (the inverse of [`input_coding`]).
pub fn encoding(coding: InputCoding) -> Encoding {
    match coding {
        InputCoding::Direct => Encoding::Direct,
        InputCoding::Rate { p_max } => Encoding::Rate {
            p_max: p_max as f32,
        },
        InputCoding::Latency { threshold } => Encoding::Ttfs {
            threshold: threshold as f32,
        },
        InputCoding::Events { duration_us } => Encoding::Events { duration_us },
    }
}

/// The model as a network spec whose readout describes how the trainer, fed with `encoding`,
/// predicts (see the module docs for the layout and the timing).
pub fn to_network_spec(model: &Model, encoding: Encoding) -> Result<NetworkSpec, ExportError> {
    let nl = model.layers.len();
    model
        .validate()
        .map_err(|e| ExportError::Unsupported(format!("inconsistent model: {e}")))?;
    let geoms = model
        .config
        .layer_geoms()
        .map_err(ExportError::Unsupported)?;
    let shape32 = |s: [usize; 3]| s.map(|v| v as u32);
    let mut populations = vec![PopulationSpec {
        shape: model.config.input_shape.map(shape32),
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
        let conv = geoms[l]
            .conv
            .zip(model.config.hidden.get(l).and_then(|h| h.conv));
        populations.push(PopulationSpec {
            shape: conv.map(|(g, _)| shape32(g.out_shape)),
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
            plasticity: None,
        };
        let connectivity = match conv {
            // The folded kernel: conv and pooling of currents as one convolution.
            Some((g, c)) => {
                let mut kf = Vec::new();
                c.fold_kernel(g.in_shape[0], &layer.w, &mut kf);
                Connectivity::Conv2d {
                    in_shape: Some(shape32(g.in_shape)),
                    out_channels: g.out_shape[0] as u32,
                    kernel: g.kernel.map(|v| v as u32),
                    stride: g.stride.map(|v| v as u32),
                    padding: g.padding.map(|v| v as u32),
                    dilation: [1, 1],
                    groups: 1,
                    weights: kf.iter().map(|&x| x as f64).collect(),
                }
            }
            None => dense(&layer.w, layer.n_in, layer.n_out),
        };
        projections.push(prj(source, connectivity, false));
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
    let steps = model.config.steps as f64;
    let coding = input_coding(encoding);
    // Spike input reaches layer l one step later than analog input (see the module docs).
    let shift = if coding.is_spiking() { nl } else { nl - 1 };
    let readout = ReadoutSpec {
        population: out_name.clone(),
        rule: if out.spiking {
            ReadoutRule::SpikeCount
        } else {
            ReadoutRule::MeanMembrane
        },
        window_start_ms: 0.0,
        window_ms: steps,
        input_shift_ms: shift as f64,
        input: ReadoutInput {
            population: "input".into(),
            duration_ms: steps,
            coding,
        },
    };
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
        duration_ms: Some(steps),
        seed: 0,
        populations,
        projections,
        stimuli: Vec::new(),
        recording,
        readout: Some(readout),
    };
    spec.validate()
        .map_err(|e| ExportError::Unsupported(e.to_string()))?;
    Ok(spec)
}

/// Sample `b`'s spikes from a batch `input` of `batch` samples and `steps` steps, as a raster of
/// steps `0..steps` with neuron indices local to the input population (what
/// [`Network::inject_input`] takes).
pub fn sample_raster(
    input: &Input,
    batch: usize,
    b: usize,
    steps: usize,
) -> Result<SpikeRaster, ExportError> {
    let (offsets, idx) = spike_rows(input, batch, b, steps)?;
    let mut r = SpikeRaster::new(0);
    for t in 0..steps {
        let k = t * batch + b;
        r.push_step(&idx[offsets[k] as usize..offsets[k + 1] as usize]);
    }
    Ok(r)
}

/// Sample `b`'s spikes from a batch `input`, as the [`Spike`]s the readout's input population
/// fires: absolute steps `0..readout.input_steps()`, global neuron indices (what a chip model's
/// `inject_input` takes).
pub fn sample_spikes(
    readout: &Readout,
    input: &Input,
    batch: usize,
    b: usize,
) -> Result<Vec<Spike>, ExportError> {
    let steps = usize::try_from(readout.input_steps())
        .map_err(|_| ExportError::Input("the presentation is too long".into()))?;
    let (offsets, idx) = spike_rows(input, batch, b, steps)?;
    let first = readout.input_neurons().start;
    let n_in = readout.input_neurons().len();
    let mut spikes = Vec::new();
    for t in 0..steps {
        let k = t * batch + b;
        for &i in &idx[offsets[k] as usize..offsets[k + 1] as usize] {
            if i as usize >= n_in {
                return Err(ExportError::Input(format!(
                    "input {i} at step {t}, but the input population has {n_in} neurons"
                )));
            }
            spikes.push(Spike {
                step: t as u64,
                neuron: first + i,
            });
        }
    }
    Ok(spikes)
}

/// The spike rows of a batch input, checked against `batch`, `b` and `steps`.
fn spike_rows(
    input: &Input,
    batch: usize,
    b: usize,
    steps: usize,
) -> Result<(&[u32], &[u32]), ExportError> {
    let Input::Spikes { offsets, idx } = input else {
        return Err(ExportError::Input(
            "the readout's coding is spikes, but the input is analog".into(),
        ));
    };
    if b >= batch || offsets.len() != steps * batch + 1 {
        return Err(ExportError::Input(format!(
            "{} spike offsets for sample {b} of {batch} samples of {steps} steps",
            offsets.len()
        )));
    }
    if offsets.windows(2).any(|w| w[0] > w[1]) || offsets[offsets.len() - 1] as usize > idx.len() {
        return Err(ExportError::Input("malformed spike offsets".into()));
    }
    Ok((offsets, idx))
}

/// The input of samples `idx` of `data` as the readout describes it: its coding (as a training
/// [`Encoding`]) over its presentation steps. `seed` keys the randomness per sample, as in
/// [`Source::input`].
pub fn encode_samples(
    readout: &Readout,
    data: &dyn Source,
    idx: &[usize],
    seed: u64,
) -> Result<Input, ExportError> {
    let steps = usize::try_from(readout.input_steps())
        .map_err(|_| ExportError::Input("the presentation is too long".into()))?;
    Ok(data.input(idx, steps, encoding(readout.coding()), seed)?)
}

/// Classifies samples by simulating an exported model in the engine and reading the prediction
/// with the spec's [`Readout`].
pub struct EngineClassifier {
    net: Network,
    spec: NetworkSpec,
    readout: Readout,
    /// The trained model, for the first layer's analog input current.
    model: Model,
    n_in: usize,
    n_h0: usize,
    /// Population fed by the input population (receives the analog current).
    first_layer: usize,
}

impl EngineClassifier {
    /// Exports `model` for inputs coded with `encoding` and builds the engine network.
    pub fn new(model: &Model, encoding: Encoding) -> Result<Self, ExportError> {
        let spec = to_network_spec(model, encoding)?;
        let readout = Readout::from_spec(&spec)?;
        let net = Network::build(&spec)?;
        Ok(Self {
            net,
            readout,
            model: model.clone(),
            n_in: model.config.n_inputs,
            n_h0: model.layers[0].n_out,
            first_layer: spec
                .population_index(&layer_name(0, model.layers.len()))
                .unwrap_or(1),
            spec,
        })
    }

    /// The engine network (e.g. for its statistics).
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The exported spec the network was built from (with its readout).
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// The spec's readout, resolved.
    pub fn readout(&self) -> &Readout {
        &self.readout
    }

    /// The input of samples `idx` of `data` coded as the readout says (see [`encode_samples`]).
    pub fn encode(
        &self,
        data: &dyn Source,
        idx: &[usize],
        seed: u64,
    ) -> Result<Input, ExportError> {
        encode_samples(&self.readout, data, idx, seed)
    }

    /// Predicted classes of the `batch` samples of `input` (coded as the readout says, e.g. by
    /// [`encode`](Self::encode)), plus the synaptic events the engine processed.
    pub fn predict(
        &mut self,
        input: &Input,
        batch: usize,
    ) -> Result<(Vec<usize>, u64), ExportError> {
        let steps = usize::try_from(self.readout.input_steps())
            .map_err(|_| ExportError::Input("the presentation is too long".into()))?;
        // Analog input: the trainer's own product, for the whole batch at once.
        let pre = match (input, self.readout.coding()) {
            (Input::Static(x), InputCoding::Direct) => {
                if x.len() != batch * self.n_in {
                    return Err(ExportError::Input(format!(
                        "{} values for {batch} samples of {} features",
                        x.len(),
                        self.n_in
                    )));
                }
                // The trainer's own product (X W_0, or the folded convolution of each sample).
                Some(
                    self.model
                        .input_current(x, batch)
                        .map_err(ExportError::Input)?,
                )
            }
            (Input::Sequence(_), _) => {
                return Err(ExportError::Unsupported(
                    "time-varying analog input cannot be injected into the engine".into(),
                ));
            }
            (Input::Spikes { .. }, c) if c.is_spiking() => None,
            (_, c) => {
                return Err(ExportError::Input(format!(
                    "the readout's coding is {}, which this input does not match",
                    c.name()
                )));
            }
        };
        let out_pop = self.readout.output_population();
        let n_out = self.readout.n_classes() as u32;
        let mut preds = Vec::with_capacity(batch);
        let mut events = 0u64;
        for b in 0..batch {
            self.net.reset();
            match &pre {
                Some(p) => self
                    .net
                    .set_input_current(self.first_layer, &p[b * self.n_h0..(b + 1) * self.n_h0])?,
                None => {
                    let r = sample_raster(input, batch, b, steps)?;
                    self.net.inject_input(self.readout.input_population(), &r)?;
                }
            }
            let mut raster = SpikeRaster::new(0);
            let stats = self.net.run(self.readout.run_steps(), &mut raster);
            events += stats.syn_events;
            let pred = match self.readout.rule() {
                ReadoutRule::SpikeCount => self.readout.predict(&raster),
                ReadoutRule::MeanMembrane => {
                    let rec = self.net.take_recordings();
                    let traces: Option<Vec<&[f32]>> = (0..n_out)
                        .map(|k| {
                            rec.traces
                                .iter()
                                .find(|t| {
                                    t.population == out_pop
                                        && t.neuron == k
                                        && t.variable == StateVar::V
                                })
                                .map(|t| t.values.as_slice())
                        })
                        .collect();
                    traces.and_then(|t| self.readout.predict_membrane(&t))
                }
            };
            preds.push(pred.ok_or_else(|| {
                ExportError::Unsupported("the run does not carry what the readout reads".into())
            })?);
        }
        Ok((preds, events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;

    #[test]
    fn codings_map_both_ways() {
        for enc in [
            Encoding::Direct,
            Encoding::Rate { p_max: 0.8 },
            Encoding::Ttfs { threshold: 0.05 },
            Encoding::Events {
                duration_us: 300_000,
            },
        ] {
            assert_eq!(encoding(input_coding(enc)), enc);
        }
    }

    #[test]
    fn exported_readout_and_sample_spikes() {
        let m = Model::new(ModelConfig::feed_forward(3, &[4], 2, 5), 1).unwrap();
        let spec = to_network_spec(&m, Encoding::Rate { p_max: 0.5 }).unwrap();
        let r = Readout::from_spec(&spec).unwrap();
        assert_eq!(r.window(), 2..7);
        assert_eq!(r.output_neurons(), 7..9);
        assert_eq!(r.rule(), ReadoutRule::SpikeCount);
        let direct = to_network_spec(&m, Encoding::Direct).unwrap();
        assert_eq!(Readout::from_spec(&direct).unwrap().window(), 1..6);

        // Two samples, five steps: sample 1 fires input 2 at step 0 and inputs 0, 1 at step 3.
        let mut offsets = vec![0u32];
        let mut idx = Vec::new();
        for t in 0..5 {
            for b in 0..2 {
                match (t, b) {
                    (0, 1) => idx.push(2),
                    (3, 1) => idx.extend([0, 1]),
                    (1, 0) => idx.push(0),
                    _ => {}
                }
                offsets.push(idx.len() as u32);
            }
        }
        let input = Input::Spikes { offsets, idx };
        let spikes = sample_spikes(&r, &input, 2, 1).unwrap();
        let got: Vec<_> = spikes.iter().map(|s| (s.step, s.neuron)).collect();
        assert_eq!(got, vec![(0, 2), (3, 0), (3, 1)]);
        let raster = sample_raster(&input, 2, 1, 5).unwrap();
        assert_eq!(raster.iter().collect::<Vec<_>>(), spikes);
        assert!(sample_spikes(&r, &input, 2, 2).is_err());
        assert!(sample_spikes(&r, &Input::Static(vec![0.0; 6]), 2, 0).is_err());
    }
}
