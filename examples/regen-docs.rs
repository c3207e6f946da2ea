//! `cargo run --example regen-docs`: rewrites the committed files planet
//! generates from its own definitions (the man page and shell completions
//! from the command line, `docs/metrics.md` from the metric schema) and
//! `docs/collector.md`'s copy of the worked example collector. Tests hold
//! each to the code; run this after adding a collector, a family, a flag or
//! a graph format. (`scripts/regen-docs` also redraws the graph's picture.)

use std::path::Path;

/// Where `docs/collector.md` holds its copy of the example.
const BEFORE: &str = "`src/collectors/process_sockets.rs`, in full:\n\n```rust\n";
const AFTER: &str = "```\n\nand its registration line";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = planet::cli::docs::generated();
    match example_in_page(root) {
        Ok(page) => files.push(("docs/collector.md".into(), page.into_bytes())),
        Err(e) => fail(&format!("docs/collector.md: {e}")),
    }
    for (path, contents) in files {
        let path = root.join(path);
        if std::fs::read(&path).ok().as_deref() != Some(contents.as_slice()) {
            if let Err(e) = std::fs::write(&path, &contents) {
                fail(&format!("{}: {e}", path.display()));
            }
            println!("rewrote {}", path.display());
        }
    }
}

/// `docs/collector.md` with the example collector's code as it is now.
fn example_in_page(root: &Path) -> Result<String, String> {
    let code = std::fs::read_to_string(root.join("src/collectors/process_sockets.rs"))
        .map_err(|e| e.to_string())?;
    let page =
        std::fs::read_to_string(root.join("docs/collector.md")).map_err(|e| e.to_string())?;
    let start = page.find(BEFORE).ok_or("the copy's opening is gone")? + BEFORE.len();
    let end = start + page[start..].find(AFTER).ok_or("the copy's end is gone")?;
    Ok(format!("{}{code}{}", &page[..start], &page[end..]))
}

fn fail(message: &str) -> ! {
    eprintln!("regen-docs: {message}");
    std::process::exit(1);
}
