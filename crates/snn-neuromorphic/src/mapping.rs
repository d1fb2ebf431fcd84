//! Explicit mappings: which neurons go to which core, as a user writes by hand (TOML).
//!
//! ```toml
//! arch = "loihi"            # informative: the architecture it was written for
//! [[map]]
//! population = "exc"
//! neurons = [0, 682]        # [start, end), optional: the whole population when left out
//! chip = 0                  # chip of the system (0 on a single chip)
//! core = 0                  # core within the chip, in the chip's snake order over its tiles
//! [[map]]
//! population = "inh"
//! chip = 0
//! core = 5
//! ```
//!
//! [`compile_with`](crate::compile_with) with [`CompileOptions::mapping`](crate::CompileOptions)
//! honours a mapping and checks it: an unknown or input population, a neuron range out of the
//! population, a chip or core the architecture does not have, overlapping entries, neurons left
//! unplaced and a core over any of its limits are [`MapError::Mapping`] errors naming the entry
//! (its index and text). [`ChipProgram::mapping`](crate::ChipProgram::mapping) gives the mapping
//! a compilation chose, in the same format, so that it can be edited and fed back: the round
//! trip gives the same placement (and the same spikes).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::MapError;

/// A mapping file: entries placing neuron ranges of populations on cores.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The architecture it was written for (informative, not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The entries.
    #[serde(default, rename = "map")]
    pub entries: Vec<MappingEntry>,
}

/// One entry: a population's neurons `[start, end)` (all of them when `neurons` is left out) on
/// core `core` of chip `chip`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingEntry {
    /// Population name.
    pub population: String,
    /// Neuron range `[start, end)` within the population. Exactly two numbers: a list of any
    /// other length is refused (a third number is not silently dropped).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "neuron_range"
    )]
    pub neurons: Option<[u32; 2]>,
    /// Chip index (`0..chips`).
    #[serde(default)]
    pub chip: u32,
    /// Core index within the chip (`0..cores per chip`).
    pub core: u32,
}

/// Reads `neurons = [start, end]`: a list of exactly two neuron indices. (Deserialising a
/// `[u32; 2]` directly takes the first two numbers of a longer TOML array and drops the rest.)
fn neuron_range<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<[u32; 2]>, D::Error> {
    let v = Vec::<u32>::deserialize(d)?;
    match v[..] {
        [a, b] => Ok(Some([a, b])),
        _ => Err(serde::de::Error::custom(format!(
            "neurons must be [start, end] (two neuron indices, end excluded), got {} number{}",
            v.len(),
            if v.len() == 1 { "" } else { "s" }
        ))),
    }
}

impl MappingEntry {
    /// The entry as one line of TOML (how errors name it).
    pub fn text(&self) -> String {
        match self.neurons {
            Some([a, b]) => format!(
                "{{ population = \"{}\", neurons = [{a}, {b}], chip = {}, core = {} }}",
                self.population, self.chip, self.core
            ),
            None => format!(
                "{{ population = \"{}\", chip = {}, core = {} }}",
                self.population, self.chip, self.core
            ),
        }
    }
}

impl Mapping {
    /// Parses TOML; `origin` names the text in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, MapError> {
        toml::from_str(text).map_err(|e| MapError::Mapping {
            origin: origin.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })
    }

    /// Reads and parses a mapping file.
    pub fn load(path: &Path) -> Result<Self, MapError> {
        let text = snn_types::file::read_text(path).map_err(|e| MapError::Mapping {
            origin: path.display().to_string(),
            message: format!("cannot read: {}", e.reason()),
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// The mapping as TOML (what [`Mapping::from_toml_str`] reads back).
    pub fn to_toml_string(&self) -> String {
        let mut s = String::from(
            "# Neurons to cores: population, neurons [start, end) (all when left out), chip, core\n\
             # (core within the chip). Edit and give back with `snn chip --mapping FILE`.\n",
        );
        if let Some(a) = &self.arch {
            s.push_str(&format!("arch = \"{a}\"\n"));
        }
        for e in &self.entries {
            s.push_str(&format!(
                "\n[[map]]\npopulation = \"{}\"\n",
                e.population.replace('\\', "\\\\").replace('"', "\\\"")
            ));
            if let Some([a, b]) = e.neurons {
                s.push_str(&format!("neurons = [{a}, {b}]\n"));
            }
            s.push_str(&format!("chip = {}\ncore = {}\n", e.chip, e.core));
        }
        s
    }

    /// Writes the mapping atomically (a temporary file renamed into place; nothing is left
    /// behind on error).
    pub fn save(&self, path: &Path) -> Result<(), snn_types::file::FileError> {
        snn_types::file::atomic_write(path, self.to_toml_string().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip() {
        let m = Mapping {
            arch: Some("loihi".into()),
            entries: vec![
                MappingEntry {
                    population: "a \"b\"".into(),
                    neurons: Some([0, 5]),
                    chip: 1,
                    core: 3,
                },
                MappingEntry {
                    population: "c".into(),
                    neurons: None,
                    chip: 0,
                    core: 0,
                },
            ],
        };
        let back = Mapping::from_toml_str(&m.to_toml_string(), "t").unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn a_neuron_range_must_have_exactly_two_numbers() {
        // `[0, 682, 5]` used to be read as `[0, 682]`, silently dropping the third number.
        for (list, n) in [
            ("[0, 682, 5]", "3 numbers"),
            ("[5]", "1 number"),
            ("[]", "0 numbers"),
        ] {
            let e = Mapping::from_toml_str(
                &format!("[[map]]\npopulation = \"a\"\nneurons = {list}\ncore = 0\n"),
                "m.toml",
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("m.toml") && e.contains("neurons must be [start, end]") && e.contains(n),
                "{list}: {e}"
            );
        }
        let m = Mapping::from_toml_str(
            "[[map]]\npopulation = \"a\"\nneurons = [3, 7]\ncore = 0\n",
            "m.toml",
        )
        .unwrap();
        assert_eq!(m.entries[0].neurons, Some([3, 7]));
    }

    #[test]
    fn unknown_fields_are_refused_with_the_origin() {
        let e = Mapping::from_toml_str(
            "[[map]]\npopulation = \"a\"\ncore = 0\ncores = 1\n",
            "m.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("m.toml") && e.contains("cores"), "{e}");
    }
}
