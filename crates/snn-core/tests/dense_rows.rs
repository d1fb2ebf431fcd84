//! Rows whose targets form one contiguous range (all-to-all and dense projections) are
//! delivered as a vector add; a row that holds a target twice never is, even when its first and
//! last targets span exactly its length.

use snn_core::Network;
use snn_types::{NetworkSpec, SpikeRaster};

/// Three inputs fire at step 0 onto `lif_beta` neurons with `beta = 1` (pure integrators that
/// never fire), so the membrane after two steps is the sum of the weights each neuron received.
fn membrane_after_input(connectivity: &str, weight: &str, n_out: u32, threads: usize) -> Vec<f32> {
    let spec = NetworkSpec::from_toml_str(&format!(
        r#"
        dt_ms = 1.0
        [[populations]]
        name = "in"
        size = 3
        neuron = {{ model = "input" }}
        [[populations]]
        name = "out"
        size = {n_out}
        neuron = {{ model = "lif_beta", beta = 1.0, threshold = 1e9 }}
        [[projections]]
        source = "in"
        target = "out"
        connectivity = {connectivity}
        weight = {weight}
        [[stimuli]]
        kind = "spike_array"
        target = "in"
        spikes = [{{ neuron = 0, times_ms = [0.0] }}, {{ neuron = 1, times_ms = [0.0] }},
                  {{ neuron = 2, times_ms = [0.0] }}]
        "#
    ))
    .unwrap();
    spec.validate().unwrap();
    let mut net = Network::build_with_threads(&spec, threads).unwrap();
    net.run(3, &mut SpikeRaster::new(0));
    net.membrane(1)
}

#[test]
fn a_row_with_a_repeated_target_is_not_taken_for_a_range() {
    // Row 0 is [0, 0, 2]: first and last differ by len - 1, yet target 1 gets nothing.
    let conn = r#"{ rule = "explicit", sources = [0, 0, 0], targets = [0, 0, 2], weights = [1.0, 2.0, 4.0] }"#;
    for threads in [1, 2, 3] {
        assert_eq!(
            membrane_after_input(conn, "1.0", 3, threads),
            vec![3.0, 0.0, 4.0],
            "{threads} threads"
        );
    }
}

#[test]
fn dense_and_all_to_all_rows_deliver_every_weight_once() {
    // A dense 3 x 5 matrix (no zeros: every row is the range 0..5).
    let w = [
        [0.5f32, 0.25, 1.0, 2.0, 4.0],
        [8.0, 16.0, 32.0, 64.0, 128.0],
        [256.0, 512.0, 1024.0, 2048.0, 4096.0],
    ];
    let rows: Vec<String> = w
        .iter()
        .map(|r| format!("[{}]", r.map(|x| format!("{x:?}")).join(", ")))
        .collect();
    let conn = format!(r#"{{ rule = "dense", weights = [{}] }}"#, rows.join(", "));
    let want: Vec<f32> = (0..5).map(|j| w[0][j] + w[1][j] + w[2][j]).collect();
    for threads in [1, 2, 4] {
        assert_eq!(membrane_after_input(&conn, "1.0", 5, threads), want);
        // All-to-all with a uniform weight.
        assert_eq!(
            membrane_after_input(r#"{ rule = "all_to_all" }"#, "0.5", 5, threads),
            vec![1.5; 5]
        );
    }
    // Rows with gaps (the scatter loop) give what the range loop gives for the shared targets.
    let gaps = r#"{ rule = "explicit", sources = [0, 0, 1, 2, 2], targets = [0, 2, 2, 0, 4], weights = [1.0, 2.0, 4.0, 8.0, 16.0] }"#;
    assert_eq!(
        membrane_after_input(gaps, "1.0", 5, 1),
        vec![9.0, 0.0, 6.0, 0.0, 16.0]
    );
}
