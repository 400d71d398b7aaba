//! Why a report or comparison failed, and the exit code that goes with it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why reading a run's outputs or writing a report failed.
#[derive(Debug)]
pub enum ReportError {
    /// An input file is missing or malformed (bad input: exit code 2). `line` is the 1-based line of a CSV record.
    Input { path: PathBuf, line: Option<u64>, message: String },
    /// Writing an output failed (exit code 1).
    Write { path: PathBuf, error: io::Error },
    /// A chart could not be drawn (exit code 1).
    Plot { name: String, message: String },
}

impl ReportError {
    pub fn input(path: &Path, line: Option<u64>, message: impl Into<String>) -> ReportError {
        ReportError::Input { path: path.to_path_buf(), line, message: message.into() }
    }

    /// Follows the CLI convention: 2 for bad input, 1 for a failure to write.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::Input { .. } => 2,
            ReportError::Write { .. } | ReportError::Plot { .. } => 1,
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Input { path, line: Some(l), message } => {
                write!(f, "error: {}:{l}: {message}", path.display())
            }
            ReportError::Input { path, line: None, message } => write!(f, "error: {}: {message}", path.display()),
            ReportError::Write { path, error } => write!(f, "error: cannot write {}: {error}", path.display()),
            ReportError::Plot { name, message } => write!(f, "error: cannot draw plot {name}: {message}"),
        }
    }
}

impl std::error::Error for ReportError {}

/// Maps an I/O error while writing `path`.
pub fn write_err(path: &Path) -> impl FnOnce(io::Error) -> ReportError + '_ {
    move |error| ReportError::Write { path: path.to_path_buf(), error }
}
