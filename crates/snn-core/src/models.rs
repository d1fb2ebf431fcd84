//! Ready-made networks.

use snn_types::{
    Connectivity, Distribution, LifExpParams, NetworkSpec, NeuronModel, PopulationSpec,
    ProjectionSpec, Receptor, RecordingSpec, ValueSpec,
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
    let n_exc = (n_neurons as u64 * 4 / 5) as u32;
    let n_inh = n_neurons - n_exc;
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
    });
    let v_init = Some(ValueSpec::Random(Distribution::Uniform {
        low: -60.0,
        high: -50.0,
    }));
    let pop = |name: &str, size| PopulationSpec {
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
    };
    let mut populations = vec![pop("exc", n_exc)];
    let mut projections = vec![prj("exc", "exc", 1.62, Receptor::Excitatory)];
    if n_inh > 0 {
        populations.push(pop("inh", n_inh));
        projections.extend([
            prj("exc", "inh", 1.62, Receptor::Excitatory),
            prj("inh", "exc", -9.0, Receptor::Inhibitory),
            prj("inh", "inh", -9.0, Receptor::Inhibitory),
        ]);
    }
    NetworkSpec {
        name: Some("cuba".into()),
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
