//! `--wrap`: a loopback HTTP server plays postgres_exporter and the page
//! that says which version is newest; the rules are docs/wrap.md's example.

use std::fs;
use std::path::Path;

use planet::schema;

use crate::testenv::*;

const POSTGRES_PAGE: &str = r#"# HELP pg_static Version string as reported by postgres
# TYPE pg_static untyped
pg_static{server="db:5432",short_version="11.5.0",version="PostgreSQL 11.5 \"custom\" {build} \\ x"} 1
# TYPE pg_stat_database_numbackends gauge
pg_stat_database_numbackends{datname="app",server="db:5432"} 7
pg_stat_database_numbackends{datname="postgres",server="db:5432"} 1
# TYPE pg_exporter_scrape_seconds histogram
pg_exporter_scrape_seconds_bucket{le="0.1"} 3
pg_exporter_scrape_seconds_bucket{le="+Inf"} 4
pg_exporter_scrape_seconds_sum 0.31
pg_exporter_scrape_seconds_count 4
node:pg_load:ratio{instance="a:b"} 0.5
"#;

const LATEST_PAGE: &str = "postgres_latest_version{version=\"12.1.0\"} 1\n";

/// docs/wrap.md's rules file, pointed at this test's servers.
fn readme_rules(postgres: u16, latest: u16) -> String {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/wrap.md")).unwrap();
    let section = readme
        .split("# Wrap other exporters")
        .nth(1)
        .expect("docs/wrap.md has the section");
    let toml = section
        .split("```toml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    assert!(toml.contains("127.0.0.1:9187") && toml.contains("127.0.0.1:9999"));
    toml.replace("127.0.0.1:9187", &format!("127.0.0.1:{postgres}"))
        .replace("127.0.0.1:9999", &format!("127.0.0.1:{latest}"))
}

fn wrap_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("planet_postgres") || family_of(l) == schema::WRAP_UP.name)
        .collect()
}

#[test]
fn the_readme_example_reshapes_postgres_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("wrap.toml");
    fs::write(
        &rules,
        readme_rules(serve(POSTGRES_PAGE), serve(LATEST_PAGE)),
    )
    .unwrap();
    let text = collect_stdout(&["--wrap", rules.to_str().unwrap()]);
    assert_eq!(
        wrap_lines(&text),
        [
            "planet_postgres_app_backends{datname=\"app\",team=\"db\"} 7",
            "planet_postgres_version_update{current=\"11.5.0\",latest=\"12.1.0\"} 1",
            "planet_wrap_up{source=\"latest\"} 1",
            "planet_wrap_up{source=\"postgres\"} 1",
        ]
    );
    assert!(text.contains("planet_collector_success{collector=\"wrap\"} 1\n"));
    assert!(!samples(&text, schema::BUILD_INFO.name).is_empty());

    // `planet wrap check` prints the same families.
    let check = planet(["wrap", "check"]).arg(&rules).output().unwrap();
    assert_success(&check);
    assert_eq!(
        wrap_lines(&String::from_utf8(check.stdout).unwrap()),
        wrap_lines(&text)
    );
}

#[test]
fn a_source_that_is_down_is_wrap_up_zero_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("wrap.toml");
    let closed = free_port();
    fs::write(&rules, readme_rules(serve(POSTGRES_PAGE), closed)).unwrap();
    let (_listener, port) = loopback_listener();
    let output = planet(["collect", "--stdout", "--no-resolve", "--wrap"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    // Said once, on the line of the source in the rules file.
    let latest = readme_rules(1, 2)
        .lines()
        .position(|l| l.contains("name = \"latest\""))
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "planet: warning: wrap source at line {latest} is down: http://127.0.0.1:{closed}/"
        )) && stderr.lines().count() == 1,
        "{stderr}"
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        wrap_lines(&text),
        [
            "planet_postgres_app_backends{datname=\"app\",team=\"db\"} 7",
            "planet_wrap_up{source=\"latest\"} 0",
            "planet_wrap_up{source=\"postgres\"} 1",
        ]
    );
    assert_eq!(
        samples_on_ports(&text, schema::SERVING.name, &[port]).len(),
        1,
        "other collectors still write"
    );

    let check = planet(["wrap", "check"]).arg(&rules).output().unwrap();
    assert_eq!(check.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.starts_with(&format!(
            "planet: warning: wrap source at line {latest} is down: http://127.0.0.1:{closed}/"
        )),
        "{stderr}"
    );
}

/// A misspelled metric name in `select` is said, not silently empty.
#[test]
fn wrap_check_says_which_rule_matches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("wrap.toml");
    let text = readme_rules(serve(POSTGRES_PAGE), serve(LATEST_PAGE))
        .replace("select = \"pg_static\"", "select = \"pg_statc\"");
    let line = text
        .lines()
        .position(|l| l.contains("pg_statc"))
        .map(|select| {
            // The rule starts at its [[rule]] header, above `select`.
            text.lines()
                .take(select)
                .filter(|l| l.starts_with("[[rule]]"))
                .count()
        })
        .unwrap();
    assert_eq!(line, 1, "the first rule is the one misspelled");
    let header = text
        .lines()
        .position(|l| l.starts_with("[[rule]]"))
        .unwrap()
        + 1;
    fs::write(&rules, text).unwrap();
    let check = planet(["wrap", "check"]).arg(&rules).output().unwrap();
    assert_eq!(check.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&check.stderr),
        format!(
            "planet: warning: wrap rule at line {header}: select matches no sample of its source\n"
        )
    );
}

#[test]
fn a_bad_rules_file_fails_the_run_naming_rule_and_line() {
    let env = TestEnv::new();
    fs::write(env.output_file(), "# previous\n").unwrap();
    let rules = env.state_dir().join("wrap.toml");
    let mut text = readme_rules(9187, 9999);
    text.push_str(
        "\n[[rule]]\nname = \"mine\"\nsource = \"pg\"\nselect = \"x\"\nmetric = \"planet_mine\"\n",
    );
    let line = text.lines().count() - 4;
    fs::write(&rules, &text).unwrap();
    for command in [
        env.collect().arg("--wrap").arg(&rules).output().unwrap(),
        planet(["wrap", "check"]).arg(&rules).output().unwrap(),
    ] {
        assert_eq!(
            assert_error_naming(&command, &rules),
            format!(
                "planet: {}: rule at line {line}: names an unknown source\n",
                rules.display()
            )
        );
    }
    assert_eq!(
        fs::read_to_string(env.output_file()).unwrap(),
        "# previous\n"
    );
    assert_eq!(list_dir(env.out()), ["planet.prom"]);
}
