//! The opening handshake: a new connection id, the `$connect` event, and the 101 only if the
//! function answered 2xx (any other status is the handshake's answer, as on API Gateway).

use super::registry::{Entry, Outbound, QUEUE};
use super::{HyperResponse, STAGE, WsGateway, socket, status};
use base64::{Engine, engine::general_purpose::URL_SAFE};
use chatman::http::apigw::percent_decode;
use chatman::http::websocket::{CONNECT, WsIncoming, to_ws_event, to_ws_request};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

pub fn is_upgrade(req: &hyper::Request<Incoming>) -> bool {
    let has = |name: &str, token: &str| {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(token))
    };
    req.method() == hyper::Method::GET
        && has("upgrade", "websocket")
        && has("connection", "upgrade")
}

/// An id shaped like API Gateway's (`L0SM9cOFvHcCIhw=`): 80 random bits.
fn new_connection_id() -> String {
    URL_SAFE.encode(rand::random::<[u8; 10]>())
}

pub async fn upgrade(
    gateway: Arc<WsGateway>,
    mut req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> HyperResponse {
    let Some(key) = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        return status(400, "Sec-WebSocket-Key is required.");
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let id = new_connection_id();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect();
    let connected_at = OffsetDateTime::now_utc();
    let source_ip = peer.ip().to_string();
    let event = to_ws_event(&WsIncoming {
        connection_id: &id,
        route_key: "$connect",
        event_type: CONNECT,
        domain_name: &gateway.domain,
        stage: STAGE,
        source_ip: &source_ip,
        connected_at_ms: (connected_at.unix_timestamp_nanos() / 1_000_000) as i64,
        query,
        headers: headers.clone(),
        body: None,
        is_binary: false,
    });
    let Some(connect) = gateway.function("$connect") else {
        return status(500, "no $connect function");
    };
    let answer = match to_ws_request(event) {
        Ok(request) => connect.handle(request).await,
        Err(e) => {
            tracing::error!(error = %e, "building the $connect event");
            return status(500, "");
        }
    };
    if !(200..300).contains(&answer.status_code) {
        return status(answer.status_code, "");
    }

    // Registered before the 101 goes out, so a post right after `$connect` is queued, not lost.
    let (sender, outbound) = mpsc::channel::<Outbound>(QUEUE);
    let user_agent = headers
        .iter()
        .find(|(k, _)| k == "user-agent")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    gateway.registry.insert(
        &id,
        Entry {
            sender,
            connected_at,
            last_active_at: connected_at,
            source_ip: source_ip.clone(),
            user_agent,
        },
    );
    tokio::spawn(socket::run(
        gateway,
        on_upgrade,
        id,
        source_ip,
        connected_at,
        outbound,
    ));

    let mut response = status(101, "");
    let headers = response.headers_mut();
    headers.insert(
        "upgrade",
        hyper::header::HeaderValue::from_static("websocket"),
    );
    headers.insert(
        "connection",
        hyper::header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(accept) = derive_accept_key(&key).parse() {
        headers.insert("sec-websocket-accept", accept);
    }
    response
}
