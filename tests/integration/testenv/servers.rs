//! Servers a test starts on loopback to play another program: an exporter
//! for `--wrap`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use super::holders::port_of;

/// Serves `body` with status 200 for every request, on a port of its own,
/// until the test ends.
pub fn serve(body: &'static str) -> u16 {
    serve_status("200 OK", body)
}

/// As [`serve`], answering with `status` (e.g. `302 Found`).
pub fn serve_status(status: &'static str, body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                &stream,
                "HTTP/1.1 {status}\r\nLocation: /elsewhere\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}
