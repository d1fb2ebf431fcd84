//! [`NetworkSpec`] -> NIR graph.
//!
//! Every population becomes a node of the same name (input -> `Input`, lif_beta -> `LIF`/`IF`/
//! `LI`/`I`, lif_exp -> `CubaLIF`/`CubaLI`); every projection becomes a linear node
//! (`<source>_to_<target>`: dense, explicit and all-to-all as `Linear`, or `Affine` when the
//! target has a constant bias current; one-to-one as `Scale`; conv2d as `Conv2d`; pool2d as
//! `SumPool2d`/`AvgPool2d`), followed by a `Delay` node when the delay is longer than one step.
//! Metadata (`snn_*` keys, which `nir.read` keeps as each node's `metadata`) records what NIR has
//! no field for: the time step, the reset mode, the population order and the readout, so that an
//! import of the file gives back the same spec.

use std::collections::BTreeMap;

use snn_types::{Connectivity, NetworkSpec, NeuronModel, PoolMode, StimulusSpec, ValueSpec};

use crate::error::NirError;
use crate::graph::{NirGraph, NirNode, NodeKind, Param};
use crate::hdf::H5Value;

fn err(m: impl Into<String>) -> NirError {
    NirError::Export(m.into())
}

/// Neuron models that export to NIR.
pub const EXPORTABLE_MODELS: [&str; 4] = ["input", "lif_beta", "lif_exp", "lif_delta"];

fn full(n: usize, v: f64) -> Param {
    Param::vec(vec![v; n])
}

/// The node of a population and the factor its incoming weights are divided by (the inverse of
/// the import's input scale; 1 for every mapping below).
fn neuron_node(
    name: &str,
    model: &NeuronModel,
    size: usize,
    shape: Option<[u32; 3]>,
    dt_ms: f64,
) -> Result<NirNode, NirError> {
    let dt = dt_ms * 1e-3;
    let never = f32::MAX as f64;
    let shaped = |p: Param| match (p, shape) {
        (Param::Array { data, .. }, Some(s)) => Param::Array {
            shape: s.map(|v| v as usize).to_vec(),
            data,
        },
        (p, _) => p,
    };
    let mut meta = BTreeMap::new();
    let node = match model {
        NeuronModel::Input => {
            let s: Vec<f64> = match shape {
                Some(s) => s.iter().map(|&v| v as f64).collect(),
                None => vec![size as f64],
            };
            NirNode::new(NodeKind::Input, vec![("shape", Param::vec(s))])
        }
        NeuronModel::LifBeta(p) => {
            meta.insert("snn_reset".to_string(), H5Value::string(p.reset.name()));

            let silent = p.threshold >= never;
            if p.beta >= 1.0 {
                if p.bias != 0.0 {
                    return Err(err(format!(
                        "population '{name}': lif_beta with beta = 1 and a bias has no NIR node (IF has no leak input)"
                    )));
                }
                let r = full(size, 1.0 / dt);
                if silent {
                    NirNode::new(NodeKind::I, vec![("r", shaped(r))])
                } else {
                    NirNode::new(
                        NodeKind::IF,
                        vec![
                            ("r", shaped(r)),
                            ("v_threshold", shaped(full(size, p.threshold))),
                            ("v_reset", shaped(full(size, 0.0))),
                        ],
                    )
                }
            } else {
                if p.beta <= 0.0 {
                    return Err(err(format!(
                        "population '{name}': lif_beta with beta = {} has no finite time constant",
                        p.beta
                    )));
                }
                // Euler's inverse: beta = 1 - dt/tau, input scale r dt/tau = 1.
                let tau = dt / (1.0 - p.beta);
                let r = tau / dt;
                let v_leak = p.bias / (1.0 - p.beta);
                let mut params = vec![
                    ("tau", shaped(full(size, tau))),
                    ("r", shaped(full(size, r))),
                    ("v_leak", shaped(full(size, v_leak))),
                ];
                if silent {
                    NirNode::new(NodeKind::LI, params)
                } else {
                    params.push(("v_threshold", shaped(full(size, p.threshold))));
                    params.push(("v_reset", shaped(full(size, 0.0))));
                    NirNode::new(NodeKind::LIF, params)
                }
            }
        }
        NeuronModel::LifDelta(p) => {
            if p.t_ref_ms != 0.0 {
                return Err(err(format!(
                    "population '{name}': lif_delta with a refractory period ({} ms) has no NIR node (LIF has none); set t_ref_ms = 0",
                    p.t_ref_ms
                )));
            }
            // NIR's LIF in mV, integrated exactly: v += (1 - beta) r I with r = 1/(1 - beta), so
            // a weight is the jump it is in lif_delta; i_e shifts the rest potential.
            meta.insert("snn_discretisation".to_string(), H5Value::string("exact"));
            meta.insert("snn_reset".to_string(), H5Value::string("zero"));
            let tau = p.tau_m_ms * 1e-3;
            let r = 1.0 / (1.0 - (-dt / tau).exp());
            NirNode::new(
                NodeKind::LIF,
                vec![
                    ("tau", shaped(full(size, tau))),
                    ("r", shaped(full(size, r))),
                    (
                        "v_leak",
                        shaped(full(size, p.e_l_mv + p.tau_m_ms / p.c_m_pf * p.i_e_pa)),
                    ),
                    ("v_threshold", shaped(full(size, p.v_th_mv))),
                    ("v_reset", shaped(full(size, p.v_reset_mv))),
                ],
            )
        }
        NeuronModel::LifExp(p) => {
            if p.adaptive_threshold.is_some() || p.t_ref_ms != 0.0 || p.i_e_pa != 0.0 {
                return Err(err(format!(
                    "population '{name}': lif_exp with a refractory period, a constant current i_e or an adaptive threshold has no NIR node (CubaLIF has none of them)"
                )));
            }
            if p.tau_syn_ex_ms != p.tau_syn_in_ms {
                return Err(err(format!(
                    "population '{name}': lif_exp with different excitatory and inhibitory time constants has no NIR node (CubaLIF has one)"
                )));
            }
            meta.insert("snn_discretisation".to_string(), H5Value::string("exact"));
            let tau_syn = p.tau_syn_ex_ms * 1e-3;
            let k_syn = 1.0 - (-dt / tau_syn).exp();
            let silent = p.v_th_mv >= never;
            let mut params = vec![
                ("tau_mem", shaped(full(size, p.tau_m_ms * 1e-3))),
                ("tau_syn", shaped(full(size, tau_syn))),
                ("r", shaped(full(size, p.tau_m_ms / p.c_m_pf))),
                ("v_leak", shaped(full(size, p.e_l_mv))),
                ("w_in", shaped(full(size, 1.0 / k_syn))),
            ];
            if silent {
                NirNode::new(NodeKind::CubaLI, params)
            } else {
                params.push(("v_threshold", shaped(full(size, p.v_th_mv))));
                params.push(("v_reset", shaped(full(size, p.v_reset_mv))));
                NirNode::new(NodeKind::CubaLIF, params)
            }
        }
        other => {
            return Err(err(format!(
                "population '{name}': model {} has no NIR node (exportable: {})",
                other.name(),
                EXPORTABLE_MODELS.join(", ")
            )));
        }
    };
    let mut node = node;
    node.metadata.extend(meta);
    if !matches!(model, NeuronModel::Input) {
        // The exact parameters (the file's float32 ones are rounded); the import uses them when
        // they agree with what it derives from the NIR parameters.
        let json = serde_json::to_string(model).map_err(|e| err(e.to_string()))?;
        node.metadata
            .insert("snn_neuron".into(), H5Value::string(&json));
    }
    Ok(node)
}

/// Exports a validated spec. Returns the graph and notes on what the file does not carry
/// (stimuli other than constant bias currents, recording, the seed).
pub fn export_spec(spec: &NetworkSpec) -> Result<(NirGraph, Vec<String>), NirError> {
    spec.validate().map_err(|e| err(e.to_string()))?;
    let dt_ms = spec.dt_ms;
    let mut g = NirGraph::default();
    let mut notes = Vec::new();
    g.metadata
        .insert("snn_dt_ms".into(), H5Value::floats(vec![], vec![dt_ms]));
    if let Some(n) = &spec.name {
        g.metadata.insert("snn_name".into(), H5Value::string(n));
    }
    g.metadata
        .insert("snn_seed".into(), H5Value::ints(vec![spec.seed as i64]));
    if let Some(d) = spec.duration_ms {
        g.metadata
            .insert("snn_duration_ms".into(), H5Value::floats(vec![], vec![d]));
    }
    if spec.recording != snn_types::RecordingSpec::default() {
        let json = serde_json::to_string(&spec.recording).map_err(|e| err(e.to_string()))?;
        g.metadata
            .insert("snn_recording".into(), H5Value::string(&json));
    }
    if let Some(r) = &spec.readout {
        let json = serde_json::to_string(r).map_err(|e| err(e.to_string()))?;
        g.metadata
            .insert("snn_readout".into(), H5Value::string(&json));
    }
    let reserved = |n: &str| spec.population_index(n).is_some();
    for (i, p) in spec.populations.iter().enumerate() {
        if p.name.contains('.') {
            return Err(err(format!(
                "population '{}': NIR uses '.' to address nodes of nested graphs; rename it",
                p.name
            )));
        }
        let mut node = neuron_node(&p.name, &p.neuron, p.size as usize, p.shape, dt_ms)?;
        if p.v_init.is_some() {
            return Err(err(format!(
                "population '{}': v_init has no NIR field (NIR states start at rest)",
                p.name
            )));
        }
        node.metadata
            .insert("snn_index".into(), H5Value::ints(vec![i as i64]));
        g.nodes.insert(p.name.clone(), node);
    }
    // Constant bias currents (from step 0 or from the population's input latency, never ending)
    // become the bias of the first dense-like projection into the population.
    let mut bias: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    // The import starts a bias when the population's input arrives (its latency from the input
    // populations), so only such currents are biases.
    let depth = latency_ms(spec);
    for (k, s) in spec.stimuli.iter().enumerate() {
        match s {
            StimulusSpec::Current {
                target,
                amplitude,
                stop_ms: None,
                neurons,
                start_ms,
            } => {
                let want = depth.get(target.as_str()).copied().unwrap_or(0.0);
                if (start_ms - want).abs() > 1e-9 * want.max(1.0) {
                    return Err(err(format!(
                        "stimuli[{k}]: a constant current into '{target}' from {start_ms} ms; NIR has biases, which act from the population's input latency ({want} ms here)"
                    )));
                }
                let pi = spec.population_index(target).expect("validated");
                let n = spec.populations[pi].size as usize;
                let b = bias.entry(target.clone()).or_insert_with(|| vec![0.0; n]);
                match neurons {
                    Some(list) => list.iter().for_each(|&i| b[i as usize] += amplitude),
                    None => b.iter_mut().for_each(|x| *x += amplitude),
                }
            }
            other => notes.push(format!(
                "stimuli[{k}] ({}) is input data, not part of the network: not written",
                match other {
                    StimulusSpec::Poisson { .. } => "poisson",
                    StimulusSpec::SpikeArray { .. } => "spike_array",
                    StimulusSpec::StepCurrent { .. } => "step_current",
                    StimulusSpec::Current { .. } => "current with a stop time",
                }
            )),
        }
    }
    let mut used = BTreeMap::<String, usize>::new();
    let mut edges = Vec::new();
    for (j, pr) in spec.projections.iter().enumerate() {
        if let Some(rule) = &pr.plasticity {
            notes.push(format!(
                "projections[{j}]: the {} STDP rule is not exported (NIR has no learning rules); \
                 the edge holds the initial weights",
                rule.rule_name()
            ));
        }
        let si = spec.population_index(&pr.source).expect("validated");
        let ti = spec.population_index(&pr.target).expect("validated");
        let (src, tgt) = (&spec.populations[si], &spec.populations[ti]);
        let (n_src, n_tgt) = (src.size as usize, tgt.size as usize);
        let at = |m: &str| {
            err(format!(
                "projections[{j}] ({} -> {}): {m}",
                pr.source, pr.target
            ))
        };
        if pr.receptor != snn_types::Receptor::Excitatory
            && !matches!(tgt.neuron, NeuronModel::LifBeta(_))
        {
            return Err(at(
                "the inhibitory receptor has no NIR equivalent for this model (NIR nodes have one input); use negative weights",
            ));
        }
        let w = match pr.weight {
            ValueSpec::Constant(w) => w,
            ValueSpec::Random(_) => {
                return Err(at(
                    "random weights have no NIR form; expand the network first",
                ));
            }
        };
        let delay_ms = match pr.delay_ms {
            None => dt_ms,
            Some(ValueSpec::Constant(d)) => d,
            Some(ValueSpec::Random(_)) => return Err(at("random delays have no NIR form")),
        };
        let base = format!("{}_to_{}", pr.source, pr.target);
        let count = used.entry(base.clone()).or_insert(0);
        *count += 1;
        let mut name = if *count == 1 {
            base.clone()
        } else {
            format!("{base}_{count}")
        };
        while reserved(&name) {
            name.push('_');
        }
        // A dense matrix (n_out, n_in) row-major, or a special node.
        let dense = |m: &mut Vec<f64>, s: usize, t: usize, v: f64| m[t * n_src + s] += v;
        let node = match &pr.connectivity {
            Connectivity::Dense { weights } => {
                let mut m = vec![0.0; n_tgt * n_src];
                for (s, row) in weights.iter().enumerate() {
                    for (t, &v) in row.iter().enumerate() {
                        dense(&mut m, s, t, v * w);
                    }
                }
                Some(m)
            }
            Connectivity::AllToAll => {
                let mut m = vec![w; n_tgt * n_src];
                if si == ti && !pr.allow_autapses {
                    for i in 0..n_src {
                        m[i * n_src + i] = 0.0;
                    }
                }
                Some(m)
            }
            Connectivity::Explicit {
                sources,
                targets,
                weights,
                delays_ms,
            } => {
                if delays_ms.is_some() {
                    return Err(at(
                        "per-synapse delays have no NIR form (one Delay per node)",
                    ));
                }
                let mut m = vec![0.0; n_tgt * n_src];
                for (k, (&s, &t)) in sources.iter().zip(targets).enumerate() {
                    let v = weights.as_ref().map_or(w, |ws| ws[k]);
                    dense(&mut m, s as usize, t as usize, v);
                }
                Some(m)
            }
            Connectivity::OneToOne => None,
            Connectivity::Conv2d { .. } | Connectivity::Pool2d { .. } => None,
            other => {
                return Err(at(&format!(
                    "the random rule {} has no NIR form; expand it to explicit synapses first",
                    other.name()
                )));
            }
        };
        if pr.receptor == snn_types::Receptor::Inhibitory {
            notes.push(format!(
                "projections[{j}]: inhibitory receptor written as an ordinary input (lif_beta sums both)"
            ));
        }
        let mut chain: Vec<(String, NirNode)> = Vec::new();
        let b = bias.remove(&pr.target);
        match (&pr.connectivity, node) {
            (_, Some(m)) => {
                let weight = Param::Array {
                    shape: vec![n_tgt, n_src],
                    data: m,
                };
                chain.push((
                    name.clone(),
                    match b {
                        Some(b) => NirNode::new(
                            NodeKind::Affine,
                            vec![("weight", weight), ("bias", Param::vec(b))],
                        ),
                        None => NirNode::new(NodeKind::Linear, vec![("weight", weight)]),
                    },
                ));
            }
            (Connectivity::OneToOne, None) => {
                if b.is_some() {
                    return Err(at(
                        "a bias current on a population fed one-to-one has no NIR form here",
                    ));
                }
                chain.push((
                    name.clone(),
                    NirNode::new(
                        NodeKind::Scale,
                        vec![("scale", shaped(vec![w; n_src], src.shape))],
                    ),
                ));
            }
            (
                Connectivity::Conv2d {
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    weights,
                    out_channels,
                    ..
                },
                None,
            ) => {
                if b.is_some() {
                    return Err(at(
                        "a per-neuron bias current on a conv target has no NIR form (Conv2d has one bias per channel)",
                    ));
                }
                let sh = src.shape.expect("validated conv source has a shape");
                let pair = |p: [u32; 2]| Param::Array {
                    shape: vec![2],
                    data: vec![p[0] as f64, p[1] as f64],
                };
                chain.push((
                    name.clone(),
                    NirNode::new(
                        NodeKind::Conv2d,
                        vec![
                            ("input_shape", pair([sh[1], sh[2]])),
                            (
                                "weight",
                                Param::Array {
                                    shape: vec![
                                        *out_channels as usize,
                                        (sh[0] / groups) as usize,
                                        kernel[0] as usize,
                                        kernel[1] as usize,
                                    ],
                                    data: weights.iter().map(|v| v * w).collect(),
                                },
                            ),
                            ("stride", pair(*stride)),
                            ("padding", pair(*padding)),
                            ("dilation", pair(*dilation)),
                            (
                                "groups",
                                Param::Array {
                                    shape: vec![],
                                    data: vec![*groups as f64],
                                },
                            ),
                            ("bias", Param::vec(vec![0.0; *out_channels as usize])),
                        ],
                    ),
                ));
            }
            (
                Connectivity::Pool2d {
                    mode,
                    kernel,
                    stride,
                    padding,
                    ..
                },
                None,
            ) => {
                if b.is_some() {
                    return Err(at("a bias current on a pool target has no NIR form"));
                }
                let pair = |p: [u32; 2]| Param::Array {
                    shape: vec![2],
                    data: vec![p[0] as f64, p[1] as f64],
                };
                let kind = match mode {
                    PoolMode::Sum => NodeKind::SumPool2d,
                    PoolMode::Average => NodeKind::AvgPool2d,
                };
                chain.push((
                    name.clone(),
                    NirNode::new(
                        kind,
                        vec![
                            ("kernel_size", pair(*kernel)),
                            ("stride", pair(stride.unwrap_or(*kernel))),
                            ("padding", pair(*padding)),
                        ],
                    ),
                ));
                if w != 1.0 {
                    chain.push((
                        format!("{name}_scale"),
                        NirNode::new(
                            NodeKind::Scale,
                            vec![("scale", shaped(vec![w; n_tgt], tgt.shape))],
                        ),
                    ));
                }
            }
            _ => unreachable!("every rule is handled above"),
        }
        let extra_ms = delay_ms - dt_ms;
        if extra_ms > dt_ms * 1e-9 {
            chain.push((
                format!("{name}_delay"),
                NirNode::new(
                    NodeKind::Delay,
                    vec![("delay", shaped(vec![extra_ms * 1e-3; n_tgt], tgt.shape))],
                ),
            ));
        }
        let mut prev = pr.source.clone();
        if let Some((_, first)) = chain.first_mut() {
            // The spec's projection order.
            first
                .metadata
                .insert("snn_index".into(), H5Value::ints(vec![j as i64]));
        }
        for (nm, nd) in chain {
            if g.nodes.contains_key(&nm) {
                return Err(at(&format!("node name '{nm}' is taken")));
            }
            edges.push((prev, nm.clone()));
            prev = nm.clone();
            g.nodes.insert(nm, nd);
        }
        edges.push((prev, pr.target.clone()));
    }
    if let Some(t) = bias.keys().next() {
        return Err(err(format!(
            "a constant current into population '{t}', which has no dense projection into it to carry the bias"
        )));
    }
    // Outputs: the readout population, else every population nothing leaves.
    let outs: Vec<&str> = match &spec.readout {
        Some(r) => vec![r.population.as_str()],
        None => spec
            .populations
            .iter()
            .filter(|p| !spec.projections.iter().any(|pr| pr.source == p.name))
            .map(|p| p.name.as_str())
            .collect(),
    };
    for o in outs {
        let p = &spec.populations[spec.population_index(o).expect("validated")];
        let mut name = format!("{o}_output");
        while g.nodes.contains_key(&name) {
            name.push('_');
        }
        let s: Vec<f64> = match p.shape {
            Some(s) => s.iter().map(|&v| v as f64).collect(),
            None => vec![p.size as f64],
        };
        g.nodes.insert(
            name.clone(),
            NirNode::new(NodeKind::Output, vec![("shape", Param::vec(s))]),
        );
        edges.push((o.to_string(), name));
    }
    g.edges = edges;
    Ok((g, notes))
}

/// Each population's latency (ms) from the input populations: the shortest sum of projection
/// delays (the import starts bias currents then).
pub fn latency_ms(spec: &NetworkSpec) -> BTreeMap<&str, f64> {
    let mut d: BTreeMap<&str, f64> = spec
        .populations
        .iter()
        .filter(|p| matches!(p.neuron, NeuronModel::Input))
        .map(|p| (p.name.as_str(), 0.0))
        .collect();
    for _ in 0..spec.populations.len() {
        for pr in &spec.projections {
            let delay = match pr.delay_ms {
                Some(ValueSpec::Constant(x)) => x,
                _ => spec.dt_ms,
            };
            if let Some(&s) = d.get(pr.source.as_str()) {
                let c = s + delay;
                let e = d.entry(pr.target.as_str()).or_insert(c);
                if c < *e {
                    *e = c;
                }
            }
        }
    }
    d
}

/// A per-neuron parameter in the population's `[C, H, W]` layout when it has one.
fn shaped(data: Vec<f64>, shape: Option<[u32; 3]>) -> Param {
    match shape {
        Some(s) => Param::Array {
            shape: s.map(|v| v as usize).to_vec(),
            data,
        },
        None => Param::vec(data),
    }
}
