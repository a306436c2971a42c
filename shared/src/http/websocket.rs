//! API Gateway WebSocket events, as the WebSocket Lambdas receive them, and the proxy response
//! they return. `to_ws_event` builds the very JSON API Gateway sends (used by the local server
//! and the tests), and `WsRequest` reads only what the handlers need from it, so the two
//! sides cannot drift: the local server's events go through the same parsing as AWS's.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

/// `requestContext.eventType`.
pub const CONNECT: &str = "CONNECT";
pub const MESSAGE: &str = "MESSAGE";
pub const DISCONNECT: &str = "DISCONNECT";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsContext {
    pub connection_id: String,
    pub route_key: String,
    pub event_type: String,
    /// API Gateway's id of this event (logged with the Lambda request id).
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub domain_name: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
}

/// One WebSocket event (`$connect`, a frame, or `$disconnect`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsRequest {
    pub request_context: WsContext,
    #[serde(default)]
    pub query_string_parameters: Option<HashMap<String, String>>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
}

impl WsRequest {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_string_parameters
            .as_ref()?
            .get(name)
            .map(String::as_str)
    }

    /// The frame's text; `None` for a binary frame (or none at all).
    pub fn text(&self) -> Option<&str> {
        if self.is_base64_encoded {
            None
        } else {
            self.body.as_deref()
        }
    }
}

/// The Lambda proxy response. For `$connect` a non-2xx status refuses the handshake; for a
/// message route with a route response (ours: `$default`), `body` is sent back to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsResponse {
    pub status_code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl WsResponse {
    pub fn ok() -> Self {
        Self {
            status_code: 200,
            body: None,
        }
    }

    /// 200 with a frame for the caller.
    pub fn reply(frame: &Value) -> Self {
        Self {
            status_code: 200,
            body: Some(frame.to_string()),
        }
    }

    pub fn status(status_code: u16) -> Self {
        Self {
            status_code,
            body: None,
        }
    }
}

/// What the gateway knows about one WebSocket event.
pub struct WsIncoming<'a> {
    pub connection_id: &'a str,
    pub route_key: &'a str,
    pub event_type: &'a str,
    pub domain_name: &'a str,
    pub stage: &'a str,
    pub source_ip: &'a str,
    pub connected_at_ms: i64,
    /// `$connect` only: the handshake's query string and headers.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// A message's payload; `is_binary` frames travel base64-encoded as in API Gateway.
    pub body: Option<&'a [u8]>,
    pub is_binary: bool,
}

/// The event API Gateway hands a WebSocket route's Lambda.
pub fn to_ws_event(e: &WsIncoming<'_>) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let map = |pairs: &[(String, String)]| -> Value {
        if pairs.is_empty() {
            Value::Null
        } else {
            Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        }
    };
    let body = e.body.map(|b| match (e.is_binary, std::str::from_utf8(b)) {
        (false, Ok(text)) => text.to_owned(),
        _ => STANDARD.encode(b),
    });
    let is_base64 = e.body.is_some()
        && (e.is_binary || e.body.is_some_and(|b| std::str::from_utf8(b).is_err()));
    let mut event = json!({
        "requestContext": {
            "routeKey": e.route_key,
            "eventType": e.event_type,
            "extendedRequestId": uuid::Uuid::now_v7().to_string(),
            "requestTime": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
            "messageDirection": "IN",
            "stage": e.stage,
            "connectedAt": e.connected_at_ms,
            "requestTimeEpoch": (now.unix_timestamp_nanos() / 1_000_000) as i64,
            "identity": { "sourceIp": e.source_ip },
            "requestId": uuid::Uuid::now_v7().to_string(),
            "domainName": e.domain_name,
            "connectionId": e.connection_id,
            "apiId": "local",
        },
        "isBase64Encoded": is_base64,
    });
    if e.event_type == CONNECT {
        event["headers"] = map(&e.headers);
        event["queryStringParameters"] = map(&e.query);
    }
    if let Some(body) = body {
        event["body"] = Value::String(body);
    }
    event
}

/// Reads an event the way the Lambda runtime does.
pub fn to_ws_request(event: Value) -> anyhow::Result<WsRequest> {
    Ok(serde_json::from_value(event)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming<'a>(
        event_type: &'a str,
        body: Option<&'a [u8]>,
        is_binary: bool,
    ) -> WsIncoming<'a> {
        WsIncoming {
            connection_id: "abc=",
            route_key: "$default",
            event_type,
            domain_name: "127.0.0.1:3001",
            stage: "local",
            source_ip: "127.0.0.1",
            connected_at_ms: 0,
            query: vec![("ticket".into(), "t".into())],
            headers: vec![],
            body,
            is_binary,
        }
    }

    #[test]
    fn text_frames_arrive_as_text_and_binary_ones_base64_encoded() {
        let text =
            to_ws_request(to_ws_event(&incoming(MESSAGE, Some(b"{\"a\":1}"), false))).unwrap();
        assert_eq!(text.text(), Some("{\"a\":1}"));
        assert_eq!(text.request_context.connection_id, "abc=");
        let binary =
            to_ws_request(to_ws_event(&incoming(MESSAGE, Some(b"\x00\x01"), true))).unwrap();
        assert!(binary.is_base64_encoded);
        assert_eq!(binary.text(), None);
    }

    #[test]
    fn only_the_connect_event_carries_the_query_string() {
        let connect = to_ws_request(to_ws_event(&incoming(CONNECT, None, false))).unwrap();
        assert_eq!(connect.query("ticket"), Some("t"));
        let message = to_ws_request(to_ws_event(&incoming(MESSAGE, None, false))).unwrap();
        assert_eq!(message.query("ticket"), None);
    }
}
