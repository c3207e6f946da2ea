//! `planet graph --prometheus` reaching a real store: a Prometheus behind
//! TLS and basic auth (its CA and certificate made with openssl, the
//! password hashed with htpasswd), servers of the test's own that record
//! what planet sends and answer as a test needs, and a recording proxy.
//! Every byte stays on 127.0.0.1.

use std::borrow::BorrowMut;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::graph::shape;
use crate::testenv::*;

/// Every variable that may choose a proxy, in either case.
const PROXY_VARIABLES: [&str; 8] = [
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
const PASSWORD_IN_URL: &str = "s3cret%3Ap%40ss";

/// `planet graph ARGS`, no proxy or CA setting taken from the test's own
/// environment.
fn graph(args: &[&str]) -> Command {
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
fn run(mut command: impl BorrowMut<Command>) -> Output {
    let command = command.borrow_mut().stdin(Stdio::null());
    command.output().expect("run planet")
}

/// A failed run: exit 1, and one stderr line, returned.
fn one_error(output: &Output) -> String {
    let stderr = stderr_of(output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

/// What a server of the test's own was asked: each request's head (the
/// request line and the header lines).
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<String>>>);

impl Heard {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn push(&self, head: &str) {
        self.0.lock().unwrap().push(head.to_string());
    }
}

/// The values of header `name` in a request's head, in order.
fn header<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    (head.lines().skip(1))
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
        .collect()
}

/// Reads a request's head, up to the blank line.
fn read_head(reader: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.trim_end().is_empty() {
            return Some(head);
        }
        head.push_str(&line);
    }
}

/// An answer: the status (`200 OK`), more header lines, the body.
type Answer = (&'static str, String, String);

/// A server on a loopback port, until the test ends: it records each
/// request's head and answers it with `answer(head)`.
fn recorder(answer: impl Fn(&str) -> Answer + Send + 'static) -> (u16, Heard) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let heard = Heard::default();
    let record = heard.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Some(head) = read_head(&mut BufReader::new(&stream)) else {
                continue;
            };
            record.push(&head);
            let (status, headers, body) = answer(&head);
            let _ = write!(
                &stream,
                "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, heard)
}

/// The Prometheus API's answer to an instant query, for a store of one
/// host that has nothing but `planet_host_info`.
fn one_host(head: &str) -> Answer {
    let result = match head.contains("query=planet_host_info&") {
        true => {
            r#"[{"metric":{"__name__":"planet_host_info","instance":"h:9100","hostname":"h"},"value":[1,"1"]}]"#
        }
        false => "[]",
    };
    let body =
        format!(r#"{{"status":"success","data":{{"resultType":"vector","result":{result}}}}}"#);
    ("200 OK", String::new(), body)
}

/// An HTTP proxy on a loopback port, until the test ends: it records each
/// request's head and serves it, opening a tunnel for CONNECT and fetching
/// an absolute `http://127.0.0.1:PORT/...` URL. Nothing else is reached.
fn proxy() -> (u16, Heard) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let heard = Heard::default();
    let record = heard.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let record = record.clone();
            std::thread::spawn(move || proxied(client, &record));
        }
    });
    (port, heard)
}

fn proxied(client: TcpStream, heard: &Heard) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let Some(head) = read_head(&mut reader) else {
        return;
    };
    heard.push(&head);
    let line = head.lines().next().unwrap_or_default();
    let mut words = line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method == "CONNECT" {
        let upstream = match target.strip_prefix("127.0.0.1:") {
            Some(_) => TcpStream::connect(target).ok(),
            None => None,
        };
        let Some(upstream) = upstream else {
            let _ = (&client).write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n");
            return;
        };
        let _ = (&client).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        let (mut down, mut up) = (upstream.try_clone().unwrap(), upstream);
        let back = std::thread::spawn(move || {
            let _ = std::io::copy(&mut down, &mut &client);
            let _ = client.shutdown(Shutdown::Write);
        });
        let _ = std::io::copy(&mut reader, &mut up);
        let _ = up.shutdown(Shutdown::Write);
        let _ = back.join();
        return;
    }
    let Some((port, path)) = (target.strip_prefix("http://127.0.0.1:"))
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(port, path)| Some((port.parse::<u16>().ok()?, path)))
    else {
        let _ = (&client).write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let mut request = format!("{method} /{path} HTTP/1.1\r\n");
    for line in head.lines().skip(1) {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if !["proxy-authorization", "connection", "proxy-connection"].contains(&name.as_str()) {
            request.push_str(&format!("{line}\r\n"));
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    let _ = upstream.write_all(request.as_bytes());
    let _ = std::io::copy(&mut upstream, &mut &client);
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

/// `planet/<version>`.
fn agent() -> String {
    format!("planet/{}", env!("CARGO_PKG_VERSION"))
}

/// Every query goes under the URL's path prefix and carries the
/// User-Agent, each `--header`, and the credentials: a bearer token from
/// its file (trimmed), or basic from the URL's userinfo (percent-decoded)
/// or a file; a `--header` of the same name replaces planet's own.
#[test]
fn every_query_carries_the_prefix_agent_headers_and_credentials() {
    let (port, heard) = recorder(one_host);
    let dir = tempfile::tempdir().unwrap();
    let token = write_file(dir.path(), "token", b"  tok-123.secret\n");
    let url = format!("http://127.0.0.1:{port}/mimir/prometheus/");
    let output = run(graph(&[
        "--prometheus",
        &url,
        "--header",
        "X-Scope-OrgID: tenant-1",
        "--header",
        "X-Extra:a: b",
        "--bearer-token-file",
        token.to_str().unwrap(),
    ]));
    assert_success(&output);
    let heads = heard.all();
    assert_eq!(heads.len(), 12, "one instant query per family: {heads:?}");
    for head in &heads {
        let line = head.lines().next().unwrap();
        assert!(
            line.starts_with("GET /mimir/prometheus/api/v1/query?query=")
                && line.contains("&time=")
                && line.ends_with(" HTTP/1.1"),
            "{line}"
        );
        assert_eq!(header(head, "user-agent"), [agent()], "{head}");
        assert_eq!(header(head, "x-scope-orgid"), ["tenant-1"], "{head}");
        assert_eq!(header(head, "x-extra"), ["a: b"], "{head}");
        assert_eq!(
            header(head, "authorization"),
            ["Bearer tok-123.secret"],
            "{head}"
        );
        assert_eq!(
            header(head, "host"),
            [format!("127.0.0.1:{port}")],
            "{head}"
        );
    }

    let basic = |user_password: &str| format!("Basic {}", BASE64.encode(user_password));
    let userinfo = format!("http://us%40er:p%3Ass@127.0.0.1:{port}");
    let pair = write_file(dir.path(), "basic", b"user:pass:word\n");
    let runs: [(Vec<&str>, String); 3] = [
        (vec!["--prometheus", &userinfo], basic("us@er:p:ss")),
        (
            vec![
                "--prometheus",
                &url,
                "--basic-auth-file",
                pair.to_str().unwrap(),
            ],
            basic("user:pass:word"),
        ),
        (
            vec![
                "--prometheus",
                &userinfo,
                "--header",
                "Authorization: Token x",
            ],
            "Token x".to_string(),
        ),
    ];
    for (args, expected) in runs {
        let before = heard.count();
        assert_success(&run(graph(&args)));
        for head in &heard.all()[before..] {
            assert_eq!(
                header(head, "authorization"),
                [expected.as_str()],
                "{args:?}"
            );
        }
    }

    // A credential file that is not one: the path named, never its bytes.
    let empty = write_file(dir.path(), "empty", b" \n");
    let output = run(graph(&["--prometheus", &url, "--bearer-token-file"]).arg(&empty));
    assert_eq!(
        one_error(&output),
        format!(
            "planet: {}: not a bearer token (empty, or not printable ASCII)\n",
            empty.display()
        )
    );
    let no_colon = write_file(dir.path(), "nocolon", b"justsecret\n");
    let output = run(graph(&["--prometheus", &url, "--basic-auth-file"]).arg(&no_colon));
    let line = one_error(&output);
    assert!(
        line.contains("not user:password") && !line.contains("justsecret"),
        "{line}"
    );
}

/// A non-2xx answer is an error naming its status, never read as an
/// answer; a redirect is not followed.
#[test]
fn redirects_and_refusals_are_errors_naming_the_status() {
    let (elsewhere, followed) = recorder(one_host);
    let (port, _) = recorder(move |_| {
        let to = format!("Location: http://127.0.0.1:{elsewhere}/\r\n");
        ("302 Found", to, one_host("query=planet_host_info&").2)
    });
    let url = format!("http://127.0.0.1:{port}");
    let line = one_error(&run(graph(&["--prometheus", &url])));
    assert_eq!(
        line,
        format!("planet: {url}: HTTP 302 Found: a redirect to http://127.0.0.1:{elsewhere}/, not followed (give the URL it names)\n")
    );
    assert!(followed.all().is_empty(), "the redirect was followed");

    // The body is a valid answer: still an error.
    let (port, _) = recorder(|head| ("500 Internal Server Error", String::new(), one_host(head).2));
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(
        one_error(&run(graph(&["--prometheus", &url]))),
        format!("planet: {url}: HTTP 500 Internal Server Error\n")
    );

    // Prometheus' own reason, when it gives one.
    let (port, _) = recorder(|_| {
        let body = r#"{"status":"error","errorType":"timeout","error":"query timed out"}"#;
        ("503 Service Unavailable", String::new(), body.to_string())
    });
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(
        one_error(&run(graph(&["--prometheus", &url]))),
        format!("planet: {url}: HTTP 503 Service Unavailable: query timed out\n")
    );

    let (port, _) = recorder(|_| ("401 Unauthorized", String::new(), String::new()));
    let url = format!("http://planet:{PASSWORD_IN_URL}@127.0.0.1:{port}/prefix");
    let output = run(graph(&["--prometheus", &url]));
    assert_eq!(
        one_error(&output),
        format!("planet: http://***@127.0.0.1:{port}/prefix: HTTP 401 Unauthorized\n")
    );
    assert!(!stderr_of(&output).contains("s3cret"));
}

/// Which proxy an `http://` store is asked through, or none, as curl
/// chooses (curl itself is the oracle, with the same variables): only
/// lower-case `http_proxy`, then `all_proxy`/`ALL_PROXY`; `no_proxy`, else
/// `NO_PROXY`, lists hosts, domains and addresses to reach directly.
/// Through the proxy the request names the absolute URL, as curl's does.
#[test]
fn proxies_are_chosen_as_curl_chooses_them() {
    let curl = tool("curl", "curl");
    let (store, _) = recorder(one_host);
    let (proxy_port, heard) = proxy();
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let url = format!("http://127.0.0.1:{store}");
    let p = proxy.as_str();
    let cases: [(&[(&str, &str)], bool); 12] = [
        (&[("http_proxy", p)], true),
        (&[("HTTP_PROXY", p)], false),
        (&[("https_proxy", p), ("HTTPS_PROXY", p)], false),
        (&[("all_proxy", p)], true),
        (&[("ALL_PROXY", p)], true),
        (&[("http_proxy", ""), ("ALL_PROXY", p)], true),
        (&[("http_proxy", p), ("NO_PROXY", "127.0.0.1")], false),
        (
            &[("http_proxy", p), ("no_proxy", "example.com, 127.0.0.0/8")],
            false,
        ),
        (&[("http_proxy", p), ("NO_PROXY", "localhost")], true),
        (&[("http_proxy", p), ("NO_PROXY", "*")], false),
        (
            &[
                ("http_proxy", p),
                ("no_proxy", "127.0.0.2"),
                ("NO_PROXY", "*"),
            ],
            true,
        ),
        (
            &[
                ("http_proxy", p),
                ("no_proxy", ""),
                ("NO_PROXY", "127.0.0.1"),
            ],
            false,
        ),
    ];
    for (variables, through) in cases {
        let before = heard.count();
        let output = run(graph(&["--prometheus", &url]).envs(variables.iter().copied()));
        assert_success(&output);
        let heads = &heard.all()[before..];
        assert_eq!(!heads.is_empty(), through, "planet with {variables:?}");
        for head in heads {
            let line = head.lines().next().unwrap();
            let absolute = format!("GET {url}/api/v1/query?query=");
            assert!(line.starts_with(&absolute), "{line}");
        }
        if let Some(curl) = &curl {
            let before = heard.count();
            let mut command = Command::new(curl);
            command.args(["-sS", "-o", "/dev/null", "-m", "10"]);
            command.arg(format!("{url}/api/v1/query?query=planet_host_info&time=1"));
            for variable in PROXY_VARIABLES {
                command.env_remove(variable);
            }
            let status = command.envs(variables.iter().copied()).status().unwrap();
            assert!(status.success(), "curl with {variables:?}");
            let curl_through = heard.count() > before;
            assert_eq!(curl_through, through, "curl with {variables:?}");
        }
    }

    // The proxy's credentials, percent-decoded, go to the proxy alone.
    let with_user = format!("http://pu:pp%40x@127.0.0.1:{proxy_port}");
    let before = heard.count();
    let output = run(graph(&["--prometheus", &url]).env("http_proxy", &with_user));
    assert_success(&output);
    let expected = format!("Basic {}", BASE64.encode("pu:pp@x"));
    for head in &heard.all()[before..] {
        assert_eq!(
            header(head, "proxy-authorization"),
            [expected.as_str()],
            "{head}"
        );
    }

    // A proxy planet does not speak to, and one that does not answer.
    let output =
        run(graph(&["--prometheus", &url]).env("http_proxy", "socks5://u:hidden@127.0.0.1:1"));
    assert_eq!(
        one_error(&output),
        format!("planet: {url}: the proxy in http_proxy: a socks5:// proxy; planet speaks to http:// proxies only\n")
    );
    let closed = free_port();
    let output =
        run(graph(&["--prometheus", &url]).env("ALL_PROXY", format!("127.0.0.1:{closed}")));
    let line = one_error(&output);
    assert!(
        line.ends_with("(through the proxy in ALL_PROXY)\n"),
        "{line}"
    );
}
