//! `snn simulate` over ranks (MPI with the `mpi` feature, or `--dry-run-ranks` threads),
//! `--plan-ranks`, and `snn spikes merge`. The algorithms are in `snn_core::distributed` and
//! `snn_core::merge`; this file opens files, calls them and prints.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use snn_core::comm::{CommError, Communicator, DryRun};
use snn_core::distributed::{DistributedPlan, RankSummary, plan_ranks, run_rank};
use snn_core::merge::{merge_csv, parse_rank_file_name, rank_file_name};
use snn_core::{CsvSpikeWriter, SpikeSink};
use snn_types::NetworkSpec;
use snn_types::budget::{MemoryBudget, format_bytes};
use snn_types::file::AtomicFile;

use crate::usage::usage;

/// What every rank of a distributed `snn simulate` needs.
pub struct Job<'a> {
    /// The network.
    pub spec: &'a NetworkSpec,
    /// Steps to simulate.
    pub n_steps: u64,
    /// Threads per rank.
    pub threads: usize,
    /// The raster path given; each rank writes `<raster>.rank<r>of<R>`.
    pub raster: Option<&'a Path>,
    /// Memory budget per rank.
    pub budget: MemoryBudget,
    /// Print JSON.
    pub json: bool,
}

/// The sink of one rank: its CSV file, if any.
struct RankSink(Option<CsvSpikeWriter<AtomicFile>>);

impl SpikeSink for RankSink {
    fn on_step(&mut self, step: snn_types::Step, neurons: &[u32]) {
        if let Some(c) = self.0.as_mut() {
            c.on_step(step, neurons);
        }
    }
}

/// One rank's whole job: open its raster file, build and run its share, commit the file, and
/// gather every rank's summary. Any failure stops the other ranks through `comm`.
fn rank_job(comm: &mut dyn Communicator, job: &Job<'_>, rss: bool) -> Result<Vec<RankSummary>> {
    let (rank, ranks) = (comm.rank(), comm.size());
    let file = job.raster.map(|p| rank_file_name(p, rank, ranks));
    let sink = match &file {
        Some(p) => match AtomicFile::create(p) {
            Ok(f) => Some(CsvSpikeWriter::new(f)),
            Err(e) => {
                comm.abort(&e.to_string());
                return Err(e.into());
            }
        },
        None => None,
    };
    let mut sink = RankSink(sink);
    let t0 = Instant::now();
    let (net, stats) = run_rank(
        job.spec,
        job.n_steps,
        job.threads,
        &job.budget,
        comm,
        &mut sink,
        &mut |_| {},
    )?;
    let build_s = (t0.elapsed().as_secs_f64() - stats.run_s).max(0.0);
    if let (Some(c), Some(p)) = (sink.0.take(), &file) {
        let done = c
            .finish()
            .map_err(anyhow::Error::from)
            .and_then(|(f, _)| f.commit().map_err(anyhow::Error::from))
            .with_context(|| format!("cannot write {}", p.display()));
        if let Err(e) = done {
            comm.abort(&format!("{e:#}"));
            return Err(e);
        }
    }
    let own = net.owned_neurons();
    let me = RankSummary {
        rank,
        neurons: (own.end - own.start) as u64,
        synapses: net.owned_synapses(),
        synapse_bytes: net.synapse_memory_bytes() as u64,
        peak_rss_bytes: if rss {
            crate::peak_rss_bytes().unwrap_or(0)
        } else {
            0
        },
        build_s,
        stats,
    };
    Ok(me.gather(comm)?)
}

/// Refuses what a distributed run cannot do, before any rank starts.
fn precheck(job: &Job<'_>, ranks: usize) -> Result<DistributedPlan> {
    plan_ranks(job.spec, ranks, job.threads, 0.0).map_err(|e| usage(e.to_string()))
}

/// Most `--dry-run-ranks`: each is a thread of this process that generates every synapse of the
/// network (only its own are kept), so thousands of them take hours, and tens of thousands
/// exhaust the threads the OS allows. `--plan-ranks` plans any count without building.
pub const MAX_DRY_RUN_RANKS: usize = 1024;

/// Runs the job over `ranks` DryRun ranks (threads of this process) and prints the report with
/// the per-rank memory plan.
pub fn run_dry(job: &Job<'_>, ranks: usize) -> Result<()> {
    let plan = precheck(job, ranks)?;
    if ranks > MAX_DRY_RUN_RANKS {
        return Err(usage(format!(
            "--dry-run-ranks {ranks}: at most {MAX_DRY_RUN_RANKS} (each dry-run rank is a thread \
             of this process that generates every synapse); plan a run over {ranks} ranks with \
             --plan-ranks {ranks}"
        )));
    }
    // The ranks share this process: all of them together must fit the budget.
    let total = plan
        .ranks
        .iter()
        .fold(0u64, |a, r| a.saturating_add(r.build_bytes));
    job.budget
        .check(format!("{ranks} dry-run ranks in one process"), total)?;
    // Every rank must run (they exchange spikes): none starts before all threads have.
    let results: Vec<Result<Vec<RankSummary>>> = snn_core::workers::run_all(
        DryRun::group(ranks),
        |mut c| rank_job(&mut c, job, false),
        snn_core::workers::spawn,
    )
    .map_err(|e| {
        anyhow!(
            "cannot start the thread of dry-run rank {} of {ranks}: {}; no rank ran (use fewer \
             --dry-run-ranks or --threads)",
            e.task,
            e.error
        )
    })?
    .into_iter()
    .map(|h| h.unwrap_or_else(|_| Err(anyhow!("a rank panicked"))))
    .collect();
    let mut summaries = None;
    let mut stopped = None;
    for r in results {
        match r {
            Ok(s) => summaries = summaries.or(Some(s)),
            // Report the failing rank's own error, not the "stopped by rank r" of the others.
            Err(e) if is_stopped(&e) => stopped = stopped.or(Some(e)),
            Err(e) => return Err(e),
        }
    }
    if let Some(e) = stopped {
        return Err(e);
    }
    let summaries = summaries.ok_or_else(|| anyhow!("no rank finished"))?;
    let sim_s = job.n_steps as f64 * job.spec.dt_ms / 1000.0;
    let spikes: u64 = summaries.iter().map(|s| s.stats.run.spikes).sum();
    let rate = spikes as f64 / job.spec.n_neurons().max(1) as f64 / sim_s.max(1e-12);
    let plan = plan_ranks(job.spec, ranks, job.threads, rate)?;
    report(
        job,
        &summaries,
        "dry run: threads of one process",
        Some(&plan),
    )
}

fn is_stopped(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<snn_core::distributed::DistributedError>(),
            Some(snn_core::distributed::DistributedError::Comm {
                error: CommError::Aborted { .. },
                ..
            })
        )
    })
}

/// Runs this process as one rank of an MPI job; rank 0 prints the report.
#[cfg(feature = "mpi")]
pub fn run_mpi(job: &Job<'_>) -> Result<()> {
    let (universe, mut comm) = snn_mpi::MpiComm::init()?;
    // Deterministic problems (too many ranks) are found by every rank alike: rank 0 reports,
    // then every rank leaves cleanly with the same status (no abort, no hang).
    if let Err(e) = precheck(job, comm.size()) {
        if comm.rank() == 0 {
            errln!("error: {e:#}");
        }
        let _ = comm.barrier();
        drop(comm);
        drop(universe);
        std::process::exit(crate::usage::exit_code(&e) as i32);
    }
    match rank_job(&mut comm, job, true) {
        Ok(s) if comm.rank() == 0 => report(job, &s, "MPI", None),
        Ok(_) => Ok(()),
        // Ranks started with different jobs: every rank found it in the same exchange, so rank 0
        // reports once and every rank leaves with the same status (no abort).
        Err(e) if is_mismatch(&e) => {
            if comm.rank() == 0 {
                errln!("error: {e:#}");
            }
            let _ = comm.barrier();
            drop(comm);
            drop(universe);
            std::process::exit(2);
        }
        Err(e) => {
            comm.abort(&format!("{e:#}"));
            Err(e)
        }
    }
}

#[cfg(feature = "mpi")]
fn is_mismatch(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<snn_core::distributed::DistributedError>(),
            Some(snn_core::distributed::DistributedError::Mismatch(_))
        )
    })
}

/// Prints the plan of `--plan-ranks` (nothing is built).
pub fn print_plan(spec: &NetworkSpec, plan: &DistributedPlan, json: bool) -> Result<()> {
    if json {
        let ranks: Vec<_> = plan
            .ranks
            .iter()
            .map(|r| {
                serde_json::json!({
                    "rank": r.rank, "neurons": r.neurons.end - r.neurons.start,
                    "synapses": r.synapses, "neuron_bytes": r.neuron_bytes,
                    "synapse_bytes": r.synapse_bytes, "build_bytes": r.build_bytes,
                    "exchange_bytes": r.exchange_bytes,
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({
                "network": spec.name.clone().unwrap_or_default(),
                "neurons": plan.neurons, "synapses": plan.synapses,
                "ranks": plan.ranks.len(), "epoch_steps": plan.epoch_steps,
                "mean_rate_hz": plan.mean_rate_hz,
                "exchanges_per_sim_s": plan.exchanges_per_sim_s(),
                "bytes_per_epoch_per_rank": plan.bytes_per_epoch(),
                "messages_per_sim_s": plan.messages_per_sim_s(),
                "max_rank_bytes": plan.max_rank_bytes(),
                "per_rank": ranks,
            })
        );
        return Ok(());
    }
    outln!(
        "network          {}",
        spec.name.as_deref().unwrap_or("(unnamed)")
    );
    outln!(
        "plan             {} ranks, {} neurons, about {} synapses (nothing built)",
        plan.ranks.len(),
        plan.neurons,
        plan.synapses
    );
    print_plan_rows(plan)
}

fn print_plan_rows(plan: &DistributedPlan) -> Result<()> {
    let epoch_ms = plan.epoch_steps as f64 * plan.dt_ms;
    outln!(
        "epoch            {} steps ({epoch_ms} ms): {:.0} exchanges per simulated second",
        plan.epoch_steps,
        plan.exchanges_per_sim_s()
    );
    if plan.mean_rate_hz > 0.0 {
        outln!(
            "traffic          at {:.2} Hz: {:.0} spikes and {} received per rank per epoch; \
             {:.3e} messages per simulated second (every rank to every other)",
            plan.mean_rate_hz,
            plan.spikes_per_epoch(),
            format_bytes(plan.bytes_per_epoch() as u64),
            plan.messages_per_sim_s()
        );
    }
    outln!("memory plan      rank  neurons  synapses  neurons  synapses  build peak");
    for r in &plan.ranks {
        outln!(
            "                 {:>4}  {:>7}  {:>8}  {:>7}  {:>8}  {:>10}",
            r.rank,
            r.neurons.end - r.neurons.start,
            r.synapses,
            format_bytes(r.neuron_bytes),
            format_bytes(r.synapse_bytes),
            format_bytes(r.build_bytes)
        );
    }
    Ok(())
}

fn report(
    job: &Job<'_>,
    s: &[RankSummary],
    mode: &str,
    plan: Option<&DistributedPlan>,
) -> Result<()> {
    let spec = job.spec;
    let ranks = s.len();
    let sim_ms = job.n_steps as f64 * spec.dt_ms;
    let neurons: u64 = s.iter().map(|r| r.neurons).sum();
    let synapses: u64 = s.iter().map(|r| r.synapses).sum();
    let spikes: u64 = s.iter().map(|r| r.stats.run.spikes).sum();
    let events: u64 = s.iter().map(|r| r.stats.run.syn_events).sum();
    let run_s = s.iter().map(|r| r.stats.run_s).fold(0.0, f64::max);
    let build_s = s.iter().map(|r| r.build_s).fold(0.0, f64::max);
    let epochs = s.first().map_or(0, |r| r.stats.epochs);
    let epoch_steps = s.first().map_or(0, |r| r.stats.epoch_steps);
    let per_epoch = |b: u64| b as f64 / epochs.max(1) as f64;
    let rate = spikes as f64 / neurons.max(1) as f64 / (sim_ms / 1000.0).max(1e-12);
    let rank_files = job
        .raster
        .map(|p| rank_file_name(p, 0, ranks).display().to_string())
        .map(|f| f.replace(".rank0of", ".rank*of"));
    if job.json {
        let per: Vec<_> = s
            .iter()
            .map(|r| {
                serde_json::json!({
                    "rank": r.rank, "neurons": r.neurons, "synapses": r.synapses,
                    "synapse_bytes": r.synapse_bytes, "peak_rss_bytes": r.peak_rss_bytes,
                    "build_s": r.build_s, "run_s": r.stats.run_s,
                    "exchange_s": r.stats.exchange_s,
                    "compute_s": r.stats.run_s - r.stats.exchange_s,
                    "spikes": r.stats.run.spikes,
                    "bytes_sent_per_epoch": per_epoch(r.stats.bytes_sent),
                    "bytes_received_per_epoch": per_epoch(r.stats.bytes_received),
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({
                "network": spec.name.clone().unwrap_or_default(),
                "mode": mode, "ranks": ranks, "threads_per_rank": job.threads,
                "neurons": neurons, "synapses": synapses, "sim_ms": sim_ms,
                "build_s": build_s, "run_s": run_s, "spikes": spikes, "mean_rate_hz": rate,
                "syn_events": events, "epochs": epochs, "epoch_steps": epoch_steps,
                "seed": spec.seed, "raster": rank_files, "per_rank": per,
            })
        );
        return Ok(());
    }
    outln!(
        "network          {}",
        spec.name.as_deref().unwrap_or("(unnamed)")
    );
    outln!(
        "ranks            {ranks} ({mode}), {} thread(s) per rank",
        job.threads
    );
    outln!("neurons          {neurons}");
    outln!("synapses         {synapses} (stored on the rank of their target)");
    outln!(
        "simulated        {sim_ms} ms ({} steps of {} ms)",
        job.n_steps,
        spec.dt_ms
    );
    outln!("epochs           {epochs} of {epoch_steps} step(s): one spike exchange each");
    outln!("seed             {}", spec.seed);
    outln!("build            {build_s:.3} s (slowest rank)");
    outln!(
        "run              {run_s:.3} s (slowest rank; {:.1} ms per simulated second)",
        run_s * 1000.0 / (sim_ms / 1000.0).max(1e-12)
    );
    outln!("spikes           {spikes} (mean rate {rate:.2} Hz)");
    outln!("synaptic events  {events}");
    outln!(
        "per rank         rank  neurons  synapses  run s  exchange s  compute s  sent B/epoch  recv B/epoch{}",
        if s.iter().any(|r| r.peak_rss_bytes > 0) {
            "  peak RSS"
        } else {
            ""
        }
    );
    for r in s {
        let rss = if r.peak_rss_bytes > 0 {
            format!("  {:>8}", format_bytes(r.peak_rss_bytes))
        } else {
            String::new()
        };
        outln!(
            "                 {:>4}  {:>7}  {:>8}  {:>5.3}  {:>10.3}  {:>9.3}  {:>12.1}  {:>12.1}{rss}",
            r.rank,
            r.neurons,
            r.synapses,
            r.stats.run_s,
            r.stats.exchange_s,
            r.stats.run_s - r.stats.exchange_s,
            per_epoch(r.stats.bytes_sent),
            per_epoch(r.stats.bytes_received)
        );
    }
    if let Some(p) = plan {
        print_plan_rows(p)?;
    }
    if let (Some(files), Some(out)) = (rank_files, job.raster) {
        outln!(
            "raster           {files} (one file per rank; merge with: snn spikes merge {files} -o {})",
            out.display()
        );
    }
    Ok(())
}

/// `snn spikes merge`: k-way merge of sorted spike CSV files.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<()> {
    if inputs.is_empty() {
        return Err(usage("give at least one input file"));
    }
    let ins: Vec<crate::outputs::Input<'_>> = inputs
        .iter()
        .map(|p| crate::outputs::Input::new(Some(p.as_path())))
        .collect();
    crate::outputs::check(&[("-o", Some(out))], &ins)?;
    check_merge_inputs(inputs)?;
    let mut readers = Vec::with_capacity(inputs.len());
    for p in inputs {
        let f = std::fs::File::open(p).map_err(|e| {
            // EMFILE (24 on Linux and macOS): more inputs than the process may open.
            let hint = if e.raw_os_error() == Some(24) {
                format!(
                    "; {} inputs are more than this process may open (`ulimit -n`): raise the \
                     limit, or merge groups of files and then merge the groups' outputs",
                    inputs.len()
                )
            } else {
                String::new()
            };
            anyhow!("cannot open {}: {e}{hint}", p.display())
        })?;
        readers.push((p.display().to_string(), BufReader::new(f)));
    }
    let mut file = AtomicFile::create(out)?;
    let n = merge_csv(readers, &mut file)?;
    file.commit()?;
    outln!(
        "merged {n} spikes from {} files into {}",
        inputs.len(),
        out.display()
    );
    Ok(())
}

/// Refuses inputs that would merge into a wrong raster: the same file twice (every spike
/// doubled), and rank files of runs over different rank counts or the same rank twice (two
/// runs mixed). A set of rank files missing some ranks is merged with a warning.
fn check_merge_inputs(inputs: &[PathBuf]) -> Result<()> {
    // Resolved once per input (a cluster run has thousands of rank files).
    let mut seen: std::collections::HashMap<PathBuf, &Path> = std::collections::HashMap::new();
    for p in inputs {
        if let Some(q) = seen.insert(snn_types::file::resolved_target(p), p) {
            return Err(usage(format!(
                "{} is given twice (also as {}): its spikes would be merged twice",
                p.display(),
                q.display()
            )));
        }
    }
    // Per stem (the raster path before `.rank`): the rank count and the ranks seen.
    let mut runs: Vec<(String, usize, Vec<usize>)> = Vec::new();
    for p in inputs {
        let Some((r, n)) = parse_rank_file_name(p) else {
            continue;
        };
        let s = p.display().to_string();
        let stem = s[..s.rfind(".rank").unwrap_or(s.len())].to_string();
        if r >= n {
            return Err(usage(format!(
                "{}: rank {r} of {n} is not a rank file of a run over {n} ranks",
                p.display()
            )));
        }
        match runs.iter_mut().find(|x| x.0 == stem) {
            Some((_, m, _)) if *m != n => {
                return Err(usage(format!(
                    "{} is a file of a run over {n} ranks, but other inputs are of a run over {m} ranks: rank files of different runs cannot be merged into one raster",
                    p.display()
                )));
            }
            Some((_, _, seen)) => seen.push(r),
            None => runs.push((stem, n, vec![r])),
        }
    }
    for (stem, n, seen) in &mut runs {
        seen.sort_unstable();
        seen.dedup();
        let missing = *n - seen.len();
        if missing > 0 {
            // Lazy: at most seen.len() + 10 ranks are looked at, whatever R the names claim.
            let first: Vec<String> = (0..*n)
                .filter(|r| seen.binary_search(r).is_err())
                .take(10)
                .map(|r| r.to_string())
                .collect();
            let more = if missing > first.len() { ", ..." } else { "" };
            errln!(
                "warning: {stem}.rank*of{n}: {missing} rank(s) of {n} not given ({}{more}): the \
                 merged raster lacks their neurons' spikes",
                first.join(", ")
            );
        }
    }
    Ok(())
}

/// The refusal of a build without MPI started by an MPI launcher.
#[cfg(not(feature = "mpi"))]
pub fn refuse_without_mpi(ranks: usize) -> Result<()> {
    anyhow::bail!(
        "this snn was started by an MPI launcher as one of {ranks} ranks, but it was built \
         without MPI support: each rank would run the whole network on its own. Rebuild with \
         `cargo build --release -p snn-cli --features mpi`, or run it without mpirun \
         (`--dry-run-ranks {ranks}` simulates {ranks} ranks in one process)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The system refuses one rank's thread: an error naming the rank, and the ranks that had
    /// started return at once instead of waiting for it.
    #[test]
    fn a_refused_rank_thread_is_an_error_not_a_hang() {
        let spec = snn_core::models::cuba(300, 5);
        let job = Job {
            spec: &spec,
            n_steps: 20,
            threads: 1,
            raster: None,
            budget: MemoryBudget::unknown(),
            json: false,
        };
        let e = snn_core::workers::with_refused_thread(3, || run_dry(&job, 4))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot start the thread of dry-run rank 2 of 4")
                && e.contains("no rank ran"),
            "{e}"
        );
    }
}
