//! Projections stored as CSR by source neuron, with per-row targets sorted.
//!
//! Memory per synapse is 4 bytes (`u32` target) when the weight and delay are the same for every
//! synapse of the projection, plus 4 bytes for per-synapse `f32` weights and 2 bytes for
//! per-synapse `u16` delays when they vary.

use snn_types::Receptor;

/// A per-synapse quantity stored once when every synapse of a projection shares it: the one
/// "uniform or per-synapse" type of the workspace (weights in the engine, delays, the chip's
/// integer weight mantissas).
#[derive(Debug, Clone, PartialEq)]
pub enum Synaptic<T> {
    /// One value shared by every synapse (no per-synapse storage).
    Uniform(T),
    /// One value per synapse, in CSR order.
    PerSynapse(Vec<T>),
}

impl<T: Copy> Synaptic<T> {
    /// Value of synapse `i` (CSR order).
    #[inline(always)]
    pub fn at(&self, i: usize) -> T {
        match self {
            Synaptic::Uniform(x) => *x,
            Synaptic::PerSynapse(v) => v[i],
        }
    }

    /// True when one value is shared by every synapse.
    pub fn is_uniform(&self) -> bool {
        matches!(self, Synaptic::Uniform(_))
    }

    /// Applies `f` to the stored value(s), keeping the storage form.
    pub fn map<U>(&self, mut f: impl FnMut(T) -> U) -> Synaptic<U> {
        match self {
            Synaptic::Uniform(x) => Synaptic::Uniform(f(*x)),
            Synaptic::PerSynapse(v) => Synaptic::PerSynapse(v.iter().map(|&x| f(x)).collect()),
        }
    }

    /// Bytes of per-synapse storage (0 when uniform).
    pub fn storage_bytes(&self) -> usize {
        match self {
            Synaptic::Uniform(_) => 0,
            Synaptic::PerSynapse(v) => std::mem::size_of_val(v.as_slice()),
        }
    }
}

/// Synaptic weights of a projection (`f32`, the target model's unit).
pub type Weights = Synaptic<f32>;

/// Transmission delays of a projection, in whole steps (>= 1).
pub type Delays = Synaptic<u16>;

/// A built projection: CSR by source, targets local to the target population.
#[derive(Debug, Clone)]
pub struct Projection {
    /// Name for reports (the spec's name, or `source->target`).
    pub name: String,
    /// Index of the source population.
    pub source_pop: usize,
    /// Index of the target population.
    pub target_pop: usize,
    /// Receptor driven.
    pub receptor: Receptor,
    /// `row_ptr[s]..row_ptr[s+1]` are the synapses of source neuron `s` (length `n_source + 1`).
    pub(crate) row_ptr: Vec<usize>,
    /// Local target index of each synapse; sorted within each row.
    pub(crate) targets: Vec<u32>,
    pub(crate) weights: Weights,
    pub(crate) delays: Delays,
    pub(crate) n_target: u32,
}

impl Projection {
    /// Number of synapses.
    pub fn n_synapses(&self) -> usize {
        self.targets.len()
    }

    /// Number of source neurons (rows).
    pub fn n_source(&self) -> usize {
        self.row_ptr.len() - 1
    }

    /// Number of target neurons (columns).
    pub fn n_target(&self) -> usize {
        self.n_target as usize
    }

    /// Row pointers (`n_source + 1` entries).
    pub fn row_ptr(&self) -> &[usize] {
        &self.row_ptr
    }

    /// Local target index of every synapse, row by row.
    pub fn targets(&self) -> &[u32] {
        &self.targets
    }

    /// The weights.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The delays in steps.
    pub fn delays(&self) -> &Delays {
        &self.delays
    }

    /// Weight of synapse `i` (CSR order).
    pub fn weight(&self, i: usize) -> f32 {
        self.weights.at(i)
    }

    /// Delay of synapse `i` in steps.
    pub fn delay_steps(&self, i: usize) -> u16 {
        self.delays.at(i)
    }

    /// Longest delay in steps.
    pub fn max_delay_steps(&self) -> u16 {
        match &self.delays {
            Delays::Uniform(d) => *d,
            Delays::PerSynapse(v) => v.iter().copied().max().unwrap_or(1),
        }
    }

    /// Turns uniform weights into per-synapse storage (needed before weights can change).
    pub fn materialise_weights(&mut self) {
        if let Weights::Uniform(w) = self.weights {
            self.weights = Weights::PerSynapse(vec![w; self.targets.len()]);
        }
    }

    /// Mutable per-synapse weights (materialised first if uniform).
    pub fn weights_mut(&mut self) -> &mut [f32] {
        self.materialise_weights();
        match &mut self.weights {
            Weights::PerSynapse(v) => v,
            Weights::Uniform(_) => unreachable!("materialised above"),
        }
    }

    /// Bytes used by the synapse arrays (targets, weights, delays, row pointers).
    pub fn memory_bytes(&self) -> usize {
        self.targets.len() * 4
            + self.weights.storage_bytes()
            + self.delays.storage_bytes()
            + self.row_ptr.len() * std::mem::size_of::<usize>()
    }

    /// The weight matrix as a `sprs` CSR matrix (`n_source x n_target`), for analysis and export.
    /// Duplicate (source, target) pairs, if any, are summed.
    pub fn to_sprs(&self) -> sprs::CsMat<f32> {
        let mut tri = sprs::TriMat::new((self.n_source(), self.n_target()));
        for s in 0..self.n_source() {
            for i in self.row_ptr[s]..self.row_ptr[s + 1] {
                tri.add_triplet(s, self.targets[i] as usize, self.weight(i));
            }
        }
        tri.to_csr()
    }

    /// Incoming synapses of every target (a CSC index into the CSR arrays): returns
    /// `(col_ptr, sources, synapse_indices)`, sources ascending within each column.
    pub fn transpose_index(&self) -> (Vec<usize>, Vec<u32>, Vec<u32>) {
        let nt = self.n_target();
        let mut col_ptr = vec![0usize; nt + 1];
        for &t in &self.targets {
            col_ptr[t as usize + 1] += 1;
        }
        for i in 0..nt {
            col_ptr[i + 1] += col_ptr[i];
        }
        let mut fill = col_ptr.clone();
        let mut sources = vec![0u32; self.targets.len()];
        let mut syn = vec![0u32; self.targets.len()];
        for s in 0..self.n_source() {
            for i in self.row_ptr[s]..self.row_ptr[s + 1] {
                let t = self.targets[i] as usize;
                sources[fill[t]] = s as u32;
                syn[fill[t]] = i as u32;
                fill[t] += 1;
            }
        }
        (col_ptr, sources, syn)
    }
}

/// The longest delay of any synapse of `projections`, in steps (1 when there is none): the ring
/// buffers of the engine and the chip model hold this many steps plus one.
pub fn longest_delay_steps(projections: &[Projection]) -> u16 {
    projections
        .iter()
        .map(Projection::max_delay_steps)
        .max()
        .unwrap_or(1)
        .max(1)
}
