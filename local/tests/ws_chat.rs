//! Chat over WebSocket against the local server: the `send`, `typing`, `read`, `edit` and
//! `delete` actions run the same services as the HTTP routes, and every member's sockets get the events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ws_support;

use serde_json::{Value, json};
use ws_support::*;

async fn direct_room(local: &Local, a: &Person, b: &Person) -> String {
    let (status, room) = local
        .send(
            "POST",
            "/rooms",
            Some(json!({"kind": "direct", "username": b.username})),
            Some(&a.token),
        )
        .await;
    assert!(status == 201 || status == 200, "{room}");
    room["id"].as_str().unwrap().to_owned()
}

async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let event = next_json(socket).await;
        if event["type"] == kind {
            return event;
        }
    }
}

#[tokio::test]
async fn two_people_chat_type_read_edit_and_delete_over_their_sockets() {
    let local = local().await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let room = direct_room(&local, &alice, &bob).await;
    let mut a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;

    send_json(
        &mut a,
        json!({"action": "send", "room_id": room, "text": "hi bob", "client_id": "c1"}),
    )
    .await;
    for socket in [&mut a, &mut b] {
        let event = next_of(socket, "message").await;
        assert_eq!(event["room_id"], json!(room));
        assert_eq!(event["message"]["text"], "hi bob");
        assert_eq!(event["message"]["sender"], "alice");
        assert_eq!(event["message"]["client_id"], "c1");
    }
    let (_, history) = local
        .send(
            "GET",
            &format!("/rooms/{room}/messages"),
            None,
            Some(&bob.token),
        )
        .await;
    let message_id = history["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        history["items"][0]["text"], "hi bob",
        "stored like an HTTP send"
    );

    send_json(
        &mut b,
        json!({"action": "typing", "room_id": room, "is_typing": true}),
    )
    .await;
    let typing = next_of(&mut a, "typing").await;
    assert_eq!(
        typing,
        json!({"type": "typing", "room_id": room, "username": "bob", "is_typing": true})
    );
    // A name in the frame is not the sender's to choose: the frame is refused.
    send_json(
        &mut b,
        json!({"action": "typing", "room_id": room, "is_typing": true, "username": "alice"}),
    )
    .await;
    assert_eq!(next_json(&mut b).await["code"], "validation_failed");
    silent_for(&mut a, 200).await;

    send_json(
        &mut b,
        json!({"action": "read", "room_id": room, "message_id": message_id}),
    )
    .await;
    let read = next_of(&mut a, "read").await;
    assert_eq!(read["username"], "bob");
    assert_eq!(read["message_id"], json!(message_id));

    // Alice edits it (over her socket); both sockets hear the new text, and history keeps it.
    // Bob may not edit it.
    send_json(
        &mut b,
        json!({"action": "edit", "room_id": room, "message_id": message_id, "text": "hijack"}),
    )
    .await;
    assert_eq!(next_of(&mut b, "error").await["code"], "forbidden");
    send_json(
        &mut a,
        json!({"action": "edit", "room_id": room, "message_id": message_id, "text": "hi bob!"}),
    )
    .await;
    for socket in [&mut a, &mut b] {
        let edited = next_of(socket, "edited").await;
        assert_eq!(edited["message_id"], json!(message_id));
        assert_eq!(edited["text"], "hi bob!");
        assert!(edited["edited_at"].is_string(), "{edited}");
    }
    let (_, history) = local
        .send(
            "GET",
            &format!("/rooms/{room}/messages"),
            None,
            Some(&bob.token),
        )
        .await;
    assert_eq!(history["items"][0]["text"], "hi bob!");

    // Bob reacts over HTTP: both sockets hear it (the picker's emoji travel intact).
    let (status, reacted) = local
        .send(
            "PUT",
            &format!("/rooms/{room}/messages/{message_id}/reactions/%E2%9D%A4%EF%B8%8F"),
            None,
            Some(&bob.token),
        )
        .await;
    assert_eq!(status, 200, "{reacted}");
    for socket in [&mut a, &mut b] {
        let reaction = next_of(socket, "reaction").await;
        assert_eq!(
            (
                &reaction["message_id"],
                &reaction["emoji"],
                &reaction["username"],
                &reaction["added"]
            ),
            (
                &json!(message_id),
                &json!("❤️"),
                &json!("bob"),
                &json!(true)
            ),
            "{reaction}"
        );
    }

    // Bob may not delete Alice's message in a direct room; Alice may.
    send_json(
        &mut b,
        json!({"action": "delete", "room_id": room, "message_id": message_id}),
    )
    .await;
    assert_eq!(next_of(&mut b, "error").await["code"], "forbidden");
    send_json(
        &mut a,
        json!({"action": "delete", "room_id": room, "message_id": message_id}),
    )
    .await;
    for socket in [&mut a, &mut b] {
        let deleted = next_of(socket, "deleted").await;
        assert_eq!(deleted["message_id"], json!(message_id));
    }
}

#[tokio::test]
async fn a_stranger_learns_nothing_and_nobody_hears_the_attempt() {
    let local = local().await;
    let (alice, bob, carol) = (
        local.person("alice").await,
        local.person("bob").await,
        local.person("carol").await,
    );
    let room = direct_room(&local, &alice, &bob).await;
    let mut a = local.connect(&alice).await;
    let mut c = local.connect(&carol).await;
    for frame in [
        json!({"action": "send", "room_id": room, "text": "let me in"}),
        json!({"action": "typing", "room_id": room, "is_typing": true}),
        json!({"action": "send", "room_id": "not-a-room", "text": "x"}),
    ] {
        send_json(&mut c, frame).await;
        let error = next_json(&mut c).await;
        assert_eq!(error["code"], "not_found", "{error}");
    }
    send_json(&mut c, json!({"action": "send", "text": "no room"})).await;
    assert_eq!(next_json(&mut c).await["code"], "validation_failed");
    send_json(
        &mut c,
        json!({"action": "send", "room_id": room, "text": "x".repeat(4001)}),
    )
    .await;
    assert_eq!(next_json(&mut c).await["code"], "validation_failed");
    silent_for(&mut a, 300).await;
}

#[tokio::test]
async fn in_a_channel_only_admins_post() {
    let local = local().await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let (status, room) = local
        .send(
            "POST",
            "/rooms",
            Some(json!({"kind": "channel", "name": "news", "members": ["bob"]})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let room = room["id"].as_str().unwrap().to_owned();
    let mut a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;
    send_json(
        &mut b,
        json!({"action": "send", "room_id": room, "text": "me too"}),
    )
    .await;
    assert_eq!(next_json(&mut b).await["code"], "forbidden");
    send_json(
        &mut a,
        json!({"action": "send", "room_id": room, "text": "news"}),
    )
    .await;
    assert_eq!(next_of(&mut b, "message").await["message"]["text"], "news");
}

#[tokio::test]
async fn the_61st_message_in_a_minute_is_refused_with_the_seconds_to_wait() {
    let local = local().await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let room = direct_room(&local, &alice, &bob).await;
    let mut a = local.connect(&alice).await;
    for i in 0..60 {
        send_json(
            &mut a,
            json!({"action": "send", "room_id": room, "text": format!("m{i}")}),
        )
        .await;
        assert_eq!(next_json(&mut a).await["type"], "message", "message {i}");
    }
    send_json(
        &mut a,
        json!({"action": "send", "room_id": room, "text": "one too many", "client_id": "k61"}),
    )
    .await;
    let error = next_json(&mut a).await;
    assert_eq!(error["code"], "rate_limited");
    assert_eq!(error["client_id"], "k61");
    let wait = error["retry_after"].as_u64().unwrap();
    assert!((1..=60).contains(&wait), "{error}");
}

#[tokio::test]
async fn across_a_block_typing_and_read_are_not_relayed_over_real_sockets() {
    let local = local().await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let room = direct_room(&local, &alice, &bob).await;
    let (status, sent) = local
        .send(
            "POST",
            &format!("/rooms/{room}/messages"),
            Some(json!({"text": "hi"})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let message_id = sent["id"].as_str().unwrap().to_owned();
    let (status, _) = local
        .send(
            "POST",
            "/users/bob/block",
            Some(json!({})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 204);
    let mut a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;

    // The blocked person's "is typing…" is refused to them and never reaches the blocker.
    send_json(
        &mut b,
        json!({"action": "typing", "room_id": room, "is_typing": true}),
    )
    .await;
    assert_eq!(next_json(&mut b).await["code"], "blocked");
    // Their read moves their own marker; only their own sockets hear it.
    send_json(
        &mut b,
        json!({"action": "read", "room_id": room, "message_id": message_id}),
    )
    .await;
    assert_eq!(next_of(&mut b, "read").await["username"], "bob");
    // And the blocker's own typing does not reach the blocked person either.
    send_json(
        &mut a,
        json!({"action": "typing", "room_id": room, "is_typing": true}),
    )
    .await;
    assert_eq!(next_json(&mut a).await["code"], "blocked");
    silent_for(&mut a, 300).await;
    silent_for(&mut b, 300).await;
}

/// A `send` frame retried under its `client_id` (its socket dropped before the `message` came
/// back) is stored once: the retry, on a new socket, gets the first message alone, and every
/// event carries the room's `seq`. Then a catch-up with `after_seq` gives what was missed.
async fn a_retried_send_frame_is_stored_once(local: Local) {
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let room = direct_room(&local, &alice, &bob).await;
    let mut b = local.connect(&bob).await;
    let frame = json!({"action": "send", "room_id": room, "text": "once", "client_id": "r-1"});
    let mut a = local.connect(&alice).await;
    send_json(&mut a, frame.clone()).await;
    let first = next_of(&mut b, "message").await;
    assert_eq!(
        (first["seq"].clone(), first["message"]["seq"].clone()),
        (json!(1), json!(1))
    );
    drop(a);

    let mut again = local.connect(&alice).await;
    for _ in 0..3 {
        send_json(&mut again, frame.clone()).await;
        let replay = next_of(&mut again, "message").await;
        assert_eq!(replay, first, "the first message, same id and seq");
    }
    silent_for(&mut b, 300).await;
    let (_, history) = local
        .send(
            "GET",
            &format!("/rooms/{room}/messages"),
            None,
            Some(&bob.token),
        )
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1, "{history}");

    // Missed while bob's socket was closed: fetched oldest first after the last seq he saw.
    drop(b);
    for text in ["two", "three"] {
        send_json(
            &mut again,
            json!({"action": "send", "room_id": room, "text": text, "client_id": text}),
        )
        .await;
        next_of(&mut again, "message").await;
    }
    let (status, missed) = local
        .send(
            "GET",
            &format!("/rooms/{room}/messages?after_seq=1"),
            None,
            Some(&bob.token),
        )
        .await;
    assert_eq!(status, 200, "{missed}");
    let texts: Vec<_> = missed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["seq"].clone(), m["text"].clone()))
        .collect();
    assert_eq!(
        texts,
        [(json!(2), json!("two")), (json!(3), json!("three"))]
    );
}

#[tokio::test]
async fn a_retried_send_frame_is_stored_once_in_memory() {
    a_retried_send_frame_is_stored_once(local().await).await;
}

#[tokio::test]
async fn a_retried_send_frame_is_stored_once_on_dynamodb_local() {
    a_retried_send_frame_is_stored_once(local_on_dynamodb().await).await;
}

/// Events reach a socket in the order of the changes, even with every `@connections` post
/// slowed down: messages sent back to back, then deletes of two of them, arrive as sent and the
/// `deleted` never before its `message` (one room's outbox records are one stream partition).
async fn events_reach_sockets_in_the_order_of_the_changes(local: Local) {
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let room = direct_room(&local, &alice, &bob).await;
    let mut b = local.connect(&bob).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let (status, m) = local
            .send(
                "POST",
                &format!("/rooms/{room}/messages"),
                Some(json!({"text": format!("m{i}")})),
                Some(&alice.token),
            )
            .await;
        assert_eq!(status, 201, "{m}");
        sent.push(m["id"].as_str().unwrap().to_owned());
    }
    for gone in [&sent[0], &sent[2]] {
        let (status, body) = local
            .send(
                "DELETE",
                &format!("/rooms/{room}/messages/{gone}"),
                None,
                Some(&alice.token),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let event = next_json(&mut b).await;
        match event["type"].as_str() {
            Some("message") => seen.push(format!(
                "message {}",
                event["message"]["id"].as_str().unwrap()
            )),
            Some("deleted") => {
                seen.push(format!("deleted {}", event["message_id"].as_str().unwrap()))
            }
            _ => {}
        }
    }
    let mut expected: Vec<String> = sent.iter().map(|id| format!("message {id}")).collect();
    expected.push(format!("deleted {}", sent[0]));
    expected.push(format!("deleted {}", sent[2]));
    assert_eq!(seen, expected);
    silent_for(&mut b, 300).await;
}

fn slow_posts() -> chatman_local::LocalConfig {
    let mut config = chatman_local::LocalConfig::embedded();
    config.ws_post_latency_ms = 20;
    config
}

#[tokio::test]
async fn events_reach_sockets_in_the_order_of_the_changes_in_memory() {
    events_reach_sockets_in_the_order_of_the_changes(local_with(slow_posts()).await).await;
}

#[tokio::test]
async fn events_reach_sockets_in_the_order_of_the_changes_on_dynamodb_local() {
    let config = on_dynamodb(slow_posts());
    events_reach_sockets_in_the_order_of_the_changes(local_with(config).await).await;
}
