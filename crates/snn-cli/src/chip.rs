//! `snn chip`: compile a network onto a neuromorphic chip model, run it, report time and energy.
//! Thin: all logic is in `snn-neuromorphic`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use snn_neuromorphic::{
    ArchSpec, Chip, CompileOptions, NocMode, RunOptions, compile_with_budget, spikes,
};
use snn_types::{NetworkSpec, ms_to_steps};

/// Arguments of `snn chip`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  snn chip --arch loihi net.toml --steps 100
  snn chip --arch truenorth net.toml --json
  snn chip --fit net.toml --arch my_chip.toml
  snn chip --arch loihi net.toml --input spikes.csv --trace steps.csv --noc analytic")]
pub struct ChipArgs {
    /// Network spec (.toml or .json).
    pub network: PathBuf,
    /// Architecture: a preset (`loihi`, `truenorth`) or an ArchSpec TOML file.
    #[arg(long, default_value = "loihi", value_name = "NAME|FILE")]
    pub arch: String,
    /// Only compile: report placement, resource use and quantisation.
    #[arg(long)]
    pub fit: bool,
    /// Input spikes as `step,neuron` CSV (global neuron indices of input populations).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Steps to run (default: the spec's duration_ms / dt_ms, else 100).
    #[arg(long, value_name = "N")]
    pub steps: Option<u64>,
    /// Write a per-step trace (CSV) to this file.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Network-on-chip model: `cycle` (hop by hop with contention) or `analytic` (zero-load).
    #[arg(long, default_value = "cycle", value_name = "MODE")]
    pub noc: String,
    /// Weight precision in bits (Loihi's numWeightBits; default: the architecture's).
    #[arg(long, value_name = "B")]
    pub weight_bits: Option<u32>,
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
        &[("--trace", a.trace.as_deref())],
        &[
            crate::outputs::Input::new(Some(&a.network)),
            crate::outputs::Input::new(a.input.as_deref()),
            crate::outputs::Input::new(arch_file.is_file().then_some(arch_file)),
        ],
    )?;
    let noc = match a.noc.as_str() {
        "cycle" => NocMode::Cycle,
        "analytic" => NocMode::Analytic,
        o => bail!("--noc: expected `cycle` or `analytic`, got '{o}'"),
    };
    let arch = ArchSpec::resolve(&a.arch)?;
    let spec = NetworkSpec::load(&a.network)?;
    let opts = CompileOptions {
        num_weight_bits: a.weight_bits,
        max_neurons_per_core: None,
    };
    let budget = crate::budget::budget(a.max_memory);
    let program = compile_with_budget(&spec, &arch, &opts, &budget).with_context(|| {
        format!(
            "{}: cannot compile onto '{}'",
            a.network.display(),
            arch.name
        )
    })?;
    if a.fit {
        if a.json {
            println!("{}", serde_json::to_string_pretty(&program.fit_json())?);
        } else {
            print!("{}", program.fit_summary());
        }
        return Ok(());
    }
    let steps = match a.steps {
        Some(s) => s,
        None => spec
            .duration_ms
            .and_then(|d| ms_to_steps(d, spec.dt_ms))
            .unwrap_or(100),
    };
    let mut chip = Chip::with_budget(&program, budget)?;
    if let Some(p) = &a.input {
        let s = spikes::read_spike_csv(p)?;
        chip.inject_input(&s)
            .with_context(|| format!("{}", p.display()))?;
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
        println!("{}", serde_json::to_string_pretty(&report.to_json(true))?);
    } else {
        print!("{}", report.summary());
    }
    Ok(())
}
