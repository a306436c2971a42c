//! The sample events in `events/` (what `sam local invoke -e` would send) go through the handler
//! of their function and get that route's real answer.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::handlers::routes;
use chatman::http::apigw::to_request;
use support::TestApp;

fn event(name: &str) -> serde_json::Value {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn run(app: &TestApp, name: &str) -> (u16, serde_json::Value) {
    let ev = event(name);
    let route_key = ev["routeKey"].as_str().expect("routeKey").to_owned();
    assert_eq!(
        routes::function_of(&route_key),
        Some(name),
        "{name}.json routes to its own function"
    );
    let request = to_request(ev).expect("a valid API Gateway 2.0 event");
    let response = app.function(name).handle(request).await;
    let status = response.status().as_u16();
    let bytes: &[u8] = response.body().as_ref();
    (
        status,
        if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(bytes).unwrap()
        },
    )
}

#[tokio::test]
async fn every_function_has_a_sample_event() {
    let mut names: Vec<&str> = routes::ROUTES.iter().map(|(f, _)| *f).collect();
    names.dedup();
    for name in names {
        event(name);
    }
}

#[tokio::test]
async fn the_signup_event_starts_a_signup() {
    let app = TestApp::new();
    let (status, body) = run(&app, "signup").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(app.mails("sample@example.com").len(), 1);
}

#[tokio::test]
async fn the_verify_otp_event_asks_for_a_signup_that_does_not_exist_here() {
    let (status, body) = run(&TestApp::new(), "verify-otp").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn the_token_event_logs_in_the_sample_user_once_registered() {
    let app = TestApp::new();
    let (status, _) = run(&app, "token").await;
    assert_eq!(status, 401, "nobody is registered yet");
    let started = app
        .post("/auth/signup", serde_json::json!({"username": "sample_user", "email": "sample@example.com", "password": support::PASSWORD}))
        .await;
    let code = app.last_code("sample@example.com");
    app.post(
        "/auth/signup/verify",
        serde_json::json!({"signup_id": started.str("signup_id"), "code": code}),
    )
    .await;
    let (status, body) = run(&app, "token").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn the_reset_event_requests_a_reset_link() {
    let (status, _) = run(&TestApp::new(), "reset").await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn the_profile_event_needs_a_real_token() {
    let (status, body) = run(&TestApp::new(), "profile").await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn the_wallet_event_needs_a_real_token() {
    let (status, body) = run(&TestApp::new(), "wallet").await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn the_transfer_event_needs_a_real_token() {
    let (status, body) = run(&TestApp::new(), "transfer").await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn the_deposit_event_needs_a_real_token() {
    let (status, body) = run(&TestApp::new(), "deposit").await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn the_donate_event_views_a_link_publicly_and_this_one_does_not_exist() {
    let (status, body) = run(&TestApp::new(), "donate").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
}

/// Runs `name`'s event with a real access token (and, when given, a real room id).
async fn run_as(
    app: &TestApp,
    name: &str,
    token: &str,
    room: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut text = serde_json::to_string(&event(name)).unwrap();
    text = text.replace("REPLACE_WITH_ACCESS_TOKEN", token);
    if let Some(room) = room {
        text = text.replace("0193a0b4-7c2e-7d3f-8a4b-5c6d7e8f9a0b", room);
    }
    let request = to_request(serde_json::from_str(&text).unwrap()).unwrap();
    let response = app.function(name).handle(request).await;
    let bytes: &[u8] = response.body().as_ref();
    (
        response.status().as_u16(),
        serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn the_rooms_event_lists_the_callers_rooms() {
    let app = TestApp::new();
    let (status, _) = run(&app, "rooms").await;
    assert_eq!(status, 401, "the sample token is a placeholder");
    let me = app.register("sample_user").await;
    let (status, body) = run_as(&app, "rooms", &me.access, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], serde_json::json!([]));
}

#[tokio::test]
async fn the_messages_event_posts_into_a_room_of_the_caller() {
    let app = TestApp::new();
    let me = app.register("sample_user").await;
    let (status, body) = run_as(&app, "messages", &me.access, None).await;
    assert_eq!(status, 404, "no such room: {body}");
    let room = app
        .call(
            "POST",
            "/rooms",
            Some(serde_json::json!({"kind": "group", "name": "Sample"})),
            Some(&me.access),
        )
        .await;
    let (status, body) = run_as(&app, "messages", &me.access, Some(&room.str("id"))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["text"].as_str(), body["client_id"].as_str()),
        (Some("hello"), Some("c-1"))
    );
}
