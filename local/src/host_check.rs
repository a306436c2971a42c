//! The DNS-rebinding defence of the local server's listeners. A page the developer visits can
//! point a name it controls (`evil.example`) at 127.0.0.1 and then read this server as its own
//! origin — `/_local/outbox` holds every signup code and reset link. Such a request still says
//! `Host: evil.example:3000`, so each listener answers only `Host` values that name its own
//! listening address: `localhost`, `127.0.0.1`, `[::1]` or the `--host` given, with the port
//! it listens on (no port only when that is 80); anything else is 421 Misdirected Request.

use http_body_util::Full;
use hyper::body::Bytes;

/// The `Host` values one listener answers.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    names: Vec<String>,
    port: u16,
}

impl AllowedHosts {
    /// For a listener bound on `host` (the `--host` given) and `port` (the port it got).
    pub fn new(host: &str, port: u16) -> Self {
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
        Self { names, port }
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
        let port_matches = match port {
            Some(p) => p.parse::<u16>().is_ok_and(|p| p == self.port),
            None => self.port == 80,
        };
        port_matches && self.names.iter().any(|n| n == name)
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
              (localhost, 127.0.0.1, [::1] or --host, with its port).",
        )));
        *response.status_mut() = hyper::StatusCode::MISDIRECTED_REQUEST;
        Some(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listeners_own_names_and_port() {
        let local = AllowedHosts::new("127.0.0.1", 3000);
        for ok in [
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
            "LOCALHOST:3000",
        ] {
            assert!(local.allows(Some(ok)), "{ok}");
        }
        for refused in [
            "evil.example:3000",
            "evil.example",
            "localhost:3001",
            "localhost",
            "127.0.0.1.evil.example:3000",
            "[::1]",
            "localhost:3000:3000",
            "",
        ] {
            assert!(!local.allows(Some(refused)), "{refused}");
        }
        assert!(!local.allows(None), "no Host at all");
    }

    #[test]
    fn the_host_given_counts_and_port_80_may_be_left_out() {
        let lan = AllowedHosts::new("192.168.1.20", 80);
        assert!(lan.allows(Some("192.168.1.20")));
        assert!(lan.allows(Some("192.168.1.20:80")));
        assert!(lan.allows(Some("localhost")));
        assert!(!lan.allows(Some("evil.example")));
        let v6 = AllowedHosts::new("::", 3000);
        assert!(v6.allows(Some("[::]:3000")));
    }
}
