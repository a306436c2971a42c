//! The bank test over real HTTP against the local server: the whole path (gateway emulation,
//! handler, JSON, `Idempotency-Key` and `Idempotent-Replayed` headers) under concurrent load.
//! A smaller plan than the handler-level runs (`shared/tests/bank.rs`), same driver and checks.
#![allow(clippy::unwrap_used)]

#[path = "../../shared/tests/bank_driver/mod.rs"]
mod bank;

use bank::{Customer, Outcome, Pending, Plan, SeedGuard, Teller};
use chatman_local::{LocalConfig, start};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::sync::Arc;

const PASSWORD: &str = "correct horse battery staple";

struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Outcome {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let bytes = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                b.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let res = self
            .client
            .request(req.body(Full::new(Bytes::from(bytes))).unwrap())
            .await
            .expect("the server answers");
        let status = res.status().as_u16();
        let replayed = res
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Outcome {
            status,
            replayed,
            body: if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&body).expect("JSON")
            },
        }
    }

    async fn register(&self, username: &str) -> Customer {
        let email = format!("{username}@example.com");
        let started = self
            .send(
                "POST",
                "/auth/signup",
                None,
                None,
                Some(&json!({"username": username, "email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(started.status, 202, "{}", started.body);
        let outbox = self
            .send(
                "GET",
                &format!("/_local/outbox?to={username}%40example.com"),
                None,
                None,
                None,
            )
            .await;
        let code = outbox.body["items"][0]["subject"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        let verified = self
            .send(
                "POST",
                "/auth/signup/verify",
                None,
                None,
                Some(&json!({"signup_id": started.body["signup_id"], "code": code})),
            )
            .await;
        assert_eq!(verified.status, 201, "{}", verified.body);
        Customer {
            username: username.to_owned(),
            token: verified.body["tokens"]["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }
}

impl Teller for Http {
    fn call(
        &self,
        method: &'static str,
        path: String,
        token: String,
        key: Option<String>,
        body: Option<Value>,
    ) -> Pending<'_> {
        Box::pin(async move {
            self.send(method, &path, Some(&token), key.as_deref(), body.as_ref())
                .await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bank_balances_over_http_against_the_local_server() {
    let seed = bank::seed();
    let _guard = SeedGuard(seed, "HTTP, local server");
    let running = start(LocalConfig {
        admins: "root".into(),
        ..LocalConfig::embedded()
    })
    .await
    .expect("the local server starts");
    let http = Http {
        base: running.http_url(),
        client: Client::builder(TokioExecutor::new()).build_http(),
    };
    let admin = http.register("root").await;
    let mut customers = Vec::new();
    for i in 0..10 {
        customers.push(http.register(&format!("customer{i:02}")).await);
    }
    // Each customer listens on a WebSocket: every credit must arrive there as `transfer_received`.
    let mut sockets = Vec::new();
    for customer in &customers {
        let ticket = http
            .send("POST", "/ws/tickets", Some(&customer.token), None, None)
            .await;
        assert_eq!(ticket.status, 201, "{}", ticket.body);
        let url = ticket.body["url"].as_str().unwrap().to_owned();
        sockets.push(tokio_tungstenite::connect_async(url).await.unwrap().0);
    }
    bank::run(
        Arc::new(http),
        &admin,
        customers,
        seed,
        Plan {
            transfers: 300,
            tasks: 8,
        },
    )
    .await;
    let mut received = 0;
    for socket in &mut sockets {
        use futures_util::StreamExt;
        let quiet = std::time::Duration::from_millis(500);
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(quiet, socket.next()).await {
            let event: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
            if event["type"] == "transfer_received" {
                received += 1;
            }
        }
    }
    assert!(
        received > 10,
        "every credit was pushed to a socket ({received})"
    );
    running.stop();
}
