//! The local server as a person with curl uses it: real HTTP on a free port, emails read from
//! `/_local/outbox`, every route reaching its function.

use chatman::handlers::routes::ROUTES;
use chatman_local::{LocalConfig, start};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

struct Http {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Http {
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
            .expect("a valid request");
        let res = self.client.request(req).await.expect("the server answers");
        let status = res.status().as_u16();
        let bytes = res
            .into_body()
            .collect()
            .await
            .expect("a whole body")
            .to_bytes();
        (
            status,
            if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("JSON")
            },
        )
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        body: Value,
        token: Option<&str>,
    ) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        self.send(method, path, Some(body.to_string().as_bytes()), &headers)
            .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        self.send("GET", path, None, &[("authorization", &auth)])
            .await
    }
}

async fn server() -> (chatman_local::Running, Http) {
    let running = start(LocalConfig::embedded())
        .await
        .expect("the local server starts");
    let client = Client::builder(TokioExecutor::new()).build_http();
    let http = Http {
        base: running.http_url(),
        client,
    };
    (running, http)
}

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn a_person_with_curl_signs_up_logs_in_resets_and_edits() {
    let (running, http) = server().await;

    let (status, started) = http
        .json(
            "POST",
            "/auth/signup",
            json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let (_, outbox) = http
        .send("GET", "/_local/outbox?to=ALICE%40example.com", None, &[])
        .await;
    let mail = &outbox["items"][0];
    assert_eq!(mail["to"], "alice@example.com");
    assert!(mail["sent_at"].as_str().is_some());
    let code = mail["subject"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(mail["text"].as_str().unwrap().contains(code));

    let (status, verified) = http
        .json(
            "POST",
            "/auth/signup/verify",
            json!({"signup_id": started["signup_id"], "code": code}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{verified}");

    let (status, tokens) = http
        .json(
            "POST",
            "/auth/token",
            json!({"login": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, tokens) = http
        .json(
            "POST",
            "/auth/token/refresh",
            json!({"refresh_token": tokens["refresh_token"]}),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let (status, _) = http
        .json(
            "POST",
            "/auth/password/forgot",
            json!({"email": "alice@example.com"}),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let (_, outbox) = http
        .send("GET", "/_local/outbox?to=alice@example.com", None, &[])
        .await;
    let text = outbox["items"][0]["text"].as_str().unwrap();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/reset-password?token="))
        .expect("a reset link");
    assert!(
        link.starts_with(&running.http_url()),
        "links point at this server by default: {link}"
    );
    let token = link.split("token=").nth(1).unwrap();
    let new = "a brand new passphrase";
    let (status, _) = http
        .json(
            "POST",
            "/auth/password/reset",
            json!({"token": token, "new_password": new, "confirm_password": new}),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = http
        .get("/me", tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 401, "a reset ends every session");

    let (_, tokens) = http
        .json(
            "POST",
            "/auth/token",
            json!({"login": "alice@example.com", "password": new}),
            None,
        )
        .await;
    let access = tokens["access_token"].as_str().unwrap();
    let (status, me) = http
        .json(
            "PATCH",
            "/me",
            json!({"first_name": "Alice", "bio": "hello"}),
            Some(access),
        )
        .await;
    assert_eq!((status, me["bio"].as_str()), (200, Some("hello")));

    let (_, bob) = http
        .json(
            "POST",
            "/auth/signup",
            json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    let (_, outbox) = http
        .send("GET", "/_local/outbox?to=bob@example.com", None, &[])
        .await;
    let bob_code = outbox["items"][0]["subject"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    http.json(
        "POST",
        "/auth/signup/verify",
        json!({"signup_id": bob["signup_id"], "code": bob_code}),
        None,
    )
    .await;
    let (status, found) = http.get("/users?q=%40b", access).await;
    assert_eq!(status, 200);
    assert_eq!(found["items"][0]["username"], "bob");
    let (status, _) = http
        .send(
            "POST",
            "/users/bob/block",
            None,
            &[("authorization", &format!("Bearer {access}"))],
        )
        .await;
    assert_eq!(status, 204);
    let (_, blocks) = http.get("/me/blocks", access).await;
    assert_eq!(blocks["items"][0]["username"], "bob");
    running.stop();
}

#[tokio::test]
async fn every_route_reaches_its_function() {
    let (running, http) = server().await;
    for (function, key) in ROUTES {
        let (method, template) = key.split_once(' ').unwrap();
        let path = template.replace("{username}", "someone");
        let (status, body) = http.send(method, &path, None, &[]).await;
        // Every function answers a body-less, token-less call with its own error, never "no route".
        assert_ne!(body["detail"], "No such route.", "{function}: {key}");
        assert!((400..500).contains(&status), "{key}: {status} {body}");
    }
    running.stop();
}

#[tokio::test]
async fn unknown_routes_are_problem_404s() {
    let (running, http) = server().await;
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/auth/token"),
        ("PUT", "/me"),
        ("GET", "/_local/nope"),
    ] {
        let (status, body) = http.send(method, path, None, &[]).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(body["code"], "not_found");
    }
    running.stop();
}

#[tokio::test]
async fn the_gateway_refuses_bodies_over_its_limit() {
    let (running, http) = server().await;
    let huge = vec![b'x'; chatman_local::gateway::MAX_PAYLOAD + 1];
    let (status, body) = http
        .send(
            "POST",
            "/auth/signup",
            Some(&huge),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(status, 413);
    assert_eq!(body["code"], "payload_too_large");
    running.stop();
}

#[tokio::test]
async fn browsers_get_cors_headers_and_preflight_answers() {
    let running = start(LocalConfig::embedded())
        .await
        .expect("the local server starts");
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let preflight = hyper::Request::builder()
        .method("OPTIONS")
        .uri(format!("{}/auth/token", running.http_url()))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let res = client.request(preflight).await.expect("answer");
    assert_eq!(res.status().as_u16(), 204);
    let allowed = res
        .headers()
        .get("access-control-allow-headers")
        .expect("allow-headers");
    assert!(allowed.to_str().expect("text").contains("authorization"));
    let get = hyper::Request::builder()
        .uri(format!("{}/me", running.http_url()))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let res = client.request(get).await.expect("answer");
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(
        res.headers()
            .get("access-control-allow-origin")
            .expect("origin"),
        "*"
    );
    running.stop();
}

/// Forgot-password over real HTTP with a mail service that takes 50 ms: the medians of thirty
/// answers for registered and unregistered emails differ by less than 5 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_takes_as_long_for_known_and_unknown_emails() {
    let config = LocalConfig {
        mail_latency_ms: 50,
        ..LocalConfig::embedded()
    };
    let running = start(config).await.expect("the local server starts");
    let http = std::sync::Arc::new(Http {
        base: running.http_url(),
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    // Thirty accounts, so the per-email reset cap never spares the known path its work.
    for i in 0..30 {
        let email = format!("known{i}@example.com");
        let body = json!({"username": format!("known{i}"), "email": email, "password": PASSWORD});
        let (_, started) = http.json("POST", "/auth/signup", body, None).await;
        let (_, outbox) = http
            .send("GET", &format!("/_local/outbox?to={email}"), None, &[])
            .await;
        let subject = outbox["items"][0]["subject"].as_str().expect("a code mail");
        let code = subject.split_whitespace().next().expect("code");
        let verify = json!({"signup_id": started["signup_id"], "code": code});
        let (status, _) = http.json("POST", "/auth/signup/verify", verify, None).await;
        assert_eq!(status, 201);
    }
    let timed = |email: String| {
        let http = http.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let (status, _) = http
                .json(
                    "POST",
                    "/auth/password/forgot",
                    json!({"email": email}),
                    None,
                )
                .await;
            assert_eq!(status, 202);
            started.elapsed()
        })
    };
    let (mut known, mut unknown) = (vec![], vec![]);
    for batch in 0..3 {
        let tasks: Vec<_> = (batch * 10..batch * 10 + 10)
            .flat_map(|i| {
                [
                    (true, timed(format!("known{i}@example.com"))),
                    (false, timed(format!("nobody{i}@example.com"))),
                ]
            })
            .collect();
        for (is_known, task) in tasks {
            let took = task.await.expect("request");
            if is_known { &mut known } else { &mut unknown }.push(took);
        }
    }
    let median = |mut v: Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (known, unknown) = (median(known), median(unknown));
    let gap = known.abs_diff(unknown);
    assert!(
        gap < std::time::Duration::from_millis(5),
        "medians differ by {gap:?} (known {known:?}, unknown {unknown:?})"
    );
    let (_, mails) = http.send("GET", "/_local/outbox", None, &[]).await;
    let resets = mails["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|m| m["subject"] == "Reset your Chatman password")
        .count();
    assert_eq!(resets, 30, "every known email was mailed");
    running.stop();
}
