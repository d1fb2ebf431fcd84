//! Distributed runs over `DryRun` ranks give the single process's spikes, for any rank and
//! thread count; bad requests and failing ranks give clear errors, never a hang.

use proptest::prelude::*;
use snn_core::comm::{CommError, Communicator, DryRun};
use snn_core::distributed::{DistributedError, run_rank, simulate_dry_run};
use snn_core::{Network, NullSink, models, simulate};
use snn_types::budget::MemoryBudget;
use snn_types::{
    Connectivity, Distribution, LifExpParams, NetworkSpec, NeuronModel, PopulationSpec,
    ProjectionSpec, Receptor, RecordingSpec, SpikeTrainSpec, StimulusSpec, ValueSpec,
};

fn lif() -> NeuronModel {
    NeuronModel::LifExp(LifExpParams::default())
}

fn pop(name: &str, size: u32, neuron: NeuronModel) -> PopulationSpec {
    PopulationSpec {
        shape: None,
        name: name.into(),
        size,
        neuron,
        v_init: Some(ValueSpec::Random(Distribution::Uniform {
            low: -70.0,
            high: -55.0,
        })),
    }
}

fn proj(
    source: &str,
    target: &str,
    connectivity: Connectivity,
    weight: ValueSpec,
    delay_ms: Option<ValueSpec>,
    receptor: Receptor,
) -> ProjectionSpec {
    ProjectionSpec {
        name: None,
        source: source.into(),
        target: target.into(),
        connectivity,
        weight,
        delay_ms,
        receptor,
        allow_autapses: false,
        plasticity: None,
    }
}

/// CUBA plus an input population, random weights and delays, every rule that generates in a
/// different order, and all kinds of stimuli.
fn busy_spec() -> NetworkSpec {
    let mut spec = models::cuba(900, 5);
    spec.populations.push(pop("in", 50, NeuronModel::Input));
    spec.projections.push(proj(
        "in",
        "exc",
        Connectivity::FixedProbability { p: 0.2 },
        ValueSpec::Random(Distribution::Uniform {
            low: 0.5,
            high: 3.0,
        }),
        Some(ValueSpec::Random(Distribution::Uniform {
            low: 0.1,
            high: 3.0,
        })),
        Receptor::Excitatory,
    ));
    spec.projections.push(proj(
        "exc",
        "inh",
        Connectivity::FixedIndegree { k: 20 },
        ValueSpec::Random(Distribution::Normal {
            mean: 1.0,
            std: 0.5,
        }),
        Some(ValueSpec::Random(Distribution::Normal {
            mean: 1.5,
            std: 0.5,
        })),
        Receptor::Excitatory,
    ));
    spec.projections.push(proj(
        "inh",
        "exc",
        Connectivity::Explicit {
            sources: (0..150).map(|i| (i * 7) % 180).collect(),
            targets: (0..150).map(|i| (i * 131) % 720).collect(),
            weights: Some((0..150).map(|i| -(i % 5) as f64).collect()),
            delays_ms: Some((0..150).map(|i| 0.1 + (i % 9) as f64 * 0.3).collect()),
        },
        ValueSpec::Constant(1.0),
        None,
        Receptor::Inhibitory,
    ));
    spec.stimuli.push(StimulusSpec::Poisson {
        target: "in".into(),
        rate_hz: 20.0,
        weight: 1.0,
        receptor: Receptor::Excitatory,
        start_ms: 5.0,
        stop_ms: Some(150.0),
    });
    spec.stimuli.push(StimulusSpec::Poisson {
        target: "inh".into(),
        rate_hz: 500.0,
        weight: 2.0,
        receptor: Receptor::Excitatory,
        start_ms: 0.0,
        stop_ms: None,
    });
    spec.stimuli.push(StimulusSpec::Current {
        target: "exc".into(),
        amplitude: 0.5,
        start_ms: 20.0,
        stop_ms: Some(60.0),
        neurons: Some((0..400).step_by(3).collect()),
    });
    spec
}

#[test]
fn busy_network_is_identical_for_1_to_4_ranks_and_1_or_2_threads() {
    let spec = busy_spec();
    let steps = 1500;
    let (r1, _, s1) = simulate(&spec, steps, 1).unwrap();
    assert!(r1.len() > 1000, "the network must be active ({})", r1.len());
    let single = Network::build(&spec).unwrap();
    for ranks in 1..=4 {
        for threads in [1, 2] {
            let d = simulate_dry_run(&spec, steps, ranks, threads).unwrap();
            assert_eq!(d.raster, r1, "{ranks} ranks x {threads} threads");
            let st = &d.report.ranks;
            assert_eq!(st.len(), ranks);
            assert_eq!(st.iter().map(|r| r.0.run.spikes).sum::<u64>(), s1.spikes);
            assert_eq!(
                st.iter().map(|r| r.0.run.syn_events).sum::<u64>(),
                s1.syn_events,
                "{ranks} ranks"
            );
            assert!(st.iter().all(|r| r.0.run.steps == steps));
            // The shortest delay is one step: one exchange per step.
            assert!(
                st.iter()
                    .all(|r| r.0.epochs == steps && r.0.epoch_steps == 1)
            );
            if ranks > 1 {
                // Synapses are stored once, on the rank of their target.
                let max = st.iter().map(|r| r.1).max().unwrap();
                assert!(max < single.synapse_memory_bytes(), "{ranks} ranks");
            }
        }
    }
}

/// Every rank of `spec` keeps exactly the single process's synapses onto its neurons (same
/// sources, targets and weights, in the same order), and together the ranks hold them all.
fn assert_split_exactly(spec: &NetworkSpec, rank_counts: &[usize]) {
    let single = Network::build(spec).unwrap();
    for &ranks in rank_counts {
        let mut total = 0u64;
        for r in 0..ranks {
            let net = Network::build_rank(spec, 1, r, ranks, &MemoryBudget::unknown()).unwrap();
            let own = net.owned_neurons();
            for (a, b) in net.projections().iter().zip(single.projections()) {
                total += a.n_synapses() as u64;
                let tstart = single.populations()[b.target_pop].start;
                let mut kept = Vec::new();
                a.for_each_synapse(|s, t, w| kept.push((s, t, w.to_bits())));
                let mut expect = Vec::new();
                b.for_each_synapse(|s, t, w| {
                    if own.contains(&(tstart + t)) {
                        expect.push((s, t, w.to_bits()));
                    }
                });
                assert_eq!(kept, expect, "rank {r} of {ranks}");
            }
        }
        assert_eq!(total, single.n_synapses(), "{ranks} ranks");
    }
}

#[test]
fn synapses_are_split_exactly_over_the_ranks() {
    assert_split_exactly(&busy_spec(), &[2, 3, 4]);
}

#[test]
fn longer_delays_exchange_once_per_epoch() {
    let mut spec = models::cuba(400, 3);
    for p in &mut spec.projections {
        p.delay_ms = Some(ValueSpec::Random(Distribution::Uniform {
            low: 0.8,
            high: 2.5,
        }));
    }
    let (r1, _, _) = simulate(&spec, 1000, 1).unwrap();
    let d = simulate_dry_run(&spec, 1000, 3, 2).unwrap();
    assert_eq!(d.raster, r1);
    let st = d.report.ranks[0].0;
    assert!(st.epoch_steps >= 8, "epoch {}", st.epoch_steps);
    assert_eq!(st.epochs, 1000u64.div_ceil(st.epoch_steps));
}

#[test]
fn rates_and_traces_survive_distribution() {
    let mut spec = models::cuba(300, 9);
    spec.recording = RecordingSpec {
        spikes: Some(vec!["inh".into()]),
        rates: vec!["exc".into(), "inh".into()],
        ..RecordingSpec::default()
    };
    let (r1, rec1, _) = simulate(&spec, 800, 1).unwrap();
    let d = simulate_dry_run(&spec, 800, 4, 1).unwrap();
    assert_eq!(d.raster, r1, "only the recorded population");
    // Every rank counts the whole network's rates.
    let mut net = Network::build_rank(&spec, 1, 0, 1, &MemoryBudget::unknown()).unwrap();
    net.run_distributed(800, &mut NullSink, &mut snn_core::comm::Local, &mut |_| {})
        .unwrap();
    assert_eq!(net.take_recordings().rates, rec1.rates);
}

#[test]
fn input_spike_arrays_cross_ranks() {
    let mut spec = models::cuba(200, 4);
    spec.populations.push(pop("in", 3, NeuronModel::Input));
    spec.projections.push(proj(
        "in",
        "exc",
        Connectivity::AllToAll,
        ValueSpec::Constant(30.0),
        Some(ValueSpec::Constant(0.5)),
        Receptor::Excitatory,
    ));
    spec.stimuli.push(StimulusSpec::SpikeArray {
        target: "in".into(),
        weight: 1.0,
        receptor: Receptor::Excitatory,
        spikes: vec![
            SpikeTrainSpec {
                neuron: 0,
                times_ms: vec![1.0, 5.0, 9.0],
            },
            SpikeTrainSpec {
                neuron: 2,
                times_ms: vec![3.0],
            },
        ],
    });
    let (r1, _, _) = simulate(&spec, 400, 1).unwrap();
    for ranks in [2, 5] {
        assert_eq!(simulate_dry_run(&spec, 400, ranks, 1).unwrap().raster, r1);
    }
}

#[test]
fn more_ranks_than_neurons_is_a_clear_error() {
    let spec = models::cuba(10, 1);
    let e = simulate_dry_run(&spec, 10, 12, 1).unwrap_err();
    assert!(e.to_string().contains("12 ranks for 10 neurons"), "{e}");
}

#[test]
fn a_delay_below_dt_is_a_clear_error() {
    let mut spec = models::cuba(100, 1);
    spec.projections[0].delay_ms = Some(ValueSpec::Constant(0.05));
    let e = simulate_dry_run(&spec, 10, 2, 1).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("delay_ms") && msg.contains("dt"), "{msg}");
}

/// A rank whose exchange fails after `after` epochs.
struct Failing {
    inner: DryRun,
    after: u32,
}

impl Communicator for Failing {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn all_gather_u32(
        &mut self,
        send: &[u32],
        recv: &mut Vec<u32>,
        counts: &mut Vec<usize>,
    ) -> Result<(), CommError> {
        if self.after == 0 {
            return Err(CommError::Failed("link down".into()));
        }
        self.after -= 1;
        self.inner.all_gather_u32(send, recv, counts)
    }
    fn sum_u64(&mut self, x: u64) -> Result<u64, CommError> {
        self.inner.sum_u64(x)
    }
    fn max_u64(&mut self, x: u64) -> Result<u64, CommError> {
        self.inner.max_u64(x)
    }
    fn sum_f64(&mut self, x: f64) -> Result<f64, CommError> {
        self.inner.sum_f64(x)
    }
    fn max_f64(&mut self, x: f64) -> Result<f64, CommError> {
        self.inner.max_f64(x)
    }
    fn barrier(&mut self) -> Result<(), CommError> {
        self.inner.barrier()
    }
    fn abort(&mut self, reason: &str) {
        self.inner.abort(reason)
    }
}

#[test]
fn a_failing_rank_stops_the_others() {
    let spec = models::cuba(400, 2);
    let budget = MemoryBudget::unknown();
    let errs: Vec<DistributedError> = std::thread::scope(|s| {
        let hs: Vec<_> = DryRun::group(3)
            .into_iter()
            .map(|c| {
                let (spec, budget) = (&spec, &budget);
                s.spawn(move || {
                    let after = if c.rank() == 1 { 50 } else { u32::MAX };
                    let mut comm = Failing { inner: c, after };
                    run_rank(spec, 1000, 2, budget, &mut comm, &mut NullSink, &mut |_| {})
                        .map(|_| ())
                        .unwrap_err()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(errs[1].to_string().contains("link down"), "{}", errs[1]);
    for r in [0, 2] {
        assert_eq!(
            errs[r].to_string(),
            format!("rank {r}: rank 1 stopped the run: communication failed: link down")
        );
    }
}

fn random_spec(
    sizes: &[u32],
    rules: &[(usize, usize, u8, u32, bool)],
    seed: u64,
    rate_hz: f64,
) -> NetworkSpec {
    let names: Vec<String> = (0..sizes.len()).map(|i| format!("p{i}")).collect();
    let populations = sizes
        .iter()
        .zip(&names)
        .map(|(&n, name)| pop(name, n, lif()))
        .collect();
    let mut projections = Vec::new();
    for &(s, t, rule, x, random_delay) in rules {
        let (s, t) = (s % sizes.len(), t % sizes.len());
        let (ns, nt) = (sizes[s], sizes[t]);
        let avail_s = if s == t { ns - 1 } else { ns };
        let avail_t = if s == t { nt - 1 } else { nt };
        let connectivity = match rule % 6 {
            0 => Connectivity::FixedProbability {
                p: (x % 100) as f64 / 200.0,
            },
            1 => Connectivity::FixedIndegree {
                k: (x % 8).min(avail_s),
            },
            2 => Connectivity::FixedOutdegree {
                k: (x % 8).min(avail_t),
            },
            3 => Connectivity::AllToAll,
            4 => Connectivity::FixedTotalNumber { n: (x % 60) as u64 },
            _ => {
                let n = (x % 40) as usize;
                Connectivity::Explicit {
                    sources: (0..n).map(|i| (i as u32 * 7 + x) % ns).collect(),
                    targets: (0..n).map(|i| (i as u32 * 13 + x / 3) % nt).collect(),
                    weights: None,
                    delays_ms: None,
                }
            }
        };
        let inhibitory = x % 3 == 0;
        let w = 2.0 + (x % 7) as f64;
        projections.push(proj(
            &names[s],
            &names[t],
            connectivity,
            ValueSpec::Random(Distribution::Uniform {
                low: 0.5 * w,
                high: w * if inhibitory { -1.0 } else { 1.5 },
            }),
            Some(if random_delay {
                ValueSpec::Random(Distribution::Uniform {
                    low: 0.1 * (1 + x % 4) as f64,
                    high: 2.0,
                })
            } else {
                ValueSpec::Constant(0.1 * (1 + x % 5) as f64)
            }),
            if inhibitory {
                Receptor::Inhibitory
            } else {
                Receptor::Excitatory
            },
        ));
    }
    NetworkSpec {
        name: None,
        dt_ms: 0.1,
        duration_ms: None,
        seed,
        populations,
        projections,
        stimuli: vec![StimulusSpec::Poisson {
            target: names[0].clone(),
            rate_hz,
            weight: 40.0,
            receptor: Receptor::Excitatory,
            start_ms: 0.0,
            stop_ms: None,
        }],
        recording: RecordingSpec::default(),
        readout: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_networks_are_identical_for_any_rank_and_thread_count(
        sizes in prop::collection::vec(1u32..40, 1..4),
        rules in prop::collection::vec((0usize..4, 0usize..4, any::<u8>(), any::<u32>(), any::<bool>()), 0..5),
        seed in any::<u64>(),
        rate_hz in 100.0f64..3000.0,
        ranks in 1usize..5,
        threads in 1usize..3,
    ) {
        let spec = random_spec(&sizes, &rules, seed, rate_hz);
        prop_assume!(spec.validate().is_ok());
        let n: u32 = sizes.iter().sum();
        let ranks = ranks.min(n as usize);
        let (r1, _, s1) = simulate(&spec, 300, 1).unwrap();
        let d = simulate_dry_run(&spec, 300, ranks, threads).unwrap();
        prop_assert_eq!(&d.raster, &r1);
        prop_assert_eq!(d.report.ranks.iter().map(|r| r.0.run.syn_events).sum::<u64>(), s1.syn_events);
    }
}

#[test]
fn conv_projections_are_identical_over_ranks() {
    let path = format!(
        "{}/../../examples/conv_small.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let spec = NetworkSpec::load(std::path::Path::new(&path)).unwrap();
    let (r1, _, s1) = simulate(&spec, 300, 1).unwrap();
    assert!(!r1.is_empty());
    for ranks in [2, 3] {
        let d = simulate_dry_run(&spec, 300, ranks, 2).unwrap();
        assert_eq!(d.raster, r1, "{ranks} ranks");
        let events: u64 = d.report.ranks.iter().map(|r| r.0.run.syn_events).sum();
        assert_eq!(events, s1.syn_events, "{ranks} ranks");
    }
    let single = Network::build(&spec).unwrap();
    let owned: u64 = (0..3)
        .map(|r| {
            Network::build_rank(&spec, 1, r, 3, &MemoryBudget::unknown())
                .unwrap()
                .owned_synapses()
        })
        .sum();
    assert_eq!(owned, single.n_synapses());
}

/// The microcircuit (the `fixed_total_number` rule, truncated-normal weights and delays packed
/// into the target words) at a small scale: every rank keeps exactly the single process's
/// synapses onto its neurons, and the spikes are the same for 1-4 ranks.
#[test]
fn microcircuit_is_identical_over_ranks() {
    let opts = models::MicrocircuitOptions::default();
    let spec = models::microcircuit(0.02, &opts).unwrap();
    assert_split_exactly(&spec, &[2, 3]);
    let steps = 3000;
    let (r1, _, _) = simulate(&spec, steps, 1).unwrap();
    assert!(r1.len() > 200, "the network must be active ({})", r1.len());
    for ranks in [2, 4] {
        let d = simulate_dry_run(&spec, steps, ranks, 1).unwrap();
        assert_eq!(d.raster, r1, "{ranks} ranks");
    }
}

/// An absurd planning rate saturates the exchange estimate instead of overflowing (it panicked
/// with "attempt to add with overflow" for `--plan-rate-hz 1e300`).
#[test]
fn a_huge_planning_rate_saturates() {
    let spec = models::cuba(100, 1);
    let plan = snn_core::distributed::plan_ranks(&spec, 2, 1, 1e300).unwrap();
    assert!(plan.ranks.iter().all(|r| r.exchange_bytes == u64::MAX));
    assert!(!plan.bytes_per_epoch().is_nan());
}

/// Runs rank `r` of a DryRun group with `jobs[r]` (spec, steps) and returns every rank's result;
/// panics if the ranks have not all returned within a minute (a hang).
fn run_jobs(jobs: &[(NetworkSpec, u64)]) -> Vec<Result<(), DistributedError>> {
    let (tx, rx) = std::sync::mpsc::channel();
    for (mut comm, (spec, steps)) in DryRun::group(jobs.len()).into_iter().zip(jobs.to_vec()) {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let r = comm.rank();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_rank(
                    &spec,
                    steps,
                    1,
                    &MemoryBudget::unknown(),
                    &mut comm,
                    &mut NullSink,
                    &mut |_| {},
                )
                .map(|_| ())
            }));
            let _ = tx.send((r, out.unwrap_or(Err(DistributedError::Panicked(r)))));
        });
    }
    let mut out: Vec<Option<Result<(), DistributedError>>> = vec![None; jobs.len()];
    for _ in 0..jobs.len() {
        let (r, res) = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a rank hung");
        out[r] = Some(res);
    }
    out.into_iter().map(Option::unwrap).collect()
}

/// Ranks started with different jobs (a node-local spec that differs, another seed, another
/// duration) are refused on every rank before anything is built. Without the check, different
/// specs ran to completion with each rank's spikes delivered to the wrong neurons (and a report
/// of 450 neurons for specs of 400 and 500), and different durations left the ranks of the
/// shorter run waiting in an exchange the others never reached.
#[test]
fn ranks_started_with_different_jobs_are_refused() {
    let (a, b) = (models::cuba(400, 1), models::cuba(500, 1));
    let errs = run_jobs(&[(a.clone(), 200), (b, 200), (a.clone(), 200)]);
    for e in &errs {
        let msg = e.as_ref().unwrap_err().to_string();
        assert!(
            msg.contains("rank(s) 1 loaded a different network than rank 0"),
            "{msg}"
        );
        assert!(matches!(e, Err(DistributedError::Mismatch(_))));
    }
    let mut seeded = a.clone();
    seeded.seed += 1;
    for e in run_jobs(&[(a.clone(), 200), (seeded, 200)]) {
        assert!(matches!(e, Err(DistributedError::Mismatch(_))), "{e:?}");
    }
    let errs = run_jobs(&[(a.clone(), 200), (a.clone(), 200), (a.clone(), 300)]);
    for e in &errs {
        let msg = e.as_ref().unwrap_err().to_string();
        assert!(
            msg.contains("rank(s) 2 would simulate another number of steps than rank 0 (rank 2: 300, rank 0: 200)"),
            "{msg}"
        );
    }
    // The same job on every rank runs.
    assert!(
        run_jobs(&[(a.clone(), 200), (a, 200)])
            .iter()
            .all(Result::is_ok)
    );
}
