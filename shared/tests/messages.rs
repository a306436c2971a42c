//! Messages over HTTP: sending and its bad input, posting rules, delete rights, blocks in direct
//! rooms, read markers and unread counts, the chat list, paging while messages arrive, the
//! posting limit (exactly at the 61st, also in parallel, on both stores) and message events.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use ::time::Duration;
use serde_json::json;
use std::sync::Arc;
use support::TestApp;

#[tokio::test]
async fn a_sent_message_comes_back_in_history_with_its_client_id() {
    let app = TestApp::new();
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.direct(&alice, &bob).await.str("id");
    let r = app
        .post_as(
            &alice,
            &format!("/rooms/{room}/messages"),
            json!({"text": "hi bob\nhow are you?", "client_id": "c-42"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["room_id"], room);
    assert_eq!(r.body["sender"], "alice");
    assert_eq!(r.body["kind"], "text");
    assert_eq!(r.body["client_id"], "c-42");
    assert_eq!(r.body["files"], json!([]));
    assert_eq!(r.body["transfer"], json!(null));
    assert_eq!(r.body["created_at"], "2026-11-22T10:00:00.000Z");
    let history = app.get_as(&bob, &format!("/rooms/{room}/messages")).await;
    assert_eq!(history.body["items"], json!([r.body]));
    assert_eq!(history.body["next_cursor"], json!(null));
}

#[tokio::test]
async fn bad_messages_are_refused_and_nothing_is_written() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let room = app.room_of(&alice, "group", &[]).await;
    let path = format!("/rooms/{room}/messages");
    for (body, field) in [
        (json!({"text": ""}), "text"),
        (json!({"text": "  \n\t "}), "text"),
        (json!({"text": "x".repeat(4001)}), "text"),
        (json!({}), "text"),
        (json!({"text": "hi", "upload_ids": ["u1"]}), "upload_ids[0]"),
        (json!({"upload_ids": []}), "upload_ids"),
        (
            json!({"text": "hi", "client_id": "x".repeat(65)}),
            "client_id",
        ),
        (json!({"text": "hi", "client_id": ""}), "client_id"),
        (json!({"text": 5}), "text"),
        (json!({"text": "hi", "kind": "transfer"}), "kind"),
    ] {
        let r = app.post_as(&alice, &path, body.clone()).await;
        assert_eq!((r.status, r.code()), (400, "validation_failed"), "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
    }
    assert!(app.say(&alice, &room, &"é".repeat(4000)).await.status == 201);
    assert_eq!(
        app.history_ids(&alice, &room).await.len(),
        1,
        "only the valid one"
    );
    let r = app
        .get_as(&alice, &format!("/rooms/{room}/messages?cursor=nope"))
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .get_as(&alice, &format!("/rooms/{room}/messages?limit=101"))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn channels_and_admins_only_groups_take_posts_from_owner_and_admins() {
    let app = TestApp::new();
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let channel = app.room_of(&alice, "channel", &[&bob]).await;
    let r = app.say(&bob, &channel, "may I?").await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(app.say(&alice, &channel, "news").await.status, 201);
    app.patch_as(
        &alice,
        &format!("/rooms/{channel}/members/bob"),
        json!({"role": "admin"}),
    )
    .await;
    assert_eq!(app.say(&bob, &channel, "more news").await.status, 201);

    let group = app.room_of(&alice, "group", &[&carol]).await;
    assert_eq!(app.say(&carol, &group, "hello").await.status, 201);
    app.patch_as(
        &alice,
        &format!("/rooms/{group}"),
        json!({"posting": "admins"}),
    )
    .await;
    let r = app.say(&carol, &group, "still there?").await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(app.history_ids(&alice, &group).await.len(), 1);
}

#[tokio::test]
async fn senders_owners_and_admins_delete_messages_and_deleted_ones_vanish() {
    let app = TestApp::new();
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let room = app.room_of(&alice, "group", &[&bob, &carol]).await;
    let first = app.say(&bob, &room, "one").await.str("id");
    let second = app.say(&carol, &room, "two").await.str("id");
    let third = app.say(&carol, &room, "three").await.str("id");
    let del = |id: &str| format!("/rooms/{room}/messages/{id}");
    let r = app.delete_as(&bob, &del(&second)).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "forbidden"),
        "a plain member deletes only their own"
    );
    assert_eq!(
        app.delete_as(&carol, &del(&third)).await.status,
        204,
        "the sender"
    );
    assert_eq!(
        app.summary(&bob, &room).await["last_message"]["id"],
        second,
        "the previous one is last now"
    );
    assert_eq!(
        app.delete_as(&alice, &del(&second)).await.status,
        204,
        "the owner"
    );
    app.patch_as(
        &alice,
        &format!("/rooms/{room}/members/carol"),
        json!({"role": "admin"}),
    )
    .await;
    assert_eq!(
        app.delete_as(&carol, &del(&first)).await.status,
        204,
        "an admin"
    );
    assert!(app.history_ids(&bob, &room).await.is_empty());
    assert_eq!(app.summary(&bob, &room).await["last_message"], json!(null));
    // Deleted, unknown, malformed and foreign message ids are 404.
    let other = app.room_of(&alice, "group", &[]).await;
    let foreign = app.say(&alice, &other, "elsewhere").await.str("id");
    for id in [
        first.clone(),
        chatman::domain::MessageId::new().to_string(),
        "nope".into(),
        foreign,
    ] {
        let r = app.delete_as(&alice, &del(&id)).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{id}");
        let r = app
            .post_as(
                &alice,
                &format!("/rooms/{room}/read"),
                json!({"message_id": id}),
            )
            .await;
        assert_eq!(r.status, 404, "{id}");
    }
}

#[tokio::test]
async fn a_block_stops_a_direct_room_both_ways_but_not_groups() {
    let app = TestApp::new();
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let direct = app.direct(&alice, &bob).await.str("id");
    let group = app.room_of(&alice, "group", &[&bob]).await;
    assert_eq!(app.say(&bob, &direct, "before").await.status, 201);
    assert_eq!(
        app.post_as(&alice, "/users/bob/block", json!({}))
            .await
            .status,
        204
    );
    for (who, room) in [(&alice, &direct), (&bob, &direct)] {
        let r = app.say(who, room, "after").await;
        assert_eq!((r.status, r.code()), (403, "blocked"));
    }
    assert_eq!(app.say(&bob, &group, "groups go on").await.status, 201);
    assert_eq!(
        app.history_ids(&alice, &direct).await.len(),
        1,
        "history stays readable"
    );
    assert_eq!(app.delete_as(&alice, "/users/bob/block").await.status, 204);
    assert_eq!(app.say(&bob, &direct, "again").await.status, 201);
}

#[tokio::test]
async fn unread_counts_follow_sends_reads_and_deletes_and_the_list_is_most_recent_first() {
    let app = TestApp::new();
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let quiet = app.room_of(&alice, "group", &[&bob]).await;
    app.advance(Duration::seconds(1));
    let busy = app.direct(&alice, &bob).await.str("id");
    let mut ids = vec![];
    for i in 0..4 {
        app.advance(Duration::seconds(1));
        ids.push(app.say(&alice, &busy, &format!("m{i}")).await.str("id"));
    }
    let list = app.get_as(&bob, "/rooms").await;
    let order: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        vec![busy.as_str(), quiet.as_str()],
        "most recently active first"
    );
    let s = app.summary(&bob, &busy).await;
    assert_eq!(
        (s["unread_count"].as_u64(), s["name"].as_str()),
        (Some(4), Some("alice"))
    );
    assert_eq!(s["last_message"]["text"], "m3");
    assert_eq!(s["updated_at"], "2026-11-22T10:00:05.000Z");
    assert_eq!(
        app.summary(&alice, &busy).await["unread_count"],
        0,
        "your own messages are read"
    );
    let read = |id: &str| json!({"message_id": id});
    assert_eq!(
        app.post_as(&bob, &format!("/rooms/{busy}/read"), read(&ids[1]))
            .await
            .status,
        204
    );
    assert_eq!(app.summary(&bob, &busy).await["unread_count"], 2);
    // Reading an older message never moves the marker back.
    assert_eq!(
        app.post_as(&bob, &format!("/rooms/{busy}/read"), read(&ids[0]))
            .await
            .status,
        204
    );
    assert_eq!(app.summary(&bob, &busy).await["unread_count"], 2);
    // Deleting an unread message takes it out of the count; a read one changes nothing.
    app.delete_as(&alice, &format!("/rooms/{busy}/messages/{}", ids[3]))
        .await;
    assert_eq!(app.summary(&bob, &busy).await["unread_count"], 1);
    app.delete_as(&alice, &format!("/rooms/{busy}/messages/{}", ids[0]))
        .await;
    assert_eq!(app.summary(&bob, &busy).await["unread_count"], 1);
    assert_eq!(app.summary(&bob, &busy).await["last_message"]["text"], "m2");
    app.post_as(&bob, &format!("/rooms/{busy}/read"), read(&ids[2]))
        .await;
    assert_eq!(app.summary(&bob, &busy).await["unread_count"], 0);
    let r = app
        .post_as(&bob, &format!("/rooms/{busy}/read"), json!({}))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn the_chat_list_pages_by_activity_with_a_cursor() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let mut rooms = vec![];
    for _ in 0..5 {
        app.advance(Duration::seconds(1));
        rooms.push(app.room_of(&alice, "group", &[]).await);
    }
    rooms.reverse();
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/rooms?limit=2&cursor={c}"),
            None => "/rooms?limit=2".to_owned(),
        };
        let page = app.get_as(&alice, &path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, rooms);
    assert_eq!(
        app.get_as(&alice, "/rooms?cursor=garbage").await.status,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_have_no_gaps_or_duplicates_while_messages_keep_arriving() {
    let app = Arc::new(TestApp::new());
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let mut before = vec![];
    for i in 0..25 {
        before.push(app.say(&alice, &room, &format!("old {i}")).await.str("id"));
    }
    let writer = {
        let (app, bob, room) = (app.clone(), bob.clone(), room.clone());
        tokio::spawn(async move {
            for i in 0..25 {
                assert_eq!(app.say(&bob, &room, &format!("new {i}")).await.status, 201);
                tokio::task::yield_now().await;
            }
        })
    };
    let mut seen: Vec<String> = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/rooms/{room}/messages?limit=4&cursor={c}"),
            None => format!("/rooms/{room}/messages?limit=4"),
        };
        let page = app.get_as(&alice, &path).await;
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
        tokio::task::yield_now().await;
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    writer.await.unwrap();
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(sorted, seen, "newest first");
    for id in &before {
        assert!(seen.contains(id), "no gaps: {id} missing");
    }
}

async fn the_61st_message_in_a_minute_is_rate_limited(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.direct(&alice, &bob).await.str("id");
    // One every 100 ms: the first at 0 s, the 60th at 5.9 s.
    for i in 0..60 {
        let r = app.say(&alice, &room, &format!("m{i}")).await;
        assert_eq!(r.status, 201, "message {i}: {}", r.body);
        app.advance(Duration::milliseconds(100));
    }
    app.advance(Duration::milliseconds(4_500));
    let r = app.say(&alice, &room, "one too many").await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"));
    assert_eq!(
        r.body["retry_after"], 50,
        "60 s after the first minus the 10.5 s waited, rounded up"
    );
    assert_eq!(r.header("retry-after").as_deref(), Some("50"));
    assert_eq!(
        app.history_ids(&alice, &room).await.len(),
        60,
        "nothing written"
    );
    // The limit is the sender's, not the room's.
    assert_eq!(app.say(&bob, &room, "my turn").await.status, 201);
    app.advance(Duration::milliseconds(49_500));
    assert_eq!(
        app.say(&alice, &room, "the first left the window")
            .await
            .status,
        201
    );
    let r = app.say(&alice, &room, "but only the first").await;
    assert_eq!(r.status, 429, "a sliding window, not a fresh one");
    assert_eq!(r.body["retry_after"], 1, "the second leaves 100 ms later");
}

async fn sixty_one_parallel_messages_get_sixty_through(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let app = Arc::new(app);
    let mut tasks = vec![];
    for i in 0..61 {
        let (app, alice, room) = (app.clone(), alice.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            let r = app.say(&alice, &room, &format!("p{i}")).await;
            (r.status, r.code().to_owned())
        }));
    }
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let ok = statuses.iter().filter(|(s, _)| *s == 201).count();
    let limited = statuses
        .iter()
        .filter(|(s, c)| *s == 429 && c == "rate_limited")
        .count();
    assert_eq!((ok, limited), (60, 1), "{statuses:?}");
    let ids = app.history_ids(&alice, &room).await;
    assert_eq!(ids.len(), 60);
    let s = app.summary(&bob, &room).await;
    assert_eq!(
        s["unread_count"], 60,
        "every send got its own sequence number"
    );
}

#[tokio::test]
async fn the_61st_message_is_limited_in_memory() {
    the_61st_message_in_a_minute_is_rate_limited(TestApp::new()).await;
}

#[tokio::test]
async fn the_61st_message_is_limited_on_dynamodb_local() {
    the_61st_message_in_a_minute_is_rate_limited(TestApp::on_dynamodb().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_one_parallel_messages_in_memory() {
    sixty_one_parallel_messages_get_sixty_through(TestApp::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_one_parallel_messages_on_dynamodb_local() {
    sixty_one_parallel_messages_get_sixty_through(TestApp::on_dynamodb().await).await;
}

#[tokio::test]
async fn message_events_reach_the_members_and_nobody_else() {
    let app = TestApp::new();
    let (alice, bob, eve) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("eve").await,
    );
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let sent = app.say(&bob, &room, "hello").await;
    app.post_as(
        &alice,
        &format!("/rooms/{room}/read"),
        json!({"message_id": sent.str("id")}),
    )
    .await;
    app.delete_as(&bob, &format!("/rooms/{room}/messages/{}", sent.str("id")))
        .await;
    for who in [&alice, &bob] {
        assert_eq!(
            app.received(who),
            vec!["room/added", "message", "read", "deleted"]
        );
    }
    assert!(app.received(&eve).is_empty());
    let events: Vec<serde_json::Value> =
        app.push.events().iter().map(|(_, e)| e.to_json()).collect();
    assert_eq!(
        events[1],
        json!({"type": "message", "room_id": room, "seq": 1, "message": sent.body})
    );
    assert_eq!(
        events[2],
        json!({"type": "read", "room_id": room, "seq": 1, "username": "alice", "message_id": sent.str("id")})
    );
    assert_eq!(
        events[3],
        json!({"type": "deleted", "room_id": room, "seq": 1, "message_id": sent.str("id")})
    );
    // A removed member receives no messages after removal.
    app.delete_as(&alice, &format!("/rooms/{room}/members/bob"))
        .await;
    app.say(&alice, &room, "bob is gone").await;
    assert_eq!(
        app.received(&bob).last().map(String::as_str),
        Some("room/removed")
    );
}

#[tokio::test]
async fn a_failing_push_never_fails_the_request() {
    let app = TestApp::with_failing_push();
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.direct(&alice, &bob).await;
    assert_eq!(room.status, 201);
    let room = room.str("id");
    let sent = app.say(&alice, &room, "still delivered to the store").await;
    assert_eq!(sent.status, 201);
    assert_eq!(app.history_ids(&bob, &room).await, vec![sent.str("id")]);
    assert!(!app.push.events().is_empty(), "the push was tried");
}
