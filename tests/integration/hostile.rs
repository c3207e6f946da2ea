//! Mutation fuzzing of every parser of outside input: valid inputs with
//! random bytes flipped, inserted and cut must give an error or a value,
//! never a panic. Deterministic (a fixed xorshift seed), so a failure
//! reproduces. And one property: parsing what planet renders gives back
//! exactly what was rendered.

use planet::accounting::state;
use planet::exposition::parse::NamedSample;
use planet::exposition::{self as textparse, render, Family};
use planet::kernel::sockdiag::parse_datagram;
use planet::kernel::socket::Protocol;
use planet::naming::inventory::Inventory;
use planet::wrap::Rules;

/// A small deterministic generator: no extra crate for property tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A few random edits of `seed`.
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..=self.below(8) {
            let at = self.below(data.len() + 1);
            match self.below(4) {
                0 if at < data.len() => data[at] = self.next() as u8,
                1 => data.insert(at, self.next() as u8),
                2 if at < data.len() => {
                    data.remove(at);
                }
                _ => data.truncate(at),
            }
        }
        data
    }
}

const ROUNDS: usize = 3000;

fn fuzz(seeds: &[&[u8]], mut parse: impl FnMut(&[u8])) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for seed in seeds {
        parse(seed);
        for _ in 0..ROUNDS {
            parse(&rng.mutate(seed));
        }
    }
}

#[test]
fn the_exposition_parser() {
    let page = b"# HELP a x\\ny\n# TYPE a gauge\na{b=\"c\\\"}\",d=\"\\n\"} 1.5e3 17\nx:y -Inf\n";
    fuzz(&[page], |data| {
        let _ = textparse::parse(&String::from_utf8_lossy(data));
    });
}

#[test]
fn the_inventory_parser() {
    let array = br#"[{"ip_address": "10.0.0.0/8", "domain": "a.example", "hostgroup": "a"}, {"ip_address": "fd00::1"}]"#;
    let ndjson = b"{\"ip_address\": \"10.0.0.1\", \"hostgroup\": \"b\"}\n{\"ip_address\": \"::ffff:10.0.0.0/104\"}\n";
    fuzz(&[array, ndjson], |data| {
        if let Ok(inventory) = Inventory::parse(data) {
            let _ = inventory.lookup("10.1.2.3".parse().unwrap());
            let _ = inventory.lookup("fd00::1".parse().unwrap());
        }
    });
}

#[test]
fn the_wrap_rules_parser() {
    let rules = b"[[source]]\nname = \"s\"\nurl = \"http://127.0.0.1:1/m\"\ntimeout = \"1s\"\n\
[[rule]]\nname = \"r\"\nsource = \"s\"\nselect = \"a\"\nmetric = \"planet_a\"\nkeep = [\"b\"]\n\
derive.c = { source = \"s\", select = \"d\", label = \"e\" }\n";
    fuzz(&[rules], |data| {
        let _ = Rules::parse(&String::from_utf8_lossy(data));
    });
}

#[test]
fn the_state_file_decoder() {
    let file = br#"{"format":"planet-state","version":1,"series":[[{"side":"upstream","protocol":"tcp","process":"a","addr":"10.0.0.1","port":80},{"bytes":{"sent":1,"received":2},"last_seen":3}]],"cookies":[[7,0,1,2]],"dns":[["10.0.0.1","a.example",9]],"dns_lookups":{"hit":1,"answered":0,"nxdomain":0,"timeout":0,"error":0}}"#;
    fuzz(&[file], |data| {
        let _ = state::decode(data);
    });
}

#[test]
fn the_netlink_datagram_parser() {
    // One SOCK_DIAG_BY_FAMILY message: header, inet_diag_msg, an INFO
    // attribute of 232 bytes, then NLMSG_DONE.
    let mut message = Vec::new();
    let length = 16 + 72 + 4 + 232;
    message.extend_from_slice(&(length as u32).to_ne_bytes());
    message.extend_from_slice(&20u16.to_ne_bytes());
    message.extend_from_slice(&[0; 10]);
    message.extend_from_slice(&[2, 1, 0, 0]); // AF_INET, ESTABLISHED
    message.extend_from_slice(&[0x1f, 0x90, 0x00, 0x50]); // ports
    message.extend_from_slice(&[127, 0, 0, 1]);
    message.extend_from_slice(&[0; 12]);
    message.extend_from_slice(&[127, 0, 0, 2]);
    message.extend_from_slice(&[0; 12]);
    message.extend_from_slice(&[0; 4 + 8 + 20]); // if, cookie, expires..inode
    message.extend_from_slice(&(4u16 + 232).to_ne_bytes());
    message.extend_from_slice(&2u16.to_ne_bytes()); // INET_DIAG_INFO
    message.extend_from_slice(&[1; 232]);
    let mut done = vec![0u8; 20];
    done[..4].copy_from_slice(&20u32.to_ne_bytes());
    done[4..6].copy_from_slice(&3u16.to_ne_bytes());
    message.extend_from_slice(&done);
    let mut records = Vec::new();
    assert!(parse_datagram(&message, Protocol::Tcp, &mut records).is_ok());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].local_port, 8080);
    fuzz(&[&message], |data| {
        records.clear();
        let _ = parse_datagram(data, Protocol::Tcp, &mut records);
    });
}

impl Rng {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    fn text(&mut self) -> String {
        let pieces = [
            "a", "\"", "\\", "\n", "}", "{", ",", "=", " ", "é", "\u{fffd}", "#", "x y", "\\n", "",
        ];
        (0..self.next() % 6).map(|_| self.pick(&pieces)).collect()
    }
}

#[test]
fn parse_of_render_is_identity() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..500 {
        let mut families = Vec::new();
        for f in 0..(1 + rng.next() % 4) {
            let name = format!("{}_{f}", rng.pick(&["planet_x", "a:b", "_c", "X9"]));
            let mut family = Family::gauge(name, rng.text());
            for s in 0..(1 + rng.next() % 4) {
                let labels: Vec<(String, String)> = (0..rng.next() % 4)
                    .map(|l| (format!("{}{l}", rng.pick(&["l", "_L", "le"])), rng.text()))
                    .chain([("n".to_string(), s.to_string())])
                    .collect();
                let value = rng.pick(&[
                    0.0,
                    1.0,
                    -2.5,
                    1e300,
                    1.5e-7,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    12345678.0,
                ]);
                family.push(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())), value);
            }
            families.push(family);
        }
        let text = render(&mut families);
        let parsed = textparse::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let expected: Vec<NamedSample> = families
            .iter()
            .flat_map(|f| {
                f.samples.iter().map(|s| NamedSample {
                    name: f.name.clone(),
                    labels: s.labels.clone(),
                    value: s.value,
                })
            })
            .collect();
        assert_eq!(parsed.samples, expected, "{text}");
        for family in &families {
            assert_eq!(parsed.help[&family.name], family.help);
        }
    }
}
