//! Neuron state probes: the integer `u` and `v` of chosen compartments after every step, so that
//! membrane potentials (not only spikes) can be compared with other simulators.
//!
//! A probe is written `POP[:NEURONS]` ([`ProbeSpec::parse`]): a population name and optionally
//! local neuron indices as a comma-separated list of indices and ranges (`3,5,7`, `0..10`,
//! `0..=9`, `0..4,9`); without a list every neuron of the population is probed. Probes are
//! resolved against a compiled program ([`resolve_probes`]): an unknown population, an input
//! population (it has no state on the chip), an index past the population's end or more than
//! [`MAX_PROBED_NEURONS`] neurons in all are errors ([`ProbeError`]) naming what is wrong.
//! [`Chip::set_probes`](crate::Chip::set_probes) then records, after each step's soma stage,
//! `u` and `v` of every probed neuron in integer units (the values of
//! `snn_core::neuron::LoihiCoef::step_biased`, as the engine's `loihi_lif` state), into
//! [`Report::probes`](crate::Report::probes).

use serde::Serialize;

use crate::program::ChipProgram;

/// Most neurons one run may probe (all probes together): each costs 8 bytes per step and two
/// columns of the trace CSV.
pub const MAX_PROBED_NEURONS: usize = 4096;

/// Why a probe could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The text is not `POP[:NEURONS]`.
    #[error("probe '{text}': {message}")]
    Syntax {
        /// The probe as given.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// No population of that name.
    #[error("probe '{text}': no population '{population}' (populations: {known})")]
    UnknownPopulation {
        /// The probe as given.
        text: String,
        /// The name asked for.
        population: String,
        /// The populations of the network, comma-separated.
        known: String,
    },
    /// An input population: it lives off-chip and has no `u` or `v`.
    #[error("probe '{text}': '{population}' is an input population: it has no state on the chip")]
    InputPopulation {
        /// The probe as given.
        text: String,
        /// The population.
        population: String,
    },
    /// A neuron index past the population's end.
    #[error(
        "probe '{text}': neuron {index} is out of range: '{population}' has {size} neurons (0..{size})"
    )]
    NeuronOutOfRange {
        /// The probe as given.
        text: String,
        /// The population.
        population: String,
        /// The index asked for.
        index: u64,
        /// The population's size.
        size: u32,
    },
    /// More neurons than [`MAX_PROBED_NEURONS`].
    #[error(
        "probes select {count} neurons, more than the {max} a run may probe: choose neurons, e.g. POP:0..100"
    )]
    TooMany {
        /// Neurons selected.
        count: u64,
        /// The limit.
        max: usize,
    },
}

/// One `POP[:NEURONS]` probe as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// The text it was parsed from (for error messages).
    pub text: String,
    /// Population name.
    pub population: String,
    /// Local neuron index ranges `[lo, hi)`, in the order written; `None`: every neuron.
    pub neurons: Option<Vec<(u64, u64)>>,
}

fn parse_index(text: &str, s: &str) -> Result<u64, ProbeError> {
    s.trim().parse::<u64>().map_err(|_| ProbeError::Syntax {
        text: text.to_string(),
        message: format!(
            "'{}' is not a neuron index (a non-negative integer)",
            s.trim()
        ),
    })
}

impl ProbeSpec {
    /// Parses `POP`, `POP:3,5,7`, `POP:0..10` (end excluded), `POP:0..=9` or a mix (`POP:0..4,9`).
    pub fn parse(text: &str) -> Result<Self, ProbeError> {
        let syntax = |m: &str| ProbeError::Syntax {
            text: text.to_string(),
            message: m.to_string(),
        };
        let (pop, sel) = match text.split_once(':') {
            Some((p, s)) => (p.trim(), Some(s)),
            None => (text.trim(), None),
        };
        if pop.is_empty() {
            return Err(syntax(
                "expected POP or POP:NEURONS (a population name first)",
            ));
        }
        let neurons = match sel {
            None => None,
            Some(sel) => {
                let mut ranges = Vec::new();
                for item in sel.split(',') {
                    let item = item.trim();
                    if item.is_empty() {
                        return Err(syntax(
                            "empty neuron list item (write e.g. 3,5,7 or 0..10 or 0..=9)",
                        ));
                    }
                    if let Some((a, b)) = item.split_once("..") {
                        let lo = parse_index(text, a)?;
                        let (hi, incl) = match b.strip_prefix('=') {
                            Some(b) => (parse_index(text, b)?, true),
                            None => (parse_index(text, b)?, false),
                        };
                        let hi = if incl { hi.saturating_add(1) } else { hi };
                        if hi <= lo {
                            return Err(syntax(&format!("range '{item}' is empty")));
                        }
                        ranges.push((lo, hi));
                    } else {
                        let i = parse_index(text, item)?;
                        ranges.push((i, i.saturating_add(1)));
                    }
                }
                Some(ranges)
            }
        };
        Ok(Self {
            text: text.to_string(),
            population: pop.to_string(),
            neurons,
        })
    }
}

/// One probed neuron.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbedNeuron {
    /// Population name.
    pub population: String,
    /// Index within the population.
    pub local: u32,
    /// Global index (populations numbered consecutively in spec order).
    pub global: u32,
}

/// Resolves probes against a compiled program, in the order given (a neuron named twice is
/// probed once, at its first place).
pub fn resolve_probes(
    prog: &ChipProgram,
    probes: &[ProbeSpec],
) -> Result<Vec<ProbedNeuron>, ProbeError> {
    let mut out: Vec<ProbedNeuron> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut count = 0u64;
    for p in probes {
        let pop = prog
            .populations
            .iter()
            .find(|x| x.name == p.population)
            .ok_or_else(|| ProbeError::UnknownPopulation {
                text: p.text.clone(),
                population: p.population.clone(),
                known: prog
                    .populations
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if pop.input {
            return Err(ProbeError::InputPopulation {
                text: p.text.clone(),
                population: pop.name.clone(),
            });
        }
        let ranges = p
            .neurons
            .clone()
            .unwrap_or_else(|| vec![(0, pop.size as u64)]);
        for &(lo, hi) in &ranges {
            if hi > pop.size as u64 {
                return Err(ProbeError::NeuronOutOfRange {
                    text: p.text.clone(),
                    population: pop.name.clone(),
                    // The first index of the range past the end.
                    index: lo.max(pop.size as u64),
                    size: pop.size,
                });
            }
            count += hi - lo;
            if count > MAX_PROBED_NEURONS as u64 {
                // Counted before allocating: `POP:0..4000000000` is refused, not attempted.
                return Err(ProbeError::TooMany {
                    count,
                    max: MAX_PROBED_NEURONS,
                });
            }
            for l in lo..hi {
                let g = pop.start + l as u32;
                if seen.insert(g) {
                    out.push(ProbedNeuron {
                        population: pop.name.clone(),
                        local: l as u32,
                        global: g,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The recorded `u` and `v` of the probed neurons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeTrace {
    /// First step recorded.
    pub first_step: u64,
    /// The probed neurons, in column order.
    pub neurons: Vec<ProbedNeuron>,
    /// `u` after each step, `u[step][i]` for neuron `neurons[i]` (integer units).
    pub u: Vec<Vec<i32>>,
    /// `v` after each step, `v[step][i]` (integer units).
    pub v: Vec<Vec<i32>>,
}

impl ProbeTrace {
    /// The `v` trajectory of probed neuron `i` (by column).
    pub fn v_of(&self, i: usize) -> Vec<i32> {
        self.v.iter().map(|row| row[i]).collect()
    }

    /// The `u` trajectory of probed neuron `i` (by column).
    pub fn u_of(&self, i: usize) -> Vec<i32> {
        self.u.iter().map(|row| row[i]).collect()
    }

    /// CSV column names, `u:POP:i,v:POP:i` per probed neuron.
    pub fn csv_header(&self) -> String {
        self.neurons
            .iter()
            .map(|n| format!("u:{0}:{1},v:{0}:{1}", n.population, n.local))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The CSV cells of step index `k` (from `first_step`), in [`csv_header`](Self::csv_header)
    /// order.
    pub fn csv_row(&self, k: usize) -> String {
        let (u, v) = (&self.u[k], &self.v[k]);
        u.iter()
            .zip(v)
            .map(|(a, b)| format!("{a},{b}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ranges() {
        let p = ProbeSpec::parse("hid:0..3,7,9..=10").unwrap();
        assert_eq!(p.population, "hid");
        assert_eq!(p.neurons, Some(vec![(0, 3), (7, 8), (9, 11)]));
        assert_eq!(ProbeSpec::parse("out").unwrap().neurons, None);
        for bad in [":1", "x:", "x:a", "x:3..1", "x:1,,2", "x:-1", "x:1..b"] {
            assert!(
                matches!(ProbeSpec::parse(bad), Err(ProbeError::Syntax { .. })),
                "{bad}"
            );
        }
    }
}
