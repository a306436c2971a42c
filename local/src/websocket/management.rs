//! The `@connections` management API as API Gateway serves it: `POST` sends the body to the
//! connection as one text frame, `GET` describes it, `DELETE` closes it; an unknown id is 410
//! `GoneException`, which the SDK adapter reads exactly as it does on AWS. (Locally it is not
//! signature-checked: the listener is on the loopback address.)

use super::registry::{Outbound, Registry};
use super::{HyperResponse, status};
use chatman::domain::time::rfc3339;
use chatman::http::apigw::percent_decode;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
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
