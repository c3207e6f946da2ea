//! `--loop` bounded under a flood of closes (milestone 3): socket()+close()
//! from several namespaces as fast as they go, and planet keeps writing
//! within one memory bound, counting the destroy notifications it dropped.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use planet::schema;

use crate::cage::MemoryCage;
use crate::load::*;
use crate::testenv::*;

/// What a `--loop` planet did while the test watched it.
#[derive(Default)]
struct Watched {
    /// Distinct writes seen.
    writes: usize,
    /// The largest VmHWM seen.
    peak: u64,
    /// How it ended, if it did.
    exited: Option<ExitStatus>,
    /// Whether the write watched for came.
    came: bool,
}

impl Watched {
    /// Watches planet for `span`, or until it ends, or (`until_a_write`)
    /// until its next write: whether it is alive, writing, and the most
    /// memory it held.
    fn watch(planet: &mut Looping, span: Duration, until_a_write: bool) -> Watched {
        let start = Instant::now();
        let first = planet.write_id();
        let mut writes = std::collections::BTreeSet::new();
        let mut watched = Watched::default();
        while start.elapsed() < span && watched.exited.is_none() {
            watched.peak = watched.peak.max(peak_rss(planet.pid()).unwrap_or(0));
            let id = planet.write_id();
            writes.extend(id);
            watched.exited = planet.exited();
            if until_a_write && id != first {
                watched.came = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        watched.writes = writes.len();
        watched
    }
}

const MIB: u64 = 1 << 20;

/// What happened to planet during a flood and right after it.
struct Flood {
    /// Sockets each flooder opened and closed.
    sockets: Vec<u64>,
    during: Watched,
    after: Watched,
}

impl std::fmt::Display for Flood {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let after = match (&self.after.exited, self.after.came) {
            (Some(status), _) => format!("then it ended: {status}"),
            (None, true) => "then one more write".to_string(),
            (None, false) => "then no write in 10 s".to_string(),
        };
        write!(
            f,
            "flooded {:?} sockets; planet: {} writes in the flood, largest VmHWM seen {} MiB, {}, {after}",
            self.sockets,
            self.during.writes,
            self.during.peak.max(self.after.peak) / MIB,
            self.during.exited.map_or("alive through it".to_string(), |s| format!("ended: {s}")),
        )
    }
}

/// Floods socket()+close() from two network namespaces of their own for
/// `span` while watching planet, then watches it until it writes once
/// more (at most 10 s). None (a skip) when no namespace can be made.
fn flood_from_two_namespaces(planet: &mut Looping, span: Duration) -> Option<Flood> {
    let flooders: Vec<Flooder> = match (0..2).map(|_| Flooder::start()).collect() {
        Ok(flooders) => flooders,
        Err(e) => return skip_or_fail(&format!("cannot flood from a namespace: {e}")),
    };
    let during = Watched::watch(planet, span, false);
    let sockets = flooders.into_iter().map(Flooder::stop).collect();
    let after = Watched::watch(planet, Duration::from_secs(10), true);
    Some(Flood {
        sockets,
        during,
        after,
    })
}

/// A tenant opening and closing sockets as fast as it can, from two
/// network namespaces of its own, floods the kernel's destroy
/// notifications, and planet follows every namespace (the default). The
/// records it queues are capped in total, not per namespace: run under a
/// 256 MiB memory cgroup (planet-loop.service's MemoryMax), `--loop` stays
/// under 128 MiB peak RSS, keeps writing through 12 s of flood, counts the
/// notifications it dropped in `planet_destroy_notifications_lost_total`,
/// and exits 0 on SIGTERM.
#[test]
fn loop_stays_under_128_mib_and_keeps_writing_through_a_flood_of_closes() {
    let _machine = crate::alone();
    in_own_netns(|| {
        let cage = MemoryCage::new("flood", 256 * MIB);
        let Some(cage) = cage.map_or_else(|why| skip_or_fail(&why), Some) else {
            return;
        };
        let env = TestEnv::new();
        let mut command = env.collect();
        command.args(["--loop", "--interval", "2s"]);
        cage.confine(&mut command);
        let mut planet = Looping::start(&mut command, env.output_file());
        let Some(flood) = flood_from_two_namespaces(&mut planet, Duration::from_secs(12)) else {
            return;
        };
        let peak = peak_rss(planet.pid());
        // Every namespace's series: read the one line wanted, not the file.
        let lost = lines_of(planet.file(), |l| l.contains("lost"));
        let (code, stderr) = planet.stop();
        let seen = format!("{flood}; the cgroup: {}", cage.report());
        eprintln!("{seen}");

        assert!(
            flood.during.exited.is_none() && flood.after.exited.is_none(),
            "planet died: {seen}; stderr: {stderr}"
        );
        // The first stamp seen was written before the flood: two more at
        // least in 12 s (both cores are flooding), and one after.
        assert!(
            flood.during.writes >= 3 && flood.after.came,
            "planet stopped writing (2 s interval): {seen}"
        );
        let peak = peak.expect("planet ran until SIGTERM");
        assert!(
            peak <= 128 * MIB,
            "VmHWM {} MiB before SIGTERM, over 128 MiB: {seen}",
            peak / MIB
        );
        let counter: Vec<&String> = lost
            .iter()
            .filter(|l| family_of(l) == schema::DESTROY_NOTIFICATIONS_LOST.name)
            .collect();
        assert!(
            counter.len() == 1 && value(counter[0]) > 0,
            "planet_destroy_notifications_lost_total should count what was dropped; \
             the lines that say lost: {lost:?}"
        );
        assert_eq!(code, Some(0), "{stderr}");
    });
}
