//! Conv and pool projections in the engine: stored as a kernel, delivered bit-identically to the
//! same projection expanded into explicit synapses, for any thread count; their memory, synapse
//! counts and errors.
//!
//! The property test's case count is `SNN_CONV_CASES` (default 24).

use proptest::prelude::*;
use snn_core::connect::{build_projection, expand_projection};
use snn_core::memory::NetworkMemory;
use snn_core::{BuildError, Network, Plasticity, RunStats};
use snn_types::{
    Connectivity, LifBetaParams, LifDeltaParams, NetworkSpec, NeuronModel, PoolMode,
    PopulationSpec, ProjectionSpec, Receptor, RecordingSpec, SpikeRaster, StimulusSpec, ValueSpec,
};

fn pop(name: &str, shape: [u32; 3], neuron: NeuronModel) -> PopulationSpec {
    PopulationSpec {
        name: name.into(),
        size: shape.iter().product(),
        shape: Some(shape),
        neuron,
        v_init: None,
    }
}

fn prj(s: &str, t: &str, connectivity: Connectivity, weight: f64, delay: f64) -> ProjectionSpec {
    ProjectionSpec {
        name: None,
        source: s.into(),
        target: t.into(),
        connectivity,
        weight: ValueSpec::Constant(weight),
        delay_ms: Some(ValueSpec::Constant(delay)),
        receptor: Receptor::Excitatory,
        allow_autapses: false,
        plasticity: None,
    }
}

/// The spec with every conv and pool projection rewritten as `explicit` (its synapses from
/// `ConvGeometry::for_each_target`, with the kernel's weight on each).
fn explicit(spec: &NetworkSpec) -> NetworkSpec {
    let mut out = spec.clone();
    for (j, pr) in out.projections.iter_mut().enumerate() {
        let Some(Ok(g)) = spec.projection_geometry(j) else {
            continue;
        };
        let kernel: Vec<f64> = match &pr.connectivity {
            Connectivity::Conv2d { weights, .. } => weights.clone(),
            Connectivity::Pool2d { mode, kernel, .. } => {
                let w = pr.weight.as_constant().unwrap();
                let w = match mode {
                    PoolMode::Sum => w,
                    PoolMode::Average => w / (kernel[0] as f64 * kernel[1] as f64),
                };
                vec![w; g.kernel_len()]
            }
            _ => unreachable!(),
        };
        let (mut sources, mut targets, mut weights) = (Vec::new(), Vec::new(), Vec::new());
        for s in 0..g.n_source() as u32 {
            g.for_each_target(s, |t, k| {
                sources.push(s);
                targets.push(t);
                weights.push(kernel[k as usize]);
            });
        }
        pr.connectivity = Connectivity::Explicit {
            sources,
            targets,
            weights: Some(weights),
            delays_ms: None,
        };
        pr.weight = ValueSpec::Constant(1.0);
    }
    out
}

fn run(spec: &NetworkSpec, threads: usize, steps: u64) -> (SpikeRaster, RunStats, Network) {
    let mut net = Network::build_with_threads(spec, threads).unwrap();
    let mut raster = SpikeRaster::new(0);
    let stats = net.run(steps, &mut raster);
    (raster, stats, net)
}

/// Parameters of one random conv -> pool (-> conv) network.
#[derive(Debug, Clone)]
struct Case {
    in_shape: [u32; 3],
    groups: u32,
    out_per_group: u32,
    kernel: [u32; 2],
    stride: [u32; 2],
    padding: [u32; 2],
    dilation: [u32; 2],
    delays: [u32; 3],
    pool: (PoolMode, [u32; 2], [u32; 2], [u32; 2]),
    second_conv: bool,
    delta: bool,
    weights: Vec<f64>,
    rate_hz: f64,
    threads: usize,
    seed: u64,
}

/// Builds the case's spec, or `None` when a geometry does not fit.
fn case_spec(c: &Case) -> Option<NetworkSpec> {
    let neuron = if c.delta {
        NeuronModel::LifDelta(LifDeltaParams::default())
    } else {
        NeuronModel::LifBeta(LifBetaParams::default())
    };
    let w = |i: usize| c.weights[i % c.weights.len()];
    let co = c.groups * c.out_per_group;
    let g1 = snn_types::ConvGeometry::new(
        c.in_shape, co, c.kernel, c.stride, c.padding, c.dilation, c.groups,
    )
    .ok()?;
    let (mode, pk, ps, pp) = c.pool;
    // Padding at most half the window (PyTorch's rule) keeps every window non-empty.
    let pp = [pp[0].min(pk[0] / 2), pp[1].min(pk[1] / 2)];
    let g2 = snn_types::ConvGeometry::pool(g1.out_shape(), pk, ps, pp).ok()?;
    let scale = if c.delta { 8.0 } else { 1.0 };
    let conv1 = Connectivity::Conv2d {
        in_shape: None,
        out_channels: co,
        kernel: c.kernel,
        stride: c.stride,
        padding: c.padding,
        dilation: c.dilation,
        groups: c.groups,
        weights: (0..g1.kernel_len()).map(|i| w(i) * scale).collect(),
    };
    let pool = Connectivity::Pool2d {
        in_shape: None,
        mode,
        kernel: pk,
        stride: Some(ps),
        padding: pp,
    };
    let mut populations = vec![
        pop("in", c.in_shape, NeuronModel::Input),
        pop("c1", g1.out_shape(), neuron.clone()),
        pop("p1", g2.out_shape(), neuron.clone()),
    ];
    let d = |i: usize| c.delays[i] as f64;
    let mut projections = vec![
        prj("in", "c1", conv1, 1.0, d(0)),
        prj("c1", "p1", pool, 0.7 * scale, d(1)),
    ];
    if c.second_conv {
        let k = [g2.out_shape()[1].min(2), g2.out_shape()[2].min(3)];
        let g3 =
            snn_types::ConvGeometry::new(g2.out_shape(), 2, k, [1, 1], [1, 0], [1, 1], 1).ok()?;
        populations.push(pop("c2", g3.out_shape(), neuron));
        projections.push(prj(
            "p1",
            "c2",
            Connectivity::Conv2d {
                in_shape: None,
                out_channels: 2,
                kernel: k,
                stride: [1, 1],
                padding: [1, 0],
                dilation: [1, 1],
                groups: 1,
                weights: (0..g3.kernel_len()).map(|i| w(i + 7) * scale).collect(),
            },
            1.0,
            d(2),
        ));
    }
    let spec = NetworkSpec {
        name: Some("conv-case".into()),
        dt_ms: 1.0,
        duration_ms: None,
        seed: c.seed,
        populations,
        projections,
        stimuli: vec![StimulusSpec::Poisson {
            target: "in".into(),
            rate_hz: c.rate_hz,
            weight: 1.0,
            receptor: Receptor::Excitatory,
            start_ms: 0.0,
            stop_ms: None,
        }],
        recording: RecordingSpec::default(),
        readout: None,
    };
    spec.validate().ok()?;
    Some(spec)
}

fn pair() -> impl Strategy<Value = [u32; 2]> + Clone {
    (1u32..=3, 1u32..=3).prop_map(|(a, b)| [a, b])
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1u32..=3, 1u32..=3, 3u32..=9, 3u32..=9),
        1u32..=4,
        (pair(), pair(), (0u32..=2, 0u32..=2), (1u32..=2, 1u32..=2)),
        (1u32..=3, 1u32..=3, 1u32..=3),
        (any::<bool>(), pair(), pair(), (0u32..=1, 0u32..=1)),
        (any::<bool>(), any::<bool>()),
        prop::collection::vec(-0.6f64..1.4, 1..40),
        (50.0f64..400.0, 1usize..=4, any::<u64>()),
    )
        .prop_map(
            |(
                (grp, cpg, h, w),
                opg,
                (kernel, stride, padding, dilation),
                (d0, d1, d2),
                (avg, pk, ps, pp),
                (second_conv, delta),
                weights,
                (rate_hz, threads, seed),
            )| {
                Case {
                    in_shape: [grp * cpg, h, w],
                    groups: grp,
                    out_per_group: opg,
                    kernel,
                    stride,
                    padding: [padding.0, padding.1],
                    dilation: [dilation.0, dilation.1],
                    delays: [d0, d1, d2],
                    pool: (
                        if avg {
                            PoolMode::Average
                        } else {
                            PoolMode::Sum
                        },
                        pk,
                        ps,
                        [pp.0, pp.1],
                    ),
                    second_conv,
                    delta,
                    weights,
                    rate_hz,
                    threads,
                    seed,
                }
            },
        )
}

fn cases() -> u32 {
    std::env::var("SNN_CONV_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// The kernel-stored network and the same network with explicit synapses emit the same
    /// spikes (bit-identical membranes drive them) and count the same synaptic events, on any
    /// thread count.
    #[test]
    fn conv_equals_its_explicit_expansion(c in case()) {
        let Some(spec) = case_spec(&c) else {
            return Ok(());
        };
        let steps = 60;
        let (want, want_stats, ex) = run(&explicit(&spec), 1, steps);
        let (got, stats, net) = run(&spec, c.threads, steps);
        prop_assert!(net.projections().iter().all(|p| p.conv().is_some()));
        prop_assert!(ex.projections().iter().all(|p| p.conv().is_none()));
        prop_assert_eq!(&got, &want, "threads {}", c.threads);
        prop_assert_eq!(stats, want_stats);
        prop_assert_eq!(net.n_synapses(), ex.n_synapses());
        for pi in 0..net.populations().len() {
            prop_assert_eq!(net.membrane(pi), ex.membrane(pi));
        }
        // The chip's path: expand_projection gives the explicit network's synapses.
        for j in 0..spec.projections.len() {
            let a = expand_projection(&spec, j).unwrap();
            let b = &ex.projections()[j];
            prop_assert_eq!(a.row_ptr(), b.row_ptr());
            prop_assert_eq!(a.targets(), b.targets());
            prop_assert_eq!(a.weights(), b.weights());
            prop_assert_eq!(a.to_sprs(), net.projections()[j].to_sprs());
        }
        // The memory estimate counts the kernel storage exactly.
        let m = NetworkMemory::estimate(&spec, c.threads);
        for (e, p) in m.projections.iter().zip(net.projections()) {
            prop_assert!(e.kernel_storage);
            prop_assert_eq!(e.storage_bytes, p.memory_bytes() as u64);
            prop_assert_eq!(e.synapses.expected, p.n_synapses() as u64);
        }
        prop_assert_eq!(m.split_bytes, 0);
    }
}

fn small_spec() -> NetworkSpec {
    let c = Case {
        in_shape: [2, 8, 8],
        groups: 1,
        out_per_group: 3,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
        delays: [1, 2, 1],
        pool: (PoolMode::Sum, [2, 2], [2, 2], [0, 0]),
        second_conv: false,
        delta: false,
        weights: vec![0.3, -0.1, 0.5, 0.2],
        rate_hz: 200.0,
        threads: 1,
        seed: 5,
    };
    case_spec(&c).unwrap()
}

#[test]
fn conv_memory_is_the_kernel_and_taps_not_per_synapse() {
    let spec = small_spec();
    let net = Network::build(&spec).unwrap();
    let ex = Network::build(&explicit(&spec)).unwrap();
    let conv = &net.projections()[0];
    let taps = conv.conv().unwrap();
    assert_eq!(taps.geometry().out_shape(), [3, 6, 6]);
    // 2 x 8 x 8 inputs, each reaching up to 3 x 3 x 3 targets: 3 x 2 x 36 x 9 pairs.
    assert_eq!(conv.n_synapses(), 3 * 2 * 36 * 9);
    assert!(conv.row_ptr().is_empty() && conv.targets().is_empty());
    // Kernel (54 f32) + taps: (9 + 9) u32 pointers, 2 x 18 taps of 8 bytes, 8 column runs of 12.
    assert_eq!(conv.memory_bytes(), 54 * 4 + 18 * 4 + 36 * 8 + 8 * 12);
    assert_eq!(net.n_synapses(), ex.n_synapses());
    assert!(net.synapse_memory_bytes() * 10 < ex.synapse_memory_bytes());
    let m = NetworkMemory::estimate(&spec, 1);
    assert_eq!(m.synapse_storage_bytes(), net.synapse_memory_bytes() as u64);
    assert_eq!(
        m.projections[0].expanded_bytes,
        ex.projections()[0].memory_bytes() as u64
    );
    assert!(m.stored_over_index_limit().is_none());
}

struct Nop;
impl Plasticity for Nop {
    fn on_pre(&mut self, _: u64, _: u32, _: usize, _: &[u32], _: &mut [f32]) {}
    fn on_post(&mut self, _: u64, _: u32, _: &[u32], _: &[u32], _: &mut [f32]) {}
}

#[test]
fn plasticity_on_a_conv_projection_is_refused() {
    let mut net = Network::build(&small_spec()).unwrap();
    let e = net.set_plasticity(0, Box::new(Nop)).unwrap_err();
    assert!(matches!(e, BuildError::Request(_)), "{e}");
    assert!(e.to_string().contains("per-synapse weights"), "{e}");
}

#[test]
fn loaded_kernel_weights_change_delivery_like_the_explicit_form() {
    let spec = small_spec();
    let mut net = Network::build(&spec).unwrap();
    let k = net.projection_weights_mut(0).unwrap();
    assert_eq!(k.len(), 54);
    for (i, x) in k.iter_mut().enumerate() {
        *x = 0.05 * (i % 7) as f32;
    }
    let mut changed = spec.clone();
    if let Connectivity::Conv2d { weights, .. } = &mut changed.projections[0].connectivity {
        for (i, x) in weights.iter_mut().enumerate() {
            *x = (0.05 * (i % 7) as f32) as f64;
        }
    }
    let (want, _, _) = run(&explicit(&changed), 1, 50);
    let mut got = SpikeRaster::new(0);
    net.run(50, &mut got);
    assert_eq!(got, want);
}

#[test]
fn inconsistent_shapes_without_validation_give_shape_errors() {
    // The conv's output (3 x 6 x 6 = 108) does not match a target of 100 neurons.
    let mut spec = small_spec();
    spec.populations[1].size = 100;
    spec.populations[1].shape = None;
    for f in [build_projection, expand_projection] {
        let e = f(&spec, 0).unwrap_err();
        assert!(matches!(e, BuildError::Shape(_)), "{e}");
        assert!(e.to_string().contains("108"), "{e}");
    }
    // A kernel of the wrong length.
    let mut spec = small_spec();
    if let Connectivity::Conv2d { weights, .. } = &mut spec.projections[0].connectivity {
        weights.pop();
    }
    let e = build_projection(&spec, 0).unwrap_err();
    assert!(matches!(e, BuildError::Shape(_)), "{e}");
    // An input shape that disagrees with the source population.
    let mut spec = small_spec();
    spec.populations[0].shape = Some([2, 4, 16]);
    spec.populations[0].size = 100;
    let e = build_projection(&spec, 0).unwrap_err();
    assert!(matches!(e, BuildError::Shape(_)), "{e}");
    // A kernel larger than the input.
    let mut spec = small_spec();
    if let Connectivity::Pool2d { kernel, .. } = &mut spec.projections[1].connectivity {
        *kernel = [40, 2];
    }
    let e = build_projection(&spec, 1).unwrap_err();
    assert!(matches!(e, BuildError::Shape(_)), "{e}");
}

#[test]
fn a_random_delay_falls_back_to_explicit_synapses() {
    // Validation refuses it; an unvalidated spec still builds (expanded, per-synapse delays).
    let mut spec = small_spec();
    spec.projections[0].delay_ms = Some(ValueSpec::Random(snn_types::Distribution::Uniform {
        low: 1.0,
        high: 4.0,
    }));
    let p = build_projection(&spec, 0).unwrap();
    assert!(p.conv().is_none());
    assert_eq!(p.n_synapses(), 3 * 2 * 36 * 9);
    assert!(!p.delays().is_uniform());
}

#[test]
fn transpose_index_of_a_conv_matches_its_expansion() {
    let spec = small_spec();
    let net = Network::build(&spec).unwrap();
    for p in net.projections() {
        assert_eq!(p.transpose_index(), p.expanded().unwrap().transpose_index());
    }
}

#[test]
fn shipped_nmnist_conv_example_equals_the_builtin_network() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/nmnist_conv.toml");
    let file = NetworkSpec::load(&path).unwrap();
    assert_eq!(file, snn_core::models::nmnist_conv(1));
}

#[test]
fn nmnist_conv_is_identical_on_two_threads_and_to_its_explicit_form() {
    let mut spec = snn_core::models::nmnist_conv(3);
    spec.recording.spikes = Some(vec!["conv2".into(), "out".into()]);
    let (one, s1, net) = run(&spec, 1, 40);
    let (two, s2, _) = run(&spec, 2, 40);
    assert_eq!(one, two);
    assert_eq!(s1, s2);
    assert!(s1.spikes > 0);
    let (ex, se, exn) = run(&explicit(&spec), 1, 40);
    assert_eq!(one, ex);
    assert_eq!(s1, se);
    let (lib, sl, _) = run(&snn_core::connect::explicit_conv(&spec), 2, 40);
    assert_eq!(one, lib);
    assert_eq!(s1, sl);
    assert!(net.synapse_memory_bytes() * 50 < exn.synapse_memory_bytes());
}
