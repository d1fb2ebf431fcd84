//! Merging per-rank spike files into one, with bounded memory.
//!
//! In a distributed run each rank streams its own spikes to its own CSV file (`step,neuron`,
//! sorted by step then neuron, as [`CsvSpikeWriter`](crate::CsvSpikeWriter) writes them). The
//! merge is a k-way merge of those streams through a binary heap holding one pending spike per
//! input: memory is one line buffer and one heap entry per input, whatever the run's length, and
//! the output is byte for byte what a single process writes. Ties (the same spike in two inputs,
//! which ranks never produce) keep the input order.
//!
//! ```
//! use snn_core::merge::merge_csv;
//!
//! let a = "step,neuron\n0,1\n2,0\n";
//! let b = "step,neuron\n0,5\n1,7\n";
//! let mut out = Vec::new();
//! let n = merge_csv(
//!     vec![("a".into(), a.as_bytes()), ("b".into(), b.as_bytes())],
//!     &mut out,
//! )
//! .unwrap();
//! assert_eq!(n, 4);
//! assert_eq!(String::from_utf8(out).unwrap(), "step,neuron\n0,1\n0,5\n1,7\n2,0\n");
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, Write};

/// Why a merge failed; every variant names the input (and line) concerned.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Reading an input failed.
    #[error("{name}: cannot read: {reason}")]
    Read {
        /// The input's name.
        name: String,
        /// The OS reason.
        reason: String,
    },
    /// An input is not a spike CSV (`step,neuron` header, two integers per line).
    #[error("{name}:{line}: {reason}")]
    Format {
        /// The input's name.
        name: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// An input is not sorted by (step, neuron).
    #[error("{name}:{line}: spike ({step}, {neuron}) comes after a later one: not sorted")]
    Unsorted {
        /// The input's name.
        name: String,
        /// 1-based line number.
        line: u64,
        /// Its step.
        step: u64,
        /// Its neuron.
        neuron: u32,
    },
    /// Writing the output failed.
    #[error("cannot write the merged spikes: {0}")]
    Write(String),
}

/// Longest line an input may have, without its line break (`step,neuron` lines are under 32
/// bytes).
pub const MAX_LINE_BYTES: u64 = 1024;

struct Input<R> {
    name: String,
    reader: R,
    line: u64,
    buf: String,
    bytes: Vec<u8>,
    last: Option<(u64, u32)>,
}

impl<R: BufRead> Input<R> {
    fn format(&self, reason: impl Into<String>) -> MergeError {
        MergeError::Format {
            name: self.name.clone(),
            line: self.line,
            reason: reason.into(),
        }
    }

    /// The next line into `buf`, at most [`MAX_LINE_BYTES`] before its line break (a longer
    /// one is an error, so that a file without line breaks, such as `/dev/zero`, cannot fill
    /// memory); read as bytes, so the cut cannot fall inside a character.
    fn read_line(&mut self) -> Result<bool, MergeError> {
        use std::io::Read;
        self.buf.clear();
        self.bytes.clear();
        let n = (&mut self.reader)
            .take(MAX_LINE_BYTES + 2)
            .read_until(b'\n', &mut self.bytes)
            .map_err(|e| MergeError::Read {
                name: self.name.clone(),
                reason: e.to_string(),
            })?;
        if n > 0 {
            self.line += 1;
        }
        let body = self.bytes.strip_suffix(b"\n").unwrap_or(&self.bytes);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if body.len() as u64 > MAX_LINE_BYTES {
            return Err(self.format(format!(
                "line longer than {MAX_LINE_BYTES} bytes: not a spike CSV"
            )));
        }
        match std::str::from_utf8(&self.bytes) {
            Ok(text) => self.buf.push_str(text),
            Err(_) => return Err(self.format("not UTF-8 text: not a spike CSV")),
        }
        Ok(n > 0)
    }

    fn header(&mut self) -> Result<(), MergeError> {
        if !self.read_line()? {
            self.line = 1;
            return Err(self.format("empty file, expected the header `step,neuron`"));
        }
        if self.buf.trim_end() != "step,neuron" {
            return Err(self.format("expected the header `step,neuron`"));
        }
        Ok(())
    }

    /// The next spike, checked to follow the previous one.
    fn next(&mut self) -> Result<Option<(u64, u32)>, MergeError> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            let l = self.buf.trim_end();
            if l.is_empty() {
                continue;
            }
            let Some((a, b)) = l.split_once(',') else {
                return Err(self.format("expected `step,neuron`"));
            };
            let step: u64 = a
                .parse()
                .map_err(|_| self.format(format!("bad step `{a}`")))?;
            let neuron: u32 = b
                .parse()
                .map_err(|_| self.format(format!("bad neuron `{b}`")))?;
            if self.last.is_some_and(|p| p > (step, neuron)) {
                return Err(MergeError::Unsorted {
                    name: self.name.clone(),
                    line: self.line,
                    step,
                    neuron,
                });
            }
            self.last = Some((step, neuron));
            return Ok(Some((step, neuron)));
        }
    }
}

/// Merges sorted spike CSV streams (`(name, reader)`, names for error messages) into `out`,
/// sorted by (step, neuron), with the header `step,neuron`; returns the number of spikes.
/// Memory is bounded by the number of inputs, not by their length.
pub fn merge_csv<R: BufRead>(
    inputs: Vec<(String, R)>,
    out: &mut dyn Write,
) -> Result<u64, MergeError> {
    let mut ins: Vec<Input<R>> = inputs
        .into_iter()
        .map(|(name, reader)| Input {
            name,
            reader,
            line: 0,
            buf: String::new(),
            bytes: Vec::new(),
            last: None,
        })
        .collect();
    let mut heap = BinaryHeap::with_capacity(ins.len());
    for (i, input) in ins.iter_mut().enumerate() {
        input.header()?;
        if let Some((s, n)) = input.next()? {
            heap.push(Reverse((s, n, i)));
        }
    }
    let werr = |e: std::io::Error| MergeError::Write(e.to_string());
    writeln!(out, "step,neuron").map_err(werr)?;
    let mut count = 0u64;
    while let Some(Reverse((s, n, i))) = heap.pop() {
        writeln!(out, "{s},{n}").map_err(werr)?;
        count += 1;
        if let Some((s, n)) = ins[i].next()? {
            heap.push(Reverse((s, n, i)));
        }
    }
    out.flush().map_err(werr)?;
    Ok(count)
}

/// The file a rank of a distributed run writes for the output `path`:
/// `<path>.rank<r>of<ranks>`.
pub fn rank_file_name(path: &std::path::Path, rank: usize, ranks: usize) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".rank{rank}of{ranks}"));
    s.into()
}

/// The inverse of [`rank_file_name`]: `(rank, ranks)` of a file named `<path>.rank<r>of<R>`
/// (digits only), or `None` for any other name.
pub fn parse_rank_file_name(path: &std::path::Path) -> Option<(usize, usize)> {
    let name = path.file_name()?.to_str()?;
    let tail = &name[name.rfind(".rank")? + ".rank".len()..];
    let (r, n) = tail.split_once("of")?;
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(r) || !all_digits(n) {
        return None;
    }
    Some((r.parse().ok()?, n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(inputs: &[&str]) -> Result<String, MergeError> {
        let mut out = Vec::new();
        merge_csv(
            inputs
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("in{i}"), s.as_bytes()))
                .collect(),
            &mut out,
        )?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_line_without_end_is_an_error_not_a_growing_buffer() {
        let long = format!("step,neuron\n{}", "0".repeat(10 << 20));
        let e = merge(&["step,neuron\n0,1\n", &long])
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2: line longer than 1024 bytes"), "{e}");
        let e = merge(&[&"x".repeat(5000)]).unwrap_err().to_string();
        assert!(e.contains(":1: line longer than 1024 bytes"), "{e}");
        // The cut falls inside a two-byte character: still the length, not an encoding error.
        let e = merge(&[&format!("step,neuron\n{}", "é".repeat(600))])
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2: line longer than 1024 bytes"), "{e}");
        // Exactly 1024 bytes before the line break is within the limit (and then a bad line).
        let e = merge(&[&format!("step,neuron\n{}\r\n", "1".repeat(1024))])
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2: expected `step,neuron`"), "{e}");
    }

    #[test]
    fn merges_in_step_then_neuron_order() {
        let out = merge(&[
            "step,neuron\n0,3\n5,1\n",
            "step,neuron\n",
            "step,neuron\n0,1\n0,2\n5,0\n9,9\n",
        ])
        .unwrap();
        assert_eq!(out, "step,neuron\n0,1\n0,2\n0,3\n5,0\n5,1\n9,9\n");
    }

    #[test]
    fn bad_inputs_are_named() {
        let e = merge(&["step,neuron\n1,1\n", "step,neuron\n2,0\n1,5\n"]).unwrap_err();
        assert!(e.to_string().starts_with("in1:3: spike (1, 5)"), "{e}");
        let e = merge(&["step,neuron\n1,x\n"]).unwrap_err();
        assert_eq!(e.to_string(), "in0:2: bad neuron `x`");
        let e = merge(&["neuron\n"]).unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        let e = merge(&[""]).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn rank_file_names() {
        let p = rank_file_name(std::path::Path::new("out/spikes.csv"), 2, 4);
        assert_eq!(p, std::path::PathBuf::from("out/spikes.csv.rank2of4"));
        assert_eq!(parse_rank_file_name(&p), Some((2, 4)));
        for other in [
            "spikes.csv",
            "a.rank2",
            "a.rankxof4",
            "a.rank2of",
            "a.rank-1of4",
        ] {
            assert_eq!(
                parse_rank_file_name(std::path::Path::new(other)),
                None,
                "{other}"
            );
        }
    }
}
