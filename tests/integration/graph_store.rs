//! `planet graph --prometheus` reaching a real store: a Prometheus behind
//! TLS and basic auth (its CA and certificate made with openssl, the
//! password hashed with htpasswd), through a recording proxy's tunnel too.
//! Every byte stays on 127.0.0.1. What planet sends and how it reads a
//! store's answers are in `graph_requests.rs`, which proxy it takes in
//! `graph_proxy.rs`; both use the helpers here.

use std::borrow::BorrowMut;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::graph::shape;
use crate::testenv::*;

/// Every variable that may choose a proxy, in either case.
pub const PROXY_VARIABLES: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// The password of the store's user, `:` and `@` in it as in the URL's
/// percent-encoding: it must never be printed.
const PASSWORD: &str = "s3cret:p@ss";
pub const PASSWORD_IN_URL: &str = "s3cret%3Ap%40ss";

/// `planet graph ARGS`, no proxy or CA setting taken from the test's own
/// environment.
pub fn graph(args: &[&str]) -> Command {
    let mut command = planet(["graph"]);
    command.args(args);
    for variable in PROXY_VARIABLES
        .iter()
        .chain(&["SSL_CERT_FILE", "SSL_CERT_DIR"])
    {
        command.env_remove(variable);
    }
    command
}

/// Runs a command to its end (planet's own timeout bounds each query).
pub fn run(mut command: impl BorrowMut<Command>) -> Output {
    let command = command.borrow_mut().stdin(Stdio::null());
    command.output().expect("run planet")
}

/// `planet/<version>`.
pub fn agent() -> String {
    format!("planet/{}", env!("CARGO_PKG_VERSION"))
}

/// A failed run: exit 1, and one stderr line, returned.
pub fn one_error(output: &Output) -> String {
    let stderr = stderr_of(output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

/// A test's tools, or a skip (a failure under PLANET_REQUIRE_TOOLS=1).
struct Tools {
    openssl: PathBuf,
    htpasswd: PathBuf,
}

fn tools() -> Option<Tools> {
    Some(Tools {
        openssl: tool("openssl", "openssl")?,
        htpasswd: tool("htpasswd", "apache2-utils")?,
    })
}

fn ok(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        stderr_of(&output)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// In `dir`: a CA (`ca.pem`) and the certificate it signed for 127.0.0.1
/// (`server.pem`, `server.key`), and another CA (`other-ca.pem`) that
/// signed nothing here.
fn certificates(openssl: &Path, dir: &Path) {
    let openssl = |args: &[&str]| ok(Command::new(openssl).current_dir(dir).args(args));
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for (name, subject) in [("ca", "/CN=planet test CA"), ("other-ca", "/CN=another CA")] {
        let (out, keyout) = (format!("{name}.pem"), format!("{name}.key"));
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", subject];
        args.extend(key);
        args.extend(["-keyout", &keyout, "-out", &out]);
        openssl(&args);
    }
    let mut args = vec!["req", "-subj", "/CN=127.0.0.1", "-keyout", "server.key"];
    args.extend(key);
    args.extend(["-out", "server.csr"]);
    openssl(&args);
    write_file(
        dir,
        "server.ext",
        b"subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n",
    );
    openssl(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
}

/// A Prometheus on a loopback port serving only over TLS (the certificate
/// for 127.0.0.1 that `dir/ca.pem` signed) to user `planet` with
/// [`PASSWORD`], scraping `page` from a server of the test's every second.
/// None (a skip) when Prometheus is not installed.
fn secure_prometheus(tools: &Tools, dir: &Path, page: &'static str) -> Option<Prometheus> {
    certificates(&tools.openssl, dir);
    let hashed = ok(Command::new(&tools.htpasswd).args(["-nbBC", "4", "planet", PASSWORD]));
    let hash = (hashed
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("planet:")))
    .expect("htpasswd printed planet:HASH");
    let web = format!(
        "tls_server_config:\n  cert_file: {dir}/server.pem\n  key_file: {dir}/server.key\nbasic_auth_users:\n  planet: '{hash}'\n",
        dir = dir.display()
    );
    let web = write_file(dir, "web.yml", web.as_bytes());
    let target = format!("127.0.0.1:{}", serve(page));
    Prometheus::scraping_behind(&[target], &web)
}

/// A Prometheus that answers only over TLS and only to its user: the graph
/// is drawn with its CA (`--ca-file`, or the system's store through
/// SSL_CERT_FILE) and the password (in the URL, or `--basic-auth-file`),
/// through an HTTPS_PROXY's CONNECT tunnel too; without credentials it is
/// one line naming HTTP 401, with another CA one naming the certificate,
/// and no run prints the password.
#[test]
fn a_prometheus_behind_tls_and_basic_auth() {
    let Some(tools) = tools() else {
        return;
    };
    // The page of a host of the test's own (a network namespace) with one
    // loopback connection open in it.
    let Some(page) = in_own_netns(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _accepted = listener.accept().unwrap();
        collect_stdout(&[])
    }) else {
        return;
    };
    let page: &'static str = Box::leak(page.into_boxed_str());
    let dir = tempfile::tempdir().unwrap();
    let Some(prometheus) = secure_prometheus(&tools, dir.path(), page) else {
        return;
    };
    let port = prometheus.port();
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let plain = format!("https://127.0.0.1:{port}");
    let with_password = format!("https://planet:{PASSWORD_IN_URL}@127.0.0.1:{port}");
    let mut outputs = Vec::new();

    let mut drawn = Vec::new();
    let scraped = wait_for(Duration::from_secs(60), || {
        let output = run(graph(&["--prometheus", &with_password, "--ca-file", ca]));
        drawn = output.stdout.clone();
        let done = output.status.success();
        outputs.push(output);
        if !done {
            std::thread::sleep(Duration::from_millis(200));
        }
        done
    });
    let last = outputs.last().unwrap();
    assert!(scraped, "no graph from Prometheus: {}", stderr_of(last));
    assert_success(last);
    let files = write_file(dir.path(), "page.prom", page.as_bytes());
    let output = run(graph(&["--files", files.to_str().unwrap()]));
    assert_success(&output);
    let (nodes, edges) = shape(&drawn);
    assert!(!edges.is_empty(), "{nodes:?}");
    assert_eq!(
        (nodes, edges),
        shape(&output.stdout),
        "Prometheus and the file differ"
    );

    // The password in a file instead of the URL.
    let pair = write_file(
        dir.path(),
        "basic",
        format!("planet:{PASSWORD}\n").as_bytes(),
    );
    let basic = ["--basic-auth-file", pair.to_str().unwrap()];
    let output = run(graph(&["--prometheus", &plain, "--ca-file", ca]).args(basic));
    assert_success(&output);
    assert_eq!(shape(&output.stdout), shape(&drawn));
    outputs.push(output);

    // The system's store: rustls-native-certs reads SSL_CERT_FILE as
    // OpenSSL does.
    let output = run(graph(&["--prometheus", &with_password]).env("SSL_CERT_FILE", ca));
    assert_success(&output);
    outputs.push(output);

    // No credentials, or the wrong ones: HTTP 401, the userinfo starred.
    let output = run(graph(&["--prometheus", &plain, "--ca-file", ca]));
    assert_eq!(
        one_error(&output),
        format!("planet: {plain}: HTTP 401 Unauthorized\n")
    );
    outputs.push(output);
    let wrong = format!("https://planet:wr0ng@127.0.0.1:{port}/");
    let output = run(graph(&["--prometheus", &wrong, "--ca-file", ca]));
    assert_eq!(
        one_error(&output),
        format!("planet: https://***@127.0.0.1:{port}: HTTP 401 Unauthorized\n")
    );
    assert!(!stderr_of(&output).contains("wr0ng"));
    outputs.push(output);

    // A CA that did not sign the certificate, or the system's alone.
    let other = dir.path().join("other-ca.pem");
    for extra in [vec!["--ca-file", other.to_str().unwrap()], vec![]] {
        let output = run(graph(&["--prometheus", &with_password]).args(&extra));
        let line = one_error(&output);
        let start = format!("planet: https://***@127.0.0.1:{port}: ");
        assert!(line.starts_with(&start), "{line}");
        assert!(line.contains("certificate"), "{line}");
        outputs.push(output);
    }

    // Through a proxy: https takes HTTPS_PROXY's CONNECT tunnel; neither
    // http_proxy nor a NO_PROXY that names the host lead there.
    let (proxy_port, heard) = proxy();
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let output =
        run(graph(&["--prometheus", &with_password, "--ca-file", ca]).env("HTTPS_PROXY", &proxy));
    assert_success(&output);
    assert_eq!(shape(&output.stdout), shape(&drawn));
    outputs.push(output);
    let tunnels = heard.all();
    assert!(!tunnels.is_empty());
    for head in &tunnels {
        assert!(
            head.starts_with(&format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n")),
            "{head}"
        );
        assert_eq!(header(head, "user-agent"), [agent()], "{head}");
    }
    for (variable, value) in [("http_proxy", proxy.as_str()), ("NO_PROXY", "127.0.0.1")] {
        let output = run(graph(&["--prometheus", &with_password, "--ca-file", ca])
            .env(
                "HTTPS_PROXY",
                if variable == "NO_PROXY" { &proxy } else { "" },
            )
            .env(variable, value));
        assert_success(&output);
        outputs.push(output);
    }
    assert_eq!(heard.count(), tunnels.len(), "{:?}", heard.all());

    let encoded = BASE64.encode(format!("planet:{PASSWORD}"));
    for output in &outputs {
        for text in [
            stderr_of(output),
            String::from_utf8_lossy(&output.stdout).into(),
        ] {
            for secret in ["s3cret", PASSWORD_IN_URL, encoded.as_str()] {
                assert!(!text.contains(secret), "{secret} printed: {text}");
            }
        }
    }
}
