//! Stage 5, metric families and the Prometheus text format (0.0.4), the
//! format node_exporter's textfile collector parses: [`render`] writes it,
//! [`parse`] reads it back (other exporters' pages for `--wrap`, and the
//! tests' view of planet's own output). Both directions live together so
//! that one can be checked against the other.

pub mod parse;
pub mod render;

pub use parse::{parse, Exposition};
pub use render::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    /// What another exporter's families without a TYPE are.
    Untyped,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Untyped => "untyped",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label names and values; values may hold any text (escaped on output).
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: impl Into<String>, kind: Kind, help: impl Into<String>) -> Family {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    pub fn gauge(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, Kind::Gauge, help)
    }

    pub fn counter(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, Kind::Counter, help)
    }

    /// Adds a sample; label names are given in the order they are written.
    pub fn push<'a>(&mut self, labels: impl IntoIterator<Item = (&'a str, &'a str)>, value: f64) {
        self.samples.push(Sample {
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        });
    }

    /// Builder form of [`Family::push`], for families of one sample.
    pub fn with<'a>(
        mut self,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        value: f64,
    ) -> Family {
        self.push(labels, value);
        self
    }
}
