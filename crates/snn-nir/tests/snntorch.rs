//! The snnTorch network of `tests/data/snntorch` (64-32-10 on the 8x8 digits, exported by
//! `snntorch.export_to_nir`, see `make_snntorch.py`) imported with snnTorch's reset order
//! reproduces snnTorch's spikes exactly on the engine.

use std::path::Path;

use snn_core::Network;
use snn_nir::{Discretisation, ImportOptions, import_file};
use snn_types::{ResetMode, Spike, SpikeRaster};

fn data(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn options() -> ImportOptions {
    ImportOptions {
        dt_ms: Some(0.1), // snntorch.export_to_nir assumes dt = 1e-4 s
        discretisation: Some(Discretisation::Euler),
        reset: Some(ResetMode::SubtractDelayed),
        ..ImportOptions::default()
    }
}

fn pairs(v: &serde_json::Value) -> Vec<(u64, u32)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap() as u32))
        .collect()
}

/// Imports `digits_<net>.nir`, runs the 40 reference samples and compares every hidden and
/// output spike with snnTorch's.
fn reproduce(net: &str, names: [&str; 3]) {
    let spec = import_file(&data(&format!("snntorch/digits_{net}.nir")), &options()).unwrap();
    let got: Vec<&str> = spec.populations.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(got, names);
    let readout = spec.readout.as_ref().expect("a classifier gets a readout");
    assert_eq!(readout.population, names[2]);
    assert_eq!(readout.input_shift_ms, 0.2);
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data(&format!("snntorch/digits_{net}_reference.json"))).unwrap(),
    )
    .unwrap();
    let steps = reference["steps"].as_u64().unwrap();
    let mut engine = Network::build(&spec).unwrap();
    let offsets = spec.population_offsets();
    let samples = reference["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 40);
    for (s, sample) in samples.iter().enumerate() {
        engine.reset();
        let input: Vec<Spike> = pairs(&sample["input_spikes"])
            .into_iter()
            .map(|(step, neuron)| Spike { step, neuron })
            .collect();
        engine
            .inject_input(0, &SpikeRaster::from_spikes(0, steps, &input))
            .unwrap();
        let mut raster = SpikeRaster::new(0);
        engine.run(steps + 2, &mut raster);
        // snnTorch step t of layer l is engine step t + l (one step per synapse).
        let mut hidden = Vec::new();
        let mut output = Vec::new();
        for sp in raster.iter() {
            let g = sp.neuron as u64;
            if (offsets[1]..offsets[2]).contains(&g) {
                hidden.push((sp.step - 1, (g - offsets[1]) as u32));
            } else if g >= offsets[2] {
                output.push((sp.step - 2, (g - offsets[2]) as u32));
            }
        }
        hidden.retain(|&(t, _)| t < steps);
        output.retain(|&(t, _)| t < steps);
        hidden.sort();
        output.sort();
        let mut want_h = pairs(&sample["hidden_spikes"]);
        let mut want_o = pairs(&sample["output_spikes"]);
        want_h.sort();
        want_o.sort();
        assert_eq!(hidden, want_h, "sample {s}: hidden spike trains");
        assert_eq!(output, want_o, "sample {s}: output spike trains");
        let mut counts = vec![0u64; 10];
        for &(_, k) in &output {
            counts[k as usize] += 1;
        }
        let want: Vec<u64> = sample["output_spike_counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(counts, want, "sample {s}: output spike counts");
        if s < 5 {
            println!(
                "{net} sample {s} (label {}): engine {counts:?}, snnTorch {want:?}",
                sample["label"]
            );
        }
    }
}

#[test]
fn snntorch_mlp_spike_trains_are_reproduced_exactly() {
    reproduce("mlp", ["input", "1", "3"]);
}

#[test]
fn snntorch_conv_spike_trains_are_reproduced_exactly() {
    // Conv2d (4 x 3 x 3, per-channel bias) -> Leaky [4, 6, 6] -> Flatten -> Linear -> Leaky.
    let spec = import_file(&data("snntorch/digits_conv.nir"), &options()).unwrap();
    assert!(matches!(
        spec.projections[0].connectivity,
        snn_types::Connectivity::Conv2d {
            out_channels: 4,
            kernel: [3, 3],
            ..
        }
    ));
    assert_eq!(spec.populations[1].shape, Some([4, 6, 6]));
    reproduce("conv", ["input", "1", "4"]);
}

#[test]
fn snntorch_mlp_with_the_engines_own_reset_differs() {
    // The delayed reset matters: with reset by subtraction in the same step (the reset is then
    // multiplied by beta), the spike trains differ from snnTorch's on some sample.
    let mut opts = options();
    opts.reset = Some(ResetMode::Subtract);
    let spec = import_file(&data("snntorch/digits_mlp.nir"), &opts).unwrap();
    let delayed = import_file(&data("snntorch/digits_mlp.nir"), &options()).unwrap();
    let run = |spec: &snn_types::NetworkSpec| {
        let mut net = Network::build(spec).unwrap();
        let input: Vec<Spike> = (0..25u64)
            .flat_map(|t| {
                (0..64u32)
                    .filter(move |i| (t + *i as u64).is_multiple_of(3))
                    .map(move |neuron| Spike { step: t, neuron })
            })
            .collect();
        net.inject_input(0, &SpikeRaster::from_spikes(0, 25, &input))
            .unwrap();
        let mut raster = SpikeRaster::new(0);
        net.run(27, &mut raster);
        raster.iter().collect::<Vec<_>>()
    };
    assert_ne!(run(&spec), run(&delayed));
}
