//! Running a compiled program: the per-timestep stages, the mesh and the report.
//!
//! Each timestep, in this order (all cores in parallel, each core's stages sequential):
//!
//! 1. **Soma.** Every core updates its neurons in index order, reading and clearing this step's
//!    dendritic accumulator `a_in` and adding its population's bias and its own bias (current
//!    stimuli, switched at their steps); a neuron with zero state, no bias and no input is skipped when
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

mod report;

pub use report::{
    ChipTraffic, CoreLoad, EnergyBreakdown, EventCounts, LinkStats, PacketStats, Report, StepTrace,
    UnitCosts,
};

use snn_types::Spike;
use snn_types::budget::MemoryBudget;

use crate::compile::{core_chip, core_tile};
use crate::error::RunError;
use crate::noc::{Mesh, NocMode, NocPacket};
use crate::probe::{ProbeTrace, ProbedNeuron};
use crate::program::{ChipProgram, HOST};
use report::{Tally, ps, sub};

/// Options of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Network-on-chip model.
    pub noc: NocMode,
    /// Record a per-step trace in the report.
    pub trace: bool,
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
    /// Per-compartment bias from current stimuli (empty when the program has none).
    nbias: Vec<i64>,
    /// Next entry of `prog.bias_changes` to apply.
    bias_cursor: usize,
    mesh: Mesh,
    is_input: Vec<bool>,
    budget: MemoryBudget,
    /// Neurons whose `u` and `v` every run records ([`Chip::set_probes`]).
    probes: Vec<ProbedNeuron>,
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
    /// Loads a program (initial state from the spec), refusing with [`RunError::Memory`] a
    /// chip whose state and mesh would exceed what the machine has ([`MemoryBudget::system`]).
    pub fn new(prog: &'p ChipProgram) -> Result<Self, RunError> {
        Self::with_budget(prog, MemoryBudget::system())
    }

    /// Loads a program under `budget`: the neuron state and the mesh ([`crate::memory`]) are
    /// checked before allocating, and every [`run`](Self::run) checks its per-step storage
    /// against the same budget.
    pub fn with_budget(prog: &'p ChipProgram, budget: MemoryBudget) -> Result<Self, RunError> {
        let a = &prog.arch;
        crate::memory::check_mesh(a, &budget)?;
        let n = prog.n_neurons;
        let slots = prog.max_delay as usize + 1;
        let nbias_len = if prog.bias_changes.is_empty() { 0 } else { n };
        budget.check_parts(
            format!("chip state of {n} neurons"),
            crate::memory::state_bytes(n as u64, slots as u64)
                .saturating_add(crate::memory::mesh_bytes(a))
                .saturating_add(8 * nbias_len as u64),
            "neuron state, dendritic ring, mesh",
        )?;
        let hop = a
            .noc
            .hop_latency_ns
            .map_or([0, 0], |h| [ps(h.east_west), ps(h.north_south)]);
        let flit = match a.noc.flit_ns {
            Some(f) => [ps(f), ps(f)],
            None => hop,
        };
        let mut is_input = vec![false; n];
        for p in &prog.populations {
            if p.input {
                is_input[p.start as usize..(p.start + p.size) as usize].fill(true);
            }
        }
        Ok(Self {
            prog,
            u: vec![0; n],
            v: prog.v0.clone(),
            ring: vec![0; slots * n],
            slots,
            step: 0,
            extra_inputs: Vec::new(),
            nbias: vec![0; nbias_len],
            bias_cursor: 0,
            mesh: {
                let (sx, sy) = a.system_tiles();
                let link = a.link_latency_ns();
                let link_packet = match a.system.as_ref().and_then(|s| s.link_packet_ns) {
                    Some(x) => [ps(x), ps(x)],
                    None => [
                        flit[0].saturating_mul(a.flits_per_packet() as u64),
                        flit[1].saturating_mul(a.flits_per_packet() as u64),
                    ],
                };
                Mesh::new(
                    sx,
                    sy,
                    hop,
                    flit,
                    a.flits_per_packet(),
                    a.buffer_depth(),
                    a.n_cores() + 1,
                )
                .with_chips(
                    [a.mesh.tiles_x, a.mesh.tiles_y],
                    [ps(link[0]), ps(link[1])],
                    link_packet,
                )
            },
            is_input,
            budget,
            probes: Vec::new(),
        })
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
        self.nbias.fill(0);
        self.bias_cursor = 0;
        self.mesh.link_packets.fill(0);
    }

    /// Records `u` and `v` of these neurons after every step of every following run, into
    /// [`Report::probes`] (see [`crate::probe`]; resolve `POP[:NEURONS]` probes with
    /// [`crate::probe::resolve_probes`]). An empty list stops probing. Refuses a neuron of an
    /// input population or past the network's end with [`RunError::NotProbeable`].
    pub fn set_probes(&mut self, probes: Vec<ProbedNeuron>) -> Result<(), RunError> {
        for p in &probes {
            if self
                .is_input
                .get(p.global as usize)
                .copied()
                .unwrap_or(true)
            {
                return Err(RunError::NotProbeable { neuron: p.global });
            }
        }
        self.probes = probes;
        Ok(())
    }

    /// Integer current `u` of every neuron (0 for inputs).
    pub fn current(&self) -> &[i32] {
        &self.u
    }

    /// Membrane values `v` of every neuron (0 for inputs).
    pub fn membrane(&self) -> &[i32] {
        &self.v
    }

    /// Runs `n_steps` steps and reports. The report keeps every step's spikes (8 bytes per step
    /// plus 4 per spike) and, with `opt.trace`, a [`StepTrace`] per step: a step count whose
    /// storage exceeds the chip's budget is refused up front with [`RunError::Memory`].
    pub fn run(&mut self, n_steps: u64, opt: &RunOptions) -> Result<Report, RunError> {
        self.budget.check_parts(
            format!("a chip run of {n_steps} steps"),
            crate::memory::run_bytes(n_steps, opt.trace),
            if opt.trace {
                "spike raster and trace per step"
            } else {
                "spike raster per step"
            },
        )?;
        if !self.probes.is_empty() {
            let per_step = 8 * self.probes.len() as u64 + 48;
            self.budget.check_parts(
                format!(
                    "probes of {} neurons over {n_steps} steps",
                    self.probes.len()
                ),
                n_steps.saturating_mul(per_step),
                "u and v per probed neuron per step",
            )?;
        }
        let mut probe_trace = (!self.probes.is_empty()).then(|| ProbeTrace {
            first_step: self.step,
            neurons: self.probes.clone(),
            u: Vec::with_capacity(n_steps.min(1 << 20) as usize),
            v: Vec::with_capacity(n_steps.min(1 << 20) as usize),
        });
        let prog = self.prog;
        let ctx = RunCtx::new(prog, &self.mesh);
        let mut tally = Tally::new(prog, &self.mesh, self.step, opt.trace);
        let mut s = Scratch::new(prog.core_segs.len());
        let mut cursors = (
            prog.input_events.partition_point(|e| e.0 < self.step),
            self.extra_inputs.partition_point(|e| e.0 < self.step),
        );
        for _ in 0..n_steps {
            let t = self.step;
            let slot = (t % self.slots as u64) as usize;
            let before = tally.counts;
            s.clear();
            self.switch_biases(t);
            self.inputs_of_step(t, &mut cursors, &mut s.inputs);
            self.soma_and_axon(&ctx, slot, &mut s, &mut tally);
            if let Some(pt) = probe_trace.as_mut() {
                pt.u.push(
                    self.probes
                        .iter()
                        .map(|p| self.u[p.global as usize])
                        .collect(),
                );
                pt.v.push(
                    self.probes
                        .iter()
                        .map(|p| self.v[p.global as usize])
                        .collect(),
                );
            }
            self.host_inputs(&ctx, &mut s, &mut tally);
            self.network(opt.noc, &mut s, &mut tally);
            self.synapses(&ctx, slot, &mut s, &mut tally);
            let (crit, crit_ps, step_ps) = Self::barrier(&ctx, &s, &mut tally);
            self.record(&mut s, &mut tally);
            if tally.trace.is_some() {
                let d = sub(&tally.counts, &before);
                let max_link_packets = tally.max_link_packets_since_last(&self.mesh);
                let tr = tally.trace.as_mut().expect("tracing");
                tr.push(StepTrace {
                    step: t,
                    time_ns: step_ps as f64 / 1000.0,
                    critical_core: crit.map(|k| prog.phys[k as usize]),
                    critical_ns: crit_ps as f64 / 1000.0,
                    barrier_ns: ctx.barrier_ps as f64 / 1000.0,
                    spikes: d.spikes_out,
                    input_spikes: d.input_spikes,
                    synaptic_ops: d.synaptic_ops,
                    packets: d.packets_out,
                    hops: d.hops_east_west + d.hops_north_south,
                    max_link_packets,
                    dynamic_energy_pj: EnergyBreakdown::from_counts(&d, &ctx.unit_energy, 0.0, 0.0)
                        .total_pj,
                });
            }
            self.step += 1;
        }
        let mut report = tally.finish(
            prog,
            &self.mesh,
            opt.noc,
            n_steps,
            ctx.unit_energy,
            ctx.unit_latency,
            ctx.barrier_ps,
        );
        report.probes = probe_trace;
        Ok(report)
    }

    /// Applies the per-compartment bias changes of current stimuli due by step `t`.
    fn switch_biases(&mut self, t: u64) {
        let changes = &self.prog.bias_changes;
        while let Some(c) = changes.get(self.bias_cursor)
            && c.step <= t
        {
            self.nbias[c.neuron as usize] = c.bias;
            self.bias_cursor += 1;
        }
    }

    /// Input neurons that fire at step `t`: spike arrays of the spec, injected spikes and Poisson
    /// sources (`snn-core`'s counter-based draws), sorted and distinct.
    fn inputs_of_step(&self, t: u64, cursors: &mut (usize, usize), inputs: &mut Vec<u32>) {
        let prog = self.prog;
        let (spec_cursor, extra_cursor) = cursors;
        while *spec_cursor < prog.input_events.len() && prog.input_events[*spec_cursor].0 == t {
            inputs.push(prog.input_events[*spec_cursor].1);
            *spec_cursor += 1;
        }
        while *extra_cursor < self.extra_inputs.len() && self.extra_inputs[*extra_cursor].0 == t {
            inputs.push(self.extra_inputs[*extra_cursor].1);
            *extra_cursor += 1;
        }
        for p in &prog.poisson {
            if p.active(t) {
                inputs.extend((p.lo..p.hi).filter(|&g| p.fires(t, g)));
            }
        }
        inputs.sort_unstable();
        inputs.dedup();
    }

    /// Stages 1-2: every core updates its neurons in index order (`snn-core`'s fixed-point LIF)
    /// and emits one packet per destination core for each spike.
    fn soma_and_axon(&mut self, ctx: &RunCtx, slot: usize, s: &mut Scratch, tally: &mut Tally) {
        let prog = self.prog;
        let n = prog.n_neurons;
        let ring_slot = slot * n;
        let lat = &ctx.lat;
        for c in 0..prog.core_segs.len() {
            let mut clock = 0u64;
            let (mut upd, mut spk) = (0u64, 0u64);
            for &(lo, hi, pi) in &prog.pop_of_core_seg[c] {
                let sp = prog.soma[pi as usize];
                let idle_ok = ctx.skip_idle && sp.bias == 0;
                let has_nbias = !self.nbias.is_empty();
                for g in lo..hi {
                    let gi = g as usize;
                    let a_in = std::mem::take(&mut self.ring[ring_slot + gi]);
                    let (u0, v0) = (self.u[gi], self.v[gi]);
                    let extra = if has_nbias { self.nbias[gi] } else { 0 };
                    if idle_ok && extra == 0 && a_in == 0 && u0 == 0 && v0 == 0 {
                        continue;
                    }
                    let (u1, v1, fired) = sp.step_biased(u0, v0, a_in, extra);
                    self.u[gi] = u1;
                    self.v[gi] = v1;
                    upd += 1;
                    if a_in != 0 || fired {
                        tally.counts.neuron_updates_active += 1;
                        clock = clock.saturating_add(lat.act);
                    } else {
                        tally.counts.neuron_updates_inactive += 1;
                        clock = clock.saturating_add(lat.inact);
                    }
                    if fired {
                        spk += 1;
                        s.fired.push(g);
                        clock = clock.saturating_add(lat.spike_out);
                        clock = emit(
                            prog,
                            g,
                            c as u32,
                            clock,
                            lat.pkt_out,
                            &ctx.tile_of_core,
                            &mut s.packets,
                            &mut s.meta,
                        );
                    }
                }
            }
            s.soma_end[c] = clock;
            tally.busy_ps[c] = tally.busy_ps[c].saturating_add(clock);
            tally.loads[c].neuron_updates += upd;
            tally.loads[c].spikes += spk;
            tally.counts.spikes_out += spk;
        }
    }

    /// Stage 2 for inputs: the host port emits the input spikes' packets from the host tile.
    fn host_inputs(&self, ctx: &RunCtx, s: &mut Scratch, tally: &mut Tally) {
        let prog = self.prog;
        let mut hclock = 0u64;
        let first = s.packets.len();
        for &g in &s.inputs {
            hclock = emit(
                prog,
                g,
                ctx.host_port,
                hclock,
                ctx.lat.pkt_out,
                &ctx.tile_of_core,
                &mut s.packets,
                &mut s.meta,
            );
        }
        for p in &mut s.packets[first..] {
            p.src_tile = ctx.host_tile;
        }
        tally.counts.input_spikes += s.inputs.len() as u64;
        tally.counts.packets_out += s.packets.len() as u64;
        for (p, m) in s.packets.iter().zip(&s.meta) {
            let (h, v, lh, lv) = self.mesh.hops_split(p.src_tile, p.dst_tile);
            tally.counts.hops_east_west += h as u64;
            tally.counts.hops_north_south += v as u64;
            if lh + lv > 0 {
                tally.counts.chip_link_hops_east_west += lh as u64;
                tally.counts.chip_link_hops_north_south += lv as u64;
                let from = if p.port == ctx.host_port {
                    0
                } else {
                    ctx.chip_of_core[p.port as usize]
                };
                tally.add_chip_packet(from, ctx.chip_of_core[m.3 as usize]);
            }
            if p.port != ctx.host_port {
                tally.loads[p.port as usize].packets_out += 1;
            }
        }
    }

    /// Stage 3: packets travel the mesh; latencies are tallied.
    fn network(&mut self, noc: NocMode, s: &mut Scratch, tally: &mut Tally) {
        match noc {
            NocMode::Cycle => self.mesh.run_cycle(&s.packets, &mut s.arrive),
            NocMode::Analytic => self.mesh.run_analytic(&s.packets, &mut s.arrive),
        }
        for (p, &ar) in s.packets.iter().zip(&s.arrive) {
            let l = ar.saturating_sub(p.emit_ps);
            tally.lat_sum += l as u128;
            tally.zl_sum += self.mesh.zero_load_ps(p.src_tile, p.dst_tile) as u128;
            tally.lat_max = tally.lat_max.max(l);
        }
    }

    /// Stage 4: each destination core takes its packets in arrival order and adds every
    /// synapse's weight to its target's accumulator `delay` steps ahead.
    fn synapses(&mut self, ctx: &RunCtx, slot: usize, s: &mut Scratch, tally: &mut Tally) {
        let prog = self.prog;
        let (n, slots) = (prog.n_neurons, self.slots);
        s.order.extend(
            s.meta
                .iter()
                .zip(&s.arrive)
                .enumerate()
                .map(|(i, (m, &ar))| (m.3, ar, i as u32)),
        );
        s.order.sort_unstable();
        let mut syn_ops = 0u64;
        for &(core, ar, i) in &s.order {
            let (_, g0, g1, _) = s.meta[i as usize];
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
                    let mut k = slot + d as usize;
                    if k >= slots {
                        k -= slots;
                    }
                    let cell = &mut self.ring[k * n + tg as usize];
                    *cell = cell.wrapping_add((w as i32) << e);
                }
                nsyn += gr.len as u64;
            }
            let work = ctx
                .lat
                .pkt_in
                .saturating_add(nsyn.saturating_mul(ctx.lat.syn));
            s.in_clock[cd] = s.in_clock[cd].max(ar).saturating_add(work);
            tally.busy_ps[cd] = tally.busy_ps[cd].saturating_add(work);
            tally.loads[cd].packets_in += 1;
            tally.loads[cd].synaptic_ops += nsyn;
            syn_ops += nsyn;
        }
        tally.counts.packets_in += s.order.len() as u64;
        tally.counts.synaptic_ops += syn_ops;
    }

    /// Stage 5: the step ends when the slowest core is done plus the barrier (or at the global
    /// tick). Returns `(critical core, its finish time, step time)` in ps.
    fn barrier(ctx: &RunCtx, s: &Scratch, tally: &mut Tally) -> (Option<u32>, u64, u64) {
        let (mut crit, mut crit_ps) = (None, 0u64);
        for (c, (&soma, &input)) in s.soma_end.iter().zip(&s.in_clock).enumerate() {
            let f = soma.max(input);
            if f > crit_ps {
                crit_ps = f;
                crit = Some(c as u32);
            }
        }
        if let Some(c) = crit {
            tally.loads[c as usize].critical_steps += 1;
        }
        tally.counts.barriers += 1;
        let step_ps = crit_ps.saturating_add(ctx.barrier_ps).max(ctx.tick_ps);
        tally.total_ps = tally.total_ps.saturating_add(step_ps);
        tally.max_step_ps = tally.max_step_ps.max(step_ps);
        (crit, crit_ps, step_ps)
    }

    /// The step's spikes: counted per population, recorded for the populations the spec records.
    fn record(&self, s: &mut Scratch, tally: &mut Tally) {
        let prog = self.prog;
        s.fired.sort_unstable();
        s.out.clear();
        for &g in s.fired.iter().chain(s.inputs.iter()) {
            let pi = prog.populations.partition_point(|p| p.start <= g) - 1;
            tally.pop_spikes[pi] += 1;
            if prog.record[pi] {
                s.out.push(g);
            }
        }
        s.out.sort_unstable();
        tally.raster.push_step(&s.out);
    }
}

/// Constants of a run, derived once from the program and the architecture.
struct RunCtx {
    tile_of_core: Vec<u32>,
    /// Chip of each core in use.
    chip_of_core: Vec<u32>,
    host_tile: u32,
    host_port: u32,
    lat: Lat,
    unit_energy: UnitCosts,
    unit_latency: UnitCosts,
    barrier_ps: u64,
    tick_ps: u64,
    skip_idle: bool,
}

impl RunCtx {
    fn new(prog: &ChipProgram, mesh: &Mesh) -> Self {
        let a = &prog.arch;
        let n_cores = prog.core_segs.len();
        let tile_of_core = prog
            .phys
            .iter()
            .map(|&c| {
                let [x, y] = core_tile(a, c);
                mesh.tile(x, y)
            })
            .collect();
        let chip_of_core = prog.phys.iter().map(|&c| core_chip(a, c)).collect();
        let [hx, hy] = a.mesh.host_tile.unwrap_or([0, 0]);
        // The chip barrier for the most tiles in use on one chip, plus the barrier across chips
        // when the network spans more than one.
        // (A table by cores, `timestep.barrier_by = "cores"`, is looked up with the most cores
        // in use on one chip.)
        let mut cores_per_chip = std::collections::BTreeMap::<u32, u32>::new();
        for &c in &prog.phys {
            *cores_per_chip.entry(core_chip(a, c)).or_default() += 1;
        }
        let max_chip_cores = cores_per_chip.values().copied().max().unwrap_or(0);
        let barrier_ns = a.barrier_ns_for(prog.max_chip_tiles, max_chip_cores)
            + a.system_barrier_ns(prog.chips_used);
        let l = &a.latency_ns;
        let z = |x: Option<f64>| ps(x.unwrap_or(0.0));
        Self {
            tile_of_core,
            chip_of_core,
            host_tile: mesh.tile(hx, hy),
            host_port: a.n_cores(),
            lat: Lat {
                syn: z(l.synaptic_op),
                act: z(l.neuron_update_active),
                inact: z(l.neuron_update_inactive),
                spike_out: z(l.spike_out),
                pkt_out: z(l.packet_out),
                pkt_in: z(l.packet_in),
            },
            unit_energy: UnitCosts::from(
                &a.energy_pj,
                a.noc.hop_energy_pj,
                a.timestep.barrier_energy_pj,
            )
            .with_chip_links(a.link_energy_pj()),
            unit_latency: UnitCosts::from(&a.latency_ns, a.noc.hop_latency_ns, Some(barrier_ns))
                .with_chip_links(a.link_latency_ns()),
            barrier_ps: if n_cores == 0 { 0 } else { ps(barrier_ns) },
            tick_ps: a.timestep.tick_ns.map_or(0, ps),
            skip_idle: a.model.skip_idle_neurons,
        }
    }
}

/// Per-step working buffers, reused across steps (no allocation per step once warm).
struct Scratch {
    packets: Vec<NocPacket>,
    /// Per packet: (source neuron, first group, end group, destination core).
    meta: Vec<(u32, usize, usize, u32)>,
    arrive: Vec<u64>,
    /// Packets by (destination core, arrival, index).
    order: Vec<(u32, u64, u32)>,
    fired: Vec<u32>,
    inputs: Vec<u32>,
    out: Vec<u32>,
    soma_end: Vec<u64>,
    in_clock: Vec<u64>,
}

impl Scratch {
    fn new(n_cores: usize) -> Self {
        Self {
            packets: Vec::new(),
            meta: Vec::new(),
            arrive: Vec::new(),
            order: Vec::new(),
            fired: Vec::new(),
            inputs: Vec::new(),
            out: Vec::new(),
            soma_end: vec![0; n_cores],
            in_clock: vec![0; n_cores],
        }
    }

    fn clear(&mut self) {
        self.packets.clear();
        self.meta.clear();
        self.fired.clear();
        self.inputs.clear();
        self.order.clear();
        self.in_clock.fill(0);
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
        clock = clock.saturating_add(pkt_out);
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
