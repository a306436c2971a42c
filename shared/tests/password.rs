//! POST /auth/password/forgot, /auth/password/reset and /auth/password/change.

mod support;

use serde_json::json;
use support::{PASSWORD, TestApp};
use time::Duration;

const NEW: &str = "a brand new passphrase";

async fn reset(app: &TestApp, token: &str, new: &str, confirm: &str) -> support::Reply {
    app.post(
        "/auth/password/reset",
        json!({"token": token, "new_password": new, "confirm_password": confirm}),
    )
    .await
}

async fn forgot(app: &TestApp, email: &str) -> support::Reply {
    app.post("/auth/password/forgot", json!({"email": email}))
        .await
}

#[tokio::test]
async fn forgot_always_answers_202_and_mails_only_real_accounts() {
    let app = TestApp::new();
    app.register("alice").await;
    let known = forgot(&app, "ALICE@example.com").await;
    let unknown = forgot(&app, "nobody@example.com").await;
    assert_eq!((known.status, unknown.status), (202, 202));
    assert_eq!(known.body, unknown.body);
    assert!(app.mails("nobody@example.com").is_empty());
    let mail = &app.mails("alice@example.com")[0].mail;
    assert!(
        mail.text
            .contains("https://app.example/reset-password?token=")
    );
}

#[tokio::test]
async fn the_reset_token_carries_at_least_128_random_bits() {
    let app = TestApp::new();
    app.register("alice").await;
    forgot(&app, "alice@example.com").await;
    let first = app.last_reset_token("alice@example.com");
    forgot(&app, "alice@example.com").await;
    let second = app.last_reset_token("alice@example.com");
    assert_ne!(first, second);
    // 48 bytes base64url: a 16-byte account id and a 32-byte secret.
    assert_eq!(first.len(), 64);
}

#[tokio::test]
async fn a_reset_sets_the_password_and_ends_every_session() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    forgot(&app, "alice@example.com").await;
    let token = app.last_reset_token("alice@example.com");
    assert_eq!(reset(&app, &token, NEW, NEW).await.status, 204);
    assert_eq!(app.login("alice", PASSWORD).await.status, 401);
    assert_eq!(app.login("alice", NEW).await.status, 200);
    assert_eq!(
        app.call("GET", "/me", None, Some(&alice.access))
            .await
            .status,
        401
    );
    assert_eq!(
        app.post(
            "/auth/token/refresh",
            json!({"refresh_token": alice.refresh})
        )
        .await
        .status,
        401
    );
}

#[tokio::test]
async fn a_reset_link_works_once() {
    let app = TestApp::new();
    app.register("alice").await;
    forgot(&app, "alice@example.com").await;
    let token = app.last_reset_token("alice@example.com");
    assert_eq!(reset(&app, &token, NEW, NEW).await.status, 204);
    let again = reset(
        &app,
        &token,
        "yet another passphrase",
        "yet another passphrase",
    )
    .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.code(), "invalid_token");
}

#[tokio::test]
async fn a_reset_link_expires_after_5_minutes() {
    let app = TestApp::new();
    app.register("alice").await;
    forgot(&app, "alice@example.com").await;
    let token = app.last_reset_token("alice@example.com");
    app.advance(Duration::minutes(5));
    assert_eq!(reset(&app, &token, NEW, NEW).await.code(), "invalid_token");
}

#[tokio::test]
async fn only_the_newest_reset_link_works() {
    let app = TestApp::new();
    app.register("alice").await;
    forgot(&app, "alice@example.com").await;
    let older = app.last_reset_token("alice@example.com");
    forgot(&app, "alice@example.com").await;
    let newer = app.last_reset_token("alice@example.com");
    assert_eq!(reset(&app, &older, NEW, NEW).await.code(), "invalid_token");
    assert_eq!(reset(&app, &newer, NEW, NEW).await.status, 204);
}

#[tokio::test]
async fn mismatched_passwords_are_refused_before_anything_else() {
    let app = TestApp::new();
    app.register("alice").await;
    forgot(&app, "alice@example.com").await;
    let token = app.last_reset_token("alice@example.com");
    let reply = reset(&app, &token, NEW, "something else entirely").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), "password_mismatch");
    // The link is still good.
    assert_eq!(reset(&app, &token, NEW, NEW).await.status, 204);
}

#[tokio::test]
async fn a_weak_new_password_is_refused_and_keeps_the_link() {
    let app = TestApp::new();
    app.register("alice").await;
    forgot(&app, "alice@example.com").await;
    let token = app.last_reset_token("alice@example.com");
    let reply = reset(&app, &token, "password1", "password1").await;
    assert_eq!(reply.code(), "validation_failed");
    assert_eq!(reply.body["errors"][0]["field"], "new_password");
    assert_eq!(reset(&app, &token, NEW, NEW).await.status, 204);
}

#[tokio::test]
async fn forged_or_garbage_reset_tokens_are_invalid() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    forgot(&app, "alice@example.com").await;
    let real = app.last_reset_token("alice@example.com");
    // Right account id, wrong secret.
    let mut forged = real[..22].to_owned();
    forged.push_str(&"A".repeat(42));
    for token in [forged.as_str(), "", "junk", &"x".repeat(3000)] {
        assert_eq!(
            reset(&app, token, NEW, NEW).await.code(),
            "invalid_token",
            "{token}"
        );
    }
    let _ = alice;
}

#[tokio::test]
async fn reset_mails_to_one_address_are_capped_but_the_answer_stays_202() {
    let app = TestApp::new();
    app.register("alice").await;
    for _ in 0..5 {
        assert_eq!(forgot(&app, "alice@example.com").await.status, 202);
    }
    assert_eq!(
        app.mails("alice@example.com")
            .iter()
            .filter(|m| m.mail.subject.contains("Reset"))
            .count(),
        3
    );
}

#[tokio::test]
async fn a_reset_lifts_a_login_lock() {
    let app = TestApp::new();
    app.register("alice").await;
    for _ in 0..5 {
        app.login("alice", "wrong password").await;
    }
    forgot(&app, "alice@example.com").await;
    let token = app.last_reset_token("alice@example.com");
    assert_eq!(reset(&app, &token, NEW, NEW).await.status, 204);
    assert_eq!(app.login("alice", NEW).await.status, 200);
}

#[tokio::test]
async fn change_needs_the_current_password_and_ends_every_session() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let wrong = app
        .call(
            "POST",
            "/auth/password/change",
            Some(json!({"current_password": "not it at all", "new_password": NEW})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.body["errors"][0]["field"], "current_password");
    let ok = app
        .call(
            "POST",
            "/auth/password/change",
            Some(json!({"current_password": PASSWORD, "new_password": NEW})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(ok.status, 204);
    assert_eq!(
        app.call("GET", "/me", None, Some(&alice.access))
            .await
            .status,
        401
    );
    assert_eq!(app.login("alice", PASSWORD).await.status, 401);
    assert_eq!(app.login("alice", NEW).await.status, 200);
}

#[tokio::test]
async fn change_refuses_weak_or_unchanged_passwords() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    for new in ["short", "12345678", PASSWORD] {
        let reply = app
            .call(
                "POST",
                "/auth/password/change",
                Some(json!({"current_password": PASSWORD, "new_password": new})),
                Some(&alice.access),
            )
            .await;
        assert_eq!(reply.status, 400, "{new}");
        assert_eq!(reply.body["errors"][0]["field"], "new_password");
    }
}

#[tokio::test]
async fn change_needs_a_token() {
    let app = TestApp::new();
    let reply = app
        .post(
            "/auth/password/change",
            json!({"current_password": PASSWORD, "new_password": NEW}),
        )
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn guessing_the_current_password_locks_like_login_does() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let change = |current: &'static str| {
        app.call(
            "POST",
            "/auth/password/change",
            Some(json!({"current_password": current, "new_password": NEW})),
            Some(&alice.access),
        )
    };
    for _ in 0..5 {
        assert_eq!(change("a wrong guess").await.status, 400);
    }
    let locked = change(PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert_eq!(locked.code(), "too_many_attempts");
    assert_eq!(
        app.login("alice", PASSWORD).await.status,
        429,
        "one tally for both routes"
    );
}

#[tokio::test]
async fn a_reset_or_a_change_mails_the_owner_a_notice() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let changed = app
        .call(
            "POST",
            "/auth/password/change",
            Some(json!({"current_password": PASSWORD, "new_password": NEW})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(changed.status, 204);
    let notice = &app.mails("alice@example.com")[0].mail;
    assert_eq!(notice.subject, "Your Chatman password was changed");
    assert!(notice.text.contains("https://app.example/forgot-password"));

    forgot(&app, "alice@example.com").await;
    let token = app.last_reset_token("alice@example.com");
    assert_eq!(reset(&app, &token, PASSWORD, PASSWORD).await.status, 204);
    let notices = app
        .mails("alice@example.com")
        .into_iter()
        .filter(|m| m.mail.subject == "Your Chatman password was changed")
        .count();
    assert_eq!(notices, 2);
}
