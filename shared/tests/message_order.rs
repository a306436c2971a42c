//! Exactly once in the history, in order on the wire, over HTTP on both stores: a send retried
//! with its `client_id` is stored once and answers the first message (also 16 retries at once),
//! every room event carries the room's `seq`, `after_seq` history pages oldest first, and a
//! `read` fans out only in rooms of at most 32 members.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::domain::UserId;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Account, TestApp};

fn send_path(room: &str) -> String {
    format!("/rooms/{room}/messages")
}

/// The `kind` events pushed so far, with their fields.
fn pushed(app: &TestApp, kind: &str) -> Vec<(Vec<UserId>, Value)> {
    app.push
        .events()
        .into_iter()
        .filter(|(_, e)| e.kind == kind)
        .map(|(to, e)| (to, Value::Object(e.fields)))
        .collect()
}

async fn a_retried_send_is_stored_once_and_answers_the_first_message(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let first = app
        .post_as(
            &alice,
            &send_path(&room),
            json!({"text": "hello", "client_id": "k-1"}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(first.body["seq"], 1);

    // The answer was lost; the client sends the same thing again, even with other text.
    for body in [
        json!({"text": "hello", "client_id": "k-1"}),
        json!({"text": "edited meanwhile", "client_id": "k-1"}),
    ] {
        let again = app.post_as(&alice, &send_path(&room), body).await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
        assert_eq!(again.body, first.body, "the first message, same id and seq");
    }
    assert_eq!(app.history_ids(&bob, &room).await, vec![first.str("id")]);
    assert_eq!(pushed(&app, "message").len(), 1, "nobody was told twice");
    assert_eq!(app.summary(&bob, &room).await["unread_count"], 1);

    // Another client id is another message; bob's "k-1" is his own.
    let other = app
        .post_as(
            &alice,
            &send_path(&room),
            json!({"text": "hello", "client_id": "k-2"}),
        )
        .await;
    assert_eq!((other.status, other.body["seq"].clone()), (201, json!(2)));
    let bobs = app
        .post_as(
            &bob,
            &send_path(&room),
            json!({"text": "hi", "client_id": "k-1"}),
        )
        .await;
    assert_eq!((bobs.status, bobs.body["seq"].clone()), (201, json!(3)));

    // A message deleted since is not posted again: the retry is told it is gone.
    let id = first.str("id");
    let r = app
        .delete_as(&alice, &format!("/rooms/{room}/messages/{id}"))
        .await;
    assert_eq!(r.status, 204);
    let late = app
        .post_as(
            &alice,
            &send_path(&room),
            json!({"text": "hello", "client_id": "k-1"}),
        )
        .await;
    assert_eq!((late.status, late.code()), (410, "message_deleted"));
    assert_eq!(app.history_ids(&bob, &room).await.len(), 2);
}

async fn sixteen_concurrent_retries_store_exactly_one_message(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let app = Arc::new(app);
    let mut tasks = vec![];
    for _ in 0..16 {
        let (app, alice, room) = (app.clone(), alice.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            app.post_as(
                &alice,
                &send_path(&room),
                json!({"text": "once", "client_id": "same"}),
            )
            .await
        }));
    }
    let mut replies = vec![];
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    let created: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(
        created.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in &replies {
        assert!(
            r.status == 201 || r.status == 200,
            "{} {}",
            r.status,
            r.body
        );
        assert_eq!(
            r.body, created[0].body,
            "every retry answers the one message"
        );
    }
    assert_eq!(app.history_ids(&bob, &room).await.len(), 1);
    assert_eq!(pushed(&app, "message").len(), 1);
    assert_eq!(app.summary(&bob, &room).await["unread_count"], 1);
}

async fn every_room_event_carries_the_rooms_seq(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let mut ids = vec![];
    for i in 1..=3 {
        let r = app.say(&alice, &room, &format!("m{i}")).await;
        assert_eq!(r.body["seq"], i, "the message's place in the room");
        ids.push(r.str("id"));
    }
    let messages = pushed(&app, "message");
    let seqs: Vec<_> = messages.iter().map(|(_, e)| e["seq"].clone()).collect();
    assert_eq!(seqs, [json!(1), json!(2), json!(3)]);
    assert_eq!(messages[2].1["message"]["seq"], 3);

    // A delete and a read happen at the room's seq then (3): nothing after it was missed.
    let r = app
        .delete_as(&alice, &format!("/rooms/{room}/messages/{}", ids[0]))
        .await;
    assert_eq!(r.status, 204);
    let r = app
        .post_as(
            &bob,
            &format!("/rooms/{room}/read"),
            json!({"message_id": ids[1]}),
        )
        .await;
    assert_eq!(r.status, 204);
    let deleted = pushed(&app, "deleted");
    assert_eq!(deleted[0].1["seq"], 3);
    assert_eq!(deleted[0].1["message_id"], ids[0]);
    let read = pushed(&app, "read");
    assert_eq!(read[0].1["seq"], 3);
    assert_eq!(read[0].1["username"], "bob");
}

async fn history_after_a_seq_pages_oldest_first(app: TestApp) {
    let (alice, bob, eve) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("eve").await,
    );
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let mut ids = vec![];
    for i in 1..=6 {
        ids.push(app.say(&alice, &room, &format!("m{i}")).await.str("id"));
    }
    let r = app
        .delete_as(&alice, &format!("/rooms/{room}/messages/{}", ids[3]))
        .await;
    assert_eq!(r.status, 204);
    let page = |after: &str| {
        let app = &app;
        let bob = &bob;
        let room = &room;
        let after = after.to_owned();
        async move {
            app.get_as(bob, &format!("/rooms/{room}/messages?{after}"))
                .await
        }
    };
    let texts = |r: &support::Reply| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = page("after_seq=1&limit=2").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(texts(&first), ["m2", "m3"], "oldest first");
    assert_eq!(
        first.body["next_cursor"], "3",
        "the last seq: the next after_seq"
    );
    let next = page("after_seq=3&limit=2").await;
    assert_eq!(texts(&next), ["m5", "m6"], "the deleted m4 is not there");
    let last = page("after_seq=6").await;
    assert_eq!(last.body["items"], json!([]));
    assert_eq!(last.body["next_cursor"], json!(null));
    assert_eq!(texts(&page("after_seq=0").await).len(), 5);

    for bad in [
        "after_seq=-1",
        "after_seq=x",
        "after_seq=",
        "after_seq=1&cursor=abc",
    ] {
        let r = page(bad).await;
        assert_eq!((r.status, r.code()), (400, "validation_failed"), "{bad}");
        assert_eq!(r.body["errors"][0]["field"], "after_seq", "{bad}");
    }
    assert_eq!(page("after_seq=1&limit=101").await.status, 400);
    let r = app
        .get_as(&eve, &format!("/rooms/{room}/messages?after_seq=0"))
        .await;
    assert_eq!(r.status, 404, "a non-member learns nothing");
}

async fn read(app: &TestApp, who: &Account, room: &str, message: &str) {
    let r = app
        .post_as(
            who,
            &format!("/rooms/{room}/read"),
            json!({"message_id": message}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

/// 32 members: a read is everyone's news. The 33rd: only the marker moves.
async fn a_read_fans_out_only_in_rooms_of_at_most_32_members(app: TestApp) {
    let owner = app.register("owner").await;
    let mut others = vec![];
    for i in 0..32 {
        others.push(app.register(&format!("member{i:02}")).await);
    }
    let first31: Vec<&Account> = others[..31].iter().collect();
    let room = app.room_of(&owner, "group", &first31).await;
    let m1 = app.say(&owner, &room, "one").await.str("id");
    read(&app, &others[0], &room, &m1).await;
    let told = pushed(&app, "read");
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].0.len(), 32, "all 32 members");

    let r = app
        .post_as(
            &owner,
            &format!("/rooms/{room}/members"),
            json!({"usernames": [others[31].username]}),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 201,
        "{} {}",
        r.status,
        r.body
    );
    let m2 = app.say(&owner, &room, "two").await.str("id");
    read(&app, &others[1], &room, &m2).await;
    assert_eq!(
        pushed(&app, "read").len(),
        1,
        "33 members: nobody gets read"
    );
    assert_eq!(
        app.summary(&others[1], &room).await["unread_count"],
        0,
        "the marker moved"
    );
    assert_eq!(app.summary(&others[2], &room).await["unread_count"], 2);
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
    a_retried_send_is_stored_once_and_answers_the_first_message,
    sixteen_concurrent_retries_store_exactly_one_message,
    every_room_event_carries_the_rooms_seq,
    history_after_a_seq_pages_oldest_first,
    a_read_fans_out_only_in_rooms_of_at_most_32_members,
);
