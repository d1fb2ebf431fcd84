//! Exit codes: 0 success, 1 a runtime failure, 2 a usage error (a malformed or contradictory
//! argument, caught before any work starts). Commands return `anyhow` errors; an error whose chain
//! holds a [`UsageError`] exits with 2.

use std::fmt;

/// A usage error: the command line asks for something that cannot be done as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error as an `anyhow::Error` (`return Err(usage("--threads must be at least 1"))`).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// The exit code for a command's error: 2 when any cause is a [`UsageError`], else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.is::<UsageError>()) {
        2
    } else {
        1
    }
}

/// Clap parser of the options held as `f32`: a number beyond `f32`'s range (`1e308`) is an
/// error saying so, instead of silently becoming `inf`. `inf` and `nan` as written pass, for
/// the option's own check to refuse with the value the user typed.
pub fn parse_f32(s: &str) -> Result<f32, String> {
    f32_of(s).map_err(|e| format!("'{s}' {e}"))
}

/// `s` as an `f32` (Rust's own `f32` parsing, so the bits are those of `s.parse::<f32>()`), or
/// why not: not a number, or a number beyond `f32`'s range (`1e308`, `1e400`: they would be
/// `inf`, which only `inf` or `infinity` as written may be).
pub fn f32_of(s: &str) -> Result<f32, &'static str> {
    let t = s.trim();
    let v: f32 = t.parse().map_err(|_| "is not a number")?;
    let written_inf = t
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("inf");
    if v.is_infinite() && !written_inf {
        return Err(BEYOND_F32);
    }
    Ok(v)
}

/// [`f32_of`]'s reason for a finite number beyond `f32`'s range.
pub const BEYOND_F32: &str = "is beyond the range of a 32-bit float (at most 3.4e38 in magnitude)";

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_errors_exit_with_2_even_when_wrapped() {
        let e = Err::<(), _>(usage("--threads 0: must be at least 1"))
            .context("simulate")
            .unwrap_err();
        assert_eq!(exit_code(&e), 2);
        assert_eq!(exit_code(&anyhow::anyhow!("disk full")), 1);
    }

    #[test]
    fn f32_values_are_rusts_and_out_of_range_ones_are_named() {
        for t in [
            "0.1",
            "3.4028235e38",
            "-7",
            " 16 ",
            "1e-50",
            "0.30000001192092896",
        ] {
            assert_eq!(
                f32_of(t).unwrap().to_bits(),
                t.trim().parse::<f32>().unwrap().to_bits(),
                "{t}"
            );
        }
        for t in ["1e308", "-1e308", "1e400", "3.5e38"] {
            assert_eq!(f32_of(t), Err(BEYOND_F32), "{t}");
        }
        assert!(f32_of("inf").unwrap().is_infinite());
        assert!(f32_of("-Infinity").unwrap().is_infinite());
        assert!(f32_of("NaN").unwrap().is_nan());
        assert_eq!(f32_of("x"), Err("is not a number"));
        assert_eq!(
            parse_f32("1e308").unwrap_err(),
            format!("'1e308' {BEYOND_F32}")
        );
    }
}
