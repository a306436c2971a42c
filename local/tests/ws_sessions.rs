//! A socket ends with its session, over real clients against the local server (memory store and
//! DynamoDB Local): logout-all, a password change and a plain logout close the affected sockets
//! within a second (the local gateway's `@connections` DELETE, as API Gateway's in the cloud),
//! a `transfer` frame sent after them moves nothing, a ticket issued before logout-all no longer
//! connects, the eleventh socket of one person closes the oldest, and a burst of `typing` frames
//! reaches the other member once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ws_support;

use chatman_local::LocalConfig;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use ws_support::*;

fn with_root(mut config: LocalConfig) -> LocalConfig {
    config.admins = "root".into();
    config
}

async fn on_memory() -> Local {
    local_with(with_root(LocalConfig::embedded())).await
}

async fn on_dynamodb() -> Local {
    let mut config = LocalConfig::embedded();
    config.dynamodb_endpoint = Some(
        std::env::var("CHATMAN_TEST_DYNAMODB")
            .expect("CHATMAN_TEST_DYNAMODB: start DynamoDB Local (scripts/test does)"),
    );
    config.table = format!("test-{:032x}", rand::random::<u128>());
    local_with(with_root(config)).await
}

async fn deposit(local: &Local, root: &Person, to: &Person, amount: i64) {
    let key = format!("fund-{:x}", rand::random::<u64>());
    let (status, body) = local
        .send_keyed(
            "POST",
            "/wallet/deposits",
            Some(json!({"username": to.username, "amount": amount})),
            Some(&root.token),
            Some(&key),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn balance(local: &Local, who: &Person) -> i64 {
    let (status, body) = local.send("GET", "/wallet", None, Some(&who.token)).await;
    assert_eq!(status, 200, "{body}");
    body["balance"].as_i64().unwrap()
}

/// root, alice (with 5000) and bob, and their direct room.
async fn people(local: &Local) -> (Person, Person, String) {
    let root = local.person("root").await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    deposit(local, &root, &alice, 5000).await;
    let (status, room) = local
        .send(
            "POST",
            "/rooms",
            Some(json!({"kind": "direct", "username": "bob"})),
            Some(&alice.token),
        )
        .await;
    assert!(status == 201 || status == 200, "{room}");
    (alice, bob, room["id"].as_str().unwrap().to_owned())
}

/// Sends `frame` if the socket still takes it (the server may have closed it already).
async fn try_send(socket: &mut Socket, frame: Value) {
    let _ = socket.send(Message::text(frame.to_string())).await;
}

/// After the session ended: a `transfer` frame moves nothing and the socket is closed within 1 s.
async fn transfer_moves_nothing_and_the_socket_closes(
    local: &Local,
    socket: &mut Socket,
    bob: &Person,
    room: &str,
) {
    let pay = json!({"action": "transfer", "room_id": room, "amount": 700,
                     "idempotency_key": "after-logout", "client_id": "t1"});
    try_send(socket, pay).await;
    closed_with(socket, 1).await;
    assert_eq!(balance(local, bob).await, 0, "no money moved");
}

async fn logout_all_closes_the_socket_at_once(local: Local) {
    let (alice, bob, room) = people(&local).await;
    let mut a = local.connect(&alice).await;
    send_json(&mut a, json!({"action": "ping"})).await;
    assert_eq!(next_json(&mut a).await["type"], "pong");
    let (status, _) = local
        .send("POST", "/auth/logout-all", None, Some(&alice.token))
        .await;
    assert_eq!(status, 204);
    transfer_moves_nothing_and_the_socket_closes(&local, &mut a, &bob, &room).await;
}

async fn a_password_change_closes_the_socket_at_once(local: Local) {
    let (alice, bob, room) = people(&local).await;
    let mut a = local.connect(&alice).await;
    let change =
        json!({"current_password": PASSWORD, "new_password": "an entirely different passphrase"});
    let (status, body) = local
        .send(
            "POST",
            "/auth/password/change",
            Some(change),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    transfer_moves_nothing_and_the_socket_closes(&local, &mut a, &bob, &room).await;
}

async fn logout_closes_only_that_sessions_socket(local: Local) {
    let (alice, bob, room) = people(&local).await;
    let (status, tokens) = local
        .send(
            "POST",
            "/auth/token",
            Some(json!({"login": "alice", "password": PASSWORD})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let phone = Person {
        token: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        ..alice.clone()
    };
    let mut laptop = local.connect(&alice).await;
    let mut handset = local.connect(&phone).await;
    let (status, _) = local
        .send(
            "POST",
            "/auth/logout",
            Some(json!({"refresh_token": alice.refresh})),
            None,
        )
        .await;
    assert_eq!(status, 204);
    transfer_moves_nothing_and_the_socket_closes(&local, &mut laptop, &bob, &room).await;
    send_json(&mut handset, json!({"action": "ping"})).await;
    assert_eq!(
        next_json(&mut handset).await["type"],
        "pong",
        "the other session's socket stays open"
    );
}

async fn a_ticket_from_before_logout_all_does_not_connect(local: Local) {
    let alice = local.person("alice").await;
    let url = local.ticket_url(&alice).await;
    let (status, _) = local
        .send("POST", "/auth/logout-all", None, Some(&alice.token))
        .await;
    assert_eq!(status, 204);
    assert_eq!(refused_status(&url).await, Some(401));
}

async fn the_eleventh_socket_closes_the_oldest(local: Local) {
    let alice = local.person("alice").await;
    let mut oldest = local.connect(&alice).await;
    let mut others = Vec::new();
    for _ in 0..9 {
        others.push(local.connect(&alice).await);
    }
    silent_for(&mut oldest, 200).await;
    let mut newest = local.connect(&alice).await;
    closed_with(&mut oldest, 1).await;
    send_json(&mut newest, json!({"action": "ping"})).await;
    assert_eq!(next_json(&mut newest).await["type"], "pong");
    for socket in &mut others {
        send_json(socket, json!({"action": "ping"})).await;
        assert_eq!(
            next_json(socket).await["type"],
            "pong",
            "the nine others stay"
        );
    }
}

async fn a_burst_of_typing_reaches_the_other_member_once(local: Local) {
    let (alice, bob, room) = people(&local).await;
    let mut a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;
    for _ in 0..10 {
        send_json(
            &mut a,
            json!({"action": "typing", "room_id": room, "is_typing": true}),
        )
        .await;
    }
    let event = next_json(&mut b).await;
    assert_eq!(event["type"], "typing");
    assert_eq!(event["username"], "alice");
    silent_for(&mut b, 500).await;
    silent_for(&mut a, 100).await;
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::on_memory().await).await }) *
        }
        mod dynamodb_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::on_dynamodb().await).await }) *
        }
    };
}

on_both_stores!(
    logout_all_closes_the_socket_at_once,
    a_password_change_closes_the_socket_at_once,
    logout_closes_only_that_sessions_socket,
    a_ticket_from_before_logout_all_does_not_connect,
    the_eleventh_socket_closes_the_oldest,
    a_burst_of_typing_reaches_the_other_member_once,
);
