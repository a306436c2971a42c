//! `reply_to` on send: a reply carries a preview of the message it answers (its sender and first
//! 100 characters), only a message of the same room can be answered, and once the answered
//! message is deleted readers see `deleted` instead of its text. Both stores.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::TestApp;

async fn a_reply_shows_what_it_answers_until_that_is_deleted(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let long = "é".repeat(150);
    let asked = app.say(&alice, &room, &long).await.str("id");
    let path = format!("/rooms/{room}/messages");
    let reply = app
        .post_as(&bob, &path, json!({"text": "yes", "reply_to": asked}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let preview =
        json!({"message_id": asked, "sender": "alice", "text": "é".repeat(100), "deleted": false});
    assert_eq!(reply.body["reply_to"], preview);
    let history = app.get_as(&alice, &path).await;
    assert_eq!(history.body["items"][0]["reply_to"], preview);
    assert_eq!(history.body["items"][1]["reply_to"], json!(null));

    // Not a message of this room: refused before anything is written.
    let other = app.room_of(&alice, "group", &[&bob]).await;
    let elsewhere = app.say(&alice, &other, "elsewhere").await.str("id");
    for id in [
        elsewhere,
        chatman::domain::MessageId::new().to_string(),
        "nope".into(),
    ] {
        let r = app
            .post_as(&bob, &path, json!({"text": "?", "reply_to": id}))
            .await;
        assert_eq!((r.status, r.code()), (400, "validation_failed"), "{id}");
    }
    assert_eq!(app.history_ids(&bob, &room).await.len(), 2);

    // Deleted: the reply stays, the answered text does not.
    app.delete_as(&alice, &format!("{path}/{asked}")).await;
    let history = app.get_as(&bob, &path).await;
    assert_eq!(
        history.body["items"][0]["reply_to"],
        json!({"message_id": asked, "sender": null, "text": null, "deleted": true})
    );
    assert!(!history.body.to_string().contains("éééé"));
    let deleted_again = app
        .post_as(&bob, &path, json!({"text": "again", "reply_to": asked}))
        .await;
    assert_eq!(
        deleted_again.status, 400,
        "a deleted message cannot be answered"
    );
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

on_both_stores!(a_reply_shows_what_it_answers_until_that_is_deleted);
