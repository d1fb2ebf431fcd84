//! Distributed `snn simulate` without MPI: `--dry-run-ranks`, `--plan-ranks`, `snn spikes
//! merge`, and the refusal to run under an MPI launcher in a build without the `mpi` feature.

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    let mut c = Command::cargo_bin("snn").expect("binary built");
    // The tests may themselves run under a launcher; the child must not think so.
    for k in [
        "OMPI_COMM_WORLD_SIZE",
        "PMI_SIZE",
        "PMIX_RANK",
        "PMIX_SIZE",
        "SLURM_NTASKS",
    ] {
        c.env_remove(k);
    }
    c
}

#[test]
fn dry_run_rank_files_merge_into_the_single_process_raster() {
    let d = scratch("dist-merge");
    let single = d.join("single.csv");
    let out = snn()
        .args(["simulate", "--neurons", "600", "--duration-ms", "150"])
        .arg("--raster")
        .arg(&single)
        .output()
        .unwrap();
    assert!(out.status.success());
    let dist = d.join("dist.csv");
    let out = snn()
        .args([
            "simulate",
            "--neurons",
            "600",
            "--duration-ms",
            "150",
            "--dry-run-ranks",
            "3",
            "--threads",
            "2",
            "--json",
        ])
        .arg("--raster")
        .arg(&dist)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["ranks"], 3);
    assert_eq!(j["per_rank"].as_array().unwrap().len(), 3);
    assert_eq!(j["epochs"], 1500);
    let files: Vec<_> = (0..3)
        .map(|r| d.join(format!("dist.csv.rank{r}of3")))
        .collect();
    assert!(files.iter().all(|f| f.exists()));
    let merged = d.join("merged.csv");
    let out = snn()
        .args(["spikes", "merge"])
        .args(&files)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&merged).unwrap(),
        std::fs::read(&single).unwrap()
    );
}

#[test]
fn plan_ranks_reports_memory_and_traffic_without_building() {
    let out = snn()
        .args([
            "simulate",
            "--neurons",
            "40000",
            "--plan-ranks",
            "8",
            "--plan-rate-hz",
            "5",
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
    assert_eq!(j["ranks"], 8);
    assert_eq!(j["per_rank"].as_array().unwrap().len(), 8);
    assert!(j["max_rank_bytes"].as_u64().unwrap() > 0);
    assert!(j["messages_per_sim_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_rank_requests_are_usage_errors() {
    let out = snn()
        .args(["simulate", "--neurons", "5", "--dry-run-ranks", "6"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("6 ranks for 5 neurons"), "{err}");
    let out = snn()
        .args(["simulate", "--dry-run-ranks", "2", "--plot", "x.svg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--plot"));
    // The dry-run ranks share one process: together they must fit the budget.
    let out = snn()
        .args(["simulate", "--dry-run-ranks", "2", "--max-memory", "1M"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 dry-run ranks in one process"), "{err}");
}

#[cfg(not(feature = "mpi"))]
#[test]
fn a_build_without_mpi_refuses_to_run_under_mpirun() {
    for (k, v) in [
        ("OMPI_COMM_WORLD_SIZE", "4"),
        ("PMI_SIZE", "2"),
        ("PMIX_RANK", "1"),
    ] {
        let mut c = snn();
        c.env(k, v);
        if k == "PMIX_RANK" {
            c.env("PMIX_SIZE", "2");
        }
        let out = c
            .args(["simulate", "--neurons", "100", "--duration-ms", "10"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{k}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("built without MPI support"), "{k}: {err}");
        assert!(out.stdout.is_empty());
    }
    // One rank is an ordinary run.
    let out = snn()
        .env("OMPI_COMM_WORLD_SIZE", "1")
        .args(["simulate", "--neurons", "100", "--duration-ms", "10"])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn merge_names_a_bad_input() {
    let d = scratch("dist-bad");
    let a = d.join("a.csv");
    std::fs::write(&a, "step,neuron\n3,1\n2,0\n").unwrap();
    let out = snn()
        .args(["spikes", "merge"])
        .arg(&a)
        .arg("-o")
        .arg(d.join("o.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a.csv:3") && err.contains("not sorted"),
        "{err}"
    );
    assert!(!d.join("o.csv").exists(), "nothing written on failure");
}

/// `snn spikes merge` refuses inputs that would give a wrong raster: the same file twice (every
/// spike doubled) and rank files of runs over different rank counts (`out.csv.rank*` after two
/// runs); a set missing a rank merges with a warning naming it. Nothing is written when refused.
#[test]
fn merge_refuses_doubled_and_mixed_rank_inputs() {
    let d = scratch("dist-mixed");
    let f = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let r0of2 = f("o.csv.rank0of2", "step,neuron\n0,1\n");
    let r1of2 = f("o.csv.rank1of2", "step,neuron\n0,7\n");
    let r0of4 = f("o.csv.rank0of4", "step,neuron\n0,1\n");
    let out_path = d.join("o.csv");
    let run = |ins: &[&std::path::Path]| {
        let mut c = snn();
        c.args(["spikes", "merge"]);
        for i in ins {
            c.arg(i);
        }
        c.arg("-o").arg(&out_path).output().unwrap()
    };
    let same = d.join(".").join("o.csv.rank0of2");
    let out = run(&[&r0of2, &r1of2, &same]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("given twice"), "{err}");
    let out = run(&[&r0of2, &r1of2, &r0of4]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("o.csv.rank0of4") && err.contains("run over 4 ranks"),
        "{err}"
    );
    assert!(!out_path.exists(), "nothing written when refused");
    let out = run(&[&r0of2]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("1 rank(s) of 2 not given (1)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        "step,neuron\n0,1\n"
    );
    let out = run(&[&r0of2, &r1of2]);
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    // A name claiming a huge rank count is looked at lazily (no loop over 10^11 ranks).
    let odd = f("o.csv.rank0of99999999999", "step,neuron\n0,3\n");
    let out = run(&[&odd]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("99999999998 rank(s) of 99999999999 not given (1, 2, 3"),
        "{err}"
    );
}

/// Thousands of dry-run ranks are thousands of threads each generating every synapse (4,000 took
/// 52 s for CUBA, tens of thousands would exhaust the OS's threads): refused, pointing at
/// `--plan-ranks`, which still plans them.
#[test]
fn too_many_dry_run_ranks_are_refused_with_the_plan_suggested() {
    let out = snn()
        .args(["simulate", "--neurons", "4000", "--duration-ms", "5"])
        .args(["--dry-run-ranks", "4000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--dry-run-ranks 4000: at most 1024") && err.contains("--plan-ranks 4000"),
        "{err}"
    );
    let out = snn()
        .args([
            "simulate",
            "--neurons",
            "4000",
            "--plan-ranks",
            "4000",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// `--plan-rate-hz 1e300` panicked ("attempt to add with overflow" in the plan); a rate above one
/// spike per step is now a usage error. `--plan-ranks` builds nothing, so flags of a run given
/// with it (`--dry-run-ranks`, `--raster`) are refused instead of silently ignored.
#[test]
fn plan_ranks_refuses_impossible_rates_and_run_flags() {
    let out = snn()
        .args(["simulate", "--plan-ranks", "4", "--plan-rate-hz", "1e300"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--plan-rate-hz 1e300: a neuron fires at most once per step, 10000 Hz"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    for extra in [["--dry-run-ranks", "2"], ["--raster", "x.csv"]] {
        let out = snn()
            .args(["simulate", "--plan-ranks", "4"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot be used with"), "{err}");
    }
}

/// More rank files than the process may open: the error says so and how to proceed (it was only
/// "Too many open files" on one of them).
#[cfg(unix)]
#[test]
fn merging_more_files_than_may_be_open_says_what_to_do() {
    let d = scratch("dist-emfile");
    let mut args = String::new();
    for i in 0..64 {
        let p = d.join(format!("o.csv.rank{i}of64"));
        std::fs::write(&p, format!("step,neuron\n0,{i}\n")).unwrap();
        args.push_str(&format!(" '{}'", p.display()));
    }
    let bin = assert_cmd::cargo::cargo_bin("snn");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 24 && exec '{}' spikes merge{args} -o '{}'",
            bin.display(),
            d.join("o.csv").display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("64 inputs are more than this process may open") && err.contains("ulimit -n"),
        "{err}"
    );
    assert!(!d.join("o.csv").exists());
}

/// `--dry-run-ranks` and `--plan-ranks` under an MPI launcher are usage errors (with either
/// build): `mpirun -np 2 snn simulate --dry-run-ranks 3` ran the launcher's 2 ranks and ignored
/// the flag, `--plan-ranks` printed its plan once per rank.
#[test]
fn dry_run_and_plan_flags_under_mpirun_are_refused() {
    for (flag, what) in [
        (
            "--dry-run-ranks",
            "simulates ranks as threads of one process",
        ),
        ("--plan-ranks", "builds nothing and needs no ranks"),
    ] {
        let out = snn()
            .env("OMPI_COMM_WORLD_SIZE", "2")
            .args([
                "simulate",
                "--neurons",
                "100",
                "--duration-ms",
                "10",
                flag,
                "3",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(what), "{flag}: {err}");
        assert!(err.contains("one of 2 ranks"), "{flag}: {err}");
        assert!(out.stdout.is_empty(), "{flag}");
    }
}
