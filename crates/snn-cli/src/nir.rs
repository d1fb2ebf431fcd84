//! `snn nir import|export|inspect`, and [`load_spec`]: every command that takes a network spec
//! also takes a `.nir` file (imported with the default options). The work is `snn-nir`'s.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use snn_nir::{Discretisation, ImportOptions, NirGraph, NodeKind, Param};
use snn_types::{NetworkSpec, ReadoutRule, ResetMode};

use crate::outputs;
use crate::usage::usage;

/// True when `path` names a NIR file (extension `.nir`, any case).
pub fn is_nir(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("nir"))
}

/// Loads a spec file (.toml, .json) or imports a `.nir` file with the default options.
pub fn load_spec(path: &Path) -> Result<NetworkSpec> {
    if is_nir(path) {
        Ok(snn_nir::import_file(path, &ImportOptions::default())?)
    } else {
        Ok(NetworkSpec::load(path)?)
    }
}

/// Arguments of `snn nir`.
#[derive(clap::Args)]
pub struct NirArgs {
    #[command(subcommand)]
    cmd: NirCmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Disc {
    Euler,
    Exact,
}

#[derive(Clone, Copy, ValueEnum)]
enum Reset {
    Zero,
    Subtract,
    SubtractDelayed,
}

#[derive(Clone, Copy, ValueEnum)]
enum Rule {
    Count,
    Membrane,
}

#[derive(Subcommand)]
enum NirCmd {
    /// Import a NIR graph as a network spec (TOML, or JSON for a .json --out).
    #[command(after_help = "\
NIR stores no time step: --dt-ms defaults to the value an snn export recorded, else 1 ms
(snnTorch's exporter assumes 0.1 ms). snnTorch's Leaky needs --reset subtract-delayed.
Examples:
  snn nir import net.nir --out net.toml
  snn nir import digits_mlp.nir --out mlp.toml --dt-ms 0.1 --reset subtract-delayed")]
    Import {
        /// The .nir file.
        file: PathBuf,
        /// Where to write the spec.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Time step in ms (default: recorded in the file by snn, else 1).
        #[arg(long, value_name = "MS")]
        dt_ms: Option<f64>,
        /// euler (1 - dt/tau; snnTorch, Norse) or exact (exp(-dt/tau)); default euler.
        #[arg(long, value_enum)]
        discretisation: Option<Disc>,
        /// Reset of spiking nodes (default: recorded by snn, else zero, NIR's v <- v_reset).
        #[arg(long, value_enum)]
        reset: Option<Reset>,
        /// Readout rule of an imported classifier (default: count; membrane for a
        /// non-spiking output).
        #[arg(long, value_enum)]
        readout: Option<Rule>,
        /// Presentation length in steps written into the readout.
        #[arg(long, default_value_t = 25, value_name = "N")]
        steps: u32,
    },
    /// Export a network spec as a NIR graph (HDF5) that Python's nir.read() loads.
    #[command(after_help = "Example:\n  snn nir export net.toml --out net.nir")]
    Export {
        /// The spec (.toml or .json).
        spec: PathBuf,
        /// The .nir file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// List a NIR file's nodes (type, parameter shapes) and edges.
    #[command(after_help = "Example:\n  snn nir inspect net.nir")]
    Inspect {
        /// The .nir file.
        file: PathBuf,
    },
}

/// Runs `snn nir`.
pub fn run(a: NirArgs) -> Result<()> {
    match a.cmd {
        NirCmd::Import {
            file,
            out,
            dt_ms,
            discretisation,
            reset,
            readout,
            steps,
        } => {
            outputs::check(
                &[("--out", Some(&out))],
                &[outputs::Input::new(Some(&file))],
            )?;
            let json = outputs::spec_output_is_json("--out", &out)?;
            if steps == 0 {
                return Err(usage("--steps must be at least 1"));
            }
            if let Some(dt) = dt_ms {
                snn_types::check_dt(dt).map_err(|e| usage(format!("--dt-ms: {e}")))?;
            }
            let opts = ImportOptions {
                dt_ms,
                discretisation: discretisation.map(|d| match d {
                    Disc::Euler => Discretisation::Euler,
                    Disc::Exact => Discretisation::Exact,
                }),
                reset: reset.map(|r| match r {
                    Reset::Zero => ResetMode::Zero,
                    Reset::Subtract => ResetMode::Subtract,
                    Reset::SubtractDelayed => ResetMode::SubtractDelayed,
                }),
                readout: readout.map(|r| match r {
                    Rule::Count => ReadoutRule::SpikeCount,
                    Rule::Membrane => ReadoutRule::MeanMembrane,
                }),
                steps,
            };
            let spec = snn_nir::import_file(&file, &opts)?;
            let text = if json {
                spec.to_json_string()
            } else {
                spec.to_toml_string()?
            };
            snn_types::file::atomic_write(&out, text.as_bytes())?;
            outln!(
                "{}: {} populations, {} neurons, {} projections, dt = {} ms -> {}",
                file.display(),
                spec.populations.len(),
                spec.n_neurons(),
                spec.projections.len(),
                spec.dt_ms,
                out.display()
            );
            Ok(())
        }
        NirCmd::Export { spec, out } => {
            outputs::check(
                &[("--out", Some(&out))],
                &[outputs::Input::new(Some(&spec))],
            )?;
            outputs::nir_output("--out", &out)?;
            let s = load_spec(&spec)?;
            let notes =
                snn_nir::export_file(&s, &out).with_context(|| spec.display().to_string())?;
            outln!(
                "{}: {} populations, {} projections -> {}",
                spec.display(),
                s.populations.len(),
                s.projections.len(),
                out.display()
            );
            for n in notes {
                outln!("note: {n}");
            }
            Ok(())
        }
        NirCmd::Inspect { file } => {
            let g = snn_nir::read_file(&file)?;
            outln!("file             {}", file.display());
            print_graph(&g, "")
        }
    }
}

fn print_graph(g: &NirGraph, indent: &str) -> Result<()> {
    outln!("{indent}nodes            {}", g.nodes.len());
    for (name, n) in &g.nodes {
        if let Some(sub) = &n.graph {
            outln!("{indent}  {name:<20} NIRGraph");
            print_graph(sub, &format!("{indent}    "))?;
            continue;
        }
        let params: Vec<String> = n
            .params
            .iter()
            .map(|(k, p)| match p {
                Param::Array { data, .. }
                    if matches!(n.kind, NodeKind::Input | NodeKind::Output) || data.len() <= 2 =>
                {
                    let v: Vec<String> = data.iter().map(|v| format!("{}", *v as f32)).collect();
                    format!("{k}=[{}]", v.join(", "))
                }
                Param::Array { shape, .. } => format!("{k}{shape:?}"),
                Param::Text(t) => format!("{k}=\"{t}\""),
            })
            .collect();
        outln!(
            "{indent}  {name:<20} {:<10} {}",
            n.kind.name(),
            params.join(" ")
        );
    }
    outln!("{indent}edges            {}", g.edges.len());
    for (a, b) in &g.edges {
        outln!("{indent}  {a} -> {b}");
    }
    Ok(())
}
