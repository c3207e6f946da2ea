//! The man page and shell completions, generated from the clap definition so
//! that they cannot drift from `--help`. Both are committed (`man/planet.1`,
//! `completions/`) and a test fails when they are stale.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// The command that regenerates the committed files.
#[cfg(test)]
const REGENERATE: &str = "scripts/regen-docs";

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
    out.write_all(SYNOPSIS.as_bytes())?;
    top.render_description_section(out)?;
    collect.render_options_section(out)?;
    out.write_all(SECTIONS.as_bytes())?;
    top.render_version_section(out)
}

pub fn completions(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "planet", &mut out);
    out
}

const SYNOPSIS: &str = r#".SH SYNOPSIS
\fBplanet collect\fR \fB\-\-out\fR \fIDIR\fR [\fIOPTIONS\fR]
.br
\fBplanet collect\fR \fB\-\-stdout\fR [\fIOPTIONS\fR]
.br
\fBplanet collect\fR \fB\-\-out\fR \fIDIR\fR \fB\-\-loop\fR [\fB\-\-interval\fR \fIDURATION\fR] [\fIOPTIONS\fR]
.br
\fBplanet graph\fR \fB\-\-prometheus\fR \fIURL\fR [\fB\-\-window\fR \fIDURATION\fR] [\fB\-\-format\fR json|dot|mermaid|html] [\fB\-o\fR \fIFILE\fR]
.br
\fBplanet graph\fR \fB\-\-files\fR \fIFILE\fR... [\fB\-\-format\fR json|dot|mermaid|html] [\fB\-o\fR \fIFILE\fR]
.br
\fBplanet wrap check\fR \fIFILE\fR
.br
\fBplanet completions\fR \fISHELL\fR
.br
\fBplanet man\fR
.br
\fBplanet\fR [\fB\-\-help\fR|\fB\-\-version\fR]
"#;

const SECTIONS: &str = r#".SH METRICS
.TP
\fBplanet_serving\fR{protocol,name,container,addr,port}
1 for each service: TCP sockets in LISTEN, bound unconnected UDP sockets outside the ephemeral port range.
.TP
\fBplanet_serving_backlog\fR, \fBplanet_serving_backlog_max\fR
Current and maximum accept queue of a TCP service (ss \-lt Recv\-Q/Send\-Q), summed over an SO_REUSEPORT group.
.TP
\fBplanet_upstream\fR, \fBplanet_downstream\fR{protocol,process,container,name,domain,addr,port}
Open connections to a peer this host depends on, and from a peer that depends on it.
.TP
\fBplanet_upstream_bytes_total\fR, \fBplanet_downstream_bytes_total\fR{...,direction}
Payload bytes in and out over TCP, SYN and FIN taken off; never decreasing.
.TP
\fBplanet_upstream_connections_total\fR, \fBplanet_downstream_connections_total\fR{...}
Connections opened, each socket once when planet first sees it, failed attempts included.
.TP
\fBplanet_upstream_connect_failures_total\fR{...}
TCP connections that ended without being established (refused, timed out, closed while connecting); counted under \fB\-\-loop\fR.
.TP
\fBplanet_upstream_retransmits_total\fR, \fBplanet_downstream_retransmits_total\fR{...}
TCP segments retransmitted (tcpi_total_retrans), never decreasing.
.TP
\fBplanet_upstream_rtt_seconds\fR, \fBplanet_downstream_rtt_seconds\fR{...}
Mean smoothed round\-trip time of the series' established TCP connections now.
.TP
\fBplanet_peers_folded\fR{family}
Peers beyond \fB\-\-max\-peers\fR (or the state's cap) folded into name="other".
.TP
\fBplanet_dns_lookups_total\fR{result}
Reverse DNS look\-ups of peers by result (hit, answered, nxdomain, timeout, error); not with \fB\-\-no\-resolve\fR.
.TP
\fBplanet_process_sockets\fR{process,container,protocol,state}
Open sockets per owning process, protocol and state (the \fBprocess_sockets\fR collector).
.TP
\fBplanet_address\fR{addr,container}
Every address on an interface of the host (container="") and of each container's network namespace, loopback and link\-local left out.
.TP
\fBplanet_host_info\fR{hostname}, \fBplanet_network_namespaces\fR, \fBplanet_network_namespaces_skipped\fR{reason}
The host's name; the network namespaces whose sockets were read, and those that could not be (hidden, no_privilege, out_of_fds, vanished, failed).
.TP
\fBplanet_wrap_up\fR{source}
1 if a \fB\-\-wrap\fR source answered with a page planet could parse, else 0; the rules' own families follow.
.TP
\fBplanet_build_info\fR, \fBplanet_collector_success\fR, \fBplanet_collector_duration_seconds\fR, \fBplanet_snapshot_duration_seconds\fR, \fBplanet_collect_timestamp_seconds\fR
Self\-observation; with \fB\-\-loop\fR also \fBplanet_loop_failures_total\fR and \fBplanet_destroy_notifications_lost_total\fR.
.PP
\fBcontainer\fR is the full container ID from the owning process's cgroup path (Docker, containerd, CRI\-O, Podman, Kubernetes), "" on the host, or netns:\fIINODE\fR for another network namespace without a container.
.SH COMMANDS
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
        let mut families = crate::collectors::declared_families();
        families.extend(crate::app::SELF_FAMILIES.map(String::from));
        for family in families {
            let roff = family.replace('-', "\\-");
            assert!(page.contains(&roff), "{family} is not in the man page");
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
    }

    #[test]
    fn committed_man_page_and_completions_are_current() {
        let mut stale = Vec::new();
        if committed("man/planet.1") != man_page() {
            stale.push("man/planet.1".to_string());
        }
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let path = format!("completions/planet.{shell}");
            if committed(&path) != completions(shell) {
                stale.push(path);
            }
        }
        assert!(
            stale.is_empty(),
            "stale: {stale:?}; regenerate with: {REGENERATE}"
        );
    }
}
