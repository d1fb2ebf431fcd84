//! Pass 3, place: neurons onto cores.
//!
//! Greedy in population order: each core is filled with consecutive neurons while every per-core
//! limit still holds (compartments, synaptic memory for the fan-in of its neurons, input axons =
//! distinct source neurons); then the next core opens. Synaptic memory counts one entry per
//! synapse, except for conv and pool projections on an architecture with shared conv weights:
//! there a core pays for the kernel slice of each output channel it holds, once. Inputs stay off-chip (host). A neuron whose
//! own fan-in exceeds a core's synaptic memory or input axons cannot be placed anywhere: that is
//! recorded as a violation for the verify pass, with the neuron named.

use crate::arch::ArchSpec;
use crate::compile::CompileOptions;
use crate::compile::check::Checked;
use crate::compile::core_tile;
use crate::compile::quantise::{Quantised, SharedKernel};
use crate::error::Violation;
use crate::program::{CoreShare, HOST, PlacedPopulation};

/// Where every neuron went.
#[derive(Debug)]
pub(crate) struct Placement {
    /// Core of each global neuron ([`HOST`] for inputs).
    pub core_of: Vec<u32>,
    /// Per core in use: global neuron range `[lo, hi)`.
    pub core_range: Vec<(u32, u32)>,
    /// Per population: start, size and cores.
    pub populations: Vec<PlacedPopulation>,
    /// Neurons that fit no core.
    pub violations: Vec<Violation>,
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

/// The neurons of a population per core, in core order.
pub(crate) fn shares(core_of: &[u32], start: u32, size: u32, arch: &ArchSpec) -> Vec<CoreShare> {
    let mut out: Vec<CoreShare> = Vec::new();
    for &core in &core_of[start as usize..(start + size) as usize] {
        if core == HOST {
            continue;
        }
        match out.last_mut() {
            Some(s) if s.core == core => s.neurons += 1,
            _ => out.push(CoreShare {
                core,
                tile: core_tile(arch, core),
                neurons: 1,
            }),
        }
    }
    out
}

/// Runs the place pass.
pub(crate) fn place(
    c: &Checked<'_>,
    q: &Quantised,
    arch: &ArchSpec,
    opt: &CompileOptions,
) -> Placement {
    let spec = c.spec;
    let n = c.n_neurons;
    let syn_bits = q.synapse_bits as u64;
    let (in_ptr, in_src, stored) = fan_in(c, q);
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
    let mut violations: Vec<Violation> = Vec::new();
    let mut core_of = vec![HOST; n];
    let mut core_range: Vec<(u32, u32)> = Vec::new();
    let mut seen = vec![0u32; n]; // core + 1 whose axon table holds the source
    let mut tent = vec![u32::MAX; n];
    let (mut c_neurons, mut c_bits, mut c_axons) = (0u32, 0u64, 0u32);
    let mut populations = Vec::new();
    for (i, p) in spec.populations.iter().enumerate() {
        let start = c.offsets[i] as u32;
        if c.is_input[i] || p.size == 0 {
            populations.push(PlacedPopulation {
                name: p.name.clone(),
                start,
                size: p.size,
                input: c.is_input[i],
                cores: None,
                shape: p.shape,
                per_core: Vec::new(),
            });
            continue;
        }
        let mut first = None;
        for g in start..start + p.size {
            let srcs = &in_src[in_ptr[g as usize]..in_ptr[g as usize + 1]];
            let (mut d_all, mut d_new) = (0u32, 0u32);
            for &s in srcs {
                if tent[s as usize] != g {
                    tent[s as usize] = g;
                    d_all += 1;
                    if core_range.is_empty() || seen[s as usize] != core_range.len() as u32 {
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
                    && !core_range.is_empty()
                    && core_of[g as usize - 1] == core_range.len() as u32 - 1
                    && (local - 1) / sk.channel_len == local / sk.channel_len;
                if !held {
                    slices_new += sk.slice_bits;
                }
            }
            let mut bits = stored_bits + slices_new;
            let fits = !core_range.is_empty()
                && c_neurons < cap_neurons
                && c_bits + bits <= arch.core.synaptic_memory_bits
                && c_axons + d_new <= arch.core.input_axons;
            if !fits {
                core_range.push((g, g));
                c_neurons = 0;
                c_bits = 0;
                c_axons = 0;
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
            let core = core_range.len() as u32;
            for &s in srcs {
                seen[s as usize] = core;
            }
            c_neurons += 1;
            c_bits += bits;
            c_axons += d_new;
            core_of[g as usize] = core - 1;
            core_range.last_mut().expect("a core is open").1 = g + 1;
            first.get_or_insert(core - 1);
        }
        populations.push(PlacedPopulation {
            name: p.name.clone(),
            start,
            size: p.size,
            input: false,
            cores: first.map(|f| (f, core_range.len() as u32 - 1)),
            shape: p.shape,
            per_core: shares(&core_of, start, p.size, arch),
        });
    }
    Placement {
        core_of,
        core_range,
        populations,
        violations,
    }
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
        place(&c, &q, arch, opt)
    }

    #[test]
    fn fills_cores_in_order_up_to_the_compartment_limit() {
        let p = placed(&small_arch(2), &CompileOptions::default());
        assert_eq!(p.core_range, vec![(4, 6), (6, 8), (8, 9)]);
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
        assert_eq!(p.core_range.len(), 5);
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
}
