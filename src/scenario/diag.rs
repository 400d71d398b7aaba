//! Error messages that point into the scenario file: `file:line:column`, the offending line, and a caret.
//!
//! ```text
//! error: invalid quantity "1Gb": unknown suffix "Gb"; expected one of n, u, m, k, M, G, T, P, E, Ki, Mi, ...
//!   --> scenarios/bad.toml:9:12
//!   |
//! 9 | memory = "1Gb"
//!   |            ^^
//! ```

use std::fmt;
use std::ops::Range;

/// One problem in an input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based line and column (in characters) of the start of the problem; 0 when unknown.
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The source line and the caret span within it (characters).
    snippet: Option<(String, usize, usize)>,
}

impl Diagnostic {
    /// A problem at a byte span of `source`.
    pub fn at(file: &str, source: &str, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let mut start = span.start.min(source.len());
        while !source.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = span.end.clamp(start, source.len());
        while !source.is_char_boundary(end) {
            end += 1;
        }
        let line_start = source[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line_end = source[start..].find('\n').map(|i| start + i).unwrap_or(source.len());
        let line = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        let text = source[line_start..line_end].trim_end_matches('\r').to_string();
        let caret_len = source[start..end.min(line_end)].chars().count().max(1);
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            snippet: Some((text, column, caret_len)),
        }
    }

    /// A problem with the file as a whole (e.g. it cannot be read).
    pub fn whole_file(file: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: file.to_string(), line: 0, column: 0, message: message.into(), snippet: None }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if self.line == 0 {
            return write!(f, "  --> {}", self.file);
        }
        write!(f, "  --> {}:{}:{}", self.file, self.line, self.column)?;
        if let Some((text, col, len)) = &self.snippet {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let caret_pad: String = text.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            write!(f, "\n{pad} |\n{num} | {text}\n{pad} | {caret_pad}{}", "^".repeat(*len))?;
        }
        Ok(())
    }
}

/// All problems found in one file (validation reports as many as it can at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() > 1 {
            write!(f, "\n\n{} errors", self.0.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_line_and_column() {
        let src = "[a]\nx = 1\nmemory = \"1Gb\"\n";
        let start = src.find("1Gb").unwrap();
        let d = Diagnostic::at("f.toml", src, start..start + 3, "bad");
        assert_eq!((d.line, d.column), (3, 11));
        let text = d.to_string();
        assert!(text.contains("--> f.toml:3:11"), "{text}");
        assert!(text.contains("3 | memory = \"1Gb\""), "{text}");
        assert!(text.ends_with("  |           ^^^"), "{text:?}");
    }

    #[test]
    fn spans_inside_multibyte_characters_are_widened() {
        let src = "x = \"1€€\"\n";
        let inside = src.find('€').unwrap() + 1;
        let d = Diagnostic::at("f.toml", src, inside..inside + 1, "bad");
        assert_eq!((d.line, d.column), (1, 7));
        assert!(d.to_string().ends_with("^"));
    }

    #[test]
    fn whole_file_has_no_position() {
        let d = Diagnostic::whole_file("missing.toml", "cannot read");
        assert_eq!(d.to_string(), "error: cannot read\n  --> missing.toml");
    }
}
