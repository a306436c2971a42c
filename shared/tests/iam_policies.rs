//! Each function's DynamoDB policy in `template.yaml` allows exactly what its code does. Every
//! function that touches DynamoDB is wired as its binary wires it over one DynamoDB Local table
//! (`iam_support::deployment`) and driven through its routes (the WebSocket ones through their
//! handlers with API Gateway WebSocket events), successes and the usual refusals, while an SDK
//! interceptor records each request (action, table or index, partition key prefix), attributed
//! to the function serving it (`iam_support`). Then, for every function:
//!
//! - everything recorded must be allowed by a statement of that function (action, resource and a
//!   `dynamodb:LeadingKeys` pattern), or the deployed function would be refused, and
//! - every (action, resource, key prefix) a statement allows must have been used, so no policy
//!   grants an action or key prefix the code never needs.
//!
//! Driven: signup, verify-otp, token, reset, profile (avatars included) here; upload-url,
//! wallet, transfer, deposit, donate, rooms, messages, ws-ticket, ws-connect, ws-message (every
//! action, money and files included) and ws-disconnect in `iam_support::scenarios`. Pushes go
//! through the real `WebSocketPush`, with one stale connection per receiver so the 410 Gone
//! clean-up runs; the error paths that release an idempotency key are driven by a DynamoDB
//! failure injected once (`Recorder::fail_next`).
//!
//! Out of scope: S3, `execute-api:ManageConnections`, Secrets Manager and SES rights (their
//! adapters are tested against loopback endpoints elsewhere; no local IAM evaluates them here).
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

mod iam_support;

use iam_support::deployment::Deployment;
use iam_support::{Access, allowed_by_template, scenarios};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::PASSWORD;
use time::Duration;

#[test]
fn every_dynamodb_statement_is_scoped_by_leading_keys() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
    )
    .unwrap();
    let statements = template.matches("Action: dynamodb:").count()
        + template.matches("Action: [dynamodb:").count();
    let scoped = template.matches("dynamodb:LeadingKeys:").count();
    assert!(statements > 0);
    assert_eq!(
        statements, scoped,
        "a DynamoDB statement without LeadingKeys"
    );
}

#[tokio::test]
async fn each_function_may_touch_exactly_the_items_its_code_touches() {
    let d = Deployment::new().await;
    accounts(&d).await;
    scenarios::money::run(&d).await;
    scenarios::chat::run(&d).await;
    scenarios::uploads::run(&d).await;
    scenarios::realtime::run(&d).await;
    agree_both_ways(&d);
}

/// signup, verify-otp, token, reset and profile: every route, successes and the usual refusals.
async fn accounts(d: &Deployment) {
    let post = |path: &'static str, body: Value| d.call("POST", path, Some(body), None);

    // signup, verify-otp (a resend, a wrong code, the right one).
    let alice = post(
        "/auth/signup",
        json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(alice.status, 202);
    d.app.advance(Duration::seconds(61));
    let id = alice.str("signup_id");
    assert_eq!(
        post("/auth/signup/resend", json!({"signup_id": id}))
            .await
            .status,
        202
    );
    let wrong = if d.app.last_code("alice@example.com") == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        post(
            "/auth/signup/verify",
            json!({"signup_id": id, "code": wrong})
        )
        .await
        .status,
        400
    );
    let code = d.app.last_code("alice@example.com");
    let verified = post(
        "/auth/signup/verify",
        json!({"signup_id": id, "code": code}),
    )
    .await;
    assert_eq!(verified.status, 201, "{:?}", verified.body);
    // A signup for a taken email reads the account (and mails its owner).
    let again = post(
        "/auth/signup",
        json!({"username": "alice2", "email": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(again.status, 202);
    let bob = d.person("bob").await;

    // token: a failed login, logins by username and email, refresh, reuse, logout, logout-all.
    assert_eq!(
        post(
            "/auth/token",
            json!({"login": "alice", "password": "wrong password!"})
        )
        .await
        .status,
        401
    );
    let login = post(
        "/auth/token",
        json!({"login": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(login.status, 200);
    // Alice owns a channel: the sockets the sweeps close below are in its subscription index.
    let channel = json!({"kind": "channel", "name": "Own", "members": []});
    let access = login.str("access_token");
    let channel = d.call("POST", "/rooms", Some(channel), Some(&access)).await;
    assert_eq!(channel.status, 201, "{}", channel.body);
    // A message to it: ws-deliver claims the chat-list move, splits the record by shard and
    // reads each shard of the index.
    let path = format!("/rooms/{}/messages", channel.str("id"));
    let said = d
        .call(
            "POST",
            &path,
            Some(json!({"text": "to my channel"})),
            Some(&access),
        )
        .await;
    assert_eq!(said.status, 201, "{}", said.body);
    // A reaction on it (the person's set, the message's count, the event), then history with
    // the reader's own reactions (a range read of the room's partition).
    let reacted = d
        .call(
            "PUT",
            &format!("{path}/{}/reactions/%F0%9F%91%8D", said.str("id")),
            None,
            Some(&access),
        )
        .await;
    assert_eq!(reacted.status, 200, "{}", reacted.body);
    let history = d.call("GET", &path, None, Some(&access)).await;
    assert_eq!(history.body["items"][0]["reactions"][0]["mine"], true);
    // A pin (the counter, the pin, checks of the message and room), the pins read (a Query and a
    // batch of the pinned messages), an unpin.
    let room_path = format!("/rooms/{}", channel.str("id"));
    let pin_path = format!("{room_path}/pins/{}", said.str("id"));
    assert_eq!(
        d.call("PUT", &pin_path, None, Some(&access)).await.status,
        204
    );
    let pins = d
        .call("GET", &format!("{room_path}/pins"), None, Some(&access))
        .await;
    assert_eq!(pins.body["items"][0]["message"]["id"], said.str("id"));
    assert_eq!(
        d.call("DELETE", &pin_path, None, Some(&access))
            .await
            .status,
        204
    );
    let by_email = post(
        "/auth/token",
        json!({"login": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    let refreshed = post(
        "/auth/token/refresh",
        json!({"refresh_token": login.str("refresh_token")}),
    )
    .await;
    assert_eq!(refreshed.status, 200);
    // Each way of ending a session below finds a socket of it to close (token, reset sweep).
    let socket_of = |tokens: &support::Reply| support::Account {
        access: tokens.str("access_token"),
        refresh: tokens.str("refresh_token"),
        ..bob.clone()
    };
    assert_eq!(d.connect(&socket_of(&refreshed), "alice-reused").await, 200);
    assert_eq!(
        post(
            "/auth/token/refresh",
            json!({"refresh_token": login.str("refresh_token")})
        )
        .await
        .status,
        401
    );
    assert_eq!(d.connect(&socket_of(&by_email), "alice-logout").await, 200);
    assert_eq!(
        post(
            "/auth/logout",
            json!({"refresh_token": by_email.str("refresh_token")})
        )
        .await
        .status,
        204
    );
    let session = post(
        "/auth/token",
        json!({"login": "alice", "password": PASSWORD}),
    )
    .await;
    let access = session.str("access_token");
    assert_eq!(d.connect(&socket_of(&session), "alice-all").await, 200);
    assert_eq!(
        d.call("POST", "/auth/logout-all", None, Some(&access))
            .await
            .status,
        204
    );

    // reset: forgot, reset, change (wrong current password, then right).
    let session = post(
        "/auth/token",
        json!({"login": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(d.connect(&socket_of(&session), "alice-reset").await, 200);
    assert_eq!(
        post(
            "/auth/password/forgot",
            json!({"email": "alice@example.com"})
        )
        .await
        .status,
        202
    );
    let token = d.app.last_reset_token("alice@example.com");
    let new = "a brand new passphrase";
    let reset = post(
        "/auth/password/reset",
        json!({"token": token, "new_password": new, "confirm_password": new}),
    )
    .await;
    assert_eq!(reset.status, 204, "{:?}", reset.body);
    let session = post("/auth/token", json!({"login": "alice", "password": new})).await;
    let access = session.str("access_token");
    assert_eq!(d.connect(&socket_of(&session), "alice-change").await, 200);
    let change = |current: &str| json!({"current_password": current, "new_password": "yet another passphrase"});
    assert_eq!(
        d.call(
            "POST",
            "/auth/password/change",
            Some(change("not it at all")),
            Some(&access)
        )
        .await
        .status,
        400,
        "a wrong current password"
    );
    assert_eq!(
        d.call(
            "POST",
            "/auth/password/change",
            Some(change(new)),
            Some(&access)
        )
        .await
        .status,
        204
    );

    // profile: every route, a rename included.
    let me = Some(bob.access.as_str());
    assert_eq!(d.call("GET", "/me", None, me).await.status, 200);
    assert_eq!(
        d.call("PATCH", "/me", Some(json!({"username": "bobby"})), me)
            .await
            .status,
        200
    );
    assert_eq!(d.call("GET", "/users/alice", None, me).await.status, 200);
    assert_eq!(d.call("GET", "/users?q=al", None, me).await.status, 200);
    assert_eq!(
        d.call("POST", "/users/alice/block", None, me).await.status,
        204
    );
    assert_eq!(d.call("GET", "/me/blocks", None, me).await.status, 200);
    assert_eq!(
        d.call("DELETE", "/users/alice/block", None, me)
            .await
            .status,
        204
    );
}

/// Everything recorded is allowed, and everything allowed was recorded, for every function.
fn agree_both_ways(d: &Deployment) {
    let used: BTreeSet<Access> = d
        .rec
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.0 != "setup")
        .cloned()
        .collect();
    let allowed = allowed_by_template();
    let refused: Vec<&Access> = used.difference(&allowed).collect();
    assert!(
        refused.is_empty(),
        "the template would refuse what the code does: {refused:#?}"
    );
    let unused: Vec<&Access> = allowed.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "the template allows what no route does: {unused:#?}"
    );
}
