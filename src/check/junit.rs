//! JUnit XML for CI systems: one `<testsuite>` per scenario, one `<testcase>` per checked metric, a `<failure>`
//! for a regression or a missing baseline, an `<error>` for a failed run or a bad check. No times are written,
//! so the file is byte-identical for the same results.

/// One test case: its name and, when it did not pass, why.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub name: String,
    pub outcome: Outcome,
    /// Shown as the case's output (the table row).
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    Failure(String),
    Error(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
}

/// Escapes text for an XML attribute or element; characters XML 1.0 cannot hold become `?`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

fn count(suites: &[Suite], f: impl Fn(&Outcome) -> bool) -> usize {
    suites.iter().flat_map(|s| &s.cases).filter(|c| f(&c.outcome)).count()
}

/// The whole document.
pub fn render(suites: &[Suite]) -> String {
    let failures = |s: &[Suite]| count(s, |o| matches!(o, Outcome::Failure(_)));
    let errors = |s: &[Suite]| count(s, |o| matches!(o, Outcome::Error(_)));
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<testsuites name=\"kubesim check\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\">\n",
        failures(suites),
        errors(suites)
    );
    for suite in suites {
        let one = std::slice::from_ref(suite);
        x += &format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n",
            escape(&suite.name),
            suite.cases.len(),
            failures(one),
            errors(one)
        );
        for case in &suite.cases {
            x += &format!(
                "    <testcase classname=\"kubesim.check.{}\" name=\"{}\">\n",
                escape(&suite.name),
                escape(&case.name)
            );
            match &case.outcome {
                Outcome::Passed => {}
                Outcome::Failure(m) => {
                    x += &format!("      <failure message=\"{}\" type=\"regression\"/>\n", escape(m))
                }
                Outcome::Error(m) => x += &format!("      <error message=\"{}\" type=\"error\"/>\n", escape(m)),
            }
            if !case.detail.is_empty() {
                x += &format!("      <system-out>{}</system-out>\n", escape(&case.detail));
            }
            x += "    </testcase>\n";
        }
        x += "  </testsuite>\n";
    }
    x += "</testsuites>\n";
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_counts() {
        assert_eq!(escape("a<b & \"c\"\n'd'\u{1}"), "a&lt;b &amp; &quot;c&quot;&#10;&apos;d&apos;?");
        let suites = vec![Suite {
            name: "s<1>".into(),
            cases: vec![
                Case { name: "a".into(), outcome: Outcome::Passed, detail: String::new() },
                Case { name: "b".into(), outcome: Outcome::Failure("b went 1 -> 2 > 10%".into()), detail: "x".into() },
                Case { name: "run".into(), outcome: Outcome::Error("boom".into()), detail: String::new() },
            ],
        }];
        let x = render(&suites);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kubesim check\" tests=\"3\" failures=\"1\" errors=\"1\">"), "{x}");
        assert!(x.contains("<testsuite name=\"s&lt;1&gt;\" tests=\"3\" failures=\"1\" errors=\"1\">"), "{x}");
        assert!(x.contains("<failure message=\"b went 1 -&gt; 2 &gt; 10%\" type=\"regression\"/>"), "{x}");
        assert_eq!(x.matches("<testcase ").count(), x.matches("</testcase>").count());
        assert!(x.ends_with("</testsuites>\n"));
    }
}
