//! Frames in and out of `ws-message`: reading a client frame (JSON text with an `action`,
//! at most 32 KiB) and writing the `error` event. An error event is built from the same problem
//! document an HTTP route would answer with (`http::problem`, the one place errors are mapped),
//! so a rule refused over the socket carries the same code as over HTTP.

use crate::error::Error;
use crate::http::problem::problem;
use crate::http::websocket::WsRequest;
use serde_json::{Map, Value, json};

/// API Gateway's WebSocket frame limit.
pub const MAX_FRAME: usize = 32 * 1024;
/// `client_id` is echoed back, so it is bounded like any input.
const MAX_CLIENT_ID: usize = 100;

/// A client frame: its action and the rest of its fields.
#[derive(Debug, Clone)]
pub struct Frame {
    pub action: String,
    pub client_id: Option<String>,
    pub fields: Map<String, Value>,
}

/// What can be said about a frame that is not one, plus its action when that much was readable.
pub struct BadFrame {
    pub action: String,
    pub client_id: Option<String>,
    pub error: Error,
}

fn bad(error: Error) -> BadFrame {
    BadFrame {
        action: String::new(),
        client_id: None,
        error,
    }
}

/// Reads a frame: binary, oversized, non-JSON, non-object and action-less frames are refused.
pub fn read_frame(event: &WsRequest) -> Result<Frame, BadFrame> {
    let Some(text) = event.text() else {
        return Err(bad(if event.is_base64_encoded {
            Error::UnsupportedMediaType
        } else {
            Error::InvalidJson("the frame is empty".into())
        }));
    };
    if text.len() > MAX_FRAME {
        return Err(bad(Error::PayloadTooLarge { limit: MAX_FRAME }));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or("").to_owned();
        bad(Error::InvalidJson(message))
    })?;
    let Value::Object(mut fields) = value else {
        return Err(bad(Error::InvalidJson("a frame is a JSON object".into())));
    };
    let client_id = match fields.remove("client_id") {
        Some(Value::String(id)) if id.chars().count() <= MAX_CLIENT_ID => Some(id),
        None | Some(Value::Null) => None,
        Some(_) => {
            return Err(bad(Error::Validation(vec![crate::error::FieldError::new(
                "client_id",
                format!("must be a string of at most {MAX_CLIENT_ID} characters"),
            )])));
        }
    };
    match fields.remove("action") {
        Some(Value::String(action)) if !action.is_empty() => Ok(Frame {
            action,
            client_id,
            fields,
        }),
        _ => Err(BadFrame {
            action: String::new(),
            client_id,
            error: Error::Validation(vec![crate::error::FieldError::new(
                "action",
                "is required: a string such as \"send\" or \"ping\"",
            )]),
        }),
    }
}

/// The `error` event for the caller of `action`: `{type, code, message, action, client_id?,
/// retry_after?}`. Internals of unexpected errors are logged by `problem` and never sent.
pub fn error_frame(action: &str, client_id: Option<&str>, error: &Error) -> Value {
    let response = problem(error);
    let document: Value = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    error_frame_of(action, client_id, &document)
}

/// The `error` event for a problem document: one `error_frame` built, or one an idempotency key
/// stored as its answer (a refused in-chat transfer replays as the same error).
pub fn error_frame_of(action: &str, client_id: Option<&str>, document: &Value) -> Value {
    let mut message = document["detail"].as_str().unwrap_or("").to_owned();
    if let Some(fields) = document["errors"].as_array() {
        let listed: Vec<String> = fields
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f["field"].as_str().unwrap_or(""),
                    f["message"].as_str().unwrap_or("")
                )
            })
            .collect();
        message = format!("{message} {}", listed.join("; "));
    }
    let mut frame = json!({
        "type": "error",
        "code": document["code"].as_str().unwrap_or("internal_error"),
        "message": message,
        "action": action,
    });
    if let Some(id) = client_id {
        frame["client_id"] = Value::String(id.to_owned());
    }
    if let Some(seconds) = document["retry_after"].as_u64() {
        frame["retry_after"] = json!(seconds);
    }
    // A transfer past the sender's 24-hour cap says what is left and when it fits, as on HTTP.
    if document["code"] == "limit_exceeded" {
        for field in ["limit", "remaining", "frees_at"] {
            frame[field] = document[field].clone();
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::websocket::{MESSAGE, WsIncoming, to_ws_event, to_ws_request};

    fn frame(body: &[u8], is_binary: bool) -> Result<Frame, BadFrame> {
        let event = to_ws_event(&WsIncoming {
            connection_id: "c",
            route_key: "$default",
            event_type: MESSAGE,
            domain_name: "localhost",
            stage: "local",
            source_ip: "127.0.0.1",
            connected_at_ms: 0,
            query: vec![],
            headers: vec![],
            body: Some(body),
            is_binary,
        });
        read_frame(&to_ws_request(event).unwrap())
    }

    fn code(result: Result<Frame, BadFrame>) -> String {
        let Err(bad) = result else { panic!("refused") };
        error_frame(&bad.action, None, &bad.error)["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_frame_is_a_json_object_with_an_action() {
        let ok = frame(br#"{"action":"ping","client_id":"c1","x":1}"#, false)
            .ok()
            .unwrap();
        assert_eq!(ok.action, "ping");
        assert_eq!(ok.client_id.as_deref(), Some("c1"));
        assert_eq!(ok.fields["x"], 1);
        assert_eq!(code(frame(b"not json", false)), "invalid_json");
        assert_eq!(code(frame(b"[1,2]", false)), "invalid_json");
        assert_eq!(
            code(frame(br#"{"room_id":"r"}"#, false)),
            "validation_failed"
        );
        assert_eq!(code(frame(b"\x00\xff", true)), "unsupported_media_type");
        let big = format!(r#"{{"action":"ping","pad":"{}"}}"#, "x".repeat(MAX_FRAME));
        assert_eq!(code(frame(big.as_bytes(), false)), "payload_too_large");
    }

    #[test]
    fn error_events_carry_code_action_client_id_and_retry_after() {
        let limited = Error::RateLimited {
            retry_after: 7,
            code: "rate_limited",
        };
        let frame = error_frame("send", Some("c9"), &limited);
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["code"], "rate_limited");
        assert_eq!(frame["action"], "send");
        assert_eq!(frame["client_id"], "c9");
        assert_eq!(frame["retry_after"], 7);
        let hidden = error_frame(
            "send",
            None,
            &Error::Unexpected(anyhow::anyhow!("db secret")),
        );
        assert_eq!(hidden["code"], "internal_error");
        assert!(!hidden.to_string().contains("db secret"));
        assert!(hidden.get("client_id").is_none());
    }

    #[test]
    fn a_transfer_past_the_daily_cap_says_what_is_left_and_when() {
        let at = crate::domain::time::from_millis(1_800_000_000_000);
        let over = Error::LimitExceeded {
            limit: 1000,
            remaining: 100,
            frees_at: Some(at),
        };
        let frame = error_frame("transfer", Some("t1"), &over);
        assert_eq!(frame["code"], "limit_exceeded");
        assert_eq!(frame["limit"], 1000);
        assert_eq!(frame["remaining"], 100);
        assert_eq!(frame["frees_at"], crate::domain::time::rfc3339(at));
    }
}
