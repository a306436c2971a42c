//! Who is calling, as far as the network tells: the client address API Gateway saw. Throttles
//! count per address so one attacker is slowed by their own count before anyone else's.

use std::net::IpAddr;

/// A client address as a throttle key. IPv6 clients are keyed by their /64 network, since one
/// host commonly owns a whole /64 and could otherwise rotate through it for fresh counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientAddress(String);

impl ClientAddress {
    /// From the gateway's `sourceIp`; anything missing or unparsable shares one `unknown` key.
    pub fn from_source_ip(raw: Option<&str>) -> Self {
        match raw.and_then(|r| r.trim().parse::<IpAddr>().ok()) {
            Some(IpAddr::V4(v4)) => Self(v4.to_string()),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(v4.to_string()),
                None => {
                    let s = v6.segments();
                    Self(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
                }
            },
            None => Self("unknown".to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_kept_and_ipv6_is_keyed_by_its_network() {
        let key = |raw| ClientAddress::from_source_ip(Some(raw)).to_string();
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
        assert_eq!(key("not an address"), "unknown");
        assert_eq!(ClientAddress::from_source_ip(None).as_str(), "unknown");
    }
}
