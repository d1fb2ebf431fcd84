//! The place pass from an explicit mapping ([`crate::mapping`]): every entry checked and named
//! in errors by its index and text.

use crate::arch::ArchSpec;
use crate::compile::check::Checked;
use crate::compile::place::Placement;
use crate::error::{MapError, Violation};
use crate::mapping::{Mapping, MappingEntry};
use crate::program::HOST;

fn err(message: String) -> MapError {
    MapError::Mapping {
        origin: "file".into(),
        message,
    }
}

fn entry(i: usize, e: &MappingEntry) -> String {
    format!("entry [{i}] {}", e.text())
}

/// Builds the placement a mapping describes: slots are the physical cores it names, in
/// ascending order.
pub(crate) fn from_mapping(
    c: &Checked<'_>,
    arch: &ArchSpec,
    m: &Mapping,
) -> Result<Placement, MapError> {
    let spec = c.spec;
    let (n_chips, per_chip) = (arch.n_chips(), arch.cores_per_chip());
    // Entry that placed each neuron.
    let mut by = vec![u32::MAX; c.n_neurons];
    let mut phys_of = vec![HOST; c.n_neurons];
    for (i, e) in m.entries.iter().enumerate() {
        let Some(pi) = spec.populations.iter().position(|p| p.name == e.population) else {
            return Err(err(format!(
                "{}: unknown population '{}' (populations: {})",
                entry(i, e),
                e.population,
                spec.populations
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if c.is_input[pi] {
            return Err(err(format!(
                "{}: '{}' is an input population; inputs live off-chip (host) and take no core",
                entry(i, e),
                e.population
            )));
        }
        let size = spec.populations[pi].size;
        let [a, b] = e.neurons.unwrap_or([0, size]);
        if a >= b || b > size {
            return Err(err(format!(
                "{}: neurons [{a}, {b}) is not a non-empty range within the population's {size} neurons",
                entry(i, e)
            )));
        }
        if e.chip >= n_chips {
            return Err(err(format!(
                "{}: chip {} does not exist ('{}' has {n_chips} chip{})",
                entry(i, e),
                e.chip,
                arch.name,
                if n_chips == 1 { "" } else { "s" }
            )));
        }
        if e.core >= per_chip {
            return Err(err(format!(
                "{}: core {} does not exist (a chip of '{}' has cores 0..{per_chip})",
                entry(i, e),
                e.core,
                arch.name
            )));
        }
        let phys = e.chip * per_chip + e.core;
        let off = c.offsets[pi] as usize;
        for g in off + a as usize..off + b as usize {
            if by[g] != u32::MAX {
                let o = by[g] as usize;
                return Err(err(format!(
                    "{} overlaps {}: neuron {} of '{}' is placed by both",
                    entry(i, e),
                    entry(o, &m.entries[o]),
                    g - off,
                    e.population
                )));
            }
            by[g] = i as u32;
            phys_of[g] = phys;
        }
    }
    for (pi, p) in spec.populations.iter().enumerate() {
        if c.is_input[pi] {
            continue;
        }
        let off = c.offsets[pi] as usize;
        let left: Vec<usize> = (0..p.size as usize)
            .filter(|&k| by[off + k] == u32::MAX)
            .collect();
        if let Some(&first) = left.first() {
            let mut end = first + 1;
            while end < p.size as usize && by[off + end] == u32::MAX {
                end += 1;
            }
            return Err(err(format!(
                "{} neuron{} of population '{}' left unplaced (first: [{first}, {end})); every on-chip neuron needs an entry",
                left.len(),
                if left.len() == 1 { "" } else { "s" },
                p.name
            )));
        }
    }
    let mut phys: Vec<u32> = phys_of.iter().copied().filter(|&x| x != HOST).collect();
    phys.sort_unstable();
    phys.dedup();
    let core_of = phys_of
        .iter()
        .map(|&x| {
            if x == HOST {
                HOST
            } else {
                phys.binary_search(&x).map_or(HOST, |k| k as u32)
            }
        })
        .collect();
    Ok(Placement::from_slots(core_of, phys))
}

/// A mapping whose placement violates limits: the violations, with the entries on each core
/// at fault named.
pub(crate) fn name_entries(arch: &ArchSpec, m: &Mapping, v: Vec<Violation>) -> MapError {
    let per_chip = arch.cores_per_chip();
    let mut lines = Vec::new();
    for x in &v {
        let core =
            x.at.strip_prefix("core ")
                .and_then(|t| t.split_whitespace().next())
                .and_then(|t| t.parse::<u32>().ok());
        match core {
            Some(k) => {
                let names: Vec<String> = m
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.chip * per_chip + e.core == k)
                    .map(|(i, e)| entry(i, e))
                    .collect();
                lines.push(format!(
                    "chip {} core {} is over its limits: {} needs {} but the limit is {} ({}); placed there by {}",
                    k / per_chip,
                    k % per_chip,
                    x.limit,
                    x.needed,
                    x.allowed,
                    x.note,
                    names.join(", ")
                ));
            }
            None => lines.push(x.to_string()),
        }
    }
    err(lines.join("; "))
}
