//! planet's heavy tests: a fleet of 2,000 network namespaces, tens of
//! thousands of sockets, a flood of closes, port scans of 40,000. Each
//! loads a two-core machine on its own, and every planet on the machine
//! reads what it makes. So they live in a test binary of their own, which
//! `cargo test` runs after the `integration` one (test binaries run one
//! after another), and they take turns ([`alone`]): next to each other, or
//! next to the rest of the suite, they would measure the machine's load
//! rather than planet, and slow every other test's planet down.
//!
//! They use the same [`testenv`] as the integration tests, plus [`load`]
//! (a `--loop` planet followed write by write, idle connections, floods),
//! [`cage`] (a memory cgroup) and [`fleet`] (namespaces by the thousand).
//! One file per load: [`namespaces`] (the fleet), [`race`] (closes racing
//! slow samples), [`flood`] (a flood of closes) and [`scan`] (port
//! scans).

// The integration tests' environment: what these tests leave unused, the
// integration tests use.
#[allow(dead_code, unused_imports)]
#[path = "../integration/testenv/mod.rs"]
mod testenv;

mod cage;
mod fleet;
mod load;

mod flood;
mod namespaces;
mod race;
mod scan;

use std::sync::{Mutex, MutexGuard};

static MACHINE: Mutex<()> = Mutex::new(());

/// Holds the machine for one heavy test: the others wait. (A test that
/// failed while holding it leaves it poisoned, which changes nothing.)
pub fn alone() -> MutexGuard<'static, ()> {
    MACHINE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
