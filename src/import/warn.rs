//! Warnings and errors, each naming the file, the line and the object it is about.
//!
//! Why collect warnings instead of printing them at once: the command prints them after a successful import, in
//! input order, and tests read them from the returned list. Unsupported kinds are counted instead of warned
//! about one by one (a `kubectl get all` dump can hold hundreds of Services), in one warning per kind that points
//! at the first object of that kind.

use std::collections::BTreeMap;
use std::fmt;

/// Where an object is: its file, the line of its document or list item, and its kind/namespace/name.
#[derive(Clone, Debug)]
pub struct Origin {
    pub file: String,
    pub line: u64,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Origin {
    /// `file:line: Kind namespace/name`, at another line of the same object.
    pub fn at(&self, line: u64) -> String {
        let line = if line == 0 { self.line } else { line };
        if self.namespace.is_empty() {
            format!("{}:{line}: {} {}", self.file, self.kind, self.name)
        } else {
            format!("{}:{line}: {} {}/{}", self.file, self.kind, self.namespace, self.name)
        }
    }
}

/// A failed import: what to print (without the `error: ` prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportError(pub String);

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.0)
    }
}

impl std::error::Error for ImportError {}

/// The warnings of one import, in the order they were found.
#[derive(Debug, Default)]
pub struct Warnings {
    lines: Vec<String>,
    /// Kind -> (count, file:line of the first one).
    unsupported: BTreeMap<String, (usize, String)>,
}

impl Warnings {
    /// A warning about a field (`line` 0: the object's own line).
    pub fn field(&mut self, o: &Origin, line: u64, msg: impl fmt::Display) {
        self.lines.push(format!("warning: {}: {msg}", o.at(line)));
    }

    /// An object of a kind the importer does not read.
    pub fn unsupported_kind(&mut self, file: &str, line: u64, kind: &str) {
        let e = self.unsupported.entry(kind.to_string()).or_insert_with(|| (0, format!("{file}:{line}")));
        e.0 += 1;
    }

    /// Every warning, the counted unsupported kinds last (sorted by kind).
    pub fn into_lines(self) -> Vec<String> {
        let mut lines = self.lines;
        for (kind, (count, first)) in self.unsupported {
            let kind = if kind.is_empty() { "(no kind)".to_string() } else { kind };
            let objects = if count == 1 { "object" } else { "objects" };
            lines.push(format!(
                "warning: {first}: ignored {count} {objects} of kind {kind} (kubesim does not model it; first one here)"
            ));
        }
        lines
    }
}
