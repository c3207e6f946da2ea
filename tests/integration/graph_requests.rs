//! `planet graph --prometheus` against servers of the test's own that
//! record what planet sends and answer as a test needs: every query's
//! path, headers and credentials, and answers that are errors (a
//! redirect, a refusal). Every byte stays on 127.0.0.1.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::graph_store::{agent, graph, one_error, run, PASSWORD_IN_URL};
use crate::testenv::*;

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

/// Answers are read as they arrive, several queries at a time; whatever
/// the timing, the error is the first failed query's in the order
/// docs/graph.md lists them, and an answer cut short, or of another type,
/// is an error naming what it was.
#[test]
fn of_several_failed_queries_the_first_is_named() {
    let answer = |query: &'static str, body: &'static str| {
        move |head: &str| match head.contains(query) {
            true => ("200 OK", String::new(), body.to_string()),
            false => one_host(head),
        }
    };
    let cut = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"h:9100"},"val"#;
    // planet_upstream comes before the byte rates in the list, and fails
    // after them.
    let (port, _) = recorder(move |head: &str| {
        if head.contains("query=planet_upstream&") {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let body = r#"{"status":"error","errorType":"execution","error":"upstream broke"}"#;
            return ("200 OK", String::new(), body.to_string());
        }
        answer("planet_upstream_bytes_total", cut)(head)
    });
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..5 {
        assert_eq!(
            one_error(&run(graph(&["--prometheus", &url]))),
            format!("planet: {url}: query planet_upstream: upstream broke\n")
        );
    }

    let (port, _) = recorder(answer("planet_upstream_bytes_total", cut));
    let url = format!("http://127.0.0.1:{port}");
    let line = one_error(&run(graph(&["--prometheus", &url])));
    assert!(
        line.starts_with(&format!(
            "planet: {url}: not a Prometheus API answer (EOF while parsing"
        )),
        "{line}"
    );

    let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}"#;
    let (port, _) = recorder(answer("query=planet_serving&", matrix));
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(
        one_error(&run(graph(&["--prometheus", &url]))),
        format!("planet: {url}: query planet_serving: a matrix answer\n")
    );
}
