//! `snn chip` end to end.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn tmp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const NET: &str = r#"
name = "ff"
dt_ms = 1.0
seed = 3
[[populations]]
name = "in"
size = 50
neuron = { model = "input" }
[[populations]]
name = "h"
size = 300
neuron = { model = "lif_beta", beta = 0.9, threshold = 1.0 }
[[projections]]
source = "in"
target = "h"
connectivity = { rule = "fixed_probability", p = 0.3 }
weight = { dist = "uniform", low = 0.0, high = 0.4 }
[[stimuli]]
kind = "poisson"
target = "in"
rate_hz = 100.0
"#;

fn snn() -> Command {
    Command::cargo_bin("snn").unwrap()
}

fn one_error_line(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"));
    err
}

#[test]
fn runs_and_prints_summary() {
    let work = scratch("chip-runs_and_prints_summary");
    // TrueNorth needs at most 4 distinct weights per neuron: a uniform weight.
    let net = tmp(
        &work,
        "net.toml",
        &NET.replace("{ dist = \"uniform\", low = 0.0, high = 0.4 }", "0.3"),
    );
    for arch in ["loihi", "truenorth"] {
        let out = snn()
            .args(["chip", "--arch", arch])
            .arg(&net)
            .args(["--steps", "20"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{arch}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            s.contains("energy:") && s.contains("synaptic ops") && s.contains("assumptions"),
            "{s}"
        );
    }
}

#[test]
fn json_parses_and_has_the_accounting() {
    let work = scratch("chip-json_parses_and_has");
    let net = tmp(&work, "net2.toml", NET);
    let trace = work.join("trace.csv");
    let out = snn()
        .args([
            "chip", "--arch", "loihi", "--json", "--steps", "15", "--noc", "analytic", "--trace",
        ])
        .arg(&trace)
        .arg(&net)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["steps"], 15);
    assert_eq!(v["noc"], "analytic");
    let c = &v["counts"];
    let u = &v["unit_energy_pj"];
    let syn = c["synaptic_ops"].as_f64().unwrap() * u["synaptic_op"].as_f64().unwrap();
    assert!((syn - v["energy"]["synaptic_pj"].as_f64().unwrap()).abs() < 1e-6 * syn.max(1.0));
    assert!(v["output_spikes"].is_array());
    let t = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(t.lines().count(), 16);
}

#[test]
fn fit_reports_placement() {
    let work = scratch("chip-fit_reports_placement");
    let net = tmp(&work, "net3.toml", NET);
    let out = snn()
        .args(["chip", "--fit"])
        .arg(&net)
        .args(["--arch", "loihi"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("fits") && s.contains("input axons") && s.contains("lif_beta -> loihi_lif"),
        "{s}"
    );
    let out = snn()
        .args(["chip", "--fit", "--json"])
        .arg(&net)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fits"], true);
}

#[test]
fn input_csv_drives_the_network() {
    let work = scratch("chip-input_csv_drives_the");
    let net = tmp(
        &work,
        "net4.toml",
        r#"
        dt_ms = 1.0
        [[populations]]
        name = "in"
        size = 2
        neuron = { model = "input" }
        [[populations]]
        name = "o"
        size = 1
        neuron = { model = "loihi_lif", du = 4095, vth_mant = 100 }
        [[projections]]
        source = "in"
        target = "o"
        connectivity = { rule = "all_to_all" }
        weight = 120
        "#,
    );
    let csv = tmp(&work, "in.csv", "step,neuron\n0,0\n3,1\n");
    let out = snn()
        .args(["chip", "--json", "--steps", "6", "--input"])
        .arg(&csv)
        .arg(&net)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sp: Vec<(u64, u64)> = v["output_spikes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap()))
        .collect();
    assert_eq!(sp, vec![(0, 0), (1, 2), (3, 1), (4, 2)]);
    // A spike on a non-input neuron is refused.
    let bad = tmp(&work, "bad.csv", "2,2\n");
    let err = one_error_line(
        &snn()
            .args(["chip", "--steps", "10", "--input"])
            .arg(&bad)
            .arg(&net)
            .output()
            .unwrap(),
    );
    assert!(err.contains("bad.csv") && err.contains("neuron 2"), "{err}");
    let bad = tmp(&work, "bad2.csv", "x,1\n");
    let err = one_error_line(
        &snn()
            .args(["chip", "--steps", "10", "--input"])
            .arg(&bad)
            .arg(&net)
            .output()
            .unwrap(),
    );
    assert!(err.contains("bad2.csv") && err.contains("line 1"), "{err}");
}

#[test]
fn bad_arch_file_names_file_and_field() {
    let work = scratch("chip-bad_arch_file_names");
    let net = tmp(&work, "net5.toml", NET);
    let arch = tmp(
        &work,
        "arch.toml",
        &snn_arch_text().replace("compartments = 1024", "compartments = -3"),
    );
    let err = one_error_line(
        &snn()
            .args(["chip", "--arch"])
            .arg(&arch)
            .arg(&net)
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("arch.toml") && err.contains("compartments"),
        "{err}"
    );
    let arch = tmp(
        &work,
        "arch2.toml",
        &snn_arch_text().replace("tiles_y = 4", "tiles_y = 0"),
    );
    let err = one_error_line(
        &snn()
            .args(["chip", "--arch"])
            .arg(&arch)
            .arg(&net)
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("arch2.toml") && err.contains("mesh.tiles_y"),
        "{err}"
    );
    // A misspelt preset is a usage error (exit 2).
    let out = snn()
        .args(["chip", "--arch", "nope"])
        .arg(&net)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope") && err.lines().count() == 1, "{err}");
}

fn snn_arch_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../snn-neuromorphic/presets/loihi.toml"
    ))
    .unwrap()
}

#[test]
fn bad_network_is_one_error_line() {
    let work = scratch("chip-bad_network_is_one");
    let net = tmp(&work, "bad_net.toml", &NET.replace("p = 0.3", "p = 3.0"));
    let err = one_error_line(&snn().args(["chip"]).arg(&net).output().unwrap());
    assert!(
        err.contains("bad_net.toml") && err.contains("projections[0]"),
        "{err}"
    );
    // Too big for the chip: every violated limit, the network file named.
    let big = tmp(
        &work,
        "big.toml",
        &NET.replace("size = 300", "size = 200000"),
    );
    let err = one_error_line(
        &snn()
            .args(["chip", "--fit", "--arch", "loihi"])
            .arg(&big)
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("big.toml") && err.contains("does not fit") && err.contains("mesh (cores)"),
        "{err}"
    );
    let good = tmp(&work, "good.toml", NET);
    // A bad flag value is a usage error: exit code 2, one line naming the flag.
    let out = snn()
        .args(["chip", "--noc", "fast"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().count() == 1 && err.starts_with("error: ") && err.contains("--noc"),
        "{err}"
    );
}

fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn fit_of_the_conv_example_prints_per_layer_placement() {
    let net = repo_file("examples/conv_small.toml");
    let out = snn()
        .args(["chip", "--fit"])
        .arg(&net)
        .args(["--arch", "loihi"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("per-layer placement"), "{s}");
    assert!(s.contains("c1               [4,8,8]"), "{s}");
    assert!(
        s.contains("synaptic memory per projection (conv weights: per_synapse)"),
        "{s}"
    );
    let out = snn()
        .args(["chip", "--fit", "--json"])
        .arg(&net)
        .args(["--arch", "loihi"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fits"], true);
    assert_eq!(v["projection_memory"][0]["rule"], "conv2d");
    assert_eq!(v["populations"][1]["shape"], serde_json::json!([4, 8, 8]));
    // The example runs without --input (Poisson stimulus, duration_ms).
    let out = snn()
        .args(["chip", "--arch", "loihi"])
        .arg(&net)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("per-layer placement"));
}

#[test]
fn shared_conv_weights_from_an_arch_file_and_a_bad_value() {
    let work = scratch("chip-shared_conv_weights_from");
    let preset =
        std::fs::read_to_string(repo_file("crates/snn-neuromorphic/presets/loihi.toml")).unwrap();
    assert!(preset.contains("conv_weights = \"per_synapse\""));
    let shared = tmp(
        &work,
        "loihi2ish.toml",
        &preset.replace(
            "conv_weights = \"per_synapse\"",
            "conv_weights = \"shared\"",
        ),
    );
    let net = repo_file("examples/conv_small.toml");
    let out = snn()
        .args(["chip", "--fit"])
        .arg(&net)
        .arg("--arch")
        .arg(&shared)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("(conv weights: shared)") && s.contains("kernel weights"),
        "{s}"
    );
    let bad = tmp(
        &work,
        "badconv.toml",
        &preset.replace(
            "conv_weights = \"per_synapse\"",
            "conv_weights = \"expanded\"",
        ),
    );
    let out = snn()
        .args(["chip", "--fit"])
        .arg(&net)
        .arg("--arch")
        .arg(&bad)
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert!(err.contains("conv_weights"), "{err}");
}

/// The axon-type violation counts the named population's neurons only (it used to count every
/// population's and attribute them all to the worst one) and says what the limit means.
#[test]
fn axon_type_violations_count_the_named_population() {
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/conv_small.toml"
    );
    let out = snn()
        .args(["chip", "--arch", "truenorth", "--fit", spec])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = one_error_line(&out);
    assert!(
        err.contains("population 'c1' (240 neurons over the limit, worst: global neuron 73; 32 more in other populations)")
            && err.contains("core.axon_types needs 9 but the limit is 4")
            && err.contains("at most 4 weight values per neuron"),
        "{err}"
    );
}

/// Output spike counts per class over snnTorch's 25 steps (chip steps 2..27: two synapses).
fn class_counts(spikes: &[(u64, u32)], first_output: u32) -> Vec<u64> {
    let mut c = vec![0u64; 10];
    for &(t, n) in spikes {
        if n >= first_output && (2..27).contains(&t) {
            c[(n - first_output) as usize] += 1;
        }
    }
    c
}

#[test]
fn the_zero_reset_snntorch_import_runs_on_the_chip_as_the_engine_runs_its_quantised_spec() {
    let work = scratch("chip-the_zero_reset_snntorch");
    let nir = repo_file("crates/snn-nir/tests/data/snntorch/digits_mlp.nir");
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file(
            "crates/snn-nir/tests/data/snntorch/digits_mlp_reference.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let input: Vec<(u64, u32)> = reference["samples"][0]["input_spikes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap() as u32))
        .collect();
    let csv: String = std::iter::once("step,neuron\n".to_string())
        .chain(input.iter().map(|(t, n)| format!("{t},{n}\n")))
        .collect();
    let input_csv = tmp(&work, "mlp_in0.csv", &csv);
    let dir = input_csv.parent().unwrap().to_path_buf();
    let (zero, delayed) = (dir.join("mlp_zero.toml"), dir.join("mlp_delayed.toml"));
    for (out, reset) in [(&zero, "zero"), (&delayed, "subtract-delayed")] {
        snn()
            .args(["nir", "import"])
            .arg(&nir)
            .arg("--out")
            .arg(out)
            .args(["--dt-ms", "0.1", "--reset", reset])
            .assert()
            .success();
    }
    // snnTorch's delayed reset still has no chip form (and the per-neuron biases are no
    // longer a problem).
    let out = snn().arg("chip").arg(&delayed).output().unwrap();
    let err = one_error_line(&out);
    assert!(
        err.contains("not supported on the chip (2 problems): populations[1] ('1'): model lif_beta with reset subtract_delayed (snnTorch's delayed reset) cannot be mapped"),
        "{err}"
    );
    assert!(!err.contains("stimuli"), "{err}");
    // The zero-reset import runs, its per-neuron biases on the chip.
    let out = snn()
        .arg("chip")
        .arg(&zero)
        .arg("--input")
        .arg(&input_csv)
        .args(["--steps", "27", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let chip: Vec<(u64, u32)> = report["output_spikes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap() as u32))
        .collect();
    // (Mixed-sign weights lose their lowest bit as in Lava's bit-accurate path; before that
    // the counts were [0, 11, 0, 6, 0, 4, 0, 1, 5, 7].)
    assert_eq!(class_counts(&chip, 96), vec![0, 10, 0, 6, 0, 3, 0, 0, 5, 6]);
    // The engine on the quantised spec gives the same spikes.
    let spec = snn_types::NetworkSpec::load(&zero).unwrap();
    let prog =
        snn_neuromorphic::compile(&spec, &snn_neuromorphic::ArchSpec::preset("loihi").unwrap())
            .unwrap();
    let q = prog.quantised_spec();
    assert!(
        prog.fit_summary()
            .contains("per-neuron bias (current stimuli): 31 neurons"),
        "{}",
        prog.fit_summary()
    );
    let mut engine = snn_core::Network::build(&q).unwrap();
    let spikes: Vec<snn_types::Spike> = input
        .iter()
        .map(|&(step, neuron)| snn_types::Spike { step, neuron })
        .collect();
    engine
        .inject_input(0, &snn_types::SpikeRaster::from_spikes(0, 27, &spikes))
        .unwrap();
    let mut raster = snn_types::SpikeRaster::new(0);
    engine.run(27, &mut raster);
    let mut engine_spikes: Vec<(u64, u32)> = raster
        .iter()
        .filter(|s| s.neuron >= 64)
        .map(|s| (s.step, s.neuron))
        .collect();
    let mut chip_spikes: Vec<(u64, u32)> = chip.into_iter().filter(|s| s.1 >= 64).collect();
    engine_spikes.sort_unstable();
    chip_spikes.sort_unstable();
    assert_eq!(chip_spikes, engine_spikes);
}

#[test]
fn write_mapping_then_mapping_gives_the_same_run() {
    let work = scratch("chip-write_mapping_then_mapping");
    let net = tmp(&work, "map_net.toml", NET);
    let dir = scratch("chip-map");
    let map = dir.join("map.toml");
    let run = |extra: &[&str]| {
        let out = snn()
            .args([
                "chip", "--arch", "loihi", "--steps", "20", "--json", "--seed", "5",
            ])
            .arg(&net)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v
    };
    let a = run(&["--write-mapping", map.to_str().unwrap()]);
    let text = std::fs::read_to_string(&map).unwrap();
    assert!(
        text.contains("[[map]]") && text.contains("population = \"h\""),
        "{text}"
    );
    // Only the mapping itself is in the directory (no temporary file left).
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    let b = run(&["--mapping", map.to_str().unwrap()]);
    assert_eq!(a["output_spikes"], b["output_spikes"]);
    assert_eq!(a["counts"], b["counts"]);
    assert_eq!(a["placement"], b["placement"]);
    assert!(a["placement_traffic"]["packet_hops"].is_u64());
    // A bad entry: one error line naming the entry.
    let bad = tmp(
        &work,
        "bad_map.toml",
        "[[map]]\npopulation = \"h\"\nneurons = [0, 200]\ncore = 0\n[[map]]\npopulation = \"h\"\nneurons = [100, 300]\ncore = 200\n",
    );
    let out = snn()
        .args(["chip", "--fit", "--arch", "loihi", "--mapping"])
        .arg(&bad)
        .arg(&net)
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert!(
        err.contains("entry [1]")
            && err.contains("core 200 does not exist")
            && err.contains("bad_map.toml"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_network_beyond_one_chip_fits_a_board_and_reports_chip_traffic() {
    let work = scratch("chip-a_network_beyond_one");
    let big = NET.replace("size = 300", "size = 140000").replace(
        "connectivity = { rule = \"fixed_probability\", p = 0.3 }",
        "connectivity = { rule = \"fixed_indegree\", k = 2 }",
    );
    let net = tmp(&work, "big.toml", &big);
    let out = snn()
        .args(["chip", "--fit", "--arch", "loihi"])
        .arg(&net)
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert!(err.contains("more chips: 2 chips"), "{err}");
    let out = snn()
        .args(["chip", "--arch", "loihi_nahuku", "--steps", "5"])
        .arg(&net)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("chip-to-chip:"), "{s}");
    assert!(s.contains("chip   0 -> chip   1"), "{s}");
}

#[test]
fn placement_options_cap_neurons_and_keep_layer_order() {
    let work = scratch("chip-placement_options_cap_neurons");
    let net = tmp(&work, "opts_net.toml", NET);
    let out = snn()
        .args([
            "chip",
            "--fit",
            "--json",
            "--arch",
            "loihi",
            "--max-neurons-per-core",
            "40",
            "--keep-layer-order",
        ])
        .arg(&net)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cores = v["cores"].as_array().unwrap();
    assert_eq!(cores.len(), 300usize.div_ceil(40));
    assert!(cores.iter().all(|c| c["neurons"].as_u64().unwrap() <= 40));
    assert_eq!(v["placement_traffic"]["moves"], 0);
    let out = snn()
        .args(["chip", "--fit", "--max-neurons-per-core", "0"])
        .arg(&net)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn probes_write_u_and_v_into_the_trace() {
    let work = scratch("chip-probes_write_u_and");
    let net = tmp(&work, "probe.toml", NET);
    let trace = net.with_file_name("probe-trace.csv");
    let out = snn()
        .args(["chip", net.to_str().unwrap(), "--steps", "20", "--trace"])
        .arg(&trace)
        .args(["--probe", "h:0..3", "--probe", "h:10"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let csv = std::fs::read_to_string(&trace).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",u:h:0,v:h:0,u:h:1,v:h:1,u:h:2,v:h:2,u:h:10,v:h:10"),
        "{header}"
    );
    assert_eq!(csv.lines().count(), 21);
    // Some membrane moves (integer units).
    let moved = csv.lines().skip(1).any(|l| {
        l.split(',')
            .skip(12)
            .any(|c| c.parse::<i64>().unwrap() != 0)
    });
    assert!(moved, "{csv}");
    // Bad population or index: a usage error naming it (exit 2).
    for (probe, what) in [
        ("x", "no population 'x'"),
        ("h:300", "neuron 300 is out of range: 'h' has 300 neurons"),
        // The first index past the end, and the index as written.
        ("h:0..100000", "neuron 300 is out of range"),
        (
            "h:18446744073709551615",
            "neuron 18446744073709551615 is out of range",
        ),
        ("in", "'in' is an input population"),
        ("h:1..x", "'x' is not a neuron index"),
    ] {
        let out = snn()
            .args(["chip", net.to_str().unwrap(), "--steps", "5", "--trace"])
            .arg(&trace)
            .args(["--probe", probe])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{probe}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(what), "{probe}: {err}");
        assert!(!err.contains("panicked"));
    }
    // --probe with --fit (no run to probe).
    let out = snn()
        .args(["chip", "--fit", net.to_str().unwrap(), "--probe", "h"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // --probe without somewhere to write it.
    let out = snn()
        .args([
            "chip",
            net.to_str().unwrap(),
            "--steps",
            "5",
            "--probe",
            "h",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn accounting_overrides() {
    let work = scratch("chip-accounting_overrides");
    let net = tmp(&work, "acct.toml", NET);
    let json = |extra: &[&str]| -> serde_json::Value {
        let out = snn()
            .args(["chip", net.to_str().unwrap(), "--steps", "10", "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let base = json(&[]);
    let all = json(&[
        "--skip-idle-neurons",
        "false",
        "--spike-out-class",
        "neuron",
    ]);
    assert_eq!(base["accounting"]["skip_idle_neurons"], true);
    assert_eq!(all["accounting"]["skip_idle_neurons"], false);
    assert_eq!(all["accounting"]["spike_out_class"], "neuron");
    let updates = |r: &serde_json::Value| {
        r["counts"]["neuron_updates_active"].as_u64().unwrap()
            + r["counts"]["neuron_updates_inactive"].as_u64().unwrap()
    };
    assert_eq!(updates(&all), 300 * 10);
    assert!(updates(&base) <= updates(&all));
    let out = snn()
        .args(["chip", net.to_str().unwrap(), "--steps", "5"])
        .args(["--spike-out-class", "soma"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected `network` or `neuron`"));
}

#[test]
fn sweep_prints_a_table_json_and_plots() {
    let work = scratch("chip-sweep_prints_a_table");
    let net = tmp(&work, "sweep.toml", NET);
    let dir = net.with_file_name("sweep-plots");
    let out = snn()
        .args(["chip", "sweep", net.to_str().unwrap(), "--steps", "10"])
        .args([
            "--vary",
            "core.compartments=16,64,512",
            "--vary",
            "weight_bits=4,8",
        ])
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("6 points, 10 steps each"), "{text}");
    assert!(text.contains("core.compartments"), "{text}");
    for f in ["energy", "latency", "cores"] {
        for ext in ["svg", "png"] {
            let p = dir.join(format!("{f}.{ext}"));
            assert!(std::fs::metadata(&p).unwrap().len() > 100, "{p:?}");
        }
    }
    // JSON, and the same numbers for any thread count.
    let json = |threads: &str| -> serde_json::Value {
        let out = snn()
            .args(["chip", "sweep", net.to_str().unwrap(), "--steps", "10"])
            .args([
                "--vary",
                "core.compartments=16,64,512",
                "--vary",
                "weight_bits=4,8",
            ])
            .args(["--json", "--threads", threads])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let one = json("1");
    assert_eq!(one["points"].as_array().unwrap().len(), 6);
    assert_eq!(one["points"][0]["values"], serde_json::json!(["16", "4"]));
    assert_eq!(one["points"][0]["cores_used"], 19);
    assert_eq!(one, json("2"));
    // Unknown keys and bad values: usage errors naming them.
    for (vary, what) in [
        ("core.compartmentz=1", "unknown field `compartmentz`"),
        (
            "core.compartments=0",
            "core.compartments: must be at least 1",
        ),
        ("weight_bits=12", "must be in 1..=8"),
        ("compartments", "expected KEY=V1,V2"),
        // A wrong type names the value, not a line of a document the user never wrote.
        (
            "mesh.tiles_x=-1",
            "--vary mesh.tiles_x=-1: invalid value: integer `-1`, expected u32",
        ),
        (
            "core.compartments=1e3",
            "--vary core.compartments=1e3: invalid type: floating point `1000.0`, expected u32",
        ),
        // An integer beyond 64 bits is named as such (it became a float and was refused as
        // "invalid type: floating point `18446744073709552000.0`").
        (
            "core.compartments=18446744073709551615",
            "--vary core.compartments=18446744073709551615: the integer is beyond the 64-bit range",
        ),
    ] {
        let out = snn()
            .args(["chip", "sweep", net.to_str().unwrap(), "--steps", "5"])
            .args(["--vary", vary])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{vary}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(what), "{vary}: {err}");
        assert!(!err.contains("TOML parse error at line"), "{vary}: {err}");
    }
}

/// `--out` that cannot hold the plots is a usage error before any point runs (it used to fail
/// after the whole sweep, with the table lost).
#[test]
fn sweep_out_that_cannot_be_created_is_refused_before_running() {
    let work = scratch("chip-sweep_out_that_cannot");
    let net = tmp(&work, "sweep-out.toml", NET);
    let file = tmp(&work, "sweep-out-file", "x");
    for out_dir in [file.clone(), file.join("plots"), file.join("a/b")] {
        let out = snn()
            .args(["chip", "sweep", net.to_str().unwrap(), "--steps", "5"])
            .args(["--vary", "core.compartments=64,128,256,512,1024"])
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}: {out:?}", out_dir.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--out"), "{err}");
        // The table is printed before the plots: no table, no point was run.
        assert!(out.stdout.is_empty(), "refused before running");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

/// A misspelt preset is a usage error (exit 2), for `snn chip` and `snn chip sweep`.
#[test]
fn a_misspelt_arch_preset_is_a_usage_error() {
    let work = scratch("chip-a_misspelt_arch_preset");
    let net = tmp(&work, "arch-typo.toml", NET);
    for args in [
        vec![
            "chip",
            net.to_str().unwrap(),
            "--fit",
            "--arch",
            "loihi_nahku",
        ],
        vec![
            "chip",
            "sweep",
            net.to_str().unwrap(),
            "--arch",
            "lohi",
            "--vary",
            "weight_bits=4,8",
        ],
    ] {
        let out = snn().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--arch: unknown architecture preset") && err.contains("loihi_nahuku"),
            "{err}"
        );
    }
}

/// Input spikes are checked once before the sweep: a spike on a non-input neuron is an error
/// naming the file even when no point fits (it used to be ignored then, and otherwise found only
/// after every point had compiled, without the file's name).
#[test]
fn sweep_checks_the_input_file_before_any_point() {
    let work = scratch("chip-sweep_checks_the_input");
    let net = tmp(&work, "sweep-input.toml", NET);
    let bad = tmp(&work, "sweep-bad-input.csv", "step,neuron\n0,200\n");
    // One compartment per core: 300 cores on a 128-core chip, so no point fits.
    let out = snn()
        .args(["chip", "sweep", net.to_str().unwrap(), "--steps", "3"])
        .args(["--vary", "core.compartments=1"])
        .arg("--input")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sweep-bad-input.csv")
            && err.contains("neuron 200 is not in an input population"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// `--max-neurons-per-core` with `--mapping` was silently ignored (the file places every
/// neuron): now a usage error. A mapping written for another architecture gives a warning.
#[test]
fn mapping_conflicts_with_the_placer_cap_and_warns_about_another_arch() {
    let work = scratch("chip-mapping_conflicts_with_the");
    let net = tmp(&work, "map-cap.toml", NET);
    let map = tmp(
        &work,
        "map-cap-map.toml",
        "arch = \"truenorth\"\n[[map]]\npopulation = \"h\"\ncore = 0\n",
    );
    let out = snn()
        .args(["chip", "--fit", net.to_str().unwrap(), "--mapping"])
        .arg(&map)
        .args(["--max-neurons-per-core", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    let out = snn()
        .args(["chip", "--fit", net.to_str().unwrap(), "--mapping"])
        .arg(&map)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("written for 'truenorth', compiling for 'loihi'"),
        "{err}"
    );
}

/// The shipped `examples/board.toml` (docs/chip.md "Systems of several chips") needs two
/// Loihi chips: `--fit` on one chip says so, and the Nahuku board runs it on two.
#[test]
fn the_shipped_board_example_spans_two_chips() {
    let net = repo_file("examples/board.toml");
    let out = snn()
        .args(["chip", "--fit", "--arch", "loihi"])
        .arg(&net)
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert!(err.contains("more chips: 2 chips"), "{err}");
    let out = snn()
        .args(["chip", "--arch", "loihi_nahuku", "--steps", "2"])
        .arg(&net)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("on 2 chips"), "{s}");
}

/// `--fit` only compiles: `--trace` (no file was written), `--input`, `--steps` and the
/// accounting overrides were silently ignored with it.
#[test]
fn fit_refuses_the_options_of_a_run() {
    let work = scratch("chip-fit_refuses_the_options_of_a_run");
    let net = tmp(&work, "net.toml", NET);
    let spikes = tmp(&work, "in.csv", "step,neuron\n0,0\n");
    let trace = work.join("trace.csv");
    for (extra, what) in [
        (
            vec!["--trace", trace.to_str().unwrap()],
            "--trace configures a run",
        ),
        (vec!["--input", spikes.to_str().unwrap()], "--input"),
        (vec!["--steps", "5"], "--steps"),
        (vec!["--skip-idle-neurons", "false"], "--skip-idle-neurons"),
        (
            vec!["--spike-out-class", "neuron", "--steps", "5"],
            "--steps, --spike-out-class configure a run",
        ),
        (vec!["--noc", "analytic"], "--noc configures a run"),
    ] {
        let out = snn()
            .args(["chip", "--fit", net.to_str().unwrap()])
            .args(&extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(what) && err.contains("--fit"),
            "{extra:?}: {err}"
        );
    }
    assert!(!trace.exists());
}
