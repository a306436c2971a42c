//! Money in chat end to end: real WebSocket clients against the local server (memory store and
//! DynamoDB Local). One person sends money in a chat; both sockets get the `message` of kind
//! `transfer`, the receiver exactly one `transfer_received`, and the receiver finds it in the
//! wallet history. A replay moves nothing and tells nobody else; refusals are `error` events for
//! the caller alone, carrying its `client_id`. A retry after the payer was removed from the room,
//! or after the room was deleted, answers with the payment it made (`transfer_sent`), never
//! `not_found`, and moves nothing again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ws_support;

use chatman_local::LocalConfig;
use serde_json::{Value, json};
use ws_support::*;

async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let event = next_json(socket).await;
        if event["type"] == kind {
            return event;
        }
    }
}

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

async fn room(local: &Local, owner: &Person, body: Value) -> String {
    let (status, room) = local
        .send("POST", "/rooms", Some(body), Some(&owner.token))
        .await;
    assert!(status == 201 || status == 200, "{room}");
    room["id"].as_str().unwrap().to_owned()
}

async fn money_in_a_direct_chat(local: Local) {
    let root = local.person("root").await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    deposit(&local, &root, &alice, 5000).await;
    let direct = room(&local, &alice, json!({"kind": "direct", "username": "bob"})).await;
    let mut a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;

    let frame = json!({"action": "transfer", "room_id": direct, "amount": 1250,
                       "description": "lunch", "idempotency_key": "lunch-42", "client_id": "t1"});
    send_json(&mut a, frame.clone()).await;
    let seen_by_alice = next_of(&mut a, "message").await;
    // Bob's socket: the message and one transfer_received, in either order.
    let mut bobs = [next_json(&mut b).await, next_json(&mut b).await];
    bobs.sort_by_key(|e| e["type"].as_str().unwrap().to_owned());
    assert_eq!(bobs[0], seen_by_alice);
    assert_eq!(bobs[1]["type"], "transfer_received");
    silent_for(&mut b, 300).await;
    let message = &seen_by_alice["message"];
    assert_eq!(message["kind"], "transfer");
    assert_eq!(message["sender"], "alice");
    assert_eq!(message["text"], "lunch");
    assert_eq!(message["client_id"], "t1");
    assert_eq!(message["transfer"]["from"], "alice");
    assert_eq!(message["transfer"]["to"], "bob");
    assert_eq!(message["transfer"]["amount"], 1250);
    assert_eq!(bobs[1]["transfer"], message["transfer"]);

    // Bob finds it in his wallet history and in the room's history.
    let (_, txs) = local
        .send("GET", "/wallet/transactions", None, Some(&bob.token))
        .await;
    assert_eq!(txs["items"][0]["transfer_id"], message["transfer"]["id"]);
    assert_eq!(txs["items"][0]["direction"], "in");
    assert_eq!(txs["items"][0]["amount"], 1250);
    let (_, history) = local
        .send(
            "GET",
            &format!("/rooms/{direct}/messages"),
            None,
            Some(&bob.token),
        )
        .await;
    assert_eq!(history["items"], json!([message]));
    assert_eq!(
        (balance(&local, &alice).await, balance(&local, &bob).await),
        (3750, 1250)
    );

    // The same frame again: alice alone is answered with the same message; nothing moves.
    send_json(&mut a, frame).await;
    let replay = next_json(&mut a).await;
    assert_eq!(replay, seen_by_alice);
    silent_for(&mut b, 300).await;
    assert_eq!(
        (balance(&local, &alice).await, balance(&local, &bob).await),
        (3750, 1250)
    );

    // More than alice has: an error for alice only, and still the key's answer afterwards.
    let broke = json!({"action": "transfer", "room_id": direct, "amount": 9000,
                       "idempotency_key": "big", "client_id": "t2"});
    send_json(&mut a, broke.clone()).await;
    let refused = next_json(&mut a).await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "insufficient_funds");
    assert_eq!(refused["client_id"], "t2");
    deposit(&local, &root, &alice, 10_000).await;
    let _ = next_of(&mut a, "transfer_received").await;
    send_json(&mut a, broke).await;
    assert_eq!(next_json(&mut a).await["code"], "insufficient_funds");
    silent_for(&mut b, 200).await;
    assert_eq!(balance(&local, &bob).await, 1250);
}

async fn money_in_a_group_goes_to_a_member_named_by_to(local: Local) {
    let root = local.person("root").await;
    let (alice, bob, carol) = (
        local.person("alice").await,
        local.person("bob").await,
        local.person("carol").await,
    );
    deposit(&local, &root, &alice, 1000).await;
    let group = room(
        &local,
        &alice,
        json!({"kind": "group", "name": "Climbing", "members": ["bob"]}),
    )
    .await;
    let mut a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;
    let mut c = local.connect(&carol).await;

    send_json(
        &mut a,
        json!({"action": "transfer", "room_id": group, "amount": 300, "to": "bob",
               "idempotency_key": "rope", "client_id": "g1"}),
    )
    .await;
    let mut bobs = [next_json(&mut b).await, next_json(&mut b).await];
    bobs.sort_by_key(|e| e["type"].as_str().unwrap().to_owned());
    let event = &bobs[0];
    assert_eq!(event["message"]["transfer"]["to"], "bob");
    assert_eq!(next_of(&mut a, "message").await, *event);
    assert_eq!(bobs[1]["type"], "transfer_received");
    assert_eq!(bobs[1]["transfer"]["amount"], 300);

    for (frame, code) in [
        // carol is no member of this group: the same answer as a name nobody has.
        (
            json!({"action": "transfer", "room_id": group, "amount": 5, "to": "carol",
                   "idempotency_key": "x1", "client_id": "g2"}),
            "validation_failed",
        ),
        (
            json!({"action": "transfer", "room_id": group, "amount": 5, "to": "nobody",
                   "idempotency_key": "x2", "client_id": "g2"}),
            "validation_failed",
        ),
        // no key
        (
            json!({"action": "transfer", "room_id": group, "amount": 5, "to": "bob",
                   "client_id": "g2"}),
            "idempotency_key_required",
        ),
    ] {
        send_json(&mut a, frame.clone()).await;
        let error = next_json(&mut a).await;
        assert_eq!(error["type"], "error", "{frame}");
        assert_eq!(error["code"], code, "{frame}");
        assert_eq!(error["action"], "transfer");
        assert_eq!(error["client_id"], "g2");
    }
    silent_for(&mut b, 200).await;
    silent_for(&mut c, 200).await;
    assert_eq!(balance(&local, &carol).await, 0);
    assert_eq!(balance(&local, &bob).await, 300);
    assert_eq!(balance(&local, &alice).await, 700);
}

/// Alice pays bob in bob's group; bob removes her (then deletes the room): each retry of her key
/// over the socket answers `transfer_sent` with that same payment and moves nothing.
async fn a_retry_after_leaving_the_room_answers_with_the_payment(local: Local) {
    let root = local.person("root").await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    deposit(&local, &root, &alice, 1000).await;
    let group = room(
        &local,
        &bob,
        json!({"kind": "group", "name": "Rent", "members": ["alice"]}),
    )
    .await;
    let mut a = local.connect(&alice).await;
    let frame = json!({"action": "transfer", "room_id": group, "amount": 400, "to": "bob",
                       "idempotency_key": "rent-may", "client_id": "r1"});
    send_json(&mut a, frame.clone()).await;
    let posted = next_of(&mut a, "message").await;
    let paid = posted["message"]["transfer"].clone();
    assert_eq!(paid["amount"], 400);

    let (status, body) = local
        .send(
            "DELETE",
            &format!("/rooms/{group}/members/alice"),
            None,
            Some(&bob.token),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    send_json(&mut a, frame.clone()).await;
    let answer = next_of_any(&mut a, &["transfer_sent", "error"]).await;
    assert_eq!(answer["type"], "transfer_sent", "{answer}");
    assert_eq!(answer["transfer"], paid, "the payment the key made");
    assert_eq!(answer["client_id"], "r1");

    let (status, body) = local
        .send("DELETE", &format!("/rooms/{group}"), None, Some(&bob.token))
        .await;
    assert_eq!(status, 204, "{body}");
    send_json(&mut a, frame).await;
    let answer = next_of_any(&mut a, &["transfer_sent", "error"]).await;
    assert_eq!(answer["type"], "transfer_sent", "{answer}");
    assert_eq!(answer["transfer"]["id"], paid["id"]);
    assert_eq!(balance(&local, &alice).await, 600, "moved once");
    assert_eq!(balance(&local, &bob).await, 400);
}

/// The next event on `socket` whose type is one of `kinds`.
async fn next_of_any(socket: &mut Socket, kinds: &[&str]) -> Value {
    loop {
        let event = next_json(socket).await;
        if kinds.iter().any(|k| event["type"] == *k) {
            return event;
        }
    }
}

#[tokio::test]
async fn a_retry_after_leaving_answers_with_the_payment_in_memory() {
    a_retry_after_leaving_the_room_answers_with_the_payment(on_memory().await).await;
}

#[tokio::test]
async fn a_retry_after_leaving_answers_with_the_payment_on_dynamodb_local() {
    a_retry_after_leaving_the_room_answers_with_the_payment(on_dynamodb().await).await;
}

#[tokio::test]
async fn money_in_a_direct_chat_in_memory() {
    money_in_a_direct_chat(on_memory().await).await;
}

#[tokio::test]
async fn money_in_a_direct_chat_on_dynamodb_local() {
    money_in_a_direct_chat(on_dynamodb().await).await;
}

#[tokio::test]
async fn money_in_a_group_in_memory() {
    money_in_a_group_goes_to_a_member_named_by_to(on_memory().await).await;
}

#[tokio::test]
async fn money_in_a_group_on_dynamodb_local() {
    money_in_a_group_goes_to_a_member_named_by_to(on_dynamodb().await).await;
}
