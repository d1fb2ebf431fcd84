//! NIR graph -> [`NetworkSpec`].
//!
//! Input nodes and neuron nodes become populations; every chain of linear nodes (Affine, Linear,
//! Scale, Conv1d, Conv2d, Flatten, SumPool2d, AvgPool2d, Delay, Identity and the Input/Output
//! nodes of nested graphs) between two of them becomes one projection, the chain composed into
//! one operator. See `docs/nir.md` for each node's equations and its mapping.

use std::collections::{BTreeMap, HashMap, VecDeque};

use snn_types::{
    Connectivity, ConvGeometry, InputCoding, LifBetaParams, LifExpParams, NetworkSpec, NeuronModel,
    PoolMode, PopulationSpec, ProjectionSpec, ReadoutInput, ReadoutRule, ReadoutSpec, Receptor,
    RecordingSpec, ResetMode, StateVar, StimulusSpec, TraceSpec, ValueSpec,
};

use crate::error::NirError;
use crate::graph::{NirGraph, NodeKind, Param};

/// How NIR's continuous-time equations become steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discretisation {
    /// Forward Euler: `beta = 1 - dt/tau`, input scale `r dt / tau` (snnTorch's and Norse's
    /// convention).
    #[default]
    Euler,
    /// Exact for an input held constant over the step: `beta = exp(-dt/tau)`, input scale
    /// `r (1 - beta)`.
    Exact,
}

impl Discretisation {
    /// The name used on the command line (`euler`, `exact`).
    pub fn name(self) -> &'static str {
        match self {
            Discretisation::Euler => "euler",
            Discretisation::Exact => "exact",
        }
    }
}

/// Import options. NIR is continuous-time and stores no time step.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Time step (ms). Default: the `snn_dt_ms` metadata of a graph written by this crate, else
    /// 1 ms. snnTorch's exporter assumes 0.1 ms (`dt = 1e-4` s).
    pub dt_ms: Option<f64>,
    /// Discretisation. Default: the graph's `snn_discretisation` metadata, else Euler.
    pub discretisation: Option<Discretisation>,
    /// Reset of spiking nodes. Default: a node's `snn_reset` metadata, else `zero` (NIR's
    /// semantics: `v <- v_reset`).
    pub reset: Option<ResetMode>,
    /// Readout rule of an imported classifier (default: spike count; membrane for a
    /// non-spiking output).
    pub readout: Option<ReadoutRule>,
    /// Presentation length (steps) written into the readout (default 25).
    pub steps: u32,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dt_ms: None,
            discretisation: None,
            reset: None,
            readout: None,
            steps: 25,
        }
    }
}

/// The default time step (ms) when neither the options nor the file give one.
pub const DEFAULT_DT_MS: f64 = 1.0;

/// Largest dense matrix (entries) a composed chain of linear nodes may become.
pub const MAX_DENSE: usize = 1 << 27;

/// One node of the flattened graph.
#[derive(Debug, Clone)]
struct Flat {
    name: String,
    kind: NodeKind,
    params: BTreeMap<String, Param>,
    metadata: BTreeMap<String, crate::hdf::H5Value>,
}

fn unsupported(n: &Flat, reason: impl Into<String>) -> NirError {
    NirError::Unsupported {
        node: n.name.clone(),
        kind: n.kind.name().to_string(),
        reason: reason.into(),
    }
}

/// Inlines nested graphs: node `inner` of subgraph `g` becomes `g.inner`; the subgraph's Input and
/// Output nodes become identities through which the outer edges pass.
fn flatten(
    g: &NirGraph,
    prefix: &str,
    top: bool,
    nodes: &mut Vec<Flat>,
    edges: &mut Vec<(String, String)>,
) -> Result<(), NirError> {
    for (name, n) in &g.nodes {
        let full = format!("{prefix}{name}");
        if let Some(sub) = &n.graph {
            flatten(sub, &format!("{full}."), false, nodes, edges)?;
            continue;
        }
        let kind = match n.kind {
            NodeKind::Input | NodeKind::Output if !top => NodeKind::Identity,
            k => k,
        };
        nodes.push(Flat {
            name: full,
            kind,
            params: n.params.clone(),
            metadata: n.metadata.clone(),
        });
    }
    let endpoint = |e: &str, want: NodeKind| -> Result<String, NirError> {
        if let Some(n) = g.nodes.get(e)
            && let Some(sub) = &n.graph
        {
            let ends: Vec<&String> = sub
                .nodes
                .iter()
                .filter(|(_, c)| c.kind == want)
                .map(|(k, _)| k)
                .collect();
            if ends.len() != 1 {
                return Err(NirError::Graph(format!(
                    "an edge names subgraph '{prefix}{e}', which has {} {} nodes; name one as '{e}.<node>'",
                    ends.len(),
                    want
                )));
            }
            return Ok(format!("{prefix}{e}.{}", ends[0]));
        }
        Ok(format!("{prefix}{e}"))
    };
    for (a, b) in &g.edges {
        edges.push((
            endpoint(a, NodeKind::Output)?,
            endpoint(b, NodeKind::Input)?,
        ));
    }
    Ok(())
}

/// A linear operator of a chain, on flat vectors.
#[derive(Debug, Clone)]
enum Op {
    /// `y = W x`, `w` row-major `(n_out, n_in)`.
    Dense {
        w: Vec<f64>,
        n_in: usize,
        n_out: usize,
    },
    /// `y = s * x` (one value or one per element).
    Scale(Vec<f64>),
    /// A convolution.
    Conv { geom: ConvGeometry, w: Vec<f64> },
    /// A pooling window.
    Pool { geom: ConvGeometry, mode: PoolMode },
    /// `y = x`.
    Identity,
    /// A delay (seconds; one value or one per element).
    Delay(Vec<f64>),
}

impl Op {
    /// Applies the operator to `x` (length `n_in`); `n_out` is the output length.
    fn apply(&self, x: &[f64], n_out: usize) -> Vec<f64> {
        let mut y = vec![0.0; n_out];
        match self {
            Op::Dense { w, n_in, .. } => {
                for (i, &xi) in x.iter().enumerate() {
                    if xi != 0.0 {
                        for (o, yo) in y.iter_mut().enumerate() {
                            *yo += w[o * n_in + i] * xi;
                        }
                    }
                }
            }
            Op::Scale(s) => {
                for (i, yi) in y.iter_mut().enumerate() {
                    *yi = x[i] * if s.len() == 1 { s[0] } else { s[i] };
                }
            }
            Op::Conv { geom, w } => {
                for (i, &xi) in x.iter().enumerate() {
                    if xi != 0.0 {
                        geom.for_each_target(i as u32, |t, k| y[t as usize] += w[k as usize] * xi);
                    }
                }
            }
            Op::Pool { geom, mode } => {
                let k = geom.kernel();
                let f = match mode {
                    PoolMode::Sum => 1.0,
                    PoolMode::Average => 1.0 / (k[0] as f64 * k[1] as f64),
                };
                for (i, &xi) in x.iter().enumerate() {
                    if xi != 0.0 {
                        geom.for_each_target(i as u32, |t, _| y[t as usize] += f * xi);
                    }
                }
            }
            Op::Identity | Op::Delay(_) => y.copy_from_slice(x),
        }
        y
    }
}

/// What the shape pass knows about a node.
#[derive(Debug, Clone)]
struct NodeInfo {
    /// Output shape (flat length = product).
    out: Vec<usize>,
    /// The operator of a linear node.
    op: Option<Op>,
    /// The bias a linear node adds to its output.
    bias: Option<Vec<f64>>,
}

fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

fn arr<'a>(n: &'a Flat, name: &str) -> Result<(&'a [usize], &'a [f64]), NirError> {
    match n.params.get(name) {
        Some(Param::Array { shape, data }) => Ok((shape, data)),
        Some(Param::Text(t)) => Err(unsupported(
            n,
            format!("parameter {name} is the string \"{t}\", expected numbers"),
        )),
        None => Err(unsupported(n, format!("missing parameter {name}"))),
    }
}

fn to_u32(n: &Flat, name: &str, v: f64) -> Result<u32, NirError> {
    if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f64 {
        return Err(unsupported(
            n,
            format!("{name} = {v}: expected a non-negative integer"),
        ));
    }
    Ok(v as u32)
}

/// A pair parameter (`stride = [2, 1]` or `stride = 2`).
fn pair(n: &Flat, name: &str) -> Result<[u32; 2], NirError> {
    let (_, d) = arr(n, name)?;
    match d {
        [a] => Ok([to_u32(n, name, *a)?; 2]),
        [a, b] => Ok([to_u32(n, name, *a)?, to_u32(n, name, *b)?]),
        _ => Err(unsupported(
            n,
            format!("{name} has {} values, expected 1 or 2", d.len()),
        )),
    }
}

fn single(n: &Flat, name: &str) -> Result<u32, NirError> {
    let (_, d) = arr(n, name)?;
    match d {
        [a] => to_u32(n, name, *a),
        _ => Err(unsupported(
            n,
            format!("{name} has {} values, expected 1", d.len()),
        )),
    }
}

fn shape3(n: &Flat, s: &[usize]) -> Result<[u32; 3], NirError> {
    let c = |v: usize| u32::try_from(v).map_err(|_| unsupported(n, "dimension too large"));
    match s {
        [c0, h, w] => Ok([c(*c0)?, c(*h)?, c(*w)?]),
        [c0, l] => Ok([c(*c0)?, 1, c(*l)?]),
        _ => Err(unsupported(
            n,
            format!("needs a [C, H, W] input (or [C, L] for Conv1d), got shape {s:?}"),
        )),
    }
}

/// Output shape and operator of node `n` given its input shape.
fn node_info(n: &Flat, input: Option<&[usize]>) -> Result<NodeInfo, NirError> {
    let need_input = || {
        input.ok_or_else(|| unsupported(n, "its input shape is unknown (no path from an Input)"))
    };
    let info = |out: Vec<usize>, op: Option<Op>, bias: Option<Vec<f64>>| NodeInfo { out, op, bias };
    Ok(match n.kind {
        NodeKind::Input => {
            let (_, d) = arr(n, "shape")?;
            let out: Vec<usize> = d.iter().map(|&v| v as usize).collect();
            if d.iter().any(|&v| v < 1.0 || v.fract() != 0.0) || out.is_empty() {
                return Err(unsupported(
                    n,
                    format!("shape {d:?} is not a list of sizes"),
                ));
            }
            info(out, None, None)
        }
        NodeKind::Output => {
            let i = need_input()?;
            let (_, d) = arr(n, "shape")?;
            let want: f64 = d.iter().product();
            if want != numel(i) as f64 {
                return Err(unsupported(
                    n,
                    format!(
                        "its shape {d:?} holds {want} values but it receives {} (shape {i:?})",
                        numel(i)
                    ),
                ));
            }
            info(i.to_vec(), None, None)
        }
        NodeKind::Identity | NodeKind::NIRGraph => {
            info(need_input()?.to_vec(), Some(Op::Identity), None)
        }
        NodeKind::Flatten => {
            let i = need_input()?;
            info(vec![numel(i)], Some(Op::Identity), None)
        }
        NodeKind::Affine | NodeKind::Linear => {
            let (s, w) = arr(n, "weight")?;
            let [n_out, n_in] = s else {
                return Err(unsupported(
                    n,
                    format!("weight has shape {s:?}, expected (out, in)"),
                ));
            };
            let i = need_input()?;
            if numel(i) != *n_in {
                return Err(unsupported(
                    n,
                    format!(
                        "weight has {n_in} columns but its input has {} elements (shape {i:?})",
                        numel(i)
                    ),
                ));
            }
            let bias = if n.kind == NodeKind::Affine {
                let (_, b) = arr(n, "bias")?;
                if b.len() != *n_out && b.len() != 1 {
                    return Err(unsupported(
                        n,
                        format!("bias has {} values, expected {n_out}", b.len()),
                    ));
                }
                Some(if b.len() == 1 {
                    vec![b[0]; *n_out]
                } else {
                    b.to_vec()
                })
            } else {
                None
            };
            info(
                vec![*n_out],
                Some(Op::Dense {
                    w: w.to_vec(),
                    n_in: *n_in,
                    n_out: *n_out,
                }),
                bias,
            )
        }
        NodeKind::Scale => {
            let (_, s) = arr(n, "scale")?;
            let i = need_input()?;
            if s.len() != 1 && s.len() != numel(i) {
                return Err(unsupported(
                    n,
                    format!(
                        "scale has {} values but its input has {}",
                        s.len(),
                        numel(i)
                    ),
                ));
            }
            info(i.to_vec(), Some(Op::Scale(s.to_vec())), None)
        }
        NodeKind::Delay => {
            let (_, d) = arr(n, "delay")?;
            let i = need_input()?;
            if d.len() != 1 && d.len() != numel(i) {
                return Err(unsupported(
                    n,
                    format!(
                        "delay has {} values but its input has {}",
                        d.len(),
                        numel(i)
                    ),
                ));
            }
            if d.iter().any(|&x| x < 0.0) {
                return Err(unsupported(n, "a negative delay"));
            }
            info(i.to_vec(), Some(Op::Delay(d.to_vec())), None)
        }
        NodeKind::Conv1d | NodeKind::Conv2d => {
            let (ws, w) = arr(n, "weight")?;
            let i = need_input()?;
            let in3 = shape3(n, i)?;
            let (co, kernel) = match (n.kind, ws) {
                (NodeKind::Conv2d, [co, _, kh, kw]) => (*co, [*kh as u32, *kw as u32]),
                (NodeKind::Conv1d, [co, _, k]) => (*co, [1, *k as u32]),
                _ => {
                    return Err(unsupported(
                        n,
                        format!("weight has shape {ws:?}, expected (C_out, C_in/groups, k...)"),
                    ));
                }
            };
            let one_d = n.kind == NodeKind::Conv1d;
            let axis = |p: [u32; 2], fill: u32| if one_d { [fill, p[1]] } else { p };
            let stride = axis(pair(n, "stride")?, 1);
            let dilation = axis(pair(n, "dilation")?, 1);
            let padding = match n.params.get("padding") {
                Some(Param::Text(t)) if t == "valid" => [0, 0],
                Some(Param::Text(t)) if t == "same" => {
                    if stride != [1, 1]
                        || kernel
                            .iter()
                            .zip(dilation)
                            .any(|(k, d)| !((k - 1) * d).is_multiple_of(2))
                    {
                        return Err(unsupported(
                            n,
                            "padding \"same\" needs stride 1 and an odd dilated kernel",
                        ));
                    }
                    [
                        (kernel[0] - 1) * dilation[0] / 2,
                        (kernel[1] - 1) * dilation[1] / 2,
                    ]
                }
                Some(Param::Text(t)) => {
                    return Err(unsupported(
                        n,
                        format!("padding \"{t}\" (expected numbers, \"same\" or \"valid\")"),
                    ));
                }
                _ => axis(pair(n, "padding")?, 0),
            };
            let groups = single(n, "groups")?;
            let geom = ConvGeometry::new(in3, co as u32, kernel, stride, padding, dilation, groups)
                .map_err(|e| unsupported(n, e))?;
            if w.len() != geom.kernel_len() {
                return Err(unsupported(
                    n,
                    format!(
                        "weight has {} values, the geometry needs {}",
                        w.len(),
                        geom.kernel_len()
                    ),
                ));
            }
            let (_, b) = arr(n, "bias")?;
            let o = geom.out_shape();
            let plane = (o[1] * o[2]) as usize;
            let bias = match b.len() {
                0 => None,
                1 => Some(vec![b[0]; numel(&[co, plane])]),
                l if l == co => Some((0..co * plane).map(|t| b[t / plane]).collect()),
                l => {
                    return Err(unsupported(
                        n,
                        format!("bias has {l} values, expected {co}"),
                    ));
                }
            };
            let out = if one_d {
                vec![o[0] as usize, o[2] as usize]
            } else {
                o.map(|v| v as usize).to_vec()
            };
            info(
                out,
                Some(Op::Conv {
                    geom,
                    w: w.to_vec(),
                }),
                bias,
            )
        }
        NodeKind::SumPool2d | NodeKind::AvgPool2d => {
            let i = need_input()?;
            let in3 = shape3(n, i)?;
            let geom = ConvGeometry::pool(
                in3,
                pair(n, "kernel_size")?,
                pair(n, "stride")?,
                pair(n, "padding")?,
            )
            .map_err(|e| unsupported(n, e))?;
            let mode = if n.kind == NodeKind::SumPool2d {
                PoolMode::Sum
            } else {
                PoolMode::Average
            };
            let o = geom.out_shape();
            info(
                o.map(|v| v as usize).to_vec(),
                Some(Op::Pool { geom, mode }),
                None,
            )
        }
        k if k.is_neuron() => {
            // The size: any non-scalar parameter, else the input.
            let mut size: Option<(Vec<usize>, &str)> = None;
            for (name, p) in &n.params {
                if let Param::Array { shape, data } = p
                    && data.len() > 1
                {
                    match &size {
                        Some((s, other)) if numel(s) != data.len() => {
                            return Err(unsupported(
                                n,
                                format!(
                                    "{name} has {} values but {other} has {}",
                                    data.len(),
                                    numel(s)
                                ),
                            ));
                        }
                        Some(_) => {}
                        None => size = Some((shape.clone(), name)),
                    }
                }
            }
            let out = match (input, size) {
                (Some(i), Some((s, name))) if numel(i) != numel(&s) => {
                    return Err(unsupported(
                        n,
                        format!(
                            "{name} has {} values but its input has {} (shape {i:?})",
                            numel(&s),
                            numel(i)
                        ),
                    ));
                }
                (Some(i), _) => i.to_vec(),
                (None, Some((s, _))) => s,
                (None, None) => {
                    return Err(unsupported(
                        n,
                        "its size is unknown (scalar parameters and no input)",
                    ));
                }
            };
            info(out, None, None)
        }
        _ => unreachable!("every kind is handled"),
    })
}

/// The per-population constants of a neuron node.
struct NeuronMap {
    model: NeuronModel,
    /// Factor on every incoming weight and bias.
    in_scale: f64,
    /// `mean_membrane` readout when this is the output (no spikes).
    silent: bool,
}

/// One value per population: every element of the parameter must be equal.
fn uniform(n: &Flat, name: &str) -> Result<Option<f64>, NirError> {
    let Some(p) = n.params.get(name) else {
        return Ok(None);
    };
    let Param::Array { data, .. } = p else {
        return Err(unsupported(n, format!("{name} is a string")));
    };
    let Some(&first) = data.first() else {
        return Err(unsupported(n, format!("{name} is empty")));
    };
    if let Some(other) = data.iter().find(|&&v| v != first) {
        return Err(unsupported(
            n,
            format!(
                "{name} differs between neurons ({first} and {other}); a population has one value per parameter (split the node in the source framework)"
            ),
        ));
    }
    Ok(Some(first))
}

fn req(n: &Flat, name: &str) -> Result<f64, NirError> {
    uniform(n, name)?.ok_or_else(|| unsupported(n, format!("missing parameter {name}")))
}

fn meta_str<'a>(m: &'a BTreeMap<String, crate::hdf::H5Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(|v| v.as_str())
}

/// A value that is 1 up to the float32 round-off of an exporter (`r = tau/dt` then `r dt/tau`).
fn snap_one(x: f64) -> f64 {
    if (x - 1.0).abs() < 1e-6 { 1.0 } else { x }
}

/// A file written by this crate stores each population's exact model (`snn_neuron`, JSON): it
/// replaces the derived one when both are the same model with every number within a relative
/// 1e-6 (the float32 rounding of the file) and the same reset.
fn exact_model(n: &Flat, derived: NeuronMap) -> NeuronMap {
    let Some(stored) = meta_str(&n.metadata, "snn_neuron")
        .and_then(|j| serde_json::from_str::<NeuronModel>(j).ok())
    else {
        return derived;
    };
    fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match (a, b) {
            (V::Number(x), V::Number(y)) => {
                let (x, y) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                x == y || (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1e-30)
            }
            (V::Object(x), V::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
            }
            _ => a == b,
        }
    }
    let (Ok(a), Ok(b)) = (
        serde_json::to_value(&stored),
        serde_json::to_value(&derived.model),
    ) else {
        return derived;
    };
    if close(&a, &b) {
        NeuronMap {
            model: stored,
            ..derived
        }
    } else {
        derived
    }
}

/// A `LIF` node this crate exported from a `lif_delta` population (its `snn_neuron` metadata),
/// when the NIR parameters still agree with it: the `lif_delta` model (mV, exact integration,
/// reset to `V_reset`), weights times `r (1 - exp(-dt/tau))` (1 for an unedited file).
fn stored_lif_delta(n: &Flat, dt_ms: f64) -> Option<NeuronMap> {
    if n.kind != NodeKind::LIF {
        return None;
    }
    let Some(NeuronModel::LifDelta(p)) = meta_str(&n.metadata, "snn_neuron")
        .and_then(|j| serde_json::from_str::<NeuronModel>(j).ok())
    else {
        return None;
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-30);
    let (tau, r) = (uniform(n, "tau").ok()??, uniform(n, "r").ok()??);
    let v_leak = p.e_l_mv + p.tau_m_ms / p.c_m_pf * p.i_e_pa;
    let ok = close(tau * 1e3, p.tau_m_ms)
        && close(uniform(n, "v_leak").ok()??, v_leak)
        && close(uniform(n, "v_threshold").ok()??, p.v_th_mv)
        && close(
            uniform(n, "v_reset").ok().flatten().unwrap_or(0.0),
            p.v_reset_mv,
        );
    ok.then(|| NeuronMap {
        model: NeuronModel::LifDelta(p),
        in_scale: snap_one(r * (1.0 - (-dt_ms * 1e-3 / tau).exp())),
        silent: false,
    })
}

fn map_neuron(
    n: &Flat,
    dt_ms: f64,
    disc: Option<Discretisation>,
    graph_disc: Discretisation,
    reset: Option<ResetMode>,
) -> Result<NeuronMap, NirError> {
    let dt = dt_ms * 1e-3; // NIR time constants are in seconds
    let disc = disc
        .or_else(|| match meta_str(&n.metadata, "snn_discretisation") {
            Some("exact") => Some(Discretisation::Exact),
            Some("euler") => Some(Discretisation::Euler),
            _ => None,
        })
        .unwrap_or(graph_disc);
    let reset = reset
        .or_else(|| match meta_str(&n.metadata, "snn_reset") {
            Some("subtract") => Some(ResetMode::Subtract),
            Some("subtract_delayed") => Some(ResetMode::SubtractDelayed),
            Some("zero") => Some(ResetMode::Zero),
            _ => None,
        })
        .unwrap_or(ResetMode::Zero);
    let decay = |tau: f64| -> Result<(f64, f64), NirError> {
        if tau <= 0.0 || tau.is_nan() {
            return Err(unsupported(n, format!("time constant {tau} s must be > 0")));
        }
        Ok(match disc {
            Discretisation::Euler => {
                if dt > tau {
                    return Err(unsupported(
                        n,
                        format!(
                            "dt = {} ms is longer than tau = {} ms: Euler is unstable (use a smaller dt, e.g. 0.1 ms as snnTorch's exporter assumes, or the exact discretisation)",
                            short_num(dt_ms),
                            (tau * 1e3) as f32
                        ),
                    ));
                }
                (1.0 - dt / tau, dt / tau)
            }
            Discretisation::Exact => {
                let b = (-dt / tau).exp();
                (b, 1.0 - b)
            }
        })
    };
    let check_reset = |v_reset: Option<f64>| -> Result<(), NirError> {
        if reset == ResetMode::Zero && v_reset.unwrap_or(0.0) != 0.0 {
            return Err(unsupported(
                n,
                format!(
                    "v_reset = {} with reset zero: the engine's lif_beta resets to 0 (use reset subtract, or v_reset = 0)",
                    v_reset.unwrap_or(0.0)
                ),
            ));
        }
        Ok(())
    };
    let never = f32::MAX as f64;
    // lif_beta runs in f32: derived values are rounded to f32, which also recovers the exact
    // value an exporter started from (beta = 1 - dt/tau with tau stored as float32).
    let f = |x: f64| x as f32 as f64;
    let beta_model = |beta: f64, threshold: f64, bias: f64| {
        NeuronModel::LifBeta(LifBetaParams {
            beta: f(beta),
            threshold: f(threshold),
            reset,
            bias: f(bias),
        })
    };
    Ok(match n.kind {
        NodeKind::LIF => {
            let (tau, r, v_leak, th) = (
                req(n, "tau")?,
                req(n, "r")?,
                req(n, "v_leak")?,
                req(n, "v_threshold")?,
            );
            check_reset(uniform(n, "v_reset")?)?;
            let (beta, k) = decay(tau)?;
            NeuronMap {
                model: beta_model(beta, th, k * v_leak),
                in_scale: snap_one(r * k),
                silent: false,
            }
        }
        NodeKind::LI => {
            let (tau, r, v_leak) = (req(n, "tau")?, req(n, "r")?, req(n, "v_leak")?);
            let (beta, k) = decay(tau)?;
            NeuronMap {
                model: beta_model(beta, never, k * v_leak),
                in_scale: snap_one(r * k),
                silent: true,
            }
        }
        NodeKind::IF => {
            let (r, th) = (req(n, "r")?, req(n, "v_threshold")?);
            check_reset(uniform(n, "v_reset")?)?;
            NeuronMap {
                model: beta_model(1.0, th, 0.0),
                in_scale: snap_one(r * dt),
                silent: false,
            }
        }
        NodeKind::I => {
            let r = req(n, "r")?;
            NeuronMap {
                model: beta_model(1.0, never, 0.0),
                in_scale: snap_one(r * dt),
                silent: true,
            }
        }
        NodeKind::Threshold => {
            let th = req(n, "threshold")?;
            NeuronMap {
                model: NeuronModel::LifBeta(LifBetaParams {
                    beta: 0.0,
                    threshold: th,
                    reset: ResetMode::Zero,
                    bias: 0.0,
                }),
                in_scale: 1.0,
                silent: false,
            }
        }
        NodeKind::CubaLIF | NodeKind::CubaLI => {
            if disc != Discretisation::Exact {
                return Err(unsupported(
                    n,
                    "a current-based neuron maps onto lif_exp, which integrates exactly: import with discretisation exact",
                ));
            }
            let (tau_mem, tau_syn, r, v_leak, w_in) = (
                req(n, "tau_mem")?,
                req(n, "tau_syn")?,
                req(n, "r")?,
                req(n, "v_leak")?,
                req(n, "w_in")?,
            );
            if r <= 0.0 || r.is_nan() {
                return Err(unsupported(
                    n,
                    format!("r = {r} must be > 0 (it sets C_m = tau_mem / r)"),
                ));
            }
            let (_, k_syn) = decay(tau_syn)?;
            let (th, v_reset) = if n.kind == NodeKind::CubaLIF {
                (
                    req(n, "v_threshold")?,
                    uniform(n, "v_reset")?.unwrap_or(0.0),
                )
            } else {
                (never, v_leak)
            };
            if n.kind == NodeKind::CubaLIF && reset != ResetMode::Zero {
                return Err(unsupported(
                    n,
                    format!(
                        "reset {} is not available for lif_exp (it resets to v_reset)",
                        reset.name()
                    ),
                ));
            }
            let _ = decay(tau_mem)?;
            NeuronMap {
                model: NeuronModel::LifExp(LifExpParams {
                    tau_m_ms: tau_mem * 1e3,
                    c_m_pf: tau_mem * 1e3 / r,
                    e_l_mv: v_leak,
                    v_th_mv: th,
                    v_reset_mv: v_reset,
                    t_ref_ms: 0.0,
                    tau_syn_ex_ms: tau_syn * 1e3,
                    tau_syn_in_ms: tau_syn * 1e3,
                    i_e_pa: 0.0,
                    adaptive_threshold: None,
                }),
                in_scale: w_in * k_syn,
                silent: n.kind == NodeKind::CubaLI,
            }
        }
        _ => unreachable!("neuron kinds only"),
    })
}

/// Imports a graph with the given options.
pub fn import_graph(g: &NirGraph, opts: &ImportOptions) -> Result<NetworkSpec, NirError> {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    flatten(g, "", true, &mut nodes, &mut edges)?;
    // nirtorch inlines the subgraph of snnTorch's RLeaky into the top graph, keeping its Input
    // and Output nodes (`1.input`, `1.output`) between other nodes: an Input with an edge into
    // it, or an Output with an edge out of it, is an identity.
    for n in &mut nodes {
        let fed = edges.iter().any(|(_, b)| *b == n.name);
        let feeds = edges.iter().any(|(a, _)| *a == n.name);
        if (n.kind == NodeKind::Input && fed) || (n.kind == NodeKind::Output && feeds) {
            n.kind = NodeKind::Identity;
        }
    }
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut succ = vec![Vec::new(); nodes.len()];
    let mut pred = vec![Vec::new(); nodes.len()];
    for (i, (a, b)) in edges.iter().enumerate() {
        let look = |e: &str| {
            index.get(e).copied().ok_or_else(|| {
                NirError::Graph(format!(
                    "edge {i} ({a} -> {b}) names node '{e}', which does not exist"
                ))
            })
        };
        let (ia, ib) = (look(a)?, look(b)?);
        if nodes[ia].kind == NodeKind::Output {
            return Err(NirError::Graph(format!(
                "edge {i} ({a} -> {b}) leaves an Output node"
            )));
        }
        if nodes[ib].kind == NodeKind::Input {
            return Err(NirError::Graph(format!(
                "edge {i} ({a} -> {b}) enters an Input node"
            )));
        }
        succ[ia].push(ib);
        pred[ib].push(ia);
    }
    // A cycle through linear nodes only has no meaning in discrete time (an algebraic loop).
    {
        let linear = |i: usize| !nodes[i].kind.is_neuron() && nodes[i].kind != NodeKind::Input;
        let mut state = vec![0u8; nodes.len()];
        for s in 0..nodes.len() {
            if !linear(s) || state[s] != 0 {
                continue;
            }
            let mut stack = vec![(s, 0usize)];
            state[s] = 1;
            while let Some(&mut (v, ref mut k)) = stack.last_mut() {
                if let Some(&w) = succ[v].get(*k) {
                    *k += 1;
                    if !linear(w) {
                        continue;
                    }
                    if state[w] == 1 {
                        return Err(NirError::Graph(format!(
                            "a cycle through '{}' passes no neuron node (an algebraic loop)",
                            nodes[w].name
                        )));
                    }
                    if state[w] == 0 {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                } else {
                    state[v] = 2;
                    stack.pop();
                }
            }
        }
    }
    // Shapes: propagate from Input nodes and sized neuron nodes until nothing changes.
    let mut info: Vec<Option<NodeInfo>> = vec![None; nodes.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for (i, n) in nodes.iter().enumerate() {
        if n.kind == NodeKind::Input || n.kind.is_neuron() {
            queue.push_back(i);
        }
    }
    let mut guard = 0usize;
    while let Some(i) = queue.pop_front() {
        guard += 1;
        if guard > 4 * nodes.len() * nodes.len() + 16 {
            break;
        }
        if info[i].is_some() {
            continue;
        }
        let input = pred[i]
            .iter()
            .find_map(|&p| info[p].as_ref().map(|x| x.out.clone()));
        if nodes[i].kind.is_neuron() && input.is_none() {
            // Sized by its parameters, unless a predecessor will give its shape later.
            if pred[i]
                .iter()
                .any(|&p| info[p].is_none() && !nodes[p].kind.is_neuron())
                && guard < 2 * nodes.len()
            {
                queue.push_back(i);
                continue;
            }
        } else if nodes[i].kind != NodeKind::Input && input.is_none() {
            continue;
        }
        let got = node_info(&nodes[i], input.as_deref())?;
        for &p in &pred[i] {
            if let Some(pi) = &info[p]
                && numel(&pi.out) != numel(input.as_deref().unwrap_or(&got.out))
            {
                return Err(NirError::Graph(format!(
                    "'{}' receives {} elements from '{}' and {} from another input",
                    nodes[i].name,
                    numel(&pi.out),
                    nodes[p].name,
                    numel(input.as_deref().unwrap_or(&[]))
                )));
            }
        }
        info[i] = Some(got);
        for &s in &succ[i] {
            if info[s].is_none() {
                queue.push_back(s);
            }
        }
    }
    for (i, n) in nodes.iter().enumerate() {
        if info[i].is_none() {
            return Err(unsupported(n, "not reachable from an Input node"));
        }
    }
    let info: Vec<NodeInfo> = info.into_iter().map(|x| x.expect("checked")).collect();
    // Options, with the metadata our exporter writes as defaults.
    let dt_ms = opts
        .dt_ms
        .or_else(|| {
            g.metadata
                .get("snn_dt_ms")
                .and_then(|v| v.as_floats())
                .and_then(|(_, d)| d.first().copied())
        })
        .unwrap_or(DEFAULT_DT_MS);
    if !(dt_ms > 0.0 && dt_ms.is_finite()) {
        return Err(NirError::Graph(format!(
            "dt = {} ms must be a positive number",
            short_num(dt_ms)
        )));
    }
    let disc = None
        .or_else(|| match meta_str(&g.metadata, "snn_discretisation") {
            Some("exact") => Some(Discretisation::Exact),
            Some("euler") => Some(Discretisation::Euler),
            _ => None,
        })
        .unwrap_or_default();
    // Populations: Input and neuron nodes, in breadth-first order from the inputs.
    // An Output reached through linear nodes (not only identities) from the last neuron node
    // holds an analog value: it becomes a non-spiking population (lif_beta, beta 0, no
    // threshold) whose membrane is that value, one step later.
    let analog_output: Vec<bool> = (0..nodes.len())
        .map(|i| {
            if nodes[i].kind != NodeKind::Output {
                return false;
            }
            let mut v = i;
            loop {
                match pred[v].as_slice() {
                    [p] if matches!(nodes[*p].kind, NodeKind::Identity | NodeKind::Flatten) => {
                        v = *p
                    }
                    [p] => {
                        return !(nodes[*p].kind == NodeKind::Input || nodes[*p].kind.is_neuron());
                    }
                    _ => return true,
                }
            }
        })
        .collect();
    let is_pop = |i: usize| {
        nodes[i].kind == NodeKind::Input || nodes[i].kind.is_neuron() || analog_output[i]
    };
    let mut order = Vec::new();
    let mut seen = vec![false; nodes.len()];
    let mut q: VecDeque<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].kind == NodeKind::Input)
        .collect();
    if q.is_empty() {
        return Err(NirError::Graph("the graph has no Input node".into()));
    }
    for &i in &q {
        seen[i] = true;
    }
    while let Some(i) = q.pop_front() {
        if is_pop(i) {
            order.push(i);
        }
        for &s in &succ[i] {
            if !seen[s] {
                seen[s] = true;
                q.push_back(s);
            }
        }
    }
    // A file written by this crate records the spec's population order.
    let index_of = |i: usize| {
        nodes[i]
            .metadata
            .get("snn_index")
            .and_then(|v| v.as_floats())
            .and_then(|(_, d)| d.first().copied())
    };
    if order.iter().all(|&i| index_of(i).is_some()) {
        order.sort_by(|&a, &b| {
            index_of(a)
                .partial_cmp(&index_of(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let pop_index: HashMap<usize, usize> = order.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    let mut maps: HashMap<usize, NeuronMap> = HashMap::new();
    let mut splits: HashMap<String, Vec<Split>> = HashMap::new();
    let mut populations = Vec::new();
    for &i in &order {
        let n = &nodes[i];
        let out = &info[i].out;
        let size = u32::try_from(numel(out)).map_err(|_| unsupported(n, "too many neurons"))?;
        if size == 0 {
            return Err(unsupported(n, "zero neurons"));
        }
        let shape = match out.as_slice() {
            [c, h, w] => Some([*c as u32, *h as u32, *w as u32]),
            [c, l] => Some([*c as u32, 1, *l as u32]),
            _ => None,
        };
        let neuron = if n.kind == NodeKind::Input {
            NeuronModel::Input
        } else {
            let m = if analog_output[i] {
                NeuronMap {
                    model: NeuronModel::LifBeta(LifBetaParams {
                        beta: 0.0,
                        threshold: f32::MAX as f64,
                        reset: ResetMode::Zero,
                        bias: 0.0,
                    }),
                    in_scale: 1.0,
                    silent: true,
                }
            } else {
                let groups = parameter_groups(n);
                if groups.len() > 1 {
                    let mut parts = Vec::with_capacity(groups.len());
                    for (flat, neurons) in &groups {
                        let m = map_neuron(flat, dt_ms, opts.discretisation, disc, opts.reset)?;
                        parts.push((m.model, m.in_scale, neurons.clone()));
                    }
                    let first = parts[0].0.clone();
                    splits.insert(n.name.clone(), parts);
                    NeuronMap {
                        model: first,
                        in_scale: 1.0,
                        silent: false,
                    }
                } else if let Some(m) = stored_lif_delta(n, dt_ms) {
                    m
                } else {
                    exact_model(
                        n,
                        map_neuron(n, dt_ms, opts.discretisation, disc, opts.reset)?,
                    )
                }
            };
            let model = m.model.clone();
            maps.insert(i, m);
            model
        };
        populations.push(PopulationSpec {
            name: n.name.clone(),
            size,
            shape,
            neuron,
            v_init: None,
        });
    }
    // Projections: walk each population's successors through linear nodes.
    struct Chain {
        ops: Vec<usize>,
    }
    let mut projections = Vec::new();
    let mut bias_of: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut outputs: Vec<(usize, usize, Vec<usize>)> = Vec::new(); // (population node, output node, chain)
    for &src in &order {
        let mut stack: Vec<(usize, Chain)> = succ[src]
            .iter()
            .rev()
            .map(|&s| (s, Chain { ops: vec![] }))
            .collect();
        let mut paths = 0usize;
        while let Some((v, chain)) = stack.pop() {
            paths += 1;
            if paths > 100_000 {
                return Err(NirError::Graph(format!(
                    "too many paths of linear nodes leave '{}'",
                    nodes[src].name
                )));
            }
            let node = &nodes[v];
            if is_pop(v) {
                projections.push((src, v, chain.ops));
                continue;
            }
            if node.kind == NodeKind::Output {
                outputs.push((src, v, chain.ops));
                continue;
            }
            let mut ops = chain.ops;
            ops.push(v);
            for &s in succ[v].iter().rev() {
                stack.push((s, Chain { ops: ops.clone() }));
            }
        }
    }
    // Biases: every linear node with a bias adds it once to each population it reaches.
    for (i, n) in nodes.iter().enumerate() {
        if info[i].bias.is_some() && pred[i].len() > 1 {
            return Err(unsupported(
                n,
                "a bias on a node with several inputs (it would be added once per input)",
            ));
        }
    }
    // A file written by this crate records the spec's projection order on each chain's first
    // node.
    let proj_index = |ops: &Vec<usize>| {
        ops.first().and_then(|&o| {
            nodes[o]
                .metadata
                .get("snn_index")
                .and_then(|v| v.as_floats())
                .and_then(|(_, d)| d.first().copied())
        })
    };
    if projections
        .iter()
        .all(|(_, _, ops)| proj_index(ops).is_some())
    {
        projections.sort_by(|a, b| {
            proj_index(&a.2)
                .partial_cmp(&proj_index(&b.2))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let mut specs_proj = Vec::new();
    let mut delays_seen: HashMap<(usize, usize), f64> = HashMap::new();
    for (src, tgt, ops) in &projections {
        let (s_pop, t_pop) = (pop_index[src], pop_index[tgt]);
        let m = &maps[tgt];
        let n_src = numel(&info[*src].out);
        let n_tgt = numel(&info[*tgt].out);
        // The delay of the chain (uniform).
        let mut delay_s = 0.0;
        // Per-neuron delays at the start (per source) or end (per target) of the chain become
        // per-synapse delays; (per_target, seconds).
        let mut per_neuron: Option<(bool, Vec<f64>)> = None;
        let is_math =
            |o: usize| !matches!(info[o].op, Some(Op::Identity) | Some(Op::Delay(_)) | None);
        for (pos, &o) in ops.iter().enumerate() {
            if let Some(Op::Delay(d)) = &info[o].op {
                let first = d[0];
                if d.iter().any(|&x| x != first) {
                    let before = ops[..pos].iter().any(|&x| is_math(x));
                    let after = ops[pos + 1..].iter().any(|&x| is_math(x));
                    if per_neuron.is_some() || (before && after) {
                        return Err(unsupported(
                            &nodes[o],
                            "delays differ between neurons in the middle of a chain of linear nodes (supported at its start or end)",
                        ));
                    }
                    per_neuron = Some((before, d.clone()));
                } else {
                    delay_s += first;
                }
            }
        }
        let extra = delay_s * 1e3 / dt_ms;
        if (extra - extra.round()).abs() > 1e-6 {
            return Err(NirError::Graph(format!(
                "the delay {} ms from '{}' to '{}' is not a whole number of steps of {dt_ms} ms",
                delay_s * 1e3,
                nodes[*src].name,
                nodes[*tgt].name
            )));
        }
        let delay_ms = dt_ms * (1.0 + extra.round());
        delays_seen.insert((*src, *tgt), delay_ms);
        // Bias of the chain: b <- op(b) + bias(op).
        let mut bias: Option<Vec<f64>> = None;
        for &o in ops {
            let n_out = numel(&info[o].out);
            if let Some(b) = &bias {
                bias = Some(
                    info[o]
                        .op
                        .as_ref()
                        .map_or(b.clone(), |op| op.apply(b, n_out)),
                );
            }
            if let Some(ob) = &info[o].bias {
                let b = bias.get_or_insert_with(|| vec![0.0; n_out]);
                for (x, y) in b.iter_mut().zip(ob) {
                    *x += y;
                }
            }
        }
        if let Some(b) = bias {
            let acc = bias_of.entry(*tgt).or_insert_with(|| vec![0.0; n_tgt]);
            for (x, y) in acc.iter_mut().zip(b) {
                *x += y * m.in_scale;
            }
        }
        let math: Vec<&Op> = ops
            .iter()
            .filter_map(|&o| info[o].op.as_ref())
            .filter(|op| !matches!(op, Op::Identity | Op::Delay(_)))
            .collect();
        // Uniform Scale nodes fold into one factor on a single remaining operator.
        let uniform_scale = |op: &Op| match op {
            Op::Scale(v) => v.iter().all(|&x| x == v[0]).then(|| v[0]),
            _ => None,
        };
        let folded: Vec<&Op> = math
            .iter()
            .copied()
            .filter(|op| uniform_scale(op).is_none())
            .collect();
        let (math, k) = if folded.len() <= 1 {
            let f: f64 = math.iter().filter_map(|op| uniform_scale(op)).product();
            (folded, m.in_scale * f)
        } else {
            (math, m.in_scale)
        };
        let connectivity = match math.as_slice() {
            _ if per_neuron.is_some() => {
                let (per_target, d) = per_neuron.as_ref().expect("checked");
                let steps = |sec: f64| -> Result<f64, NirError> {
                    let x = sec * 1e3 / dt_ms;
                    if (x - x.round()).abs() > 1e-6 {
                        return Err(NirError::Graph(format!(
                            "a delay of {} ms from '{}' to '{}' is not a whole number of steps of {dt_ms} ms",
                            sec * 1e3,
                            nodes[*src].name,
                            nodes[*tgt].name
                        )));
                    }
                    Ok(x.round())
                };
                let (mut sources, mut targets, mut weights, mut delays) =
                    (vec![], vec![], vec![], vec![]);
                for i in 0..n_src {
                    let mut x = vec![0.0; n_src];
                    x[i] = 1.0;
                    for &o in ops {
                        if let Some(op) = &info[o].op {
                            x = op.apply(&x, numel(&info[o].out));
                        }
                    }
                    for (t, v) in x.into_iter().enumerate() {
                        if v != 0.0 {
                            let dd = if *per_target { d[t] } else { d[i] };
                            sources.push(i as u32);
                            targets.push(t as u32);
                            weights.push(v * m.in_scale);
                            delays.push(delay_ms + dt_ms * steps(dd)?);
                        }
                    }
                }
                Connectivity::Explicit {
                    sources,
                    targets,
                    weights: Some(weights),
                    delays_ms: Some(delays),
                }
            }
            [] => Connectivity::OneToOne,
            [Op::Dense { w, n_in, n_out }] => {
                let mut rows = vec![vec![0.0; *n_out]; *n_in];
                for o in 0..*n_out {
                    for (i, row) in rows.iter_mut().enumerate() {
                        row[o] = w[o * n_in + i] * k;
                    }
                }
                Connectivity::Dense { weights: rows }
            }
            [Op::Conv { geom, w }] => Connectivity::Conv2d {
                in_shape: None,
                out_channels: geom.out_shape()[0],
                kernel: geom.kernel(),
                stride: geom.stride(),
                padding: geom.padding(),
                dilation: geom.dilation(),
                groups: geom.groups(),
                weights: w.iter().map(|x| x * k).collect(),
            },
            [Op::Pool { geom, mode }] => Connectivity::Pool2d {
                in_shape: None,
                mode: *mode,
                kernel: geom.kernel(),
                stride: (geom.stride() != geom.kernel()).then(|| geom.stride()),
                padding: geom.padding(),
            },
            _ => {
                if n_src.saturating_mul(n_tgt) > MAX_DENSE {
                    return Err(NirError::Graph(format!(
                        "the linear nodes from '{}' to '{}' compose into a {n_src} x {n_tgt} matrix, larger than {MAX_DENSE} entries",
                        nodes[*src].name, nodes[*tgt].name
                    )));
                }
                let mut rows = Vec::with_capacity(n_src);
                for i in 0..n_src {
                    let mut x = vec![0.0; n_src];
                    x[i] = 1.0;
                    let mut len = n_src;
                    for &o in ops {
                        let n_out = numel(&info[o].out);
                        if let Some(op) = &info[o].op {
                            x = op.apply(&x, n_out);
                        }
                        len = n_out;
                    }
                    debug_assert_eq!(len, n_tgt);
                    rows.push(x.into_iter().map(|v| v * m.in_scale).collect());
                }
                Connectivity::Dense { weights: rows }
            }
        };
        let weight = match (&connectivity, math.as_slice()) {
            (Connectivity::Pool2d { .. }, _) | (Connectivity::OneToOne, _) => {
                ValueSpec::Constant(k)
            }
            _ => ValueSpec::Constant(1.0),
        };
        let _ = (s_pop, t_pop);
        specs_proj.push(ProjectionSpec {
            name: None,
            source: nodes[*src].name.clone(),
            target: nodes[*tgt].name.clone(),
            connectivity,
            weight,
            delay_ms: Some(ValueSpec::Constant(delay_ms)),
            receptor: Receptor::Excitatory,
            allow_autapses: *src == *tgt,
            plasticity: None,
        });
    }
    // Depth of each population (steps after the input), for when its bias current starts.
    let mut depth: HashMap<usize, f64> = HashMap::new();
    for &i in &order {
        if nodes[i].kind == NodeKind::Input {
            depth.insert(i, 0.0);
        }
    }
    for _ in 0..order.len() {
        for (src, tgt, _) in &projections {
            if let Some(&d) = depth.get(src) {
                let cand = d + delays_seen[&(*src, *tgt)];
                let e = depth.entry(*tgt).or_insert(cand);
                if cand < *e {
                    *e = cand;
                }
            }
        }
    }
    let mut stimuli = Vec::new();
    for (tgt, b) in &bias_of {
        let start_ms = depth.get(tgt).copied().unwrap_or(0.0);
        // One current stimulus per distinct value (exact zeros need none).
        let mut groups: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for (i, &v) in b.iter().enumerate() {
            if v != 0.0 {
                groups.entry(v.to_bits()).or_default().push(i as u32);
            }
        }
        let all = groups.len() == 1 && groups.values().next().is_some_and(|v| v.len() == b.len());
        for (bits, neurons) in groups {
            stimuli.push(StimulusSpec::Current {
                target: nodes[*tgt].name.clone(),
                amplitude: f64::from_bits(bits),
                start_ms,
                stop_ms: None,
                neurons: if all { None } else { Some(neurons) },
            });
        }
    }
    // Readout: one Input, one Output fed directly by a population.
    let mut recording = RecordingSpec::default();
    let analog: Vec<(usize, usize, Vec<usize>)> = order
        .iter()
        .filter(|&&i| analog_output[i])
        .map(|&i| (i, i, Vec::new()))
        .collect();
    let outputs = if outputs.is_empty() { analog } else { outputs };
    let readout = match (
        order
            .iter()
            .filter(|&&i| nodes[i].kind == NodeKind::Input)
            .count(),
        outputs.as_slice(),
    ) {
        (1, [(src, out, ops)]) => {
            if ops
                .iter()
                .any(|&o| !matches!(info[o].op, Some(Op::Identity) | None))
            {
                return Err(unsupported(
                    &nodes[*out],
                    "it is fed through linear nodes without a neuron node in between; end the network with a neuron node (e.g. LI for a membrane readout)",
                ));
            }
            let silent = maps.get(src).is_some_and(|m| m.silent);
            let rule = opts.readout.unwrap_or(if silent {
                ReadoutRule::MeanMembrane
            } else {
                ReadoutRule::SpikeCount
            });
            let shift = depth.get(src).copied().unwrap_or(0.0);
            let input = order[0];
            if rule == ReadoutRule::MeanMembrane {
                recording.state.push(TraceSpec {
                    population: nodes[*src].name.clone(),
                    neurons: (0..numel(&info[*src].out) as u32).collect(),
                    variable: StateVar::V,
                });
            }
            let stored: Option<ReadoutSpec> = meta_str(&g.metadata, "snn_readout")
                .and_then(|j| serde_json::from_str(j).ok())
                .filter(|r: &ReadoutSpec| r.population == nodes[*src].name);
            // A file written by this crate without a readout had none.
            let ours_without =
                g.metadata.contains_key("snn_dt_ms") && !g.metadata.contains_key("snn_readout");
            if ours_without {
                recording.state.clear();
                None
            } else if let Some(mut r) = stored {
                if let Some(rule) = opts.readout {
                    r.rule = rule;
                }
                if r.rule != ReadoutRule::MeanMembrane {
                    recording.state.clear();
                }
                Some(r)
            } else {
                (nodes[*src].kind != NodeKind::Input).then(|| ReadoutSpec {
                    population: nodes[*src].name.clone(),
                    rule,
                    window_start_ms: 0.0,
                    window_ms: opts.steps.max(1) as f64 * dt_ms,
                    input_shift_ms: shift,
                    input: ReadoutInput {
                        population: nodes[input].name.clone(),
                        duration_ms: opts.steps.max(1) as f64 * dt_ms,
                        coding: InputCoding::Rate { p_max: 0.8 },
                    },
                })
            }
        }
        _ => None,
    };
    let meta_f64 = |k: &str| {
        g.metadata
            .get(k)
            .and_then(|v| v.as_floats())
            .and_then(|(_, d)| d.first().copied())
    };
    if let Some(r) = meta_str(&g.metadata, "snn_recording")
        .and_then(|j| serde_json::from_str::<RecordingSpec>(j).ok())
    {
        recording = r;
    }
    let spec = NetworkSpec {
        name: meta_str(&g.metadata, "snn_name").map(str::to_string),
        dt_ms,
        duration_ms: meta_f64("snn_duration_ms").filter(|d| *d > 0.0 && d.is_finite()),
        seed: meta_f64("snn_seed").map_or(0, |s| s as u64),
        populations,
        projections: specs_proj,
        stimuli,
        recording,
        readout,
    };
    let spec = if splits.is_empty() {
        spec
    } else {
        split_populations(spec, &splits)?
    };
    spec.validate().map_err(|e| NirError::Spec(e.to_string()))?;
    Ok(spec)
}

/// One part of a node whose parameters differ between neurons: its model, its input scale and
/// its neurons (local indices in the node).
type Split = (NeuronModel, f64, Vec<u32>);

/// The neurons of a neuron node grouped by equal parameters (in order of first appearance), each
/// group with a copy of the node holding that group's scalar parameters.
fn parameter_groups(n: &Flat) -> Vec<(Flat, Vec<u32>)> {
    let size = n
        .params
        .values()
        .filter_map(|p| p.values())
        .map(<[f64]>::len)
        .max()
        .unwrap_or(1);
    let mut keys: Vec<Vec<u64>> = Vec::new();
    let mut members: Vec<Vec<u32>> = Vec::new();
    let mut index: HashMap<Vec<u64>, usize> = HashMap::new();
    for i in 0..size {
        let key: Vec<u64> = n
            .params
            .values()
            .filter_map(|p| p.values())
            .map(|d| {
                if d.len() == size {
                    d[i]
                } else {
                    d.first().copied().unwrap_or(0.0)
                }
            })
            .map(f64::to_bits)
            .collect();
        let k = *index.entry(key.clone()).or_insert_with(|| {
            keys.push(key);
            members.push(Vec::new());
            keys.len() - 1
        });
        members[k].push(i as u32);
    }
    members
        .into_iter()
        .map(|neurons| {
            let i = neurons[0] as usize;
            let mut flat = n.clone();
            for p in flat.params.values_mut() {
                if let Param::Array { shape, data } = p
                    && data.len() == size
                    && size > 1
                {
                    *data = vec![data[i]];
                    *shape = vec![1];
                }
            }
            (flat, neurons)
        })
        .collect()
}

/// The name of part `k` of a split population.
fn part_name(name: &str, k: usize) -> String {
    format!("{name}#{k}")
}

/// Projection `j` as a dense `[source][target]` matrix (weight included).
fn to_dense(spec: &NetworkSpec, j: usize) -> Result<Vec<Vec<f64>>, NirError> {
    let pr = &spec.projections[j];
    let size =
        |n: &str| spec.populations[spec.population_index(n).expect("own spec")].size as usize;
    let (n_src, n_tgt) = (size(&pr.source), size(&pr.target));
    if n_src.saturating_mul(n_tgt) > MAX_DENSE {
        return Err(NirError::Graph(format!(
            "splitting '{}' needs the projection from '{}' as a {n_src} x {n_tgt} matrix, larger than {MAX_DENSE} entries",
            pr.target, pr.source
        )));
    }
    let w = pr.weight.as_constant().unwrap_or(1.0);
    let mut rows = vec![vec![0.0; n_tgt]; n_src];
    match &pr.connectivity {
        Connectivity::Dense { weights } => {
            for (r, src) in rows.iter_mut().zip(weights) {
                for (x, v) in r.iter_mut().zip(src) {
                    *x = v * w;
                }
            }
        }
        Connectivity::OneToOne => (0..n_src).for_each(|i| rows[i][i] = w),
        Connectivity::Conv2d { weights, .. } => {
            let g = spec
                .projection_geometry(j)
                .expect("conv")
                .map_err(NirError::Graph)?;
            for (i, r) in rows.iter_mut().enumerate() {
                g.for_each_target(i as u32, |t, k| r[t as usize] += weights[k as usize] * w);
            }
        }
        Connectivity::Pool2d { mode, kernel, .. } => {
            let g = spec
                .projection_geometry(j)
                .expect("pool")
                .map_err(NirError::Graph)?;
            let f = match mode {
                PoolMode::Sum => w,
                PoolMode::Average => w / (kernel[0] as f64 * kernel[1] as f64),
            };
            for (i, r) in rows.iter_mut().enumerate() {
                g.for_each_target(i as u32, |t, _| r[t as usize] += f);
            }
        }
        Connectivity::Explicit {
            sources,
            targets,
            weights,
            delays_ms,
        } => {
            if delays_ms.is_some() {
                return Err(NirError::Graph(format!(
                    "per-neuron delays from '{}' into '{}', whose neurons have different parameters: not supported together",
                    pr.source, pr.target
                )));
            }
            for (k, (&s, &t)) in sources.iter().zip(targets).enumerate() {
                rows[s as usize][t as usize] += weights.as_ref().map_or(w, |v| v[k]);
            }
        }
        other => {
            return Err(NirError::Graph(format!(
                "internal: no dense form of rule {}",
                other.name()
            )));
        }
    }
    Ok(rows)
}

/// Replaces every population whose neurons have different parameters by one population per
/// group of equal parameters (`name#0`, `name#1`, ...), and its projections and bias currents
/// by the corresponding blocks (dense; input scales applied per neuron).
fn split_populations(
    spec: NetworkSpec,
    splits: &HashMap<String, Vec<Split>>,
) -> Result<NetworkSpec, NirError> {
    // For each split population: local neuron -> (part, index in part), and the input scales.
    let mut locate: HashMap<&str, Vec<(usize, u32)>> = HashMap::new();
    let mut scale: HashMap<&str, Vec<f64>> = HashMap::new();
    for (name, parts) in splits {
        let n: usize = parts.iter().map(|p| p.2.len()).sum();
        let mut loc = vec![(0, 0); n];
        let mut sc = vec![1.0; n];
        for (k, (_, s, neurons)) in parts.iter().enumerate() {
            for (pos, &i) in neurons.iter().enumerate() {
                loc[i as usize] = (k, pos as u32);
                sc[i as usize] = *s;
            }
        }
        locate.insert(name, loc);
        scale.insert(name, sc);
    }
    let mut out = spec.clone();
    out.populations.clear();
    for p in &spec.populations {
        match splits.get(&p.name) {
            None => out.populations.push(p.clone()),
            Some(parts) => {
                for (k, (model, _, neurons)) in parts.iter().enumerate() {
                    out.populations.push(PopulationSpec {
                        name: part_name(&p.name, k),
                        size: neurons.len() as u32,
                        shape: None,
                        neuron: model.clone(),
                        v_init: None,
                    });
                }
            }
        }
    }
    out.projections.clear();
    for (j, pr) in spec.projections.iter().enumerate() {
        let (ss, ts) = (splits.get(&pr.source), splits.get(&pr.target));
        if ss.is_none() && ts.is_none() {
            out.projections.push(pr.clone());
            continue;
        }
        let rows = to_dense(&spec, j)?;
        let n_s = ss.map_or(1, Vec::len);
        let n_t = ts.map_or(1, Vec::len);
        let part_of = |name: &str, i: usize| locate.get(name).map_or((0, i as u32), |l| l[i]);
        let size_of =
            |parts: Option<&Vec<Split>>, k: usize, n: usize| parts.map_or(n, |p| p[k].2.len());
        let n_tgt = rows.first().map_or(0, Vec::len);
        let mut blocks: Vec<Vec<Vec<Vec<f64>>>> = (0..n_s)
            .map(|a| {
                (0..n_t)
                    .map(|b| vec![vec![0.0; size_of(ts, b, n_tgt)]; size_of(ss, a, rows.len())])
                    .collect()
            })
            .collect();
        for (i, row) in rows.iter().enumerate() {
            let (a, ia) = part_of(&pr.source, i);
            for (t, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    let (b, tb) = part_of(&pr.target, t);
                    let k = scale.get(pr.target.as_str()).map_or(1.0, |s| s[t]);
                    blocks[a][b][ia as usize][tb as usize] = v * k;
                }
            }
        }
        for (a, row) in blocks.into_iter().enumerate() {
            for (b, block) in row.into_iter().enumerate() {
                if block.iter().all(|r| r.iter().all(|&v| v == 0.0)) {
                    continue;
                }
                let name = |n: &str, parts: Option<&Vec<Split>>, k: usize| {
                    if parts.is_some() {
                        part_name(n, k)
                    } else {
                        n.to_string()
                    }
                };
                let mut p = pr.clone();
                p.source = name(&pr.source, ss, a);
                p.target = name(&pr.target, ts, b);
                p.connectivity = Connectivity::Dense { weights: block };
                p.weight = ValueSpec::Constant(1.0);
                p.allow_autapses = p.source == p.target;
                out.projections.push(p);
            }
        }
    }
    out.stimuli.clear();
    for st in &spec.stimuli {
        match st {
            StimulusSpec::Current {
                target,
                amplitude,
                start_ms,
                stop_ms,
                neurons,
            } if splits.contains_key(target) => {
                let loc = &locate[target.as_str()];
                let sc = &scale[target.as_str()];
                let list: Vec<u32> = neurons
                    .clone()
                    .unwrap_or_else(|| (0..loc.len() as u32).collect());
                let mut per: BTreeMap<(usize, u64), Vec<u32>> = BTreeMap::new();
                for i in list {
                    let (k, pos) = loc[i as usize];
                    per.entry((k, (amplitude * sc[i as usize]).to_bits()))
                        .or_default()
                        .push(pos);
                }
                for ((k, bits), neurons) in per {
                    out.stimuli.push(StimulusSpec::Current {
                        target: part_name(target, k),
                        amplitude: f64::from_bits(bits),
                        start_ms: *start_ms,
                        stop_ms: *stop_ms,
                        neurons: Some(neurons),
                    });
                }
            }
            other => out.stimuli.push(other.clone()),
        }
    }
    if let Some(r) = &spec.readout
        && splits.contains_key(&r.population)
    {
        // A classifier's output must be one population.
        out.readout = None;
        out.recording.state.clear();
    }
    Ok(out)
}

/// A number for an error message: Rust's shortest form when that is short (`0.1`), else
/// scientific notation (`1e300`), never hundreds of digits.
fn short_num(x: f64) -> String {
    let s = x.to_string();
    if s.len() > 20 { format!("{x:e}") } else { s }
}
