//! `snn chip`: compile a network onto a neuromorphic chip model, run it, report time and energy.
//! Thin: all logic is in `snn-neuromorphic`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use snn_neuromorphic::{
    ArchSpec, Chip, CompileOptions, Mapping, NocMode, RunOptions, compile_with_budget, spikes,
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
Presets: loihi, truenorth (one chip); loihi_nahuku (32 Loihi chips), truenorth_ns16e (16
TrueNorth chips, 4x4).")]
pub struct ChipArgs {
    /// Network spec (.toml or .json).
    pub network: PathBuf,
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
    /// Network-on-chip model: `cycle` (hop by hop with contention) or `analytic` (zero-load).
    #[arg(long, default_value = "cycle", value_name = "MODE")]
    pub noc: String,
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
    /// placer keeps every per-core limit under it.
    #[arg(long, value_name = "N")]
    pub max_neurons_per_core: Option<u32>,
    /// Keep the cores in layer (snake) order: skip the refinement that moves cores to lower the
    /// traffic (packets x hops).
    #[arg(long, conflicts_with = "mapping")]
    pub keep_layer_order: bool,
    /// Print the whole report as one JSON object (output spikes included).
    #[arg(long)]
    pub json: bool,
    /// Memory budget (e.g. 512M, 8G; default: the memory available): a mesh, network or step
    /// count whose estimated memory exceeds it is refused before allocating.
    #[arg(long, value_name = "SIZE", value_parser = crate::budget::parse_max_memory)]
    pub max_memory: Option<u64>,
}

/// Runs `snn chip`.
pub fn run(a: ChipArgs) -> Result<()> {
    let arch_file = std::path::Path::new(&a.arch);
    crate::outputs::check(
        &[
            ("--trace", a.trace.as_deref()),
            ("--write-mapping", a.write_mapping.as_deref()),
        ],
        &[
            crate::outputs::Input::new(Some(&a.network)),
            crate::outputs::Input::new(a.input.as_deref()),
            // The mapping is read whole before the new one is written.
            crate::outputs::Input {
                path: a.mapping.as_deref(),
                replaced_by: &["--write-mapping"],
            },
            crate::outputs::Input::new(arch_file.is_file().then_some(arch_file)),
        ],
    )?;
    let noc = match a.noc.as_str() {
        "cycle" => NocMode::Cycle,
        "analytic" => NocMode::Analytic,
        o => {
            return Err(usage(format!(
                "--noc: expected `cycle` or `analytic`, got '{o}'"
            )));
        }
    };
    if a.steps == Some(0) {
        return Err(usage("--steps must be at least 1"));
    }
    if a.max_neurons_per_core == Some(0) {
        return Err(usage("--max-neurons-per-core must be at least 1"));
    }
    let arch = ArchSpec::resolve(&a.arch)?;
    if let Some(b) = a.weight_bits
        && !(1..=arch.core.weight_bits).contains(&b)
    {
        return Err(usage(format!(
            "--weight-bits {b}: must be in 1..={} (the weight bits of '{}')",
            arch.core.weight_bits, arch.name
        )));
    }
    let spec = crate::nir::load_spec(&a.network)?;
    let mapping = match &a.mapping {
        Some(p) => Some(Mapping::load(p)?),
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
            a.network.display(),
            arch.name
        )
    })?;
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
    let steps = match (a.steps, spec.duration_ms) {
        (Some(s), _) => s,
        // A validated duration_ms is positive and at most snn_types::MAX_STEPS steps.
        (None, Some(d)) => ms_to_steps(d, spec.dt_ms)
            .filter(|&s| s > 0)
            .with_context(|| {
                format!(
                    "{}: duration_ms = {d} is not a whole number of steps of {} ms",
                    a.network.display(),
                    spec.dt_ms
                )
            })?,
        (None, None) => {
            return Err(usage(format!(
                "{} has no duration_ms: give the number of steps to run with --steps N",
                a.network.display()
            )));
        }
    };
    let mut chip = Chip::with_budget(&program, budget)?;
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
