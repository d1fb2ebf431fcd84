//! Running a compiled program: the per-timestep stages, the mesh and the report.
//!
//! Each timestep, in this order (all cores in parallel, each core's stages sequential):
//!
//! 1. **Soma.** Every core updates its neurons in index order, reading and clearing this step's
//!    dendritic accumulator `a_in`; a neuron with zero state, no bias and no input is skipped when
//!    `model.skip_idle_neurons` is set (its update would leave it at zero anyway). An update costs
//!    the active figure if the neuron received input or spiked, else the inactive one.
//! 2. **Axon.** Right after a neuron spikes the core charges `spike_out` and emits one packet per
//!    destination core in its fan-out table (`packet_out` each), in core order. Input-population
//!    spikes are emitted the same way by the host port at the host tile from the step's start.
//! 3. **Network.** Packets travel the mesh (see [`crate::noc`]).
//! 4. **Synapse and dendrite.** Each destination core takes its packets in arrival order
//!    (`packet_in`, then one `synaptic_op` per synapse), adding each weight to the target's
//!    accumulator `delay` steps ahead. A core's input side runs concurrently with its soma side.
//! 5. **Barrier.** The step ends when the slowest core is done plus the barrier latency for the
//!    tiles in use (or at the global tick, whichever is later).
//!
//! A spike at step `t` therefore reaches its targets' `a_in` at step `t + delay` (delay >= 1),
//! exactly as in `snn-core`.

use serde::Serialize;
use snn_types::{Spike, SpikeRaster};

use crate::arch::{ArchSpec, OpCosts};
use crate::compile::{ChipProgram, HOST};
use crate::error::RunError;
use crate::expand::uniform_at;
use crate::noc::{Mesh, NocMode, NocPacket};

/// Options of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Network-on-chip model.
    pub noc: NocMode,
    /// Record a per-step trace in the report.
    pub trace: bool,
}

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
    /// Barrier.
    pub barrier: f64,
}

impl UnitCosts {
    fn from(ops: &OpCosts, hop: Option<crate::arch::DirCost>, barrier: Option<f64>) -> Self {
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
            barrier: z(barrier),
        }
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
    /// Energy of `c` at unit energies `u` (pJ) plus `static_mw` over `time_ns`.
    pub fn from_counts(c: &EventCounts, u: &UnitCosts, static_mw: f64, time_ns: f64) -> Self {
        let synaptic_pj = c.synaptic_ops as f64 * u.synaptic_op;
        let neuron_pj = c.neuron_updates_active as f64 * u.neuron_update_active
            + c.neuron_updates_inactive as f64 * u.neuron_update_inactive;
        let network_pj = c.spikes_out as f64 * u.spike_out
            + c.packets_out as f64 * u.packet_out
            + c.packets_in as f64 * u.packet_in
            + c.hops_east_west as f64 * u.hop_east_west
            + c.hops_north_south as f64 * u.hop_north_south
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
    /// Core index.
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
    /// Spikes per population (recorded or not).
    pub population_spikes: Vec<(String, u64)>,
    /// Output spikes (populations the spec records), global indices.
    #[serde(skip)]
    pub spikes: SpikeRaster,
    /// Per-step trace, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<StepTrace>>,
    /// Every assumption the architecture's unstated figures forced.
    pub assumptions: Vec<String>,
}

fn ps(ns: f64) -> u64 {
    (ns * 1000.0).round().max(0.0) as u64
}

/// A compiled program loaded on the modelled chip, with its state.
#[derive(Debug, Clone)]
pub struct Chip<'p> {
    prog: &'p ChipProgram,
    u: Vec<i32>,
    v: Vec<i32>,
    ring: Vec<i32>,
    slots: usize,
    step: u64,
    extra_inputs: Vec<(u64, u32)>,
    mesh: Mesh,
    is_input: Vec<bool>,
}

/// Unit latencies in ps.
struct Lat {
    syn: u64,
    act: u64,
    inact: u64,
    spike_out: u64,
    pkt_out: u64,
    pkt_in: u64,
}

impl<'p> Chip<'p> {
    /// Loads a program (initial state from the spec).
    pub fn new(prog: &'p ChipProgram) -> Self {
        let a = &prog.arch;
        let hop = a
            .noc
            .hop_latency_ns
            .map_or([0, 0], |h| [ps(h.east_west), ps(h.north_south)]);
        let flit = match a.noc.flit_ns {
            Some(f) => [ps(f), ps(f)],
            None => hop,
        };
        let n = prog.n_neurons;
        let slots = prog.max_delay as usize + 1;
        let mut is_input = vec![false; n];
        for p in &prog.populations {
            if p.input {
                is_input[p.start as usize..(p.start + p.size) as usize].fill(true);
            }
        }
        Self {
            prog,
            u: vec![0; n],
            v: prog.v0.clone(),
            ring: vec![0; slots * n],
            slots,
            step: 0,
            extra_inputs: Vec::new(),
            mesh: Mesh::new(
                a.mesh.tiles_x,
                a.mesh.tiles_y,
                hop,
                flit,
                a.flits_per_packet(),
                a.buffer_depth(),
                a.n_cores() + 1,
            ),
            is_input,
        }
    }

    /// The next step to run.
    pub fn current_step(&self) -> u64 {
        self.step
    }

    /// Makes input neurons fire: each spike's `step` is absolute, `neuron` is a global index that
    /// must belong to an input population. Cleared by [`reset`](Self::reset).
    pub fn inject_input(&mut self, spikes: &[Spike]) -> Result<(), RunError> {
        for (index, s) in spikes.iter().enumerate() {
            if !self
                .is_input
                .get(s.neuron as usize)
                .copied()
                .unwrap_or(false)
            {
                return Err(RunError::NotInput {
                    index,
                    neuron: s.neuron,
                });
            }
        }
        self.extra_inputs
            .extend(spikes.iter().map(|s| (s.step, s.neuron)));
        self.extra_inputs.sort_unstable();
        Ok(())
    }

    /// Back to the initial state (step 0, buffers empty, injected inputs dropped).
    pub fn reset(&mut self) {
        self.u.fill(0);
        self.v.copy_from_slice(&self.prog.v0);
        self.ring.fill(0);
        self.step = 0;
        self.extra_inputs.clear();
        self.mesh.link_packets.fill(0);
    }

    /// Membrane values `v` of every neuron (0 for inputs).
    pub fn membrane(&self) -> &[i32] {
        &self.v
    }

    /// Runs `n_steps` steps and reports.
    pub fn run(&mut self, n_steps: u64, opt: &RunOptions) -> Report {
        let prog = self.prog;
        let a: &ArchSpec = &prog.arch;
        let n = prog.n_neurons;
        let n_cores = prog.core_range.len();
        let host_port = a.n_cores();
        let tile_of_core: Vec<u32> = (0..n_cores as u32)
            .map(|c| {
                let [x, y] = crate::compile::core_tile(a, c);
                self.mesh.tile(x, y)
            })
            .collect();
        let host_tile = {
            let [x, y] = a.mesh.host_tile.unwrap_or([0, 0]);
            self.mesh.tile(x, y)
        };
        let lat = Lat {
            syn: ps(a.latency_ns.synaptic_op.unwrap_or(0.0)),
            act: ps(a.latency_ns.neuron_update_active.unwrap_or(0.0)),
            inact: ps(a.latency_ns.neuron_update_inactive.unwrap_or(0.0)),
            spike_out: ps(a.latency_ns.spike_out.unwrap_or(0.0)),
            pkt_out: ps(a.latency_ns.packet_out.unwrap_or(0.0)),
            pkt_in: ps(a.latency_ns.packet_in.unwrap_or(0.0)),
        };
        let ue = UnitCosts::from(
            &a.energy_pj,
            a.noc.hop_energy_pj,
            a.timestep.barrier_energy_pj,
        );
        let ul = UnitCosts::from(
            &a.latency_ns,
            a.noc.hop_latency_ns,
            Some(a.barrier_ns(prog.tiles_used)),
        );
        let barrier_ps = if n_cores == 0 {
            0
        } else {
            ps(a.barrier_ns(prog.tiles_used))
        };
        let tick_ps = a.timestep.tick_ns.map_or(0, ps);
        let skip_idle = a.model.skip_idle_neurons;

        let mut counts = EventCounts::default();
        let mut loads: Vec<CoreLoad> = prog
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
        let mut busy_ps = vec![0u64; n_cores];
        let mut soma_end = vec![0u64; n_cores];
        let mut in_clock = vec![0u64; n_cores];
        let mut packets: Vec<NocPacket> = Vec::new();
        // Per packet: (source neuron, first group, end group, destination core).
        let mut meta: Vec<(u32, usize, usize, u32)> = Vec::new();
        let mut arrive: Vec<u64> = Vec::new();
        let mut order: Vec<(u32, u64, u32)> = Vec::new();
        let mut fired: Vec<u32> = Vec::new();
        let mut inputs: Vec<u32> = Vec::new();
        let mut raster = SpikeRaster::new(self.step);
        let mut pop_spikes = vec![0u64; prog.populations.len()];
        let mut trace = opt.trace.then(Vec::new);
        let mut prev_links = if opt.trace {
            self.mesh.link_packets.clone()
        } else {
            Vec::new()
        };
        let link_base = self.mesh.link_packets.clone();
        let (mut total_ps, mut max_step_ps) = (0u64, 0u64);
        let (mut lat_sum, mut lat_max, mut zl_sum) = (0u128, 0u64, 0u128);
        let mut spec_cursor = prog.input_events.partition_point(|e| e.0 < self.step);
        let mut extra_cursor = self.extra_inputs.partition_point(|e| e.0 < self.step);
        let slots = self.slots;

        for _ in 0..n_steps {
            let t = self.step;
            let slot = (t % slots as u64) as usize;
            let before = counts;
            packets.clear();
            meta.clear();
            fired.clear();
            // Inputs of this step.
            inputs.clear();
            while spec_cursor < prog.input_events.len() && prog.input_events[spec_cursor].0 == t {
                inputs.push(prog.input_events[spec_cursor].1);
                spec_cursor += 1;
            }
            while extra_cursor < self.extra_inputs.len() && self.extra_inputs[extra_cursor].0 == t {
                inputs.push(self.extra_inputs[extra_cursor].1);
                extra_cursor += 1;
            }
            for p in &prog.poisson {
                if t >= p.start && t < p.stop && p.lambda > 0.0 {
                    for g in p.lo..p.hi {
                        if uniform_at(p.key, t, g) < p.lambda {
                            inputs.push(g);
                        }
                    }
                }
            }
            inputs.sort_unstable();
            inputs.dedup();
            // 1-2. Soma and axon, core by core.
            let ring_slot = slot * n;
            for c in 0..n_cores {
                let mut clock = 0u64;
                let (mut upd, mut spk) = (0u64, 0u64);
                for &(lo, hi, pi) in &prog.pop_of_core_seg[c] {
                    let sp = prog.soma[pi as usize];
                    let idle_ok = skip_idle && sp.bias == 0;
                    for g in lo..hi {
                        let gi = g as usize;
                        let a_in = std::mem::take(&mut self.ring[ring_slot + gi]);
                        let (u0, v0) = (self.u[gi], self.v[gi]);
                        if idle_ok && a_in == 0 && u0 == 0 && v0 == 0 {
                            continue;
                        }
                        let (u1, v1, s) = sp.step(u0, v0, a_in);
                        self.u[gi] = u1;
                        self.v[gi] = v1;
                        upd += 1;
                        if a_in != 0 || s {
                            counts.neuron_updates_active += 1;
                            clock += lat.act;
                        } else {
                            counts.neuron_updates_inactive += 1;
                            clock += lat.inact;
                        }
                        if s {
                            spk += 1;
                            fired.push(g);
                            clock += lat.spike_out;
                            clock = emit(
                                prog,
                                g,
                                c as u32,
                                clock,
                                lat.pkt_out,
                                &tile_of_core,
                                &mut packets,
                                &mut meta,
                            );
                        }
                    }
                }
                soma_end[c] = clock;
                busy_ps[c] += clock;
                loads[c].neuron_updates += upd;
                loads[c].spikes += spk;
                counts.spikes_out += spk;
            }
            // Host inputs.
            let mut hclock = 0u64;
            for &g in &inputs {
                hclock = emit(
                    prog,
                    g,
                    host_port,
                    hclock,
                    lat.pkt_out,
                    &tile_of_core,
                    &mut packets,
                    &mut meta,
                );
                // emit() uses the source core's tile; host packets start at the host tile.
            }
            counts.input_spikes += inputs.len() as u64;
            // Fix the source tile of host packets.
            for p in packets.iter_mut() {
                if p.port == host_port {
                    p.src_tile = host_tile;
                }
            }
            counts.packets_out += packets.len() as u64;
            for p in packets.iter() {
                let (h, v) = self.mesh.hops(p.src_tile, p.dst_tile);
                counts.hops_east_west += h as u64;
                counts.hops_north_south += v as u64;
                if p.port != host_port {
                    loads[p.port as usize].packets_out += 1;
                }
            }
            // 3. Network.
            match opt.noc {
                NocMode::Cycle => self.mesh.run_cycle(&packets, &mut arrive),
                NocMode::Analytic => self.mesh.run_analytic(&packets, &mut arrive),
            }
            for (p, &ar) in packets.iter().zip(&arrive) {
                let l = ar - p.emit_ps;
                let z = self.mesh.zero_load_ps(p.src_tile, p.dst_tile);
                lat_sum += l as u128;
                zl_sum += z as u128;
                lat_max = lat_max.max(l);
            }
            // 4. Synapse and dendrite stage, per destination core in arrival order.
            order.clear();
            order.extend(
                meta.iter()
                    .zip(&arrive)
                    .enumerate()
                    .map(|(i, (m, &ar))| (m.3, ar, i as u32)),
            );
            order.sort_unstable();
            in_clock.fill(0);
            let mut syn_ops = 0u64;
            for &(core, ar, i) in &order {
                let (_, g0, g1, _) = meta[i as usize];
                let cd = core as usize;
                let mut nsyn = 0u64;
                for gr in &prog.groups[g0..g1] {
                    let e = prog.proj[gr.proj as usize].weight_exp;
                    let r = gr.start..gr.start + gr.len as usize;
                    for ((&tg, &w), &d) in prog.syn_target[r.clone()]
                        .iter()
                        .zip(&prog.syn_weight[r.clone()])
                        .zip(&prog.syn_delay[r])
                    {
                        let mut s = slot + d as usize;
                        if s >= slots {
                            s -= slots;
                        }
                        let cell = &mut self.ring[s * n + tg as usize];
                        *cell = cell.wrapping_add((w as i32) << e);
                    }
                    nsyn += gr.len as u64;
                }
                let work = lat.pkt_in + nsyn * lat.syn;
                in_clock[cd] = in_clock[cd].max(ar) + work;
                busy_ps[cd] += work;
                loads[cd].packets_in += 1;
                loads[cd].synaptic_ops += nsyn;
                syn_ops += nsyn;
            }
            counts.packets_in += order.len() as u64;
            counts.synaptic_ops += syn_ops;
            // 5. Barrier.
            let (mut crit, mut crit_ps) = (None, 0u64);
            for c in 0..n_cores {
                let f = soma_end[c].max(in_clock[c]);
                if f > crit_ps {
                    crit_ps = f;
                    crit = Some(c as u32);
                }
            }
            if let Some(c) = crit {
                loads[c as usize].critical_steps += 1;
            }
            counts.barriers += 1;
            let step_ps = (crit_ps + barrier_ps).max(tick_ps);
            total_ps += step_ps;
            max_step_ps = max_step_ps.max(step_ps);
            // Output spikes.
            fired.sort_unstable();
            for &g in fired.iter().chain(inputs.iter()) {
                let pi = prog.populations.partition_point(|p| p.start <= g) - 1;
                pop_spikes[pi] += 1;
            }
            let mut out: Vec<u32> = fired
                .iter()
                .chain(inputs.iter())
                .copied()
                .filter(|&g| {
                    let pi = prog.populations.partition_point(|p| p.start <= g) - 1;
                    prog.record[pi]
                })
                .collect();
            out.sort_unstable();
            raster.push_step(&out);
            if let Some(tr) = trace.as_mut() {
                let d = sub(&counts, &before);
                let mut maxl = 0;
                for (cur, prev) in self.mesh.link_packets.iter().zip(prev_links.iter_mut()) {
                    maxl = maxl.max(cur - *prev);
                    *prev = *cur;
                }
                tr.push(StepTrace {
                    step: t,
                    time_ns: step_ps as f64 / 1000.0,
                    critical_core: crit,
                    critical_ns: crit_ps as f64 / 1000.0,
                    barrier_ns: barrier_ps as f64 / 1000.0,
                    spikes: d.spikes_out,
                    input_spikes: d.input_spikes,
                    synaptic_ops: d.synaptic_ops,
                    packets: d.packets_out,
                    hops: d.hops_east_west + d.hops_north_south,
                    max_link_packets: maxl,
                    dynamic_energy_pj: EnergyBreakdown::from_counts(&d, &ue, 0.0, 0.0).total_pj,
                });
            }
            self.step += 1;
        }
        for (l, b) in loads.iter_mut().zip(&busy_ps) {
            l.busy_ns = *b as f64 / 1000.0;
        }
        let total_ns = total_ps as f64 / 1000.0;
        let static_mw = a.power.static_mw.unwrap_or(0.0);
        let energy = EnergyBreakdown::from_counts(&counts, &ue, static_mw, total_ns);
        let run_links: Vec<u64> = self
            .mesh
            .link_packets
            .iter()
            .zip(&link_base)
            .map(|(a, b)| a - b)
            .collect();
        let (tx, _) = self.mesh.dims();
        let busiest = run_links
            .iter()
            .enumerate()
            .max_by_key(|&(i, &c)| (c, std::cmp::Reverse(i)))
            .filter(|&(_, &c)| c > 0)
            .map(|(i, _)| {
                let t = (i / 4) as u32;
                ([t % tx, t / tx], ['E', 'W', 'N', 'S'][i % 4])
            });
        let links = LinkStats {
            links: run_links.len(),
            links_used: run_links.iter().filter(|&&c| c > 0).count(),
            max_packets: run_links.iter().copied().max().unwrap_or(0),
            mean_packets: if run_links.is_empty() {
                0.0
            } else {
                run_links.iter().sum::<u64>() as f64 / run_links.len() as f64
            },
            busiest,
        };
        let np = counts.packets_out;
        let packets_stats = PacketStats {
            delivered: counts.packets_in,
            mean_latency_ns: if np > 0 {
                lat_sum as f64 / np as f64 / 1000.0
            } else {
                0.0
            },
            max_latency_ns: lat_max as f64 / 1000.0,
            mean_zero_load_ns: if np > 0 {
                zl_sum as f64 / np as f64 / 1000.0
            } else {
                0.0
            },
            mean_contention_ns: if np > 0 {
                (lat_sum - zl_sum) as f64 / np as f64 / 1000.0
            } else {
                0.0
            },
        };
        let critical_core = loads
            .iter()
            .filter(|l| l.critical_steps > 0)
            .max_by_key(|l| (l.critical_steps, std::cmp::Reverse(l.core)))
            .map(|l| l.core);
        Report {
            arch: a.name.clone(),
            network: prog.name.clone(),
            noc: opt.noc,
            steps: n_steps,
            dt_ms: prog.dt_ms,
            cores_used: n_cores as u32,
            tiles_used: prog.tiles_used,
            total_time_ns: total_ns,
            mean_step_ns: if n_steps > 0 {
                total_ns / n_steps as f64
            } else {
                0.0
            },
            max_step_ns: max_step_ps as f64 / 1000.0,
            barrier_ns: barrier_ps as f64 / 1000.0,
            counts,
            unit_energy_pj: ue,
            unit_latency_ns: ul,
            static_power_mw: static_mw,
            energy_per_synaptic_op_pj: (counts.synaptic_ops > 0)
                .then(|| energy.total_pj / counts.synaptic_ops as f64),
            mean_power_mw: if total_ns > 0.0 {
                energy.total_pj / total_ns
            } else {
                0.0
            },
            energy,
            cores: loads,
            critical_core,
            links,
            packets: packets_stats,
            population_spikes: prog
                .populations
                .iter()
                .zip(&pop_spikes)
                .map(|(p, &c)| (p.name.clone(), c))
                .collect(),
            spikes: raster,
            trace,
            assumptions: a.assumptions(),
        }
    }
}

fn sub(a: &EventCounts, b: &EventCounts) -> EventCounts {
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
        barriers: a.barriers - b.barriers,
    }
}

/// Emits the packets of neuron `g`'s spike from `port` starting at `clock`; returns the clock
/// after the last one.
#[allow(clippy::too_many_arguments)]
#[inline]
fn emit(
    prog: &ChipProgram,
    g: u32,
    port: u32,
    mut clock: u64,
    pkt_out: u64,
    tile_of_core: &[u32],
    packets: &mut Vec<NocPacket>,
    meta: &mut Vec<(u32, usize, usize, u32)>,
) -> u64 {
    let (a, b) = (prog.src_ptr[g as usize], prog.src_ptr[g as usize + 1]);
    let src_core = prog.core_of[g as usize];
    let src_tile = if src_core == HOST {
        0
    } else {
        tile_of_core[src_core as usize]
    };
    let mut i = a;
    while i < b {
        let core = prog.groups[i].core;
        let mut j = i + 1;
        while j < b && prog.groups[j].core == core {
            j += 1;
        }
        clock += pkt_out;
        packets.push(NocPacket {
            emit_ps: clock,
            port,
            src_tile,
            dst_tile: tile_of_core[core as usize],
        });
        meta.push((g, i, j, core));
        i = j;
    }
    clock
}
