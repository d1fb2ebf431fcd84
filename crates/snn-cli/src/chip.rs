//! `snn chip`: compile a network onto a neuromorphic chip model, run it, report time and energy.
//! Thin: all logic is in `snn-neuromorphic`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use snn_neuromorphic::{
    ArchError, ArchSpec, ChargeClass, Chip, CompileOptions, Mapping, NocMode, RunOptions,
    compile_with_budget,
    probe::{ProbeSpec, resolve_probes},
    spikes,
    sweep::{Sweep, SweepAxis, SweepPoint, SweepResult},
};
use snn_types::ms_to_steps;

use crate::usage::usage;

/// Arguments of `snn chip`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  snn chip --arch loihi net.toml --steps 100
  snn chip --arch truenorth net.toml --json
  snn chip --fit net.toml --arch my_chip.toml
  snn chip --arch loihi net.toml --input spikes.csv --trace steps.csv --noc analytic
  snn chip --fit net.toml --arch loihi --write-mapping map.toml   # the placement it chose
  snn chip --arch loihi net.toml --steps 100 --mapping map.toml   # place as the file says
  snn chip --fit big.toml --arch loihi_nahuku --seed 7            # 32 chips on one board
  snn chip --arch loihi net.toml --steps 100 --trace steps.csv --probe hid:0..10 --probe out
  snn chip --arch loihi net.toml --steps 100 --skip-idle-neurons false --spike-out-class neuron
  snn chip sweep net.toml --arch loihi --vary core.compartments=256,512,1024 --vary weight_bits=4,6,8
Presets: loihi, truenorth (one chip); loihi_nahuku (32 Loihi chips), truenorth_ns16e (16
TrueNorth chips, 4x4).")]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ChipArgs {
    /// `sweep`: run a grid of architecture variants (see `snn chip sweep --help`).
    #[command(subcommand)]
    pub command: Option<ChipCommand>,
    /// Network spec (.toml or .json).
    #[arg(required = true)]
    pub network: Option<PathBuf>,
    /// Architecture: a preset (`loihi`, `truenorth`, `loihi_nahuku`, `truenorth_ns16e`) or an
    /// ArchSpec TOML file.
    #[arg(long, default_value = "loihi", value_name = "NAME|FILE")]
    pub arch: String,
    /// Only compile: report placement, resource use and quantisation.
    #[arg(long)]
    pub fit: bool,
    /// Input spikes as `step,neuron` CSV (global neuron indices of input populations). Spikes at
    /// or after the last step run are dropped, with a warning on stderr saying how many.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Steps to run, at least 1. Default: the spec's duration_ms / dt_ms; a spec without
    /// duration_ms needs --steps (unless --fit).
    #[arg(long, value_name = "N")]
    pub steps: Option<u64>,
    /// Write a per-step trace (CSV) to this file.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Record u and v (integer units) of a population's neurons after every step into the
    /// --trace CSV (columns `u:POP:i,v:POP:i`) and the --json report. `POP` probes every neuron
    /// (at most 4096 in all); `POP:0..10`, `POP:0..=9`, `POP:3,5,7` choose neurons. Repeatable.
    #[arg(long, value_name = "POP[:NEURONS]")]
    pub probe: Vec<String>,
    /// Network-on-chip model: `cycle` (hop by hop with contention; the default) or `analytic`
    /// (zero-load).
    #[arg(long, value_name = "MODE")]
    pub noc: Option<String>,
    /// Weight precision in bits (Loihi's numWeightBits), from 1 to the architecture's weight
    /// bits (the default; 8 for both presets).
    #[arg(long, value_name = "B")]
    pub weight_bits: Option<u32>,
    /// Place neurons as this mapping file says (TOML `[[map]]` entries: population, optional
    /// neurons = [start, end), chip, core); every entry is checked.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Write the placement the compiler used to this file, in the `--mapping` format.
    #[arg(long, value_name = "FILE")]
    pub write_mapping: Option<PathBuf>,
    /// Seed of the placement refinement (default: the spec's seed).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Place at most N neurons per core (at least 1; spreads the network over more cores). The
    /// placer keeps every per-core limit under it. Not with --mapping (the file places).
    #[arg(long, value_name = "N", conflicts_with = "mapping")]
    pub max_neurons_per_core: Option<u32>,
    /// Keep the cores in layer (snake) order: skip the refinement that moves cores to lower the
    /// traffic (packets x hops).
    #[arg(long, conflicts_with = "mapping")]
    pub keep_layer_order: bool,
    /// Accounting override: `false` charges every placed neuron an update every step (as
    /// simulators that sweep all compartments do); `true` skips neurons with zero state, no bias
    /// and no input. Default: the architecture's `model.skip_idle_neurons`.
    #[arg(long, value_name = "true|false")]
    pub skip_idle_neurons: Option<bool>,
    /// Accounting override: the energy class spike-out events are reported in, `network` or
    /// `neuron` (the total is the same). Default: the architecture's `model.spike_out_class`.
    #[arg(long, value_name = "CLASS")]
    pub spike_out_class: Option<String>,
    /// Print the whole report as one JSON object (output spikes included).
    #[arg(long)]
    pub json: bool,
    /// Memory budget (e.g. 512M, 8G; default: the memory available): a mesh, network or step
    /// count whose estimated memory exceeds it is refused before allocating.
    #[arg(long, value_name = "SIZE", value_parser = crate::budget::parse_max_memory)]
    pub max_memory: Option<u64>,
}

/// Subcommands of `snn chip`.
#[derive(clap::Subcommand)]
pub enum ChipCommand {
    /// Design-space sweep: compile and run the network on every point of a grid of
    /// architecture variants; print energy, latency per step, cores used and whether it fits.
    Sweep(Box<SweepArgs>),
}

/// Arguments of `snn chip sweep`.
#[derive(clap::Args)]
#[command(after_help = "\
Keys: any scalar field of the architecture as its TOML path (core.compartments,
core.synaptic_memory_bits, core.input_axons, mesh.tiles_x, noc.flit_ns, energy_pj.synaptic_op,
power.static_mw, model.skip_idle_neurons, system.chips_x, ...), or weight_bits (numWeightBits),
max_neurons_per_core, noc (cycle|analytic). Points are the product of the axes, the first
outermost; a point whose network does not fit is reported as such.

Examples:
  snn chip sweep net.toml --arch loihi --vary core.compartments=256,512,1024 --vary weight_bits=4,6,8
  snn chip sweep net.toml --steps 50 --vary noc.flit_ns=0.29,1,4 --json
  snn chip sweep net.toml --vary core.compartments=128,256,512,1024 --out sweep-plots")]
pub struct SweepArgs {
    /// Network spec (.toml or .json).
    pub network: PathBuf,
    /// Architecture the grid varies: a preset (`loihi`, `truenorth`, `loihi_nahuku`,
    /// `truenorth_ns16e`) or an ArchSpec TOML file.
    #[arg(long, default_value = "loihi", value_name = "NAME|FILE")]
    pub arch: String,
    /// An axis of the grid, `KEY=V1,V2,...`. Repeatable (at least one).
    #[arg(long, required = true, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// Input spikes as `step,neuron` CSV (global neuron indices of input populations).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Steps to run per point, at least 1. Default: the spec's duration_ms / dt_ms.
    #[arg(long, value_name = "N")]
    pub steps: Option<u64>,
    /// Network-on-chip model when `noc` is not an axis: `cycle` or `analytic`.
    #[arg(long, default_value = "cycle", value_name = "MODE")]
    pub noc: String,
    /// Worker threads (points run in parallel; results do not depend on it). Default: the
    /// cores available.
    #[arg(long, value_name = "K")]
    pub threads: Option<usize>,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write plots of energy, latency per step and cores used against the first varied key
    /// (one line per combination of the others) to this directory, as energy.svg/.png,
    /// latency.svg/.png and cores.svg/.png (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Memory budget (e.g. 512M, 8G; default: the memory available), checked by every point.
    #[arg(long, value_name = "SIZE", value_parser = crate::budget::parse_max_memory)]
    pub max_memory: Option<u64>,
}

/// `--arch`: a preset or a file. A misspelt preset is a usage error (exit 2).
pub(crate) fn resolve_arch(name: &str) -> Result<ArchSpec> {
    ArchSpec::resolve(name).map_err(|e| match e {
        ArchError::UnknownPreset { .. } => usage(format!("--arch: {e}")),
        e => e.into(),
    })
}

fn parse_noc(s: &str) -> Result<NocMode> {
    match s {
        "cycle" => Ok(NocMode::Cycle),
        "analytic" => Ok(NocMode::Analytic),
        o => Err(usage(format!(
            "--noc: expected `cycle` or `analytic`, got '{o}'"
        ))),
    }
}

/// Steps to run: `--steps`, else the spec's duration.
fn steps_of(steps: Option<u64>, spec: &snn_types::NetworkSpec, network: &Path) -> Result<u64> {
    if steps == Some(0) {
        return Err(usage("--steps must be at least 1"));
    }
    match (steps, spec.duration_ms) {
        (Some(s), _) => Ok(s),
        // A validated duration_ms is positive and at most snn_types::MAX_STEPS steps.
        (None, Some(d)) => ms_to_steps(d, spec.dt_ms)
            .filter(|&s| s > 0)
            .with_context(|| {
                format!(
                    "{}: duration_ms = {d} is not a whole number of steps of {} ms",
                    network.display(),
                    spec.dt_ms
                )
            }),
        (None, None) => Err(usage(format!(
            "{} has no duration_ms: give the number of steps to run with --steps N",
            network.display()
        ))),
    }
}

/// Runs `snn chip sweep`.
fn sweep(a: SweepArgs) -> Result<()> {
    let arch_file = Path::new(&a.arch);
    if let Some(dir) = &a.out {
        check_out_dir(dir)?;
    }
    crate::outputs::check(
        &[],
        &[
            crate::outputs::Input::new(Some(&a.network)),
            crate::outputs::Input::new(a.input.as_deref()),
            crate::outputs::Input::new(arch_file.is_file().then_some(arch_file)),
        ],
    )?;
    let noc = parse_noc(&a.noc)?;
    if a.threads == Some(0) {
        return Err(usage("--threads must be at least 1"));
    }
    let axes = a
        .vary
        .iter()
        .map(|t| SweepAxis::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(e.to_string()))?;
    let arch = resolve_arch(&a.arch)?;
    let grid = Sweep::new(&arch, axes, noc).map_err(|e| usage(e.to_string()))?;
    let spec = crate::nir::load_spec(&a.network)?;
    let steps = steps_of(a.steps, &spec, &a.network)?;
    let inputs = match &a.input {
        Some(p) => spikes::read_spike_csv(p)?,
        None => Vec::new(),
    };
    let threads = a.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let budget = crate::budget::budget(a.max_memory);
    // Progress on a terminal only (a sweep of big networks runs minutes without output).
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = indicatif::ProgressBar::with_draw_target(
            Some(grid.len() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "sweep {bar:40} {pos}/{len} points ({eta} left)",
            )
            .expect("static template"),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let run = grid.run_with_progress(&spec, steps, &inputs, threads, &budget, &|done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let result = match run {
        // A bad input file is named, as `snn chip --input` names it.
        Err(e @ snn_neuromorphic::sweep::SweepError::Input(_)) => {
            let file = a.input.as_deref().unwrap_or(Path::new("--input"));
            return Err(anyhow::Error::new(e).context(format!("{}", file.display())));
        }
        r => r.with_context(|| format!("{}: sweep on '{}'", a.network.display(), arch.name))?,
    };
    // The results first: a plot that cannot be written must not lose them.
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&result.to_json())?);
    } else {
        out!("{}", result.table());
    }
    if let Some(dir) = &a.out {
        crate::out::flush_stdout()?;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--out {}: cannot create the directory", dir.display()))?;
        sweep_plots(&result, dir)?;
    }
    Ok(())
}

/// Checks, before the sweep runs, that the plots can be written under `dir`: it is a directory
/// (or can be created: its nearest existing ancestor is a writable directory).
fn check_out_dir(dir: &Path) -> Result<()> {
    let bad = |m: String| usage(format!("--out {}: {m}", dir.display()));
    if dir.as_os_str().is_empty() {
        return Err(bad("empty directory name".into()));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(bad("exists and is not a directory".into()));
    }
    // The deepest existing directory on the way, and the first name below it to create.
    let mut probe = dir.join("energy.svg");
    let mut at = dir.to_path_buf();
    while !at.as_os_str().is_empty() && !at.exists() {
        probe = at.clone();
        at = match at.parent() {
            Some(p) => p.to_path_buf(),
            None => break,
        };
    }
    snn_types::file::check_output(&probe, &[]).map_err(|e| bad(e.to_string()))
}

/// A plotted metric: file stem, title, value of a point.
type Metric = (&'static str, &'static str, fn(&SweepPoint) -> f64);

/// Plots of energy, latency per step and cores used against the first axis, one line per
/// combination of the other axes' values; points that do not fit are left out.
fn sweep_plots(r: &SweepResult, dir: &Path) -> Result<()> {
    let Some(first) = r.axes.first() else {
        return Ok(());
    };
    let numeric: Option<Vec<f64>> = first.values.iter().map(|v| v.parse().ok()).collect();
    let x_of = |v: &str| -> f64 {
        match &numeric {
            Some(_) => v.parse().unwrap_or(0.0),
            None => first.values.iter().position(|x| x == v).unwrap_or(0) as f64,
        }
    };
    let x_label = match &numeric {
        Some(_) => first.key.clone(),
        None => format!(
            "{} ({})",
            first.key,
            first
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{i} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    // Series keyed by the values of the other axes, in order of first appearance.
    let mut keys: Vec<String> = Vec::new();
    for p in &r.points {
        let k = r.axes[1..]
            .iter()
            .zip(&p.values[1..])
            .map(|(a, v)| format!("{}={v}", a.key))
            .collect::<Vec<_>>()
            .join(" ");
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let metrics: [Metric; 3] = [
        ("energy", "energy (nJ)", |p| p.energy_pj / 1000.0),
        ("latency", "latency per step (ns)", |p| {
            p.latency_per_step_ns
        }),
        ("cores", "cores used", |p| p.cores_used as f64),
    ];
    for (stem, title, f) in metrics {
        let series: Vec<(String, Vec<(f64, f64)>)> = keys
            .iter()
            .map(|k| {
                let pts = r
                    .points
                    .iter()
                    .filter(|p| p.fits)
                    .filter(|p| {
                        r.axes[1..]
                            .iter()
                            .zip(&p.values[1..])
                            .map(|(a, v)| format!("{}={v}", a.key))
                            .collect::<Vec<_>>()
                            .join(" ")
                            == *k
                    })
                    .map(|p| (x_of(&p.values[0]), f(p)))
                    .collect();
                (
                    if k.is_empty() {
                        "all".into()
                    } else {
                        k.clone()
                    },
                    pts,
                )
            })
            .filter(|(_, pts): &(String, Vec<(f64, f64)>)| !pts.is_empty())
            .collect();
        if series.is_empty() {
            errln!("warning: no point fits: no {stem} plot written");
            continue;
        }
        let s: Vec<crate::charts::Series<'_>> = series
            .iter()
            .map(|(label, pts)| crate::charts::Series {
                label,
                points: pts.clone(),
            })
            .collect();
        crate::charts::line_chart(
            &dir.join(stem),
            &format!("{title} on '{}'", r.arch),
            &x_label,
            &s,
        )?;
    }
    Ok(())
}

/// Runs `snn chip`.
pub fn run(mut a: ChipArgs) -> Result<()> {
    if let Some(ChipCommand::Sweep(s)) = a.command.take() {
        return sweep(*s);
    }
    let Some(network) = a.network.clone() else {
        return Err(usage(
            "give a network spec: snn chip NETWORK (or snn chip sweep NETWORK ...)",
        ));
    };
    let arch_file = std::path::Path::new(&a.arch);
    crate::outputs::check(
        &[
            ("--trace", a.trace.as_deref()),
            ("--write-mapping", a.write_mapping.as_deref()),
        ],
        &[
            crate::outputs::Input::new(Some(&network)),
            crate::outputs::Input::new(a.input.as_deref()),
            // The mapping is read whole before the new one is written.
            crate::outputs::Input {
                path: a.mapping.as_deref(),
                replaced_by: &["--write-mapping"],
            },
            crate::outputs::Input::new(arch_file.is_file().then_some(arch_file)),
        ],
    )?;
    let noc = match a.noc.as_deref().unwrap_or("cycle") {
        "cycle" => NocMode::Cycle,
        "analytic" => NocMode::Analytic,
        o => {
            return Err(usage(format!(
                "--noc: expected `cycle` or `analytic`, got '{o}'"
            )));
        }
    };
    let probes = a
        .probe
        .iter()
        .map(|p| ProbeSpec::parse(p).map_err(|e| usage(format!("--probe: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    if !probes.is_empty() && a.fit {
        return Err(usage(
            "--probe records a run's u and v: it cannot be combined with --fit",
        ));
    }
    if a.fit {
        // --fit only compiles: options of a run were silently ignored (no trace was written).
        let run_only: Vec<&str> = [
            ("--trace", a.trace.is_some()),
            ("--input", a.input.is_some()),
            ("--steps", a.steps.is_some()),
            ("--skip-idle-neurons", a.skip_idle_neurons.is_some()),
            ("--spike-out-class", a.spike_out_class.is_some()),
            ("--noc", a.noc.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if !run_only.is_empty() {
            return Err(usage(format!(
                "{} configure{} a run: {} cannot be combined with --fit, which only compiles",
                run_only.join(", "),
                if run_only.len() == 1 { "s" } else { "" },
                if run_only.len() == 1 { "it" } else { "they" },
            )));
        }
    }
    if !probes.is_empty() && a.trace.is_none() && !a.json {
        return Err(usage(
            "--probe writes u and v into the trace: give --trace FILE (or --json)",
        ));
    }
    if a.steps == Some(0) {
        return Err(usage("--steps must be at least 1"));
    }
    if a.max_neurons_per_core == Some(0) {
        return Err(usage("--max-neurons-per-core must be at least 1"));
    }
    let mut arch = resolve_arch(&a.arch)?;
    if let Some(b) = a.skip_idle_neurons {
        arch.model.skip_idle_neurons = b;
    }
    if let Some(c) = &a.spike_out_class {
        arch.model.spike_out_class = ChargeClass::parse(c).ok_or_else(|| {
            usage(format!(
                "--spike-out-class: expected `network` or `neuron`, got '{c}'"
            ))
        })?;
    }
    if let Some(b) = a.weight_bits
        && !(1..=arch.core.weight_bits).contains(&b)
    {
        return Err(usage(format!(
            "--weight-bits {b}: must be in 1..={} (the weight bits of '{}')",
            arch.core.weight_bits, arch.name
        )));
    }
    let spec = crate::nir::load_spec(&network)?;
    let mapping = match &a.mapping {
        Some(p) => {
            let m = Mapping::load(p)?;
            // `arch` in the file is informative; a different one is most likely a mistake.
            if let Some(written) = &m.arch
                && *written != arch.name
            {
                errln!(
                    "warning: --mapping {}: written for '{written}', compiling for '{}'",
                    p.display(),
                    arch.name
                );
            }
            Some(m)
        }
        None => None,
    };
    let opts = CompileOptions {
        num_weight_bits: a.weight_bits,
        placement_seed: a.seed,
        keep_layer_order: a.keep_layer_order,
        max_neurons_per_core: a.max_neurons_per_core,
        mapping,
    };
    let budget = crate::budget::budget(a.max_memory);
    let program = compile_with_budget(&spec, &arch, &opts, &budget).with_context(|| {
        // A bad mapping entry is about the mapping file: name it.
        let with_mapping = match &a.mapping {
            Some(m) => format!(" with --mapping {}", m.display()),
            None => String::new(),
        };
        format!(
            "{}: cannot compile onto '{}'{with_mapping}",
            network.display(),
            arch.name
        )
    })?;
    // Probes name populations of the program: checked before anything is written.
    let probed = resolve_probes(&program, &probes).map_err(|e| usage(format!("--probe: {e}")))?;
    if let Some(p) = &a.write_mapping {
        program
            .mapping()
            .save(p)
            .with_context(|| format!("--write-mapping {}", p.display()))?;
    }
    if a.fit {
        if a.json {
            outln!("{}", serde_json::to_string_pretty(&program.fit_json())?);
        } else {
            out!("{}", program.fit_summary());
        }
        return Ok(());
    }
    let steps = steps_of(a.steps, &spec, &network)?;
    let mut chip = Chip::with_budget(&program, budget)?;
    chip.set_probes(probed)?;
    if let Some(p) = &a.input {
        let s = spikes::read_spike_csv(p)?;
        chip.inject_input(&s)
            .with_context(|| format!("{}", p.display()))?;
        let late = s.iter().filter(|x| x.step >= steps).count();
        if late > 0 {
            errln!(
                "warning: {}: {late} of {} input spike(s) are at step {steps} or later and are dropped (the run has {steps} steps, 0..={}; raise --steps to keep them)",
                p.display(),
                s.len(),
                steps - 1
            );
        }
    }
    let report = chip.run(
        steps,
        &RunOptions {
            noc,
            trace: a.trace.is_some(),
        },
    )?;
    if let (Some(path), Some(csv)) = (&a.trace, report.trace_csv()) {
        snn_types::file::atomic_write(path, csv.as_bytes()).context("--trace")?;
    }
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report.to_json(true))?);
    } else {
        out!("{}", report.summary());
    }
    Ok(())
}
