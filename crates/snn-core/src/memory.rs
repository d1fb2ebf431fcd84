//! Memory estimates of the engine, computed from a spec before anything is allocated.
//!
//! [`NetworkMemory::estimate`] adds up what [`Network::build`](crate::Network::build) and a run
//! will hold:
//!
//! * **neurons**: the state of each model (`lif_exp` 32 bytes, `lif_delta` 16, `lif_beta` 4,
//!   `loihi_lif` 8, `izhikevich` 16, `adex` 40, `input` 0), the two input ring buffers (`slots x 2 x f32`, `slots` = longest
//!   delay in steps + 1), external and run-time currents, flags and spike buffers (21 bytes), the
//!   initial values while building (16 bytes), and the neuron lists of current stimuli;
//! * **synapses**, per projection: the count from the rule — exact for `all_to_all`,
//!   `one_to_one`, `fixed_indegree`, `fixed_outdegree`, `explicit` and `dense`; for
//!   `fixed_probability` the expected count, with a bound of the expected count plus six
//!   standard deviations used for the check; `fixed_total_number` exact — times 4 bytes (`u32`
//!   target), plus 4 bytes when weights vary per synapse and 2 when delays do unless they are
//!   packed into the target words ([`packed_target_bits`]; 2 bytes of scratch per synapse while
//!   the projection is built), plus the row pointers (8 bytes per source
//!   neuron), plus the scratch the rule's expansion needs at its peak (one projection at a time);
//!   a `conv2d` or `pool2d` projection (constant delay) is stored as its kernel (4 bytes per
//!   kernel weight, none for a pool) plus its tap tables
//!   ([`conv_taps_bytes`]), whatever its synapse count, which
//!   is still reported as the count of its expanded form
//!   ([`ProjectionMemory::expanded_bytes`] gives what that form would take);
//! * **per thread**: the cut points of every CSR row (4 bytes per source row and thread
//!   boundary; none for a conv projection, which clips its loops to each thread's range);
//! * **per step of a run**: 4 bytes per recorded trace and per recorded rate, and, when the
//!   caller keeps the spikes in a [`SpikeRaster`](snn_types::SpikeRaster), 8 bytes per step plus
//!   4 per spike ([`SpikeRaster::estimated_bytes`](snn_types::SpikeRaster::estimated_bytes)).
//!
//! The estimate is an upper bound up to allocator overhead; for the CUBA benchmark the synapse
//! figure is within 1% of [`Network::synapse_memory_bytes`](crate::Network::synapse_memory_bytes)
//! (a test checks 10%).
//!
//! ```
//! use snn_core::memory::NetworkMemory;
//! use snn_types::budget::MemoryBudget;
//!
//! let spec = snn_core::models::cuba(4000, 1);
//! let m = NetworkMemory::estimate(&spec, 1);
//! assert_eq!(m.neurons, 4000);
//! assert!(!m.synapses().exact); // fixed_probability: about 320,000
//! assert!(m.check_build(&MemoryBudget::limit(1 << 30)).is_ok());
//! let err = m.check_build(&MemoryBudget::limit(1 << 20)).unwrap_err();
//! assert!(err.needed_bytes > 1 << 20);
//! ```

use std::fmt;

use snn_types::budget::{MemoryBudget, TooLarge};
use snn_types::{Connectivity, NetworkSpec, NeuronModel, StimulusSpec, ValueSpec, delay_steps};

use crate::projection::{conv_taps_bytes, packed_target_bits};

/// Standard deviations above the expected count that bound a `fixed_probability` projection.
pub const FIXED_PROBABILITY_SIGMAS: f64 = 6.0;

/// Bytes of neuron state per model (the engine's `SegState`), plus 8 (`theta`, `f64`) for a
/// model with an adaptive threshold.
pub fn state_bytes_per_neuron(model: &NeuronModel) -> u64 {
    let theta = if model.adaptive_threshold().is_some() {
        8
    } else {
        0
    };
    theta
        + match model {
            NeuronModel::LifExp(_) => 32,
            NeuronModel::LifDelta(_) => 16,
            NeuronModel::LifCondExp(_) => 32,
            NeuronModel::LifBeta(_) => 4,
            NeuronModel::LoihiLif(_) => 8,
            NeuronModel::Izhikevich(_) => 16,
            NeuronModel::Adex(_) => 40,
            NeuronModel::Input => 0,
        }
}

/// Bytes per neuron besides the state and the ring buffers: external and run-time currents
/// (`f32` each), a flag, the step's spike list and the gathered spikes (`u32` each, worst case
/// every neuron fires), its fan-out (`u32`, for counting synaptic events), plus the initial
/// values held while building (`f64`, twice at the peak).
pub const OTHER_BYTES_PER_NEURON: u64 = 4 + 4 + 1 + 4 + 8 + 4 + 16;

/// How many synapses a projection has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynapseCount {
    /// The count (exact, or expected for `fixed_probability`).
    pub expected: u64,
    /// An upper bound used for memory checks (equal to `expected` when exact).
    pub bound: u64,
    /// True when the rule gives the count exactly.
    pub exact: bool,
}

impl SynapseCount {
    fn exact(n: u64) -> Self {
        Self {
            expected: n,
            bound: n,
            exact: true,
        }
    }
}

impl std::ops::Add for SynapseCount {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            expected: self.expected.saturating_add(o.expected),
            bound: self.bound.saturating_add(o.bound),
            exact: self.exact && o.exact,
        }
    }
}

impl fmt::Display for SynapseCount {
    /// `320000`, or `about 320000` when not exact.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exact {
            write!(f, "{}", self.expected)
        } else {
            write!(f, "about {}", self.expected)
        }
    }
}

/// The estimate of one population.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationMemory {
    /// Name from the spec.
    pub name: String,
    /// Neurons.
    pub size: u32,
    /// Bytes per neuron: state, ring buffers and the rest.
    pub bytes_per_neuron: u64,
    /// Bytes of the population (neurons times the above, plus current-stimulus neuron lists).
    pub bytes: u64,
}

/// The estimate of one projection.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionMemory {
    /// `name`, or `source->target`.
    pub name: String,
    /// Synapse count.
    pub synapses: SynapseCount,
    /// Bytes of the built arrays, from the expected count: the CSR arrays (targets, per-synapse
    /// weights and delays, row pointers), or for a projection stored as a kernel
    /// ([`kernel_storage`](Self::kernel_storage)) the kernel and its tap tables. Compare with
    /// [`Projection::memory_bytes`](crate::Projection::memory_bytes).
    pub storage_bytes: u64,
    /// The same from the bound on the count (equal when the count is exact).
    pub storage_bound_bytes: u64,
    /// Scratch the rule's expansion holds at its peak, on top of the storage.
    pub scratch_bytes: u64,
    /// Bytes the explicit CSR form would take ([`crate::connect::expand_projection`]: targets,
    /// per-synapse weights and delays, row pointers) from the expected count: equal to
    /// `storage_bytes` except for a projection stored as a kernel.
    pub expanded_bytes: u64,
    /// True for a `conv2d`/`pool2d` projection the engine stores as its kernel and tap tables
    /// (no per-synapse storage, no row cut points, no index limit on its synapse count).
    pub kernel_storage: bool,
}

/// The engine's memory estimate for a spec (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkMemory {
    /// The network's name (or `network`).
    pub name: String,
    /// Neurons.
    pub neurons: u64,
    /// Ring-buffer slots (longest delay in steps + 1, bounded from the spec).
    pub ring_slots: u64,
    /// Per population.
    pub populations: Vec<PopulationMemory>,
    /// Per projection, in spec order.
    pub projections: Vec<ProjectionMemory>,
    /// Row cut points for the threads (0 with one thread).
    pub split_bytes: u64,
    /// Bytes recorded per step: state traces and population rates (`f32`/`u32` each).
    pub recording_bytes_per_step: u64,
}

fn delay_upper_steps(v: &Option<ValueSpec>, dt: f64) -> u64 {
    match v {
        None => 1,
        Some(v) => delay_steps(v.range().1, dt) as u64,
    }
}

fn projection_estimate(spec: &NetworkSpec, j: usize) -> (ProjectionMemory, u64) {
    let pr = &spec.projections[j];
    let name = pr.display_name();
    let si = spec.population_index(&pr.source);
    let ti = spec.population_index(&pr.target);
    let size = |i: Option<usize>| i.map_or(0, |i| spec.populations[i].size as u64);
    let (ns, nt) = (size(si), size(ti));
    let no_self = si.is_some() && si == ti && !pr.allow_autapses;
    let diag = if no_self { ns.min(nt) } else { 0 };
    let mut per_syn_weights = !matches!(pr.weight, ValueSpec::Constant(_));
    let mut per_syn_delays = matches!(pr.delay_ms, Some(ValueSpec::Random(_)));
    let mut max_delay = delay_upper_steps(&pr.delay_ms, spec.dt_ms);
    // A conv or pool projection stored as its kernel (constant delay).
    let mut kernel = None;
    // Scratch per synapse and per source row on top of the final arrays.
    let (count, scratch_per_syn, scratch_per_row) = match &pr.connectivity {
        Connectivity::AllToAll => (SynapseCount::exact(ns.saturating_mul(nt) - diag), 4, 24),
        Connectivity::OneToOne => (
            SynapseCount::exact(if no_self { 0 } else { ns.min(nt) }),
            4,
            24,
        ),
        Connectivity::FixedProbability { p } => {
            let p = p.clamp(0.0, 1.0);
            let n = (ns as f64) * (nt as f64) - diag as f64;
            if p >= 1.0 {
                (SynapseCount::exact(n as u64), 4, 0)
            } else {
                let mean = n * p;
                let sd = (n * p * (1.0 - p)).sqrt();
                let bound = mean + FIXED_PROBABILITY_SIGMAS * sd + 16.0;
                let cap = |x: f64| {
                    if x >= u64::MAX as f64 {
                        u64::MAX
                    } else {
                        x as u64
                    }
                };
                (
                    SynapseCount {
                        expected: cap(mean.round()),
                        bound: cap(bound.ceil()),
                        exact: false,
                    },
                    4,
                    0,
                )
            }
        }
        Connectivity::FixedIndegree { k } => {
            (SynapseCount::exact(nt.saturating_mul(*k as u64)), 12, 0)
        }
        Connectivity::FixedOutdegree { k } => {
            (SynapseCount::exact(ns.saturating_mul(*k as u64)), 4, 24)
        }
        // Two passes over the stream: the row pointers are the final ones, no scratch.
        Connectivity::FixedTotalNumber { n } => (SynapseCount::exact(*n), 0, 0),
        Connectivity::Explicit {
            sources,
            targets,
            weights,
            delays_ms,
        } => {
            let n = sources
                .iter()
                .zip(targets)
                .filter(|(s, t)| !(no_self && s == t))
                .count() as u64;
            per_syn_weights = weights.is_some() || per_syn_weights;
            if let Some(d) = delays_ms {
                per_syn_delays = true;
                max_delay = d
                    .iter()
                    .map(|&x| delay_steps(x, spec.dt_ms) as u64)
                    .max()
                    .unwrap_or(1);
            }
            let w = if weights.is_some() { 12 } else { 0 };
            let d = if delays_ms.is_some() { 16 } else { 0 };
            (SynapseCount::exact(n), 12 + w + d, 0)
        }
        Connectivity::Conv2d { .. } | Connectivity::Pool2d { .. } => {
            let g = match spec.projection_geometry(j) {
                Some(Ok(g)) => Some(g),
                _ => None,
            };
            let n = g.map_or(0, |g| g.n_synapses());
            // The expanded form has one weight per synapse (a pool's too).
            per_syn_weights = true;
            if let (Some(g), false) = (g, per_syn_delays) {
                kernel = Some(g);
            }
            (SynapseCount::exact(n), 8, 0)
        }
        Connectivity::Dense { weights } => {
            let n = weights
                .iter()
                .enumerate()
                .map(|(s, row)| {
                    row.iter()
                        .enumerate()
                        .filter(|&(t, &x)| x != 0.0 && !(no_self && t == s))
                        .count() as u64
                })
                .sum();
            per_syn_weights = true;
            // The arrays grow by doubling: up to twice the final size at the peak.
            (SynapseCount::exact(n), 8, 0)
        }
    };
    let per_syn = 4 + if per_syn_weights { 4 } else { 0 } + if per_syn_delays { 2 } else { 0 };
    // The engine packs per-synapse delays into the target words when they fit (2 bytes less
    // per synapse once built; the u16 delays exist while the projection is built).
    let packs = per_syn_delays
        && kernel.is_none()
        && packed_target_bits(
            nt.min(u32::MAX as u64) as u32,
            max_delay.min(u16::MAX as u64) as u16,
        )
        .is_some();
    let per_syn_stored = per_syn - if packs { 2 } else { 0 };
    let rows = ns.saturating_add(1).saturating_mul(8);
    let storage = |c: u64| c.saturating_mul(per_syn).saturating_add(rows);
    let stored = |c: u64| c.saturating_mul(per_syn_stored).saturating_add(rows);
    let expanded_bytes = storage(count.expected);
    let (storage_bytes, storage_bound_bytes, scratch_bytes) = match kernel {
        Some(g) => {
            let k = match pr.connectivity {
                Connectivity::Conv2d { .. } => g.kernel_len() as u64 * 4,
                _ => 0,
            };
            let b = k + conv_taps_bytes(&g);
            (b, b, 0)
        }
        None => (
            stored(count.expected),
            stored(count.bound),
            count
                .bound
                .saturating_mul(scratch_per_syn + if packs { 2 } else { 0 })
                .saturating_add(ns.saturating_mul(scratch_per_row)),
        ),
    };
    (
        ProjectionMemory {
            name,
            synapses: count,
            storage_bytes,
            storage_bound_bytes,
            scratch_bytes,
            expanded_bytes,
            kernel_storage: kernel.is_some(),
        },
        max_delay.max(1),
    )
}

impl NetworkMemory {
    /// Estimates a spec's memory for a build over `threads` threads. Never panics and never
    /// allocates in proportion to the sizes it estimates; names that do not resolve count as
    /// empty populations (validate the spec first for a meaningful figure).
    pub fn estimate(spec: &NetworkSpec, threads: usize) -> Self {
        let mut slots = 1u64;
        let mut projections = Vec::with_capacity(spec.projections.len());
        let mut rows = 0u64;
        for j in 0..spec.projections.len() {
            let (p, d) = projection_estimate(spec, j);
            slots = slots.max(d);
            if !p.kernel_storage {
                rows = rows.saturating_add(
                    spec.population_index(&spec.projections[j].source)
                        .map_or(0, |i| spec.populations[i].size as u64),
                );
            }
            projections.push(p);
        }
        let slots = slots.min(u16::MAX as u64) + 1;
        let mut populations: Vec<PopulationMemory> = spec
            .populations
            .iter()
            .map(|p| {
                let per = state_bytes_per_neuron(&p.neuron) + slots * 8 + OTHER_BYTES_PER_NEURON;
                PopulationMemory {
                    name: p.name.clone(),
                    size: p.size,
                    bytes_per_neuron: per,
                    bytes: (p.size as u64).saturating_mul(per),
                }
            })
            .collect();
        for s in &spec.stimuli {
            let all = matches!(
                s,
                StimulusSpec::Current { neurons: None, .. }
                    | StimulusSpec::StepCurrent { neurons: None, .. }
            );
            if let (true, Some(i)) = (all, spec.population_index(s.target())) {
                let p = &mut populations[i];
                p.bytes = p.bytes.saturating_add((p.size as u64).saturating_mul(8));
            }
        }
        // The engine never splits over more threads than there are neurons.
        let threads = (threads.max(1) as u64).min(spec.n_neurons().max(1));
        let split_bytes = if threads > 1 {
            rows.saturating_mul((threads + 1) * 4)
        } else {
            0
        };
        let traces: u64 = spec
            .recording
            .state
            .iter()
            .map(|t| t.neurons.len() as u64)
            .sum();
        let rates = spec.recording.rates.len() as u64;
        Self {
            name: spec.name.clone().unwrap_or_else(|| "network".into()),
            neurons: spec.n_neurons(),
            ring_slots: slots,
            populations,
            projections,
            split_bytes,
            recording_bytes_per_step: (traces + rates) * 4,
        }
    }

    /// All synapses.
    pub fn synapses(&self) -> SynapseCount {
        self.projections
            .iter()
            .fold(SynapseCount::exact(0), |a, p| a + p.synapses)
    }

    /// Bytes of the built synapse arrays from the expected counts (compare with
    /// [`Network::synapse_memory_bytes`](crate::Network::synapse_memory_bytes)).
    pub fn synapse_storage_bytes(&self) -> u64 {
        self.projections
            .iter()
            .fold(0u64, |a, p| a.saturating_add(p.storage_bytes))
    }

    /// Bytes of all neurons (state, ring buffers, buffers, stimulus lists).
    pub fn neuron_bytes(&self) -> u64 {
        self.populations
            .iter()
            .fold(0u64, |a, p| a.saturating_add(p.bytes))
    }

    /// Peak bytes of [`Network::build`](crate::Network::build): neurons, synapse storage (bound),
    /// row splits, plus the largest projection's expansion scratch.
    pub fn build_bytes(&self) -> u64 {
        let storage = self
            .projections
            .iter()
            .fold(0u64, |a, p| a.saturating_add(p.storage_bound_bytes));
        let scratch = self
            .projections
            .iter()
            .map(|p| p.scratch_bytes)
            .max()
            .unwrap_or(0);
        self.neuron_bytes()
            .saturating_add(storage)
            .saturating_add(scratch)
            .saturating_add(self.split_bytes)
    }

    /// Bytes a run of `steps` steps adds: recorded traces and rates, and the spike raster's
    /// per-step offsets when the caller keeps one (`keep_raster`; its spikes add 4 bytes each on
    /// top, unknown in advance).
    pub fn run_bytes(&self, steps: u64, keep_raster: bool) -> u64 {
        let per_step = self.recording_bytes_per_step
            + if keep_raster {
                snn_types::SpikeRaster::BYTES_PER_STEP
            } else {
                0
            };
        steps.saturating_mul(per_step)
    }

    /// Checks [`build_bytes`](Self::build_bytes) against `budget`. When one population or one
    /// projection alone exceeds it, the error names that one; otherwise it names the network.
    pub fn check_build(&self, budget: &MemoryBudget) -> Result<(), TooLarge> {
        for p in &self.populations {
            if !budget.fits(p.bytes) {
                return Err(budget.refuse(
                    format!("population '{}' of {} neurons", p.name, p.size),
                    p.bytes,
                    "state, input buffers",
                ));
            }
        }
        for p in &self.projections {
            let b = p.storage_bound_bytes.saturating_add(p.scratch_bytes);
            if !budget.fits(b) {
                return Err(budget.refuse(
                    format!("projection '{}' of {} synapses", p.name, p.synapses),
                    b,
                    "synapse storage, construction scratch",
                ));
            }
        }
        budget.check_parts(
            format!(
                "network '{}' of {} neurons and {} synapses",
                self.name,
                self.neurons,
                self.synapses()
            ),
            self.build_bytes(),
            "state, input buffers, synapses, construction scratch",
        )
    }

    /// Checks the build and a run of `steps` steps together (see [`run_bytes`](Self::run_bytes)).
    pub fn check_run(
        &self,
        budget: &MemoryBudget,
        steps: u64,
        keep_raster: bool,
    ) -> Result<(), TooLarge> {
        self.check_build(budget)?;
        let run = self.run_bytes(steps, keep_raster);
        if !budget.fits(run) {
            return Err(budget.refuse(
                format!("a run of {steps} steps"),
                run,
                "recorded traces, rates and spike raster per step",
            ));
        }
        budget.check_parts(
            format!(
                "network '{}' of {} neurons run for {steps} steps",
                self.name, self.neurons
            ),
            self.build_bytes().saturating_add(run),
            "network and recordings",
        )
    }

    /// The first projection whose exact (or surely exceeded) synapse count is beyond a `u32`
    /// synapse index once expanded into explicit synapses (as the chip model does):
    /// `(index, count)`.
    pub fn over_index_limit(&self) -> Option<(usize, SynapseCount)> {
        self.over_limit(false)
    }

    /// As [`over_index_limit`](Self::over_index_limit), for the projections the engine stores
    /// per synapse (a projection stored as a kernel has no such limit).
    pub fn stored_over_index_limit(&self) -> Option<(usize, SynapseCount)> {
        self.over_limit(true)
    }

    fn over_limit(&self, skip_kernels: bool) -> Option<(usize, SynapseCount)> {
        self.projections.iter().enumerate().find_map(|(j, p)| {
            if skip_kernels && p.kernel_storage {
                return None;
            }
            let n = if p.synapses.exact {
                p.synapses.expected
            } else {
                // Expected minus the same margin: surely above.
                let sd = p.synapses.bound.saturating_sub(p.synapses.expected);
                p.synapses.expected.saturating_sub(sd)
            };
            (n > u32::MAX as u64).then_some((j, p.synapses))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Network;

    #[test]
    fn cuba_synapse_estimate_is_within_ten_percent_of_the_built_arrays() {
        let spec = crate::models::cuba(4000, 1);
        let m = NetworkMemory::estimate(&spec, 1);
        let net = Network::build(&spec).unwrap();
        let measured = net.synapse_memory_bytes() as f64;
        let est = m.synapse_storage_bytes() as f64;
        println!("CUBA 4000 synapse bytes: estimate {est}, built {measured}");
        assert!((est / measured - 1.0).abs() < 0.10, "{est} vs {measured}");
        let n = net.n_synapses() as f64;
        let s = m.synapses();
        assert!((s.expected as f64 / n - 1.0).abs() < 0.02, "{s} vs {n}");
        assert!(s.bound as f64 >= n);
        assert_eq!(m.neurons, net.n_neurons());
        assert_eq!(m.ring_slots, 2);
    }

    #[test]
    fn exact_rules_give_exact_counts() {
        let mut spec = NetworkSpec::from_toml_str(
            r#"
            dt_ms = 0.1
            [[populations]]
            name = "a"
            size = 10
            neuron = { model = "lif_delta" }
            [[populations]]
            name = "b"
            size = 7
            neuron = { model = "lif_delta" }
            [[projections]]
            source = "a"
            target = "a"
            connectivity = { rule = "all_to_all" }
            [[projections]]
            source = "a"
            target = "b"
            connectivity = { rule = "fixed_indegree", k = 3 }
            delay_ms = { dist = "uniform", low = 0.1, high = 2.0 }
            [[projections]]
            source = "b"
            target = "a"
            connectivity = { rule = "fixed_outdegree", k = 2 }
            weight = { dist = "normal", mean = 1.0, std = 0.1 }
            [[projections]]
            source = "b"
            target = "b"
            connectivity = { rule = "explicit", sources = [0, 1, 2], targets = [0, 2, 1], weights = [1.0, 2.0, 3.0] }
            [[projections]]
            source = "b"
            target = "b"
            connectivity = { rule = "one_to_one" }
            allow_autapses = true
            "#,
        )
        .unwrap();
        let mut dense = vec![vec![0.0; 7]; 10];
        dense[0][1] = 1.0;
        dense[0][6] = 2.0;
        dense[2] = vec![1.0; 7];
        spec.projections.push(snn_types::ProjectionSpec {
            name: Some("dense".into()),
            source: "a".into(),
            target: "b".into(),
            connectivity: Connectivity::Dense { weights: dense },
            weight: ValueSpec::Constant(1.0),
            delay_ms: None,
            receptor: Default::default(),
            allow_autapses: false,
            plasticity: None,
        });
        spec.validate().unwrap();
        let m = NetworkMemory::estimate(&spec, 1);
        assert_eq!(m.projections[5].synapses.expected, 9);
        let net = Network::build(&spec).unwrap();
        for (j, (e, p)) in m.projections.iter().zip(net.projections()).enumerate() {
            assert!(e.synapses.exact, "{j}");
            assert_eq!(e.synapses.expected, p.n_synapses() as u64, "{j}");
            assert_eq!(e.storage_bytes, p.memory_bytes() as u64, "{j}");
        }
        assert_eq!(m.synapses().to_string(), net.n_synapses().to_string());
        assert_eq!(m.ring_slots, 21);
    }

    #[test]
    fn a_huge_population_is_refused_by_name_without_allocating() {
        let spec = NetworkSpec::from_toml_str(
            "dt_ms = 0.1\n[[populations]]\nname = \"big\"\nsize = 4294967295\nneuron = { model = \"lif_delta\" }\n",
        )
        .unwrap();
        let m = NetworkMemory::estimate(&spec, 1);
        let e = m.check_build(&MemoryBudget::limit(8 << 30)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("population 'big' of 4294967295 neurons needs about"),
            "{e}"
        );
        assert!(e.needed_bytes > 4294967295 * 16);
        let err = Network::build_with_budget(&spec, 1, &MemoryBudget::limit(8 << 30)).unwrap_err();
        assert!(matches!(err, crate::BuildError::Memory(_)), "{err}");
    }

    /// Threads beyond the neuron count are not counted (the engine never uses them): 20
    /// neurons on 10^11 threads were estimated at about 14.6 TiB of row cuts.
    #[test]
    fn threads_beyond_the_neurons_cost_nothing() {
        let spec = crate::models::cuba(20, 1);
        let at = |t: usize| NetworkMemory::estimate(&spec, t).split_bytes;
        assert_eq!(at(99_999_999_999), at(20));
        assert!(at(20) > at(2), "more threads, more row cuts");
        assert_eq!(at(1), 0);
        Network::build_with_budget(&spec, 99_999_999_999, &MemoryBudget::limit(1 << 30)).unwrap();
    }

    #[test]
    fn adaptive_threshold_costs_8_bytes_per_neuron() {
        use snn_types::{AdaptiveThreshold, LifCondExpParams, LifExpParams};
        let a = Some(AdaptiveThreshold::default());
        let plain = NeuronModel::LifExp(LifExpParams::default());
        let adaptive = NeuronModel::LifExp(LifExpParams {
            adaptive_threshold: a,
            ..Default::default()
        });
        assert_eq!(
            state_bytes_per_neuron(&adaptive),
            state_bytes_per_neuron(&plain) + 8
        );
        let plain = NeuronModel::LifCondExp(LifCondExpParams::default());
        let adaptive = NeuronModel::LifCondExp(LifCondExpParams {
            adaptive_threshold: a,
            input_order: Default::default(),
            ..Default::default()
        });
        assert_eq!(
            state_bytes_per_neuron(&adaptive),
            state_bytes_per_neuron(&plain) + 8
        );
    }

    #[test]
    fn fixed_probability_beyond_the_index_limit_is_flagged() {
        let spec = crate::models::cuba(4_000_000_000, 1);
        let m = NetworkMemory::estimate(&spec, 1);
        assert!(m.over_index_limit().is_some());
        assert!(m.check_build(&MemoryBudget::limit(1 << 40)).is_err());
    }

    #[test]
    fn recordings_and_kept_rasters_count_per_step() {
        let mut spec = crate::models::cuba(100, 1);
        spec.recording.rates = vec!["exc".into()];
        let m = NetworkMemory::estimate(&spec, 1);
        assert_eq!(m.run_bytes(1000, false), 4000);
        assert_eq!(m.run_bytes(1000, true), 12000);
        let e = m
            .check_run(&MemoryBudget::limit(1 << 30), u64::MAX, false)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a run of 18446744073709551615 steps"),
            "{e}"
        );
    }
}
