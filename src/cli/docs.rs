//! The man page, the shell completions and the metrics reference, generated
//! so that they cannot drift: from the clap definition (`--help`) and from
//! the metric schema (every family declared once). All three are committed
//! (`man/planet.1`, `completions/`, `docs/metrics.md`), and a test fails
//! when one is stale, naming [`REGENERATE`].

use std::fmt::Write as _;
use std::io::{self, Write};

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

use super::Cli;
use crate::exposition::Kind;
use crate::graph::format::Format;
use crate::schema::{self, Declared};

/// The command that regenerates the committed files.
pub const REGENERATE: &str = "cargo run --example regen-docs";

/// The committed files this module generates, by path in the repository.
pub fn generated() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("man/planet.1".to_string(), man_page()),
        (
            "docs/metrics.md".to_string(),
            metrics_reference().into_bytes(),
        ),
    ];
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        files.push((format!("completions/planet.{shell}"), completions(shell)));
    }
    files
}

/// Every family planet may write: the shipped schema, then what the
/// registered collectors declare beyond it (a collector of your own).
pub fn families() -> Vec<Declared> {
    let mut all: Vec<Declared> = schema::ALL.to_vec();
    for declared in crate::collectors::declared() {
        if !all.iter().any(|d| d.name == declared.name) {
            all.push(declared);
        }
    }
    all
}

pub fn man_page() -> Vec<u8> {
    let cmd = Cli::command();
    let collect = cmd
        .find_subcommand("collect")
        .cloned()
        .unwrap_or_else(|| clap::Command::new("collect"));
    // No date: the page must be reproducible from the source alone.
    let top = clap_mangen::Man::new(cmd.clone()).manual("planet manual");
    let options = clap_mangen::Man::new(collect);
    let mut out = Vec::new();
    let _ = render_man(&top, &options, &mut out);
    out
}

fn render_man(
    top: &clap_mangen::Man,
    collect: &clap_mangen::Man,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    top.render_title(out)?;
    top.render_name_section(out)?;
    out.write_all(synopsis().as_bytes())?;
    top.render_description_section(out)?;
    collect.render_options_section(out)?;
    out.write_all(metrics_section().as_bytes())?;
    out.write_all(SECTIONS.as_bytes())?;
    top.render_version_section(out)
}

pub fn completions(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "planet", &mut out);
    out
}

/// The graph's formats, as `--format` takes them: `json|dot|...`.
fn format_names() -> String {
    let names: Vec<String> = Format::value_variants()
        .iter()
        .filter_map(|f| f.to_possible_value())
        .map(|v| v.get_name().to_string())
        .collect();
    names.join("|")
}

fn synopsis() -> String {
    SYNOPSIS.replace("FORMATS", &format_names())
}

const SYNOPSIS: &str = r#".SH SYNOPSIS
\fBplanet collect\fR \fB\-\-out\fR \fIDIR\fR [\fIOPTIONS\fR]
.br
\fBplanet collect\fR \fB\-\-stdout\fR [\fIOPTIONS\fR]
.br
\fBplanet collect\fR \fB\-\-out\fR \fIDIR\fR \fB\-\-loop\fR [\fB\-\-interval\fR \fIDURATION\fR] [\fIOPTIONS\fR]
.br
\fBplanet graph\fR \fB\-\-prometheus\fR \fIURL\fR [\fB\-\-window\fR \fIDURATION\fR] [\fB\-\-format\fR FORMATS] [\fB\-o\fR \fIFILE\fR]
.br
\fBplanet graph\fR \fB\-\-files\fR \fIFILE\fR... [\fB\-\-format\fR FORMATS] [\fB\-o\fR \fIFILE\fR]
.br
\fBplanet wrap check\fR \fIFILE\fR
.br
\fBplanet completions\fR \fISHELL\fR
.br
\fBplanet man\fR
.br
\fBplanet\fR [\fB\-\-help\fR|\fB\-\-version\fR]
"#;

/// Text for roff: its escape character and leading dots made literal.
fn roff(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    match text.starts_with(['.', '\'']) {
        true => format!("\\&{text}"),
        false => text,
    }
}

fn kind(kind: Kind) -> &'static str {
    kind.as_str()
}

/// The METRICS section: every family, its labels, type and help.
fn metrics_section() -> String {
    let mut out = String::from(".SH METRICS\n");
    for family in families() {
        let _ = write!(
            out,
            ".TP\n\\fB{}\\fR ({})\n{}\n",
            roff(family.name),
            kind(family.kind),
            roff(family.help)
        );
        if !family.labels.is_empty() {
            let labels: Vec<&str> = family.labels.iter().map(|l| l.name).collect();
            let _ = writeln!(out, ".br\nLabels: {}.", roff(&labels.join(", ")));
        }
    }
    out.push_str(".SS Labels\n");
    for label in labels() {
        let _ = write!(
            out,
            ".TP\n\\fB{}\\fR\n{}\n",
            roff(label.name),
            roff(label.help)
        );
    }
    out
}

/// Every label of every family, once, by name.
fn labels() -> Vec<schema::Label> {
    let mut labels: Vec<schema::Label> = Vec::new();
    for family in families() {
        for label in family.labels {
            if !labels.iter().any(|l| l.name == label.name) {
                labels.push(*label);
            }
        }
    }
    labels.sort_by_key(|l| l.name);
    labels
}

/// `docs/metrics.md`: every family with its type, labels and help, then
/// every label with what its values mean.
pub fn metrics_reference() -> String {
    let mut out = String::from(
        "# Metrics\n\n\
         Every family planet writes, generated from the metric schema \
         (`src/schema.rs`); do not edit by hand: `cargo run --example regen-docs` \
         rewrites this page. How the numbers are made is in \
         [running.md](running.md); the dependency families' rules in \
         [dependencies.md](dependencies.md).\n\n\
         | family | type | labels | what |\n|---|---|---|---|\n",
    );
    for family in families() {
        let names: Vec<String> = family
            .labels
            .iter()
            .map(|l| format!("`{}`", l.name))
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            family.name,
            kind(family.kind),
            names.join(", "),
            family.help.replace('|', "\\|")
        );
    }
    out.push_str("\n## Labels\n\n| label | values |\n|---|---|\n");
    for label in labels() {
        let _ = writeln!(
            out,
            "| `{}` | {} |",
            label.name,
            label.help.replace('|', "\\|")
        );
    }
    out
}

const SECTIONS: &str = r#".SH COMMANDS
.TP
\fBcollect\fR
Read the socket tables once (or with \fB\-\-loop\fR, repeatedly) and write the exposition.
.TP
\fBgraph\fR
Draw the fleet's dependency graph from every host's planet series, read from the Prometheus HTTP API (byte and event rates over \fB\-\-window\fR) or from several hosts' .prom files (totals): services and external peers as nodes, client to server edges labelled with port, connections, bytes each way, failed connects and retransmits. A peer address that is some host's \fBplanet_address\fR joins to the service serving that port there; each connection is counted once, from the client's side where the client runs planet.
.TP
\fBwrap check\fR \fIFILE\fR
Check a \fB\-\-wrap\fR rules file, fetch its sources once, print what the rules would write, and warn of sources that are down and rules that select nothing.
.TP
\fBcompletions\fR \fISHELL\fR
Print a completion script for bash, zsh, fish, elvish or powershell.
.TP
\fBman\fR
Print this page (roff).
.SH FILES
.TP
\fIDIR\fR/planet.prom
The output, replaced atomically (temporary file \fI.planet\-*.tmp\fR, fsync, mode 0644, rename, directory fsync).
.TP
/var/lib/planet/planet.state, $STATE_DIRECTORY/planet.state
Counter state between runs (mode 0600); a corrupt one is renamed to \fIplanet.state.corrupt\fR.
.TP
\fIplanet.state\fR.lock
Lock taken by each run; an overlapping run waits 5 seconds, then exits 1.
.SH "EXIT STATUS"
.TP
0
Success, or \fB\-\-loop\fR ended by SIGTERM or SIGINT.
.TP
1
The run failed: output directory missing or unwritable, state locked or unwritable. The previous output file is left as it was.
.TP
2
Usage error: arguments that cannot be parsed or do not fit together.
.SH ENVIRONMENT
.TP
PLANET_OUT
Same as \fB\-\-out\fR.
.TP
STATE_DIRECTORY
Set by systemd's StateDirectory=; the default state file goes there.
.SH EXAMPLES
.TP
Every minute from cron (silent on success):
* * * * * root /usr/bin/planet collect \-\-out /var/lib/node_exporter/textfile
.TP
From the shipped systemd timer:
systemctl enable \-\-now planet.timer
.TP
Continuously, every 15 seconds:
planet collect \-\-out /var/lib/node_exporter/textfile \-\-loop \-\-interval 15s
.TP
A look from a shell:
planet collect \-\-stdout
.SH "SEE ALSO"
\fBss\fR(8), \fBprometheus\-node\-exporter\fR(1)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(path: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
            .unwrap_or_default()
    }

    /// Every family planet declares, and every command, is in the page.
    #[test]
    fn the_man_page_names_every_family_and_command() {
        let page = String::from_utf8(man_page()).unwrap();
        for family in families() {
            let roff = family.name.replace('-', "\\-");
            assert!(
                page.contains(&roff),
                "{} is not in the man page",
                family.name
            );
        }
        for command in [
            "planet collect",
            "planet graph",
            "planet wrap check",
            "planet completions",
            "planet man",
        ] {
            assert!(page.contains(&format!("\\fB{command}\\fR")), "{command}");
        }
        assert!(page.contains("json|dot|mermaid|html"), "the formats");
    }

    /// The one docs test: every generated file as committed.
    #[test]
    fn generated_docs_are_current() {
        let stale: Vec<String> = generated()
            .into_iter()
            .filter(|(path, contents)| committed(path) != *contents)
            .map(|(path, _)| path)
            .collect();
        assert!(
            stale.is_empty(),
            "stale: {stale:?}; regenerate with: {REGENERATE}"
        );
    }

    #[test]
    fn roff_text_is_literal() {
        assert_eq!(roff("a-b\\c"), "a\\-b\\ec");
        assert_eq!(roff(".TH x"), "\\&.TH x");
    }
}
