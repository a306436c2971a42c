//! The WebSocket functions driven through their handlers with API Gateway's own event shapes and
//! a manual clock: tickets (single use, 60 s, rate limited), `$connect`, `ws-message` (ping and
//! the error path), `$disconnect`, and the sample events in `events/` for all four functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chatman::domain::UserId;
use chatman::handlers::websocket::WsFunction;
use chatman::handlers::{
    Context, Function, ws_actions::Actions, ws_connect::WsConnect, ws_disconnect::WsDisconnect,
    ws_message::WsMessage, ws_ticket::WsTicket,
};
use chatman::http::apigw::{Incoming, to_event, to_request};
use chatman::http::websocket::{
    CONNECT, DISCONNECT, MESSAGE, WsIncoming, WsResponse, to_ws_event, to_ws_request,
};
use chatman::ports::{Clock, ConnectionApi, ConnectionStore};
use chatman::settings::Settings;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Account, TestApp, scope};
use time::Duration;

struct Realtime {
    app: TestApp,
    connections: Arc<dyn ConnectionStore>,
    ticket: WsTicket,
    connect: WsConnect,
    message: WsMessage,
    disconnect: WsDisconnect,
}

fn realtime() -> Realtime {
    let app = TestApp::new();
    let ctx = Context {
        store: app.store.clone(),
        clock: app.clock.clone() as Arc<dyn Clock>,
        settings: Arc::new(Settings::new("", "https://app.example", scope())),
        ledger: app.ledger.clone(),
    };
    let connections: Arc<dyn ConnectionStore> = app.connections.clone();
    let api: Arc<dyn ConnectionApi> = app.socket_api.clone();
    Realtime {
        ticket: WsTicket::new(
            ctx.clone(),
            app.signer.verifier().clone(),
            connections.clone(),
            "wss://ws.test/live",
        ),
        connect: WsConnect::new(ctx.clone(), connections.clone(), api.clone()),
        message: WsMessage::new(
            ctx.clone(),
            connections.clone(),
            api,
            Actions::new(app.chat.clone(), &ctx),
        ),
        disconnect: WsDisconnect::new(app.store.clone(), connections.clone()),
        connections,
        app,
    }
}

fn ws_event(
    connection: &str,
    route_key: &str,
    event_type: &str,
    ticket: Option<&str>,
    body: Option<&[u8]>,
) -> chatman::http::websocket::WsRequest {
    to_ws_request(to_ws_event(&WsIncoming {
        connection_id: connection,
        route_key,
        event_type,
        domain_name: "ws.test",
        stage: "live",
        source_ip: "203.0.113.7",
        connected_at_ms: 0,
        query: ticket
            .map(|t| vec![("ticket".to_owned(), t.to_owned())])
            .unwrap_or_default(),
        headers: vec![],
        body,
        is_binary: false,
    }))
    .unwrap()
}

fn reply(response: &WsResponse) -> Value {
    assert_eq!(response.status_code, 200);
    serde_json::from_str(response.body.as_deref().expect("a reply")).unwrap()
}

impl Realtime {
    async fn post_ticket(&self, token: Option<&str>) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("host".to_owned(), "api.test".to_owned())];
        if let Some(a) = auth {
            headers.push(("authorization".to_owned(), a));
        }
        let event = to_event(&Incoming {
            method: "POST",
            path: "/ws/tickets",
            raw_query: "",
            headers,
            body: b"",
            route_key: "POST /ws/tickets",
            path_params: vec![],
            source_ip: "203.0.113.7".into(),
            host: "api.test".into(),
        });
        let response = self.ticket.handle(to_request(event).unwrap()).await;
        let bytes: &[u8] = response.body().as_ref();
        (
            response.status().as_u16(),
            serde_json::from_slice(bytes).unwrap(),
        )
    }

    async fn ticket_for(&self, who: &Account) -> String {
        let (status, body) = self.post_ticket(Some(&who.access)).await;
        assert_eq!(status, 201, "{body}");
        body["ticket"].as_str().unwrap().to_owned()
    }

    async fn open(&self, connection: &str, ticket: &str) -> u16 {
        self.connect
            .handle(ws_event(
                connection,
                "$connect",
                CONNECT,
                Some(ticket),
                None,
            ))
            .await
            .status_code
    }

    async fn frame(&self, connection: &str, route_key: &str, body: &str) -> WsResponse {
        self.message
            .handle(ws_event(
                connection,
                route_key,
                MESSAGE,
                None,
                Some(body.as_bytes()),
            ))
            .await
    }
}

#[tokio::test]
async fn a_ticket_is_shown_once_with_the_url_to_connect_to() {
    let rt = realtime();
    let alice = rt.app.register("alice").await;
    let (status, body) = rt.post_ticket(Some(&alice.access)).await;
    assert_eq!(status, 201, "{body}");
    let ticket = body["ticket"].as_str().unwrap();
    assert!(ticket.len() >= 43, "256 random bits");
    assert_eq!(
        body["url"],
        json!(format!("wss://ws.test/live?ticket={ticket}"))
    );
    assert_eq!(body["expires_at"], "2026-11-22T10:01:00.000Z");
    let (status, body) = rt.post_ticket(None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
}

#[tokio::test]
async fn a_ticket_opens_one_connection_within_its_60_seconds() {
    let rt = realtime();
    let alice = rt.app.register("alice").await;
    let ticket = rt.ticket_for(&alice).await;
    assert_eq!(rt.open("c1", &ticket).await, 200);
    assert_eq!(rt.open("c2", &ticket).await, 401, "used");

    let late = rt.ticket_for(&alice).await;
    rt.app.advance(Duration::seconds(60));
    assert_eq!(rt.open("c3", &late).await, 401, "expired");
    assert_eq!(rt.open("c4", "").await, 401, "empty");
    assert_eq!(
        rt.connect
            .handle(ws_event("c5", "$connect", CONNECT, None, None))
            .await
            .status_code,
        401,
        "missing"
    );
    let owned: Vec<_> = rt
        .connections
        .connections_of(&UserId::parse(&alice.id).unwrap(), rt.app.clock_now())
        .await
        .unwrap();
    assert_eq!(owned.len(), 1);
    assert_eq!(owned[0].id.as_str(), "c1");
}

#[tokio::test]
async fn tickets_are_rate_limited_per_person() {
    let rt = realtime();
    let alice = rt.app.register("alice").await;
    for _ in 0..30 {
        rt.ticket_for(&alice).await;
    }
    let (status, body) = rt.post_ticket(Some(&alice.access)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "rate_limited");
}

#[tokio::test]
async fn ping_answers_pong_and_errors_answer_only_the_caller() {
    let rt = realtime();
    let alice = rt.app.register("alice").await;
    let ticket = rt.ticket_for(&alice).await;
    rt.open("c1", &ticket).await;
    assert_eq!(
        reply(&rt.frame("c1", "ping", r#"{"action":"ping"}"#).await),
        json!({"type": "pong"})
    );
    let error = reply(
        &rt.frame("c1", "$default", r#"{"action":"fly","client_id":"k1"}"#)
            .await,
    );
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "unknown_action");
    assert_eq!(error["action"], "fly");
    assert_eq!(error["client_id"], "k1");
    let missing = reply(&rt.frame("c1", "$default", r#"{"room_id":"x"}"#).await);
    assert_eq!(missing["code"], "validation_failed");
    assert!(missing["message"].as_str().unwrap().contains("action"));
}

#[tokio::test]
async fn a_frame_from_an_unknown_or_closed_connection_is_refused() {
    let rt = realtime();
    let alice = rt.app.register("alice").await;
    // The refusal goes through `@connections` (it must arrive before the close), then the close.
    let stranger = rt.frame("nobody", "ping", r#"{"action":"ping"}"#).await;
    assert!(stranger.body.is_none(), "no route response: {stranger:?}");
    let told = rt.app.socket_api.posted();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].0.as_str(), "nobody");
    let event: Value = serde_json::from_str(&told[0].1).unwrap();
    assert_eq!(event["code"], "unauthorized");
    assert_eq!(rt.app.socket_api.closed().len(), 1);

    let ticket = rt.ticket_for(&alice).await;
    rt.open("c1", &ticket).await;
    let closed = rt
        .disconnect
        .handle(ws_event("c1", "$disconnect", DISCONNECT, None, None))
        .await;
    assert_eq!(closed.status_code, 200);
    rt.frame("c1", "ping", r#"{"action":"ping"}"#).await;
    let told = rt.app.socket_api.posted();
    let event: Value = serde_json::from_str(&told[1].1).unwrap();
    assert_eq!(
        (told[1].0.as_str(), &event["code"]),
        ("c1", &json!("unauthorized"))
    );
    assert_eq!(rt.app.socket_api.closed()[1].as_str(), "c1");
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_ws_ticket_event_needs_a_real_token() {
    let rt = realtime();
    let event = sample("ws-ticket");
    assert_eq!(
        chatman::handlers::routes::function_of(event["routeKey"].as_str().unwrap()),
        Some("ws-ticket")
    );
    let response = rt.ticket.handle(to_request(event).unwrap()).await;
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn the_websocket_events_connect_ping_and_disconnect_once_their_ticket_is_real() {
    let rt = realtime();
    let alice = rt.app.register("alice").await;
    for name in ["ws-connect", "ws-message", "ws-disconnect"] {
        let route = sample(name)["requestContext"]["routeKey"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            chatman::handlers::routes::ws_function_of(&route),
            Some(name),
            "{name}.json routes to its own function"
        );
    }
    let refused = rt
        .connect
        .handle(to_ws_request(sample("ws-connect")).unwrap())
        .await;
    assert_eq!(refused.status_code, 401, "the placeholder ticket");

    let mut connect = sample("ws-connect");
    connect["queryStringParameters"]["ticket"] = json!(rt.ticket_for(&alice).await);
    let opened = rt.connect.handle(to_ws_request(connect).unwrap()).await;
    assert_eq!(opened.status_code, 200);

    let pong = rt
        .message
        .handle(to_ws_request(sample("ws-message")).unwrap())
        .await;
    assert_eq!(reply(&pong), json!({"type": "pong"}));

    let closed = rt
        .disconnect
        .handle(to_ws_request(sample("ws-disconnect")).unwrap())
        .await;
    assert_eq!(closed.status_code, 200);
    let id = chatman::domain::ConnectionId::parse("L0SM9cOFvHcCIhw=").unwrap();
    assert!(
        rt.connections
            .connection(&id, rt.app.clock_now())
            .await
            .unwrap()
            .is_none()
    );
}
