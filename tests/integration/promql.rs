//! PromQL that works: every expression in a ```` ```promql ```` block of
//! README.md and docs/*.md is evaluated by a real PromQL engine, `promtool
//! test rules`, over input series in the shapes planet, cAdvisor and
//! kube-state-metrics expose (`tests/promql/*.yml`), and the answer each
//! test expects is the one the docs state. The expression must be there
//! verbatim (whitespace aside), so a doc example cannot drift from its test.
//!
//! The mixin: `monitoring/*.yml` are the Prometheus rules planet ships; each
//! rule has tests in `monitoring/tests/*.yml` that show it fires when it
//! should and stays silent when it should not.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::testenv::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `.yml` files directly in `dir` (relative to the crate), sorted.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .yml file in {dir}");
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Collapses every run of whitespace to one space.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One documented expression and where it starts (`docs/x.md:12`).
struct Documented {
    place: String,
    expr: String,
}

/// Every expression of every ```` ```promql ```` block in README.md and
/// docs/*.md.
fn documented_expressions() -> Vec<Documented> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let mut found = Vec::new();
    for page in pages {
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        let text = read(&page);
        let mut block: Option<(usize, Vec<&str>)> = None;
        for (number, line) in text.lines().enumerate() {
            match &mut block {
                None if line.trim() == "```promql" => block = Some((number + 2, Vec::new())),
                None => {}
                Some((first, lines)) if line.trim() == "```" => {
                    for (offset, expr) in split_expressions(lines) {
                        found.push(Documented {
                            place: format!("{name}:{}", *first + offset),
                            expr,
                        });
                    }
                    block = None;
                }
                Some((_, lines)) => lines.push(line),
            }
        }
        assert!(block.is_none(), "{name}: a ```promql block is not closed");
    }
    found
}

/// Splits a block's lines into expressions, each with the index of its
/// first line. Comment lines and blank lines separate expressions; so does
/// a line that starts a new one: at column 0, after a complete expression
/// (brackets closed, no binary operator at its end), not itself starting
/// with a binary operator. So a list of one-line queries and a query over
/// several lines (`  rate(...)` / `/ rate(...)`) both read right.
fn split_expressions(lines: &[&str]) -> Vec<(usize, String)> {
    let mut exprs = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            exprs.extend(current.take());
            continue;
        }
        if let Some((_, text)) = &current {
            let continues = line.starts_with(char::is_whitespace)
                || open_brackets(text) > 0
                || starts_with_operator(trimmed)
                || ends_with_operator(text);
            if !continues {
                exprs.extend(current.take());
            }
        }
        let (_, text) = current.get_or_insert_with(|| (index, String::new()));
        text.push_str(line);
        text.push('\n');
    }
    exprs.extend(current);
    exprs
}

/// Brackets opened and not closed, outside string literals.
fn open_brackets(text: &str) -> i32 {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(q) if c == '\\' && q != '`' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' | '`' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            },
        }
    }
    depth
}

const SYMBOL_OPERATORS: [&str; 12] = [
    "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "^", ">", "<",
];
const WORD_OPERATORS: [&str; 4] = ["and", "or", "unless", "atan2"];

fn starts_with_operator(trimmed: &str) -> bool {
    SYMBOL_OPERATORS.iter().any(|op| trimmed.starts_with(op))
        || WORD_OPERATORS.iter().any(|op| {
            trimmed
                .strip_prefix(op)
                .is_some_and(|rest| rest.starts_with([' ', '(']))
        })
}

fn ends_with_operator(text: &str) -> bool {
    let trimmed = text.trim_end();
    SYMBOL_OPERATORS.iter().any(|op| trimmed.ends_with(op))
        || WORD_OPERATORS.iter().any(|op| {
            trimmed
                .strip_suffix(op)
                .is_some_and(|rest| rest.ends_with([' ', ')']))
        })
}

/// The values of the `expr:` keys of a promtool file (a rules file or a test
/// file): a plain scalar on the key's line, or a block scalar (`|`, `>`)
/// on the lines indented deeper than the key.
fn yaml_exprs(path: &Path) -> Vec<String> {
    let text = read(path);
    let lines: Vec<&str> = text.lines().collect();
    let mut exprs = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let content = line.trim_start();
        let content = content.strip_prefix("- ").unwrap_or(content);
        let Some(value) = content.strip_prefix("expr:") else {
            continue;
        };
        let column = line.len() - content.len();
        let value = value.trim();
        if value.starts_with(['|', '>']) {
            let body: Vec<&str> = lines[index + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > column)
                .copied()
                .collect();
            exprs.push(normalise(&body.join("\n")));
        } else {
            assert!(
                !value.starts_with(['"', '\'']),
                "{}:{}: write expr as a plain or block scalar, not a quoted one, \
                 so that this test reads it as promtool does",
                path.display(),
                index + 1
            );
            exprs.push(normalise(value));
        }
    }
    exprs
}

#[test]
fn the_splitter_reads_one_line_queries_and_queries_over_several_lines() {
    let block = [
        "# a comment",
        "  rate(a_total[5m])",
        "/ rate(b_total[5m]) > 0",
        "",
        "sum by (x) (",
        "    label_replace(c, \"y\", \"$1\", \"z\", \"(.+)\")",
        "  * on (y) group_left (x)",
        "    d",
        ")",
        "planet_host_info",
        "rate(e_total[5m])",
        "f",
        "  and g",
        "h unless",
        "i",
    ];
    let exprs: Vec<(usize, String)> = split_expressions(&block)
        .into_iter()
        .map(|(line, expr)| (line, normalise(&expr)))
        .collect();
    let want = [
        (1, "rate(a_total[5m]) / rate(b_total[5m]) > 0"),
        (
            4,
            "sum by (x) ( label_replace(c, \"y\", \"$1\", \"z\", \"(.+)\") * on (y) group_left (x) d )",
        ),
        (9, "planet_host_info"),
        (10, "rate(e_total[5m])"),
        (11, "f and g"),
        (13, "h unless i"),
    ];
    let want: Vec<(usize, String)> = want.iter().map(|(l, e)| (*l, e.to_string())).collect();
    assert_eq!(exprs, want);
}

/// Every ```` ```promql ```` expression of the docs is the `expr` of a
/// promtool test in tests/promql/ (which states its answer), or of a rule in
/// monitoring/ (which monitoring/tests/ runs).
#[test]
fn every_promql_expression_in_the_docs_is_evaluated_by_a_test() {
    let documented = documented_expressions();
    for page in ["README.md", "docs/containers.md", "docs/dependencies.md"] {
        assert!(
            documented.iter().any(|d| d.place.starts_with(page)),
            "no ```promql block found in {page}"
        );
    }
    let mut tested = Vec::new();
    for path in yaml_files("tests/promql")
        .into_iter()
        .chain(yaml_files("monitoring"))
    {
        tested.extend(yaml_exprs(&path));
    }
    let untested: Vec<String> = documented
        .iter()
        .filter(|d| !tested.contains(&normalise(&d.expr)))
        .map(|d| format!("{}:\n{}", d.place, d.expr))
        .collect();
    assert!(
        untested.is_empty(),
        "these documented expressions are evaluated by no promtool test; \
         add each, verbatim, as the expr of a promql_expr_test in tests/promql/ \
         with the answer the docs state:\n\n{}",
        untested.join("\n")
    );
}

/// Runs `promtool ARGS FILES` and asserts it succeeded, showing its output.
fn promtool(args: &[&str], files: &[PathBuf]) {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let output = Command::new(promtool)
        .args(args)
        .args(files)
        .current_dir(root())
        .output()
        .expect("run promtool");
    assert!(
        output.status.success(),
        "promtool {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_documented_promql_gives_the_stated_answers() {
    promtool(&["test", "rules"], &yaml_files("tests/promql"));
}

#[test]
fn the_shipped_rules_pass_promtool_check() {
    promtool(
        &["check", "rules", "--lint=all", "--lint-fatal"],
        &yaml_files("monitoring"),
    );
}

#[test]
fn the_alerts_fire_when_they_should_and_only_then() {
    promtool(&["test", "rules"], &yaml_files("monitoring/tests"));
}

/// The name after `key:` on each line that has one (`- alert: X`).
fn names_after(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let content = line.trim_start();
            let content = content.strip_prefix("- ").unwrap_or(content);
            content
                .strip_prefix(key)
                .map(|name| name.trim().to_string())
        })
        .collect()
}

/// Each alert the spec names is shipped, each has a severity, a summary and
/// a description, and each alert and recording rule is exercised by a test
/// in monitoring/tests/ (which `promtool test rules` runs above).
#[test]
fn every_rule_is_shipped_with_its_labels_and_tested() {
    let rules: String = yaml_files("monitoring").iter().map(|p| read(p)).collect();
    let tests: String = yaml_files("monitoring/tests")
        .iter()
        .map(|p| read(p))
        .collect();
    let alerts = names_after(&rules, "alert:");
    for wanted in [
        "PlanetTextfileStale",
        "PlanetCollectorFailing",
        "PlanetDependencyFailing",
        "PlanetNewDependency",
    ] {
        assert!(alerts.iter().any(|a| a == wanted), "no alert {wanted}");
    }
    let docs = read(&root().join("docs/alerts.md"));
    for alert in &alerts {
        // The rule's text: from its `alert:` line to the next rule.
        let start = rules.find(&format!("alert: {alert}\n")).unwrap();
        let rest = &rules[start + 1..];
        let end = ["- alert:", "- record:", "\ngroups:"]
            .iter()
            .filter_map(|next| rest.find(next))
            .min()
            .map_or(rules.len(), |e| start + 1 + e);
        let rule = &rules[start..end];
        for part in ["severity: ", "summary: ", "description: "] {
            assert!(rule.contains(part), "{alert} has no {part}");
        }
        assert!(
            names_after(&tests, "alertname:").contains(alert),
            "no test in monitoring/tests/ for {alert}"
        );
        assert!(
            docs.contains(alert.as_str()),
            "docs/alerts.md lacks {alert}"
        );
    }
    let test_exprs: Vec<String> = yaml_files("monitoring/tests")
        .iter()
        .flat_map(|p| yaml_exprs(p))
        .collect();
    for record in names_after(&rules, "record:") {
        assert!(
            test_exprs.iter().any(|e| e.contains(&record)),
            "no test in monitoring/tests/ evaluates {record}"
        );
        assert!(docs.contains(&record), "docs/alerts.md lacks {record}");
    }
}
