//! The `snn encode` command, run as a user would: every scheme on the bundled digits and on a
//! CSV file, the raster and plot files, and clear one-line errors (exit 1, or 2 for usage) on bad
//! input.

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    Command::cargo_bin("snn").expect("binary built")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = snn()
        .arg("encode")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs a failing command; returns (exit code, stderr) after checking it is one `error:` line
/// and no panic.
fn fails(args: &[&str]) -> (i32, String) {
    let out = snn().arg("encode").args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    (out.status.code().unwrap(), err)
}

#[test]
fn every_scheme_encodes_the_bundled_digit() {
    for (scheme, neurons, steps) in [
        ("rate", 64, 100),
        ("ttfs", 64, 100),
        ("population", 512, 100),
        ("delta", 2, 64),
    ] {
        let j = json(&["--scheme", scheme, "--digit-index", "3"]);
        assert_eq!(j["features"], 64, "{scheme}");
        assert_eq!(j["neurons"], neurons, "{scheme}");
        assert_eq!(j["steps"], steps, "{scheme}");
        assert_eq!(j["label"], "3", "{scheme}");
        assert!(j["spikes"].as_u64().unwrap() > 0, "{scheme}");
        if let Some(b) = j["error_bound"].as_f64() {
            let e = j["decode_max_abs_error"].as_f64().unwrap();
            assert!(e <= b + 1e-5, "{scheme}: {e} > {b}");
        }
    }
    // TTFS: at most one spike per feature.
    let j = json(&["--scheme", "ttfs"]);
    assert!(j["spikes"].as_u64().unwrap() <= 64);
    // Poisson depends on the seed and only on it.
    let a = json(&["--seed", "5"]);
    assert_eq!(a["spikes"], json(&["--seed", "5"])["spikes"]);
    // The human summary.
    let out = snn()
        .args(["encode", "--scheme", "ttfs", "--ttfs-mapping", "log"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("scheme           ttfs (log, threshold 0.01)"),
        "{s}"
    );
    assert!(s.contains("input            digit #0 (label 0)"), "{s}");
}

#[test]
fn raster_csv_and_plots_are_written() {
    let d = scratch("encode-files");
    let csv = d.join("r.csv");
    let svg = d.join("r.svg");
    let png = d.join("r.png");
    for plot in [&svg, &png] {
        snn()
            .args([
                "encode",
                "--scheme",
                "rate",
                "--deterministic",
                "--steps",
                "50",
                "--out",
            ])
            .arg(&csv)
            .arg("--plot")
            .arg(plot)
            .assert()
            .success();
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("step,neuron"));
    let rows: Vec<(u64, u32)> = lines
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert!(!rows.is_empty());
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "sorted");
    assert!(rows.iter().all(|&(s, n)| s < 50 && n < 64));
    let mut names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["r.csv", "r.png", "r.svg"],
        "no temporary file of any name is left"
    );
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
    assert_eq!(
        s.matches(r##"fill="#141478""##).count(),
        rows.len(),
        "one mark per spike (the only dark-blue elements)"
    );
    assert!(s.contains("time (ms)") && s.contains("encoded input"));
    let p = std::fs::read(&png).unwrap();
    assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn csv_rows_with_labels_and_delta_signals() {
    let d = scratch("encode-csv");
    let f = d.join("data.csv");
    let sine: Vec<String> = (0..80)
        .map(|t| format!("{:.4}", (t as f32 * 0.2).sin()))
        .collect();
    std::fs::write(&f, format!("# comment\n0,8,16,1\n\n{}\n", sine.join(","))).unwrap();
    let fs = f.to_str().unwrap();
    let j = json(&[
        "--csv",
        fs,
        "--row",
        "0",
        "--label-column",
        "--scheme",
        "ttfs",
        "--steps",
        "11",
    ]);
    assert_eq!(j["features"], 3);
    assert_eq!(j["label"], "1");
    assert_eq!(j["spikes"], 2, "0 never fires");
    let j = json(&[
        "--csv",
        fs,
        "--row",
        "1",
        "--scheme",
        "delta",
        "--min",
        "-1",
        "--max",
        "1",
        "--threshold",
        "0.05",
    ]);
    assert_eq!(j["steps"], 80);
    assert!(j["decode_max_abs_error"].as_f64().unwrap() < 0.05 + 1e-6);
    let (code, err) = fails(&["--csv", fs, "--row", "2"]);
    assert_eq!(code, 2, "a --row beyond the file is a usage error");
    assert!(
        err.contains("--row 2") && err.contains("2 data row(s)"),
        "{err}"
    );
    std::fs::write(&f, "1,2,x\n").unwrap();
    let (_, err) = fails(&["--csv", fs]);
    assert!(
        err.contains("line 1, column 3: 'x' is not a finite number"),
        "{err}"
    );
    std::fs::write(&f, "1,NaN\n").unwrap();
    let (_, err) = fails(&["--csv", fs]);
    assert!(err.contains("column 2"), "{err}");
}

#[test]
fn bad_input_gives_one_clear_error() {
    let cases: &[(&[&str], &str)] = &[
        (&["--min", "3", "--max", "3"], "--min/--max"),
        (&["--steps", "0"], "steps: must be at least 1"),
        (&["--max-rate-hz=-5"], "--max-rate-hz"),
        (&["--digit-index", "1797"], "1797 images"),
        (
            &["--csv", "/nonexistent/in.csv"],
            "cannot read --csv /nonexistent/in.csv",
        ),
        (&["--plot", "out.gif"], "supported: .svg, .png"),
        (&["--scheme", "ttfs", "--threshold", "1.5"], "threshold"),
        (
            &["--scheme", "population", "--neurons-per-feature", "1"],
            "--neurons-per-feature",
        ),
        (
            &["--scheme", "delta", "--steps", "10"],
            "--steps does not apply",
        ),
        (
            &["--scheme", "ttfs", "--deterministic"],
            "--deterministic applies only",
        ),
    ];
    for (args, needle) in cases {
        let (code, err) = fails(args);
        // Files that cannot be read or written are runtime failures; bad flag values are usage
        // errors.
        let want = if needle.starts_with("cannot read") || needle.starts_with("--out") {
            1
        } else {
            2
        };
        assert_eq!(code, want, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    // An output path that cannot be written is a usage error, found before any work.
    let (code, err) = fails(&["--out", "/nonexistent/dir/r.csv"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err,
        "error: --out /nonexistent/dir/r.csv: directory /nonexistent/dir does not exist\n"
    );
    // A number beyond f32's range is said to be so (it became `inf`, then "not finite").
    for args in [&["--max", "1e308"][..], &["--min=-1e308"]] {
        let (code, err) = fails(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("'1e308' is beyond the range of a 32-bit float")
                || err.contains("'-1e308' is beyond the range of a 32-bit float"),
            "{args:?}: {err}"
        );
    }
    let dir = scratch("encode-huge-cell");
    let csv = dir.join("huge.csv");
    std::fs::write(&csv, "1e308,2,3\n").unwrap();
    let (_, err) = fails(&["--csv", csv.to_str().unwrap()]);
    assert!(
        err.contains("column 1: '1e308' is beyond the range of a 32-bit float"),
        "{err}"
    );
    // Usage errors are clap's: exit code 2.
    for args in [
        &["--scheme", "morse"][..],
        &["--row", "3"],
        &["--csv", "a", "--digit-index", "1"],
    ] {
        let (code, _) = fails(args);
        assert_eq!(code, 2, "{args:?}");
    }
}

/// Options of one scheme given to another were ignored without a word: `--scheme rate
/// --neurons-per-feature 3` encoded 64 neurons, `--scheme population --max-rate-hz 5` ran as
/// without it. Now usage errors, as `--deterministic` and `--ttfs-mapping` already were.
#[test]
fn options_of_another_scheme_are_refused() {
    for (args, what) in [
        (
            vec!["--scheme", "rate", "--neurons-per-feature", "3"],
            "--neurons-per-feature applies only to --scheme population",
        ),
        (
            vec!["--scheme", "ttfs", "--beta", "2"],
            "--beta applies only to --scheme population",
        ),
        (
            vec!["--scheme", "population", "--max-rate-hz", "5"],
            "--max-rate-hz applies only to --scheme rate",
        ),
    ] {
        let (code, err) = fails(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(what), "{args:?}: {err}");
    }
    // Their own schemes still take them.
    let j = json(&[
        "--scheme",
        "population",
        "--neurons-per-feature",
        "3",
        "--beta",
        "2",
    ]);
    assert_eq!(j["neurons"], 192, "{j}");
    json(&["--scheme", "rate", "--max-rate-hz", "100"]);
}
