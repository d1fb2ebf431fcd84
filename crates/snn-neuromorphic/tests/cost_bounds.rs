//! Unit costs are bounded by `ArchSpec::validate`, and the run's time accounting saturates rather
//! than wraps: a larger unit latency never gives a shorter modelled time.

use snn_neuromorphic::arch::{LOIHI_TOML, MAX_LATENCY_NS};
use snn_neuromorphic::compile_with;
use snn_neuromorphic::{ArchSpec, Chip, CompileOptions, MapError, NocMode, RunOptions, compile};
use snn_types::NetworkSpec;

const NET: &str = r#"
dt_ms = 1.0
seed = 2
[[populations]]
name = "in"
size = 50
neuron = { model = "input" }
[[populations]]
name = "h"
size = 400
neuron = { model = "lif_beta", beta = 0.9, threshold = 1.0 }
[[projections]]
source = "in"
target = "h"
connectivity = { rule = "all_to_all" }
weight = 0.3
[[stimuli]]
kind = "poisson"
target = "in"
rate_hz = 200.0
"#;

fn total_ns(arch: &ArchSpec, steps: u64) -> f64 {
    let spec = NetworkSpec::from_toml_str(NET).unwrap();
    let prog = compile(&spec, arch).unwrap();
    Chip::new(&prog)
        .unwrap()
        .run(
            steps,
            &RunOptions {
                noc: NocMode::Cycle,
                trace: false,
            },
        )
        .unwrap()
        .total_time_ns
}

#[test]
fn latencies_beyond_the_bound_are_refused_with_their_field() {
    for bad in ["1e30", "1e7", "inf", "nan", "-1.0"] {
        let text = LOIHI_TOML.replace("synaptic_op = 3.5", &format!("synaptic_op = {bad}"));
        assert_ne!(text, LOIHI_TOML);
        let e = ArchSpec::from_toml_str(&text, "test.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("latency_ns.synaptic_op"), "{bad}: {e}");
        // Large values are named in scientific notation, not in dozens of digits.
        assert!(!e.contains("0000000000"), "{bad}: {e}");
    }
    let text = LOIHI_TOML.replace(
        "synaptic_op = 3.5",
        &format!("synaptic_op = {MAX_LATENCY_NS}"),
    );
    ArchSpec::from_toml_str(&text, "test.toml").unwrap();
}

#[test]
fn a_huge_latency_never_gives_a_shorter_time() {
    let small = ArchSpec::preset("loihi").unwrap();
    let mut huge = small.clone();
    huge.latency_ns.synaptic_op = Some(MAX_LATENCY_NS);
    huge.latency_ns.neuron_update_active = Some(MAX_LATENCY_NS);
    huge.latency_ns.packet_in = Some(MAX_LATENCY_NS);
    if let Some(h) = huge.noc.hop_latency_ns.as_mut() {
        h.east_west = MAX_LATENCY_NS;
        h.north_south = MAX_LATENCY_NS;
    }
    huge.validate().unwrap();
    let (t_small, t_huge) = (total_ns(&small, 200), total_ns(&huge, 200));
    assert!(t_small > 0.0 && t_small.is_finite());
    assert!(t_huge > t_small, "huge {t_huge} ns vs small {t_small} ns");
    // Beyond u64 picoseconds the clock saturates: still not shorter.
    assert!(t_huge <= u64::MAX as f64 / 1000.0 + 1.0);
}

#[test]
fn weight_bits_outside_the_architecture_are_refused() {
    let spec = NetworkSpec::from_toml_str(NET).unwrap();
    let arch = ArchSpec::preset("loihi").unwrap();
    for b in [0, arch.core.weight_bits + 1, 99] {
        let e = compile_with(
            &spec,
            &arch,
            &CompileOptions {
                num_weight_bits: Some(b),
                max_neurons_per_core: None,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                MapError::BadOption {
                    option: "num_weight_bits",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("1..=8"), "{e}");
    }
}
