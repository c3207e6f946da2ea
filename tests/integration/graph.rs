//! `planet graph`: a fleet on one machine. Hosts are network namespaces on
//! a bridge (192.0.2.0/24), each with a hostname of its own and its own
//! planet run: `db` serves, `app` serves and calls `db`, `client` calls
//! `app`; a fourth namespace calls `app` and runs no planet. Here the graph
//! is read from the hosts' files; `graph_prometheus.rs` reads the same
//! fleet through Prometheus.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::testenv::containers::{Bridge, Container, Runtime};
use crate::testenv::*;

/// planet run inside `host`'s namespace, as that host with hostname
/// `name` (a UTS namespace of its own): the file it writes.
pub fn host_file(host: &Container, name: &str, dir: &Path) -> PathBuf {
    let output = Command::new(which("ip").unwrap())
        .args(["netns", "exec", &host.netns, "unshare", "--uts", "sh", "-c"])
        .arg(format!(
            "hostname {name} && exec \"$0\" collect --stdout --netns own --no-resolve"
        ))
        .arg(PLANET)
        .output()
        .unwrap();
    assert_success(&output);
    let path = dir.join(format!("{name}.prom"));
    std::fs::write(&path, output.stdout).unwrap();
    path
}

/// A connection from `client` to `server`'s address on `listener`, moving
/// `out` bytes there and `back` bytes back.
fn call(
    client: &Container,
    server: &Container,
    listener: &TcpListener,
    out: usize,
    back: usize,
) -> (TcpStream, TcpStream) {
    let port = port_of(listener.local_addr());
    let mut stream = client.inside(|| TcpStream::connect((server.v4.as_str(), port)).unwrap());
    let (mut accepted, _) = listener.accept().unwrap();
    transfer(&mut stream, &mut accepted, out, back);
    (stream, accepted)
}

/// `planet graph ARGS`, which must succeed silently: what it drew.
pub fn graph(args: &[&str]) -> Vec<u8> {
    stdout_ok(planet(["graph"]).args(args)).into_bytes()
}

/// The node ids and (edge id, connections) of a JSON graph: what a graph
/// from a store and one from the files it was fed must share.
pub fn shape(json: &[u8]) -> (Vec<String>, Vec<(String, f64)>) {
    let json: serde_json::Value = serde_json::from_slice(json).unwrap();
    let id = |item: &serde_json::Value| item["id"].as_str().unwrap().to_string();
    let nodes = json["nodes"].as_array().unwrap().iter().map(id).collect();
    let edges = (json["edges"].as_array().unwrap().iter())
        .map(|e| (id(e), e["detail__connections"].as_f64().unwrap()))
        .collect();
    (nodes, edges)
}

/// The fleet, its processes holding their sockets: `db` (postgres serving
/// 5432), `app` (web serving 8080 and calling db), `client` (curl calling
/// app), and a fourth namespace (bot calling app) that runs no planet.
pub fn fleet() -> Option<Bridge> {
    let mut bridge = Bridge::with(&[Runtime::Host; 4])?;
    let (db, app, client, bot) = {
        let [a, b, c, d] = &bridge.containers[..] else {
            unreachable!()
        };
        let listen =
            |host: &Container, port| host.inside(|| TcpListener::bind(("0.0.0.0", port)).unwrap());
        let (pg, web) = (listen(a, 5432), listen(b, 8080));
        let query = call(b, a, &pg, 3_000, 70_000);
        let page = call(c, b, &web, 500, 20_000);
        let crawl = call(d, b, &web, 111, 2_222);
        (
            (pg, query.1),
            (web, query.0, page.1, crawl.1),
            page.0,
            crawl.0,
        )
    };
    let hosts = &mut bridge.containers;
    hosts[0].hold("postgres", &[db.0.as_raw_fd(), db.1.as_raw_fd()]);
    let web = [
        app.0.as_raw_fd(),
        app.1.as_raw_fd(),
        app.2.as_raw_fd(),
        app.3.as_raw_fd(),
    ];
    hosts[1].hold("web", &web);
    hosts[2].hold("curl", &[client.as_raw_fd()]);
    hosts[3].hold("bot", &[bot.as_raw_fd()]);
    Some(bridge)
}

/// The three planet hosts' files join into one graph: each service a
/// node, each call between them one edge counted once, the host without
/// planet an external node. The graph is drawn the same in every format,
/// each a valid one, and the HTML page renders without fetching anything.
#[test]
fn hosts_join_into_one_graph_drawn_in_every_format() {
    in_own_netns(|| {
        let Some(bridge) = fleet() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = ["db", "app", "client"]
            .iter()
            .enumerate()
            .map(|(i, name)| host_file(&bridge.containers[i], name, dir.path()))
            .collect();
        let mut args: Vec<&str> = vec!["--files"];
        args.extend(files.iter().map(|p| p.to_str().unwrap()));

        the_graph_has_each_service_once_and_each_call_once(&args, &bridge.containers[3].v4);
        every_format_gives_the_same_bytes_twice(&args);
        the_dot_is_what_graphviz_draws(&args);
        the_mermaid_is_a_flowchart(&args);
        the_html_page_fetches_nothing_and_renders(&args, dir.path());
    });
}

/// `args` and `--format FORMAT`.
fn in_format<'a>(args: &[&'a str], format: &'a str) -> Vec<&'a str> {
    let mut with = args.to_vec();
    with.extend(["--format", format]);
    with
}

/// Step 1: the JSON graph has a node per service and one for the bot's
/// address (`bot_addr`), which runs no planet; an edge per call, counted
/// once when both ends saw it, with its connections, bytes and port.
fn the_graph_has_each_service_once_and_each_call_once(args: &[&str], bot_addr: &str) {
    let json: serde_json::Value = serde_json::from_slice(&graph(args)).unwrap();
    let nodes: Vec<&str> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        nodes,
        [
            format!("ext:{bot_addr}").as_str(),
            "svc:app//web",
            "svc:client//curl",
            "svc:db//postgres"
        ]
    );
    let edges: BTreeMap<&str, (f64, f64, f64, u64)> = json["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let number = |field: &str| e[field].as_f64().unwrap();
            (
                e["id"].as_str().unwrap(),
                (
                    number("detail__connections"),
                    number("detail__bytes_out"),
                    number("detail__bytes_in"),
                    e["detail__port"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    let bot_edge = format!("ext:{bot_addr}->svc:app//web:8080");
    assert_eq!(
        edges,
        BTreeMap::from([
            // Seen by app only: the bot runs no planet.
            (bot_edge.as_str(), (1.0, 111.0, 2_222.0, 8080)),
            // Seen by both ends, counted once.
            (
                "svc:app//web->svc:db//postgres:5432",
                (1.0, 3_000.0, 70_000.0, 5432)
            ),
            (
                "svc:client//curl->svc:app//web:8080",
                (1.0, 500.0, 20_000.0, 8080)
            ),
        ])
    );
    let app_node = &json["nodes"][1];
    assert_eq!(
        (
            &app_node["detail__kind"],
            &app_node["detail__host"],
            &app_node["detail__process"]
        ),
        (&"service".into(), &"app".into(), &"web".into())
    );
}

/// Step 2: every format, drawn twice, gives the same bytes.
fn every_format_gives_the_same_bytes_twice(args: &[&str]) {
    for format in ["json", "dot", "mermaid", "html"] {
        let with = in_format(args, format);
        assert_eq!(graph(&with), graph(&with), "{format} is not deterministic");
    }
}

/// Step 3: Graphviz draws the dot format without a word of complaint.
fn the_dot_is_what_graphviz_draws(args: &[&str]) {
    assert_graphviz_draws(&graph(&in_format(args, "dot")));
}

/// Step 4: the mermaid format is a left-to-right flowchart with labelled
/// edges.
fn the_mermaid_is_a_flowchart(args: &[&str]) {
    let mermaid = String::from_utf8(graph(&in_format(args, "mermaid"))).unwrap();
    assert!(
        mermaid.starts_with("flowchart LR\n") && mermaid.contains("-->|"),
        "{mermaid}"
    );
}

/// Step 5: `--format html -o FILE` writes the page, not stdout; the page
/// fetches nothing from anywhere, and a browser renders more than a blank
/// canvas of it. (scripts/regen-docs keeps the picture for the README.)
fn the_html_page_fetches_nothing_and_renders(args: &[&str], dir: &Path) {
    let page = dir.join("fleet.html");
    let mut html_args = in_format(args, "html");
    html_args.extend(["-o", page.to_str().unwrap()]);
    assert!(
        graph(&html_args).is_empty(),
        "-o writes the file, not stdout"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    for fetched in ["<script", "src=", "@import", "url(http", "href=\"http"] {
        assert!(!html.contains(fetched), "the page fetches: {fetched}");
    }
    let png = dir.join("fleet.png");
    assert_renders_non_blank(&page, &png, (1400, 700));
    if let Some(keep) = std::env::var_os("PLANET_DOCS_PICTURE") {
        std::fs::copy(&png, keep).expect("copy the picture");
    }
}

#[test]
fn graph_errors_are_one_line_and_exit_1() {
    // Nothing listens on this loopback port.
    let closed = free_port();
    let url = format!("http://127.0.0.1:{closed}");
    let output = planet(["graph", "--prometheus", &url]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(stderr.starts_with(&format!("planet: {url}: ")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // A server that answers with the API's error.
    let port = serve(r#"{"status":"error","errorType":"bad_data","error":"query timed out"}"#);
    let url = format!("http://127.0.0.1:{port}");
    let output = planet(["graph", "--prometheus", &url]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr_of(&output),
        format!("planet: {url}: query planet_host_info: query timed out\n")
    );

    let dir = tempfile::tempdir().unwrap();
    let empty = write_file(dir.path(), "empty.prom", b"# nothing\n");
    let output = planet(["graph", "--files"]).arg(&empty).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr_of(&output),
        format!("planet: {}: no planet series found\n", empty.display())
    );

    let output = planet(["graph"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).starts_with(
        "error: pass --prometheus URL to read from Prometheus, or --files FILE... to read hosts' .prom files\n"
    ));
}
