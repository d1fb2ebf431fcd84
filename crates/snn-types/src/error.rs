//! Typed errors of spec loading and validation.

use std::fmt;

/// One problem found in a spec, with the path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecIssue {
    /// Path of the field, e.g. `projections[2].delay_ms`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a spec could not be loaded or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The text is not valid TOML/JSON for a spec (the message carries line and column).
    #[error("{origin}: {message}")]
    Parse {
        /// The file name, or `<toml>`/`<json>` for strings.
        origin: String,
        /// Parser message.
        message: String,
    },
    /// The spec parsed but is inconsistent; every problem is listed.
    #[error("{}", format_invalid(origin.as_deref(), issues))]
    Invalid {
        /// The file, when known.
        origin: Option<String>,
        /// Every problem found.
        issues: Vec<SpecIssue>,
    },
}

fn format_invalid(origin: Option<&str>, issues: &[SpecIssue]) -> String {
    let head = match origin {
        Some(o) => format!("{o}: invalid network spec"),
        None => "invalid network spec".to_string(),
    };
    let n = issues.len();
    let mut s = format!("{head} ({n} problem{}): ", if n == 1 { "" } else { "s" });
    s.push_str(
        &issues
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    );
    s
}

impl SpecError {
    /// Attaches the file name to a parse or validation error.
    pub fn with_origin(self, origin: &str) -> Self {
        match self {
            SpecError::Parse { message, .. } => SpecError::Parse {
                origin: origin.into(),
                message,
            },
            SpecError::Invalid { issues, .. } => SpecError::Invalid {
                origin: Some(origin.into()),
                issues,
            },
            e => e,
        }
    }

    /// The individual issues of an `Invalid` error (empty for other kinds).
    pub fn issues(&self) -> &[SpecIssue] {
        match self {
            SpecError::Invalid { issues, .. } => issues,
            _ => &[],
        }
    }
}
