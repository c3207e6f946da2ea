//! `planet graph --prometheus` through an HTTP proxy of the test's own,
//! which records what it is asked: which proxy planet takes, as curl
//! would, and what it tells a proxy. Every byte stays on 127.0.0.1.

use std::process::Command;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::graph_store::{graph, one_error, run, PROXY_VARIABLES};
use crate::testenv::*;

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
