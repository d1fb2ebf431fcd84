//! The cortical microcircuit of Potjans & Diesmann (2014), as the reference PyNEST
//! implementation builds it.
//!
//! Every number below is data published with the model; the source of each is cited next to it.
//! "Reference" means NEST's `pynest/examples/Potjans_2014` in its last version (nest-simulator
//! commit 09620bc2, April 2025; the example moved out of the repository in August 2025):
//! `network_params.py`, `sim_params.py`, `helpers.py`, `network.py`; "PD14" means Potjans TC & Diesmann M (2014),
//! *The cell-type specific cortical microcircuit*, Cereb. Cortex 24(3):785-806,
//! doi:10.1093/cercor/bhs358. The generator follows the reference's derivation step by step:
//!
//! 1. full-scale synapse counts per pair from the connection probabilities,
//!    `K = ln(1 - p) / ln(1 - 1 / (N_pre N_post))` (reference `helpers.num_synapses_from_conn_probs`);
//! 2. neurons `round(N_full * scale)`, synapses `round(K_full * scale * k_scale)`, external
//!    in-degrees `round(K_ext * k_scale)` (reference `network.py`, `__derive_parameters`; numpy's
//!    `round`, i.e. ties to even);
//! 3. PSP amplitudes converted to PSC amplitudes (`postsynaptic_potential_to_current`):
//!    0.15 mV becomes 87.81 pA;
//! 4. with in-degrees scaled (`k_scale < 1`), weights divided by `sqrt(k_scale)` and a DC input
//!    added that restores the full-scale mean input, computed from the full-scale mean rates
//!    (`adjust_weights_and_input_to_synapse_scaling`);
//! 5. `fixed_total_number` connectivity (multapses and autapses allowed, NEST's defaults), weights
//!    normal with relative sd 0.1 redrawn until they keep their sign, delays normal with relative
//!    sd 0.5 redrawn below half a step, so that every delay rounds to at least one step
//!    (`nest.math.redraw(..., min=resolution - 0.5 * resolution)`).
//!
//! ```
//! use snn_core::models::{microcircuit, MicrocircuitOptions};
//!
//! let spec = microcircuit(0.01, &MicrocircuitOptions::default()).unwrap();
//! assert_eq!(spec.populations.len(), 8);
//! assert_eq!(spec.populations[0].size, 207); // round(20683 * 0.01)
//! spec.validate().unwrap();
//! assert!(microcircuit(0.0, &MicrocircuitOptions::default()).is_err());
//! ```

use snn_types::{
    Connectivity, Distribution, LifExpParams, NetworkSpec, NeuronModel, PopulationSpec,
    ProjectionSpec, Receptor, RecordingSpec, StimulusSpec, ValueSpec,
};

/// Number of populations.
pub const N_POPULATIONS: usize = 8;

/// Population names, in the reference's order (reference `network_params.py`, `populations`).
pub const POPULATIONS: [&str; N_POPULATIONS] =
    ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"];

/// Full-scale population sizes (reference `network_params.py`, `full_num_neurons`; PD14 Table 5).
pub const FULL_NUM_NEURONS: [u32; N_POPULATIONS] =
    [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948];

/// Connection probabilities, `CONN_PROBS[target][source]` (reference `network_params.py`,
/// `conn_probs`; PD14 Table 5).
pub const CONN_PROBS: [[f64; N_POPULATIONS]; N_POPULATIONS] = [
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0., 0.0076, 0.],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0., 0.0042, 0.],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0., 0.1057, 0.],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.],
    [
        0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252,
    ],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
];

/// External (background) in-degrees (reference `network_params.py`, `K_ext`; PD14 Table 5).
pub const K_EXT: [u32; N_POPULATIONS] = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100];

/// Mean firing rates (spikes/s) of the full-scale network with Poisson background (reference
/// `network_params.py`, `full_mean_rates`, obtained by the reference with "'local_num_threads' 4
/// and both 'N_scaling' and 'K_scaling' set to 1"). Used for the DC compensation of scaled
/// in-degrees, and as the reference rates of the full-scale validation.
pub const FULL_MEAN_RATES_HZ: [f64; N_POPULATIONS] =
    [0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829];

/// Mean firing rates (spikes/s) of the reference's own run at its default 10% scale
/// (`N_scaling = K_scaling = 0.1`, Poisson background, rates over 500-1500 ms): the means of
/// `reference_data/rate0.dat` ... `rate7.dat` (one rate per neuron, written by
/// `helpers.firing_rates`; nest-simulator commit e3d3e14e, "update reference data", unchanged
/// until the example's last version).
pub const TEN_PERCENT_MEAN_RATES_HZ: [f64; N_POPULATIONS] =
    [0.402, 2.017, 3.880, 4.958, 6.575, 7.726, 0.831, 6.986];

/// Mean CV of the inter-spike intervals per population in the reference's 10% run, computed
/// from its `reference_data/spike_recorder-*.dat` (commit e3d3e14e) with the definitions of
/// [`crate::analysis`]: window 500-1500 ms, neurons with at least 3 spikes, population sd.
pub const TEN_PERCENT_CV_ISI: [f64; N_POPULATIONS] =
    [0.590, 0.554, 0.578, 0.589, 0.601, 0.621, 0.510, 0.619];

/// Synchrony per population in the reference's 10% run (the same files and definitions:
/// variance over mean of the spike count of the first 1000 neurons in 3 ms bins, 500-1500 ms).
pub const TEN_PERCENT_SYNCHRONY: [f64; N_POPULATIONS] =
    [2.183, 2.600, 2.935, 2.171, 5.983, 1.278, 1.622, 1.093];

/// The reference rates to compare a run at `scale` with, and where they come from: the
/// reference's 10% run at scale 0.1, the full-scale rates otherwise (the reference publishes no
/// other scale; a downscaled network only approximates them, see docs/microcircuit.md).
pub fn reference_rates_hz(scale: f64) -> (&'static [f64; N_POPULATIONS], &'static str) {
    if (scale - 0.1).abs() < 1e-12 {
        (
            &TEN_PERCENT_MEAN_RATES_HZ,
            "reference run at 10% scale (NEST reference_data)",
        )
    } else {
        (
            &FULL_MEAN_RATES_HZ,
            "reference full-scale rates (full_mean_rates)",
        )
    }
}

/// Mean excitatory PSP amplitude (mV) (reference `PSP_exc_mean`; PD14 Table 5: 0.15 mV).
pub const PSP_EXC_MEAN_MV: f64 = 0.15;
/// Relative standard deviation of the weights (reference `weight_rel_std`; PD14 Table 5).
pub const WEIGHT_REL_STD: f64 = 0.1;
/// Relative inhibitory strength (reference `g`; PD14 Table 5).
pub const G: f64 = -4.0;
/// Mean excitatory delay (ms) (reference `delay_exc_mean`; PD14 Table 5).
pub const DELAY_EXC_MEAN_MS: f64 = 1.5;
/// Mean inhibitory delay (ms) (reference `delay_inh_mean`; PD14 Table 5).
pub const DELAY_INH_MEAN_MS: f64 = 0.75;
/// Relative standard deviation of the delays (reference `delay_rel_std`; PD14 Table 5).
pub const DELAY_REL_STD: f64 = 0.5;
/// Rate of each background Poisson source (spikes/s) (reference `bg_rate`; PD14 Table 5).
pub const BG_RATE_HZ: f64 = 8.0;
/// Membrane time constant (ms): NEST's `iaf_psc_exp` default, which the reference keeps
/// (PD14 Table 5).
pub const TAU_M_MS: f64 = 10.0;
/// Membrane capacitance (pF): NEST's `iaf_psc_exp` default, kept by the reference (PD14 Table 5).
pub const C_M_PF: f64 = 250.0;
/// Synaptic time constant (ms) (reference `neuron_params.tau_syn`; PD14 Table 5).
pub const TAU_SYN_MS: f64 = 0.5;
/// Refractory period (ms) (reference `neuron_params.t_ref`; PD14 Table 5).
pub const T_REF_MS: f64 = 2.0;
/// Threshold (mV) (reference `neuron_params.V_th`).
pub const V_TH_MV: f64 = -50.0;
/// Reset (mV) (reference `neuron_params.V_reset`).
pub const V_RESET_MV: f64 = -65.0;
/// Resting potential (mV) (reference `neuron_params.E_L`).
pub const E_L_MV: f64 = -65.0;
/// Per-population mean of the initial membrane potential (mV) for `V0_type = 'optimized'`, the
/// reference's default (reference `neuron_params.V0_mean.optimized`).
pub const V0_MEAN_OPTIMIZED_MV: [f64; N_POPULATIONS] = [
    -68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43,
];
/// Per-population sd of the initial membrane potential (mV), `optimized`
/// (reference `neuron_params.V0_std.optimized`).
pub const V0_STD_OPTIMIZED_MV: [f64; N_POPULATIONS] =
    [5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48];
/// Mean (mV) of the initial membrane potential for `V0_type = 'original'`.
pub const V0_MEAN_ORIGINAL_MV: f64 = -58.0;
/// Sd (mV) of the initial membrane potential for `V0_type = 'original'`.
pub const V0_STD_ORIGINAL_MV: f64 = 10.0;
/// Simulation resolution (ms) (reference `sim_params.py`, `sim_resolution`).
pub const DT_MS: f64 = 0.1;

/// The background drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Background {
    /// Independent Poisson input per neuron at `8 Hz x K_ext` (the reference's default,
    /// `poisson_input = True`).
    #[default]
    Poisson,
    /// A constant current with the Poisson input's mean, `8 Hz x K_ext x PSC_ext x tau_syn`
    /// (reference `dc_input_compensating_poisson`; `poisson_input = False`, which the reference
    /// recommends for benchmarks).
    Dc,
}

/// How the initial membrane potentials are drawn (reference `V0_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialV {
    /// Per-population normal distributions that reduce the initial transient (the default).
    #[default]
    Optimized,
    /// One normal distribution, mean -58 mV, sd 10 mV, for every population.
    Original,
}

/// Options of [`microcircuit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicrocircuitOptions {
    /// Background drive.
    pub background: Background,
    /// Initial membrane potentials.
    pub initial_v: InitialV,
    /// In-degree scaling `K_scaling` in `(0, 1]`; `None`: the same as the neuron scaling (the
    /// reference scales both by 0.1 by default).
    pub k_scale: Option<f64>,
    /// Seed of every random stream.
    pub seed: u64,
}

impl Default for MicrocircuitOptions {
    fn default() -> Self {
        Self {
            background: Background::Poisson,
            initial_v: InitialV::Optimized,
            k_scale: None,
            seed: 55, // the reference's master seed (sim_params.py, `rng_seed`)
        }
    }
}

/// Why a microcircuit cannot be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MicrocircuitError {
    /// A scale is not a number in `(0, 1]`.
    #[error("{name} must be a number in (0, 1], got {value}")]
    Scale {
        /// `scale` or `k_scale`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The scale leaves a population without neurons.
    #[error(
        "scale {scale} leaves population {population} without neurons (round({full} x {scale}) = 0); the smallest usable scale is {min}"
    )]
    Empty {
        /// The scale given.
        scale: f64,
        /// The population.
        population: &'static str,
        /// Its full size.
        full: u32,
        /// The smallest scale that keeps every population non-empty.
        min: f64,
    },
}

/// Every derived number of the microcircuit at one scale (reference `network.py`,
/// `__derive_parameters`).
#[derive(Debug, Clone, PartialEq)]
pub struct MicrocircuitParams {
    /// Neuron scaling `N_scaling`.
    pub scale: f64,
    /// In-degree scaling `K_scaling`.
    pub k_scale: f64,
    /// Neurons per population.
    pub num_neurons: [u32; N_POPULATIONS],
    /// Full-scale synapse counts, `[target][source]` (not rounded).
    pub full_num_synapses: [[f64; N_POPULATIONS]; N_POPULATIONS],
    /// Synapses per pair at this scale, `[target][source]`.
    pub num_synapses: [[u64; N_POPULATIONS]; N_POPULATIONS],
    /// Mean weights (pA), `[target][source]`, after the in-degree scaling.
    pub weight_mean_pa: [[f64; N_POPULATIONS]; N_POPULATIONS],
    /// Mean delays (ms), `[target][source]`.
    pub delay_mean_ms: [[f64; N_POPULATIONS]; N_POPULATIONS],
    /// External in-degrees at this scale.
    pub ext_indegrees: [u32; N_POPULATIONS],
    /// Weight of a background event (pA), after the in-degree scaling.
    pub weight_ext_pa: f64,
    /// DC input per population (pA): the compensation of scaled in-degrees, plus the background
    /// itself with [`Background::Dc`].
    pub dc_pa: [f64; N_POPULATIONS],
    /// Background.
    pub background: Background,
}

/// PSC amplitude (pA) per PSP amplitude (mV) of `iaf_psc_exp`: the PSP is the maximum of the
/// membrane response to an exponential current (reference `helpers.postsynaptic_potential_to_current`,
/// after Hanuschkin et al. 2010, Eq. 5). 585.4 pA/mV for the microcircuit's neurons.
pub fn psc_over_psp(c_m_pf: f64, tau_m_ms: f64, tau_syn_ms: f64) -> f64 {
    let sub = 1.0 / (tau_syn_ms - tau_m_ms);
    let pre = tau_m_ms * tau_syn_ms / c_m_pf * sub;
    let frac = (tau_m_ms / tau_syn_ms).powf(sub);
    1.0 / (pre * (frac.powf(tau_m_ms) - frac.powf(tau_syn_ms)))
}

/// Total synapses between populations of `n_pre` and `n_post` neurons connected with
/// probability `p` (reference `helpers.num_synapses_from_conn_probs`; PD14 Eq. 1): the number of
/// independent draws with replacement that leaves a pair unconnected with probability `1 - p`.
pub fn num_synapses_from_conn_prob(p: f64, n_pre: u32, n_post: u32) -> f64 {
    let prod = n_pre as f64 * n_post as f64;
    (1.0 - p).ln() / ((prod - 1.0) / prod).ln()
}

fn check_scale(name: &'static str, value: f64) -> Result<f64, MicrocircuitError> {
    if value.is_finite() && value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err(MicrocircuitError::Scale { name, value })
    }
}

/// The derived parameters at `scale` (neurons; in-degrees at `options.k_scale`, default the
/// same), or why there are none.
pub fn microcircuit_params(
    scale: f64,
    options: &MicrocircuitOptions,
) -> Result<MicrocircuitParams, MicrocircuitError> {
    let scale = check_scale("scale", scale)?;
    let k_scale = check_scale("k_scale", options.k_scale.unwrap_or(scale))?;
    let mut num_neurons = [0u32; N_POPULATIONS];
    for (i, &n) in FULL_NUM_NEURONS.iter().enumerate() {
        num_neurons[i] = (n as f64 * scale).round_ties_even() as u32;
        if num_neurons[i] == 0 {
            let smallest = *FULL_NUM_NEURONS.iter().min().unwrap_or(&1) as f64;
            return Err(MicrocircuitError::Empty {
                scale,
                population: POPULATIONS[i],
                full: n,
                min: 0.5 / smallest,
            });
        }
    }
    let mut full_num_synapses = [[0.0; N_POPULATIONS]; N_POPULATIONS];
    let mut num_synapses = [[0u64; N_POPULATIONS]; N_POPULATIONS];
    for i in 0..N_POPULATIONS {
        for j in 0..N_POPULATIONS {
            let k = num_synapses_from_conn_prob(
                CONN_PROBS[i][j],
                FULL_NUM_NEURONS[j],
                FULL_NUM_NEURONS[i],
            );
            full_num_synapses[i][j] = k;
            num_synapses[i][j] = (k * scale * k_scale).round_ties_even() as u64;
        }
    }
    let ext_indegrees = K_EXT.map(|k| (k as f64 * k_scale).round_ties_even() as u32);
    // PSP -> PSC (reference network.py: PSC_matrix_mean = PSP_matrix_mean * PSC_over_PSP).
    let factor = psc_over_psp(C_M_PF, TAU_M_MS, TAU_SYN_MS);
    let mut psc_mean = [[0.0; N_POPULATIONS]; N_POPULATIONS];
    let mut delay_mean_ms = [[0.0; N_POPULATIONS]; N_POPULATIONS];
    for i in 0..N_POPULATIONS {
        for j in 0..N_POPULATIONS {
            // Even columns are excitatory sources, odd ones inhibitory (network_params.py,
            // get_exc_inh_matrix); the L4E -> L2/3E PSP is doubled (PSP_matrix_mean[0, 2]).
            let (psp, d) = if j % 2 == 0 {
                (PSP_EXC_MEAN_MV, DELAY_EXC_MEAN_MS)
            } else {
                (PSP_EXC_MEAN_MV * G, DELAY_INH_MEAN_MS)
            };
            let psp = if (i, j) == (0, 2) { 2.0 * psp } else { psp };
            psc_mean[i][j] = psp * factor;
            delay_mean_ms[i][j] = d;
        }
    }
    let psc_ext = PSP_EXC_MEAN_MV * factor;
    // DC replacing the Poisson background (helpers.dc_input_compensating_poisson).
    let mut dc_pa = [0.0; N_POPULATIONS];
    if options.background == Background::Dc {
        for i in 0..N_POPULATIONS {
            dc_pa[i] = BG_RATE_HZ * K_EXT[i] as f64 * psc_ext * TAU_SYN_MS * 0.001;
        }
    }
    // Scaled in-degrees (helpers.adjust_weights_and_input_to_synapse_scaling).
    let mut weight_mean_pa = psc_mean;
    let mut weight_ext_pa = psc_ext;
    if k_scale != 1.0 {
        let sq = k_scale.sqrt();
        for i in 0..N_POPULATIONS {
            let mut input_rec = 0.0;
            for j in 0..N_POPULATIONS {
                weight_mean_pa[i][j] = psc_mean[i][j] / sq;
                let indegree = full_num_synapses[i][j] / FULL_NUM_NEURONS[i] as f64;
                input_rec += psc_mean[i][j] * indegree * FULL_MEAN_RATES_HZ[j];
            }
            dc_pa[i] += 0.001 * TAU_SYN_MS * (1.0 - sq) * input_rec;
            if options.background == Background::Poisson {
                let input_ext = psc_ext * K_EXT[i] as f64 * BG_RATE_HZ;
                dc_pa[i] += 0.001 * TAU_SYN_MS * (1.0 - sq) * input_ext;
            }
        }
        weight_ext_pa = psc_ext / sq;
    }
    Ok(MicrocircuitParams {
        scale,
        k_scale,
        num_neurons,
        full_num_synapses,
        num_synapses,
        weight_mean_pa,
        delay_mean_ms,
        ext_indegrees,
        weight_ext_pa,
        dc_pa,
        background: options.background,
    })
}

/// The microcircuit at `scale` (`N_scaling`; in-degrees scaled by `options.k_scale`, by default
/// the same) as a [`NetworkSpec`]: 8 `lif_exp` populations (NEST's `iaf_psc_exp` propagators),
/// one `fixed_total_number` projection per pair with a non-zero synapse count (target-major
/// order, as the reference connects them), truncated-normal weights and delays, and the
/// background as Poisson stimuli or DC (`i_e_pa`). Every population's spikes are recorded;
/// `dt = 0.1 ms`, duration 1000 ms. About 77,000 neurons and 3e8 synapses at scale 1.
pub fn microcircuit(
    scale: f64,
    options: &MicrocircuitOptions,
) -> Result<NetworkSpec, MicrocircuitError> {
    let m = microcircuit_params(scale, options)?;
    let populations = (0..N_POPULATIONS)
        .map(|i| {
            let (mean, std) = match options.initial_v {
                InitialV::Optimized => (V0_MEAN_OPTIMIZED_MV[i], V0_STD_OPTIMIZED_MV[i]),
                InitialV::Original => (V0_MEAN_ORIGINAL_MV, V0_STD_ORIGINAL_MV),
            };
            PopulationSpec {
                name: POPULATIONS[i].into(),
                size: m.num_neurons[i],
                shape: None,
                neuron: NeuronModel::LifExp(LifExpParams {
                    tau_m_ms: TAU_M_MS,
                    c_m_pf: C_M_PF,
                    e_l_mv: E_L_MV,
                    v_th_mv: V_TH_MV,
                    v_reset_mv: V_RESET_MV,
                    t_ref_ms: T_REF_MS,
                    tau_syn_ex_ms: TAU_SYN_MS,
                    tau_syn_in_ms: TAU_SYN_MS,
                    i_e_pa: m.dc_pa[i],
                    adaptive_threshold: None,
                }),
                v_init: Some(ValueSpec::Random(Distribution::Normal { mean, std })),
            }
        })
        .collect();
    let mut projections = Vec::new();
    for (i, target) in POPULATIONS.iter().enumerate() {
        for (j, source) in POPULATIONS.iter().enumerate() {
            let n = m.num_synapses[i][j];
            if n == 0 {
                continue;
            }
            let w = m.weight_mean_pa[i][j];
            let d = m.delay_mean_ms[i][j];
            let (low, high) = if w < 0.0 {
                (None, Some(0.0))
            } else {
                (Some(0.0), None)
            };
            projections.push(ProjectionSpec {
                name: Some(format!("{source}->{target}")),
                source: (*source).into(),
                target: (*target).into(),
                connectivity: Connectivity::FixedTotalNumber { n },
                weight: ValueSpec::Random(Distribution::TruncatedNormal {
                    mean: w,
                    std: (w * WEIGHT_REL_STD).abs(),
                    low,
                    high,
                }),
                delay_ms: Some(ValueSpec::Random(Distribution::TruncatedNormal {
                    mean: d,
                    std: d * DELAY_REL_STD,
                    // Reference: redraw below `resolution - 0.5 * resolution`.
                    low: Some(0.5 * DT_MS),
                    high: None,
                })),
                receptor: if j % 2 == 0 {
                    Receptor::Excitatory
                } else {
                    Receptor::Inhibitory
                },
                allow_autapses: true,
                plasticity: None,
            });
        }
    }
    let stimuli = match options.background {
        Background::Dc => Vec::new(),
        Background::Poisson => (0..N_POPULATIONS)
            .map(|i| StimulusSpec::Poisson {
                target: POPULATIONS[i].into(),
                rate_hz: BG_RATE_HZ * m.ext_indegrees[i] as f64,
                weight: m.weight_ext_pa,
                receptor: Receptor::Excitatory,
                start_ms: 0.0,
                stop_ms: None,
            })
            .collect(),
    };
    Ok(NetworkSpec {
        name: Some("microcircuit".into()),
        dt_ms: DT_MS,
        duration_ms: Some(1000.0),
        seed: options.seed,
        populations,
        projections,
        stimuli,
        recording: RecordingSpec::default(),
        readout: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psc_of_the_reference() {
        // 0.15 mV -> 87.81 pA (the reference's PSC_ext; PD14 Table 5: 87.8 pA).
        let w = PSP_EXC_MEAN_MV * psc_over_psp(C_M_PF, TAU_M_MS, TAU_SYN_MS);
        assert!((w - 87.81).abs() < 0.01, "{w}");
    }

    #[test]
    fn full_scale_counts() {
        let m = microcircuit_params(1.0, &MicrocircuitOptions::default()).unwrap();
        assert_eq!(m.num_neurons, FULL_NUM_NEURONS);
        let total: u64 = m.num_synapses.iter().flatten().sum();
        // PD14: "about 0.3 billion synapses".
        assert!((2.9e8..3.1e8).contains(&(total as f64)), "{total}");
        assert_eq!(
            m.dc_pa, [0.0; N_POPULATIONS],
            "no compensation at full scale"
        );
        assert_eq!(m.weight_mean_pa[0][2], 2.0 * m.weight_mean_pa[1][2]);
        assert_eq!(m.weight_mean_pa[0][1], G * m.weight_mean_pa[0][0]);
    }

    #[test]
    fn scaled_in_degrees_get_dc_compensation() {
        let m = microcircuit_params(0.1, &MicrocircuitOptions::default()).unwrap();
        let full = microcircuit_params(1.0, &MicrocircuitOptions::default()).unwrap();
        assert_eq!(m.num_neurons[0], 2068);
        for (i, k_ext) in K_EXT.iter().enumerate() {
            assert!(m.dc_pa[i] > 0.0);
            assert!(
                (m.weight_mean_pa[i][0] - full.weight_mean_pa[i][0] / 0.1f64.sqrt()).abs() < 1e-9
            );
            assert_eq!(m.ext_indegrees[i], k_ext / 10);
        }
    }

    #[test]
    fn bad_scales_are_refused() {
        let o = MicrocircuitOptions::default();
        for s in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
            let e = microcircuit(s, &o).unwrap_err();
            assert!(
                e.to_string().contains("scale must be a number in (0, 1]"),
                "{e}"
            );
        }
        let e = microcircuit(1e-4, &o).unwrap_err();
        assert!(matches!(e, MicrocircuitError::Empty { .. }), "{e}");
        let bad_k = MicrocircuitOptions {
            k_scale: Some(2.0),
            ..o
        };
        assert!(
            microcircuit(0.1, &bad_k)
                .unwrap_err()
                .to_string()
                .contains("k_scale")
        );
    }
}
