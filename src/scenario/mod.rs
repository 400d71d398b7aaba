//! Scenario files: parsing, validation and compilation into a runnable [`SimConfig`].
//!
//! Errors name the file, line and column and say what was expected (see [`diag`]). The format is documented in
//! the README ("Scenario reference") and in [`schema`].

mod compile;
pub mod diag;
pub mod limits;
pub mod schema;

pub use compile::{POOL_LABEL, validate_label};
pub use diag::{Diagnostic, Diagnostics};

use crate::sim::SimConfig;
use std::path::Path;

/// A scenario file: its path, text, and compiled configuration.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: String,
    pub description: Option<String>,
    pub config: SimConfig,
}

impl Scenario {
    /// Reads and compiles a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, Diagnostics> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| {
            Diagnostics(vec![Diagnostic::whole_file(&shown, format!("cannot read scenario file: {e}"))])
        })?;
        if meta.is_dir() {
            return Err(Diagnostics(vec![Diagnostic::whole_file(&shown, "is a directory, not a scenario file")]));
        }
        if meta.len() > limits::MAX_FILE_BYTES {
            return Err(Diagnostics(vec![Diagnostic::whole_file(
                &shown,
                format!("scenario file is {} bytes; the limit is {}", meta.len(), limits::MAX_FILE_BYTES),
            )]));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            Diagnostics(vec![Diagnostic::whole_file(&shown, format!("cannot read scenario file: {e}"))])
        })?;
        Scenario::from_str(&text, &shown)
    }

    /// Compiles scenario text; `file` is the name used in error messages.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, file: &str) -> Result<Scenario, Diagnostics> {
        Scenario::compile(text, file, None)
    }

    /// Compiles scenario text with an optional seed override.
    pub fn compile(text: &str, file: &str, seed: Option<u64>) -> Result<Scenario, Diagnostics> {
        let parsed: schema::File = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            Diagnostics(vec![Diagnostic::at(file, text, span, toml_message(&e))])
        })?;
        let mut c = compile::Compiler::new(file, text);
        let config = c.compile(&parsed, seed);
        match config {
            Some(config) if c.errors.is_empty() => Ok(Scenario {
                path: file.to_string(),
                description: parsed.scenario.get_ref().description.clone(),
                config,
            }),
            _ => {
                let mut errors = c.errors;
                errors.sort_by_key(|d| (d.line, d.column));
                errors.dedup();
                Err(Diagnostics(errors))
            }
        }
    }

    /// The same scenario with another seed.
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.config.seed = seed;
        self
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }
}

/// The TOML parser's message, on one line, with Rust type names replaced by what a user writes.
fn toml_message(e: &toml::de::Error) -> String {
    let mut msg = e.message().trim().replace('\n', " ");
    for (rust, human) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("expected a string", "expected a string (in quotes)"),
    ] {
        msg = msg.replace(rust, human);
    }
    if msg.starts_with("missing field `cluster`") {
        return "missing table [cluster]: a scenario needs at least one [[cluster.node_pools]]".into();
    }
    if msg.starts_with("missing field `scenario`") {
        return "missing table [scenario]: a scenario needs [scenario] with `name` and `duration`".into();
    }
    if msg.starts_with("missing field") {
        msg.push_str(" (required here)");
    }
    msg
}
