//! The `@connections` management API as API Gateway serves it: `POST` sends the body to the
//! connection as one text frame, `GET` describes it, `DELETE` closes it; an unknown id is 410
//! `GoneException`, which the SDK adapter reads exactly as it does on AWS.
//!
//! On AWS the API is IAM-signed; here it is loopback-only instead, whatever `--host` says: a
//! request from any other address is 403 `AccessDeniedException`, as is one carrying an
//! `Origin` header (a browser page — the SDK never sends one — so a page on another site cannot
//! `fetch` a frame into someone's socket even from this machine). With the listener's `Host`
//! check (421 for any other name) that leaves only processes on this machine, which could read
//! the server's memory anyway. See docs/REALTIME.md.

use super::registry::{Outbound, Registry};
use super::{HyperResponse, status};
use chatman::domain::time::rfc3339;
use chatman::http::apigw::percent_decode;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::time::Duration;

/// API Gateway's limit on a posted message.
pub const MAX_POST: usize = 128 * 1024;

fn aws_error(code: u16, kind: &str, message: &str) -> HyperResponse {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = status(code, &body);
    let headers = response.headers_mut();
    if let Ok(kind) = kind.parse() {
        headers.insert("x-amzn-errortype", kind);
    }
    headers.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn gone() -> HyperResponse {
    aws_error(410, "GoneException", "The connection is gone.")
}

/// `Some(403)` for a request that may not use the API: not from a loopback address, or from a
/// browser page.
pub fn refuse_outsider<B>(req: &hyper::Request<B>, peer: SocketAddr) -> Option<HyperResponse> {
    if !peer.ip().to_canonical().is_loopback() || req.headers().contains_key(hyper::header::ORIGIN)
    {
        tracing::warn!(peer = %peer, "refused an @connections request from outside this machine's processes");
        return Some(aws_error(
            403,
            "AccessDeniedException",
            "The local @connections API answers processes on this machine only.",
        ));
    }
    None
}

pub async fn serve(
    registry: &Registry,
    req: hyper::Request<Incoming>,
    raw_id: &str,
) -> HyperResponse {
    let id = percent_decode(raw_id, false);
    let Some(entry) = registry.get(&id) else {
        return gone();
    };
    match *req.method() {
        hyper::Method::POST => {
            let data = match Limited::new(req.into_body(), MAX_POST).collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => {
                    return aws_error(413, "PayloadTooLargeException", "The message is too large.");
                }
            };
            let text = String::from_utf8_lossy(&data).into_owned();
            let queued = tokio::time::timeout(
                Duration::from_secs(1),
                entry.sender.send(Outbound::Text(text)),
            )
            .await;
            match queued {
                Ok(Ok(())) => status(200, ""),
                Ok(Err(_)) => gone(),
                Err(_) => aws_error(
                    429,
                    "LimitExceededException",
                    "The connection is not keeping up.",
                ),
            }
        }
        hyper::Method::GET => {
            let body = serde_json::json!({
                "connectedAt": rfc3339(entry.connected_at),
                "lastActiveAt": rfc3339(entry.last_active_at),
                "identity": { "sourceIp": entry.source_ip, "userAgent": entry.user_agent },
            });
            let mut response = status(200, &body.to_string());
            response.headers_mut().insert(
                "content-type",
                hyper::header::HeaderValue::from_static("application/json"),
            );
            response
        }
        hyper::Method::DELETE => match entry.sender.send(Outbound::Close).await {
            Ok(()) => status(204, ""),
            Err(_) => gone(),
        },
        _ => aws_error(405, "MethodNotAllowed", "POST, GET or DELETE."),
    }
}

#[cfg(test)]
mod tests {
    use super::refuse_outsider;

    fn request(origin: Option<&str>) -> hyper::Request<()> {
        let mut req = hyper::Request::builder().uri("/@connections/x");
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.body(()).unwrap_or_default()
    }

    #[test]
    fn only_loopback_processes_may_use_the_api() {
        let from = |ip: &str| {
            format!("{ip}:5000")
                .parse()
                .unwrap_or_else(|_| unreachable!())
        };
        assert!(refuse_outsider(&request(None), from("127.0.0.1")).is_none());
        assert!(refuse_outsider(&request(None), from("[::1]")).is_none());
        assert!(refuse_outsider(&request(None), from("[::ffff:127.0.0.1]")).is_none());
        for outsider in ["192.168.1.7", "10.0.0.2", "[2001:db8::1]"] {
            let refused = refuse_outsider(&request(None), from(outsider));
            assert_eq!(
                refused.map(|r| r.status().as_u16()),
                Some(403),
                "{outsider}"
            );
        }
        let page = refuse_outsider(&request(Some("http://localhost:3000")), from("127.0.0.1"));
        assert_eq!(
            page.map(|r| r.status().as_u16()),
            Some(403),
            "a browser page"
        );
    }
}
