//! Servers a test starts on loopback to play another program: an exporter
//! for `--wrap`, a store that records what `planet graph` asks, an HTTP
//! proxy, and a DNS server that answers what a hostile one could.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::holders::port_of;

/// A server on a loopback port until the test ends, `handle` serving each
/// connection on a thread of its own: its port.
fn serve_each(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handle = handle.clone();
            std::thread::spawn(move || handle(stream));
        }
    });
    port
}

/// Serves `body` with status 200 for every request, on a port of its own,
/// until the test ends.
pub fn serve(body: &'static str) -> u16 {
    serve_status("200 OK", body)
}

/// As [`serve`], answering with `status` (e.g. `302 Found`).
pub fn serve_status(status: &'static str, body: &'static str) -> u16 {
    serve_each(move |stream| {
        let _ = read_head(&mut BufReader::new(&stream));
        let _ = write!(
            &stream,
            "HTTP/1.1 {status}\r\nLocation: /elsewhere\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    })
}

/// What a server of the test's own was asked: each request's head (the
/// request line and the header lines).
#[derive(Clone, Default)]
pub struct Heard(Arc<Mutex<Vec<String>>>);

impl Heard {
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn push(&self, head: &str) {
        self.0.lock().unwrap().push(head.to_string());
    }
}

/// The values of header `name` in a request's head, in order.
pub fn header<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    (head.lines().skip(1))
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
        .collect()
}

/// Reads a request's head, up to the blank line.
fn read_head(reader: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.trim_end().is_empty() {
            return Some(head);
        }
        head.push_str(&line);
    }
}

/// An answer: the status (`200 OK`), more header lines, the body.
pub type Answer = (&'static str, String, String);

/// A server on a loopback port, until the test ends: it records each
/// request's head and answers it with `answer(head)`, as JSON.
pub fn recorder(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> (u16, Heard) {
    let heard = Heard::default();
    let record = heard.clone();
    let port = serve_each(move |stream| {
        let Some(head) = read_head(&mut BufReader::new(&stream)) else {
            return;
        };
        record.push(&head);
        let (status, headers, body) = answer(&head);
        let _ = write!(
            &stream,
            "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    (port, heard)
}

/// The Prometheus API's answer to an instant query, for a store of one
/// host that has nothing but `planet_host_info`.
pub fn one_host(head: &str) -> Answer {
    let result = match head.contains("query=planet_host_info&") {
        true => {
            r#"[{"metric":{"__name__":"planet_host_info","instance":"h:9100","hostname":"h"},"value":[1,"1"]}]"#
        }
        false => "[]",
    };
    let body =
        format!(r#"{{"status":"success","data":{{"resultType":"vector","result":{result}}}}}"#);
    ("200 OK", String::new(), body)
}

/// An HTTP proxy on a loopback port, until the test ends: it records each
/// request's head and serves it, opening a tunnel for CONNECT and fetching
/// an absolute `http://127.0.0.1:PORT/...` URL. Nothing else is reached.
pub fn proxy() -> (u16, Heard) {
    let heard = Heard::default();
    let record = heard.clone();
    let port = serve_each(move |client| proxied(client, &record));
    (port, heard)
}

fn proxied(client: TcpStream, heard: &Heard) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let Some(head) = read_head(&mut reader) else {
        return;
    };
    heard.push(&head);
    let line = head.lines().next().unwrap_or_default();
    let mut words = line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method == "CONNECT" {
        let upstream = match target.strip_prefix("127.0.0.1:") {
            Some(_) => TcpStream::connect(target).ok(),
            None => None,
        };
        let Some(upstream) = upstream else {
            let _ = (&client).write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n");
            return;
        };
        let _ = (&client).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        let (mut down, mut up) = (upstream.try_clone().unwrap(), upstream);
        let back = std::thread::spawn(move || {
            let _ = std::io::copy(&mut down, &mut &client);
            let _ = client.shutdown(Shutdown::Write);
        });
        let _ = std::io::copy(&mut reader, &mut up);
        let _ = up.shutdown(Shutdown::Write);
        let _ = back.join();
        return;
    }
    let Some((port, path)) = (target.strip_prefix("http://127.0.0.1:"))
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(port, path)| Some((port.parse::<u16>().ok()?, path)))
    else {
        let _ = (&client).write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let mut request = format!("{method} /{path} HTTP/1.1\r\n");
    for line in head.lines().skip(1) {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if !["proxy-authorization", "connection", "proxy-connection"].contains(&name.as_str()) {
            request.push_str(&format!("{line}\r\n"));
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    let _ = upstream.write_all(request.as_bytes());
    let _ = std::io::copy(&mut upstream, &mut &client);
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
