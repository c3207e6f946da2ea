//! What the package ships: systemd units that systemd itself accepts, and
//! the commands in them and in the cron example, run for real.

use std::fs;
use std::path::Path;
use std::process::Command;

use planet::schema;

use crate::testenv::*;

fn shipped(path: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

const UNITS: [&str; 3] = ["planet.service", "planet.timer", "planet-loop.service"];
/// Where Debian's prometheus-node-exporter reads textfiles.
const DEBIAN_TEXTFILE: &str = "/var/lib/prometheus/node-exporter";

#[test]
fn systemd_accepts_the_units() {
    let Some(analyze) = tool("systemd-analyze", "systemd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for unit in UNITS {
        let text = shipped(&format!("packaging/systemd/{unit}")).replace("/usr/bin/planet", PLANET);
        fs::write(dir.path().join(unit), text).unwrap();
    }
    // --man=no: the man page is not installed here (the .deb check covers it).
    let output = Command::new(analyze)
        .args(["verify", "--man=no"])
        .args(UNITS.map(|u| dir.path().join(u)))
        .output()
        .unwrap();
    // Unknown keys and bad values are only warnings: any output is a failure.
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_services_are_hardened_and_the_timer_spreads_a_fleet() {
    for (unit, capabilities) in [
        (
            "planet.service",
            "CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_SYS_ADMIN",
        ),
        (
            "planet-loop.service",
            "CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_SYS_ADMIN CAP_NET_ADMIN",
        ),
    ] {
        let text = shipped(&format!("packaging/systemd/{unit}"));
        for line in [
            "StateDirectory=planet".to_string(),
            "ProtectSystem=strict".into(),
            format!("ReadWritePaths=-{DEBIAN_TEXTFILE}"),
            format!("ConditionPathIsDirectory={DEBIAN_TEXTFILE}"),
            "MemoryMax=256M".into(),
            "LimitNOFILE=65536".into(),
            "UMask=0077".into(),
            "PrivateMounts=yes".into(),
            "SystemCallFilter=~@privileged @resources".into(),
            "SystemCallFilter=setns".into(),
            "RestrictNamespaces=net".into(),
            "ProtectHome=yes".into(),
            "PrivateTmp=yes".into(),
            "NoNewPrivileges=yes".into(),
            format!("CapabilityBoundingSet={capabilities}"),
            format!("AmbientCapabilities={capabilities}"),
            "RestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6".into(),
            "SystemCallFilter=@system-service".into(),
        ] {
            assert!(text.lines().any(|l| l == line), "{unit} lacks {line}");
        }
        for forbidden in ["PrivateNetwork=", "ProtectProc=invisible", "ProcSubset=pid"] {
            assert!(
                !text.lines().any(|l| l.starts_with(forbidden)),
                "{unit} would hide what planet reads: {forbidden}"
            );
        }
    }
    let oneshot = shipped("packaging/systemd/planet.service");
    assert!(
        oneshot.lines().any(|l| l == "TimeoutStartSec=50s"),
        "a hung run must end before the next minute"
    );
    let timer = shipped("packaging/systemd/planet.timer");
    for line in [
        "OnCalendar=minutely",
        "RandomizedDelaySec=45s",
        "FixedRandomDelay=yes",
        "AccuracySec=1s",
    ] {
        assert!(
            timer.lines().any(|l| l == line),
            "planet.timer lacks {line}"
        );
    }
}

/// Runs a shipped command line through sh, as cron and systemd would, with
/// the real binary and a scratch textfile directory; DNS stays off
/// (`--no-resolve`) and the state goes where systemd's StateDirectory=
/// would put it. Returns the environment, for a look at what it wrote.
fn run_shipped_command(command: &str, textfile: Option<&Path>) -> TestEnv {
    let env = match textfile {
        Some(dir) => TestEnv::with_out(dir),
        None => TestEnv::new(),
    };
    let command = command
        .replace("/usr/bin/planet", PLANET)
        .replace(DEBIAN_TEXTFILE, env.out().to_str().unwrap());
    let output = Command::new("sh")
        .args(["-c", &format!("{command} --no-resolve")])
        .env("STATE_DIRECTORY", env.state_dir())
        .output()
        .unwrap();
    if env.out().is_dir() {
        assert_success(&output);
    } else {
        // The directory is missing: nothing runs, nothing is said.
        assert!(
            output.stdout.is_empty() && output.stderr.is_empty(),
            "{output:?}"
        );
    }
    env
}

fn assert_wrote(env: &TestEnv) {
    assert!(fs::read_to_string(env.output_file())
        .unwrap()
        .contains(schema::BUILD_INFO.name));
    assert_eq!(
        list_dir(env.state_dir()),
        ["planet.state", "planet.state.lock"]
    );
}

#[test]
fn the_service_command_runs_silently() {
    let unit = shipped("packaging/systemd/planet.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    assert!(exec.contains(DEBIAN_TEXTFILE), "{exec}");
    assert_wrote(&run_shipped_command(exec, None));
}

#[test]
fn the_cron_line_runs_silently() {
    let cron = shipped("packaging/cron/planet");
    let line = cron
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap();
    // minute hour day month weekday user command...
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[..6], ["*", "*", "*", "*", "*", "root"]);
    let command = fields[6..].join(" ");
    assert_wrote(&run_shipped_command(&command, None));
    // On a host without the directory: silent, nothing written anywhere.
    let gone = tempfile::tempdir().unwrap().path().join("no-textfile-here");
    let env = run_shipped_command(&command, Some(&gone));
    assert!(!gone.exists());
    assert_eq!(list_dir(env.state_dir()), Vec::<String>::new());
}

/// `systemd-analyze security` of each service, offline: at most the
/// exposure measured when the units last changed. Hardening took them from
/// 2.8 and 2.9 to 2.4 and 2.5; CAP_SYS_ADMIN and setns, to read containers'
/// namespaces, cost 0.3 and 0.4 of that back.
#[test]
fn the_services_exposure_does_not_grow() {
    let Some(analyze) = tool("systemd-analyze", "systemd") else {
        return;
    };
    for (unit, most) in [("planet.service", 2.7), ("planet-loop.service", 2.9)] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("packaging/systemd")
            .join(unit);
        let output = Command::new(&analyze)
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let level: f64 = text
            .lines()
            .find_map(|l| l.split_once(&format!("exposure level for {unit}: ")))
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level for {unit}: {text}"));
        assert!(level <= most, "{unit}: exposure {level} > {most}");
    }
}

#[test]
fn the_man_page_reads_cleanly() {
    let Some(man) = tool("man", "man-db") else {
        return;
    };
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("man/planet.1");
    let output = Command::new(man)
        .args(["--warnings", "-l"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    for section in [
        "SYNOPSIS",
        "OPTIONS",
        "METRICS",
        "FILES",
        "EXIT STATUS",
        "ENVIRONMENT",
        "EXAMPLES",
    ] {
        assert!(text.lines().any(|l| l == section), "no {section} section");
    }
    for flag in [
        "--out",
        "--state-file",
        "--forget-after",
        "--max-peers",
        "--dns-timeout",
        "--wrap",
        "--no-collector",
    ] {
        assert!(text.contains(flag), "{flag} is not documented");
    }
    assert!(
        text.contains("[default: 24h]") && text.contains("PLANET_OUT"),
        "defaults and env"
    );
}

/// The .deb's control file as Cargo.toml declares it: a one-line summary
/// that fits in 80 columns (`apt search` cuts it there), and
/// node_exporter, which reads the file planet writes, recommended.
/// (`scripts/check-deb` checks the same in the built package.)
#[test]
fn the_package_recommends_node_exporter_and_sums_itself_up_in_a_line() {
    let manifest = shipped("Cargo.toml");
    let field = |name: &str| {
        manifest
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no {name} in Cargo.toml"))
            .to_string()
    };
    let summary = field("description");
    assert!(
        summary.chars().count() < 80,
        "{} characters: {summary}",
        summary.len()
    );
    assert_eq!(field("recommends"), "prometheus-node-exporter");
}
