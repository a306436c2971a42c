//! One connection's life after the handshake: frames from the client go to the route their
//! `action` selects (or `$default`), the function's answer (its route response) goes back to
//! this client only, queued posts from the management API go out, and whichever way it ends
//! (client close, idle timeout, `DELETE @connections/{id}`, a broken socket) `$disconnect` runs.
//! Frames are handled one at a time per connection, so one flooding client only slows itself.

use super::registry::Outbound;
use super::{STAGE, WsGateway};
use chatman::handlers::routes::ws_route_for;
use chatman::handlers::ws_frames::{MAX_FRAME, error_frame};
use chatman::http::websocket::{DISCONNECT, MESSAGE, WsIncoming, to_ws_event, to_ws_request};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{
    CloseFrame, Role, WebSocketConfig, frame::coding::CloseCode,
};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Largest frame read at all. Frames over `MAX_FRAME` (32 KiB) up to this get an `error` event
/// and the connection lives on; beyond it the socket is closed with 1009 (message too big),
/// so no client can make the server buffer more.
pub const MAX_READ: usize = 1024 * 1024;

fn config() -> WebSocketConfig {
    // Small read buffers: an idle connection should cost kilobytes, not the default 128 KiB.
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_frame_size(Some(MAX_READ))
        .max_message_size(Some(MAX_READ))
}

fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

fn close(code: CloseCode, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

pub async fn run(
    gateway: Arc<WsGateway>,
    on_upgrade: OnUpgrade,
    id: String,
    source_ip: String,
    connected_at: OffsetDateTime,
    mut outbound: mpsc::Receiver<Outbound>,
) {
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade failed");
            finish(&gateway, &id, &source_ip, connected_at).await;
            return;
        }
    };
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config()))
            .await;
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            incoming = tokio::time::timeout(gateway.idle_timeout, stream.next()) => {
                let message = match incoming {
                    Err(_) => {
                        let _ = sink.send(close(CloseCode::Away, "Going away")).await;
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        tracing::debug!(error = %e, "socket error");
                        let _ = sink.send(close(CloseCode::Size, "Message too big")).await;
                        break;
                    }
                    Ok(Some(Ok(message))) => message,
                };
                gateway.registry.touch(&id, OffsetDateTime::now_utc());
                let reply = match message {
                    Message::Text(text) => frame(&gateway, &id, &source_ip, connected_at, text.as_bytes(), false).await,
                    Message::Binary(bytes) => frame(&gateway, &id, &source_ip, connected_at, &bytes, true).await,
                    Message::Close(_) => break,
                    // Pings are answered by the protocol layer; pongs only keep the socket alive.
                    _ => None,
                };
                if let Some(reply) = reply
                    && sink.send(Message::text(reply)).await.is_err()
                {
                    break;
                }
            }
            queued = outbound.recv() => match queued {
                Some(Outbound::Text(text)) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close) | None => {
                    let _ = sink.send(close(CloseCode::Normal, "")).await;
                    break;
                }
            }
        }
    }
    finish(&gateway, &id, &source_ip, connected_at).await;
}

/// One client frame through its route; what goes back to this client, if anything.
async fn frame(
    gateway: &WsGateway,
    id: &str,
    source_ip: &str,
    connected_at: OffsetDateTime,
    payload: &[u8],
    is_binary: bool,
) -> Option<String> {
    if payload.len() > MAX_FRAME {
        // API Gateway refuses such frames before any function runs.
        let error = chatman::error::Error::PayloadTooLarge { limit: MAX_FRAME };
        return Some(error_frame("", None, &error).to_string());
    }
    let action = if is_binary {
        None
    } else {
        serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_owned))
    };
    let route_key = ws_route_for(action.as_deref());
    let function = gateway.function(route_key)?;
    let event = to_ws_event(&WsIncoming {
        connection_id: id,
        route_key,
        event_type: MESSAGE,
        domain_name: &gateway.domain,
        stage: STAGE,
        source_ip,
        connected_at_ms: millis(connected_at),
        query: vec![],
        headers: vec![],
        body: Some(payload),
        is_binary,
    });
    let answer = function.handle(to_ws_request(event).ok()?).await;
    if (200..300).contains(&answer.status_code) {
        answer.body
    } else {
        // What API Gateway sends a client when the integration fails.
        Some(
            serde_json::json!({"message": "Internal server error", "connectionId": id}).to_string(),
        )
    }
}

/// Forgets the socket and runs `$disconnect`.
async fn finish(gateway: &WsGateway, id: &str, source_ip: &str, connected_at: OffsetDateTime) {
    gateway.registry.remove(id);
    let Some(function) = gateway.function("$disconnect") else {
        return;
    };
    let event = to_ws_event(&WsIncoming {
        connection_id: id,
        route_key: "$disconnect",
        event_type: DISCONNECT,
        domain_name: &gateway.domain,
        stage: STAGE,
        source_ip,
        connected_at_ms: millis(connected_at),
        query: vec![],
        headers: vec![],
        body: None,
        is_binary: false,
    });
    if let Ok(request) = to_ws_request(event) {
        function.handle(request).await;
    }
}
