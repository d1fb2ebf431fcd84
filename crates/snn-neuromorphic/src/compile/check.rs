//! Pass 1, check: is this a network a chip can run? Validates the spec and the architecture,
//! rejects what has no meaning on a chip (current stimuli into models the chip cannot run, spike
//! inputs into non-input populations, projections into input
//! populations, more neurons than indices), and expands every projection
//! with `snn-core`'s connectivity expansion, so the chip's synapses are the engine's.

use snn_core::Projection;
use snn_core::connect::expand_projection;
use snn_types::budget::MemoryBudget;
use snn_types::{ConvGeometry, NetworkSpec, NeuronModel, StimulusSpec};

use crate::arch::ArchSpec;
use crate::error::MapError;

/// A spec that passed the check, with its synapses expanded.
#[derive(Debug)]
pub(crate) struct Checked<'s> {
    /// The spec.
    pub spec: &'s NetworkSpec,
    /// Global index of each population's first neuron (one more entry: the total).
    pub offsets: Vec<u64>,
    /// True for input populations (off-chip).
    pub is_input: Vec<bool>,
    /// Every projection's synapses (CSR by source, delays in steps), conv and pool projections
    /// expanded into explicit synapses ([`expand_explicit`]).
    pub projections: Vec<Projection>,
    /// Per projection: its geometry when its rule is `conv2d` or `pool2d`.
    pub geometry: Vec<Option<ConvGeometry>>,
    /// Neurons in the network.
    pub n_neurons: usize,
    /// Longest delay in steps (at least 1).
    pub max_delay: u16,
    /// What the chip model ignores from the spec.
    pub notes: Vec<String>,
}

/// Projection `j` as explicit synapses (CSR by source, one weight per synapse for conv and
/// pool projections). The chip stores and delivers synapses one by one whatever the
/// architecture's `conv_weights` (that option changes only the synaptic-memory accounting), so
/// this is the one place that relies on `snn-core` expanding `conv2d`/`pool2d` into explicit
/// CSR: should the engine keep conv projections compact, switch this call to its explicit
/// expansion.
pub(crate) fn expand_explicit(
    spec: &NetworkSpec,
    j: usize,
) -> Result<Projection, snn_core::BuildError> {
    expand_projection(spec, j)
}

/// Runs the check pass; the memory estimate is checked against `budget` before expanding.
pub(crate) fn check<'s>(
    spec: &'s NetworkSpec,
    arch: &ArchSpec,
    budget: &MemoryBudget,
) -> Result<Checked<'s>, MapError> {
    spec.validate()?;
    arch.validate().map_err(|issues| MapError::Unsupported {
        issues: issues.into_iter().map(|i| format!("arch {i}")).collect(),
    })?;
    let is_input: Vec<bool> = spec
        .populations
        .iter()
        .map(|p| matches!(p.neuron, NeuronModel::Input))
        .collect();
    let mut unsupported = Vec::new();
    for (i, p) in spec.populations.iter().enumerate() {
        // Models with no mapping onto the chip's integer LIF (quantise's `map_float` has none).
        let missing = match p.neuron {
            NeuronModel::LifCondExp(_) => Some("the chip has no conductance synapses"),
            NeuronModel::Izhikevich(_) => {
                Some("the chip has no quadratic spike initiation and no recovery variable")
            }
            NeuronModel::Adex(_) => Some(
                "the chip has no conductance synapses, no adaptation current and no exponential spike initiation",
            ),
            _ => None,
        };
        if let Some(missing) = missing {
            unsupported.push(format!(
                "populations[{i}] ('{}'): model {} cannot be mapped onto the chip's integer LIF ({missing})",
                p.name,
                p.neuron.name()
            ));
        } else if let NeuronModel::LifBeta(b) = &p.neuron
            && b.reset == snn_types::ResetMode::SubtractDelayed
        {
            unsupported.push(format!(
                "populations[{i}] ('{}'): model lif_beta with reset subtract_delayed (snnTorch's delayed reset) cannot be mapped onto the chip's fixed-point LIF (it resets v to 0 in the step of the spike)",
                p.name
            ));
        } else if p.neuron.adaptive_threshold().is_some() {
            unsupported.push(format!(
                "populations[{i}] ('{}'): model {} with an adaptive_threshold cannot be mapped onto the chip's fixed-point LIF (its threshold is a constant per compartment; there is no per-neuron theta that grows with each spike)",
                p.name,
                p.neuron.name()
            ));
        }
    }
    for (i, s) in spec.stimuli.iter().enumerate() {
        let ti = spec.population_index(s.target()).unwrap_or(0);
        match s {
            // Current stimuli become per-compartment biases (quantise) for every model the chip
            // runs (validation refuses currents into input populations).
            StimulusSpec::Current { .. } | StimulusSpec::StepCurrent { .. }
                if matches!(
                    spec.populations[ti].neuron,
                    NeuronModel::LifCondExp(_) | NeuronModel::Izhikevich(_) | NeuronModel::Adex(_)
                ) =>
            {
                unsupported.push(format!(
                    "stimuli[{i}]: current stimulus into '{}' (model {}) has no chip form: the model itself cannot be mapped, so there is no compartment bias to carry it",
                    s.target(),
                    spec.populations[ti].neuron.name()
                ))
            }
            StimulusSpec::SpikeArray { .. } | StimulusSpec::Poisson { .. } if !is_input[ti] => {
                unsupported.push(format!(
                    "stimuli[{i}]: spike inputs must target an input population ('{}' is {})",
                    s.target(),
                    spec.populations[ti].neuron.name()
                ))
            }
            _ => {}
        }
    }
    for (j, pr) in spec.projections.iter().enumerate() {
        if let Some(rule) = &pr.plasticity {
            unsupported.push(format!(
                "projections[{j}].plasticity: a {} STDP rule; the chip model runs fixed weights \
                 (on-chip learning is not modelled): learn with `snn simulate --learned-spec \
                 FILE`, then map the learned spec",
                rule.rule_name()
            ));
        }
        if let Some(ti) = spec.population_index(&pr.target)
            && is_input[ti]
        {
            unsupported.push(format!(
                "projections[{j}]: targets input population '{}' (input populations have no dynamics)",
                pr.target
            ));
        }
    }
    let n = spec.n_neurons();
    if n >= u32::MAX as u64 {
        unsupported.push(format!("network: {n} neurons; at most 2^32 - 2 supported"));
    }
    if !unsupported.is_empty() {
        return Err(MapError::Unsupported {
            issues: unsupported,
        });
    }
    let estimate = crate::memory::ChipMemory::estimate(spec, arch);
    estimate.check_compile(arch, budget)?;
    if let Some((j, count)) = estimate.network.over_index_limit() {
        return Err(MapError::Unsupported {
            issues: vec![format!(
                "projections[{j}]: {count} synapses; at most {} supported",
                u32::MAX
            )],
        });
    }
    let mut notes = Vec::new();
    if !spec.recording.state.is_empty() {
        notes.push("recording.state traces are not produced by the chip model".into());
    }
    let projections = (0..spec.projections.len())
        .map(|j| expand_explicit(spec, j))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| MapError::Unsupported {
            issues: vec![e.to_string()],
        })?;
    let max_delay = snn_core::projection::longest_delay_steps(&projections);
    // A validated spec has a valid geometry for every conv and pool projection.
    let geometry = (0..spec.projections.len())
        .map(|j| spec.projection_geometry(j).and_then(Result::ok))
        .collect();
    Ok(Checked {
        spec,
        geometry,
        offsets: spec.population_offsets(),
        is_input,
        projections,
        n_neurons: n as usize,
        max_delay,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::test_util::{net, small_arch};

    #[test]
    fn expands_with_the_engines_synapses() {
        let spec = net(60.0);
        let c = check(&spec, &small_arch(3), &MemoryBudget::unknown()).unwrap();
        assert_eq!(c.projections.len(), 1);
        assert_eq!(c.projections[0].n_synapses(), 20);
        assert_eq!(c.max_delay, 2);
        assert_eq!(c.is_input, vec![true, false]);
        assert_eq!(c.n_neurons, 9);
        let engine = snn_core::Network::build(&spec).unwrap();
        assert_eq!(
            engine.projections()[0].targets(),
            c.projections[0].targets()
        );
    }

    #[test]
    fn rejects_what_a_chip_cannot_run_listing_each() {
        let mut spec = net(60.0);
        spec.stimuli.push(StimulusSpec::Current {
            target: "a".into(),
            amplitude: 1.0,
            start_ms: 0.0,
            stop_ms: None,
            neurons: None,
        });
        if let StimulusSpec::SpikeArray { target, .. } = &mut spec.stimuli[0] {
            *target = "a".into();
        }
        let err = check(&spec, &small_arch(3), &MemoryBudget::unknown())
            .unwrap_err()
            .to_string();
        assert!(!err.contains("stimuli[1]"), "{err}");
        assert!(
            err.contains(
                "stimuli[0]: spike inputs must target an input population ('a' is loihi_lif)"
            ),
            "{err}"
        );
    }

    /// Each unmappable model is refused with what the chip lacks for that model, not a list
    /// of every model's reasons.
    #[test]
    fn unmappable_models_name_what_the_chip_lacks_for_them() {
        use snn_types::{AdexParams, IzhikevichParams, LifCondExpParams, NeuronModel};
        for (model, says, not) in [
            (
                NeuronModel::LifCondExp(LifCondExpParams::default()),
                "(the chip has no conductance synapses)",
                "adaptation",
            ),
            (
                NeuronModel::Izhikevich(IzhikevichParams::default()),
                "no quadratic spike initiation",
                "conductance",
            ),
            (
                NeuronModel::Adex(AdexParams::default()),
                "no adaptation current and no exponential spike initiation",
                "quadratic",
            ),
        ] {
            let mut spec = net(60.0);
            spec.populations[1].neuron = model;
            let err = check(&spec, &small_arch(3), &MemoryBudget::unknown())
                .unwrap_err()
                .to_string();
            assert!(err.contains(says) && !err.contains(not), "{err}");
        }
    }

    #[test]
    fn current_stimuli_pass_except_into_inputs_and_unmappable_models() {
        let mut spec = net(60.0);
        let current = |target: &str| StimulusSpec::Current {
            target: target.into(),
            amplitude: 1.0,
            start_ms: 0.0,
            stop_ms: None,
            neurons: None,
        };
        spec.stimuli.push(current("a"));
        assert!(check(&spec, &small_arch(3), &MemoryBudget::unknown()).is_ok());
        spec.stimuli.push(current("in"));
        let err = check(&spec, &small_arch(3), &MemoryBudget::unknown())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stimuli[2].target: a current cannot drive an input population"),
            "{err}"
        );
        spec.stimuli.pop();
        spec.populations[1].neuron = NeuronModel::Izhikevich(Default::default());
        spec.populations[1].v_init = None;
        let err = check(&spec, &small_arch(3), &MemoryBudget::unknown())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "stimuli[1]: current stimulus into 'a' (model izhikevich) has no chip form"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_conductance_based_population_is_refused_by_name() {
        let spec = snn_core::models::coba(100, 1);
        let err = check(&spec, &small_arch(3), &MemoryBudget::unknown())
            .unwrap_err()
            .to_string();
        for (i, name) in ["exc", "inh"].iter().enumerate() {
            assert!(
                err.contains(&format!(
                    "populations[{i}] ('{name}'): model lif_cond_exp cannot be mapped onto the chip"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn an_adaptive_threshold_is_refused_by_name() {
        let mut spec = snn_core::models::cuba(100, 1);
        // Without the block CUBA passes the check.
        assert!(check(&spec, &small_arch(3), &MemoryBudget::unknown()).is_ok());
        if let NeuronModel::LifExp(p) = &mut spec.populations[0].neuron {
            p.adaptive_threshold = Some(Default::default());
        }
        let err = check(&spec, &small_arch(3), &MemoryBudget::unknown()).unwrap_err();
        assert!(matches!(err, MapError::Unsupported { .. }), "{err}");
        let err = err.to_string();
        assert!(
            err.contains(
                "not supported on the chip (1 problem): populations[0] ('exc'): model lif_exp with an adaptive_threshold cannot be mapped onto the chip's fixed-point LIF"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_delayed_reset_is_refused_by_name() {
        let mut spec = net(60.0);
        spec.populations[1].neuron = NeuronModel::LifBeta(snn_types::LifBetaParams {
            reset: snn_types::ResetMode::SubtractDelayed,
            ..Default::default()
        });
        spec.populations[1].v_init = None;
        let err = check(&spec, &small_arch(3), &MemoryBudget::unknown())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("populations[1] ('a'): model lif_beta with reset subtract_delayed"),
            "{err}"
        );
    }

    #[test]
    fn izhikevich_and_adex_are_a_clear_not_supported_error() {
        let mut spec = net(60.0);
        spec.populations[1].neuron = NeuronModel::Izhikevich(Default::default());
        spec.populations[1].v_init = None;
        let err = check(&spec, &small_arch(3), &MemoryBudget::unknown()).unwrap_err();
        assert!(matches!(err, MapError::Unsupported { .. }), "{err}");
        let err = err.to_string();
        assert!(err.starts_with("not supported on the chip"), "{err}");
        assert!(
            err.contains("populations[1] ('a'): model izhikevich cannot be mapped"),
            "{err}"
        );
        spec.populations[1].neuron = NeuronModel::Adex(Default::default());
        let err = check(&spec, &small_arch(3), &MemoryBudget::unknown())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not supported on the chip (1 problem): populations[1] ('a'): model adex cannot be mapped"),
            "{err}"
        );
    }
}
