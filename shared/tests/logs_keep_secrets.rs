//! Nothing secret reaches the logs: a full signup, login, refresh and reset is run with every log
//! line captured in the JSON format the Lambdas write, and no code, token or password may appear
//! in them, nor the person's username or email (the logs name people by their opaque id). (The
//! Django system logged codes and secrets.)
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
    let subscriber = chatman::telemetry::json_lines()
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

    // An authenticated request, so its lines carry the caller's id (the reset ended the
    // earlier sessions: log in with the new password).
    let fresh = app.login("alice", new).await;
    secrets.push(fresh.str("access_token"));
    secrets.push(fresh.str("refresh_token"));
    let me = app
        .call("GET", "/me", None, Some(&fresh.str("access_token")))
        .await;
    assert_eq!(me.status, 200);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    check_json_lines(&text, me.str("id").as_str());
    for person in ["alice@example.com", "\"alice\""] {
        assert!(
            !text.contains(person),
            "{person} appears in the logs: {text}"
        );
    }
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

/// Every line is one JSON object with the one field set; a request's lines carry its span, and
/// an authenticated one names the caller by id.
fn check_json_lines(text: &str, user_id: &str) {
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    for line in &lines {
        assert!(
            line["level"].is_string() && line["message"].is_string(),
            "{line}"
        );
    }
    let answered: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "answered")
        .collect();
    assert!(!answered.is_empty(), "each request logs its answer");
    for line in &answered {
        let span = &line["span"];
        assert_eq!(span["name"], "request");
        assert!(
            span["function"].is_string() && span["route"].is_string(),
            "{line}"
        );
        assert!(span["api_request_id"].is_string() && span["request_id"].is_string());
        assert!(
            line["status"].is_u64() && line["latency_ms"].is_number(),
            "{line}"
        );
    }
    let me = answered
        .iter()
        .find(|l| l["span"]["route"] == "GET /me")
        .expect("GET /me answered");
    assert_eq!(me["span"]["user_id"], user_id);
    assert_eq!(me["span"]["function"], "profile");
    assert_eq!(me["status"], 200);
}

/// Every record of `domain/records.rs`, and `Mail`, printed with `{:?}` (as errors and traces do)
/// with secrets planted in every field that could hold one: none of them may show.
#[test]
fn debug_output_of_every_record_and_mail_holds_no_secret() {
    use chatman::domain::*;
    use chatman::ports::Mail;

    let now = support::start_time();
    let password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$UExBTlRFRC1IQVNILU1BVEVSSUFM";
    let email = Email::parse("planted.secret@example.com").unwrap();
    let code_hash = [0xab_u8; 32];
    let token_hash = TokenHash([0xcd; 32]);
    let user = User {
        id: UserId::new(),
        username: Username::parse("alice").unwrap(),
        email: email.clone(),
        password_hash: password_hash.into(),
        first_name: "Alice".into(),
        last_name: String::new(),
        bio: String::new(),
        avatar_key: None,
        role: Role::User,
        group_adds: Default::default(),
        created_at: now,
        session_epoch: 0,
        version: 0,
    };
    let signup = PendingSignup {
        id: SignupId::new(),
        username: user.username.clone(),
        email: email.clone(),
        password_hash: password_hash.into(),
        first_name: String::new(),
        last_name: String::new(),
        bio: String::new(),
        email_taken: false,
        code_hash,
        code_round: 0,
        code_expires_at: now,
        failed_attempts: 0,
        resends: 0,
        last_sent_at: now,
        created_at: now,
        expires_at: now,
        version: 0,
    };
    let session = Session {
        id: SessionId::new(),
        user_id: user.id,
        epoch: 0,
        created_at: now,
        expires_at: now,
        revoked: false,
    };
    let refresh = RefreshRecord {
        hash: token_hash,
        session_id: session.id,
        user_id: user.id,
        active: true,
        expires_at: now,
    };
    let reset = ResetTicket {
        user_id: user.id,
        secret_hash: token_hash,
        expires_at: now,
    };
    let tally = Tally {
        count: 3,
        locked_until: Some(now),
        version: 2,
    };
    let mail = Mail {
        to: email.to_string(),
        subject: "482913 is your Chatman code".into(),
        text: "Reset: https://app.example/reset-password?token=planted-reset-token".into(),
        html: "<p>planted-html-body</p>".into(),
    };
    let printed = [
        ("User", format!("{user:?}")),
        ("PendingSignup", format!("{signup:?}")),
        ("Session", format!("{session:?}")),
        ("RefreshRecord", format!("{refresh:?}")),
        ("ResetTicket", format!("{reset:?}")),
        ("Tally", format!("{tally:?}")),
        ("TokenHash", format!("{token_hash:?}")),
        ("Mail", format!("{mail:?}")),
    ];

    // A record added to records.rs must be added here too.
    let declared: std::collections::BTreeSet<&str> = include_str!("../src/domain/records.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub struct "))
        .filter_map(|rest| rest.split(|c: char| !c.is_alphanumeric()).next())
        .collect();
    let covered: std::collections::BTreeSet<&str> = printed.iter().map(|(name, _)| *name).collect();
    assert!(
        declared.is_subset(&covered),
        "records without a Debug check: {:?}",
        declared.difference(&covered).collect::<Vec<_>>()
    );

    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let secrets = [
        password_hash.to_owned(),
        "$argon2id$".to_owned(),
        "UExBTlRFRC1IQVNILU1BVEVSSUFM".to_owned(),
        email.to_string(),
        "planted.secret".to_owned(),
        hex(&code_hash),
        hex(&token_hash.0),
        "171, 171".to_owned(), // the code hash as a byte array
        "205, 205".to_owned(), // the token hash as a byte array
        "482913".to_owned(),
        "planted-reset-token".to_owned(),
        "planted-html-body".to_owned(),
    ];
    for (name, text) in &printed {
        assert!(text.starts_with(name), "{name} prints as itself: {text}");
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{name}'s Debug shows {secret:?}: {text}"
            );
        }
    }
    // Redacted, not emptied: what identifies a record is still there for debugging.
    assert!(
        printed[0].1.contains(&user.id.to_string()),
        "{}",
        printed[0].1
    );
    assert!(printed[1].1.contains("failed_attempts"), "{}", printed[1].1);
}
