//! The client's address: the TCP peer, or, when the peer is a trusted proxy
//! (`server.trusted_proxies`), the address that proxy forwarded in
//! `Forwarded` (RFC 7239) or, without it, `X-Forwarded-For`.
//!
//! The hops are read from the right (the one nearest the server): each hop
//! named by a trusted proxy is believed, and the first address that is not a
//! trusted proxy is the client. A header from an untrusted peer is ignored,
//! so a client cannot choose its own address; a hop that does not parse
//! (`unknown`, an obfuscated name) stops the walk at the last trusted proxy.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::{HeaderMap, HeaderName, header};

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    addr: IpAddr,
    prefix: u8,
}

/// Why a range does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a CIDR range like 10.0.0.0/8")]
pub struct BadRange(String);

impl FromStr for AddrRange {
    type Err = BadRange;

    fn from_str(s: &str) -> Result<AddrRange, BadRange> {
        let bad = || BadRange(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| bad())?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(AddrRange { addr, prefix })
    }
}

impl std::fmt::Display for AddrRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl AddrRange {
    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The client's address for a request from `peer`.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[AddrRange]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = if headers.contains_key(header::FORWARDED) {
        values(headers, &header::FORWARDED)
            .flat_map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .map(|(_, v)| parse_node(v.trim().trim_matches('"')))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    } else {
        values(headers, &HeaderName::from_static("x-forwarded-for"))
            .map(parse_node)
            .collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        if !is_trusted(client) {
            break;
        }
        match hop {
            Some(ip) => client = ip.to_canonical(),
            None => break,
        }
    }
    client
}

/// Every comma-separated element of every `name` header (a header that is
/// not visible ASCII contributes one element that parses as nothing).
fn values<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(str::trim)
}

/// An address as a hop names it: `192.0.2.1`, `192.0.2.1:4711`,
/// `[2001:db8::1]:4711`, `2001:db8::1`; anything else is `None`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = IpAddr::from_str(text) {
        return Some(ip);
    }
    if let Ok(addr) = SocketAddr::from_str(text) {
        return Some(addr.ip());
    }
    let inner = text.strip_prefix('[')?.split(']').next()?;
    IpAddr::from_str(inner).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ranges_parse_and_match() {
        let r: AddrRange = "10.1.0.0/16".parse().expect("range");
        assert!(r.contains(ip("10.1.200.3")));
        assert!(r.contains(ip("::ffff:10.1.0.9")));
        assert!(!r.contains(ip("10.2.0.1")));
        let one: AddrRange = "192.0.2.7".parse().expect("one address");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: AddrRange = "2001:db8::/32".parse().expect("v6");
        assert!(v6.contains(ip("2001:db8:1::1")) && !v6.contains(ip("2001:db9::1")));
        let all: AddrRange = "0.0.0.0/0".parse().expect("all");
        assert!(all.contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "proxy.example", "10.0.0.0/", "::/129"] {
            assert!(bad.parse::<AddrRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_are_believed_only_from_a_trusted_peer() {
        let trusted = ["10.0.0.0/8".parse().expect("range")];
        let h = headers(&[("x-forwarded-for", "203.0.113.5")]);
        assert_eq!(
            client_addr(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(client_addr(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.5"));
        assert_eq!(client_addr(ip("10.0.0.2"), &h, &[]), ip("10.0.0.2"));
    }

    #[test]
    fn the_walk_stops_at_the_first_untrusted_hop_from_the_right() {
        let trusted = ["10.0.0.0/8".parse().expect("range")];
        // The client wrote a forged first hop; the proxies appended the rest.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.5, 10.0.0.9")]);
        assert_eq!(client_addr(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.5"));
        // Forwarded wins over X-Forwarded-For; quoted IPv6 with a port.
        let h = headers(&[
            (
                "forwarded",
                r#"for=192.0.2.60;proto=http, for="[2001:db8::7]:4711""#,
            ),
            ("x-forwarded-for", "198.51.100.77"),
        ]);
        assert_eq!(client_addr(ip("10.0.0.2"), &h, &trusted), ip("2001:db8::7"));
        // An unknown hop stops at the last trusted proxy.
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_addr(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.2"));
    }
}
