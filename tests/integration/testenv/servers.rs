//! Servers a test starts on loopback to play another program: an exporter
//! for `--wrap`, and a DNS server that answers what a hostile one could.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

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

/// A DNS server on loopback that answers PTR queries with names given as
/// raw labels, which may hold any byte (a dot inside a label, say): what a
/// hostile server could send. Unknown names are NXDOMAIN.
pub struct RawPtrServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RawPtrServer {
    pub fn start(records: Vec<(String, Vec<&'static [u8]>)>) -> RawPtrServer {
        use std::sync::atomic::{AtomicBool, Ordering};
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let port = port_of(socket.local_addr());
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(answer) = answer(&buf[..len], &records) {
                    let _ = socket.send_to(&answer, from);
                }
            }
        });
        RawPtrServer { port, stop }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for RawPtrServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The reply to one query: its question, then the PTR record if known.
fn answer(query: &[u8], records: &[(String, Vec<&[u8]>)]) -> Option<Vec<u8>> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_lowercase());
        at += len;
    }
    let question = query.get(12..at + 4)?;
    let name = labels.join(".");
    let ptr = records.iter().find(|(n, _)| *n == name).map(|(_, l)| l);
    let mut reply = query.get(..2)?.to_vec(); // the query's id
    let rcode = if ptr.is_some() { 0 } else { 3 }; // NXDOMAIN
    reply.extend([
        0x85,
        0x80 | rcode,
        0,
        1,
        0,
        u8::from(ptr.is_some()),
        0,
        0,
        0,
        0,
    ]);
    reply.extend_from_slice(question);
    if let Some(target) = ptr {
        let mut rdata = Vec::new();
        for label in target {
            rdata.push(label.len() as u8);
            rdata.extend_from_slice(label);
        }
        rdata.push(0);
        reply.extend([0xc0, 12, 0, 12, 0, 1, 0, 0, 0x0e, 0x10]); // -> qname, PTR, IN, 3600s
        reply.extend((rdata.len() as u16).to_be_bytes());
        reply.extend(rdata);
    }
    Some(reply)
}
