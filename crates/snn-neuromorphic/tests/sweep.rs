//! Design-space sweeps: the grid, points that do not fit, agreement with a direct run, and the
//! same results for any thread count.

use snn_neuromorphic::sweep::{Sweep, SweepAxis};
use snn_neuromorphic::{ArchSpec, Chip, CompileOptions, NocMode, RunOptions, compile_with};
use snn_types::NetworkSpec;
use snn_types::budget::MemoryBudget;

fn net() -> NetworkSpec {
    NetworkSpec::from_toml_str(
        r#"
        name = "ff"
        dt_ms = 1.0
        seed = 5
        [[populations]]
        name = "in"
        size = 40
        neuron = { model = "input" }
        [[populations]]
        name = "h"
        size = 300
        neuron = { model = "lif_beta", beta = 0.9, threshold = 1.0 }
        [[projections]]
        source = "in"
        target = "h"
        connectivity = { rule = "fixed_probability", p = 0.3 }
        weight = { dist = "uniform", low = -0.1, high = 0.4 }
        [[stimuli]]
        kind = "poisson"
        target = "in"
        rate_hz = 100.0
        "#,
    )
    .unwrap()
}

fn axes() -> Vec<SweepAxis> {
    [
        "core.compartments=16,64,1024",
        "mesh.tiles_x=1,8",
        "weight_bits=4,8",
    ]
    .iter()
    .map(|t| SweepAxis::parse(t).unwrap())
    .collect()
}

#[test]
fn sweep_grid_fits_and_agrees_with_a_direct_run() {
    let base = ArchSpec::preset("loihi").unwrap();
    let sweep = Sweep::new(&base, axes(), NocMode::Cycle).unwrap();
    assert_eq!(sweep.len(), 12);
    let spec = net();
    let r = sweep
        .run(&spec, 20, &[], 1, &MemoryBudget::unknown())
        .unwrap();
    assert_eq!(r.points.len(), 12);
    // 16 compartments on one column of 4 tiles (16 cores): 256 < 300 neurons.
    let p = &r.points[0];
    assert_eq!(p.values, vec!["16", "1", "4"]);
    assert!(!p.fits);
    assert!(p.problem.as_deref().unwrap().contains("violation"), "{p:?}");
    // Every other point fits; cores used fall as compartments grow.
    assert!(r.points[2..].iter().all(|p| p.fits), "{:#?}", r.points);
    let cores = |c: &str| {
        r.points
            .iter()
            .find(|p| p.values == [c, "8", "8"])
            .unwrap()
            .cores_used
    };
    assert_eq!((cores("16"), cores("64"), cores("1024")), (19, 5, 1));
    // A point equals a direct compile and run of its architecture.
    let i = 11; // 1024, 8, 8
    let arch = sweep.arch_of(i).unwrap();
    let prog = compile_with(
        &spec,
        arch,
        &CompileOptions {
            num_weight_bits: Some(8),
            ..Default::default()
        },
    )
    .unwrap();
    let direct = Chip::new(&prog)
        .unwrap()
        .run(20, &RunOptions::default())
        .unwrap();
    assert_eq!(r.points[i].energy_pj, direct.energy.total_pj);
    assert_eq!(r.points[i].latency_per_step_ns, direct.mean_step_ns);
    // Fewer weight bits change the weights (and so the activity).
    assert_ne!(r.points[10].synaptic_ops, 0);
    let table = r.table();
    assert!(table.contains("core.compartments"), "{table}");
    assert!(table.lines().count() >= 14, "{table}");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let base = ArchSpec::preset("loihi").unwrap();
    let sweep = Sweep::new(&base, axes(), NocMode::Cycle).unwrap();
    let spec = net();
    let one = sweep
        .run(&spec, 15, &[], 1, &MemoryBudget::unknown())
        .unwrap();
    for threads in [2, 3, 16] {
        let many = sweep
            .run(&spec, 15, &[], threads, &MemoryBudget::unknown())
            .unwrap();
        assert_eq!(one, many, "{threads} threads");
    }
}

/// Progress is reported once per point, up to the number of points; the results are those of
/// `run`. Input spikes on a non-input neuron are refused before any point runs, even when no
/// point would fit.
#[test]
fn progress_counts_every_point_and_bad_inputs_are_refused_first() {
    let base = ArchSpec::preset("loihi").unwrap();
    let sweep = Sweep::new(&base, axes(), NocMode::Cycle).unwrap();
    let spec = net();
    let seen = std::sync::Mutex::new(Vec::new());
    let r = sweep
        .run_with_progress(&spec, 5, &[], 3, &MemoryBudget::unknown(), &|d| {
            seen.lock().unwrap().push(d)
        })
        .unwrap();
    let mut seen = seen.into_inner().unwrap();
    seen.sort_unstable();
    assert_eq!(seen, (1..=sweep.len()).collect::<Vec<_>>());
    assert_eq!(
        r,
        sweep
            .run(&spec, 5, &[], 1, &MemoryBudget::unknown())
            .unwrap()
    );
    let tiny = Sweep::new(
        &base,
        vec![SweepAxis::parse("core.compartments=1").unwrap()],
        NocMode::Cycle,
    )
    .unwrap();
    let bad = [snn_types::Spike {
        step: 0,
        neuron: 100,
    }];
    let e = tiny
        .run(&spec, 5, &bad, 1, &MemoryBudget::unknown())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("neuron 100 is not in an input population"),
        "{e}"
    );
}

/// A single-chip preset has no `[system]`; `system.chips_x` can still be varied (it was "no
/// section 'system'"), starting from one chip.
#[test]
fn the_chip_count_of_a_single_chip_preset_can_be_varied() {
    let base = ArchSpec::preset("loihi").unwrap();
    assert!(base.system.is_none());
    let sweep = Sweep::new(
        &base,
        vec![SweepAxis::parse("system.chips_x=1,3").unwrap()],
        NocMode::Cycle,
    )
    .unwrap();
    assert_eq!(sweep.arch_of(0).unwrap().n_chips(), 1);
    assert_eq!(sweep.arch_of(1).unwrap().n_chips(), 3);
    let r = sweep
        .run(&net(), 5, &[], 1, &MemoryBudget::unknown())
        .unwrap();
    assert!(r.points.iter().all(|p| p.fits));
}
