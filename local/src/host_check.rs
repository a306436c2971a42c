//! The DNS-rebinding defence of the local server's listeners. A page the developer visits can
//! point a name it controls (`evil.example`) at 127.0.0.1 and then read this server as its own
//! origin — `/_local/outbox` holds every signup code and reset link. Such a request still says
//! `Host: evil.example:3000`, so each listener answers only `Host` values that name its own
//! listening address: `localhost`, `127.0.0.1`, `[::1]` or the `--host` given; anything else
//! is 421 Misdirected Request. The port in `Host` is not compared: the attacker controls the
//! name, not which socket the request reached, so the port adds nothing against rebinding, and
//! a plain TCP relay or port forward in front of the server (the browser test's, an SSH tunnel)
//! keeps working. It must still be a port number.

use http_body_util::Full;
use hyper::body::Bytes;

/// The `Host` values one listener answers.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    names: Vec<String>,
}

impl AllowedHosts {
    /// For a listener bound on `host` (the `--host` given).
    pub fn new(host: &str) -> Self {
        let host = host.trim().to_ascii_lowercase();
        // An IPv6 `--host` appears in `Host` in brackets.
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        if !names.contains(&host) {
            names.push(host);
        }
        Self { names }
    }

    /// Whether a request with this `Host` header (none: refused) is meant for this listener.
    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some(host) = host.map(|h| h.trim().to_ascii_lowercase()) else {
            return false;
        };
        let (name, port) = match host.rfind(':') {
            // `[::1]` alone: the colon is inside the brackets.
            Some(i) if !host[i..].contains(']') => (&host[..i], Some(&host[i + 1..])),
            _ => (host.as_str(), None),
        };
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
        port_ok && self.names.iter().any(|n| n == name)
    }

    /// Checks `req`'s `Host`: `None` to go on, or the 421 to answer.
    pub fn check<B>(&self, req: &hyper::Request<B>) -> Option<hyper::Response<Full<Bytes>>> {
        let host = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok());
        if self.allows(host) {
            return None;
        }
        tracing::warn!(host = ?host, "refused a request for another host (421)");
        let mut response = hyper::Response::new(Full::new(Bytes::from_static(
            b"Misdirected Request: this local server answers only its own address \
              (localhost, 127.0.0.1, [::1] or --host).",
        )));
        *response.status_mut() = hyper::StatusCode::MISDIRECTED_REQUEST;
        Some(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listeners_own_names() {
        let local = AllowedHosts::new("127.0.0.1");
        for ok in [
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
            "LOCALHOST:3000",
            "localhost",
            "[::1]",
            "127.0.0.1:4100",
        ] {
            assert!(local.allows(Some(ok)), "{ok}");
        }
        for refused in [
            "evil.example:3000",
            "evil.example",
            "127.0.0.1.evil.example:3000",
            "localhost.evil.example",
            "localhost:3000:3000",
            "localhost:http",
            "",
        ] {
            assert!(!local.allows(Some(refused)), "{refused}");
        }
        assert!(!local.allows(None), "no Host at all");
    }

    #[test]
    fn the_host_given_counts_too() {
        let lan = AllowedHosts::new("192.168.1.20");
        assert!(lan.allows(Some("192.168.1.20")));
        assert!(lan.allows(Some("192.168.1.20:3000")));
        assert!(lan.allows(Some("localhost:3000")));
        assert!(!lan.allows(Some("evil.example")));
        let v6 = AllowedHosts::new("::");
        assert!(v6.allows(Some("[::]:3000")));
    }
}
