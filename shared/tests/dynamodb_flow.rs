//! The whole accounts journey through the real handlers on DynamoDB Local: what a user does in
//! the cloud, minus the network to AWS.

mod support;

use serde_json::json;
use support::{PASSWORD, TestApp};
use time::Duration;

#[tokio::test]
async fn a_person_signs_up_logs_in_resets_and_edits_on_dynamodb() {
    let app = TestApp::with_store(support::dynamo_store().await);

    // Sign up twice for one email; the first code still works after a resend of the second.
    let first = app.start_signup("Alice", "Alice@Example.com").await;
    assert_eq!(first.status, 202);
    let first_code = app.last_code("alice@example.com");
    app.start_signup("alice_two", "alice@example.com").await;
    app.advance(Duration::seconds(61));
    assert_eq!(
        app.post(
            "/auth/signup/resend",
            json!({"signup_id": first.str("signup_id")})
        )
        .await
        .status,
        202
    );
    assert_eq!(app.last_code("alice@example.com"), first_code);
    let wrong = if first_code == "000000" {
        "000001"
    } else {
        "000000"
    };
    let miss = app
        .post(
            "/auth/signup/verify",
            json!({"signup_id": first.str("signup_id"), "code": wrong}),
        )
        .await;
    assert_eq!(miss.body["attempts_left"], 4);
    let verified = app
        .post(
            "/auth/signup/verify",
            json!({"signup_id": first.str("signup_id"), "code": first_code}),
        )
        .await;
    assert_eq!(verified.status, 201, "{}", verified.body);

    // Log in, refresh, and catch a reused refresh token.
    let login = app.login("ALICE@example.com", PASSWORD).await;
    assert_eq!(login.status, 200);
    let rotated = app
        .post(
            "/auth/token/refresh",
            json!({"refresh_token": login.str("refresh_token")}),
        )
        .await;
    assert_eq!(rotated.status, 200);
    assert_eq!(
        app.post(
            "/auth/token/refresh",
            json!({"refresh_token": login.str("refresh_token")})
        )
        .await
        .status,
        401
    );
    assert_eq!(
        app.call("GET", "/me", None, Some(&rotated.str("access_token")))
            .await
            .status,
        401
    );

    // Lockout state lives in the table.
    for _ in 0..5 {
        app.login("alice", "wrong password").await;
    }
    assert_eq!(app.login("alice", PASSWORD).await.status, 429);

    // Reset by emailed link: lifts the lock and ends sessions.
    let session = verified.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.post(
            "/auth/password/forgot",
            json!({"email": "alice@example.com"})
        )
        .await
        .status,
        202
    );
    let token = app.last_reset_token("alice@example.com");
    let new = "a brand new passphrase";
    let reset = app
        .post(
            "/auth/password/reset",
            json!({"token": token, "new_password": new, "confirm_password": new}),
        )
        .await;
    assert_eq!(reset.status, 204, "{}", reset.body);
    assert_eq!(
        app.call("GET", "/me", None, Some(&session)).await.status,
        401
    );
    let again = app
        .post(
            "/auth/password/reset",
            json!({"token": token, "new_password": new, "confirm_password": new}),
        )
        .await;
    assert_eq!(again.code(), "invalid_token");
    let login = app.login("alice", new).await;
    assert_eq!(login.status, 200);
    let access = login.str("access_token");

    // Profile: rename, search, block.
    let bob = app.register("bob").await;
    let renamed = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"username": "alicia", "bio": "hi"})),
            Some(&access),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let taken = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"username": "bob"})),
            Some(&access),
        )
        .await;
    assert_eq!(taken.code(), "username_taken");
    let found = app
        .call("GET", "/users?q=ali", None, Some(&bob.access))
        .await;
    assert_eq!(found.body["items"][0]["username"], "alicia");
    assert_eq!(
        app.call("POST", "/users/bob/block", None, Some(&access))
            .await
            .status,
        204
    );
    let blocks = app.call("GET", "/me/blocks", None, Some(&access)).await;
    assert_eq!(blocks.body["items"][0]["username"], "bob");
    assert_eq!(
        app.call("POST", "/auth/logout-all", None, Some(&access))
            .await
            .status,
        204
    );
    assert_eq!(
        app.call("GET", "/me", None, Some(&access)).await.status,
        401
    );
}
