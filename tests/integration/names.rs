//! Names operators use: the kernel cuts `comm` at 15 bytes
//! (`prometheus-node-exporter` is `prometheus-node` there), and planet
//! writes the whole name, from the executable's file name or argv[0]'s,
//! in every `process` and serving `name` label. A process that renamed
//! itself to something else keeps the name it chose.

use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use planet::schema;

use crate::testenv::*;

/// A process running `sleep` copied to `dir/name`: its exe link's file
/// name is `name`, and so is argv[0]'s; it holds `fds`.
struct Copied(Child);

impl Copied {
    fn hold(dir: &Path, name: &str, fds: &[RawFd]) -> Copied {
        let program = dir.join(name);
        std::fs::copy(which("sleep").expect("sleep(1)"), &program).expect("copy sleep");
        let mut command = Command::new(&program);
        command.arg("infinity").stdin(Stdio::null());
        inherit(&mut command, fds);
        Copied(command.spawn().expect("start the copy"))
    }
}

impl Drop for Copied {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An exporter with a long name serves; a client with a long name (started
/// through a symlink: its exe is `sleep`, its argv[0] the long name) calls
/// it; a process that renamed itself to 15 bytes of its own keeps them.
#[test]
fn long_names_are_whole_and_a_chosen_name_is_kept() {
    in_own_netns(|| {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = port_of(listener.local_addr());
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let renamed = TcpListener::bind("127.0.0.1:0").unwrap();
        let renamed_port = port_of(renamed.local_addr());

        let _server = Copied::hold(
            dir.path(),
            "prometheus-node-exporter",
            &[listener.as_raw_fd(), accepted.as_raw_fd()],
        );
        let _client = Named::hold("postgres-metrics-scraper", &[client.as_raw_fd()]);
        // 15 bytes, none of them the start of `sh`.
        let _chosen = Named::hold_raw(b"worker-pool-0x1", &[renamed.as_raw_fd()]);
        drop((listener, client, accepted, renamed));

        let text = collect_stdout(&[]);
        let serving = samples_on_ports(&text, schema::SERVING.name, &[port, renamed_port]);
        assert_eq!(
            serving.into_iter().collect::<Vec<_>>(),
            [
                format!(
                    r#"planet_serving{{protocol="tcp",name="prometheus-node-exporter",container="",addr="127.0.0.1",port="{port}"}} 1"#
                ),
                format!(
                    r#"planet_serving{{protocol="tcp",name="worker-pool-0x1",container="",addr="127.0.0.1",port="{renamed_port}"}} 1"#
                ),
            ]
        );
        let process_of = |family: &str| -> Vec<String> {
            samples_on_ports(&text, family, &[port])
                .into_iter()
                .filter_map(|l| {
                    l.split_once("process=\"")
                        .map(|(_, r)| r.split('"').next().unwrap_or("").to_string())
                })
                .collect()
        };
        assert_eq!(
            process_of(schema::UPSTREAM.name),
            ["postgres-metrics-scraper"]
        );
        assert_eq!(
            process_of(schema::DOWNSTREAM.name),
            ["prometheus-node-exporter"]
        );
    });
}
