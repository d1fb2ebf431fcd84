//! Pass 5, verify: every limit of the architecture, with every violation listed and named.
//!
//! Limits checked: neurons whose fan-in fits no core (from the place pass), cores in the mesh,
//! delay bits, integer weights outside the mantissa and exponent range, destination cores per
//! neuron, fan-out entries per core, and distinct weights received per neuron where the
//! architecture has a fixed number of axon types (a necessary condition).

use snn_core::neuron::LOIHI_V_MAX;
use snn_types::{Distribution, NeuronModel, ValueSpec};

use crate::arch::ArchSpec;
use crate::compile::check::Checked;
use crate::compile::place::Placement;
use crate::compile::quantise::Quantised;
use crate::compile::route::Routing;
use crate::error::Violation;

/// At most this many neurons are named per limit; the rest are summarised in one line.
const NAMED: usize = 8;

/// `(population name, local index)` of global neuron `g`.
fn locate<'a>(c: &'a Checked<'_>, g: u32) -> (&'a str, u64) {
    let i = (c.offsets.partition_point(|&o| o <= g as u64) - 1).min(c.spec.populations.len() - 1);
    (&c.spec.populations[i].name, g as u64 - c.offsets[i])
}

/// Runs the verify pass: every violated limit (empty when the placement fits).
pub(crate) fn violations(
    c: &Checked<'_>,
    q: &Quantised,
    p: &Placement,
    r: &Routing,
    arch: &ArchSpec,
) -> Vec<Violation> {
    let spec = c.spec;
    let mut out = summarise_neurons(&p.violations);
    let used = p.phys.len() as u32;
    if used > arch.n_cores() {
        let (cx, cy) = arch.chip_grid();
        out.push(Violation {
            at: "network".into(),
            limit: "mesh (cores)".into(),
            needed: used as u64,
            allowed: arch.n_cores() as u64,
            note: format!(
                "{} on-chip neurons; {}x{} tiles of {} cores{}",
                (0..p.phys.len()).map(|k| p.neurons(k) as u64).sum::<u64>(),
                arch.mesh.tiles_x,
                arch.mesh.tiles_y,
                arch.mesh.cores_per_tile,
                if cx * cy > 1 {
                    format!(" on each of {cx}x{cy} chips")
                } else {
                    String::new()
                }
            ),
        });
    }
    if let Some(b) = arch.core.delay_bits {
        let lim = (1u64 << b) - 1;
        for (j, e) in c.projections.iter().enumerate() {
            let d = e.max_delay_steps() as u64;
            if e.n_synapses() > 0 && d > lim {
                out.push(Violation {
                    at: format!("projections[{j}] ({})", q.projections[j].name),
                    limit: "core.delay_bits".into(),
                    needed: d,
                    allowed: lim,
                    note: "delay in steps".into(),
                });
            }
        }
    }
    for (j, pq) in q.projections.iter().enumerate() {
        let target = &spec.populations[c.projections[j].target_pop].neuron;
        if pq.clipped > 0 && matches!(target, NeuronModel::LoihiLif(_)) {
            out.push(Violation {
                at: format!("projections[{j}] ({})", pq.name),
                limit: "core.weight_bits / core.max_weight_exp".into(),
                needed: pq.clipped,
                allowed: 0,
                note: "integer weights outside mantissa << exponent range (synapses clipped)"
                    .into(),
            });
        }
    }
    if let Some(m) = arch.core.max_fanout_cores_per_neuron {
        for &(g, d) in r.fanout_over.iter().take(NAMED) {
            let (name, local) = locate(c, g);
            out.push(Violation {
                at: format!("population '{name}' neuron {local}"),
                limit: "core.max_fanout_cores_per_neuron".into(),
                needed: d as u64,
                allowed: m as u64,
                note: "destination cores of one neuron".into(),
            });
        }
        if r.fanout_over.len() > NAMED {
            out.push(Violation {
                at: format!("{} more neurons", r.fanout_over.len() - NAMED),
                limit: "core.max_fanout_cores_per_neuron".into(),
                needed: r.fanout_over.iter().map(|x| x.1 as u64).max().unwrap_or(0),
                allowed: m as u64,
                note: "largest shown".into(),
            });
        }
    }
    for (k, u) in r.usage.iter().enumerate() {
        let (name, _) = locate(c, p.segs[k][0].0);
        let at = || format!("core {} (population '{name}')", u.core);
        let mut over = |limit: &str, needed: u64, allowed: u64, note: &str| {
            if needed > allowed {
                out.push(Violation {
                    at: at(),
                    limit: limit.into(),
                    needed,
                    allowed,
                    note: note.into(),
                });
            }
        };
        over(
            "core.compartments",
            u.neurons as u64,
            arch.core.compartments as u64,
            "neurons on the core",
        );
        // A core holding one neuron over these limits is already named by the neuron.
        if u.neurons > 1 {
            over(
                "core.synaptic_memory_bits",
                u.synaptic_memory_bits,
                arch.core.synaptic_memory_bits,
                "synapses of the core's neurons",
            );
            over(
                "core.input_axons",
                u.input_axons as u64,
                arch.core.input_axons as u64,
                "distinct source neurons of the core's neurons",
            );
        }
        over(
            "core.fanout_entries",
            u.fanout_entries as u64,
            arch.core.fanout_entries as u64,
            "(neuron, destination core) pairs",
        );
    }
    if let Some(types) = arch.core.axon_types
        && let Some(v) = axon_type_violation(c, q, r, types)
    {
        out.push(v);
    }
    out.extend(initial_v_violations(c, q));
    out
}

/// The place pass's per-neuron violations (a neuron whose fan-in fits no core), at most
/// [`NAMED`] named per limit and the rest summarised in one line with the largest need, as
/// destination-core violations are: a layer of 20,000 neurons that each exceed the input axons
/// used to give a 2.4 MB error of 20,000 lines.
fn summarise_neurons(v: &[Violation]) -> Vec<Violation> {
    let mut limits: Vec<&str> = Vec::new();
    for x in v {
        if !limits.contains(&x.limit.as_str()) {
            limits.push(&x.limit);
        }
    }
    let mut out = Vec::new();
    for lim in limits {
        let of: Vec<&Violation> = v.iter().filter(|x| x.limit == lim).collect();
        out.extend(of.iter().take(NAMED).map(|x| (*x).clone()));
        if let Some(worst) = of[NAMED.min(of.len())..].iter().max_by_key(|x| x.needed) {
            out.push(Violation {
                at: format!("{} more neurons", of.len() - NAMED),
                limit: lim.to_string(),
                needed: worst.needed,
                allowed: worst.allowed,
                note: format!("largest shown, {}: {}", worst.at, worst.note),
            });
        }
    }
    out
}

/// A number as written, or in scientific notation when long.
fn short(x: f64) -> String {
    if x.abs() < 1e6 {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

/// Initial membrane values that, in the chip's integer units, fall outside its signed 24-bit
/// membrane (a normal distribution is checked at its mean +- 6 standard deviations).
fn initial_v_violations(c: &Checked<'_>, q: &Quantised) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, p) in c.spec.populations.iter().enumerate() {
        let (Some(v), Some(_)) = (&p.v_init, q.params[i]) else {
            continue;
        };
        let (lo, hi) = match *v {
            ValueSpec::Constant(x) => (x, x),
            ValueSpec::Random(Distribution::Uniform { low, high }) => (low, high),
            ValueSpec::Random(Distribution::Normal { mean, std }) => {
                (mean - 6.0 * std, mean + 6.0 * std)
            }
            ValueSpec::Random(Distribution::TruncatedNormal {
                mean,
                std,
                low,
                high,
            }) => (
                low.map_or(mean - 6.0 * std, |l| l.max(mean - 6.0 * std)),
                high.map_or(mean + 6.0 * std, |h| h.min(mean + 6.0 * std)),
            ),
        };
        let (off, scale) = match p.neuron {
            NeuronModel::LoihiLif(_) => (0.0, 1.0),
            _ => (p.neuron.resting_v(), q.populations[i].v_scale),
        };
        let worst = ((lo - off) * scale).abs().max(((hi - off) * scale).abs());
        if worst.is_nan() || worst > LOIHI_V_MAX as f64 {
            out.push(Violation {
                at: format!("populations[{i}].v_init ('{}')", p.name),
                limit: "membrane range (signed 24-bit)".into(),
                needed: if worst.is_finite() {
                    worst.round() as u64
                } else {
                    u64::MAX
                },
                allowed: LOIHI_V_MAX as u64,
                note: format!(
                    "initial values {}..{} are {:.3e}..{:.3e} in the chip's integer units",
                    short(lo),
                    short(hi),
                    (lo - off) * scale,
                    (hi - off) * scale
                ),
            });
        }
    }
    out
}

/// Distinct integer weights received per neuron against the number of axon types.
fn axon_type_violation(
    c: &Checked<'_>,
    q: &Quantised,
    r: &Routing,
    types: u32,
) -> Option<Violation> {
    let mut per_t: Vec<(u32, i32)> = Vec::with_capacity(r.syn_target.len());
    for x in &r.groups {
        let e = q.projections[x.proj as usize].weight_exp;
        for k in x.start..x.start + x.len as usize {
            per_t.push((r.syn_target[k], (r.syn_weight[k] as i32) << e));
        }
    }
    per_t.sort_unstable();
    per_t.dedup();
    let mut worst: Option<(u32, u32)> = None;
    let mut over: Vec<u32> = Vec::new();
    for run in per_t.chunk_by(|a, b| a.0 == b.0) {
        let d = run.len() as u32;
        if d > types {
            over.push(run[0].0);
            if worst.is_none_or(|w| d > w.1) {
                worst = Some((run[0].0, d));
            }
        }
    }
    let (g, d) = worst?;
    let (name, _) = locate(c, g);
    // Count the worst neuron's population only: the message is about that population.
    let count = over.iter().filter(|&&t| locate(c, t).0 == name).count();
    let elsewhere = over.len() - count;
    let also = if elsewhere > 0 {
        format!("; {elsewhere} more in other populations")
    } else {
        String::new()
    };
    Some(Violation {
        at: format!(
            "population '{name}' ({count} neurons over the limit, worst: global neuron {g}{also})"
        ),
        limit: "core.axon_types".into(),
        needed: d as u64,
        allowed: types as u64,
        note: format!(
            "distinct weights received by one neuron; each neuron tells its inputs apart by at most {types} axon types, so a network for this chip must share at most {types} weight values per neuron (trained float weights and conv kernels rarely do)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::CompileOptions;
    use crate::compile::check::check;
    use crate::compile::place::{FanIn, fill};
    use crate::compile::quantise::quantise;
    use crate::compile::route::route;
    use crate::compile::test_util::{net, small_arch};

    fn verified(w: f64, arch: &ArchSpec) -> Vec<Violation> {
        let spec = net(w);
        let c = check(&spec, arch, &snn_types::budget::MemoryBudget::unknown()).unwrap();
        let opt = CompileOptions::default();
        let q = quantise(&c, arch, &opt);
        let p = fill(&c, &q, &FanIn::new(&c, &q), arch, &opt, &[], false);
        let r = route(&c, &q, &p, arch);
        violations(&c, &q, &p, &r, arch)
    }

    #[test]
    fn initial_values_beyond_the_membrane_range_are_named() {
        let arch = small_arch(2);
        let mut spec = net(60.0);
        spec.populations[1].v_init = Some(ValueSpec::Random(Distribution::Uniform {
            low: -60.0,
            high: 1e308,
        }));
        let c = check(&spec, &arch, &snn_types::budget::MemoryBudget::unknown()).unwrap();
        let opt = CompileOptions::default();
        let q = quantise(&c, &arch, &opt);
        let p = fill(&c, &q, &FanIn::new(&c, &q), &arch, &opt, &[], false);
        let r = route(&c, &q, &p, &arch);
        let v = violations(&c, &q, &p, &r, &arch);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].at, "populations[1].v_init ('a')");
        spec.populations[1].v_init = Some(ValueSpec::Constant(-1000.0));
        let c = check(&spec, &arch, &snn_types::budget::MemoryBudget::unknown()).unwrap();
        let q = quantise(&c, &arch, &opt);
        let p = fill(&c, &q, &FanIn::new(&c, &q), &arch, &opt, &[], false);
        let r = route(&c, &q, &p, &arch);
        assert!(violations(&c, &q, &p, &r, &arch).is_empty());
    }

    #[test]
    fn a_fitting_network_has_no_violation() {
        assert!(verified(60.0, &small_arch(2)).is_empty());
    }

    #[test]
    fn every_violated_limit_is_listed() {
        let mut arch = small_arch(1);
        arch.mesh.tiles_x = 1;
        arch.mesh.tiles_y = 1;
        arch.core.delay_bits = Some(1);
        arch.core.max_fanout_cores_per_neuron = Some(2);
        arch.core.max_weight_exp = 0;
        let v = verified(1000.0, &arch);
        let limits: Vec<&str> = v.iter().map(|x| x.limit.as_str()).collect();
        assert!(limits.contains(&"mesh (cores)"), "{limits:?}");
        assert!(limits.contains(&"core.delay_bits"), "{limits:?}");
        assert!(
            limits.contains(&"core.weight_bits / core.max_weight_exp"),
            "{limits:?}"
        );
        // Inputs reach 5 cores, but only on-chip neurons have a fan-out table to limit.
        assert!(v.iter().all(|x| !x.at.contains("'in'")), "{v:?}");
    }
}
