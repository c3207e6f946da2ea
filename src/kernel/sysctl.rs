//! Kernel settings that change what a socket means. procfs reads
//! `/proc/sys/kernel` for us; it has no reader for `/proc/sys/net`, whose
//! values are per network namespace: [`ephemeral_range`] is called from a
//! thread inside the namespace it is about.

use std::ops::RangeInclusive;

/// Linux's default `net.ipv4.ip_local_port_range`.
pub const DEFAULT_EPHEMERAL: RangeInclusive<u16> = 32768..=60999;
pub const EPHEMERAL_PATH: &str = "/proc/sys/net/ipv4/ip_local_port_range";

/// The ports the kernel picks for clients: a UDP socket bound in this range
/// is a client awaiting replies, not a server.
pub fn ephemeral_range() -> Result<RangeInclusive<u16>, String> {
    let text = std::fs::read_to_string(EPHEMERAL_PATH).map_err(|e| e.to_string())?;
    parse_range(&text).ok_or_else(|| format!("cannot parse {:?}", text.trim()))
}

fn parse_range(text: &str) -> Option<RangeInclusive<u16>> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<u16>());
    match (fields.next(), fields.next(), fields.next()) {
        (Some(Ok(low)), Some(Ok(high)), None) if low <= high => Some(low..=high),
        _ => None,
    }
}

/// This boot's random id: socket cookies are unique only within one boot.
pub fn boot_id() -> Option<String> {
    let id = procfs::sys::kernel::random::boot_id().ok()?;
    Some(id.trim().to_string()).filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_port_range() {
        assert_eq!(parse_range("32768\t60999\n"), Some(32768..=60999));
        assert_eq!(parse_range("1024 65535"), Some(1024..=65535));
        assert_eq!(parse_range("60999 32768"), None);
        assert_eq!(parse_range("abc"), None);
        assert_eq!(parse_range("1 2 3"), None);
    }
}
