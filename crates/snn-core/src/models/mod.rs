//! Ready-made networks.

use snn_types::{
    CondIntegration, Connectivity, Distribution, LifCondExpParams, LifExpParams, NetworkSpec,
    NeuronModel, PopulationSpec, ProjectionSpec, Receptor, RecordingSpec, StimulusSpec, ValueSpec,
};

/// The CUBA benchmark network (Vogels & Abbott 2005, benchmark 2 of Brette et al. 2007), as in
/// Brian2's CUBA example, with `n_neurons` neurons (4000 in the benchmark): 80% excitatory, 20%
/// inhibitory, connection probability 0.02 between every pair of neurons (no autapses),
///
/// ```text
/// dv/dt = (ge + gi - (v - E_L)) / tau_m     dge/dt = -ge / tau_e     dgi/dt = -gi / tau_i
/// ```
///
/// with `tau_m = 20 ms`, `tau_e = 5 ms`, `tau_i = 10 ms`, `E_L = -49 mV`, `V_th = -50 mV`,
/// `V_reset = -60 mV`, refractory 5 ms, a spike adding `w_e = 1.62 mV` to `ge` or `w_i = -9 mV`
/// to `gi` of its targets after one step, `dt = 0.1 ms`, initial `v` uniform in
/// `[V_reset, V_th]`. Expressed as `lif_exp` neurons with `C_m = 20 pF` so that the membrane
/// resistance `tau_m / C_m` is 1 GOhm and weights in pA equal Brian2's jumps in mV. The same
/// network is shipped as `examples/cuba.toml`.
pub fn cuba(n_neurons: u32, seed: u64) -> NetworkSpec {
    let neuron = NeuronModel::LifExp(LifExpParams {
        tau_m_ms: 20.0,
        c_m_pf: 20.0,
        e_l_mv: -49.0,
        v_th_mv: -50.0,
        v_reset_mv: -60.0,
        t_ref_ms: 5.0,
        tau_syn_ex_ms: 5.0,
        tau_syn_in_ms: 10.0,
        i_e_pa: 0.0,
        adaptive_threshold: None,
    });
    vogels_abbott("cuba", n_neurons, seed, neuron, 1.62, -9.0)
}

/// The network shared by CUBA and COBA: `n_neurons` neurons of one model, 80% excitatory
/// (`exc`) and 20% inhibitory (`inh`), every ordered pair connected with probability 0.02 (no
/// autapses), excitatory weight `w_e` and inhibitory weight `w_i` on their receptors, one-step
/// (0.1 ms) delays, initial `v` uniform in `[-60, -50]` mV, `dt = 0.1 ms`, 1 s.
fn vogels_abbott(
    name: &str,
    n_neurons: u32,
    seed: u64,
    neuron: NeuronModel,
    w_e: f64,
    w_i: f64,
) -> NetworkSpec {
    let n_exc = (n_neurons as u64 * 4 / 5) as u32;
    let n_inh = n_neurons - n_exc;
    let v_init = Some(ValueSpec::Random(Distribution::Uniform {
        low: -60.0,
        high: -50.0,
    }));
    let pop = |name: &str, size| PopulationSpec {
        shape: None,
        name: name.into(),
        size,
        neuron: neuron.clone(),
        v_init,
    };
    let prj = |s: &str, t: &str, w: f64, receptor| ProjectionSpec {
        name: None,
        source: s.into(),
        target: t.into(),
        connectivity: Connectivity::FixedProbability { p: 0.02 },
        weight: ValueSpec::Constant(w),
        delay_ms: Some(ValueSpec::Constant(0.1)),
        receptor,
        allow_autapses: false,
        plasticity: None,
    };
    let mut populations = vec![pop("exc", n_exc)];
    let mut projections = vec![prj("exc", "exc", w_e, Receptor::Excitatory)];
    if n_inh > 0 {
        populations.push(pop("inh", n_inh));
        projections.extend([
            prj("exc", "inh", w_e, Receptor::Excitatory),
            prj("inh", "exc", w_i, Receptor::Inhibitory),
            prj("inh", "inh", w_i, Receptor::Inhibitory),
        ]);
    }
    NetworkSpec {
        name: Some(name.into()),
        dt_ms: 0.1,
        duration_ms: Some(1000.0),
        seed,
        populations,
        projections,
        stimuli: Vec::new(),
        recording: RecordingSpec::default(),
        readout: None,
    }
}

/// The COBA benchmark network (Vogels & Abbott 2005, benchmark 1 of Brette et al. 2007), as in
/// Brian's COBA example, with `n_neurons` neurons (4000 in the benchmark): 80% excitatory, 20%
/// inhibitory, connection probability 0.02 between every pair of neurons (no autapses), and
/// `lif_cond_exp` neurons
///
/// ```text
/// C_m dV/dt = -g_L (V - E_L) - g_ex (V - E_ex) - g_in (V - E_in)
/// dg_ex/dt = -g_ex / tau_ex      dg_in/dt = -g_in / tau_in
/// ```
///
/// with `C_m = 200 pF`, `g_L = 10 nS` (so `tau_m = 20 ms`), `E_L = -60 mV`, `V_th = -50 mV`,
/// `V_reset = -60 mV`, refractory 5 ms, `E_ex = 0 mV`, `E_in = -80 mV`, `tau_ex = 5 ms`,
/// `tau_in = 10 ms`. A spike adds `w_e = 6 nS` to `g_ex` or `w_i = 67 nS` to `g_in` of its
/// targets after one step: Brian's `we = 0.6`, `wi = 6.7` in units of `g_L` (Brette et al.'s
/// 6 nS and 67 nS). `dt = 0.1 ms`, initial `V` uniform in `[-60, -50]` mV. `V` is integrated by
/// exponential Euler with the Padé factor ([`CondIntegration::Pade`]). At 18 Hz a neuron sees
/// on average about 35 nS of excitatory and 190 nS of inhibitory conductance (64 and 16 inputs),
/// so `z = h G / C_m` is about 0.12, where the factor differs from exponential Euler's `exp(-z)`
/// by about `z^5 / 120` (2e-7) of `V - V_inf` per step, far below the step-mean error both
/// schemes share; it needs no `exp` (COBA runs about 30% faster at the same rate;
/// docs/benchmarks.md).
///
/// With `E_L` below threshold and no initial conductances the network would stay silent, so, as
/// in Brette et al. (2007), it is started by external input during the first 50 ms: every neuron
/// receives independent Poisson spikes at 100 Hz of weight `w_e` on its excitatory receptor.
/// After that the activity is self-sustained (about 18 Hz for `coba(4000, 1)`). The same
/// network is shipped as `examples/coba.toml`.
pub fn coba(n_neurons: u32, seed: u64) -> NetworkSpec {
    let neuron = NeuronModel::LifCondExp(LifCondExpParams {
        c_m_pf: 200.0,
        g_l_ns: 10.0,
        e_l_mv: -60.0,
        v_th_mv: -50.0,
        v_reset_mv: -60.0,
        t_ref_ms: 5.0,
        e_ex_mv: 0.0,
        e_in_mv: -80.0,
        tau_syn_ex_ms: 5.0,
        tau_syn_in_ms: 10.0,
        i_e_pa: 0.0,
        adaptive_threshold: None,
        input_order: Default::default(),
        integration: CondIntegration::Pade,
    });
    let mut spec = vogels_abbott("coba", n_neurons, seed, neuron, 6.0, 67.0);
    spec.stimuli = spec
        .populations
        .iter()
        .map(|p| StimulusSpec::Poisson {
            target: p.name.clone(),
            rate_hz: 100.0,
            weight: 6.0,
            receptor: Receptor::Excitatory,
            start_ms: 0.0,
            stop_ms: Some(50.0),
        })
        .collect();
    spec
}

/// Shape of the [`nmnist_conv`] network's input: 2 polarities x 34 x 34 pixels (N-MNIST).
pub const NMNIST_CONV_INPUT: [u32; 3] = [2, 34, 34];

/// A convolutional network for N-MNIST events, `2x34x34 - 12C5 - P2 - 32C5 - P2 - 10`:
///
/// | population | shape | from |
/// |---|---|---|
/// | `input` | 2 x 34 x 34 (`input`) | |
/// | `conv1` | 12 x 30 x 30 | `conv2d`, 5 x 5 kernel, 600 weights |
/// | `pool1` | 12 x 15 x 15 | `pool2d`, sum over 2 x 2, weight 0.6 |
/// | `conv2` | 32 x 11 x 11 | `conv2d`, 5 x 5 kernel, 9,600 weights |
/// | `pool2` | 32 x 5 x 5 | `pool2d`, sum over 2 x 2 (stride 2), weight 0.6 |
/// | `out` | 10 | `all_to_all`, weights normal(0, 0.05) |
///
/// Every layer but the input is `lif_beta` (`beta = 0.9`, threshold 1, reset by subtraction),
/// `dt = 1 ms`, one-step delays, 300 ms. The kernels are random but seeded: uniform in
/// `[-0.3, 0.45)` for `conv1` and `[-0.045, 0.05)` for `conv2`, rounded to 4 decimals, drawn from
/// stream `(seed, WeightsDelays, 1000 + layer)`. The input is driven by a 20 Hz Poisson stimulus
/// (a stand-in for recordings; a benchmark that injects N-MNIST events removes it). The
/// untrained network is a workload, not a classifier. Shipped as `examples/nmnist_conv.toml`
/// (seed 1).
///
/// ```
/// let spec = snn_core::models::nmnist_conv(1);
/// spec.validate().unwrap();
/// let net = snn_core::Network::build(&spec).unwrap();
/// assert_eq!(net.n_neurons(), 2312 + 10800 + 2700 + 3872 + 800 + 10);
/// // 1.7 million synapses, stored as 10,200 kernel weights, tap tables and 8,000 dense
/// // synapses (the explicit form would take about 14 MB).
/// assert_eq!(net.n_synapses(), 1_723_600);
/// assert!(net.synapse_memory_bytes() < 120_000);
/// ```
pub fn nmnist_conv(seed: u64) -> NetworkSpec {
    use crate::rng::{StreamKind, stream};
    use rand::RngExt;
    use snn_types::{LifBetaParams, PoolMode};

    let neuron = NeuronModel::LifBeta(LifBetaParams {
        beta: 0.9,
        threshold: 1.0,
        ..Default::default()
    });
    let pop = |name: &str, shape: [u32; 3], neuron: &NeuronModel| PopulationSpec {
        name: name.into(),
        size: shape.iter().product(),
        shape: Some(shape),
        neuron: neuron.clone(),
        v_init: None,
    };
    let kernel = |layer: u64, n: usize, low: f64, high: f64| -> Vec<f64> {
        let mut rng = stream(seed, StreamKind::WeightsDelays, 1000 + layer);
        (0..n)
            .map(|_| ((low + (high - low) * rng.random::<f64>()) * 1e4).round() / 1e4)
            .collect()
    };
    let prj = |s: &str, t: &str, connectivity, weight| ProjectionSpec {
        name: None,
        source: s.into(),
        target: t.into(),
        connectivity,
        weight,
        delay_ms: None,
        receptor: Receptor::Excitatory,
        allow_autapses: false,
        plasticity: None,
    };
    let conv = |out_channels, weights| Connectivity::Conv2d {
        in_shape: None,
        out_channels,
        kernel: [5, 5],
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
        groups: 1,
        weights,
    };
    let pool = || Connectivity::Pool2d {
        in_shape: None,
        mode: PoolMode::Sum,
        kernel: [2, 2],
        stride: None,
        padding: [0, 0],
    };
    let one = ValueSpec::Constant(1.0);
    let pool_w = ValueSpec::Constant(0.6);
    NetworkSpec {
        name: Some("nmnist_conv".into()),
        dt_ms: 1.0,
        duration_ms: Some(300.0),
        seed,
        populations: vec![
            pop("input", NMNIST_CONV_INPUT, &NeuronModel::Input),
            pop("conv1", [12, 30, 30], &neuron),
            pop("pool1", [12, 15, 15], &neuron),
            pop("conv2", [32, 11, 11], &neuron),
            pop("pool2", [32, 5, 5], &neuron),
            PopulationSpec {
                name: "out".into(),
                size: 10,
                shape: None,
                neuron: neuron.clone(),
                v_init: None,
            },
        ],
        projections: vec![
            prj("input", "conv1", conv(12, kernel(0, 600, -0.3, 0.45)), one),
            prj("conv1", "pool1", pool(), pool_w),
            prj(
                "pool1",
                "conv2",
                conv(32, kernel(1, 9600, -0.045, 0.05)),
                one,
            ),
            prj("conv2", "pool2", pool(), pool_w),
            prj(
                "pool2",
                "out",
                Connectivity::AllToAll,
                ValueSpec::Random(Distribution::Normal {
                    mean: 0.0,
                    std: 0.05,
                }),
            ),
        ],
        stimuli: vec![StimulusSpec::Poisson {
            target: "input".into(),
            rate_hz: 20.0,
            weight: 1.0,
            receptor: Receptor::Excitatory,
            start_ms: 0.0,
            stop_ms: None,
        }],
        recording: RecordingSpec::default(),
        readout: None,
    }
}

pub mod microcircuit;

pub use microcircuit::{
    Background, InitialV, MicrocircuitError, MicrocircuitOptions, MicrocircuitParams, microcircuit,
    microcircuit_params,
};
