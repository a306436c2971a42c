//! PATCH /rooms/{id}/messages/{message_id}: a sender edits the text of their message; history,
//! the chat list and the members' `edited` event show it; nobody else edits it, a deleted one
//! stays deleted, and parallel edits apply one after the other. Every test on both stores.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::TestApp;

async fn edit(
    app: &TestApp,
    who: &support::Account,
    room: &str,
    id: &str,
    body: Value,
) -> support::Reply {
    app.patch_as(who, &format!("/rooms/{room}/messages/{id}"), body)
        .await
}

async fn the_sender_edits_and_everyone_sees_the_new_text(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let first = app.say(&bob, &room, "helo").await;
    let id = first.str("id");
    assert_eq!(first.body["edited_at"], json!(null), "never edited yet");

    let edited = edit(&app, &bob, &room, &id, json!({"text": "hello"})).await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.body["text"], "hello");
    assert_eq!(edited.body["id"], id.as_str());
    assert_eq!(edited.body["seq"], first.body["seq"], "it keeps its place");
    assert_eq!(edited.body["created_at"], first.body["created_at"]);
    assert!(edited.body["edited_at"].is_string(), "{}", edited.body);

    let history = app.get_as(&alice, &format!("/rooms/{room}/messages")).await;
    assert_eq!(
        history.body["items"][0], edited.body,
        "history shows the latest text"
    );
    assert_eq!(
        app.summary(&alice, &room).await["last_message"],
        edited.body
    );

    app.deliver().await;
    for who in [&alice, &bob] {
        let id_of = chatman::domain::UserId::parse(&who.id).unwrap();
        let events = app.push.received_by(&id_of);
        let told = events.iter().find(|e| e.kind == "edited").unwrap();
        assert_eq!(
            told.to_json(),
            json!({"type": "edited", "room_id": room, "message_id": id, "text": "hello", "edited_at": edited.body["edited_at"]})
        );
    }
}

async fn only_the_sender_edits_and_only_what_exists(app: TestApp) {
    let (alice, bob, eve) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("eve").await,
    );
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let bobs = app.say(&bob, &room, "mine").await.str("id");
    let by_owner = edit(&app, &alice, &room, &bobs, json!({"text": "owned"})).await;
    assert_eq!(
        (by_owner.status, by_owner.code()),
        (403, "forbidden"),
        "not even the owner"
    );
    let by_stranger = edit(&app, &eve, &room, &bobs, json!({"text": "x"})).await;
    assert_eq!(by_stranger.status, 404, "a non-member learns nothing");
    for bad in [
        json!({}),
        json!({"text": ""}),
        json!({"text": "   "}),
        json!({"text": "x".repeat(4001)}),
        json!({"text": "ok", "files": []}),
    ] {
        let r = edit(&app, &bob, &room, &bobs, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let other = app.room_of(&alice, "group", &[]).await;
    let foreign = app.say(&alice, &other, "elsewhere").await.str("id");
    for id in [
        foreign,
        chatman::domain::MessageId::new().to_string(),
        "nope".into(),
    ] {
        let r = edit(&app, &alice, &room, &id, json!({"text": "x"})).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{id}");
    }
    app.delete_as(&bob, &format!("/rooms/{room}/messages/{bobs}"))
        .await;
    let gone = edit(&app, &bob, &room, &bobs, json!({"text": "back"})).await;
    assert_eq!(gone.status, 404, "a deleted message stays deleted");
    assert!(app.history_ids(&bob, &room).await.is_empty());
}

async fn a_block_in_a_direct_room_stops_edits_too(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.direct(&alice, &bob).await.str("id");
    let said = app.say(&alice, &room, "hi").await.str("id");
    let blocked = app.post_as(&bob, "/users/alice/block", json!({})).await;
    assert!(blocked.status < 300, "{}", blocked.body);
    let r = edit(&app, &alice, &room, &said, json!({"text": "hi!"})).await;
    assert_eq!((r.status, r.code()), (403, "blocked"));
}

/// Twelve edits of one message at once: each applies on the text the one before it left (none is
/// lost to a conflict), the message ends with one of them, and the chat list agrees with history.
async fn parallel_edits_apply_one_after_the_other(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let id = app.say(&bob, &room, "v0").await.str("id");
    let texts: Vec<String> = (1..=12).map(|i| format!("v{i}")).collect();
    let replies = futures_util::future::join_all(
        texts
            .iter()
            .map(|t| edit(&app, &bob, &room, &id, json!({"text": t}))),
    )
    .await;
    assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
    let history = app.get_as(&bob, &format!("/rooms/{room}/messages")).await;
    let now = &history.body["items"][0];
    assert!(texts.iter().any(|t| now["text"] == t.as_str()), "{now}");
    assert_eq!(app.summary(&alice, &room).await["last_message"], *now);
    app.deliver().await;
    let bob_id = chatman::domain::UserId::parse(&bob.id).unwrap();
    let told: Vec<_> = app
        .push
        .received_by(&bob_id)
        .into_iter()
        .filter(|e| e.kind == "edited")
        .collect();
    assert_eq!(told.len(), 12, "one event per edit");
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::TestApp::new()).await }) *
        }
        mod dynamodb_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::TestApp::on_dynamodb().await).await }) *
        }
    };
}

on_both_stores!(
    the_sender_edits_and_everyone_sees_the_new_text,
    only_the_sender_edits_and_only_what_exists,
    a_block_in_a_direct_room_stops_edits_too,
    parallel_edits_apply_one_after_the_other,
);
