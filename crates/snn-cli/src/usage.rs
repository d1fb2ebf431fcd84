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
}
