//! Nothing secret reaches the logs: a full signup, login, refresh and reset is run with every log
//! line captured, and no code, token or password may appear in them. (The Django system logged
//! codes and secrets.)
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::{PASSWORD, TestApp};
use time::Duration;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_code_token_or_password_appears_in_the_logs() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let app = TestApp::new();
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned()];
    let started = app.start_signup("alice", "alice@example.com").await;
    let code = app.last_code("alice@example.com");
    secrets.push(code.clone());
    // A wrong code and a bad login are logged too, without what was typed.
    app.post(
        "/auth/signup/verify",
        json!({"signup_id": started.str("signup_id"), "code": "999999"}),
    )
    .await;
    let verified = app
        .post(
            "/auth/signup/verify",
            json!({"signup_id": started.str("signup_id"), "code": code}),
        )
        .await;
    assert_eq!(verified.status, 201);
    secrets.push(
        verified.body["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    secrets.push(
        verified.body["tokens"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    app.login("alice", "a wrong guess here").await;
    secrets.push("a wrong guess here".to_owned());
    let login = app.login("alice", PASSWORD).await;
    secrets.push(login.str("access_token"));
    secrets.push(login.str("refresh_token"));
    let refreshed = app
        .post(
            "/auth/token/refresh",
            json!({"refresh_token": login.str("refresh_token")}),
        )
        .await;
    secrets.push(refreshed.str("refresh_token"));
    // Reuse triggers a warning line: it must name the session, not the token.
    app.post(
        "/auth/token/refresh",
        json!({"refresh_token": login.str("refresh_token")}),
    )
    .await;
    app.post(
        "/auth/password/forgot",
        json!({"email": "alice@example.com"}),
    )
    .await;
    let token = app.last_reset_token("alice@example.com");
    secrets.push(token.clone());
    let new = "a brand new passphrase";
    secrets.push(new.to_owned());
    app.advance(Duration::seconds(1));
    let reset = app
        .post(
            "/auth/password/reset",
            json!({"token": token, "new_password": new, "confirm_password": new}),
        )
        .await;
    assert_eq!(reset.status, 204);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("account created"),
        "logging was captured: {text}"
    );
    assert!(text.contains("retired refresh token reused"));
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret leaked into the logs: {secret}"
        );
    }
    // The stored password hash never appears either.
    assert!(!text.contains("$argon2id$"));
}
