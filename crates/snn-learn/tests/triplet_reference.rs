//! `TripletStdp` depresses only the targets whose `o1` trace can still change a weight (the
//! active list, refreshed once per step). This checks it against a direct implementation that
//! visits every synapse of every pre spike and evaluates each trace as
//! `value * exp(-k dt / tau)` (what `DecayTable` stores): weights must be bit-identical over
//! runs long enough for targets to be retired and to come back, on one and on three threads,
//! with the Diehl & Cook rule (nearest pairing, bounded factor) and with an all-to-all rule
//! with `A3- > 0` (unbounded factor: nothing is retired early).

use snn_core::{Network, Plasticity};
use snn_learn::stdp::{StdpRule, TripletParams, TripletStdp, depression_horizon_steps};
use snn_types::{NetworkSpec, SpikeRaster, Step};

/// The rule written naively: every synapse of every spike, traces decayed by direct `exp`.
struct Naive {
    p: TripletParams,
    dt_ms: f64,
    scale: f64,
    /// (value, last step) per neuron: r1, r2 per source; o1, o2 per target.
    r1: Vec<(f64, Step)>,
    r2: Vec<(f64, Step)>,
    o1: Vec<(f64, Step)>,
    o2: Vec<(f64, Step)>,
}

impl Naive {
    fn at(&self, tr: (f64, Step), tau: f64, t: Step) -> f64 {
        if tr.0 == 0.0 {
            return 0.0;
        }
        let a = self.dt_ms / tau;
        tr.0 * (-((t - tr.1) as f64) * a).exp()
    }
    fn bump(&self, tr: (f64, Step), tau: f64, t: Step) -> (f64, Step) {
        let nearest = self.p.pairing == snn_learn::stdp::Pairing::Nearest;
        let v = if nearest {
            1.0
        } else {
            self.at(tr, tau, t) + 1.0
        };
        (v, t)
    }
}

impl Plasticity for Naive {
    fn on_pre(&mut self, t: Step, pre: u32, _first: usize, targets: &[u32], w: &mut [f32]) {
        let j = pre as usize;
        let f = self.scale
            * (self.p.a2_minus + self.p.a3_minus * self.at(self.r2[j], self.p.tau_x_ms, t));
        if f != 0.0 {
            for (&i, w) in targets.iter().zip(w.iter_mut()) {
                let o1 = self.at(self.o1[i as usize], self.p.tau_minus_ms, t);
                if o1 != 0.0 {
                    *w = self.p.bounds.clip(*w as f64 - f * o1);
                }
            }
        }
        self.r1[j] = self.bump(self.r1[j], self.p.tau_plus_ms, t);
        self.r2[j] = self.bump(self.r2[j], self.p.tau_x_ms, t);
    }
    fn on_post(&mut self, t: Step, post: u32, src: &[u32], syn: &[u32], w: &mut [f32]) {
        let i = post as usize;
        let f = self.scale
            * (self.p.a2_plus + self.p.a3_plus * self.at(self.o2[i], self.p.tau_y_ms, t));
        if f != 0.0 {
            for (&j, &s) in src.iter().zip(syn) {
                let r1 = self.at(self.r1[j as usize], self.p.tau_plus_ms, t);
                if r1 != 0.0 {
                    w[s as usize] = self.p.bounds.clip(w[s as usize] as f64 + f * r1);
                }
            }
        }
        self.o1[i] = self.bump(self.o1[i], self.p.tau_minus_ms, t);
        self.o2[i] = self.bump(self.o2[i], self.p.tau_y_ms, t);
    }
}

/// Poisson inputs onto LIF neurons, all-to-all (contiguous rows) and a sparse recurrent
/// projection (rows with gaps and subnormal weights, which move with updates near 1e-45, so a
/// target retired too early shows), both plastic. Bursts of input 1.6-1.9 s apart (about the
/// retirement horizon of the Diehl & Cook rule) so that targets retire and come back.
fn spec(seed: u64) -> NetworkSpec {
    NetworkSpec::from_toml_str(&format!(
        r#"
        dt_ms = 0.5
        seed = {seed}
        [[populations]]
        name = "in"
        size = 40
        neuron = {{ model = "input" }}
        [[populations]]
        name = "out"
        size = 12
        neuron = {{ model = "lif_beta", beta = 0.95, threshold = 1.0 }}
        [[projections]]
        source = "in"
        target = "out"
        connectivity = {{ rule = "all_to_all" }}
        weight = {{ dist = "uniform", low = 0.05, high = 0.3 }}
        [[projections]]
        source = "out"
        target = "out"
        connectivity = {{ rule = "fixed_probability", p = 0.4 }}
        weight = {{ dist = "uniform", low = 0.0, high = 1e-39 }}
        [[stimuli]]
        kind = "poisson"
        target = "in"
        rate_hz = 40.0
        stop_ms = 300.0
        [[stimuli]]
        kind = "poisson"
        target = "in"
        rate_hz = 40.0
        start_ms = 1900.0
        stop_ms = 2200.0
        [[stimuli]]
        kind = "poisson"
        target = "in"
        rate_hz = 60.0
        start_ms = 3800.0
        stop_ms = 4100.0
        [[stimuli]]
        kind = "poisson"
        target = "in"
        rate_hz = 30.0
        start_ms = 5700.0
        stop_ms = 6000.0
        "#
    ))
    .expect("spec parses")
}

fn run(p: &TripletParams, naive: bool, threads: usize, seed: u64) -> (SpikeRaster, Vec<Vec<f32>>) {
    let s = spec(seed);
    s.validate().unwrap();
    let mut net = Network::build_with_threads(&s, threads).unwrap();
    for j in 0..2 {
        let pr = &net.projections()[j];
        let (n_pre, n_post) = (pr.n_source(), pr.n_target());
        let rule: Box<dyn Plasticity> = if naive {
            Box::new(Naive {
                p: p.clone(),
                dt_ms: s.dt_ms,
                scale: 0.5,
                r1: vec![(0.0, 0); n_pre],
                r2: vec![(0.0, 0); n_pre],
                o1: vec![(0.0, 0); n_post],
                o2: vec![(0.0, 0); n_post],
            })
        } else {
            let mut r = TripletStdp::new(p.clone(), s.dt_ms, n_pre, n_post).unwrap();
            r.set_rate_scale(0.5);
            Box::new(r)
        };
        net.set_plasticity(j, rule).unwrap();
    }
    let mut raster = SpikeRaster::new(0);
    // Several runs: the rule's replicas are joined (and its active list rebuilt) in between.
    for _ in 0..4 {
        net.run(3000, &mut raster);
    }
    let w = (0..2).map(|j| weights(&net, j)).collect();
    (raster, w)
}

#[test]
fn the_active_list_gives_the_weights_of_the_direct_rule() {
    let mut unbounded = TripletParams::visual_cortex_full();
    unbounded.a3_minus = 0.05; // a large triplet depression term: the factor grows with r2
    // Depression only: the subnormal recurrent weights stay subnormal.
    let depress_only = TripletParams {
        a3_plus: 0.0,
        ..TripletParams::diehl_cook()
    };
    for p in [TripletParams::diehl_cook(), unbounded, depress_only] {
        for seed in [1, 7] {
            let (r0, w0) = run(&p, true, 1, seed);
            assert!(r0.len() > 200, "the network must be active ({})", r0.len());
            let changed = w0[0]
                .iter()
                .zip(run_static(seed).iter())
                .filter(|(a, b)| a != b)
                .count();
            assert!(changed > 100, "learning must change weights ({changed})");
            for threads in [1, 3] {
                let (r, w) = run(&p, false, threads, seed);
                assert_eq!(r, r0, "{p:?} seed {seed}, {threads} threads: spikes");
                assert_eq!(w, w0, "{p:?} seed {seed}, {threads} threads: weights");
            }
        }
    }
}

/// The all-to-all weights without plasticity.
fn run_static(seed: u64) -> Vec<f32> {
    weights(&Network::build(&spec(seed)).unwrap(), 0)
}

fn weights(net: &Network, j: usize) -> Vec<f32> {
    let pr = &net.projections()[j];
    (0..pr.n_synapses()).map(|i| pr.weight(i)).collect()
}

/// The rule driven directly with random spike sequences (gaps up to about twice the Diehl &
/// Cook retirement horizon, rows with and without gaps, subnormal and zero weights): the
/// weights equal the direct implementation's after every step. (Checked to fail when the
/// retirement threshold is raised from 2^-152 to 1e-43.)
#[test]
fn random_spike_sequences_give_the_direct_rule_weights() {
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};
    let dt = 0.5;
    let (n_pre, n_post) = (5usize, 7usize);
    for (case, p) in [
        TripletParams::diehl_cook(),
        TripletParams {
            a3_plus: 0.0,
            ..TripletParams::diehl_cook()
        },
        TripletParams::visual_cortex_full(),
    ]
    .into_iter()
    .enumerate()
    {
        for seed in 0..40u64 {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed * 7 + case as u64);
            // Row `j` targets: all posts, or every other post (a row with gaps).
            let rows: Vec<Vec<u32>> = (0..n_pre)
                .map(|j| {
                    (0..n_post as u32)
                        .filter(|&i| j % 2 == 0 || i % 2 == 1)
                        .collect()
                })
                .collect();
            let mut row_ptr = vec![0usize];
            for r in &rows {
                row_ptr.push(row_ptr.last().unwrap() + r.len());
            }
            let mut w: Vec<f32> = (0..row_ptr[n_pre])
                .map(|_| match rng.random_range(0..4) {
                    0 => 0.0,
                    1 => f32::from_bits(rng.random_range(1..1 << 20)), // subnormal
                    _ => rng.random::<f32>(),
                })
                .collect();
            let mut w_ref = w.clone();
            let mut rule = TripletStdp::new(p.clone(), dt, n_pre, n_post).unwrap();
            let mut naive = Naive {
                p: p.clone(),
                dt_ms: dt,
                scale: 1.0,
                r1: vec![(0.0, 0); n_pre],
                r2: vec![(0.0, 0); n_pre],
                o1: vec![(0.0, 0); n_post],
                o2: vec![(0.0, 0); n_post],
            };
            let mut t: Step = 1;
            for _ in 0..300 {
                t += match rng.random_range(0..6) {
                    0 => rng.random_range(3400..4200),
                    1 => rng.random_range(20..400),
                    _ => rng.random_range(1..6),
                };
                for j in 0..n_pre {
                    if rng.random_bool(0.3) {
                        let (a, b) = (row_ptr[j], row_ptr[j + 1]);
                        rule.on_pre(t, j as u32, a, &rows[j], &mut w[a..b]);
                        naive.on_pre(t, j as u32, a, &rows[j], &mut w_ref[a..b]);
                    }
                }
                for i in 0..n_post as u32 {
                    if rng.random_bool(0.15) {
                        let (mut src, mut syn) = (Vec::new(), Vec::new());
                        for j in 0..n_pre {
                            if let Some(k) = rows[j].iter().position(|&x| x == i) {
                                src.push(j as u32);
                                syn.push((row_ptr[j] + k) as u32);
                            }
                        }
                        rule.on_post(t, i, &src, &syn, &mut w);
                        naive.on_post(t, i, &src, &syn, &mut w_ref);
                    }
                }
                // Equal values (the direct rule turns a zero weight into -0.0 with a depression
                // too small to matter; the active list leaves it +0.0).
                let same = w.iter().zip(&w_ref).all(|(a, b)| a == b);
                assert!(same, "case {case} seed {seed} step {t}: {w:?} vs {w_ref:?}");
            }
        }
    }
}

/// `depression_horizon_steps` bounds how long after a target's spike a pre spike
/// can still depress its weights: at the horizon even a subnormal weight stays put, well
/// before it a small weight moves.
#[test]
fn the_depression_horizon_bounds_the_rule() {
    let dt = 0.5;
    for p in [
        TripletParams::diehl_cook(),
        TripletParams::visual_cortex_full(),
    ] {
        let h = depression_horizon_steps(&p, dt, 1.0);
        assert!(h > 100, "{h}");
        for (after, moves) in [(h, false), (h / 3, true)] {
            let mut rule = TripletStdp::new(p.clone(), dt, 1, 1).unwrap();
            let mut w = [f32::from_bits(1 << 20)]; // subnormal
            // One post spike at step 10 (no pre trace yet: no potentiation), then a pre spike.
            rule.on_post(10, 0, &[0], &[0], &mut w);
            let before = w[0];
            rule.on_pre(10 + after, 0, 0, &[0], &mut w);
            assert_eq!(
                w[0] != before,
                moves,
                "{p:?}: pre spike {after} steps after"
            );
        }
    }
}
