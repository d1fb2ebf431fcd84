//! Pass 6, lower: the runtime arrays of a [`ChipProgram`].
//!
//! Soma constants are `snn-core`'s fixed-point LIF ([`LoihiCoef`]); the initial state is drawn by
//! `snn-core`'s [`initial_v`] from the quantised spec and rounded as the engine rounds it; inputs
//! come from `snn-core`'s [`StimulusPlan`] (spike arrays and Poisson sources that fire input
//! neurons, in steps). Nothing of the engine's scheduler is used.

use snn_core::Synaptic;
use snn_core::init::{initial_v, to_integer_v};
use snn_core::neuron::LoihiCoef;
use snn_core::stimulus::StimulusPlan;
use std::collections::BTreeMap;

use snn_types::{
    Connectivity, Distribution, NetworkSpec, NeuronModel, PoolMode, Step, StimulusSpec, ValueSpec,
    steps_to_ms,
};

use crate::arch::ArchSpec;
use crate::compile::check::Checked;
use crate::compile::core_chip;
use crate::compile::place::Placement;
use crate::compile::quantise::{BiasChange, Quantised};
use crate::compile::route::Routing;
use crate::program::{ChipProgram, ProjInfo, Quantisation};

fn scale_value(v: &ValueSpec, off: f64, sc: f64) -> ValueSpec {
    let f = |x: f64| (x - off) * sc;
    match *v {
        ValueSpec::Constant(x) => ValueSpec::Constant(f(x)),
        ValueSpec::Random(Distribution::Uniform { low, high }) => {
            ValueSpec::Random(Distribution::Uniform {
                low: f(low),
                high: f(high),
            })
        }
        ValueSpec::Random(Distribution::Normal { mean, std }) => {
            ValueSpec::Random(Distribution::Normal {
                mean: f(mean),
                std: std * sc,
            })
        }
    }
}

/// True when the quantised spec keeps projection `j`'s rule (the engine redraws or recomputes
/// the same synapses): uniform-weight rules, and `conv2d`/`pool2d` (integer kernel or weight).
/// Other projections are written out as explicit synapse lists by
/// [`ChipProgram::quantised_spec`].
fn keeps_rule(connectivity: &Connectivity, mantissas: &Synaptic<i16>) -> bool {
    match connectivity {
        Connectivity::Conv2d { .. } | Connectivity::Pool2d { .. } => true,
        Connectivity::Explicit { .. } | Connectivity::Dense { .. } => false,
        _ => mantissas.is_uniform(),
    }
}

/// Largest integer weight a `loihi_lif` projection may name in a spec (`validate` refuses
/// larger).
const SPEC_WEIGHT_LIMIT: f64 = (1 << 24) as f64;

/// The quantised network as a spec: `loihi_lif` populations with the chip's parameters and
/// initial values in integer units; projections whose rule is kept ([`keeps_rule`]) carry their
/// integer weights: one constant for uniform rules and pools (an `average` pool's weight is
/// the integer per-synapse weight times the window area, so that the engine's division gives it
/// back exactly; a `sum` pool when that product would be out of range), the integer kernel for a
/// `conv2d`. Others are written out lazily by [`ChipProgram::quantised_spec`].
fn quantised_spec(spec: &NetworkSpec, q: &Quantised) -> NetworkSpec {
    let mut out = spec.clone();
    bias_stimuli(&mut out, &q.bias_changes);
    for (i, p) in out.populations.iter_mut().enumerate() {
        if let Some(lp) = q.params[i] {
            if !matches!(p.neuron, NeuronModel::LoihiLif(_)) {
                let off = spec.populations[i].neuron.resting_v();
                if let Some(v) = &p.v_init {
                    p.v_init = Some(scale_value(v, off, q.populations[i].v_scale));
                }
            }
            p.neuron = NeuronModel::LoihiLif(lp);
        }
    }
    for (j, pr) in out.projections.iter_mut().enumerate() {
        if !keeps_rule(&pr.connectivity, &q.mantissas[j]) {
            continue;
        }
        let exp = q.projections[j].weight_exp;
        match (&mut pr.connectivity, &q.mantissas[j]) {
            (Connectivity::Conv2d { weights, .. }, _) => {
                if let Some(k) = &q.kernels[j] {
                    *weights = k.iter().map(|&w| w as f64).collect();
                }
            }
            (Connectivity::Pool2d { mode, kernel, .. }, &Synaptic::Uniform(m)) => {
                let w = ((m as i64) << exp) as f64;
                let area = kernel[0] as f64 * kernel[1] as f64;
                pr.weight = ValueSpec::Constant(match mode {
                    PoolMode::Average if (w * area).abs() < SPEC_WEIGHT_LIMIT => w * area,
                    PoolMode::Average => {
                        *mode = PoolMode::Sum;
                        w
                    }
                    PoolMode::Sum => w,
                });
            }
            // A pool without synapses: nothing to deliver, any weight will do.
            (Connectivity::Pool2d { .. }, Synaptic::PerSynapse(_)) => {
                pr.weight = ValueSpec::Constant(0.0);
            }
            (_, &Synaptic::Uniform(m)) => {
                pr.weight = ValueSpec::Constant(((m as i64) << exp) as f64);
            }
            _ => {}
        }
    }
    out
}

/// A neuron's stimulus-bias schedule: `(step, bias from that step on)`.
type Schedule = Vec<(Step, i64)>;

/// Replaces the current stimuli of `out` by `step_current` stimuli that carry the quantised
/// per-compartment biases `changes` (one per population and bias schedule, neurons ascending).
/// They fill the current stimuli's places in order; places left over get a zero `current`,
/// stimuli left over are appended, so every other stimulus keeps its index.
fn bias_stimuli(out: &mut NetworkSpec, changes: &[BiasChange]) {
    let slots: Vec<usize> = (0..out.stimuli.len())
        .filter(|&i| {
            matches!(
                out.stimuli[i],
                StimulusSpec::Current { .. } | StimulusSpec::StepCurrent { .. }
            )
        })
        .collect();
    if slots.is_empty() {
        return;
    }
    let offsets = out.population_offsets();
    let mut per_neuron: BTreeMap<u32, Schedule> = BTreeMap::new();
    for c in changes {
        per_neuron
            .entry(c.neuron)
            .or_default()
            .push((c.step, c.bias));
    }
    let mut groups: BTreeMap<(usize, Schedule), Vec<u32>> = BTreeMap::new();
    for (g, sched) in per_neuron {
        let pi = offsets.partition_point(|&o| o <= g as u64) - 1;
        groups
            .entry((pi, sched))
            .or_default()
            .push(g - offsets[pi] as u32);
    }
    let dt = out.dt_ms;
    let mut made: Vec<StimulusSpec> = groups
        .into_iter()
        .map(|((pi, sched), neurons)| StimulusSpec::StepCurrent {
            target: out.populations[pi].name.clone(),
            times_ms: sched.iter().map(|&(t, _)| steps_to_ms(t, dt)).collect(),
            amplitudes: sched.iter().map(|&(_, b)| b as f64).collect(),
            neurons: Some(neurons),
        })
        .collect();
    let extra = made.split_off(made.len().min(slots.len()));
    let mut made = made.into_iter();
    for &i in &slots {
        out.stimuli[i] = made.next().unwrap_or_else(|| StimulusSpec::Current {
            target: out.stimuli[i].target().to_string(),
            amplitude: 0.0,
            start_ms: 0.0,
            stop_ms: None,
            neurons: None,
        });
    }
    out.stimuli.extend(extra);
}

/// Runs the lower pass.
pub(crate) fn lower(
    c: Checked<'_>,
    q: Quantised,
    p: Placement,
    r: Routing,
    arch: &ArchSpec,
) -> ChipProgram {
    let spec = c.spec;
    let n = c.n_neurons;
    let soma: Vec<LoihiCoef> = q
        .params
        .iter()
        .map(|p| p.as_ref().map_or_else(LoihiCoef::silent, LoihiCoef::new))
        .collect();
    let offsets = &c.offsets;
    let pop_of_core_seg = p
        .segs
        .iter()
        .map(|segs| {
            segs.iter()
                .flat_map(|&(lo, hi)| {
                    spec.populations
                        .iter()
                        .enumerate()
                        .filter_map(move |(i, pop)| {
                            let (a, b) = (offsets[i] as u32, offsets[i] as u32 + pop.size);
                            let (x, y) = (a.max(lo), b.min(hi));
                            (x < y).then_some((x, y, i as u16))
                        })
                })
                .collect()
        })
        .collect();
    let quantised = quantised_spec(spec, &q);
    let mut v0 = vec![0i32; n];
    for (i, pop) in quantised.populations.iter().enumerate() {
        if c.is_input[i] {
            continue;
        }
        let start = c.offsets[i] as usize;
        let drawn = initial_v(
            quantised.seed,
            i,
            &pop.neuron,
            pop.size,
            pop.v_init.as_ref(),
        );
        for (k, x) in drawn.into_iter().enumerate() {
            v0[start + k] = to_integer_v(x);
        }
    }
    // Inputs: the check pass guarantees that spike stimuli target input populations only.
    let plan = StimulusPlan::from_spec(spec);
    let mut input_events: Vec<(u64, u32)> = plan
        .events
        .iter()
        .filter(|e| e.fire)
        .map(|e| (e.step, e.neuron))
        .collect();
    input_events.sort_unstable();
    let poisson = plan.poisson.into_iter().filter(|s| s.fire).collect();
    let record = match &spec.recording.spikes {
        None => vec![true; spec.populations.len()],
        Some(names) => spec
            .populations
            .iter()
            .map(|p| names.contains(&p.name))
            .collect(),
    };
    let mut tiles: Vec<u32> = p
        .phys
        .iter()
        .map(|&k| k / arch.mesh.cores_per_tile)
        .collect();
    tiles.sort_unstable();
    tiles.dedup();
    let mut chips: Vec<u32> = p.phys.iter().map(|&k| core_chip(arch, k)).collect();
    chips.sort_unstable();
    chips.dedup();
    // The most tiles in use on one chip (each chip's barrier spans its own tiles).
    let tiles_per_chip = arch.mesh.tiles_x * arch.mesh.tiles_y;
    let max_chip_tiles = tiles
        .chunk_by(|a, b| a / tiles_per_chip == b / tiles_per_chip)
        .map(|r| r.len() as u32)
        .max()
        .unwrap_or(0);
    let proj = c
        .projections
        .iter()
        .enumerate()
        .map(|(j, e)| ProjInfo {
            source_pop: e.source_pop,
            target_pop: e.target_pop,
            weight_exp: q.projections[j].weight_exp,
            keeps_rule: keeps_rule(&spec.projections[j].connectivity, &q.mantissas[j]),
        })
        .collect();
    ChipProgram {
        arch: arch.clone(),
        name: spec.name.clone(),
        dt_ms: spec.dt_ms,
        populations: p.populations,
        cores: r.usage,
        projection_memory: r.projection_memory,
        tiles_used: tiles.len() as u32,
        chips_used: chips.len() as u32,
        max_chip_tiles,
        traffic: p.traffic,
        quantisation: Quantisation {
            populations: q.populations,
            projections: q.projections,
            num_weight_bits: q.num_weight_bits,
            synapse_bits: q.synapse_bits,
        },
        notes: c.notes,
        spec: quantised,
        n_neurons: n,
        core_of: p.core_of,
        core_segs: p.segs,
        phys: p.phys,
        soma,
        pop_of_core_seg,
        v0,
        src_ptr: r.src_ptr,
        groups: r.groups,
        syn_target: r.syn_target,
        syn_weight: r.syn_weight,
        syn_delay: r.syn_delay,
        max_delay: c.max_delay,
        proj,
        input_events,
        poisson,
        bias_changes: q.bias_changes,
        record,
    }
}

#[cfg(test)]
mod tests {
    use crate::compile::compile;
    use crate::compile::test_util::{net, small_arch};

    #[test]
    fn inputs_and_state_are_lowered_in_steps() {
        let mut spec = net(60.0);
        spec.populations[1].v_init = Some(snn_types::ValueSpec::Random(
            snn_types::Distribution::Uniform {
                low: -50.0,
                high: 50.0,
            },
        ));
        let prog = compile(&spec, &small_arch(2)).unwrap();
        assert_eq!(prog.input_events, vec![(0, 0), (1, 3), (3, 0)]);
        assert_eq!(prog.max_delay, 2);
        // The engine's initial state of the same network, rounded as the engine rounds it.
        let engine = snn_core::Network::build(&prog.quantised_spec()).unwrap();
        let v: Vec<i32> = engine.membrane(1).iter().map(|&x| x as i32).collect();
        assert_eq!(&prog.v0[4..], &v[..]);
        assert!(prog.v0[4..].iter().any(|&x| x != 0));
        assert_eq!(prog.soma[0].vth, i64::MAX);
    }
}
