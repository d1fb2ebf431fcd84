//! Pass 3, place: neurons onto cores, then cores onto physical positions.
//!
//! **Which neurons share a core** (`fill`): greedy in population order (layer by layer), each
//! core taking consecutive neurons while every per-core limit still holds: compartments,
//! synaptic memory for the fan-in of its neurons, input axons (distinct source neurons) and
//! fan-out entries (one per (neuron, destination core) pair). Synaptic memory counts one entry
//! per synapse, except for conv and pool projections on an architecture with shared conv
//! weights: there a core pays for the kernel slice of each output channel it holds, once.
//! Fan-out entries depend on where the targets go, so the filler takes an estimate per neuron;
//! [`place_and_route`](super::place_and_route) starts from none, measures the destination cores
//! of every neuron ([`destinations`]) and fills again with the larger of estimate and
//! measurement until every table fits. Inputs stay off-chip (host). A neuron whose own fan-in
//! exceeds a core's synaptic memory or input axons cannot be placed anywhere: that is recorded
//! as a violation for the verify pass, with the neuron named.
//!
//! **Where each core goes** ([`assign`]): the cores in use start on physical cores in the snake
//! order (consecutive cores, hence consecutive layers, are neighbours; chips follow each other
//! in the same order). Then a bounded local refinement lowers the traffic, packets x hops: the
//! packets are estimated from the network's structure, one per (source neuron, destination
//! core) pair (the packets of one spike of every neuron, inputs entering at the host tile);
//! the hops are the system mesh's dimension-order distances (a chip-to-chip link counts as one
//! hop). Each pass visits the cores in a seeded order and moves each to the best of the
//! [`CANDIDATES`] physical cores nearest the weighted centre of its traffic partners (swapping
//! with the core there, if any) when that lowers the total; at most [`PASSES`] passes and
//! [`MAX_WORK`] partner evaluations, so it stays fast on big networks. The result is
//! deterministic for a given seed.

use crate::arch::ArchSpec;
use crate::compile::CompileOptions;
use crate::compile::check::Checked;
use crate::compile::quantise::{Quantised, SharedKernel};
use crate::compile::{core_tile, tile_first_core};
use crate::error::Violation;
use crate::program::{CoreShare, HOST, PlacedPopulation, PlacementTraffic};

/// Candidate positions tried per core and pass.
pub const CANDIDATES: usize = 24;
/// Most refinement passes.
pub const PASSES: usize = 4;
/// Most partner evaluations of the refinement in all (bounds its time on big networks).
pub const MAX_WORK: u64 = 40_000_000;

/// Where every neuron went.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    /// Core slot (index of the core in use) of each global neuron ([`HOST`] for inputs).
    pub core_of: Vec<u32>,
    /// Per slot: its physical core (global over the system's chips).
    pub phys: Vec<u32>,
    /// Per slot: its global neuron ranges `[lo, hi)`, sorted and disjoint.
    pub segs: Vec<Vec<(u32, u32)>>,
    /// Per population: start, size and cores.
    pub populations: Vec<PlacedPopulation>,
    /// Neurons that fit no core.
    pub violations: Vec<Violation>,
    /// Traffic of the placement (filled by [`assign`] or [`traffic_of`]).
    pub traffic: PlacementTraffic,
}

impl Placement {
    /// A placement from the slot of every neuron (slots `0..n_slots`, each used) and their
    /// physical cores.
    pub fn from_slots(core_of: Vec<u32>, phys: Vec<u32>) -> Self {
        let mut segs: Vec<Vec<(u32, u32)>> = vec![Vec::new(); phys.len()];
        for (g, &k) in core_of.iter().enumerate() {
            if k == HOST {
                continue;
            }
            let g = g as u32;
            let v = &mut segs[k as usize];
            match v.last_mut() {
                Some(r) if r.1 == g => r.1 = g + 1,
                _ => v.push((g, g + 1)),
            }
        }
        Self {
            core_of,
            phys,
            segs,
            populations: Vec::new(),
            violations: Vec::new(),
            traffic: PlacementTraffic::default(),
        }
    }

    /// Renumbers the slots in ascending physical core order (so that cores are listed in
    /// index order, whatever placed them).
    pub fn sort_slots(&mut self) {
        let mut order: Vec<usize> = (0..self.phys.len()).collect();
        order.sort_by_key(|&k| self.phys[k]);
        let mut new_of = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_of[old] = new as u32;
        }
        for k in &mut self.core_of {
            if *k != HOST {
                *k = new_of[*k as usize];
            }
        }
        self.phys = order.iter().map(|&k| self.phys[k]).collect();
        let mut segs = std::mem::take(&mut self.segs);
        self.segs = order
            .iter()
            .map(|&k| std::mem::take(&mut segs[k]))
            .collect();
    }

    /// Neurons on slot `k`.
    pub fn neurons(&self, k: usize) -> u32 {
        self.segs[k].iter().map(|r| r.1 - r.0).sum()
    }

    /// Fills `populations` (cores, tiles and neurons per core) from the slots and their
    /// physical cores.
    pub fn describe(&mut self, c: &Checked<'_>, arch: &ArchSpec) {
        self.populations = c
            .spec
            .populations
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let start = c.offsets[i] as u32;
                let per_core = shares(&self.core_of, &self.phys, start, p.size, arch);
                PlacedPopulation {
                    name: p.name.clone(),
                    start,
                    size: p.size,
                    input: c.is_input[i],
                    cores: per_core
                        .iter()
                        .map(|s| s.core)
                        .min()
                        .zip(per_core.iter().map(|s| s.core).max()),
                    shape: p.shape,
                    per_core,
                }
            })
            .collect();
    }
}

/// Fan-in sources of every neuron over all projections (CSC), and the number of its fan-in
/// synapses stored one by one (all but those of shared-kernel projections):
/// `(ptr, sources, stored)`.
fn fan_in(c: &Checked<'_>, q: &Quantised) -> (Vec<usize>, Vec<u32>, Vec<u32>) {
    let n = c.n_neurons;
    let mut ptr = vec![0usize; n + 1];
    let mut stored = vec![0u32; n];
    for (j, e) in c.projections.iter().enumerate() {
        let t0 = c.offsets[e.target_pop] as usize;
        let per_synapse = q.shared[j].is_none();
        for &t in e.targets().iter() {
            ptr[t0 + t as usize + 1] += 1;
            stored[t0 + t as usize] += per_synapse as u32;
        }
    }
    for i in 0..n {
        ptr[i + 1] += ptr[i];
    }
    let mut src = vec![0u32; ptr[n]];
    let mut fill = ptr.clone();
    for e in &c.projections {
        let (s0, t0) = (
            c.offsets[e.source_pop] as u32,
            c.offsets[e.target_pop] as usize,
        );
        let rp = e.row_ptr();
        for s in 0..e.n_source() {
            for &t in &e.targets()[rp[s]..rp[s + 1]] {
                let k = t0 + t as usize;
                src[fill[k]] = s0 + s as u32;
                fill[k] += 1;
            }
        }
    }
    (ptr, src, stored)
}

/// The fan-in of every neuron, computed once per compilation and reused by every fill.
pub(crate) struct FanIn {
    ptr: Vec<usize>,
    src: Vec<u32>,
    stored: Vec<u32>,
}

impl FanIn {
    /// Builds it.
    pub fn new(c: &Checked<'_>, q: &Quantised) -> Self {
        let (ptr, src, stored) = fan_in(c, q);
        Self { ptr, src, stored }
    }
}

/// The neurons of a population per core, in physical core order.
pub(crate) fn shares(
    core_of: &[u32],
    phys: &[u32],
    start: u32,
    size: u32,
    arch: &ArchSpec,
) -> Vec<CoreShare> {
    let mut out: Vec<CoreShare> = Vec::new();
    for &k in &core_of[start as usize..(start + size) as usize] {
        if k == HOST {
            continue;
        }
        let core = phys[k as usize];
        match out.last_mut() {
            Some(s) if s.core == core => s.neurons += 1,
            _ => match out.iter_mut().find(|s| s.core == core) {
                Some(s) => s.neurons += 1,
                None => out.push(CoreShare {
                    core,
                    tile: core_tile(arch, core),
                    neurons: 1,
                }),
            },
        }
    }
    out.sort_by_key(|s| s.core);
    out
}

/// Destination cores (slots) of every neuron under `core_of` (0 for neurons without synapses):
/// its fan-out entries.
pub(crate) fn destinations(c: &Checked<'_>, core_of: &[u32], n_slots: usize) -> Vec<u32> {
    let mut out = vec![0u32; c.n_neurons];
    let mut mark = vec![u32::MAX; n_slots];
    for_each_pair(c, core_of, &mut mark, |g, _| out[g as usize] += 1);
    out
}

/// Calls `f(source neuron, destination slot)` once for every distinct pair (a slot reached
/// through two projections is one pair). `mark` has one entry per slot.
fn for_each_pair(c: &Checked<'_>, core_of: &[u32], mark: &mut [u32], mut f: impl FnMut(u32, u32)) {
    let mut by_src: Vec<Vec<usize>> = vec![Vec::new(); c.spec.populations.len()];
    for (j, e) in c.projections.iter().enumerate() {
        by_src[e.source_pop].push(j);
    }
    for (i, js) in by_src.iter().enumerate() {
        let s0 = c.offsets[i] as usize;
        for s in 0..c.spec.populations[i].size as usize {
            let g = (s0 + s) as u32;
            for &j in js {
                let e = &c.projections[j];
                let t0 = c.offsets[e.target_pop];
                let rp = e.row_ptr();
                for &t in &e.targets()[rp[s]..rp[s + 1]] {
                    let k = core_of[(t0 + t as u64) as usize];
                    if k != HOST && mark[k as usize] != g {
                        mark[k as usize] = g;
                        f(g, k);
                    }
                }
            }
        }
    }
}

/// Greedy fill: which neurons share a core (slots in order, contiguous neuron ranges), under
/// every per-core limit, with `fanout_est[g]` as neuron `g`'s fan-out entries. With
/// `align_layers` every on-chip population starts on a fresh core (no core holds the end of one
/// population and the start of the next). Physical cores are the slots themselves (snake
/// order) until [`assign`] moves them.
pub(crate) fn fill(
    c: &Checked<'_>,
    q: &Quantised,
    fi: &FanIn,
    arch: &ArchSpec,
    opt: &CompileOptions,
    fanout_est: &[u32],
    align_layers: bool,
) -> Placement {
    let spec = c.spec;
    let n = c.n_neurons;
    let syn_bits = q.synapse_bits as u64;
    let (in_ptr, in_src, stored) = (&fi.ptr, &fi.src, &fi.stored);
    // Per target population: the shared-kernel projections into it.
    let mut shared_into: Vec<Vec<SharedKernel>> = vec![Vec::new(); spec.populations.len()];
    for (j, e) in c.projections.iter().enumerate() {
        if let Some(sk) = q.shared[j] {
            shared_into[e.target_pop].push(sk);
        }
    }
    let cap_neurons = opt
        .max_neurons_per_core
        .unwrap_or(u32::MAX)
        .clamp(1, arch.core.compartments);
    let fan_lim = arch.core.fanout_entries as u64;
    let mut violations: Vec<Violation> = Vec::new();
    let mut core_of = vec![HOST; n];
    let mut n_slots = 0u32;
    let mut seen = vec![0u32; n]; // slot + 1 whose axon table holds the source
    let mut tent = vec![u32::MAX; n];
    let (mut c_neurons, mut c_bits, mut c_axons, mut c_fan) = (0u32, 0u64, 0u32, 0u64);
    for (i, p) in spec.populations.iter().enumerate() {
        let start = c.offsets[i] as u32;
        if c.is_input[i] || p.size == 0 {
            continue;
        }
        let mut new_layer = align_layers;
        for g in start..start + p.size {
            let srcs = &in_src[in_ptr[g as usize]..in_ptr[g as usize + 1]];
            let (mut d_all, mut d_new) = (0u32, 0u32);
            for &s in srcs {
                if tent[s as usize] != g {
                    tent[s as usize] = g;
                    d_all += 1;
                    if n_slots == 0 || seen[s as usize] != n_slots {
                        d_new += 1;
                    }
                }
            }
            // Synaptic memory: stored synapses, plus the kernel slice of this neuron's output
            // channel for each shared-kernel projection into it, unless the core already holds
            // that channel (its previous neuron is in the same channel).
            let local = g - start;
            let stored_bits = stored[g as usize] as u64 * syn_bits;
            let (mut slices_all, mut slices_new) = (0u64, 0u64);
            for sk in &shared_into[i] {
                slices_all += sk.slice_bits;
                let held = local > 0
                    && n_slots > 0
                    && core_of[g as usize - 1] == n_slots - 1
                    && (local - 1) / sk.channel_len == local / sk.channel_len;
                if !held {
                    slices_new += sk.slice_bits;
                }
            }
            let mut bits = stored_bits + slices_new;
            let fan = fanout_est.get(g as usize).copied().unwrap_or(0) as u64;
            let layer_start = std::mem::take(&mut new_layer);
            let fits = n_slots > 0
                && !layer_start
                && c_neurons < cap_neurons
                && c_bits + bits <= arch.core.synaptic_memory_bits
                && c_axons + d_new <= arch.core.input_axons
                && c_fan + fan <= fan_lim;
            if !fits {
                n_slots += 1;
                c_neurons = 0;
                c_bits = 0;
                c_axons = 0;
                c_fan = 0;
                d_new = d_all;
                bits = stored_bits + slices_all;
                let at = || format!("population '{}' neuron {}", p.name, g - start);
                if bits > arch.core.synaptic_memory_bits {
                    violations.push(Violation {
                        at: at(),
                        limit: "core.synaptic_memory_bits".into(),
                        needed: bits,
                        allowed: arch.core.synaptic_memory_bits,
                        note: if slices_all > 0 {
                            format!(
                                "{} stored synapses of {} bits + {} bits of shared kernel slices",
                                stored[g as usize], syn_bits, slices_all
                            )
                        } else {
                            format!("{} synapses of {} bits", srcs.len(), syn_bits)
                        },
                    });
                }
                if d_all > arch.core.input_axons {
                    violations.push(Violation {
                        at: at(),
                        limit: "core.input_axons".into(),
                        needed: d_all as u64,
                        allowed: arch.core.input_axons as u64,
                        note: "distinct source neurons of one neuron".into(),
                    });
                }
            }
            for &s in srcs {
                seen[s as usize] = n_slots;
            }
            c_neurons += 1;
            c_bits += bits;
            c_axons += d_new;
            c_fan += fan;
            core_of[g as usize] = n_slots - 1;
        }
    }
    let mut p = Placement::from_slots(core_of, (0..n_slots).collect());
    p.violations = violations;
    p
}

/// Traffic between core slots: per slot, `(other slot, packets)` both ways (the weight of the
/// pair), and the packets each slot receives from the host. One packet per (source neuron,
/// destination core) pair.
pub(crate) struct SlotGraph {
    adj: Vec<Vec<(u32, u64)>>,
    host: Vec<u64>,
    /// Packets in all (`Σ` pairs), on-chip sources and host.
    pub packets: u64,
}

/// The slot graph of a placement.
pub(crate) fn slot_graph(c: &Checked<'_>, core_of: &[u32], n_slots: usize) -> SlotGraph {
    let mut mark = vec![u32::MAX; n_slots];
    let mut host = vec![0u64; n_slots];
    let mut packets = 0u64;
    let mut adj: Vec<Vec<(u32, u64)>> = vec![Vec::new(); n_slots];
    // Few slots: a dense matrix of pair counts; many: sorted pairs.
    let dense = n_slots <= 1024;
    let mut m = vec![0u64; if dense { n_slots * n_slots } else { 0 }];
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for_each_pair(c, core_of, &mut mark, |g, k| {
        packets += 1;
        let from = core_of[g as usize];
        if from == HOST {
            host[k as usize] += 1;
        } else if from != k {
            let (a, b) = (from.min(k) as usize, from.max(k) as usize);
            if dense {
                m[a * n_slots + b] += 1;
            } else {
                pairs.push((a as u32, b as u32));
            }
        }
    });
    let mut add = |a: usize, b: usize, w: u64| {
        adj[a].push((b as u32, w));
        adj[b].push((a as u32, w));
    };
    if dense {
        for a in 0..n_slots {
            for b in a + 1..n_slots {
                let w = m[a * n_slots + b];
                if w > 0 {
                    add(a, b, w);
                }
            }
        }
    } else {
        pairs.sort_unstable();
        for run in pairs.chunk_by(|a, b| a == b) {
            add(run[0].0 as usize, run[0].1 as usize, run.len() as u64);
        }
    }
    SlotGraph { adj, host, packets }
}

/// Hops between two system tiles, and chip-to-chip links crossed.
fn hops(arch: &ArchSpec, a: [u32; 2], b: [u32; 2]) -> (u64, u64) {
    let (tx, ty) = (arch.mesh.tiles_x, arch.mesh.tiles_y);
    let h = a[0].abs_diff(b[0]) as u64 + a[1].abs_diff(b[1]) as u64;
    let l = (a[0] / tx).abs_diff(b[0] / tx) as u64 + (a[1] / ty).abs_diff(b[1] / ty) as u64;
    (h, l)
}

/// The host tile (where inputs enter).
fn host_tile(arch: &ArchSpec) -> [u32; 2] {
    arch.mesh.host_tile.unwrap_or([0, 0])
}

/// Packets x hops and packets x chip links of a placement.
pub(crate) fn traffic_of(arch: &ArchSpec, g: &SlotGraph, phys: &[u32]) -> (u64, u64) {
    let tiles: Vec<[u32; 2]> = phys.iter().map(|&p| core_tile(arch, p)).collect();
    let ht = host_tile(arch);
    let (mut h, mut l) = (0u64, 0u64);
    for (a, adj) in g.adj.iter().enumerate() {
        for &(b, w) in adj {
            if (b as usize) > a {
                let (x, y) = hops(arch, tiles[a], tiles[b as usize]);
                h += w * x;
                l += w * y;
            }
        }
        let (x, y) = hops(arch, ht, tiles[a]);
        h += g.host[a] * x;
        l += g.host[a] * y;
    }
    (h, l)
}

/// A seeded stream (splitmix64) for the refinement's visiting order.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Moves core slots between physical cores to lower packets x hops (see the module doc).
/// Returns the traffic figures. Does nothing when the slots do not fit the system.
pub(crate) fn assign(
    arch: &ArchSpec,
    g: &SlotGraph,
    p: &mut Placement,
    seed: u64,
    refine_it: bool,
) {
    let n_phys = arch.n_cores() as usize;
    let ns = p.phys.len();
    let (h0, l0) = traffic_of(arch, g, &p.phys);
    let mut moves = 0u32;
    if refine_it && ns > 1 && ns <= n_phys {
        moves = refine(arch, g, &mut p.phys, seed);
    }
    let (h, l) = traffic_of(arch, g, &p.phys);
    p.sort_slots();
    p.traffic = PlacementTraffic {
        packets: g.packets,
        packet_hops: h,
        chip_link_packets: l,
        initial_packet_hops: h0,
        initial_chip_link_packets: l0,
        moves,
        seed,
    };
}

fn refine(arch: &ArchSpec, g: &SlotGraph, phys: &mut [u32], seed: u64) -> u32 {
    let n_phys = arch.n_cores() as usize;
    let ns = phys.len();
    let (sx, sy) = arch.system_tiles();
    let cpt = arch.mesh.cores_per_tile;
    let mut occ = vec![u32::MAX; n_phys];
    for (k, &c) in phys.iter().enumerate() {
        occ[c as usize] = k as u32;
    }
    let mut tile: Vec<[u32; 2]> = phys.iter().map(|&c| core_tile(arch, c)).collect();
    let ht = host_tile(arch);
    let dist = |a: [u32; 2], b: [u32; 2]| hops(arch, a, b).0;
    // Cost of slot s at tile t, its partners where they are (partner `skip` counted at `at`).
    let cost = |tile: &[[u32; 2]], s: usize, t: [u32; 2], skip: u32, at: [u32; 2]| -> u64 {
        let mut c = g.host[s] * dist(ht, t);
        for &(o, w) in &g.adj[s] {
            let to = if o == skip { at } else { tile[o as usize] };
            c += w * dist(t, to);
        }
        c
    };
    let mut rng = Mix(seed ^ 0x005E_ED0F_C0DE);
    let mut order: Vec<usize> = (0..ns).collect();
    let mut work = 0u64;
    let mut moves = 0u32;
    let mut cand: Vec<u32> = Vec::with_capacity(CANDIDATES);
    for _ in 0..PASSES {
        for i in (1..ns).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut improved = false;
        for &s in &order {
            let deg = g.adj[s].len() as u64 + 1;
            if work > MAX_WORK {
                return moves;
            }
            // Weighted centre of the partners (host included).
            let (mut wx, mut wy, mut wt) = (0u64, 0u64, 0u64);
            for &(o, w) in &g.adj[s] {
                let t = tile[o as usize];
                wx += w * t[0] as u64;
                wy += w * t[1] as u64;
                wt += w;
            }
            if g.host[s] > 0 {
                wx += g.host[s] * ht[0] as u64;
                wy += g.host[s] * ht[1] as u64;
                wt += g.host[s];
            }
            if wt == 0 {
                continue;
            }
            let centre = [((wx + wt / 2) / wt) as i64, ((wy + wt / 2) / wt) as i64];
            // The physical cores nearest the centre, ring by ring.
            cand.clear();
            let mut r = 0i64;
            while cand.len() < CANDIDATES && r <= (sx + sy) as i64 {
                for dx in -r..=r {
                    let dy = r - dx.abs();
                    for y in [centre[1] - dy, centre[1] + dy] {
                        let x = centre[0] + dx;
                        if x >= 0 && y >= 0 && (x as u32) < sx && (y as u32) < sy {
                            let first = tile_first_core(arch, [x as u32, y as u32]);
                            cand.extend(first..first + cpt);
                        }
                        if dy == 0 {
                            break;
                        }
                    }
                }
                r += 1;
            }
            let here = tile[s];
            let base_s = cost(&tile, s, here, u32::MAX, here);
            let mut best: Option<(i64, u32)> = None;
            for &pc in &cand {
                if pc == phys[s] {
                    continue;
                }
                let there = core_tile(arch, pc);
                let u = occ[pc as usize];
                // Gain of s moving there and u (if any) moving here.
                let mut delta = cost(&tile, s, there, u, here) as i64 - base_s as i64;
                work += deg;
                if u != u32::MAX {
                    let uu = u as usize;
                    let before = cost(&tile, uu, there, u32::MAX, there);
                    let after = cost(&tile, uu, here, s as u32, there);
                    work += g.adj[uu].len() as u64 + 1;
                    // The pair's own traffic appears in both costs, unchanged by the swap.
                    delta += after as i64 - before as i64;
                }
                if delta < 0 && best.is_none_or(|b| delta < b.0) {
                    best = Some((delta, pc));
                }
            }
            if let Some((_, pc)) = best {
                let old = phys[s];
                let u = occ[pc as usize];
                occ[pc as usize] = s as u32;
                occ[old as usize] = u;
                phys[s] = pc;
                tile[s] = core_tile(arch, pc);
                if u != u32::MAX {
                    phys[u as usize] = old;
                    tile[u as usize] = core_tile(arch, old);
                }
                moves += 1;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::check::check;
    use crate::compile::quantise::quantise;
    use crate::compile::test_util::{net, small_arch};

    fn placed(arch: &ArchSpec, opt: &CompileOptions) -> Placement {
        let spec = net(60.0);
        let c = check(&spec, arch, &snn_types::budget::MemoryBudget::unknown()).unwrap();
        let q = quantise(&c, arch, opt);
        let mut p = fill(&c, &q, &FanIn::new(&c, &q), arch, opt, &[], false);
        p.describe(&c, arch);
        p
    }

    #[test]
    fn fills_cores_in_order_up_to_the_compartment_limit() {
        let p = placed(&small_arch(2), &CompileOptions::default());
        assert_eq!(p.segs, vec![vec![(4, 6)], vec![(6, 8)], vec![(8, 9)]]);
        assert_eq!(&p.core_of[..4], &[HOST; 4]);
        assert_eq!(&p.core_of[4..], &[0, 0, 1, 1, 2]);
        assert_eq!(p.populations[1].cores, Some((0, 2)));
        assert!(p.populations[0].input && p.populations[0].cores.is_none());
        assert!(p.violations.is_empty());
    }

    #[test]
    fn max_neurons_per_core_spreads_the_network() {
        let opt = CompileOptions {
            max_neurons_per_core: Some(1),
            ..Default::default()
        };
        let p = placed(&small_arch(3), &opt);
        assert_eq!(p.phys.len(), 5);
    }

    #[test]
    fn a_neuron_with_too_many_sources_is_named() {
        let mut arch = small_arch(3);
        arch.core.input_axons = 3;
        let p = placed(&arch, &CompileOptions::default());
        assert_eq!(p.violations.len(), 5);
        assert_eq!(p.violations[0].at, "population 'a' neuron 0");
        assert_eq!(p.violations[0].limit, "core.input_axons");
        assert_eq!(p.violations[0].needed, 4);
    }

    #[test]
    fn the_fanout_estimate_closes_cores_early() {
        let arch = small_arch(5);
        let spec = net(60.0);
        let c = check(&spec, &arch, &snn_types::budget::MemoryBudget::unknown()).unwrap();
        let opt = CompileOptions::default();
        let q = quantise(&c, &arch, &opt);
        let fi = FanIn::new(&c, &q);
        // Without an estimate all five neurons share a core; with 2 entries per neuron and a
        // table of 4, two per core.
        assert_eq!(fill(&c, &q, &fi, &arch, &opt, &[], false).phys.len(), 1);
        let mut a2 = arch.clone();
        a2.core.fanout_entries = 4;
        let est = vec![2u32; c.n_neurons];
        let p = fill(&c, &q, &fi, &a2, &opt, &est, false);
        assert_eq!(p.segs, vec![vec![(4, 6)], vec![(6, 8)], vec![(8, 9)]]);
    }

    #[test]
    fn refinement_never_increases_traffic_and_is_seeded() {
        // A chain of 8 single-neuron cores placed in reverse order: the refinement pulls
        // partners together.
        let spec = snn_types::NetworkSpec::from_toml_str(
            r#"
            dt_ms = 1.0
            [[populations]]
            name = "in"
            size = 1
            neuron = { model = "input" }
            [[populations]]
            name = "a"
            size = 8
            neuron = { model = "loihi_lif", du = 4095, dv = 0, vth_mant = 100 }
            [[projections]]
            source = "a"
            target = "a"
            connectivity = { rule = "explicit", sources = [0, 1, 2, 3, 4, 5, 6], targets = [1, 2, 3, 4, 5, 6, 7] }
            weight = 1
            [[projections]]
            source = "in"
            target = "a"
            connectivity = { rule = "explicit", sources = [0], targets = [0] }
            weight = 1
        "#,
        )
        .unwrap();
        let mut arch = small_arch(1);
        arch.mesh.tiles_x = 4;
        arch.mesh.tiles_y = 4;
        arch.mesh.cores_per_tile = 1;
        let c = check(&spec, &arch, &snn_types::budget::MemoryBudget::unknown()).unwrap();
        let opt = CompileOptions::default();
        let q = quantise(&c, &arch, &opt);
        let mut p = fill(&c, &q, &FanIn::new(&c, &q), &arch, &opt, &[], false);
        // Scatter: slot k on physical core 15 - 2k mod 16.
        p.phys = (0..8u32).map(|k| (15 + 16 - 2 * k) % 16).collect();
        let g = slot_graph(&c, &p.core_of, p.phys.len());
        assert_eq!(g.packets, 8);
        let (before, _) = traffic_of(&arch, &g, &p.phys);
        let mut q1 = p.clone();
        assign(&arch, &g, &mut q1, 7, true);
        assert!(q1.traffic.packet_hops <= before);
        assert!(q1.traffic.packet_hops < before, "{:?}", q1.traffic);
        assert_eq!(q1.traffic.initial_packet_hops, before);
        // One core per physical core, all distinct.
        let mut ph = q1.phys.clone();
        ph.sort_unstable();
        ph.dedup();
        assert_eq!(ph.len(), 8);
        let mut q2 = p.clone();
        assign(&arch, &g, &mut q2, 7, true);
        assert_eq!(q1.phys, q2.phys);
    }
}
