//! The `snn simulate` and `snn validate` commands, run as a user would.

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    Command::cargo_bin("snn").expect("binary built")
}

fn repo(rel: &str) -> String {
    format!("{}/../../{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn builtin_cuba_json_summary() {
    let out = snn()
        .args([
            "simulate",
            "--neurons",
            "800",
            "--duration-ms",
            "100",
            "--json",
            "--seed",
            "4",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "neurons",
        "synapses",
        "sim_ms",
        "build_s",
        "run_s",
        "spikes",
        "mean_rate_hz",
        "syn_events",
        "syn_events_per_s",
        "threads",
        "seed",
    ] {
        assert!(j.get(key).is_some(), "missing {key} in {j}");
    }
    assert_eq!(j["neurons"], 800);
    assert_eq!(j["sim_ms"], 100.0);
    assert_eq!(j["seed"], 4);
    assert!(j["spikes"].as_u64().unwrap() > 0);
    // p = 0.02 of 800 x 800 pairs (minus autapses) ~ 12784, within 5 sd
    let syn = j["synapses"].as_f64().unwrap();
    assert!((syn - 12_784.0).abs() < 5.0 * 112.0, "{syn}");
}

#[test]
fn raster_file_is_sorted_and_thread_count_independent() {
    let dir = scratch("simulate-raster");
    let mut files = Vec::new();
    for threads in ["1", "2"] {
        let f = dir.join(format!("r{threads}.csv"));
        snn()
            .args([
                "simulate",
                "--neurons",
                "500",
                "--duration-ms",
                "50",
                "--threads",
                threads,
                "--raster",
            ])
            .arg(&f)
            .assert()
            .success();
        files.push(std::fs::read_to_string(&f).unwrap());
        assert_eq!(
            names(&dir),
            files
                .iter()
                .enumerate()
                .map(|(i, _)| format!("r{}.csv", i + 1))
                .collect::<Vec<_>>(),
            "no temporary file of any name is left"
        );
    }
    assert_eq!(files[0], files[1]);
    let mut lines = files[0].lines();
    assert_eq!(lines.next(), Some("step,neuron"));
    let rows: Vec<(u64, u32)> = lines
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert!(!rows.is_empty());
    assert!(
        rows.windows(2).all(|w| w[0] < w[1]),
        "sorted by step then neuron"
    );
}

#[test]
fn spec_file_runs_and_validates() {
    snn()
        .args(["validate", &repo("examples/cuba.toml")])
        .assert()
        .success();
    let out = snn()
        .args([
            "simulate",
            &repo("examples/cuba.toml"),
            "--duration-ms",
            "20",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["neurons"], 4000);
}

fn assert_clean_failure(args: &[&str], code: i32, expect: &str) {
    let out = snn().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(expect),
        "{args:?}: expected '{expect}' in stderr: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

/// Every file name in `d`, sorted.
fn names(d: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_failed_run_keeps_the_previous_raster_and_leaves_no_temporary() {
    let dir = scratch("simulate-keep");
    let f = dir.join("r.csv");
    std::fs::write(&f, "previous\n").unwrap();
    // The raster's temporary exists by the time the bad --plot name is rejected.
    let out = snn()
        .args([
            "simulate",
            "--neurons",
            "100",
            "--duration-ms",
            "5",
            "--raster",
        ])
        .arg(&f)
        .arg("--plot")
        .arg(dir.join("r.gif"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "previous\n");
    assert_eq!(names(&dir), ["r.csv"]);
}

#[test]
fn bad_inputs_fail_cleanly() {
    let dir = scratch("simulate-bad");
    let good = std::fs::read_to_string(repo("examples/cuba.toml")).unwrap();
    let cases = [
        (
            "unknown.toml",
            good.replacen("target = \"inh\"", "target = \"inhib\"", 1),
            "projections[1].target: unknown population 'inhib'",
        ),
        (
            "negtau.toml",
            good.replacen("tau_m_ms = 20.0", "tau_m_ms = -20.0", 1),
            "populations[0].neuron.tau_m_ms: must be > 0",
        ),
        (
            "delay.toml",
            good.replacen("delay_ms = 0.1", "delay_ms = 0.01", 1),
            "projections[0].delay_ms",
        ),
        (
            "nan.toml",
            good.replacen("weight = 1.62", "weight = nan", 1),
            "projections[0].weight: must be a finite number",
        ),
        (
            "truncated.toml",
            good[..good.len() / 3].to_string(),
            "truncated.toml",
        ),
        (
            "bad.json",
            "{\"dt_ms\": 0.1, \"populations\": [".to_string(),
            "bad.json",
        ),
    ];
    for (name, text, expect) in cases {
        let f = dir.join(name);
        std::fs::write(&f, text).unwrap();
        assert_clean_failure(&["simulate", f.to_str().unwrap()], 1, expect);
        assert_clean_failure(&["validate", f.to_str().unwrap()], 1, expect);
    }
    assert_clean_failure(
        &["simulate", "/no/such/file.toml"],
        1,
        "cannot read /no/such/file.toml",
    );
    assert_clean_failure(
        &["simulate", "--threads", "0"],
        2,
        "--threads must be at least 1",
    );
    assert_clean_failure(&["simulate", "--duration-ms=-5"], 2, "--duration-ms -5");
    assert_clean_failure(&["simulate", "--duration-ms", "-5"], 2, "-5");
    assert_clean_failure(
        &["simulate", "--neurons", "many"],
        2,
        "invalid value 'many'",
    );
    assert_clean_failure(&["simulate", "--bogus"], 2, "--bogus");
    // A raster path in a missing directory fails before simulating, and leaves nothing behind.
    assert_clean_failure(
        &[
            "simulate",
            "--neurons",
            "100",
            "--raster",
            "/no/such/dir/r.csv",
        ],
        2,
        "--raster /no/such/dir/r.csv: directory /no/such/dir does not exist",
    );
}

#[test]
fn help_has_examples() {
    let out = snn().args(["simulate", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Examples:") && text.contains("--neurons 40000"));
}

#[test]
fn raster_plot_is_written_as_svg_or_png() {
    let dir = scratch("simulate-plot");
    for ext in ["svg", "png"] {
        let f = dir.join(format!("r.{ext}"));
        snn()
            .args([
                "simulate",
                "--neurons",
                "200",
                "--duration-ms",
                "50",
                "--plot",
            ])
            .arg(&f)
            .assert()
            .success();
        let bytes = std::fs::read(&f).unwrap();
        if ext == "svg" {
            assert!(String::from_utf8_lossy(&bytes).starts_with("<svg"));
        } else {
            assert_eq!(&bytes[1..4], b"PNG");
        }
    }
    // --json names the plot it wrote.
    let f = dir.join("j.svg");
    let out = snn()
        .args([
            "simulate",
            "--neurons",
            "200",
            "--duration-ms",
            "20",
            "--json",
            "--plot",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["plot"], f.display().to_string());
    assert!(f.exists());
    assert_clean_failure(
        &["simulate", "--neurons", "100", "--plot", "r.jpg"],
        2,
        "must end in .svg or .png",
    );
}

#[test]
fn builtin_coba_runs_with_a_sustained_rate() {
    let out = snn()
        .args([
            "simulate",
            "--network",
            "coba",
            "--neurons",
            "1000",
            "--duration-ms",
            "300",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["network"], "coba");
    assert_eq!(j["neurons"], 1000);
    let rate = j["mean_rate_hz"].as_f64().unwrap();
    assert!((1.0..=60.0).contains(&rate), "{rate}");
}

#[test]
fn network_flag_is_checked() {
    assert_clean_failure(
        &["simulate", &repo("examples/cuba.toml"), "--network", "coba"],
        2,
        "--network selects a built-in network",
    );
    assert_clean_failure(&["simulate", "--network", "hh"], 2, "invalid value 'hh'");
}

#[test]
fn microcircuit_scales_are_checked() {
    for s in ["0", "-0.1", "1.5", "NaN", "0.0001"] {
        let arg = format!("--scale={s}");
        assert_clean_failure(
            &["simulate", "--network", "microcircuit", &arg],
            2,
            "--scale",
        );
    }
    assert_clean_failure(&["simulate", "--scale", "0.1"], 2, "--network microcircuit");
}

#[test]
fn microcircuit_analysis_prints_the_reference_side_by_side() {
    let out = snn()
        .args([
            "simulate",
            "--network",
            "microcircuit",
            "--scale",
            "0.1",
            "--warmup-ms",
            "20",
            "--duration-ms",
            "50",
            "--analyse",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = j["analysis"].as_array().unwrap();
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[0]["population"], "L23E");
    assert_eq!(rows[0]["reference_rate_hz"], 0.402);
    assert_eq!(j["neurons"], 7717);
    assert_eq!(j["sim_ms"], 50.0);
}

/// `--warmup-ms 0` is the documented default and is accepted (it was refused as "must be > 0");
/// a warm-up shorter than a step is refused; a huge value is named compactly, not in 301 digits.
#[test]
fn warmup_zero_is_no_warmup_and_huge_values_are_named_compactly() {
    let out = snn()
        .args(["simulate", "--network", "microcircuit", "--scale", "0.01"])
        .args(["--warmup-ms", "0", "--duration-ms", "5", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for (w, what) in [
        ("0.01", "--warmup-ms 0.01: shorter than one step"),
        ("1e300", "--warmup-ms 1e300: 1e300 ms is"),
        ("-1", "--warmup-ms -1: must be >= 0"),
    ] {
        let out = snn()
            .args(["simulate", "--network", "microcircuit", "--scale", "0.01"])
            .arg(format!("--warmup-ms={w}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{w}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(what) && err.len() < 200, "{w}: {err}");
    }
    let out = snn()
        .args(["simulate", "--duration-ms", "1e300"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: --duration-ms 1e300: "), "{err}");
}

/// At a scale with no reference run the reference column holds the full-scale rates; the
/// output says a downscaled network is not expected to reach them (a -76% deviation read as a
/// broken model).
#[test]
fn analyse_at_a_scale_without_reference_run_says_so() {
    let out = snn()
        .args(["simulate", "--network", "microcircuit", "--scale", "0.01"])
        .args(["--duration-ms", "5", "--analyse"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no reference run at scale 0.01"), "{text}");
}

/// `--threads 4000` (or 8 dry-run ranks of 500 threads) under a memory limit made the OS refuse a
/// thread: the engine panicked and the threads already started waited at the step barrier for
/// ever. Absurd counts are now refused up front, naming the flag.
#[test]
fn absurd_thread_counts_are_refused_before_any_thread_starts() {
    assert_clean_failure(
        &["simulate", "--neurons", "20", "--threads", "4000"],
        2,
        "--threads 4000: at most 1024",
    );
    assert_clean_failure(
        &["simulate", "--neurons", "20", "--threads", "99999999999"],
        2,
        "--threads 99999999999: at most 1024",
    );
    assert_clean_failure(
        &[
            "simulate",
            "--neurons",
            "20",
            "--dry-run-ranks",
            "8",
            "--threads",
            "500",
        ],
        2,
        "4000 threads in one process, at most 1024",
    );
    // The largest count still runs (a tiny network uses at most one thread per neuron).
    let out = snn()
        .args([
            "simulate",
            "--network",
            "coba",
            "--neurons",
            "20",
            "--duration-ms",
            "2",
            "--threads",
            "1024",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--write-spec` applied --seed but dropped --duration-ms, wrote TOML into `net.yaml`, and let
/// --raster, --plot or --analyse pass although nothing is simulated.
#[test]
fn write_spec_keeps_the_duration_and_refuses_what_it_would_ignore() {
    let dir = scratch("simulate-write-spec");
    let toml = dir.join("net.toml");
    let out = snn()
        .args([
            "simulate",
            "--network",
            "coba",
            "--neurons",
            "20",
            "--duration-ms",
            "25",
            "--seed",
            "7",
            "--write-spec",
        ])
        .arg(&toml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(
        text.contains("duration_ms = 25.0") && text.contains("seed = 7"),
        "{text}"
    );
    // The written spec runs for 25 ms, as the command that wrote it would have.
    let out = snn()
        .arg("simulate")
        .arg(&toml)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["sim_ms"], 25.0);
    // JSON by extension, any case.
    let json = dir.join("net.JSON");
    let out = snn()
        .args(["simulate", "--neurons", "20", "--write-spec"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice::<serde_json::Value>(&std::fs::read(&json).unwrap()).unwrap();
    // With --json the answer is JSON too, naming the file.
    let json2 = dir.join("net2.json");
    let out = snn()
        .args(["simulate", "--neurons", "20", "--json", "--write-spec"])
        .arg(&json2)
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["spec"], json2.display().to_string());
    // Another extension, or none, is refused and writes nothing.
    for name in ["net.yaml", "net"] {
        let p = dir.join(name);
        let args = [
            "simulate",
            "--neurons",
            "20",
            "--write-spec",
            p.to_str().unwrap(),
        ];
        assert_clean_failure(&args, 2, "must end in .toml or .json");
        assert!(!p.exists());
    }
    // Flags that only matter for a run conflict with it.
    let p = dir.join("other.toml");
    for extra in [
        ["--raster", "r.csv"],
        ["--plot", "r.svg"],
        ["--warmup-ms", "5"],
        ["--dry-run-ranks", "2"],
    ] {
        let mut args = vec![
            "simulate",
            "--neurons",
            "20",
            "--write-spec",
            p.to_str().unwrap(),
        ];
        args.extend(extra);
        assert_clean_failure(&args, 2, "cannot be used with");
    }
    assert_clean_failure(
        &[
            "simulate",
            "--neurons",
            "20",
            "--analyse",
            "--write-spec",
            p.to_str().unwrap(),
        ],
        2,
        "cannot be used with",
    );
    assert!(!p.exists());
    let mut left = names(&dir);
    left.sort();
    assert_eq!(left, ["net.JSON", "net.toml", "net2.json"]);
}
