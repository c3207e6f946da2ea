//! Families to text. Rendering sorts families by name and series by label
//! values, so the same sockets always give the same bytes, and a diff
//! between two runs shows only what changed on the host.

use std::fmt::Write as _;

use super::Family;

/// Renders families in a canonical order. Families with no samples are left
/// out: a HELP/TYPE pair without samples tells a reader nothing.
pub fn render(families: &mut [Family]) -> String {
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    for family in families.iter_mut() {
        if family.samples.is_empty() {
            continue;
        }
        family.samples.sort_by(|a, b| {
            a.labels
                .iter()
                .map(|(_, v)| v)
                .cmp(b.labels.iter().map(|(_, v)| v))
        });
        let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(&family.help));
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
        for sample in &family.samples {
            out.push_str(&family.name);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (name, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push_str("=\"");
                    escape_label_value(value, &mut out);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            format_value(sample.value, &mut out);
            out.push('\n');
        }
    }
    out
}

/// Label values: backslash, double quote and line feed are escaped.
pub fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP text: only backslash and line feed are escaped.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Whole numbers are written without a fraction so that byte counters read
/// exactly; f64 holds every integer up to 2^53 (8 PiB) without loss.
pub fn format_value(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 9.007_199_254_740_992e15 {
        let _ = write!(out, "{}", value as i64);
    } else if (1e-4..1e15).contains(&value.abs()) {
        let _ = write!(out, "{value}");
    } else {
        let _ = write!(out, "{value:e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values_and_help() {
        let mut families =
            vec![Family::gauge("m", "a \\ help\nline").with([("name", "we\"ird\\ na\nme")], 1.0)];
        assert_eq!(
            render(&mut families),
            "# HELP m a \\\\ help\\nline\n# TYPE m gauge\nm{name=\"we\\\"ird\\\\ na\\nme\"} 1\n"
        );
    }

    #[test]
    fn sorts_families_and_series() {
        let mut b = Family::counter("b_total", "b");
        b.push([("x", "2")], 2.0);
        b.push([("x", "10")], 10.0);
        b.push([("x", "1")], 1.0);
        let mut families = vec![
            b,
            Family::gauge("a", "a").with([], 0.5),
            Family::gauge("c", "empty"),
        ];
        assert_eq!(
            render(&mut families),
            "# HELP a a\n# TYPE a gauge\na 0.5\n\
             # HELP b_total b\n# TYPE b_total counter\nb_total{x=\"1\"} 1\nb_total{x=\"10\"} 10\nb_total{x=\"2\"} 2\n"
        );
    }

    #[test]
    fn formats_values() {
        let cases = [
            (0.0, "0"),
            (100000.0, "100000"),
            (0.0042, "0.0042"),
            (-3.0, "-3"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1e300, "1e300"),
            (1.5e-7, "1.5e-7"),
            (1.7e9, "1700000000"),
            (1.7e9 + 0.25, "1700000000.25"),
        ];
        for (value, text) in cases {
            let mut out = String::new();
            format_value(value, &mut out);
            assert_eq!(out, text, "{value}");
        }
    }
}
