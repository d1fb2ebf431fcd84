//! The memory budget: how many bytes a request may allocate, and the typed refusal when an
//! estimate exceeds it.
//!
//! Every crate that allocates in proportion to user input (population sizes, synapse counts,
//! step counts, mesh sizes) estimates its need first and checks it against a [`MemoryBudget`]
//! before allocating, so that a request too large for the machine is refused with a
//! [`TooLarge`] error saying how much it would need and how much there is, instead of aborting
//! the process with "memory allocation failed".
//!
//! The budget is either what the machine has ([`MemoryBudget::system`]: Linux `MemAvailable`
//! from `/proc/meminfo`, else `MemTotal`, else unknown) or a limit the user set
//! ([`MemoryBudget::limit`], parsed from `512M`, `8G`, `1.5GiB` or a byte count by
//! [`parse_size`]). An unknown budget refuses only what no allocation can hold (more than
//! `isize::MAX` bytes).
//!
//! ```
//! use snn_types::budget::{MemoryBudget, parse_size};
//!
//! let b = MemoryBudget::limit(parse_size("1M").unwrap());
//! assert!(b.check("a small table", 1000).is_ok());
//! let err = b.check("population 'big' of 4294967295 neurons", 103 << 30).unwrap_err();
//! assert_eq!(err.needed_bytes, 103 << 30);
//! assert!(err.to_string().contains("needs about 103 GiB; the limit is 1.00 MiB"), "{err}");
//! ```

use std::fmt;

/// Requests up to this many bytes pass [`MemoryBudget::check_system`] without reading
/// `/proc/meminfo` (any machine this toolkit runs on has that much).
pub const ALWAYS_AVAILABLE_BYTES: u64 = 64 << 20;

/// The most any single allocation can hold (Rust's `isize::MAX`); larger requests are refused
/// even when the budget is unknown.
pub const MAX_ALLOCATION_BYTES: u64 = isize::MAX as u64;

/// Where a budget's figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetSource {
    /// A limit set by the user.
    User,
    /// `MemAvailable` of `/proc/meminfo`.
    MemAvailable,
    /// `MemTotal` of `/proc/meminfo` (no `MemAvailable` line).
    MemTotal,
    /// Not known (no `/proc/meminfo`): no limit beyond what an allocation can hold.
    Unknown,
    /// The process's address-space limit (`ulimit -v`, `RLIMIT_AS`) less what the process
    /// already maps, when that is below what the machine has: an allocation beyond it fails
    /// (and Rust aborts) however much memory is free.
    AddressSpace,
}

/// How many bytes a request may allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryBudget {
    available: Option<u64>,
    source: BudgetSource,
    hint: Option<String>,
}

impl MemoryBudget {
    /// What the machine has now: `MemAvailable` of `/proc/meminfo`, else `MemTotal`, else
    /// unknown.
    pub fn system() -> Self {
        let machine = match std::fs::read_to_string("/proc/meminfo") {
            Ok(text) => Self::from_meminfo(&text),
            Err(_) => Self::unknown(),
        };
        machine.within_process_limit()
    }

    /// This budget, lowered to the room under this process's address-space limit when that is
    /// smaller ([`within_address_space`](Self::within_address_space) with this process's
    /// `/proc/self/limits` and `/proc/self/status`; unchanged where they cannot be read). A limit
    /// set by the user is bounded too: no budget lets an allocation past `ulimit -v`.
    pub fn within_process_limit(self) -> Self {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        self.within_address_space(&limits, &status)
    }

    /// This budget, lowered to the room left under the process's address-space limit when that
    /// is smaller: the soft "Max address space" of a `/proc/self/limits` text less the `VmSize`
    /// of a `/proc/self/status` text. Without a limit (or the texts) the budget is unchanged.
    ///
    /// ```
    /// use snn_types::budget::{BudgetSource, MemoryBudget};
    /// let machine = MemoryBudget::from_meminfo("MemAvailable: 8388608 kB\n");
    /// let limits = "Max address space         4096000000           4096000000           bytes\n";
    /// let b = machine.clone().within_address_space(limits, "VmSize:\t 1000000 kB\n");
    /// assert_eq!(b.available_bytes(), Some(4_096_000_000 - 1_024_000_000));
    /// assert_eq!(b.source(), BudgetSource::AddressSpace);
    /// let unlimited = "Max address space         unlimited            unlimited            bytes\n";
    /// assert_eq!(machine.within_address_space(unlimited, "").source(), BudgetSource::MemAvailable);
    /// ```
    pub fn within_address_space(self, limits: &str, status: &str) -> Self {
        let limit: Option<u64> = limits.lines().find_map(|l| {
            let rest = l.strip_prefix("Max address space")?;
            rest.split_whitespace().next()?.parse().ok()
        });
        let Some(limit) = limit else {
            return self;
        };
        let mapped: u64 = status
            .lines()
            .find_map(|l| {
                let rest = l.strip_prefix("VmSize:")?;
                let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
                kb.checked_mul(1024)
            })
            .unwrap_or(0);
        let room = limit.saturating_sub(mapped);
        if self.available.is_some_and(|a| a <= room) {
            return self;
        }
        // The message names the limit itself; a hint about `--max-memory` would mislead.
        Self {
            available: Some(room),
            source: BudgetSource::AddressSpace,
            hint: None,
        }
    }

    /// The budget a `/proc/meminfo` text gives (`MemAvailable`, else `MemTotal`, else unknown).
    ///
    /// ```
    /// use snn_types::budget::{BudgetSource, MemoryBudget};
    /// let b = MemoryBudget::from_meminfo("MemTotal: 2048 kB\nMemAvailable: 1024 kB\n");
    /// assert_eq!(b.available_bytes(), Some(1024 * 1024));
    /// assert_eq!(b.source(), BudgetSource::MemAvailable);
    /// ```
    pub fn from_meminfo(text: &str) -> Self {
        let field = |name: &str| {
            text.lines().find_map(|l| {
                let rest = l.strip_prefix(name)?.strip_prefix(':')?;
                let mut it = rest.split_whitespace();
                let v: u64 = it.next()?.parse().ok()?;
                let mult = match it.next() {
                    None | Some("B") => 1,
                    Some(u) if u.eq_ignore_ascii_case("kb") => 1024,
                    Some(u) if u.eq_ignore_ascii_case("mb") => 1 << 20,
                    Some(u) if u.eq_ignore_ascii_case("gb") => 1 << 30,
                    Some(_) => return None,
                };
                v.checked_mul(mult)
            })
        };
        if let Some(b) = field("MemAvailable") {
            Self {
                available: Some(b),
                source: BudgetSource::MemAvailable,
                hint: None,
            }
        } else if let Some(b) = field("MemTotal") {
            Self {
                available: Some(b),
                source: BudgetSource::MemTotal,
                hint: None,
            }
        } else {
            Self::unknown()
        }
    }

    /// A limit of `bytes` set by the user.
    pub fn limit(bytes: u64) -> Self {
        Self {
            available: Some(bytes),
            source: BudgetSource::User,
            hint: None,
        }
    }

    /// No known limit: only requests larger than any allocation can hold are refused.
    pub fn unknown() -> Self {
        Self {
            available: None,
            source: BudgetSource::Unknown,
            hint: None,
        }
    }

    /// The user's limit when given, else what the machine has ([`system`](Self::system)).
    pub fn from_option(limit: Option<u64>) -> Self {
        limit.map_or_else(Self::system, Self::limit)
    }

    /// Adds a hint that refusals repeat (e.g. how to change the limit).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Bytes available (`None`: unknown).
    pub fn available_bytes(&self) -> Option<u64> {
        self.available
    }

    /// Where the figure comes from.
    pub fn source(&self) -> BudgetSource {
        self.source
    }

    /// True when `needed` bytes fit: at most the available bytes (when known) and at most
    /// [`MAX_ALLOCATION_BYTES`].
    pub fn fits(&self, needed: u64) -> bool {
        needed <= MAX_ALLOCATION_BYTES && self.available.is_none_or(|a| needed <= a)
    }

    /// `Ok` when `needed` bytes fit, else a [`TooLarge`] naming `what`.
    pub fn check(&self, what: impl Into<String>, needed: u64) -> Result<(), TooLarge> {
        self.check_parts(what, needed, "")
    }

    /// As [`check`](Self::check), with `parts` (what the bytes are for, e.g. `state, input
    /// buffers`) repeated in the error.
    pub fn check_parts(
        &self,
        what: impl Into<String>,
        needed: u64,
        parts: &str,
    ) -> Result<(), TooLarge> {
        if self.fits(needed) {
            Ok(())
        } else {
            Err(self.refuse(what, needed, parts))
        }
    }

    /// The refusal of `needed` bytes for `what` (whether or not they fit).
    pub fn refuse(&self, what: impl Into<String>, needed: u64, parts: &str) -> TooLarge {
        TooLarge {
            what: what.into(),
            parts: parts.to_string(),
            needed_bytes: needed,
            available_bytes: if needed > MAX_ALLOCATION_BYTES {
                self.available.map(|a| a.min(MAX_ALLOCATION_BYTES))
            } else {
                self.available
            },
            source: if self.available.is_none() && needed > MAX_ALLOCATION_BYTES {
                BudgetSource::Unknown
            } else {
                self.source
            },
            hint: self.hint.clone(),
        }
    }

    /// Checks `needed` against the machine's budget, reading `/proc/meminfo` only when `needed`
    /// is above [`ALWAYS_AVAILABLE_BYTES`]: the cheap guard that library functions called in
    /// loops (encoders, per-sample runs) apply by default.
    pub fn check_system(what: impl Into<String>, needed: u64) -> Result<(), TooLarge> {
        if needed <= ALWAYS_AVAILABLE_BYTES {
            Ok(())
        } else {
            Self::system().check(what, needed)
        }
    }
}

/// A request refused because its estimated memory exceeds the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// What was asked for, e.g. `population 'big' of 4294967295 neurons`.
    pub what: String,
    /// What the bytes are for (`state, input buffers`); may be empty.
    pub parts: String,
    /// Estimated bytes needed.
    pub needed_bytes: u64,
    /// Bytes available (`None`: unknown, the request exceeds what any allocation can hold).
    pub available_bytes: Option<u64>,
    /// Where the available figure comes from.
    pub source: BudgetSource,
    /// How to change the limit, when the caller said.
    pub hint: Option<String>,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} needs about {}",
            self.what,
            format_bytes(self.needed_bytes)
        )?;
        if !self.parts.is_empty() {
            write!(f, " ({})", self.parts)?;
        }
        match (self.available_bytes, self.source) {
            (Some(a), BudgetSource::User) => write!(f, "; the limit is {}", format_bytes(a))?,
            (Some(a), BudgetSource::AddressSpace) => write!(
                f,
                "; {} left under the process's address-space limit (ulimit -v)",
                format_bytes(a)
            )?,
            (Some(a), _) => write!(f, "; {} available", format_bytes(a))?,
            (None, _) => write!(
                f,
                "; more than any allocation can hold ({})",
                format_bytes(MAX_ALLOCATION_BYTES)
            )?,
        }
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TooLarge {}

/// Why a size string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size '{input}': {reason} (examples: 512M, 8G, 1.5GiB, 1048576)")]
pub struct SizeError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses a memory size: a number of bytes (`1048576`), or a number with a binary unit `K`, `M`,
/// `G`, `T` (optionally followed by `B` or `iB`, any case: `512M`, `8G`, `1.5GiB`, `64kb`).
/// Units are powers of 1024. Zero is allowed (refuses every allocation that is checked).
///
/// ```
/// use snn_types::budget::parse_size;
/// assert_eq!(parse_size("512M"), Ok(512 << 20));
/// assert_eq!(parse_size("8G"), Ok(8 << 30));
/// assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
/// assert_eq!(parse_size("4096"), Ok(4096));
/// assert!(parse_size("-1G").is_err());
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let err = |reason: &str| SizeError {
        input: s.to_string(),
        reason: reason.to_string(),
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(err("empty"));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(err("expected a number first"));
    }
    let unit = unit.trim().to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(err("unknown unit (use K, M, G or T)")),
    };
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(1u64 << shift).ok_or_else(|| err("too large"));
    }
    let x: f64 = num.parse().map_err(|_| err("not a number"))?;
    let bytes = x * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(err("too large"));
    }
    Ok(bytes.round() as u64)
}

/// A byte count for messages with three significant digits and a binary unit: `512 B`,
/// `1.00 MiB`, `22.1 GiB`, `103 GiB`.
///
/// ```
/// use snn_types::budget::format_bytes;
/// assert_eq!(format_bytes(512), "512 B");
/// assert_eq!(format_bytes(1 << 20), "1.00 MiB");
/// assert_eq!(format_bytes(22_700_000_000), "21.1 GiB");
/// assert_eq!(format_bytes(103 << 30), "103 GiB");
/// ```
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut x = n as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    // Rounding can carry into the next unit (1023.9 KiB -> "1024 KiB"); keep it readable.
    if x >= 999.5 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if x < 9.995 {
        format!("{x:.2} {}", UNITS[u])
    } else if x < 99.95 {
        format!("{x:.1} {}", UNITS[u])
    } else {
        format!("{x:.0} {}", UNITS[u])
    }
}

/// `a * b` in bytes, saturating at `u64::MAX` (an estimate that saturates is refused by every
/// budget).
pub fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units_in_any_case() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1"), Ok(1));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("512mb"), Ok(512 << 20));
        assert_eq!(parse_size(" 8G "), Ok(8 << 30));
        assert_eq!(parse_size("8 GiB"), Ok(8 << 30));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        assert_eq!(parse_size("0.5K"), Ok(512));
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn bad_sizes_are_errors_that_quote_the_input() {
        for s in [
            "",
            " ",
            "G",
            "-1",
            "-1G",
            "1X",
            "1.2.3M",
            "lots",
            "1e9",
            "99999999999T",
            "1 G B",
            "nan",
        ] {
            let e = parse_size(s).unwrap_err();
            assert!(e.to_string().contains(&format!("'{s}'")), "{s}: {e}");
        }
        assert!(parse_size("18446744073709551616").is_err());
    }

    #[test]
    fn meminfo_prefers_available_then_total_then_unknown() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   23000000 kB\n";
        let b = MemoryBudget::from_meminfo(text);
        assert_eq!(b.available_bytes(), Some(23_000_000 * 1024));
        assert_eq!(b.source(), BudgetSource::MemAvailable);
        let b = MemoryBudget::from_meminfo("MemTotal: 1000 kB\n");
        assert_eq!(b.available_bytes(), Some(1_024_000));
        assert_eq!(b.source(), BudgetSource::MemTotal);
        let b = MemoryBudget::from_meminfo("garbage\nMemAvailable: x kB\n");
        assert_eq!(b.available_bytes(), None);
        assert_eq!(b.source(), BudgetSource::Unknown);
    }

    #[test]
    fn unknown_budget_still_refuses_what_no_allocation_holds() {
        let b = MemoryBudget::unknown();
        assert!(b.check("x", 1 << 40).is_ok());
        let e = b.check("x", u64::MAX).unwrap_err();
        assert_eq!(e.available_bytes, None);
        assert!(
            e.to_string().contains("more than any allocation can hold"),
            "{e}"
        );
        // A user limit above isize::MAX is capped there.
        let e = MemoryBudget::limit(u64::MAX)
            .check("y", u64::MAX)
            .unwrap_err();
        assert_eq!(e.available_bytes, Some(MAX_ALLOCATION_BYTES));
    }

    #[test]
    fn refusals_say_what_how_much_and_the_hint() {
        let b = MemoryBudget::limit(1 << 20).with_hint("set --max-memory to change the limit");
        let e = b
            .check_parts("network 'cuba'", 5 << 20, "state, synapses")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "network 'cuba' needs about 5.00 MiB (state, synapses); the limit is 1.00 MiB \
             (set --max-memory to change the limit)"
        );
        let e = MemoryBudget::from_meminfo("MemAvailable: 1024 kB")
            .check("z", 2 << 20)
            .unwrap_err();
        assert_eq!(e.to_string(), "z needs about 2.00 MiB; 1.00 MiB available");
    }

    #[test]
    fn byte_counts_format_with_three_digits() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1.00 KiB");
        assert_eq!(format_bytes(1_048_575), "1.00 MiB");
        assert_eq!(format_bytes(u64::MAX), "16.0 EiB");
        assert_eq!(format_bytes(110_595_407_872), "103 GiB");
    }

    #[test]
    fn check_system_skips_small_requests() {
        assert!(MemoryBudget::check_system("tiny", 1000).is_ok());
        assert!(MemoryBudget::check_system("huge", u64::MAX).is_err());
    }
}
