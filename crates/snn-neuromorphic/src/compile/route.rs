//! Pass 4, route: the fan-out (routing) tables.
//!
//! For every source neuron, its synapses are cut into groups by destination core (one group per
//! projection and core, in core order): a spike sends one packet per destination core, and the
//! receiving core walks that packet's groups. The pass also counts what each core holds:
//! synapses, input axons (distinct source neurons) and fan-out entries (distinct (neuron,
//! destination core) pairs of the neurons it hosts).

use crate::arch::ArchSpec;
use crate::compile::check::Checked;
use crate::compile::core_tile;
use crate::compile::place::Placement;
use crate::compile::quantise::Quantised;
use crate::program::{CoreUsage, Group, HOST, ProjectionMemory, Storage};

/// The routing tables and per-core use.
#[derive(Debug)]
pub(crate) struct Routing {
    /// `src_ptr[g]..src_ptr[g+1]`: the groups of global neuron `g`, sorted by core.
    pub src_ptr: Vec<usize>,
    /// Fan-out groups.
    pub groups: Vec<Group>,
    /// Global target of each synapse (group order).
    pub syn_target: Vec<u32>,
    /// Weight mantissa of each synapse.
    pub syn_weight: Vec<i16>,
    /// Delay of each synapse in steps.
    pub syn_delay: Vec<u16>,
    /// Resources of each core in use.
    pub usage: Vec<CoreUsage>,
    /// Synaptic memory per projection.
    pub projection_memory: Vec<ProjectionMemory>,
    /// On-chip neurons that send to more destination cores than an architecture allows:
    /// `(global neuron, destination cores)`, when the architecture has such a limit.
    pub fanout_over: Vec<(u32, u32)>,
}

/// Runs the route pass.
pub(crate) fn route(c: &Checked<'_>, q: &Quantised, p: &Placement, arch: &ArchSpec) -> Routing {
    let spec = c.spec;
    let n = c.n_neurons;
    let total_syn: usize = c.projections.iter().map(|e| e.n_synapses()).sum();
    let mut syn_target = Vec::with_capacity(total_syn);
    let mut syn_weight = Vec::with_capacity(total_syn);
    let mut syn_delay = Vec::with_capacity(total_syn);
    let mut groups: Vec<Group> = Vec::new();
    let mut src_ptr = Vec::with_capacity(n + 1);
    src_ptr.push(0);
    let mut by_src: Vec<Vec<usize>> = vec![Vec::new(); spec.populations.len()];
    for (j, e) in c.projections.iter().enumerate() {
        by_src[e.source_pop].push(j);
    }
    let nc = p.phys.len();
    let mut usage: Vec<CoreUsage> = (0..nc)
        .map(|k| CoreUsage {
            core: p.phys[k],
            tile: core_tile(arch, p.phys[k]),
            neurons: p.neurons(k),
            synapses: 0,
            synaptic_memory_bits: 0,
            shared_kernel_bits: 0,
            input_axons: 0,
            fanout_entries: 0,
        })
        .collect();
    // Synapses stored one by one per core (all but those of shared-kernel projections).
    let mut stored = vec![0u64; nc];
    let mut last_src = vec![u32::MAX; nc];
    let mut fanout_over = Vec::new();
    let core_of = &p.core_of;
    for (i, pop) in spec.populations.iter().enumerate() {
        let s0 = c.offsets[i] as u32;
        for r in 0..pop.size {
            let g = s0 + r;
            let gstart = groups.len();
            for &j in &by_src[i] {
                let e = &c.projections[j];
                let t0 = c.offsets[e.target_pop] as u32;
                let targets = e.targets();
                let (a, b) = (e.row_ptr()[r as usize], e.row_ptr()[r as usize + 1]);
                let mant = &q.mantissas[j];
                let mut k = a;
                while k < b {
                    let core = core_of[(t0 + targets[k]) as usize];
                    let begin = syn_target.len();
                    while k < b && core_of[(t0 + targets[k]) as usize] == core {
                        syn_target.push(t0 + targets[k]);
                        syn_weight.push(mant.at(k));
                        syn_delay.push(e.delay_steps(k));
                        k += 1;
                    }
                    groups.push(Group {
                        core,
                        proj: j as u32,
                        start: begin,
                        len: (syn_target.len() - begin) as u32,
                    });
                }
            }
            let gs = &mut groups[gstart..];
            gs.sort_by_key(|x| x.core);
            let mut dests = 0u32;
            let mut prev = u32::MAX;
            for x in gs.iter() {
                let u = &mut usage[x.core as usize];
                u.synapses += x.len as u64;
                if q.shared[x.proj as usize].is_none() {
                    stored[x.core as usize] += x.len as u64;
                }
                if x.core != prev {
                    dests += 1;
                    prev = x.core;
                    if last_src[x.core as usize] != g {
                        last_src[x.core as usize] = g;
                        u.input_axons += 1;
                    }
                }
            }
            let own = core_of[g as usize];
            if own != HOST {
                usage[own as usize].fanout_entries += dests;
                if arch
                    .core
                    .max_fanout_cores_per_neuron
                    .is_some_and(|m| dests > m)
                {
                    fanout_over.push((g, dests));
                }
            }
            src_ptr.push(groups.len());
        }
    }
    // Per projection: the cores holding its targets (a core's share of a target population is
    // one range of local indices per segment) and what it stores there.
    let mut projection_memory = Vec::with_capacity(c.projections.len());
    for (j, e) in c.projections.iter().enumerate() {
        let a = c.offsets[e.target_pop] as u32;
        let b = a + e.n_target() as u32;
        let (mut cores, mut kernel_bits) = (0u32, 0u64);
        for (k, segs) in p.segs.iter().enumerate() {
            let mut on_core = false;
            for &(lo, hi) in segs {
                let (x, y) = (a.max(lo), b.min(hi));
                if x >= y {
                    continue;
                }
                on_core = true;
                if let Some(sk) = q.shared[j] {
                    let bits = sk.bits_for_range(x - a, y - a);
                    usage[k].shared_kernel_bits += bits;
                    kernel_bits += bits;
                }
            }
            cores += on_core as u32;
        }
        let synapses = e.n_synapses() as u64;
        let wbits = arch.core.weight_bits as u64 + 1;
        projection_memory.push(ProjectionMemory {
            index: j,
            name: e.name.clone(),
            rule: spec.projections[j].connectivity.name().to_string(),
            storage: if q.shared[j].is_some() {
                Storage::Shared
            } else {
                Storage::PerSynapse
            },
            synapses,
            target_cores: cores,
            kernel_weights: kernel_bits / wbits,
            synaptic_memory_bits: if q.shared[j].is_some() {
                kernel_bits
            } else {
                synapses * q.synapse_bits as u64
            },
        });
    }
    for (u, &st) in usage.iter_mut().zip(&stored) {
        u.synaptic_memory_bits = st * q.synapse_bits as u64 + u.shared_kernel_bits;
    }
    Routing {
        projection_memory,
        src_ptr,
        groups,
        syn_target,
        syn_weight,
        syn_delay,
        usage,
        fanout_over,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::CompileOptions;
    use crate::compile::check::check;
    use crate::compile::quantise::quantise;
    use crate::compile::test_util::{net, small_arch};

    #[test]
    fn one_group_per_destination_core_and_usage_adds_up() {
        let arch = small_arch(2);
        let spec = net(60.0);
        let c = check(&spec, &arch, &snn_types::budget::MemoryBudget::unknown()).unwrap();
        let opt = CompileOptions::default();
        let q = quantise(&c, &arch, &opt);
        let p = crate::compile::place::fill(
            &c,
            &q,
            &crate::compile::place::FanIn::new(&c, &q),
            &arch,
            &opt,
            &[],
            false,
        );
        let r = route(&c, &q, &p, &arch);
        // Every input neuron reaches all 5 targets on cores 0, 0, 1, 1, 2: three groups.
        for g in 0..4 {
            let gs = &r.groups[r.src_ptr[g]..r.src_ptr[g + 1]];
            assert_eq!(gs.iter().map(|x| x.core).collect::<Vec<_>>(), vec![0, 1, 2]);
            assert_eq!(gs.iter().map(|x| x.len).sum::<u32>(), 5);
        }
        assert_eq!(r.syn_target.len(), 20);
        assert!(r.syn_weight.iter().all(|&w| w == 60));
        assert!(r.syn_delay.iter().all(|&d| d == 2));
        assert_eq!(
            r.usage.iter().map(|u| u.synapses).collect::<Vec<_>>(),
            vec![8, 8, 4]
        );
        assert!(
            r.usage
                .iter()
                .all(|u| u.input_axons == 4 && u.fanout_entries == 0)
        );
        assert_eq!(r.usage[0].synaptic_memory_bits, 8 * q.synapse_bits as u64);
    }
}
