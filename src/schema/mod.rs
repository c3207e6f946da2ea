//! The metric schema: every family planet writes, declared once, with its
//! type, help and label names, and every label once, with what it means.
//!
//! Everything else goes through these declarations: collectors render with
//! them ([`Spec::family`] takes exactly as many label values as the family
//! has labels, so a label added here is an error at every place that
//! writes the family until it is given), `planet graph` reads with them,
//! tests and benches name families by them, and the man page's METRICS
//! section and `docs/metrics.md` are generated from [`ALL`]. A renamed
//! family is one line here; the docs test then names the command that
//! regenerates the docs.
//!
//! A collector of your own may declare its families in its own file the
//! same way (see `docs/collector.md`); the registry hands them to the docs
//! beside these.

use crate::exposition::{Family, Kind};

/// A label: its name in the exposition, and what its values mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub name: &'static str,
    pub help: &'static str,
}

/// A family with `N` labels, always in this order.
#[derive(Debug)]
pub struct Spec<const N: usize> {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub labels: [Label; N],
}

/// What the docs and the runner need of any family, whatever its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub labels: &'static [Label],
}

impl<const N: usize> Spec<N> {
    /// The family, empty, to fill with [`Writer::push`].
    pub fn family(&'static self) -> Writer<N> {
        Writer {
            spec: self,
            family: Family::new(self.name, self.kind, self.help),
        }
    }

    /// A family of one sample.
    pub fn one(&'static self, values: [&str; N], value: f64) -> Family {
        let mut family = self.family();
        family.push(values, value);
        family.done()
    }

    pub const fn declared(&'static self) -> Declared {
        Declared {
            name: self.name,
            kind: self.kind,
            help: self.help,
            labels: &self.labels,
        }
    }
}

/// A family being written: label values are given in the spec's order.
pub struct Writer<const N: usize> {
    spec: &'static Spec<N>,
    family: Family,
}

impl<const N: usize> Writer<N> {
    pub fn push(&mut self, values: [&str; N], value: f64) {
        let labels = self.spec.labels.iter().map(|l| l.name).zip(values);
        self.family.push(labels, value);
    }

    pub fn done(self) -> Family {
        self.family
    }
}

impl<const N: usize> Spec<N> {
    pub const fn gauge(name: &'static str, help: &'static str, labels: [Label; N]) -> Spec<N> {
        Spec {
            name,
            kind: Kind::Gauge,
            help,
            labels,
        }
    }

    pub const fn counter(name: &'static str, help: &'static str, labels: [Label; N]) -> Spec<N> {
        Spec {
            name,
            kind: Kind::Counter,
            help,
            labels,
        }
    }
}

pub mod label;

mod families;

pub use families::*;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_family_is_declared_once_under_a_valid_name() {
        let names: BTreeSet<&str> = ALL.iter().map(|d| d.name).collect();
        assert_eq!(names.len(), ALL.len(), "a name declared twice");
        for declared in ALL {
            let valid = declared.name.starts_with("planet_")
                && declared
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            assert!(valid, "{}", declared.name);
            // Prometheus' conventions: counters end in _total, and only they.
            assert_eq!(
                declared.kind == Kind::Counter,
                declared.name.ends_with("_total"),
                "{}",
                declared.name
            );
            let labels: BTreeSet<&str> = declared.labels.iter().map(|l| l.name).collect();
            assert_eq!(labels.len(), declared.labels.len(), "{}", declared.name);
        }
        for declared in SELF {
            assert!(ALL.contains(&declared), "{}", declared.name);
        }
    }

    #[test]
    fn a_writer_puts_the_values_under_the_specs_labels_in_order() {
        let family = SERVING.one(["tcp", "nginx", "", "10.0.0.1", "80"], 1.0);
        let labels: Vec<(&str, &str)> = family.samples[0]
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("protocol", "tcp"),
                ("name", "nginx"),
                ("container", ""),
                ("addr", "10.0.0.1"),
                ("port", "80")
            ]
        );
        assert_eq!(
            (family.name.as_str(), family.kind),
            (SERVING.name, Kind::Gauge)
        );
    }
}
