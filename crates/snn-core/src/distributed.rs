//! Distributed simulation: neurons split over ranks, spikes exchanged once per epoch.
//!
//! **Decomposition.** Rank `r` of `R` owns the contiguous block of global neurons
//! [`rank_range`]`(n, R, r)` = `r*n/R .. (r+1)*n/R` (blocks of equal size, cut across population
//! boundaries like the thread partitions). It holds the state, stimuli and input ring buffers of
//! those neurons and every synapse that *targets* them; its threads split the block as a single
//! process splits the network. Because the blocks ascend with the rank, the all-gathered spikes
//! of the ranks, concatenated in rank order, are already sorted: no merge per step. The price is
//! load balance: a rank whose block holds the busier population (CUBA's inhibitory neurons, a
//! layer with a higher rate) does more work than the others, whereas a round-robin assignment
//! would spread every population over every rank (see docs/distributed.md).
//!
//! **Connectivity** is generated on every rank from the same seeded streams as in one process;
//! each synapse is kept or dropped where the rule emits it
//! ([`build_projection_for_targets`](crate::connect::build_projection_for_targets)), so no rank
//! holds a global edge list (a rank still spends the time to draw every synapse; row pointers
//! stay one per source neuron).
//!
//! **Time** advances in epochs of the shortest delay `D` (steps): a spike emitted at step `t`
//! reaches no target before `t + D`, so every rank can update its neurons for `D` steps, then
//! exchange the epoch's spikes with one all-gather, then deliver them step by step. Each target
//! receives its inputs in the same order as in one process, so the spikes are bit-identical for
//! any rank count and any thread count (tests: `tests/distributed.rs`).
//!
//! ```
//! use snn_core::{distributed, models};
//!
//! let spec = models::cuba(400, 7);
//! let one = snn_core::simulate(&spec, 300, 1).unwrap().0;
//! let three = distributed::simulate_dry_run(&spec, 300, 3, 1).unwrap();
//! assert_eq!(one, three.raster);
//! ```

use std::ops::Range;

use snn_types::budget::{MemoryBudget, TooLarge};
use snn_types::{Connectivity, NetworkSpec, SpikeRaster, ValueSpec, delay_steps};

use crate::comm::{CommError, Communicator, DryRun};
use crate::engine::{Network, RankRunStats};
use crate::error::BuildError;
use crate::memory::NetworkMemory;
use crate::record::SpikeSink;

/// The global neurons rank `rank` of `ranks` owns: `rank*n/ranks .. (rank+1)*n/ranks`.
pub fn rank_range(n: u32, ranks: usize, rank: usize) -> Range<u32> {
    let r = ranks.max(1) as u64;
    let at = |i: u64| (i.min(r) * n as u64 / r) as u32;
    at(rank as u64)..at(rank as u64 + 1)
}

/// The planned memory of one rank.
#[derive(Debug, Clone, PartialEq)]
pub struct RankPlan {
    /// The rank.
    pub rank: usize,
    /// Global neurons it owns.
    pub neurons: Range<u32>,
    /// Synapses expected onto its neurons.
    pub synapses: u64,
    /// Bytes of its neurons (state, ring buffers, buffers).
    pub neuron_bytes: u64,
    /// Bytes of its synapses (targets, per-synapse weights and delays) and of the row pointers,
    /// which every rank keeps for every source neuron.
    pub synapse_bytes: u64,
    /// Peak bytes while building: the above plus the largest projection's expansion scratch
    /// and two per-source-row counters.
    pub build_bytes: u64,
    /// Bytes of the exchange buffers for one epoch at the plan's rate (send and receive).
    pub exchange_bytes: u64,
}

impl RankPlan {
    /// Checks [`build_bytes`](Self::build_bytes) against `budget`.
    pub fn check(&self, budget: &MemoryBudget) -> Result<(), TooLarge> {
        budget.check(
            format!(
                "rank {} ({} neurons, about {} synapses)",
                self.rank,
                self.neurons.end - self.neurons.start,
                self.synapses
            ),
            self.build_bytes,
        )
    }
}

/// What a distributed run of a spec will need: per-rank memory and the exchange traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributedPlan {
    /// All neurons.
    pub neurons: u32,
    /// All synapses (expected).
    pub synapses: u64,
    /// Steps per epoch (the shortest delay the spec allows, in steps; a random delay counts as
    /// its lower bound, or one step when it has none).
    pub epoch_steps: u64,
    /// Integration step (ms).
    pub dt_ms: f64,
    /// The mean rate the traffic estimate assumes (Hz).
    pub mean_rate_hz: f64,
    /// Per rank.
    pub ranks: Vec<RankPlan>,
}

impl DistributedPlan {
    /// Exchanges (collectives) per simulated second.
    pub fn exchanges_per_sim_s(&self) -> f64 {
        1000.0 / (self.epoch_steps as f64 * self.dt_ms)
    }

    /// Expected spikes of the whole network per epoch at the plan's rate.
    pub fn spikes_per_epoch(&self) -> f64 {
        self.neurons as f64 * self.mean_rate_hz * self.epoch_steps as f64 * self.dt_ms / 1000.0
    }

    /// Expected bytes one rank receives per epoch: every spike (4 bytes) plus each rank's
    /// per-step counts.
    pub fn bytes_per_epoch(&self) -> f64 {
        self.spikes_per_epoch() * 4.0 + (self.ranks.len() as u64 * self.epoch_steps * 4) as f64
    }

    /// Point-to-point messages per simulated second the whole job exchanges if each all-gather
    /// costs every rank one message to every other rank (the upper bound of a naive
    /// all-gather; ring and recursive-doubling algorithms send fewer, larger messages).
    pub fn messages_per_sim_s(&self) -> f64 {
        let r = self.ranks.len() as f64;
        self.exchanges_per_sim_s() * r * (r - 1.0)
    }

    /// The largest rank's build bytes.
    pub fn max_rank_bytes(&self) -> u64 {
        self.ranks.iter().map(|r| r.build_bytes).max().unwrap_or(0)
    }
}

/// The shortest delay a spec allows, in steps.
fn min_delay_steps(spec: &NetworkSpec) -> u64 {
    let mut d = u64::MAX;
    for pr in &spec.projections {
        let steps = match (&pr.connectivity, &pr.delay_ms) {
            (
                Connectivity::Explicit {
                    delays_ms: Some(v), ..
                },
                _,
            ) => v
                .iter()
                .map(|&x| delay_steps(x, spec.dt_ms) as u64)
                .min()
                .unwrap_or(u64::MAX),
            (_, None) => 1,
            (_, Some(ValueSpec::Constant(x))) => delay_steps(*x, spec.dt_ms) as u64,
            (_, Some(ValueSpec::Random(snn_types::Distribution::Uniform { low, .. }))) => {
                delay_steps(*low, spec.dt_ms) as u64
            }
            (_, Some(ValueSpec::Random(_))) => 1,
        };
        d = d.min(steps);
    }
    if d == u64::MAX {
        crate::engine::MAX_EPOCH_STEPS
    } else {
        d.clamp(1, crate::engine::MAX_EPOCH_STEPS)
    }
}

/// Checks that `ranks` ranks can share the spec's neurons (at least one neuron each).
pub fn check_ranks(spec: &NetworkSpec, ranks: usize) -> Result<(), BuildError> {
    let n = spec.n_neurons();
    if ranks == 0 {
        return Err(BuildError::Request(
            "the rank count must be at least 1".into(),
        ));
    }
    if ranks as u64 > n {
        return Err(BuildError::Request(format!(
            "{ranks} ranks for {n} neurons: every rank needs at least one neuron; use at most {n} ranks"
        )));
    }
    Ok(())
}

/// Plans a run of `spec` over `ranks` ranks of `threads` threads each, without building
/// anything: per-rank memory from [`NetworkMemory::estimate`] (each projection's synapses shared
/// out in proportion to the targets a rank owns, row pointers kept whole on every rank) and the
/// exchange traffic at `mean_rate_hz`. Refuses more ranks than neurons.
pub fn plan_ranks(
    spec: &NetworkSpec,
    ranks: usize,
    threads: usize,
    mean_rate_hz: f64,
) -> Result<DistributedPlan, BuildError> {
    check_ranks(spec, ranks)?;
    let est = NetworkMemory::estimate(spec, threads);
    let offsets = spec.population_offsets();
    let n = spec.n_neurons() as u32;
    let epoch_steps = min_delay_steps(spec);
    let rate = if mean_rate_hz.is_finite() && mean_rate_hz > 0.0 {
        mean_rate_hz
    } else {
        0.0
    };
    let spikes_per_epoch = n as f64 * rate * epoch_steps as f64 * spec.dt_ms / 1000.0;
    let overlap = |a: &Range<u32>, lo: u64, hi: u64| -> u64 {
        (a.end as u64)
            .min(hi)
            .saturating_sub((a.start as u64).max(lo))
    };
    let mut plans = Vec::with_capacity(ranks);
    for r in 0..ranks {
        let own = rank_range(n, ranks, r);
        let mut neuron_bytes = 0u64;
        for (i, p) in est.populations.iter().enumerate() {
            let mine = overlap(&own, offsets[i], offsets[i + 1]);
            if p.size > 0 {
                neuron_bytes = neuron_bytes.saturating_add(p.bytes * mine / p.size as u64);
            }
        }
        // Every rank holds the whole network's fan-out table (4 bytes a neuron); the owned
        // neurons' share is in their bytes already.
        neuron_bytes = neuron_bytes.saturating_add((n - (own.end - own.start)) as u64 * 4);
        let (mut synapses, mut synapse_bytes, mut scratch, mut rows) = (0u64, 0u64, 0u64, 0u64);
        for (j, p) in est.projections.iter().enumerate() {
            let pr = &spec.projections[j];
            let (Some(si), Some(ti)) = (
                spec.population_index(&pr.source),
                spec.population_index(&pr.target),
            ) else {
                continue;
            };
            let ns = spec.populations[si].size as u64;
            let nt = spec.populations[ti].size as u64;
            let frac = if nt == 0 {
                0.0
            } else {
                overlap(&own, offsets[ti], offsets[ti + 1]) as f64 / nt as f64
            };
            synapses += (p.synapses.expected as f64 * frac).round() as u64;
            if p.kernel_storage {
                synapse_bytes = synapse_bytes.saturating_add(p.storage_bytes);
            } else {
                let row_ptr = ns * 8;
                let per = p.storage_bound_bytes.saturating_sub(row_ptr);
                synapse_bytes = synapse_bytes.saturating_add((per as f64 * frac) as u64 + row_ptr);
                rows += ns;
            }
            scratch = scratch.max((p.scratch_bytes as f64 * frac) as u64);
        }
        let split = if threads > 1 {
            rows * (threads as u64 + 1) * 4
        } else {
            0
        };
        // Saturating: an absurd rate (1e300 Hz) gives u64::MAX bytes, never an overflow.
        let exchange_bytes = ((spikes_per_epoch * 4.0) as u64)
            .saturating_add((ranks as u64).saturating_mul(epoch_steps).saturating_mul(4))
            .saturating_mul(2);
        // Two per-source-row counters (u32) and one base (u64) while a projection is filtered.
        let counters = if ranks > 1 {
            rows.min(u64::MAX / 16) * 16
        } else {
            0
        };
        plans.push(RankPlan {
            rank: r,
            neurons: own,
            synapses,
            neuron_bytes,
            synapse_bytes,
            build_bytes: neuron_bytes
                .saturating_add(synapse_bytes)
                .saturating_add(scratch)
                .saturating_add(split)
                .saturating_add(counters),
            exchange_bytes,
        });
    }
    Ok(DistributedPlan {
        neurons: n,
        synapses: est.synapses().expected,
        epoch_steps,
        dt_ms: spec.dt_ms,
        mean_rate_hz: rate,
        ranks: plans,
    })
}

/// Why a distributed run failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistributedError {
    /// A rank could not build its share (the first failing rank is reported). The reason is in
    /// the message (not also the error's `source()`, so a printed chain does not repeat it).
    #[error("rank {rank}: {error}")]
    Build {
        /// The rank.
        rank: usize,
        /// Why.
        error: BuildError,
    },
    /// A rank's exchange failed or it was stopped.
    #[error("rank {rank}: {error}")]
    Comm {
        /// The rank.
        rank: usize,
        /// Why.
        error: CommError,
    },
    /// A rank's thread panicked (a bug); the others were stopped.
    #[error("rank {0} panicked")]
    Panicked(usize),
    /// The ranks were started with different jobs (another spec, seed or duration on some
    /// rank): every rank found it in the same exchange, before anything was built.
    #[error("{0}")]
    Mismatch(String),
    /// The system would not start the thread of a dry-run rank (a limit on threads or memory):
    /// no rank ran.
    #[error(
        "cannot start the thread of dry-run rank {rank} of {ranks} ({reason}); no rank ran: \
         use fewer ranks or threads"
    )]
    NoThread {
        /// The rank whose thread did not start.
        rank: usize,
        /// The number of ranks.
        ranks: usize,
        /// The system's reason.
        reason: String,
    },
}

/// A fingerprint of a spec: FNV-1a (64 bits) over its `Debug` form, streamed (nothing the size
/// of the spec is allocated). Two ranks of one job must have the same; the value is only
/// compared between processes running the same binary.
pub fn spec_fingerprint(spec: &NetworkSpec) -> u64 {
    struct Fnv(u64);
    impl std::fmt::Write for Fnv {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for &b in s.as_bytes() {
                self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
            }
            Ok(())
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    // Writing into `Fnv` never fails.
    let _ = std::fmt::Write::write_fmt(&mut h, format_args!("{spec:?}"));
    h.0
}

/// Checks, with one all-gather, that every rank runs the same spec for the same number of steps.
/// Ranks that loaded different specs (a node-local copy edited, another `--seed`) would otherwise
/// cut the neurons differently and deliver each other's spikes to the wrong neurons without any
/// error, and ranks with different durations would wait forever in an exchange the others never
/// reach. Every rank sees every rank's fingerprint, so every rank returns the same error.
pub fn check_same_job(
    spec: &NetworkSpec,
    n_steps: u64,
    comm: &mut dyn Communicator,
) -> Result<(), DistributedError> {
    let rank = comm.rank();
    let fp = spec_fingerprint(spec);
    let send = [
        fp as u32,
        (fp >> 32) as u32,
        n_steps as u32,
        (n_steps >> 32) as u32,
    ];
    let (mut recv, mut counts) = (Vec::new(), Vec::new());
    if let Err(e) = comm.all_gather_u32(&send, &mut recv, &mut counts) {
        if !matches!(e, CommError::Aborted { .. }) {
            comm.abort(&e.to_string());
        }
        return Err(DistributedError::Comm { rank, error: e });
    }
    if counts.iter().any(|&c| c != send.len()) || recv.len() != send.len() * counts.len() {
        let e = CommError::Failed("malformed job fingerprint exchange".into());
        comm.abort(&e.to_string());
        return Err(DistributedError::Comm { rank, error: e });
    }
    let word =
        |r: usize, i: usize| recv[4 * r + 2 * i] as u64 | (recv[4 * r + 2 * i + 1] as u64) << 32;
    let (fp0, steps0) = (word(0, 0), word(0, 1));
    let mut spec_differs = Vec::new();
    let mut steps_differ = Vec::new();
    for r in 1..counts.len() {
        if word(r, 0) != fp0 {
            spec_differs.push(r);
        }
        if word(r, 1) != steps0 {
            steps_differ.push((r, word(r, 1)));
        }
    }
    if spec_differs.is_empty() && steps_differ.is_empty() {
        return Ok(());
    }
    let list = |v: &[usize]| {
        let mut s: Vec<String> = v.iter().take(8).map(|r| r.to_string()).collect();
        if v.len() > 8 {
            s.push(format!("... ({} ranks)", v.len()));
        }
        s.join(", ")
    };
    let mut why = Vec::new();
    if !spec_differs.is_empty() {
        why.push(format!(
            "rank(s) {} loaded a different network than rank 0 (another spec file, seed or \
             --neurons/--scale)",
            list(&spec_differs)
        ));
    }
    if !steps_differ.is_empty() {
        let (r, s) = steps_differ[0];
        why.push(format!(
            "rank(s) {} would simulate another number of steps than rank 0 (rank {r}: {s}, \
             rank 0: {steps0})",
            list(&steps_differ.iter().map(|x| x.0).collect::<Vec<_>>())
        ));
    }
    Err(DistributedError::Mismatch(format!(
        "the {} ranks were not started with the same job: {}; every rank must run the same spec \
         with the same flags",
        counts.len(),
        why.join("; ")
    )))
}

/// Builds this rank's share of `spec` and runs it, stopping every other rank through `comm` if
/// the build fails (so that no rank waits forever in a collective). First checks that every rank
/// was given the same spec and step count ([`check_same_job`]).
pub fn run_rank(
    spec: &NetworkSpec,
    n_steps: u64,
    threads: usize,
    budget: &MemoryBudget,
    comm: &mut dyn Communicator,
    sink: &mut dyn SpikeSink,
    progress: &mut dyn FnMut(u64),
) -> Result<(Network, RankRunStats), DistributedError> {
    let rank = comm.rank();
    if comm.size() > 1 {
        check_same_job(spec, n_steps, comm)?;
    }
    let mut net = match Network::build_rank(spec, threads, rank, comm.size(), budget) {
        Ok(n) => n,
        Err(e) => {
            comm.abort(&format!("build failed: {e}"));
            return Err(DistributedError::Build { rank, error: e });
        }
    };
    let stats = net
        .run_distributed(n_steps, sink, comm, progress)
        .map_err(|e| {
            if !matches!(e, CommError::Aborted { .. }) {
                comm.abort(&e.to_string());
            }
            DistributedError::Comm { rank, error: e }
        })?;
    Ok((net, stats))
}

/// The outcome of [`run_dry`]: per-rank statistics, in rank order.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRunReport {
    /// Per rank: its statistics and the bytes of its synapse arrays.
    pub ranks: Vec<(RankRunStats, usize)>,
}

/// Runs `spec` for `n_steps` steps over `ranks` [`DryRun`] ranks (one thread each, plus
/// `threads - 1` workers per rank), giving rank `r` the sink `sinks[r]`. Each rank builds only its
/// share, as an MPI rank would; the planned memory of all ranks together must fit `budget`
/// (they share this process). The first error (a rank's build or exchange) is returned after
/// every rank has stopped. If the system refuses a rank's thread, no rank runs:
/// [`DistributedError::NoThread`].
pub fn run_dry<S: SpikeSink + Send>(
    spec: &NetworkSpec,
    n_steps: u64,
    threads: usize,
    budget: &MemoryBudget,
    sinks: &mut [S],
) -> Result<DryRunReport, DistributedError> {
    let ranks = sinks.len();
    let plan = plan_ranks(spec, ranks, threads, 0.0)
        .map_err(|e| DistributedError::Build { rank: 0, error: e })?;
    // All ranks share this process: their sum must fit.
    let total = plan
        .ranks
        .iter()
        .fold(0u64, |a, r| a.saturating_add(r.build_bytes));
    budget
        .check(format!("{ranks} dry-run ranks in one process"), total)
        .map_err(|e| DistributedError::Build {
            rank: 0,
            error: e.into(),
        })?;
    // Every rank must run (they exchange spikes): none starts before all threads have.
    let tasks: Vec<_> = DryRun::group(ranks)
        .into_iter()
        .zip(sinks.iter_mut())
        .collect();
    let results = crate::workers::run_all(
        tasks,
        |(mut comm, sink)| {
            let rank = comm.rank();
            let mut guard = comm.clone();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_rank(spec, n_steps, threads, budget, &mut comm, sink, &mut |_| {})
                    .map(|(net, st)| (st, net.synapse_memory_bytes()))
            }));
            out.unwrap_or_else(|_| {
                guard.abort("panicked");
                Err(DistributedError::Panicked(rank))
            })
        },
        crate::workers::spawn,
    )
    .map_err(|e| DistributedError::NoThread {
        rank: e.task,
        ranks,
        reason: e.error.to_string(),
    })?;
    let results: Vec<Result<(RankRunStats, usize), DistributedError>> = results
        .into_iter()
        .enumerate()
        .map(|(r, h)| h.unwrap_or(Err(DistributedError::Panicked(r))))
        .collect();
    // Report the rank that failed first-hand rather than one that was stopped by it.
    let mut first_err = None;
    for r in &results {
        if let Err(e) = r {
            let stopped = matches!(
                e,
                DistributedError::Comm {
                    error: CommError::Aborted { .. },
                    ..
                }
            );
            if first_err.is_none() || !stopped {
                let replace = match &first_err {
                    None => true,
                    Some(DistributedError::Comm {
                        error: CommError::Aborted { .. },
                        ..
                    }) => !stopped,
                    Some(_) => false,
                };
                if replace {
                    first_err = Some(e.clone());
                }
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok(DryRunReport {
        ranks: results.into_iter().map(|r| r.expect("checked")).collect(),
    })
}

/// The outcome of [`simulate_dry_run`].
#[derive(Debug, Clone, PartialEq)]
pub struct DrySimulation {
    /// Every rank's recorded spikes, merged: the single process's raster.
    pub raster: SpikeRaster,
    /// Per-rank statistics.
    pub report: DryRunReport,
}

/// Simulates `spec` over `ranks` [`DryRun`] ranks of `threads` threads and merges the ranks'
/// rasters (for tests and comparisons; a large run streams each rank to its own file instead,
/// see [`crate::merge`]). No memory budget is applied.
pub fn simulate_dry_run(
    spec: &NetworkSpec,
    n_steps: u64,
    ranks: usize,
    threads: usize,
) -> Result<DrySimulation, DistributedError> {
    let mut sinks: Vec<SpikeRaster> = (0..ranks).map(|_| SpikeRaster::new(0)).collect();
    let report = run_dry(spec, n_steps, threads, &MemoryBudget::unknown(), &mut sinks)?;
    let mut raster = SpikeRaster::new(0);
    let mut buf = Vec::new();
    for t in 0..n_steps {
        buf.clear();
        for r in &sinks {
            if t < r.n_steps() {
                buf.extend_from_slice(r.at(t));
            }
        }
        raster.on_step(t, &buf);
    }
    Ok(DrySimulation { raster, report })
}

/// One rank's figures of a distributed run, as gathered for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RankSummary {
    /// The rank.
    pub rank: usize,
    /// Neurons it owns.
    pub neurons: u64,
    /// Synapses stored on it (onto its neurons).
    pub synapses: u64,
    /// Bytes of its synapse arrays.
    pub synapse_bytes: u64,
    /// Its peak resident memory (bytes; 0 when unknown or shared with other ranks).
    pub peak_rss_bytes: u64,
    /// Build time (s).
    pub build_s: f64,
    /// Its run statistics.
    pub stats: RankRunStats,
}

impl RankSummary {
    const WORDS: usize = 13;

    fn encode(&self, out: &mut Vec<u32>) {
        let s = &self.stats;
        for x in [
            self.rank as u64,
            self.neurons,
            self.synapses,
            self.synapse_bytes,
            self.peak_rss_bytes,
            self.build_s.to_bits(),
            s.run.steps,
            s.run.spikes,
            s.run.syn_events,
            s.epochs,
            s.epoch_steps,
            s.run_s.to_bits(),
            s.exchange_s.to_bits(),
        ] {
            out.push(x as u32);
            out.push((x >> 32) as u32);
        }
        out.push(s.bytes_sent as u32);
        out.push((s.bytes_sent >> 32) as u32);
        out.push(s.bytes_received as u32);
        out.push((s.bytes_received >> 32) as u32);
    }

    fn decode(w: &[u32]) -> Self {
        let at = |i: usize| w[2 * i] as u64 | (w[2 * i + 1] as u64) << 32;
        RankSummary {
            rank: at(0) as usize,
            neurons: at(1),
            synapses: at(2),
            synapse_bytes: at(3),
            peak_rss_bytes: at(4),
            build_s: f64::from_bits(at(5)),
            stats: RankRunStats {
                run: crate::RunStats {
                    steps: at(6),
                    spikes: at(7),
                    syn_events: at(8),
                },
                epochs: at(9),
                epoch_steps: at(10),
                run_s: f64::from_bits(at(11)),
                exchange_s: f64::from_bits(at(12)),
                bytes_sent: at(13),
                bytes_received: at(14),
            },
        }
    }

    /// Every rank's summary, in rank order, on every rank (one all-gather).
    pub fn gather(&self, comm: &mut dyn Communicator) -> Result<Vec<RankSummary>, CommError> {
        let mut send = Vec::with_capacity(2 * (Self::WORDS + 2));
        self.encode(&mut send);
        let (mut recv, mut counts) = (Vec::new(), Vec::new());
        comm.all_gather_u32(&send, &mut recv, &mut counts)?;
        let mut out = Vec::with_capacity(counts.len());
        let mut at = 0;
        for (r, &c) in counts.iter().enumerate() {
            if c != send.len() || at + c > recv.len() {
                return Err(CommError::Failed(format!(
                    "malformed summary from rank {r}"
                )));
            }
            out.push(Self::decode(&recv[at..at + c]));
            at += c;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_round_trip_through_a_gather() {
        let comms = DryRun::group(2);
        let out: Vec<Vec<RankSummary>> = std::thread::scope(|s| {
            let hs: Vec<_> = comms
                .into_iter()
                .map(|mut c| {
                    s.spawn(move || {
                        let r = c.rank();
                        let me = RankSummary {
                            rank: r,
                            neurons: 10 + r as u64,
                            synapses: u64::MAX - r as u64,
                            build_s: 0.25 * r as f64,
                            stats: RankRunStats {
                                bytes_received: 1 << 40,
                                exchange_s: 1.5,
                                ..RankRunStats::default()
                            },
                            ..RankSummary::default()
                        };
                        me.gather(&mut c).unwrap()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(out[0], out[1]);
        assert_eq!(out[0][1].neurons, 11);
        assert_eq!(out[0][1].synapses, u64::MAX - 1);
        assert_eq!(out[0][1].build_s, 0.25);
        assert_eq!(out[0][0].stats.bytes_received, 1 << 40);
        assert_eq!(out[0][0].stats.exchange_s, 1.5);
    }

    /// The system refuses one rank's thread: an error naming it, and the ranks that started
    /// return without running (none waits for the missing one).
    #[test]
    fn a_refused_rank_thread_is_an_error_and_no_rank_runs() {
        let spec = crate::models::cuba(300, 5);
        let mut sinks: Vec<SpikeRaster> = (0..4).map(|_| SpikeRaster::new(0)).collect();
        // Rank 2's thread is the third.
        let e = crate::workers::with_refused_thread(3, || {
            run_dry(&spec, 20, 1, &MemoryBudget::unknown(), &mut sinks)
        });
        match e {
            Err(DistributedError::NoThread {
                rank: 2, ranks: 4, ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(sinks.iter().all(|s| s.n_steps() == 0), "no rank ran");
        run_dry(&spec, 20, 1, &MemoryBudget::unknown(), &mut sinks).unwrap();
        assert!(sinks.iter().all(|s| s.n_steps() == 20));
    }

    #[test]
    fn rank_ranges_cover_every_neuron_once() {
        for n in [1u32, 2, 7, 100, 4001] {
            for r in 1..=5usize.min(n as usize) {
                let mut next = 0;
                for k in 0..r {
                    let g = rank_range(n, r, k);
                    assert_eq!(g.start, next);
                    assert!(g.end > g.start, "n {n} r {r}");
                    next = g.end;
                }
                assert_eq!(next, n);
            }
        }
    }

    #[test]
    fn more_ranks_than_neurons_is_refused() {
        let spec = crate::models::cuba(10, 1);
        let e = plan_ranks(&spec, 11, 1, 0.0).unwrap_err();
        assert!(e.to_string().contains("11 ranks for 10 neurons"), "{e}");
        assert!(simulate_dry_run(&spec, 10, 11, 1).is_err());
    }

    #[test]
    fn plan_shares_synapses_and_memory() {
        let spec = crate::models::cuba(4000, 1);
        let one = plan_ranks(&spec, 1, 1, 10.0).unwrap();
        let four = plan_ranks(&spec, 4, 1, 10.0).unwrap();
        let total: u64 = four.ranks.iter().map(|r| r.synapses).sum();
        let d = total.abs_diff(one.ranks[0].synapses);
        assert!(d <= 4, "{total} vs {}", one.ranks[0].synapses);
        assert!(four.max_rank_bytes() < one.max_rank_bytes() / 2);
        assert_eq!(four.epoch_steps, 1);
        assert!((four.exchanges_per_sim_s() - 10_000.0).abs() < 1e-6);
    }
}
