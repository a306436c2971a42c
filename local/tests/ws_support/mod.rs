//! Test helpers for the WebSocket side: a local server on free ports (memory store, or DynamoDB
//! Local), people signed up over real HTTP, tickets, and real WebSocket clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chatman_local::{LocalConfig, Running, start};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub const PASSWORD: &str = "correct horse battery staple";

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Local {
    pub running: Running,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

/// A person with an access token.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: String,
    pub username: String,
    pub token: String,
    pub refresh: String,
}

impl Person {
    /// The session the access token belongs to (its `sid` and `ep` claims), as a ticket of
    /// this person would carry it.
    pub fn session(&self) -> chatman::domain::SessionBinding {
        let payload = self.token.split('.').nth(1).expect("a JWT");
        let claims: Value =
            serde_json::from_slice(&chatman::security::secrets::decode(payload).unwrap()).unwrap();
        chatman::domain::SessionBinding {
            user_id: chatman::domain::UserId::parse(&self.id).unwrap(),
            session_id: chatman::domain::SessionId::parse(claims["sid"].as_str().unwrap()).unwrap(),
            epoch: claims["ep"].as_u64().unwrap(),
        }
    }
}

pub async fn local() -> Local {
    local_with(LocalConfig::embedded()).await
}

/// A local server on DynamoDB Local (`CHATMAN_TEST_DYNAMODB`), in a fresh table.
pub async fn local_on_dynamodb() -> Local {
    local_with(on_dynamodb(LocalConfig::embedded())).await
}

/// `config` on DynamoDB Local (`CHATMAN_TEST_DYNAMODB`), in a fresh table.
pub fn on_dynamodb(mut config: LocalConfig) -> LocalConfig {
    let endpoint = std::env::var("CHATMAN_TEST_DYNAMODB").unwrap_or_else(|_| {
        panic!("CHATMAN_TEST_DYNAMODB is not set: start DynamoDB Local (scripts/test does)")
    });
    config.dynamodb_endpoint = Some(endpoint);
    config.table = format!("test-{}", uuid_like());
    config
}

fn uuid_like() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub async fn local_with(config: LocalConfig) -> Local {
    let running = start(config).await.expect("the local server starts");
    Local {
        running,
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

impl Local {
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        self.send_keyed(method, path, body, token, None).await
    }

    /// As `send`, with an `Idempotency-Key` (money-moving routes).
    pub async fn send_keyed(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.running.http_url()));
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let res = self
            .client
            .request(req.body(Full::new(Bytes::from(bytes))).unwrap())
            .await
            .expect("the server answers");
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON")
        };
        (status, value)
    }

    /// A raw request to the WebSocket port (the `@connections` API).
    pub async fn management(&self, method: &str, path: &str) -> (u16, Value) {
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.running.ws_addr))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let res = self.client.request(req).await.expect("the server answers");
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Signs `username` up and verifies the code from the outbox.
    pub async fn person(&self, username: &str) -> Person {
        let email = format!("{username}@example.com");
        let (status, started) = self
            .send(
                "POST",
                "/auth/signup",
                Some(json!({"username": username, "email": email, "password": PASSWORD})),
                None,
            )
            .await;
        assert_eq!(status, 202, "{started}");
        let mail = self.running.outbox.to(Some(&email));
        let code = mail[0]
            .mail
            .subject
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        let (status, verified) = self
            .send(
                "POST",
                "/auth/signup/verify",
                Some(json!({"signup_id": started["signup_id"], "code": code})),
                None,
            )
            .await;
        assert_eq!(status, 201, "{verified}");
        Person {
            id: verified["user"]["id"].as_str().unwrap().to_owned(),
            username: username.to_owned(),
            token: verified["tokens"]["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
            refresh: verified["tokens"]["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }

    /// `POST /ws/tickets`: the ticket's URL.
    pub async fn ticket_url(&self, who: &Person) -> String {
        let (status, body) = self
            .send("POST", "/ws/tickets", None, Some(&who.token))
            .await;
        assert_eq!(status, 201, "{body}");
        body["url"].as_str().unwrap().to_owned()
    }

    /// A new connection of `who`.
    pub async fn connect(&self, who: &Person) -> Socket {
        let url = self.ticket_url(who).await;
        connect_async(url).await.expect("the handshake succeeds").0
    }
}

/// The handshake's HTTP status when it is refused, `None` when it succeeds.
pub async fn refused_status(url: &str) -> Option<u16> {
    match connect_async(url).await {
        Ok(_) => None,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Some(response.status().as_u16())
        }
        Err(e) => panic!("unexpected handshake failure: {e}"),
    }
}

pub async fn send_json(socket: &mut Socket, frame: Value) {
    socket
        .send(Message::text(frame.to_string()))
        .await
        .expect("the frame is sent");
}

/// The next JSON frame within 5 s.
pub async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .expect("a frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("a JSON frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Nothing arrives for `ms` milliseconds.
pub async fn silent_for(socket: &mut Socket, ms: u64) {
    if let Ok(Some(frame)) = tokio::time::timeout(Duration::from_millis(ms), socket.next()).await {
        panic!("expected silence, got {frame:?}");
    }
}

/// The close frame's code, waiting up to `secs`.
pub async fn closed_with(socket: &mut Socket, secs: u64) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => panic!("the socket stayed open"),
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
        }
    }
}
