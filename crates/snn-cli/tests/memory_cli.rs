//! Requests too large for memory: every command that allocates in proportion to its input
//! refuses them before allocating, quickly, with exit code 1 and a message saying how much they
//! would need and how much is available. No test here allocates more than a small network.
//!
//! The budget is pinned with `--max-memory` wherever the request would fit on a machine with
//! terabytes of memory, so the outcome does not depend on the machine.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    Command::cargo_bin("snn").expect("binary built")
}

fn tmp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn repo(rel: &str) -> String {
    format!("{}/../../{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `args`, expects exit code 1 within a few seconds, no panic, and every `expect` in stderr;
/// returns stderr.
fn refused(args: &[&str], expect: &[&str]) -> String {
    let t = Instant::now();
    let out = snn().args(args).output().unwrap();
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
    for e in expect {
        assert!(err.contains(e), "{args:?}: expected '{e}' in: {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

const BIG_POPULATION: &str = r#"
dt_ms = 0.1
[[populations]]
name = "big"
size = 4294967295
neuron = { model = "lif_delta" }
"#;

const SMALL_CHIP_NET: &str = r#"
dt_ms = 1.0
[[populations]]
name = "in"
size = 4
neuron = { model = "input" }
[[populations]]
name = "out"
size = 4
neuron = { model = "loihi_lif" }
[[projections]]
source = "in"
target = "out"
connectivity = { rule = "all_to_all" }
weight = 10
"#;

#[test]
fn validate_reports_a_huge_population_without_building_it() {
    let work = scratch("memory-validate_reports_a_huge");
    let spec = tmp(&work, "big.toml", BIG_POPULATION);
    let out = snn()
        .args(["validate", spec.to_str().unwrap(), "--max-memory", "64G"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("4294967295 neurons")
            && stdout.contains("292 GiB")
            && !stdout.contains("valid;"),
        "{stdout}"
    );
    refused(
        &["validate", spec.to_str().unwrap(), "--max-memory", "64G"],
        &[
            "would need about 292 GiB, more than the 64.0 GiB allowed by --max-memory",
            "population 'big' of 4294967295 neurons",
        ],
    );
}

#[test]
fn simulate_refuses_four_billion_neurons() {
    refused(
        &["simulate", "--neurons", "4000000000", "--max-memory", "64G"],
        &[
            "population 'exc' of 3200000000 neurons needs about 265 GiB",
            "the limit is 64.0 GiB",
        ],
    );
}

#[test]
fn encode_refuses_four_billion_steps() {
    refused(
        &["encode", "--steps", "4294967295", "--max-memory", "64G"],
        &[
            "encoding 64 features over 4294967295 steps needs about 1.03 TiB",
            "the limit is 64.0 GiB",
        ],
    );
    // Time to first spike keeps one spike per feature: the raster's offsets alone are 32 GiB.
    refused(
        &[
            "encode",
            "--scheme",
            "ttfs",
            "--steps",
            "4294967295",
            "--max-memory",
            "16G",
        ],
        &["needs about 32.0 GiB"],
    );
}

#[test]
fn chip_refuses_a_huge_mesh_and_a_huge_step_count() {
    let work = scratch("memory-chip_refuses_a_huge");
    let net = tmp(&work, "small.toml", SMALL_CHIP_NET);
    let loihi = std::fs::read_to_string(repo("crates/snn-neuromorphic/presets/loihi.toml"))
        .unwrap()
        .replace("tiles_x = 8", "tiles_x = 46340")
        .replace("tiles_y = 4", "tiles_y = 46340")
        .replace("cores_per_tile = 4", "cores_per_tile = 1")
        .replace("name = \"loihi\"", "name = \"big\"");
    let arch = tmp(&work, "big_arch.toml", &loihi);
    refused(
        &[
            "chip",
            "--arch",
            arch.to_str().unwrap(),
            net.to_str().unwrap(),
            "--steps",
            "10",
            "--max-memory",
            "64G",
        ],
        &["architecture 'big' with a 46340 x 46340 mesh (2147395600 tiles) needs about 624 GiB"],
    );
    // Sizing the network for that architecture allocates no mesh: it still works.
    snn()
        .args([
            "chip",
            "--arch",
            arch.to_str().unwrap(),
            net.to_str().unwrap(),
            "--fit",
        ])
        .assert()
        .success();
    // 2^64 - 1 steps can never be held, whatever the machine: no --max-memory needed.
    refused(
        &[
            "chip",
            net.to_str().unwrap(),
            "--steps",
            "18446744073709551615",
        ],
        &["a chip run of 18446744073709551615 steps needs about 16.0 EiB"],
    );
}

#[test]
fn a_one_megabyte_budget_refuses_cuba_with_the_numbers() {
    let cuba = repo("examples/cuba.toml");
    refused(
        &["simulate", "--max-memory", "1M"],
        &[
            "projection 'exc->exc' of about 204736 synapses needs about 1.61 MiB",
            "the limit is 1.00 MiB (set by --max-memory)",
        ],
    );
    refused(
        &["validate", &cuba, "--max-memory", "1M"],
        &["would need about 2.44 MiB, more than the 1.00 MiB allowed by --max-memory"],
    );
    refused(
        &["chip", &cuba, "--arch", "loihi", "--max-memory", "1M"],
        &["needs about", "the limit is 1.00 MiB"],
    );
    // The same network within a sufficient budget runs, and validate prints the estimate.
    let out = snn()
        .args(["validate", &cuba, "--max-memory", "64M"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("4000 neurons") && s.contains("about 319920 synapses") && s.contains("MiB"),
        "{s}"
    );
    snn()
        .args([
            "simulate",
            "--neurons",
            "500",
            "--duration-ms",
            "10",
            "--max-memory",
            "64M",
        ])
        .assert()
        .success();
}

#[test]
fn a_malformed_size_is_a_usage_error() {
    for bad in ["lots", "-1G", "1Q", ""] {
        let out = snn()
            .args(["simulate", &format!("--max-memory={bad}")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--max-memory"), "{err}");
    }
}
