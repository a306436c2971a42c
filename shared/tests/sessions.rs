//! POST /auth/token, /auth/token/refresh, /auth/logout and /auth/logout-all.

mod support;

use serde_json::json;
use support::{PASSWORD, TestApp};
use time::Duration;

async fn refresh(app: &TestApp, token: &str) -> support::Reply {
    app.post("/auth/token/refresh", json!({"refresh_token": token}))
        .await
}

#[tokio::test]
async fn login_works_by_username_or_email_in_any_case() {
    let app = TestApp::new();
    app.register("alice").await;
    for login in ["alice", "ALICE", "alice@example.com", " Alice@Example.com "] {
        let reply = app.login(login, PASSWORD).await;
        assert_eq!(reply.status, 200, "{login}");
        assert_eq!(reply.body["token_type"], "Bearer");
        assert_eq!(reply.body["expires_in"], 900);
        assert!(
            reply.body["refresh_token"]
                .as_str()
                .is_some_and(|t| t.len() >= 43)
        );
    }
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = TestApp::new();
    app.register("alice").await;
    let wrong = app.login("alice", "not the password").await;
    let unknown = app.login("nobody", "not the password").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.code(), "invalid_credentials");
}

#[tokio::test]
async fn five_failures_lock_the_account_with_a_growing_delay() {
    let app = TestApp::new();
    app.register("alice").await;
    for _ in 0..5 {
        assert_eq!(app.login("alice", "wrong password").await.status, 401);
    }
    // Locked, even with the right password.
    let locked = app.login("alice", PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert_eq!(locked.code(), "too_many_attempts");
    assert_eq!(locked.header("retry-after").as_deref(), Some("30"));
    app.advance(Duration::seconds(30));
    // One more failure doubles the delay.
    assert_eq!(app.login("alice", "wrong password").await.status, 401);
    let longer = app.login("alice", PASSWORD).await;
    assert_eq!(longer.header("retry-after").as_deref(), Some("60"));
    app.advance(Duration::seconds(60));
    // A success clears the count.
    assert_eq!(app.login("alice", PASSWORD).await.status, 200);
    assert_eq!(app.login("alice", "wrong password").await.status, 401);
    assert_eq!(app.login("alice", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn the_lock_counts_attempts_by_username_and_email_together() {
    let app = TestApp::new();
    app.register("alice").await;
    for login in [
        "alice",
        "alice@example.com",
        "alice",
        "alice@example.com",
        "ALICE",
    ] {
        app.login(login, "wrong password").await;
    }
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status, 429);
}

#[tokio::test]
async fn unknown_logins_lock_too_so_a_lock_reveals_nothing() {
    let app = TestApp::new();
    for _ in 0..5 {
        app.login("ghost", "wrong password").await;
    }
    assert_eq!(app.login("ghost", "wrong password").await.status, 429);
}

#[tokio::test]
async fn a_refresh_returns_a_new_pair_and_retires_the_old_refresh_token() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let first = refresh(&app, &alice.refresh).await;
    assert_eq!(first.status, 200);
    let new_refresh = first.str("refresh_token");
    assert_ne!(new_refresh, alice.refresh);
    assert_eq!(
        app.call("GET", "/me", None, Some(&first.str("access_token")))
            .await
            .status,
        200
    );
    assert_eq!(refresh(&app, &new_refresh).await.status, 200);
}

#[tokio::test]
async fn reusing_a_retired_refresh_token_revokes_the_whole_session() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let rotated = refresh(&app, &alice.refresh).await;
    let current = rotated.str("refresh_token");
    let access = rotated.str("access_token");
    // The stolen, already-used token is presented again.
    let reuse = refresh(&app, &alice.refresh).await;
    assert_eq!(reuse.status, 401);
    // Now nothing of that session works, not even the newest tokens.
    assert_eq!(refresh(&app, &current).await.status, 401);
    assert_eq!(
        app.call("GET", "/me", None, Some(&access)).await.status,
        401
    );
    // Other sessions are untouched.
    assert_eq!(app.login("alice", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn a_refresh_token_dies_after_30_days() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    app.advance(Duration::days(30));
    assert_eq!(refresh(&app, &alice.refresh).await.status, 401);
}

#[tokio::test]
async fn an_access_token_dies_after_15_minutes() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    app.advance(Duration::minutes(15) - Duration::seconds(1));
    assert_eq!(
        app.call("GET", "/me", None, Some(&alice.access))
            .await
            .status,
        200
    );
    app.advance(Duration::seconds(1));
    assert_eq!(
        app.call("GET", "/me", None, Some(&alice.access))
            .await
            .status,
        401
    );
    // The refresh token still gets a new pair.
    assert_eq!(refresh(&app, &alice.refresh).await.status, 200);
}

#[tokio::test]
async fn garbage_refresh_tokens_are_401() {
    let app = TestApp::new();
    for junk in ["", "abc", "!!!!", &"A".repeat(43), &"x".repeat(5000)] {
        assert_eq!(refresh(&app, junk).await.status, 401, "{junk}");
    }
}

#[tokio::test]
async fn logout_ends_that_session_only() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let other = app.login("alice", PASSWORD).await;
    let logout = app
        .post("/auth/logout", json!({"refresh_token": alice.refresh}))
        .await;
    assert_eq!(logout.status, 204);
    assert_eq!(refresh(&app, &alice.refresh).await.status, 401);
    assert_eq!(
        app.call("GET", "/me", None, Some(&alice.access))
            .await
            .status,
        401
    );
    assert_eq!(
        app.call("GET", "/me", None, Some(&other.str("access_token")))
            .await
            .status,
        200
    );
    // Logging out twice, or with junk, is still fine.
    assert_eq!(
        app.post("/auth/logout", json!({"refresh_token": alice.refresh}))
            .await
            .status,
        204
    );
    assert_eq!(
        app.post("/auth/logout", json!({"refresh_token": "junk"}))
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn logout_all_ends_every_session() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let other = app.login("alice", PASSWORD).await;
    assert_eq!(
        app.call("POST", "/auth/logout-all", None, Some(&alice.access))
            .await
            .status,
        204
    );
    assert_eq!(
        app.call("GET", "/me", None, Some(&alice.access))
            .await
            .status,
        401
    );
    assert_eq!(
        app.call("GET", "/me", None, Some(&other.str("access_token")))
            .await
            .status,
        401
    );
    assert_eq!(refresh(&app, &other.str("refresh_token")).await.status, 401);
    assert_eq!(refresh(&app, &alice.refresh).await.status, 401);
    // Logging in again works.
    assert_eq!(app.login("alice", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn logout_all_needs_a_token() {
    let app = TestApp::new();
    let reply = app.call("POST", "/auth/logout-all", None, None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.code(), "unauthorized");
}
