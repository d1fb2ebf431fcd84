//! What a run measured: event counts, unit costs, energy, per-core load, link and packet
//! statistics, the per-step trace, and the assembly of the [`Report`] from a run's tallies.

use serde::Serialize;
use snn_types::SpikeRaster;

use crate::arch::{ArchSpec, ChargeClass, ModelOptions, OpCosts};
use crate::noc::{Mesh, NocMode};
use crate::program::ChipProgram;

/// Event counts by operation class; energy is these counts times the unit costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    /// Synaptic operations (one per synapse of every delivered packet).
    pub synaptic_ops: u64,
    /// Neuron updates with input or a spike.
    pub neuron_updates_active: u64,
    /// Neuron updates without input (decay only).
    pub neuron_updates_inactive: u64,
    /// Spikes of on-chip neurons.
    pub spikes_out: u64,
    /// Input-population spikes injected by the host.
    pub input_spikes: u64,
    /// Packets sent (cores and host).
    pub packets_out: u64,
    /// Packets received by cores.
    pub packets_in: u64,
    /// Tile-to-tile hops along X.
    pub hops_east_west: u64,
    /// Tile-to-tile hops along Y.
    pub hops_north_south: u64,
    /// Chip-to-chip link hops along X (systems of several chips; not in the tile hops).
    pub chip_link_hops_east_west: u64,
    /// Chip-to-chip link hops along Y.
    pub chip_link_hops_north_south: u64,
    /// Barriers (one per step).
    pub barriers: u64,
}

/// The unit costs a run used (unstated figures as 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct UnitCosts {
    /// Synaptic operation.
    pub synaptic_op: f64,
    /// Active neuron update.
    pub neuron_update_active: f64,
    /// Inactive neuron update.
    pub neuron_update_inactive: f64,
    /// Spike out of a neuron.
    pub spike_out: f64,
    /// Packet sent.
    pub packet_out: f64,
    /// Packet received.
    pub packet_in: f64,
    /// Hop along X.
    pub hop_east_west: f64,
    /// Hop along Y.
    pub hop_north_south: f64,
    /// Chip-to-chip link hop along X.
    pub chip_link_hop_east_west: f64,
    /// Chip-to-chip link hop along Y.
    pub chip_link_hop_north_south: f64,
    /// Barrier.
    pub barrier: f64,
}

impl UnitCosts {
    pub(crate) fn from(
        ops: &OpCosts,
        hop: Option<crate::arch::DirCost>,
        barrier: Option<f64>,
    ) -> Self {
        let z = |x: Option<f64>| x.unwrap_or(0.0);
        Self {
            synaptic_op: z(ops.synaptic_op),
            neuron_update_active: z(ops.neuron_update_active),
            neuron_update_inactive: z(ops.neuron_update_inactive),
            spike_out: z(ops.spike_out),
            packet_out: z(ops.packet_out),
            packet_in: z(ops.packet_in),
            hop_east_west: hop.map_or(0.0, |h| h.east_west),
            hop_north_south: hop.map_or(0.0, |h| h.north_south),
            chip_link_hop_east_west: 0.0,
            chip_link_hop_north_south: 0.0,
            barrier: z(barrier),
        }
    }

    /// With the chip-to-chip link costs `[east_west, north_south]`.
    pub(crate) fn with_chip_links(mut self, link: [f64; 2]) -> Self {
        self.chip_link_hop_east_west = link[0];
        self.chip_link_hop_north_south = link[1];
        self
    }
}

/// Energy by operation class (pJ).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct EnergyBreakdown {
    /// Synaptic operations.
    pub synaptic_pj: f64,
    /// Neuron updates.
    pub neuron_pj: f64,
    /// Spikes out, packets, hops and barriers.
    pub network_pj: f64,
    /// Static power times modelled time.
    pub static_pj: f64,
    /// Sum of the above.
    pub total_pj: f64,
}

impl EnergyBreakdown {
    /// Energy of `c` at unit energies `u` (pJ) plus `static_mw` over `time_ns`, spike-out
    /// events in the network class.
    pub fn from_counts(c: &EventCounts, u: &UnitCosts, static_mw: f64, time_ns: f64) -> Self {
        Self::from_counts_charged(c, u, static_mw, time_ns, ChargeClass::Network)
    }

    /// As [`from_counts`](Self::from_counts), with spike-out events (`spikes_out *
    /// u.spike_out`) charged to `spike_out` (see
    /// [`ModelOptions::spike_out_class`](crate::arch::ModelOptions::spike_out_class)).
    pub fn from_counts_charged(
        c: &EventCounts,
        u: &UnitCosts,
        static_mw: f64,
        time_ns: f64,
        spike_out: ChargeClass,
    ) -> Self {
        let synaptic_pj = c.synaptic_ops as f64 * u.synaptic_op;
        let spike_pj = c.spikes_out as f64 * u.spike_out;
        let (to_neuron, to_network) = match spike_out {
            ChargeClass::Network => (0.0, spike_pj),
            ChargeClass::Neuron => (spike_pj, 0.0),
        };
        let neuron_pj = c.neuron_updates_active as f64 * u.neuron_update_active
            + c.neuron_updates_inactive as f64 * u.neuron_update_inactive
            + to_neuron;
        let network_pj = to_network
            + c.packets_out as f64 * u.packet_out
            + c.packets_in as f64 * u.packet_in
            + c.hops_east_west as f64 * u.hop_east_west
            + c.hops_north_south as f64 * u.hop_north_south
            + c.chip_link_hops_east_west as f64 * u.chip_link_hop_east_west
            + c.chip_link_hops_north_south as f64 * u.chip_link_hop_north_south
            + c.barriers as f64 * u.barrier;
        // mW * ns = 1e-3 J/s * 1e-9 s = 1e-12 J = 1 pJ.
        let static_pj = static_mw * time_ns;
        Self {
            synaptic_pj,
            neuron_pj,
            network_pj,
            static_pj,
            total_pj: synaptic_pj + neuron_pj + network_pj + static_pj,
        }
    }

    /// Dynamic energy (everything but static).
    pub fn dynamic_pj(&self) -> f64 {
        self.synaptic_pj + self.neuron_pj + self.network_pj
    }
}

/// Load of one core over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreLoad {
    /// Physical core index (global over the system's chips).
    pub core: u32,
    /// Tile `[x, y]`.
    pub tile: [u32; 2],
    /// Neurons placed.
    pub neurons: u32,
    /// Neuron updates performed.
    pub neuron_updates: u64,
    /// Synaptic operations performed.
    pub synaptic_ops: u64,
    /// Spikes emitted.
    pub spikes: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Packets received.
    pub packets_in: u64,
    /// Time busy (soma/axon side plus synapse side), ns.
    pub busy_ns: f64,
    /// Steps in which this core finished last.
    pub critical_steps: u64,
}

/// Link traffic over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkStats {
    /// Directed links in the mesh.
    pub links: usize,
    /// Links that carried at least one packet.
    pub links_used: usize,
    /// Packets on the busiest link.
    pub max_packets: u64,
    /// Mean packets per link (over all links).
    pub mean_packets: f64,
    /// The busiest link: `[x, y]` of its tile and its direction (`E`, `W`, `N`, `S`).
    pub busiest: Option<([u32; 2], char)>,
}

/// Packet latency statistics (from emission to arrival at the destination router).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PacketStats {
    /// Packets delivered (equals packets sent).
    pub delivered: u64,
    /// Mean latency (ns).
    pub mean_latency_ns: f64,
    /// Largest latency (ns).
    pub max_latency_ns: f64,
    /// Mean zero-load latency (hops times hop latency), ns.
    pub mean_zero_load_ns: f64,
    /// Mean delay due to contention (latency minus zero-load), ns.
    pub mean_contention_ns: f64,
}

/// Packets from one chip to another over a run (systems of several chips).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChipTraffic {
    /// Sending chip (inputs enter at chip 0, where the host tile is).
    pub from_chip: u32,
    /// Receiving chip.
    pub to_chip: u32,
    /// Packets.
    pub packets: u64,
}

/// One step of the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepTrace {
    /// Step index.
    pub step: u64,
    /// Modelled duration of the step (ns).
    pub time_ns: f64,
    /// The core that finished last (`None` if no core did anything).
    pub critical_core: Option<u32>,
    /// When the critical core finished (ns from the step's start).
    pub critical_ns: f64,
    /// Barrier latency (ns).
    pub barrier_ns: f64,
    /// On-chip spikes.
    pub spikes: u64,
    /// Input spikes.
    pub input_spikes: u64,
    /// Synaptic operations.
    pub synaptic_ops: u64,
    /// Packets.
    pub packets: u64,
    /// Hops.
    pub hops: u64,
    /// Packets on this step's busiest link.
    pub max_link_packets: u64,
    /// Dynamic energy of the step (pJ).
    pub dynamic_energy_pj: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Architecture name.
    pub arch: String,
    /// Network name.
    pub network: Option<String>,
    /// NoC model used.
    pub noc: NocMode,
    /// Steps run.
    pub steps: u64,
    /// Biological time per step (ms).
    pub dt_ms: f64,
    /// Cores in use.
    pub cores_used: u32,
    /// Tiles in use.
    pub tiles_used: u32,
    /// Chips in use.
    pub chips_used: u32,
    /// Modelled chip time (ns).
    pub total_time_ns: f64,
    /// Mean step time (ns).
    pub mean_step_ns: f64,
    /// Longest step (ns).
    pub max_step_ns: f64,
    /// Barrier latency per step (ns).
    pub barrier_ns: f64,
    /// Event counts.
    pub counts: EventCounts,
    /// Unit energies used (pJ).
    pub unit_energy_pj: UnitCosts,
    /// Unit latencies used (ns).
    pub unit_latency_ns: UnitCosts,
    /// Static power used (mW).
    pub static_power_mw: f64,
    /// Energy by class.
    pub energy: EnergyBreakdown,
    /// Energy per synaptic op, all-in (total / synaptic ops), pJ.
    pub energy_per_synaptic_op_pj: Option<f64>,
    /// Mean power over the modelled time (mW).
    pub mean_power_mw: f64,
    /// Per-core load.
    pub cores: Vec<CoreLoad>,
    /// The core that was most often critical.
    pub critical_core: Option<u32>,
    /// Link traffic.
    pub links: LinkStats,
    /// Packet latencies.
    pub packets: PacketStats,
    /// Packets that crossed from one chip to another (systems of several chips).
    pub inter_chip_packets: u64,
    /// Packets per (sending chip, receiving chip) pair, pairs with traffic only, sorted.
    pub chip_traffic: Vec<ChipTraffic>,
    /// The placement's traffic estimate (as compiled).
    pub placement_traffic: crate::program::PlacementTraffic,
    /// Spikes per population (recorded or not).
    pub population_spikes: Vec<(String, u64)>,
    /// Output spikes (populations the spec records), global indices.
    #[serde(skip)]
    pub spikes: SpikeRaster,
    /// Per-step trace, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<StepTrace>>,
    /// `u` and `v` of the probed neurons after every step (integer units), when the chip had
    /// probes ([`crate::Chip::set_probes`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<crate::probe::ProbeTrace>,
    /// The accounting options the run used (idle neurons skipped or charged; the class of
    /// spike-out events).
    pub accounting: ModelOptions,
    /// Per-layer placement: each population's cores, tiles and neurons per core (as compiled).
    pub placement: Vec<crate::program::PlacedPopulation>,
    /// Synaptic memory per projection, by how it is stored (as compiled).
    pub projection_memory: Vec<crate::program::ProjectionMemory>,
    /// Every assumption the architecture's unstated figures forced.
    pub assumptions: Vec<String>,
}

/// `a - b`, class by class.
pub(crate) fn sub(a: &EventCounts, b: &EventCounts) -> EventCounts {
    EventCounts {
        synaptic_ops: a.synaptic_ops - b.synaptic_ops,
        neuron_updates_active: a.neuron_updates_active - b.neuron_updates_active,
        neuron_updates_inactive: a.neuron_updates_inactive - b.neuron_updates_inactive,
        spikes_out: a.spikes_out - b.spikes_out,
        input_spikes: a.input_spikes - b.input_spikes,
        packets_out: a.packets_out - b.packets_out,
        packets_in: a.packets_in - b.packets_in,
        hops_east_west: a.hops_east_west - b.hops_east_west,
        hops_north_south: a.hops_north_south - b.hops_north_south,
        chip_link_hops_east_west: a.chip_link_hops_east_west - b.chip_link_hops_east_west,
        chip_link_hops_north_south: a.chip_link_hops_north_south - b.chip_link_hops_north_south,
        barriers: a.barriers - b.barriers,
    }
}

/// Converts ns to integer ps (the run's clock unit).
/// Nanoseconds to whole picoseconds; negative and NaN give 0, values beyond `u64` saturate
/// (`ArchSpec::validate` bounds every latency by [`MAX_LATENCY_NS`](crate::arch::MAX_LATENCY_NS)).
pub(crate) fn ps(ns: f64) -> u64 {
    (ns * 1000.0).round().max(0.0) as u64
}

/// What a run accumulates step by step, turned into a [`Report`] by [`Tally::finish`].
#[derive(Debug)]
pub(crate) struct Tally {
    pub counts: EventCounts,
    pub loads: Vec<CoreLoad>,
    /// Busy time per core (ps).
    pub busy_ps: Vec<u64>,
    pub total_ps: u64,
    pub max_step_ps: u64,
    /// Sum and maximum of packet latencies, sum of zero-load latencies (ps).
    pub lat_sum: u128,
    pub lat_max: u64,
    pub zl_sum: u128,
    pub raster: SpikeRaster,
    pub pop_spikes: Vec<u64>,
    pub trace: Option<Vec<StepTrace>>,
    /// Packets per (from chip, to chip), `from * chips + to` (systems of several chips).
    pub chip_pairs: Vec<u64>,
    n_chips: usize,
    /// Link counters at the start of the run, and at the previous step (trace only).
    pub link_base: Vec<u64>,
    pub prev_links: Vec<u64>,
}

impl Tally {
    /// An empty tally for a run of `prog` starting at `first_step`.
    pub fn new(prog: &ChipProgram, mesh: &Mesh, first_step: u64, trace: bool) -> Self {
        let loads = prog
            .cores
            .iter()
            .map(|u| CoreLoad {
                core: u.core,
                tile: u.tile,
                neurons: u.neurons,
                neuron_updates: 0,
                synaptic_ops: 0,
                spikes: 0,
                packets_out: 0,
                packets_in: 0,
                busy_ns: 0.0,
                critical_steps: 0,
            })
            .collect();
        Self {
            counts: EventCounts::default(),
            loads,
            busy_ps: vec![0; prog.cores.len()],
            total_ps: 0,
            max_step_ps: 0,
            lat_sum: 0,
            lat_max: 0,
            zl_sum: 0,
            raster: SpikeRaster::new(first_step),
            pop_spikes: vec![0; prog.populations.len()],
            trace: trace.then(Vec::new),
            chip_pairs: Vec::new(),
            n_chips: prog.arch.n_chips() as usize,
            link_base: mesh.link_packets.clone(),
            prev_links: if trace {
                mesh.link_packets.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// Counts a packet from chip `from` to chip `to`.
    pub fn add_chip_packet(&mut self, from: u32, to: u32) {
        let n = self.n_chips;
        if self.chip_pairs.is_empty() {
            self.chip_pairs = vec![0; n * n];
        }
        if let Some(x) = self.chip_pairs.get_mut(from as usize * n + to as usize) {
            *x += 1;
        }
    }

    /// Packets on the busiest link since the previous call (trace only).
    pub fn max_link_packets_since_last(&mut self, mesh: &Mesh) -> u64 {
        let mut maxl = 0;
        for (cur, prev) in mesh.link_packets.iter().zip(self.prev_links.iter_mut()) {
            maxl = maxl.max(cur - *prev);
            *prev = *cur;
        }
        maxl
    }

    fn links(&self, mesh: &Mesh) -> LinkStats {
        let run_links: Vec<u64> = mesh
            .link_packets
            .iter()
            .zip(&self.link_base)
            .map(|(a, b)| a - b)
            .collect();
        let (tx, _) = mesh.dims();
        let busiest = run_links
            .iter()
            .enumerate()
            .max_by_key(|&(i, &c)| (c, std::cmp::Reverse(i)))
            .filter(|&(_, &c)| c > 0)
            .map(|(i, _)| {
                let t = (i / 4) as u32;
                ([t % tx, t / tx], ['E', 'W', 'N', 'S'][i % 4])
            });
        LinkStats {
            links: run_links.len(),
            links_used: run_links.iter().filter(|&&c| c > 0).count(),
            max_packets: run_links.iter().copied().max().unwrap_or(0),
            mean_packets: if run_links.is_empty() {
                0.0
            } else {
                run_links.iter().sum::<u64>() as f64 / run_links.len() as f64
            },
            busiest,
        }
    }

    fn packets(&self) -> PacketStats {
        let np = self.counts.packets_out;
        let per_packet_ns = |x: u128| {
            if np > 0 {
                x as f64 / np as f64 / 1000.0
            } else {
                0.0
            }
        };
        PacketStats {
            delivered: self.counts.packets_in,
            mean_latency_ns: per_packet_ns(self.lat_sum),
            max_latency_ns: self.lat_max as f64 / 1000.0,
            mean_zero_load_ns: per_packet_ns(self.zl_sum),
            mean_contention_ns: per_packet_ns(self.lat_sum.saturating_sub(self.zl_sum)),
        }
    }

    /// The report of a run of `n_steps` steps.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        mut self,
        prog: &ChipProgram,
        mesh: &Mesh,
        noc: NocMode,
        n_steps: u64,
        unit_energy: UnitCosts,
        unit_latency: UnitCosts,
        barrier_ps: u64,
    ) -> Report {
        let a: &ArchSpec = &prog.arch;
        for (l, b) in self.loads.iter_mut().zip(&self.busy_ps) {
            l.busy_ns = *b as f64 / 1000.0;
        }
        let total_ns = self.total_ps as f64 / 1000.0;
        // Static power is per chip: every chip in use leaks.
        let static_mw = a.power.static_mw.unwrap_or(0.0) * prog.chips_used.max(1) as f64;
        let counts = self.counts;
        let energy = EnergyBreakdown::from_counts_charged(
            &counts,
            &unit_energy,
            static_mw,
            total_ns,
            a.model.spike_out_class,
        );
        let critical_core = self
            .loads
            .iter()
            .filter(|l| l.critical_steps > 0)
            .max_by_key(|l| (l.critical_steps, std::cmp::Reverse(l.core)))
            .map(|l| l.core);
        Report {
            arch: a.name.clone(),
            network: prog.name.clone(),
            noc,
            steps: n_steps,
            dt_ms: prog.dt_ms,
            cores_used: prog.cores.len() as u32,
            tiles_used: prog.tiles_used,
            chips_used: prog.chips_used,
            total_time_ns: total_ns,
            mean_step_ns: if n_steps > 0 {
                total_ns / n_steps as f64
            } else {
                0.0
            },
            max_step_ns: self.max_step_ps as f64 / 1000.0,
            barrier_ns: barrier_ps as f64 / 1000.0,
            counts,
            unit_energy_pj: unit_energy,
            unit_latency_ns: unit_latency,
            static_power_mw: static_mw,
            energy_per_synaptic_op_pj: (counts.synaptic_ops > 0)
                .then(|| energy.total_pj / counts.synaptic_ops as f64),
            mean_power_mw: if total_ns > 0.0 {
                energy.total_pj / total_ns
            } else {
                0.0
            },
            energy,
            links: self.links(mesh),
            packets: self.packets(),
            inter_chip_packets: self.chip_pairs.iter().sum(),
            chip_traffic: self
                .chip_pairs
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c > 0)
                .map(|(i, &c)| ChipTraffic {
                    from_chip: (i / self.n_chips) as u32,
                    to_chip: (i % self.n_chips) as u32,
                    packets: c,
                })
                .collect(),
            placement_traffic: prog.traffic,
            critical_core,
            cores: self.loads,
            population_spikes: prog
                .populations
                .iter()
                .zip(&self.pop_spikes)
                .map(|(p, &c)| (p.name.clone(), c))
                .collect(),
            spikes: self.raster,
            trace: self.trace,
            probes: None,
            accounting: a.model.clone(),
            placement: prog.populations.clone(),
            projection_memory: prog.projection_memory.clone(),
            assumptions: a.assumptions(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_is_counts_times_unit_costs_plus_static() {
        let c = EventCounts {
            synaptic_ops: 10,
            neuron_updates_active: 2,
            neuron_updates_inactive: 3,
            spikes_out: 1,
            packets_out: 4,
            packets_in: 4,
            hops_east_west: 5,
            hops_north_south: 6,
            chip_link_hops_east_west: 7,
            chip_link_hops_north_south: 8,
            barriers: 1,
            input_spikes: 0,
        };
        let u = UnitCosts {
            synaptic_op: 1.0,
            neuron_update_active: 10.0,
            neuron_update_inactive: 100.0,
            spike_out: 1000.0,
            packet_out: 1e4,
            packet_in: 1e5,
            hop_east_west: 1e6,
            hop_north_south: 1e7,
            chip_link_hop_east_west: 1e9,
            chip_link_hop_north_south: 1e10,
            barrier: 1e8,
        };
        let e = EnergyBreakdown::from_counts(&c, &u, 2.0, 3.0);
        assert_eq!(e.synaptic_pj, 10.0);
        assert_eq!(e.neuron_pj, 320.0);
        assert_eq!(
            e.network_pj,
            1000.0 + 4e4 + 4e5 + 5e6 + 6e7 + 7e9 + 8e10 + 1e8
        );
        assert_eq!(e.static_pj, 6.0);
        assert_eq!(e.total_pj, e.dynamic_pj() + 6.0);
        assert_eq!(sub(&c, &c), EventCounts::default());
    }
}
