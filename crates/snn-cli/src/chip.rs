//! `snn chip`: compile a network onto a neuromorphic chip model, run it, report time and energy.
//! Thin: all logic is in `snn-neuromorphic`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use snn_neuromorphic::{
    ArchSpec, ChargeClass, Chip, CompileOptions, NocMode, RunOptions, compile_with_budget,
    probe::{ProbeSpec, resolve_probes},
    spikes,
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
  snn chip --arch loihi net.toml --steps 100 --trace steps.csv --probe hid:0..10 --probe out
  snn chip --arch loihi net.toml --steps 100 --skip-idle-neurons false --spike-out-class neuron")]
pub struct ChipArgs {
    /// Network spec (.toml or .json).
    pub network: PathBuf,
    /// Architecture: a preset (`loihi`, `truenorth`) or an ArchSpec TOML file.
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
    /// Network-on-chip model: `cycle` (hop by hop with contention) or `analytic` (zero-load).
    #[arg(long, default_value = "cycle", value_name = "MODE")]
    pub noc: String,
    /// Weight precision in bits (Loihi's numWeightBits), from 1 to the architecture's weight
    /// bits (the default; 8 for both presets).
    #[arg(long, value_name = "B")]
    pub weight_bits: Option<u32>,
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
    if !probes.is_empty() && a.trace.is_none() && !a.json && !a.fit {
        return Err(usage(
            "--probe writes u and v into the trace: give --trace FILE (or --json)",
        ));
    }
    if a.steps == Some(0) {
        return Err(usage("--steps must be at least 1"));
    }
    let mut arch = ArchSpec::resolve(&a.arch)?;
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
    let spec = crate::nir::load_spec(&a.network)?;
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
    let probed = resolve_probes(&program, &probes).map_err(|e| usage(format!("--probe: {e}")))?;
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
