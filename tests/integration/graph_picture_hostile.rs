//! `planet graph --format html` on a host whose label values are markup
//! and script: the page shows them, and a real browser (headless
//! Chromium) runs none of them.

use std::time::Duration;

use crate::graph_picture::{host, page, write, LOCAL};
use crate::testenv::svg::assert_does_not_lie;
use crate::testenv::*;

/// Label values are data: the page runs nothing a label holds.
#[test]
fn hostile_labels_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let script = "<script>document.title='pwned'</script>";
    let img = "\"><img src=x onerror=\"document.title='pwned'\">";
    let files = write(
        dir.path(),
        &[(
            "evil.prom",
            host(
                "<b>evil</b>",
                "192.0.2.66",
                &[(script, "80")],
                &[
                    (img, LOCAL, "80", 1, 1, 1, 0, 0),
                    (img, LOCAL, "'><svg onload=alert(1)>", 1, 1, 1, 1, 1),
                ],
                &[],
            ),
        )],
    );
    let html = page(&files, &[]);
    for forbidden in ["<script", "<img", "<b>", "<svg onload"] {
        assert!(!html.contains(forbidden), "{forbidden} in the page");
    }
    assert_does_not_lie(&html);
    let Some(chromium) = tool("chromium", "chromium") else {
        return;
    };
    let path = dir.path().join("evil.html");
    std::fs::write(&path, &html).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let output = run_within(
        headless_chromium(&chromium, profile.path())
            .args(["--virtual-time-budget=3000", "--dump-dom"])
            .arg(format!("file://{}", path.display())),
        Duration::from_secs(120),
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("<title>planet: the fleet's dependencies</title>"),
        "{dom}"
    );
    for injected in ["pwned</title>", "<script", "<img", "<b>", "onload=\""] {
        assert!(!dom.contains(injected), "{injected} in the DOM");
    }
    assert!(dom.contains("evil"), "the page was drawn");
}
