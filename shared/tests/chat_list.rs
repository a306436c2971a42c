//! The chat list (`GET /rooms`) on both stores: one page of the inbox in activity order, a
//! message moves its room to the top of every member's list, pages never repeat a room, a room
//! one left is gone, and on DynamoDB the read capacity of a page does not grow with the number
//! of rooms.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::adapters::dynamodb::DynamoChat;
use chatman::adapters::memory_ledger::MemoryLedger;
use chatman::adapters::recording_push::RecordingPush;
use chatman::settings::Limits;
use std::sync::Arc;
use support::{Account, TestApp};
use time::Duration;

/// Every room id of `who`'s chat list, walking pages of `limit`.
async fn walk(app: &TestApp, who: &Account, limit: usize) -> Vec<String> {
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/rooms?limit={limit}&cursor={c}"),
            None => format!("/rooms?limit={limit}"),
        };
        let page = app.get_as(who, &path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        seen.extend(items.iter().map(|s| s["id"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return seen,
        }
    }
}

async fn the_list_follows_activity_page_by_page(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let mut rooms = vec![];
    for _ in 0..7 {
        app.advance(Duration::seconds(1));
        rooms.push(app.room_of(&alice, "group", &[&bob]).await);
    }
    // Newest first.
    rooms.reverse();
    assert_eq!(walk(&app, &alice, 3).await, rooms);
    assert_eq!(walk(&app, &bob, 2).await, rooms);

    // A message in the oldest room moves it to the top for both of them.
    app.advance(Duration::seconds(1));
    let oldest = rooms.pop().unwrap();
    assert_eq!(app.say(&bob, &oldest, "up").await.status, 201);
    rooms.insert(0, oldest.clone());
    assert_eq!(walk(&app, &alice, 3).await, rooms);
    assert_eq!(walk(&app, &bob, 7).await, rooms);
    let top = app.get_as(&alice, "/rooms?limit=1").await;
    assert_eq!(top.body["items"][0]["last_message"]["text"], "up");
    assert_eq!(top.body["items"][0]["unread_count"], 1);

    // Left and deleted rooms are gone from the list.
    let left = rooms.remove(1);
    let r = app
        .delete_as(&bob, &format!("/rooms/{left}/members/bob"))
        .await;
    assert_eq!(r.status, 204);
    let deleted = rooms.remove(1);
    assert_eq!(
        app.delete_as(&alice, &format!("/rooms/{deleted}"))
            .await
            .status,
        204
    );
    let bobs: Vec<String> = rooms.clone();
    assert_eq!(walk(&app, &bob, 2).await, bobs);
    let mut alices = rooms.clone();
    alices.insert(1, left);
    assert_eq!(walk(&app, &alice, 4).await, alices);
}

#[tokio::test]
async fn the_list_follows_activity_page_by_page_in_memory() {
    the_list_follows_activity_page_by_page(TestApp::new()).await;
}

#[tokio::test]
async fn the_list_follows_activity_page_by_page_on_dynamodb_local() {
    the_list_follows_activity_page_by_page(TestApp::on_dynamodb().await).await;
}

/// An app on DynamoDB Local and its chat store (whose meter counts consumed capacity).
async fn metered() -> (TestApp, Arc<DynamoChat>) {
    let (accounts, chat) = support::dynamo_chat_stores().await;
    let mut app = TestApp::assemble_with_uploads(
        accounts.clone(),
        Arc::new(MemoryLedger::new()),
        Some((chat.clone(), chat.clone())),
        Arc::new(RecordingPush::new()),
        "root",
        None,
        Limits::LOCAL,
        accounts,
    );
    app.deliver_from_stream(chat.table());
    (app, chat)
}

/// Read units of the chat store for one `GET /rooms?limit=20` of `who`.
async fn list_rcu(app: &TestApp, chat: &DynamoChat, who: &Account) -> f64 {
    let meter = chat.meter();
    meter.reset();
    let page = app.get_as(who, "/rooms?limit=20").await;
    assert_eq!(page.status, 200);
    meter.totals().0
}

#[tokio::test]
async fn a_page_of_the_list_costs_the_same_in_10_or_80_rooms_on_dynamodb_local() {
    let (app, chat) = metered().await;
    let alice = app.register("alice").await;
    for _ in 0..10 {
        app.room_of(&alice, "group", &[]).await;
    }
    let ten = list_rcu(&app, &chat, &alice).await;
    for _ in 0..70 {
        app.room_of(&alice, "group", &[]).await;
    }
    let eighty = list_rcu(&app, &chat, &alice).await;
    assert!(ten > 0.0);
    // A page reads `limit + 1` memberships and rooms (about 1 RCU each) and one index Query,
    // never the 59 rooms past it.
    assert!(
        eighty <= 21.0 * 2.0 + 1.0,
        "10 rooms: {ten} RCU, 80 rooms: {eighty} RCU"
    );
    for _ in 0..40 {
        app.room_of(&alice, "group", &[]).await;
    }
    let more = list_rcu(&app, &chat, &alice).await;
    assert!(
        (more - eighty).abs() < 1.0,
        "80 rooms: {eighty} RCU, 120 rooms: {more} RCU"
    );
}

/// The list shows the first 200 characters of a long last message; the history has it whole.
async fn the_list_shows_a_preview_of_a_long_message(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let long = "word ".repeat(800);
    assert_eq!(app.say(&alice, &room, &long).await.status, 201);
    let entry = app.summary(&bob, &room).await;
    let preview = entry["last_message"]["text"].as_str().unwrap();
    assert_eq!(preview, &long[..200]);
    let history = app.get_as(&bob, &format!("/rooms/{room}/messages")).await;
    assert_eq!(history.body["items"][0]["text"], long.as_str());
    assert_eq!(entry["last_message"]["id"], history.body["items"][0]["id"]);
}

#[tokio::test]
async fn the_list_shows_a_preview_of_a_long_message_in_memory() {
    the_list_shows_a_preview_of_a_long_message(TestApp::new()).await;
}

#[tokio::test]
async fn the_list_shows_a_preview_of_a_long_message_on_dynamodb_local() {
    the_list_shows_a_preview_of_a_long_message(TestApp::on_dynamodb().await).await;
}
