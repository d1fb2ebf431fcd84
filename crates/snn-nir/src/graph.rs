//! NIR's graph as read from (and written to) a file: named nodes with a type and parameter
//! arrays, and edges between them. [`NirGraph::from_tree`] checks NIR 1.0's layout (every node
//! has a known `type` and the parameters its type needs, with consistent shapes; every edge names
//! existing nodes); [`NirGraph::to_root`] writes the layout back.
//!
//! The layout (nir 1.0.x, as `nir.write` produces it):
//!
//! ```text
//! /version                  scalar string, "1.0.8"
//! /node/type                scalar string, "NIRGraph"
//! /node/nodes/<name>/type   scalar string ("LIF", "Affine", ...)
//! /node/nodes/<name>/<p>    parameter arrays (float32; shapes and kernel sizes int64)
//! /node/nodes/<name>/metadata/...   optional
//! /node/edges               string array of shape (n, 2): (source, target) per row
//! /node/metadata/...        optional
//! ```

use std::collections::BTreeMap;

use crate::error::NirError;
use crate::hdf::H5Value;

/// The NIR version written by the exporter.
pub const NIR_VERSION: &str = "1.0.8";

/// Every NIR 1.0 node type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    /// Graph input (`shape`).
    Input,
    /// Graph output (`shape`).
    Output,
    /// A nested graph.
    NIRGraph,
    /// Identity (`shape`).
    Identity,
    /// `y = W x + b` (`weight` (out, in), `bias` (out)).
    Affine,
    /// `y = W x` (`weight` (out, in)).
    Linear,
    /// `y = s * x` elementwise (`scale`).
    Scale,
    /// 1-D convolution (`weight` (C_out, C_in/groups, k), `stride`, `padding`, `dilation`,
    /// `groups`, `bias`, optional `input_shape`).
    Conv1d,
    /// 2-D convolution (`weight` (C_out, C_in/groups, kh, kw), ...).
    Conv2d,
    /// Flatten (`start_dim`, `end_dim`, optional `input_type`).
    Flatten,
    /// 2-D sum pooling (`kernel_size`, `stride`, `padding`).
    SumPool2d,
    /// 2-D average pooling (`kernel_size`, `stride`, `padding`).
    AvgPool2d,
    /// A pure delay (`delay`, seconds).
    Delay,
    /// `z = H(x - threshold)`.
    Threshold,
    /// Integrator `dv/dt = r I`.
    I,
    /// Integrate and fire.
    IF,
    /// Leaky integrator (no spikes).
    LI,
    /// Leaky integrate and fire.
    LIF,
    /// Current-based leaky integrator (no spikes).
    CubaLI,
    /// Current-based leaky integrate and fire.
    CubaLIF,
}

/// Parameters of a node type: (required, optional).
type Params = (&'static [&'static str], &'static [&'static str]);

impl NodeKind {
    /// Every kind, in the order of the node table of `docs/nir.md`.
    pub const ALL: [NodeKind; 20] = [
        NodeKind::Input,
        NodeKind::Output,
        NodeKind::NIRGraph,
        NodeKind::Identity,
        NodeKind::Affine,
        NodeKind::Linear,
        NodeKind::Scale,
        NodeKind::Conv1d,
        NodeKind::Conv2d,
        NodeKind::Flatten,
        NodeKind::SumPool2d,
        NodeKind::AvgPool2d,
        NodeKind::Delay,
        NodeKind::Threshold,
        NodeKind::I,
        NodeKind::IF,
        NodeKind::LI,
        NodeKind::LIF,
        NodeKind::CubaLI,
        NodeKind::CubaLIF,
    ];

    /// The type's name as stored in a file (`LIF`, `Conv2d`, ...).
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Input => "Input",
            NodeKind::Output => "Output",
            NodeKind::NIRGraph => "NIRGraph",
            NodeKind::Identity => "Identity",
            NodeKind::Affine => "Affine",
            NodeKind::Linear => "Linear",
            NodeKind::Scale => "Scale",
            NodeKind::Conv1d => "Conv1d",
            NodeKind::Conv2d => "Conv2d",
            NodeKind::Flatten => "Flatten",
            NodeKind::SumPool2d => "SumPool2d",
            NodeKind::AvgPool2d => "AvgPool2d",
            NodeKind::Delay => "Delay",
            NodeKind::Threshold => "Threshold",
            NodeKind::I => "I",
            NodeKind::IF => "IF",
            NodeKind::LI => "LI",
            NodeKind::LIF => "LIF",
            NodeKind::CubaLI => "CubaLI",
            NodeKind::CubaLIF => "CubaLIF",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// True for neuron nodes (the ones with state): they become populations.
    pub fn is_neuron(self) -> bool {
        matches!(
            self,
            NodeKind::Threshold
                | NodeKind::I
                | NodeKind::IF
                | NodeKind::LI
                | NodeKind::LIF
                | NodeKind::CubaLI
                | NodeKind::CubaLIF
        )
    }

    /// The parameters the type needs and those it may have.
    pub fn params(self) -> Params {
        match self {
            NodeKind::Input | NodeKind::Output => (&["shape"], &[]),
            NodeKind::NIRGraph => (&[], &[]),
            NodeKind::Identity => (&[], &["shape"]),
            NodeKind::Affine => (&["weight", "bias"], &[]),
            NodeKind::Linear => (&["weight"], &[]),
            NodeKind::Scale => (&["scale"], &[]),
            NodeKind::Conv1d | NodeKind::Conv2d => (
                &["weight", "stride", "padding", "dilation", "groups", "bias"],
                &["input_shape"],
            ),
            NodeKind::Flatten => (&["start_dim", "end_dim"], &["input_type"]),
            NodeKind::SumPool2d | NodeKind::AvgPool2d => {
                (&["kernel_size", "stride", "padding"], &[])
            }
            NodeKind::Delay => (&["delay"], &[]),
            NodeKind::Threshold => (&["threshold"], &[]),
            NodeKind::I => (&["r"], &[]),
            NodeKind::IF => (&["r", "v_threshold"], &["v_reset"]),
            NodeKind::LI => (&["tau", "r", "v_leak"], &[]),
            NodeKind::LIF => (&["tau", "r", "v_leak", "v_threshold"], &["v_reset"]),
            NodeKind::CubaLI => (&["tau_mem", "tau_syn", "r", "v_leak", "w_in"], &[]),
            NodeKind::CubaLIF => (
                &["tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "w_in"],
                &["v_reset"],
            ),
        }
    }
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A parameter array: shape and values (row-major), or a string parameter (Conv padding
/// `"same"`/`"valid"`).
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Numbers.
    Array {
        /// Dimensions (`[]` for a scalar).
        shape: Vec<usize>,
        /// Values, row-major.
        data: Vec<f64>,
    },
    /// A string.
    Text(String),
}

impl Param {
    /// A one-dimensional array.
    pub fn vec(data: Vec<f64>) -> Self {
        Param::Array {
            shape: vec![data.len()],
            data,
        }
    }

    /// The values (`None` for a string).
    pub fn values(&self) -> Option<&[f64]> {
        match self {
            Param::Array { data, .. } => Some(data),
            Param::Text(_) => None,
        }
    }

    /// The shape (`None` for a string).
    pub fn shape(&self) -> Option<&[usize]> {
        match self {
            Param::Array { shape, .. } => Some(shape),
            Param::Text(_) => None,
        }
    }
}

/// One node: its type, its parameters, its subgraph when it is a `NIRGraph`, and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct NirNode {
    /// The node type.
    pub kind: NodeKind,
    /// Parameters by name (for `NIRGraph`: none).
    pub params: BTreeMap<String, Param>,
    /// The nested graph of a `NIRGraph` node.
    pub graph: Option<Box<NirGraph>>,
    /// Metadata datasets (`metadata/<key>`), kept as read.
    pub metadata: BTreeMap<String, H5Value>,
}

impl NirNode {
    /// A node of `kind` with the given parameters and no metadata.
    pub fn new(kind: NodeKind, params: Vec<(&str, Param)>) -> Self {
        NirNode {
            kind,
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            graph: None,
            metadata: BTreeMap::new(),
        }
    }

    /// The parameter `name`.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.get(name)
    }
}

/// A NIR graph: named nodes and directed edges `(source, target)`. A node with several
/// incoming edges sums its inputs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NirGraph {
    /// Nodes by name.
    pub nodes: BTreeMap<String, NirNode>,
    /// Edges in file order.
    pub edges: Vec<(String, String)>,
    /// Graph metadata (`metadata/<key>`).
    pub metadata: BTreeMap<String, H5Value>,
}

fn layout(at: &str, message: impl Into<String>) -> NirError {
    NirError::Layout {
        at: at.to_string(),
        message: message.into(),
    }
}

impl NirGraph {
    /// Interprets a file's root group (`version`, `node`).
    pub fn from_root(root: &H5Value) -> Result<(NirGraph, String), NirError> {
        let H5Value::Group(top) = root else {
            return Err(layout("/", "the root is not a group"));
        };
        let version = match top.get("version") {
            Some(v) => v
                .as_str()
                .ok_or_else(|| layout("/version", format!("a {}, expected a string", v.kind())))?
                .to_string(),
            None => return Err(layout("/version", "missing: not a NIR file")),
        };
        if !version.starts_with("1.") && !version.starts_with("0.") {
            return Err(layout(
                "/version",
                format!("NIR version {version} is not supported (1.0.x is)"),
            ));
        }
        let node = top
            .get("node")
            .ok_or_else(|| layout("/node", "missing: not a NIR file"))?;
        let g = Self::from_tree(node, "/node", 0)?;
        Ok((g, version))
    }

    /// Interprets a `NIRGraph` node group at HDF5 path `at`.
    pub fn from_tree(v: &H5Value, at: &str, depth: usize) -> Result<NirGraph, NirError> {
        let node = parse_node(v, at, depth)?;
        if node.kind != NodeKind::NIRGraph {
            return Err(layout(
                at,
                format!("type is {}, expected NIRGraph", node.kind),
            ));
        }
        Ok(*node.graph.expect("a NIRGraph node has a graph"))
    }

    /// The file's root group for this graph (`version` and `node`).
    pub fn to_root(&self) -> BTreeMap<String, H5Value> {
        let mut root = BTreeMap::new();
        root.insert("version".into(), H5Value::string(NIR_VERSION));
        root.insert("node".into(), H5Value::Group(self.to_group()));
        root
    }

    fn to_group(&self) -> BTreeMap<String, H5Value> {
        let mut g = BTreeMap::new();
        g.insert("type".into(), H5Value::string("NIRGraph"));
        let nodes = self
            .nodes
            .iter()
            .map(|(name, n)| (name.clone(), H5Value::Group(node_group(n))))
            .collect();
        g.insert("nodes".into(), H5Value::Group(nodes));
        let mut data = Vec::with_capacity(self.edges.len() * 2);
        for (a, b) in &self.edges {
            data.push(a.clone());
            data.push(b.clone());
        }
        g.insert(
            "edges".into(),
            H5Value::Str {
                shape: vec![self.edges.len(), 2],
                data,
            },
        );
        if !self.metadata.is_empty() {
            g.insert("metadata".into(), H5Value::Group(self.metadata.clone()));
        }
        g
    }

    /// Names of the nodes with an edge into `name`, in edge order.
    pub fn predecessors(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(_, b)| b == name)
            .map(|(a, _)| a.as_str())
            .collect()
    }

    /// Names of the nodes `name` has an edge into, in edge order.
    pub fn successors(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(a, _)| a == name)
            .map(|(_, b)| b.as_str())
            .collect()
    }
}

fn node_group(n: &NirNode) -> BTreeMap<String, H5Value> {
    if let Some(g) = &n.graph {
        return g.to_group();
    }
    let mut out = BTreeMap::new();
    out.insert("type".into(), H5Value::string(n.kind.name()));
    for (k, p) in &n.params {
        let v = match p {
            Param::Text(s) => H5Value::string(s),
            Param::Array { shape, data } if is_integer_param(n.kind, k) => H5Value::Int {
                shape: shape.clone(),
                data: data.iter().map(|&x| x as i64).collect(),
            },
            Param::Array { shape, data } => H5Value::Float {
                shape: shape.clone(),
                data: data.clone(),
            },
        };
        out.insert(k.clone(), v);
    }
    if !n.metadata.is_empty() {
        out.insert("metadata".into(), H5Value::Group(n.metadata.clone()));
    }
    out
}

/// Parameters NIR stores as integers (shapes, kernel geometry).
fn is_integer_param(kind: NodeKind, name: &str) -> bool {
    matches!(
        (kind, name),
        (_, "shape")
            | (_, "input_shape")
            | (_, "input_type")
            | (_, "start_dim")
            | (_, "end_dim")
            | (_, "kernel_size")
            | (
                NodeKind::Conv1d | NodeKind::Conv2d,
                "stride" | "padding" | "dilation" | "groups"
            )
            | (
                NodeKind::SumPool2d | NodeKind::AvgPool2d,
                "stride" | "padding"
            )
    )
}

fn parse_node(v: &H5Value, at: &str, depth: usize) -> Result<NirNode, NirError> {
    if depth > crate::hdf::MAX_DEPTH {
        return Err(layout(at, "graphs nested too deeply"));
    }
    let H5Value::Group(g) = v else {
        return Err(layout(at, format!("a {}, expected a node group", v.kind())));
    };
    let ty_at = format!("{at}/type");
    let ty = g
        .get("type")
        .ok_or_else(|| layout(&ty_at, "missing: every node needs a type"))?;
    let ty = ty
        .as_str()
        .ok_or_else(|| layout(&ty_at, format!("a {}, expected a string", ty.kind())))?;
    let kind = NodeKind::from_name(ty).ok_or_else(|| {
        layout(
            &ty_at,
            format!(
                "unknown node type \"{ty}\" (NIR 1.0 has {})",
                NodeKind::ALL.map(|k| k.name()).join(", ")
            ),
        )
    })?;
    let metadata = match g.get("metadata") {
        Some(H5Value::Group(m)) => m.clone(),
        Some(other) => {
            return Err(layout(
                &format!("{at}/metadata"),
                format!("a {}, expected a group", other.kind()),
            ));
        }
        None => BTreeMap::new(),
    };
    if kind == NodeKind::NIRGraph {
        let nodes_at = format!("{at}/nodes");
        let Some(H5Value::Group(nodes)) = g.get("nodes") else {
            return Err(layout(&nodes_at, "missing or not a group"));
        };
        let mut graph = NirGraph {
            metadata: metadata.clone(),
            ..NirGraph::default()
        };
        for (name, child) in nodes {
            let n = parse_node(child, &format!("{nodes_at}/{name}"), depth + 1)?;
            graph.nodes.insert(name.clone(), n);
        }
        let edges_at = format!("{at}/edges");
        match g.get("edges") {
            Some(H5Value::Str { shape, data }) => {
                let ok = (shape.len() == 2 && shape[1] == 2)
                    || (shape.len() == 1 && shape[0] == 0)
                    || (shape.len() == 2 && shape[0] == 0);
                if !ok || !data.len().is_multiple_of(2) {
                    return Err(layout(
                        &edges_at,
                        format!("shape {shape:?}, expected (n, 2) strings"),
                    ));
                }
                for pair in data.chunks_exact(2) {
                    graph.edges.push((pair[0].clone(), pair[1].clone()));
                }
            }
            // An empty edge list may be stored as an empty numeric array by h5py.
            Some(e) if e.shape().map(|s| s.iter().product::<usize>()) == Some(0) => {}
            Some(other) => {
                return Err(layout(
                    &edges_at,
                    format!("a {}, expected (n, 2) strings", other.kind()),
                ));
            }
            None => return Err(layout(&edges_at, "missing")),
        }
        for (i, (a, b)) in graph.edges.iter().enumerate() {
            for end in [a, b] {
                let base = end.split('.').next().unwrap_or(end);
                if !graph.nodes.contains_key(end) && !graph.nodes.contains_key(base) {
                    return Err(layout(
                        &edges_at,
                        format!("edge {i} ({a} -> {b}) names node '{end}', which does not exist"),
                    ));
                }
            }
        }
        return Ok(NirNode {
            kind,
            params: BTreeMap::new(),
            graph: Some(Box::new(graph)),
            metadata: BTreeMap::new(),
        });
    }
    let (required, optional) = kind.params();
    let mut params = BTreeMap::new();
    for (name, value) in g {
        if name == "type" || name == "metadata" {
            continue;
        }
        let p_at = format!("{at}/{name}");
        if !required.contains(&name.as_str()) && !optional.contains(&name.as_str()) {
            return Err(layout(
                &p_at,
                format!("unexpected parameter of a {kind} node (it has {})", {
                    let all: Vec<&str> = required.iter().chain(optional).copied().collect();
                    all.join(", ")
                }),
            ));
        }
        let p = match value {
            H5Value::Str { .. } => Param::Text(
                value
                    .as_str()
                    .ok_or_else(|| layout(&p_at, "expected one string"))?
                    .to_string(),
            ),
            H5Value::Group(_) => {
                return Err(layout(&p_at, "a group, expected a dataset"));
            }
            _ => {
                let (shape, data) = value.as_floats().expect("numeric");
                if let Some(bad) = data.iter().find(|x| !x.is_finite()) {
                    return Err(layout(
                        &p_at,
                        format!("holds {bad}: parameters must be finite numbers"),
                    ));
                }
                Param::Array { shape, data }
            }
        };
        params.insert(name.clone(), p);
    }
    for r in required {
        if !params.contains_key(*r) {
            return Err(layout(
                &format!("{at}/{r}"),
                format!("missing: a {kind} node needs {}", required.join(", ")),
            ));
        }
    }
    Ok(NirNode {
        kind,
        params,
        graph: None,
        metadata,
    })
}
