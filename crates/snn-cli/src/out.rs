//! Printing that survives a reader going away.
//!
//! `println!` panics when stdout is a pipe whose reader has exited (`snn chip ... | head`): Rust
//! ignores `SIGPIPE`, so the write fails with `EPIPE`. Every command prints through `outln!` and
//! `out!` instead, which return the I/O error to the command (they end in `?`); `main` then
//! treats a [`BrokenPipe`](std::io::ErrorKind::BrokenPipe) anywhere in the error chain as a quiet
//! exit with [`BROKEN_PIPE_EXIT`], the status a shell reports for a program killed by `SIGPIPE`.
//! Diagnostics go through `errln!`, which drops write errors (there is nowhere left to report
//! them).

use std::io::Write;

/// Exit status when stdout's reader went away: 128 + `SIGPIPE` (13), as for `yes | head`.
pub const BROKEN_PIPE_EXIT: u8 = 141;

/// Like `println!`, but a failed write returns its error from the enclosing function (the macro
/// ends in `?`, so that function must return a `Result` that accepts `std::io::Error`).
macro_rules! outln {
    () => {
        $crate::out::write_stdout(format_args!("\n"))?
    };
    ($($arg:tt)*) => {
        $crate::out::write_stdout(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// Like `print!`, with the error handling of `outln!`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write_stdout(format_args!($($arg)*))?
    };
}

/// Like `eprintln!`, but never panics: a failed write to stderr is ignored.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to stdout and returns the error instead of panicking.
pub fn write_stdout(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    std::io::stdout().lock().write_fmt(args)
}

/// Writes to stderr, ignoring errors.
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Flushes stdout (buffered output not yet written when a command returns).
pub fn flush_stdout() -> std::io::Result<()> {
    std::io::stdout().lock().flush()
}

/// Whether an error, or any of its causes, is a broken pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn broken_pipe_is_found_anywhere_in_the_chain() {
        let e = Err::<(), _>(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("printing the report")
            .unwrap_err();
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("disk full")));
        let other = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!is_broken_pipe(&other));
    }
}
