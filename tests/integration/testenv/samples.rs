//! Sample lines of planet's output, picked out by the schema's family and
//! label names, so that a renamed family is renamed here too: a test that
//! filters by name never silently filters nothing.

use std::collections::BTreeSet;

use planet::schema::{self, label, Label};

/// The family a sample line is of: its name, before the labels or the
/// value (`#` for a comment line).
pub fn family_of(line: &str) -> &str {
    line.split(['{', ' ']).next().unwrap_or_default()
}

/// The sample lines of one family (without HELP/TYPE).
pub fn samples<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    // As `family_of(line) == family`, but fast (some tests read a large
    // output thousands of times): most lines differ in their first bytes.
    text.lines()
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .collect()
}

/// Whether a sample line carries `label="value"`.
pub fn has_label(line: &str, label: Label, value: &str) -> bool {
    line.contains(&format!("{}=\"{value}\"", label.name))
}

/// The value of `label` in a sample line, as written (escapes kept).
pub fn label_value(line: &str, label: Label) -> Option<&str> {
    let key = format!("{}=\"", label.name);
    let at = line
        .match_indices(&key)
        .map(|(at, _)| at)
        .find(|&at| at > 0 && matches!(line.as_bytes()[at - 1], b'{' | b','))?;
    let (value, _) = line[at + key.len()..].split_once('"')?;
    Some(value)
}

/// The sample lines of one family that carry `port="P"` for one of
/// `ports`, in planet's own network namespace (`container=""`): the test's
/// own, as planet inherits it. (Another namespace, another test's, may use
/// the same port numbers.)
pub fn samples_on_ports<'a>(text: &'a str, family: &str, ports: &[u16]) -> BTreeSet<&'a str> {
    own_samples(text, family)
        .into_iter()
        .filter(|line| {
            ports
                .iter()
                .any(|p| has_label(line, label::PORT, &p.to_string()))
        })
        .collect()
}

/// The sample lines of one family in planet's own network namespace.
pub fn own_samples<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    samples(text, family)
        .into_iter()
        .filter(|line| is_own(line))
        .collect()
}

/// The sample lines of `family` that carry `container="ID"`.
pub fn of_container<'a>(text: &'a str, family: &str, id: &str) -> BTreeSet<&'a str> {
    samples(text, family)
        .into_iter()
        .filter(|line| has_label(line, label::CONTAINER, id))
        .collect()
}

/// Whether a sample line is of planet's own network namespace
/// (`container=""`).
pub fn is_own(line: &str) -> bool {
    has_label(line, label::CONTAINER, "")
}

/// What two runs over the same sockets agree on: everything but times and
/// durations, and but what belongs to other network namespaces, which
/// other tests make and drop meanwhile (their series, their number).
pub fn own_view(text: &str) -> String {
    let varies = [
        schema::COLLECT_TIMESTAMP.name,
        schema::COLLECTOR_DURATION.name,
        schema::SNAPSHOT_DURATION.name,
        schema::NETWORK_NAMESPACES.name,
        schema::NETWORK_NAMESPACES_SKIPPED.name,
    ];
    text.lines()
        .filter(|l| {
            let elsewhere = l.contains(&format!("{}=\"", label::CONTAINER.name)) && !is_own(l);
            !elsewhere && !varies.contains(&family_of(l))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}
