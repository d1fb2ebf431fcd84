//! The learning rules named by a network spec's `[projections.plasticity]` tables.

use snn_core::{Network, Plasticity};
use snn_types::{NetworkSpec, PlasticitySpec};

use super::{PairStdp, StdpError, TripletStdp};

/// The rule `spec` describes, for a projection from `n_pre` onto `n_post` neurons simulated at
/// step `dt_ms`: [`PairStdp`] or [`TripletStdp`].
pub fn rule_from_spec(
    spec: &PlasticitySpec,
    dt_ms: f64,
    n_pre: usize,
    n_post: usize,
) -> Result<Box<dyn Plasticity>, StdpError> {
    Ok(match spec {
        PlasticitySpec::Pair(p) => Box::new(PairStdp::new(p.clone(), dt_ms, n_pre, n_post)?),
        PlasticitySpec::Triplet(p) => Box::new(TripletStdp::new(p.clone(), dt_ms, n_pre, n_post)?),
    })
}

/// Attaches to `net` (built from `spec` by [`Network::build`]) the rule of every projection
/// whose spec has a `plasticity` table, and returns those projections' indices (ascending).
/// The engine then learns during every `run`, in the threads that own the targets (the same
/// weights for any thread count). A projection that already has a rule gets the spec's instead.
///
/// Errors name the projection: a parameter out of range, a conv/pool projection, a network
/// built for one rank of a distributed run (plasticity runs in one process), or a network that
/// does not match `spec` (another number of projections, or other sizes).
///
/// ```
/// use snn_types::NetworkSpec;
///
/// let spec = NetworkSpec::from_toml_str(r#"
///     dt_ms = 0.1
///     [[populations]]
///     name = "in"
///     size = 50
///     neuron = { model = "input" }
///     [[populations]]
///     name = "out"
///     size = 1
///     neuron = { model = "lif_exp" }
///     [[projections]]
///     source = "in"
///     target = "out"
///     connectivity = { rule = "all_to_all" }
///     weight = 0.5
///     plasticity = { rule = "pair", bounds = { w_min = 0.0, w_max = 1.0 } }
/// "#).unwrap();
/// let mut net = snn_core::Network::build(&spec).unwrap();
/// assert_eq!(snn_learn::stdp::attach_spec_rules(&mut net, &spec).unwrap(), vec![0]);
/// ```
pub fn attach_spec_rules(net: &mut Network, spec: &NetworkSpec) -> Result<Vec<usize>, StdpError> {
    let size_of = |name: &str| {
        spec.population_index(name)
            .map(|i| spec.populations[i].size as usize)
    };
    let mut attached = Vec::new();
    for (j, pr) in spec.projections.iter().enumerate() {
        let Some(rule) = &pr.plasticity else {
            continue;
        };
        let name = pr.display_name();
        let what = |reason: String| StdpError::Param {
            name: "plasticity",
            reason: format!("projection '{name}' (projections[{j}]): {reason}"),
        };
        let (n_pre, n_post) = match net.projections().get(j) {
            Some(p) => (p.n_source(), p.n_target()),
            None => {
                return Err(what(format!(
                    "the network has {} projections: it was not built from this spec",
                    net.projections().len()
                )));
            }
        };
        let sizes = (size_of(&pr.source), size_of(&pr.target));
        if sizes != (Some(n_pre), Some(n_post)) {
            return Err(what(format!(
                "the network's projection {j} connects {n_pre} -> {n_post} neurons: it was not \
                 built from this spec"
            )));
        }
        let boxed = rule_from_spec(rule, spec.dt_ms, n_pre, n_post).map_err(|e| match e {
            StdpError::Param {
                name: field,
                reason,
            } => what(format!("{field}: {reason}")),
            other => other,
        })?;
        net.set_plasticity(j, boxed)
            .map_err(|e| what(e.to_string()))?;
        attached.push(j);
    }
    Ok(attached)
}

/// `spec` with each projection in `learned` written out as the synapses it has now in `net`
/// (built from `spec`): explicit connectivity with every synapse's current weight (the engine's
/// `f32`, widened exactly) and delay (one `delay_ms` when all synapses share it), and no
/// `plasticity` table. Simulating the result
/// continues with the learned weights held fixed; `snn chip` and `snn nir export` take it as any
/// other spec. The other projections are unchanged.
pub fn learned_spec(
    spec: &NetworkSpec,
    net: &Network,
    learned: &[usize],
) -> Result<NetworkSpec, StdpError> {
    let mut out = spec.clone();
    for &j in learned {
        let (Some(pr), Some(ps)) = (net.projections().get(j), out.projections.get_mut(j)) else {
            return Err(StdpError::Param {
                name: "projection",
                reason: format!("no projection {j} in both the network and the spec"),
            });
        };
        if pr.conv().is_some() {
            return Err(StdpError::Param {
                name: "projection",
                reason: format!("projection '{}' is a conv/pool projection", pr.name),
            });
        }
        let n = pr.n_synapses();
        let rows = pr.row_ptr();
        let (mut sources, mut targets) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut weights, mut delays) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for r in 0..pr.n_source() {
            for i in rows[r]..rows[r + 1] {
                sources.push(r as u32);
                targets.push(pr.target(i));
                weights.push(pr.weight(i) as f64);
                // Rounded to 1e-9 ms, so `3 x 0.1` is written `0.3` (it reads back as 3 steps).
                delays.push((pr.delay_steps(i) as f64 * spec.dt_ms * 1e9).round() / 1e9);
            }
        }
        // One delay for the whole projection when every synapse has it (the common case, and
        // the only one NIR can hold).
        let uniform_delay = delays
            .first()
            .copied()
            .filter(|&d| delays.iter().all(|&x| x == d));
        ps.connectivity = snn_types::Connectivity::Explicit {
            sources,
            targets,
            weights: Some(weights),
            // No synapses: no list, and the spec's own delay stays.
            delays_ms: if uniform_delay.is_some() || delays.is_empty() {
                None
            } else {
                Some(delays)
            },
        };
        ps.weight = snn_types::ValueSpec::Constant(1.0);
        if let Some(d) = uniform_delay {
            ps.delay_ms = Some(snn_types::ValueSpec::Constant(d));
        } else if n > 0 {
            ps.delay_ms = None;
        }
        ps.plasticity = None;
    }
    Ok(out)
}

/// The distribution of one plastic projection's weights, for a run's summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WeightSummary {
    /// Index of the projection in the spec.
    pub projection: usize,
    /// Its name in reports.
    pub name: String,
    /// The rule (`pair`, `triplet`).
    pub rule: &'static str,
    /// Number of synapses.
    pub synapses: usize,
    /// Mean weight.
    pub mean: f64,
    /// Smallest weight.
    pub min: f64,
    /// Largest weight.
    pub max: f64,
    /// Fraction of the weights in the lowest tenth of the rule's bounds `[w_min, w_max]`.
    pub low_tenth: f64,
    /// Fraction in the highest tenth (competitive rules drive the weights to the bounds: a
    /// uniform spread has a tenth in each).
    pub high_tenth: f64,
}

/// Summarises the weights of projection `j` of `net` (`name` for reports), whose spec rule is
/// `rule` (its bounds define the tenths).
pub fn weight_summary(net: &Network, j: usize, name: &str, rule: &PlasticitySpec) -> WeightSummary {
    let b = rule.bounds();
    let tenth = 0.1 * (b.w_max - b.w_min);
    let (mut sum, mut lo, mut hi) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
    let (mut low, mut high) = (0usize, 0usize);
    let n = net.projections().get(j).map_or(0, |p| p.n_synapses());
    if let Some(pr) = net.projections().get(j) {
        for i in 0..n {
            let w = pr.weight(i) as f64;
            sum += w;
            lo = lo.min(w);
            hi = hi.max(w);
            low += (w < b.w_min + tenth) as usize;
            high += (w > b.w_max - tenth) as usize;
        }
    }
    let frac = |k: usize| if n > 0 { k as f64 / n as f64 } else { 0.0 };
    WeightSummary {
        projection: j,
        name: name.to_string(),
        rule: rule.rule_name(),
        synapses: n,
        mean: if n > 0 { sum / n as f64 } else { 0.0 },
        min: if n > 0 { lo } else { 0.0 },
        max: if n > 0 { hi } else { 0.0 },
        low_tenth: frac(low),
        high_tenth: frac(high),
    }
}
