//! The compiled program: what the compiler's last pass (lower) produces and the chip runs.

use serde::Serialize;
use snn_core::neuron::LoihiCoef;
use snn_core::stimulus::PoissonSource;
use snn_types::{Connectivity, NetworkSpec, ProjectionSpec, Step, ValueSpec, steps_to_ms};

use crate::arch::ArchSpec;
use crate::compile::quantise::{BiasChange, PopulationQuant, ProjectionQuant};

/// Marks a neuron that lives off-chip (input populations, fed through the host tile).
pub(crate) const HOST: u32 = u32::MAX;

/// A population as placed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlacedPopulation {
    /// Name.
    pub name: String,
    /// Global index of its first neuron.
    pub start: u32,
    /// Number of neurons.
    pub size: u32,
    /// True for input populations (off-chip, injected at the host tile).
    pub input: bool,
    /// Lowest and highest physical core it occupies (`None` for inputs and empty populations);
    /// `per_core` lists them exactly.
    pub cores: Option<(u32, u32)>,
    /// Its layout `[C, H, W]`, when the spec gives one.
    pub shape: Option<[u32; 3]>,
    /// Its neurons per core, in core order (empty for inputs and empty populations).
    pub per_core: Vec<CoreShare>,
}

/// Traffic of a placement, estimated from the network's structure: one packet per (source
/// neuron, destination core) pair, i.e. the packets of one spike of every neuron (inputs enter
/// at the host tile), times the hops each travels on the system mesh (dimension-order routing;
/// a chip-to-chip link counts as one hop).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlacementTraffic {
    /// Packets: (source neuron, destination core) pairs.
    pub packets: u64,
    /// Packets times hops.
    pub packet_hops: u64,
    /// Packets times chip-to-chip links crossed (0 on one chip).
    pub chip_link_packets: u64,
    /// Packets times hops of the layer-by-layer (snake order) placement, before refinement.
    pub initial_packet_hops: u64,
    /// Packets times chip-to-chip links before refinement.
    pub initial_chip_link_packets: u64,
    /// Moves and swaps of cores the refinement made (0 for a mapping file).
    pub moves: u32,
    /// Seed of the refinement's visiting order.
    pub seed: u64,
}

/// The neurons of one population on one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CoreShare {
    /// Physical core index (global over the system's chips: `chip x cores per chip + core`).
    pub core: u32,
    /// Tile coordinates `[x, y]` of the core in the system mesh (chips side by side).
    pub tile: [u32; 2],
    /// Neurons of the population on this core.
    pub neurons: u32,
}

/// How a projection's synapses are held in synaptic memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// One entry per synapse (`synapse_bits` each).
    PerSynapse,
    /// A conv or pool kernel stored once per core for the output channels it holds
    /// ([`ConvWeights::Shared`](crate::ConvWeights::Shared)).
    Shared,
}

/// The synaptic memory one projection takes, over all cores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionMemory {
    /// Index in the spec.
    pub index: usize,
    /// Name (`source->target` when the spec gives none).
    pub name: String,
    /// The connectivity rule (`conv2d`, `pool2d`, `fixed_probability`, ...).
    pub rule: String,
    /// How it is stored.
    pub storage: Storage,
    /// Synapses it delivers through (the expanded projection).
    pub synapses: u64,
    /// Cores holding at least one of its targets.
    pub target_cores: u32,
    /// Kernel weights stored, summed over cores (0 unless shared).
    pub kernel_weights: u64,
    /// Synaptic memory it occupies, summed over cores (bits).
    pub synaptic_memory_bits: u64,
}

/// Resources one core uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreUsage {
    /// Physical core index (global over the system's chips: `chip x cores per chip + core`).
    pub core: u32,
    /// Tile coordinates `[x, y]` in the system mesh (chips side by side).
    pub tile: [u32; 2],
    /// Neurons (compartments) placed.
    pub neurons: u32,
    /// Synapses into its neurons (fan-in), whether stored one by one or through a shared kernel.
    pub synapses: u64,
    /// Synaptic memory used (bits): stored synapses times the bits per synapse, plus
    /// [`shared_kernel_bits`](Self::shared_kernel_bits).
    pub synaptic_memory_bits: u64,
    /// Part of the synaptic memory holding shared conv/pool kernel slices (0 unless the
    /// architecture shares conv weights).
    pub shared_kernel_bits: u64,
    /// Input-axon entries (distinct source neurons).
    pub input_axons: u32,
    /// Fan-out entries (distinct (neuron, destination core) pairs).
    pub fanout_entries: u32,
}

/// Quantisation results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantisation {
    /// Per population.
    pub populations: Vec<PopulationQuant>,
    /// Per projection.
    pub projections: Vec<ProjectionQuant>,
    /// Weight precision used (`num_weight_bits`).
    pub num_weight_bits: u32,
    /// Bits per synapse used for synaptic memory (stated or assumed).
    pub synapse_bits: u32,
}

/// A fan-out group: the synapses of one source neuron, through one projection, on one core.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    pub core: u32,
    pub proj: u32,
    pub start: usize,
    pub len: u32,
}

/// Per-projection data the runtime needs.
#[derive(Debug, Clone)]
pub(crate) struct ProjInfo {
    pub source_pop: usize,
    pub target_pop: usize,
    pub weight_exp: u32,
    /// The quantised spec keeps the projection's rule (with integer weights) instead of
    /// listing its synapses.
    pub keeps_rule: bool,
}

/// A compiled network: placement, routing tables, quantised parameters and synapses.
#[derive(Debug, Clone)]
pub struct ChipProgram {
    /// The architecture compiled for.
    pub arch: ArchSpec,
    /// The network's name.
    pub name: Option<String>,
    /// Time step of the network (ms per chip timestep).
    pub dt_ms: f64,
    /// Populations and where they went.
    pub populations: Vec<PlacedPopulation>,
    /// Per-core resource use (cores in use only, in physical index order).
    pub cores: Vec<CoreUsage>,
    /// Tiles with at least one core in use.
    pub tiles_used: u32,
    /// Chips with at least one core in use.
    pub chips_used: u32,
    /// The most tiles in use on one chip (the chip barrier's span; `tiles_used` on one chip).
    pub max_chip_tiles: u32,
    /// Traffic of the placement (packets x hops, estimated from the network's structure).
    pub traffic: PlacementTraffic,
    /// Quantisation of parameters and weights.
    pub quantisation: Quantisation,
    /// Synaptic memory per projection (how it is stored and how much it takes).
    pub projection_memory: Vec<ProjectionMemory>,
    /// Things the chip model ignores from the spec (recording of state traces, ...).
    pub notes: Vec<String>,
    /// The quantised network with uniform-weight rules kept (see [`Self::quantised_spec`]).
    pub(crate) spec: NetworkSpec,
    pub(crate) n_neurons: usize,
    pub(crate) core_of: Vec<u32>,
    /// Per used core (slot): its global neuron ranges `[lo, hi)`, sorted.
    pub(crate) core_segs: Vec<Vec<(u32, u32)>>,
    /// Per used core (slot): its physical core (global over the system's chips).
    pub(crate) phys: Vec<u32>,
    /// Per population: the fixed-point LIF constants (silent for inputs).
    pub(crate) soma: Vec<LoihiCoef>,
    /// Per used core: `(lo, hi, population)` segments of its neuron range.
    pub(crate) pop_of_core_seg: Vec<Vec<(u32, u32, u16)>>,
    pub(crate) v0: Vec<i32>,
    pub(crate) src_ptr: Vec<usize>,
    pub(crate) groups: Vec<Group>,
    pub(crate) syn_target: Vec<u32>,
    pub(crate) syn_weight: Vec<i16>,
    pub(crate) syn_delay: Vec<u16>,
    pub(crate) max_delay: u16,
    pub(crate) proj: Vec<ProjInfo>,
    /// Spike-array inputs: `(step, global input neuron)`, sorted.
    pub(crate) input_events: Vec<(Step, u32)>,
    /// Poisson sources that fire input neurons.
    pub(crate) poisson: Vec<PoissonSource>,
    /// Per-compartment biases of current stimuli: from `step` on, `neuron` adds `bias` to its
    /// population's bias; ordered by (step, neuron).
    pub(crate) bias_changes: Vec<BiasChange>,
    pub(crate) record: Vec<bool>,
}

impl ChipProgram {
    /// The network the chip runs, as a spec `snn-core` can simulate: `loihi_lif` populations
    /// with the quantised parameters and the quantised integer weights. Current stimuli are
    /// replaced by `step_current` stimuli carrying the quantised per-compartment biases (integer
    /// `v` units, which the engine's `loihi_lif` adds to `v` as the chip does), one per group
    /// of neurons with the same bias schedule, in the current stimuli's places (extra places
    /// get a zero `current`, extra groups go at the end, so other stimuli keep their index and
    /// their Poisson streams). Projections with a
    /// uniform weight keep their rule (the engine redraws the same synapses from the seed), as do
    /// `conv2d` (with the integer kernel, so the engine can run it compactly) and `pool2d` (with
    /// its integer weight); others become explicit synapse lists (delays written back in milliseconds, whole steps of
    /// `dt_ms`, since a spec is an edge of the toolkit).
    pub fn quantised_spec(&self) -> NetworkSpec {
        let mut q = self.spec.clone();
        let dt = self.dt_ms;
        for j in 0..q.projections.len() {
            let info = &self.proj[j];
            if info.keeps_rule {
                continue;
            }
            let (s0, t0) = (
                self.populations[info.source_pop].start,
                self.populations[info.target_pop].start,
            );
            let size = self.populations[info.source_pop].size;
            let (mut src, mut tgt, mut w, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for r in 0..size {
                let g = (s0 + r) as usize;
                for x in &self.groups[self.src_ptr[g]..self.src_ptr[g + 1]] {
                    if x.proj as usize != j {
                        continue;
                    }
                    for k in x.start..x.start + x.len as usize {
                        src.push(r);
                        tgt.push(self.syn_target[k] - t0);
                        w.push(((self.syn_weight[k] as i64) << info.weight_exp) as f64);
                        d.push(steps_to_ms(self.syn_delay[k] as Step, dt));
                    }
                }
            }
            let old: &ProjectionSpec = &q.projections[j];
            q.projections[j] = ProjectionSpec {
                name: old.name.clone(),
                source: old.source.clone(),
                target: old.target.clone(),
                connectivity: Connectivity::Explicit {
                    sources: src,
                    targets: tgt,
                    weights: Some(w),
                    delays_ms: Some(d),
                },
                weight: ValueSpec::Constant(0.0),
                delay_ms: None,
                receptor: old.receptor,
                allow_autapses: true,
                plasticity: None,
            };
        }
        q
    }

    /// The placement as a mapping file ([`crate::mapping`]): per on-chip population, one entry
    /// per run of consecutive neurons on one core. Compiling with it gives the same placement.
    pub fn mapping(&self) -> crate::mapping::Mapping {
        let per_chip = self.arch.cores_per_chip();
        let mut entries = Vec::new();
        for p in &self.populations {
            if p.input || p.size == 0 {
                continue;
            }
            let mut run: Option<(u32, u32)> = None; // (first local neuron, physical core)
            for k in 0..=p.size {
                let core = (k < p.size).then(|| self.core_of(p.start + k)).flatten();
                match (run, core) {
                    (Some((_, c)), Some(d)) if c == d => {}
                    _ => {
                        if let Some((a, c)) = run {
                            entries.push(crate::mapping::MappingEntry {
                                population: p.name.clone(),
                                neurons: (a != 0 || k != p.size).then_some([a, k]),
                                chip: c / per_chip,
                                core: c % per_chip,
                            });
                        }
                        run = core.map(|d| (k, d));
                    }
                }
            }
        }
        crate::mapping::Mapping {
            arch: Some(self.arch.name.clone()),
            entries,
        }
    }

    /// Number of neurons (inputs included; global indices as in the spec).
    pub fn n_neurons(&self) -> usize {
        self.n_neurons
    }

    /// Number of synapses stored on the chip.
    pub fn n_synapses(&self) -> usize {
        self.syn_target.len()
    }

    /// Cores in use.
    pub fn n_cores_used(&self) -> u32 {
        self.core_segs.len() as u32
    }

    /// Bytes the program's synapse and routing arrays occupy in this process (targets, weights,
    /// delays, fan-out groups).
    pub fn memory_bytes(&self) -> usize {
        self.syn_target.capacity() * 4
            + self.syn_weight.capacity() * 2
            + self.syn_delay.capacity() * 2
            + self.groups.capacity() * std::mem::size_of::<Group>()
            + self.src_ptr.capacity() * std::mem::size_of::<usize>()
    }

    /// Physical core of global neuron `g` (global over the system's chips; `None` for off-chip
    /// input neurons).
    pub fn core_of(&self, g: u32) -> Option<u32> {
        self.core_of
            .get(g as usize)
            .copied()
            .filter(|&c| c != HOST)
            .map(|k| self.phys[k as usize])
    }
}
