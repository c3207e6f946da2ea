//! `planet graph --format html` with `--before`: what changed, styled on
//! the picture and said in a legend; the picture still does not lie. The
//! fleet is `graph_picture.rs`'s, now and as it was.

use crate::graph_picture::{fleet, page, screenshot};
use crate::testenv::svg::assert_does_not_lie;

/// `--files NOW... --before THEN...`: new is green, gone is grey and
/// dashed, nodes and edges, and a legend says so.
#[test]
fn what_changed_is_styled_with_a_legend() {
    let dir = tempfile::tempdir().unwrap();
    let now = fleet(&dir.path().join("now"), false);
    let then = fleet(&dir.path().join("then"), true);
    let mut args: Vec<&str> = vec!["--before"];
    args.extend(then.iter().map(|p| p.to_str().unwrap()));
    let html = page(&now, &args);
    let picture = assert_does_not_lie(&html);
    assert!(html.contains("<svg class=\"legend\""), "a legend");
    for rule in [
        ".node.new rect { fill: #e6f4ea; stroke: #2ca02c;",
        ".node.gone rect { fill: #f5f5f5; stroke: #999; stroke-dasharray: 6 4; }",
        ".edge.gone .wire { stroke-dasharray: 6 4; }",
    ] {
        assert!(html.contains(rule), "{rule}");
    }
    // An edge's class and colour.
    let styled = |source: &str, target: &str| {
        let wire = picture.wire(source, target);
        (wire.class.as_str(), wire.stroke.as_str())
    };
    assert_eq!(
        styled("svc:api//gateway", "svc:api//search"),
        ("edge new", "#2ca02c")
    );
    assert_eq!(
        styled("svc:api//scheduler", "ext:198.51.100.200"),
        ("edge gone", "#999")
    );
    // New and failing: red says more than green.
    assert_eq!(
        styled("svc:client//curl", "svc:api//gateway"),
        ("edge new", "#d62728")
    );
    assert_eq!(
        styled("svc:client//curl", "svc:web1//nginx"),
        ("edge", "#555")
    );
    assert!(html.contains("<g class=\"node external gone\" data-id=\"ext:198.51.100.200\">"));
    assert!(html.contains("<g class=\"node external new\" data-id=\"ext:203.0.113.25\">"));
    screenshot(&html, dir.path(), "diff");
}
