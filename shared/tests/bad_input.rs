//! Hostile and broken requests: every one gets a problem+json answer (never a 500), and nothing
//! is written.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;
use support::{PASSWORD, TestApp};

#[tokio::test]
async fn malformed_json_is_invalid_json() {
    let app = TestApp::new();
    for body in [
        &b"{"[..],
        b"{\"username\": }",
        b"[1,2",
        b"not json",
        b"{\"a\":1} trailing",
        b"   ",
    ] {
        let reply = app
            .raw(
                "POST",
                "/auth/signup",
                vec![("content-type", "application/json")],
                body,
            )
            .await;
        assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(reply.code(), "invalid_json");
    }
}

#[tokio::test]
async fn wrong_types_and_missing_fields_name_the_field() {
    let app = TestApp::new();
    let cases = [
        (
            json!({"username": 5, "email": "a@b.co", "password": PASSWORD}),
            "username",
        ),
        (json!({"username": "alice", "email": "a@b.co"}), "password"),
        (
            json!({"username": "alice", "email": ["a@b.co"], "password": PASSWORD}),
            "email",
        ),
        (
            json!({"username": "alice", "email": "a@b.co", "password": PASSWORD, "role": "admin"}),
            "role",
        ),
        (json!([]), "body"),
    ];
    for (body, field) in cases {
        let reply = app.post("/auth/signup", body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.code(), "validation_failed", "{body}");
        assert_eq!(reply.body["errors"][0]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn a_code_sent_as_a_number_is_refused_not_coerced() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    let code: u32 = app.last_code("alice@example.com").parse().unwrap();
    let reply = app
        .post(
            "/auth/signup/verify",
            json!({"signup_id": started.str("signup_id"), "code": code}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errors"][0]["field"], "code");
}

#[tokio::test]
async fn malformed_ids_and_codes_are_validation_errors() {
    let app = TestApp::new();
    let reply = app
        .post(
            "/auth/signup/verify",
            json!({"signup_id": "nope", "code": "123456"}),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["field"], "signup_id");
    let reply = app
        .post(
            "/auth/signup/verify",
            json!({"signup_id": "0193a5c4-7e2b-7cc0-9a4e-2f1d3c5b6a70", "code": "12345"}),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["field"], "code");
}

#[tokio::test]
async fn a_huge_body_is_413_and_writes_nothing() {
    let app = TestApp::new();
    let body = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD, "bio": "x".repeat(100_000)});
    let reply = app.post("/auth/signup", body).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.code(), "payload_too_large");
    assert!(app.mails("alice@example.com").is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = TestApp::new();
    let body = serde_json::to_vec(&json!({"login": "a", "password": "b"})).unwrap();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let headers = content_type
            .map(|c| vec![("content-type", c)])
            .unwrap_or_default();
        let reply = app.raw("POST", "/auth/token", headers, &body).await;
        assert_eq!(reply.status, 415, "{content_type:?}");
        assert_eq!(reply.code(), "unsupported_media_type");
    }
    let charset = app
        .raw(
            "POST",
            "/auth/token",
            vec![("content-type", "application/json; charset=utf-8")],
            &body,
        )
        .await;
    assert_eq!(charset.status, 401);
}

#[tokio::test]
async fn an_oversized_password_at_login_is_just_wrong_credentials() {
    let app = TestApp::new();
    app.register("alice").await;
    let reply = app.login("alice", &"p".repeat(10_000)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.code(), "invalid_credentials");
}

fn forge(token: &str, edit: impl Fn(&mut serde_json::Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut claims);
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    )
}

#[tokio::test]
async fn garbage_tampered_and_foreign_tokens_are_401() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = alice.access.split('.').nth(1).unwrap();
    let alg_none = format!("{none_header}.{payload}.");
    let hs256_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let hs256 = format!("{hs256_header}.{payload}.c2lnbmF0dXJl");
    let other_key = chatman::security::jwt::TokenSigner::ephemeral(support::scope());
    let claims = app
        .signer
        .verifier()
        .verify(&alice.access, app.clock_now())
        .unwrap();
    let (foreign, _) = other_key
        .access_token(
            &claims.user_id,
            &claims.session_id,
            claims.epoch,
            app.clock_now(),
        )
        .unwrap();
    let bob_sub = app
        .signer
        .verifier()
        .verify(&bob.access, app.clock_now())
        .unwrap()
        .user_id
        .to_string();
    let swapped = forge(&alice.access, |c| c["sub"] = json!(bob_sub));
    let cases = [
        ("garbage", "garbage".to_owned()),
        ("empty", String::new()),
        ("alg none", alg_none),
        ("hs256", hs256),
        ("another key", foreign),
        ("tampered sub", swapped),
        ("refresh token as access", alice.refresh.clone()),
    ];
    for (why, token) in cases {
        let reply = app.call("GET", "/me", None, Some(&token)).await;
        assert_eq!(reply.status, 401, "{why}");
        assert_eq!(reply.code(), "unauthorized", "{why}");
    }
    for scheme in ["Basic abc", "Bearer", "bearer  ", "Token x"] {
        let reply = app
            .raw("GET", "/me", vec![("authorization", scheme)], b"")
            .await;
        assert_eq!(reply.status, 401, "{scheme}");
    }
    // Lower-case scheme is fine.
    let lower = format!("bearer {}", alice.access);
    assert_eq!(
        app.raw("GET", "/me", vec![("authorization", lower.as_str())], b"")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_failed_request_never_leaks_internals() {
    let app = TestApp::new();
    let reply = app
        .raw(
            "POST",
            "/auth/signup",
            vec![("content-type", "application/json")],
            b"{\"username\":",
        )
        .await;
    let text = reply.body.to_string();
    assert!(!text.contains("serde"));
    assert!(!text.contains("line"));
}
