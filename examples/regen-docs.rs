//! `cargo run --example regen-docs`: rewrites the committed files planet
//! generates from its own definitions (the man page and shell completions
//! from the command line, `docs/metrics.md` from the metric schema), which
//! the docs test holds to the code. Run it after adding a collector, a
//! family, a flag or a graph format.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, contents) in planet::cli::docs::generated() {
        let path = root.join(path);
        if std::fs::read(&path).ok().as_deref() != Some(contents.as_slice()) {
            if let Err(e) = std::fs::write(&path, &contents) {
                eprintln!("regen-docs: {}: {e}", path.display());
                std::process::exit(1);
            }
            println!("rewrote {}", path.display());
        }
    }
}
