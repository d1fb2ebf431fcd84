//! The targets and their seed inputs. A target returns whether its parser accepted the input
//! (errors are the expected outcome for most inputs); only a panic (or an abort) is a failure.

use std::path::Path;

use snn_core::Network;
use snn_encode::aer::{AerEvent, AerStream, TimestampWidth};
use snn_learn::data::{Dataset, Idx, bin_events, dataset_from_idx, parse_idx, parse_nmnist_small};
use snn_learn::stdp::diehl_cook::{DiehlCook, DiehlCookConfig};
use snn_neuromorphic::{ArchSpec, Chip, NocMode, RunOptions, compile};
use snn_types::file::{self, FrameKind};
use snn_types::{NetworkSpec, Readout, SpikeRaster};

/// Networks larger than this are parsed and validated but not simulated (keeps a case fast).
const MAX_NEURONS: u64 = 2_000;
/// Upper bound of synapses (source x target sizes, or explicit entries) of simulated networks.
const MAX_PAIRS: u64 = 400_000;
const STEPS: u64 = 20;

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Whether a validated spec is small enough to build and run in a fuzz case.
fn small(spec: &NetworkSpec) -> bool {
    if spec.n_neurons() > MAX_NEURONS {
        return false;
    }
    let size = |name: &str| {
        spec.population_index(name)
            .map_or(0, |i| spec.populations[i].size as u64)
    };
    let pairs: u64 = spec
        .projections
        .iter()
        .map(|p| size(&p.source).saturating_mul(size(&p.target)))
        .fold(0u64, u64::saturating_add);
    pairs <= MAX_PAIRS
}

/// What a user does with a valid spec: simulate it, read its readout, put it on a chip. True
/// when the spec is valid.
fn exercise(spec: &NetworkSpec) -> bool {
    if spec.validate().is_err() {
        return false;
    }
    if !small(spec) {
        return true;
    }
    if let Ok(mut net) = Network::build(spec) {
        // Learning rules named by the spec, and the learned network written back as a spec.
        let plastic = match snn_learn::stdp::attach_spec_rules(&mut net, spec) {
            Ok(p) => p,
            Err(e) => panic!("a valid spec's rules must attach: {e}"),
        };
        let mut raster = SpikeRaster::new(0);
        net.run(STEPS, &mut raster);
        if let Ok(r) = Readout::from_spec(spec) {
            let _ = r.predict(&raster);
        }
        if !plastic.is_empty()
            && let Ok(learned) = snn_learn::stdp::learned_spec(spec, &net, &plastic)
        {
            assert!(learned.validate().is_ok(), "a learned spec must be valid");
            let _ = Network::build(&learned);
        }
    }
    if let Ok(arch) = ArchSpec::preset("loihi")
        && let Ok(p) = compile(spec, &arch)
        && let Ok(mut chip) = Chip::new(&p)
    {
        let _ = chip.run(5, &RunOptions::default());
    }
    true
}

/// Network spec, TOML.
pub fn spec_toml(data: &[u8]) -> bool {
    let Ok(spec) = NetworkSpec::from_toml_str(&text(data)) else {
        return false;
    };
    // What was read can be written back and read again.
    if let Ok(t) = spec.to_toml_string() {
        let _ = NetworkSpec::from_toml_str(&t);
    }
    exercise(&spec)
}

/// Network spec, JSON.
pub fn spec_json(data: &[u8]) -> bool {
    match NetworkSpec::from_json_str(&text(data)) {
        Ok(spec) => exercise(&spec),
        Err(_) => false,
    }
}

const SMALL_NET: &str = r#"
    dt_ms = 1.0
    seed = 3
    [[populations]]
    name = "in"
    size = 8
    neuron = { model = "input" }
    [[populations]]
    name = "a"
    size = 12
    neuron = { model = "loihi_lif", du = 3000, dv = 400, vth_mant = 30 }
    [[projections]]
    source = "in"
    target = "a"
    connectivity = { rule = "fixed_probability", p = 0.5 }
    weight = 60
    [[projections]]
    source = "a"
    target = "a"
    connectivity = { rule = "fixed_outdegree", k = 3 }
    weight = -20
    delay_ms = 2.0
    [[stimuli]]
    kind = "poisson"
    target = "in"
    rate_hz = 300.0
"#;

/// Chip architecture, TOML.
pub fn arch_toml(data: &[u8]) -> bool {
    let Ok(arch) = ArchSpec::from_toml_str(&text(data), "fuzz.toml") else {
        return false;
    };
    if arch.validate().is_err() {
        return false;
    }
    if arch.n_cores() > 1 << 16 {
        return true;
    }
    let spec = NetworkSpec::from_toml_str(SMALL_NET).expect("the built-in network parses");
    if let Ok(p) = compile(&spec, &arch) {
        for noc in [NocMode::Cycle, NocMode::Analytic] {
            if let Ok(mut chip) = Chip::new(&p) {
                let _ = chip.run(3, &RunOptions { noc, trace: true });
            }
        }
        let _ = p.fit_summary();
    }
    true
}

/// Training checkpoint.
pub fn checkpoint(data: &[u8]) -> bool {
    let Ok(t) = snn_learn::checkpoint::from_bytes(data, "fuzz.ckpt") else {
        return false;
    };
    let c = &t.model.config;
    // A conv layer's size is not bounded by the file's length (its kernel is small).
    if c.n_inputs > 4096
        || c.steps > 200
        || c.n_outputs > 4096
        || c.hidden.iter().any(|h| h.size > 1 << 16)
    {
        return true;
    }
    // Conv layers of a small file can stand for many neurons: keep the evaluation small (its
    // refusal of what cannot fit is tested in snn-learn).
    if c.eval_memory_bytes(1).is_ok_and(|b| b > 64 << 20) {
        return true;
    }
    // A conv model needs its image shape (the loaders' images have one channel).
    let shape = match c.input_shape {
        Some([1, h, w]) => (h, w),
        _ => (1, c.n_inputs),
    };
    let ds = Dataset {
        features: vec![0.5; 2 * c.n_inputs],
        labels: vec![0, 0],
        n_features: c.n_inputs,
        n_classes: c.n_outputs.clamp(1, 256),
        shape,
    };
    let _ = t.evaluate(&ds, 1);
    true
}

/// Training checkpoint with a valid frame around fuzzed contents: what a checksum cannot catch
/// (a file written wrongly or on purpose).
pub fn checkpoint_body(data: &[u8]) -> bool {
    checkpoint(&file::frame_bytes(
        FrameKind::CHECKPOINT,
        snn_learn::checkpoint::VERSION,
        data,
    ))
}

/// Diehl & Cook weight file.
pub fn stdp_weights(data: &[u8]) -> bool {
    let Ok(m) = DiehlCook::from_bytes(data, "fuzz.stdp") else {
        return false;
    };
    let n = m.n_inputs();
    if n > 4096 || m.n_neurons() > 1024 {
        return true;
    }
    let ds = Dataset {
        features: vec![0.5; n],
        labels: vec![0],
        n_features: n,
        n_classes: 10,
        shape: m.shape(),
    };
    let _ = m.predict(&ds, &|_, _| {});
    true
}

/// Diehl & Cook weight file with a valid frame around fuzzed contents, read as the current
/// format (version 3) and as version 2 (decoded by its own layout).
pub fn stdp_body(data: &[u8]) -> bool {
    let v3 = stdp_weights(&file::frame_bytes(FrameKind::STDP_WEIGHTS, 3, data));
    let v2 = stdp_weights(&file::frame_bytes(FrameKind::STDP_WEIGHTS, 2, data));
    v3 || v2
}

/// IDX array.
pub fn idx(data: &[u8]) -> bool {
    let origin = Path::new("fuzz.idx");
    let Ok(images) = parse_idx(data, origin) else {
        return false;
    };
    let n = images.dims.first().copied().unwrap_or(0);
    // The harness's own label file: as many labels as images, when that is a sane count (a header
    // may announce billions of zero-sized images).
    if n > 1 << 20 {
        return true;
    }
    let labels = Idx {
        dims: vec![n],
        data: (0..n).map(|i| (i % 10) as u8).collect(),
    };
    let _ = dataset_from_idx(&images, &labels, 255.0, 10, origin, origin);
    let _ = dataset_from_idx(&images, &images, 255.0, 256, origin, origin);
    true
}

/// N-MNIST subset container: parse, then bin every recording.
pub fn nmnist(data: &[u8]) -> bool {
    let Ok((train, test)) = parse_nmnist_small(data, "fuzz.bin") else {
        return false;
    };
    for s in train.iter().chain(&test).take(16) {
        let _ = bin_events(&s.events, 5, 300_000);
    }
    true
}

/// Address-event file.
pub fn aer(data: &[u8]) -> bool {
    let Ok(s) = AerStream::from_bytes(data) else {
        return false;
    };
    // Frames cost 2 x width x height counters per bin: only ask for what a case can afford (the
    // library itself refuses what the machine cannot hold).
    if 2 * s.width() as u64 * s.height() as u64 <= 1 << 22 {
        let _ = s.to_frames(0, 1000, 4);
    }
    let _ = s.to_raster(0, 1000, 4);
    true
}

/// Spike CSV.
pub fn spike_csv(data: &[u8]) -> bool {
    snn_neuromorphic::spikes::parse_spike_csv(&text(data), "fuzz.csv").is_ok()
}

/// Seeds: the shipped example, the built-in small network, a spec with every stimulus kind and
/// a readout, and an exported trained classifier.
pub fn spec_toml_seeds() -> Vec<Vec<u8>> {
    spec_seeds()
        .into_iter()
        .filter_map(|s| s.to_toml_string().ok())
        .map(String::into_bytes)
        .chain([
            include_str!("../../../examples/cuba.toml")
                .as_bytes()
                .to_vec(),
            SMALL_NET.as_bytes().to_vec(),
        ])
        .collect()
}

/// Seeds: the TOML seeds as JSON.
pub fn spec_json_seeds() -> Vec<Vec<u8>> {
    spec_seeds()
        .iter()
        .map(|s| s.to_json_string().into_bytes())
        .collect()
}

/// A small convolutional network: input spikes, a strided, padded, grouped conv, a sum pool and an
/// average pool.
const CONV_NET: &str = r#"
    name = "conv"
    dt_ms = 1.0
    duration_ms = 12.0
    seed = 4
    [[populations]]
    name = "in"
    size = 72
    shape = [2, 6, 6]
    neuron = { model = "input" }
    [[populations]]
    name = "c1"
    size = 36
    shape = [4, 3, 3]
    neuron = { model = "lif_beta", beta = 0.8, threshold = 0.5 }
    [[populations]]
    name = "p1"
    size = 4
    neuron = { model = "lif_beta", beta = 0.5, threshold = 0.5 }
    [[populations]]
    name = "p2"
    size = 4
    neuron = { model = "lif_beta", beta = 0.5, threshold = 0.5 }
    [[projections]]
    source = "in"
    target = "c1"
    connectivity = { rule = "conv2d", out_channels = 4, kernel = 3, stride = 2, padding = 1, groups = 2, weights = [0.5, -0.25, 0.75, 0.5, 0.125, 0.25, -0.5, 0.5, 0.25, 0.5, -0.25, 0.75, 0.5, 0.125, 0.25, -0.5, 0.5, 0.25, 0.5, -0.25, 0.75, 0.5, 0.125, 0.25, -0.5, 0.5, 0.25, 0.5, -0.25, 0.75, 0.5, 0.125, 0.25, -0.5, 0.5, 0.25] }
    delay_ms = 2.0
    [[projections]]
    source = "c1"
    target = "p1"
    connectivity = { rule = "pool2d", kernel = 3, mode = "sum" }
    weight = 0.75
    [[projections]]
    source = "c1"
    target = "p2"
    connectivity = { rule = "pool2d", kernel = [3, 3], stride = [1, 1], mode = "average" }
    weight = 2.0
    [[stimuli]]
    kind = "poisson"
    target = "in"
    rate_hz = 300.0
"#;

const EVERY_KIND: &str = r#"
    name = "every-kind"
    dt_ms = 0.5
    duration_ms = 10.0
    seed = 9
    [[populations]]
    name = "in"
    size = 6
    neuron = { model = "input" }
    [[populations]]
    name = "e"
    size = 10
    neuron = { model = "lif_exp", tau_m_ms = 10.0 }
    v_init = { low = -70.0, high = -55.0 }
    [[populations]]
    name = "d"
    size = 10
    neuron = { model = "lif_delta" }
    [[populations]]
    name = "b"
    size = 4
    neuron = { model = "lif_beta", beta = 0.9, threshold = 1.0 }
    [[projections]]
    source = "in"
    target = "e"
    connectivity = { rule = "fixed_indegree", k = 3 }
    weight = { mean = 50.0, std = 10.0 }
    delay_ms = { low = 0.5, high = 3.0 }
    [[projections]]
    source = "e"
    target = "d"
    connectivity = { rule = "one_to_one" }
    weight = 2.0
    [[projections]]
    source = "d"
    target = "b"
    connectivity = { rule = "explicit", sources = [0, 1, 4], targets = [3, 2, 0], weights = [0.5, 0.6, 0.7] }
    [[projections]]
    source = "e"
    target = "e"
    connectivity = { rule = "all_to_all" }
    weight = -3.0
    receptor = "inhibitory"
    [[stimuli]]
    kind = "spike_array"
    target = "in"
    spikes = [{ neuron = 0, times_ms = [0.0, 1.5] }, { neuron = 5, times_ms = [2.0] }]
    [[stimuli]]
    kind = "poisson"
    target = "e"
    rate_hz = 800.0
    weight = 20.0
    [[stimuli]]
    kind = "current"
    target = "d"
    amplitude = 300.0
    start_ms = 1.0
    stop_ms = 5.0
    [[stimuli]]
    kind = "step_current"
    target = "d"
    times_ms = [0.0, 2.0]
    amplitudes = [10.0, 0.0]
    [recording]
    spikes = ["e", "b"]
    state = [{ population = "e", variable = "v", neurons = [0, 1] }]
    rates = ["d"]
"#;

/// A small network with a pair and a triplet rule.
const PLASTIC_NET: &str = r#"
dt_ms = 0.5
seed = 2
[[populations]]
name = "in"
size = 6
neuron = { model = "input" }
[[populations]]
name = "out"
size = 3
neuron = { model = "lif_exp" }
[[projections]]
source = "in"
target = "out"
connectivity = { rule = "all_to_all" }
weight = { dist = "uniform", low = 100.0, high = 300.0 }
delay_ms = { dist = "uniform", low = 0.5, high = 2.0 }
plasticity = { rule = "pair", a_plus = 10.0, a_minus = 11.0, bounds = { w_min = 0.0, w_max = 400.0 }, dependence = { power_law = { mu = 0.5 } } }
[[projections]]
source = "out"
target = "out"
connectivity = { rule = "fixed_probability", p = 0.5 }
weight = 20.0
plasticity = { rule = "triplet", pairing = "nearest", bounds = { w_min = 0.0, w_max = 50.0 } }
[[stimuli]]
kind = "poisson"
target = "in"
rate_hz = 200.0
"#;

fn spec_seeds() -> Vec<NetworkSpec> {
    let mut out: Vec<NetworkSpec> = [EVERY_KIND, SMALL_NET, CONV_NET, PLASTIC_NET]
        .iter()
        .filter_map(|t| NetworkSpec::from_toml_str(t).ok())
        .collect();
    out.push(snn_core::models::cuba(40, 1));
    if let Some(t) = tiny_trainer()
        && let Ok(s) = snn_learn::export::to_network_spec(&t.model, t.config.encoding)
    {
        out.push(s);
    }
    out
}

fn tiny_trainer() -> Option<snn_learn::train::Trainer> {
    use snn_learn::model::{Model, ModelConfig};
    use snn_learn::train::{TrainConfig, Trainer};
    let cfg = ModelConfig::feed_forward(6, &[5], 3, 4);
    let tc = TrainConfig::recipe(1, 2);
    Trainer::new(Model::new(cfg, 2).ok()?, tc).ok()
}

/// Seeds: the architecture presets.
pub fn arch_seeds() -> Vec<Vec<u8>> {
    vec![
        snn_neuromorphic::arch::LOIHI_TOML.as_bytes().to_vec(),
        snn_neuromorphic::arch::TRUENORTH_TOML.as_bytes().to_vec(),
    ]
}

/// A tiny convolutional trainer on 1 x 6 x 6 inputs (`2C3p1-AP2-FC3`): a checkpoint whose
/// small kernel stands for many more neurons.
fn tiny_conv_trainer() -> Option<snn_learn::train::Trainer> {
    use snn_learn::model::{Model, ModelConfig};
    use snn_learn::train::{TrainConfig, Trainer};
    let a = snn_learn::arch::parse("2C3p1-AP2-FC3", [1, 6, 6]).ok()?;
    let mut cfg = ModelConfig::feed_forward(36, &[], a.n_outputs, 4);
    cfg.hidden = a.hidden;
    cfg.input_shape = Some([1, 6, 6]);
    Trainer::new(Model::new(cfg, 3).ok()?, TrainConfig::recipe(1, 2)).ok()
}

/// Seeds: the checkpoints of a tiny dense and a tiny conv trainer.
pub fn checkpoint_seeds() -> Vec<Vec<u8>> {
    [tiny_trainer(), tiny_conv_trainer()]
        .into_iter()
        .flatten()
        .filter_map(|t| snn_learn::checkpoint::to_bytes(&t).ok())
        .collect()
}

/// The body (postcard) of each framed seed of `kind`.
fn bodies(seeds: Vec<Vec<u8>>, kind: FrameKind) -> Vec<Vec<u8>> {
    seeds
        .iter()
        .filter_map(|b| file::decode_frame(b, kind, u32::MAX, "seed").ok())
        .map(|f| f.body.to_vec())
        .collect()
}

/// Seeds: the body of the tiny trainer's checkpoint.
pub fn checkpoint_body_seeds() -> Vec<Vec<u8>> {
    bodies(checkpoint_seeds(), FrameKind::CHECKPOINT)
}

/// Seeds: the body of the tiny Diehl & Cook weight file.
pub fn stdp_body_seeds() -> Vec<Vec<u8>> {
    bodies(stdp_seeds(), FrameKind::STDP_WEIGHTS)
}

/// Seeds: the weight file of a tiny Diehl & Cook network.
pub fn stdp_seeds() -> Vec<Vec<u8>> {
    let cfg = DiehlCookConfig {
        n_neurons: 3,
        ..DiehlCookConfig::digits()
    };
    let Ok(m) = DiehlCook::new(cfg, 4, (2, 2), 2) else {
        return Vec::new();
    };
    // The file format `DiehlCook::save` writes, built in memory (tests run in parallel).
    file::encode_framed(FrameKind::STDP_WEIGHTS, 3, &m)
        .into_iter()
        .collect()
}

/// Seeds: a 3-image 2x2 IDX file and a label file.
pub fn idx_seeds() -> Vec<Vec<u8>> {
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2];
    images.extend((0..12u8).map(|x| x * 20));
    let mut labels = vec![0, 0, 8, 1, 0, 0, 0, 3];
    labels.extend([1, 2, 9]);
    vec![images, labels]
}

/// Seeds: a container of three recordings in both splits (layout in `parse_nmnist_small`).
pub fn nmnist_seeds() -> Vec<Vec<u8>> {
    let mut b = b"NMNS".to_vec();
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&3u32.to_le_bytes());
    for (i, (label, split)) in [(3u8, 0u8), (7, 0), (1, 1)].into_iter().enumerate() {
        b.extend_from_slice(&(i as u32).to_le_bytes());
        b.extend_from_slice(&[label, split]);
        b.extend_from_slice(&4u32.to_le_bytes());
        for k in 0..4u32 {
            let t = k * 70_000 + i as u32;
            b.extend_from_slice(&[
                (k * 9) as u8 % 34,
                (k * 5 + 1) as u8 % 34,
                ((t >> 16) as u8 & 0x7f) | (((k % 2) as u8) << 7),
                (t >> 8) as u8,
                t as u8,
            ]);
        }
    }
    vec![b]
}

/// Seeds: a small event stream in both timestamp widths.
pub fn aer_seeds() -> Vec<Vec<u8>> {
    let events: Vec<AerEvent> = (0..20u64)
        .map(|i| AerEvent {
            t_us: i * 150,
            x: (i % 8) as u16,
            y: (i % 5) as u16,
            on: i % 3 == 0,
        })
        .collect();
    let Ok(s) = AerStream::new(8, 5, events) else {
        return Vec::new();
    };
    [TimestampWidth::U32, TimestampWidth::U64]
        .into_iter()
        .filter_map(|tw| s.to_bytes(tw).ok())
        .collect()
}

/// Seeds: a spike CSV with a header and a comment.
pub fn spike_csv_seeds() -> Vec<Vec<u8>> {
    vec![b"step,neuron\n0,1\n0,3\n# comment\n\n2,0\n7,2\n".to_vec()]
}

/// NIR file (HDF5): read, import with NIR's defaults and with snnTorch's options, exercise the
/// spec, export it and read the export back. Never panics; a corrupt file is an error.
pub fn nir(data: &[u8]) -> bool {
    let Ok(graph) = snn_nir::read_bytes(data.to_vec()) else {
        return false;
    };
    let mut accepted = false;
    for opts in [
        snn_nir::ImportOptions::default(),
        snn_nir::ImportOptions {
            dt_ms: Some(0.1),
            reset: Some(snn_types::ResetMode::SubtractDelayed),
            ..snn_nir::ImportOptions::default()
        },
    ] {
        let Ok(spec) = snn_nir::import_graph(&graph, &opts) else {
            continue;
        };
        accepted = true;
        exercise(&spec);
        if let Ok((g, _)) = snn_nir::export_spec(&spec)
            && let Ok(bytes) = snn_nir::write_bytes(&g)
        {
            let back = snn_nir::read_bytes(bytes).expect("an exported file reads back");
            let _ = snn_nir::import_graph(&back, &opts);
        }
    }
    accepted
}

/// The snnTorch MLP and golden node files of `snn-nir`'s tests.
pub fn nir_seeds() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../../snn-nir/tests/data/snntorch/digits_mlp.nir").to_vec(),
        include_bytes!("../../snn-nir/tests/data/nodes/nested_graph.nir").to_vec(),
        include_bytes!("../../snn-nir/tests/data/nodes/recurrent_graph.nir").to_vec(),
        include_bytes!("../../snn-nir/tests/data/nodes/conv2d_strided.nir").to_vec(),
        include_bytes!("../../snn-nir/tests/data/nodes/avgpool2d.nir").to_vec(),
        include_bytes!("../../snn-nir/tests/data/nodes/delay.nir").to_vec(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_seed_spec_is_valid() {
        for (name, text) in [
            ("EVERY_KIND", EVERY_KIND),
            ("SMALL_NET", SMALL_NET),
            ("CONV_NET", CONV_NET),
        ] {
            let spec = NetworkSpec::from_toml_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            spec.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(exercise(&spec), "{name}");
        }
    }
}
