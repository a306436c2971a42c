//! Pins: the owner and admins of a group or channel (either person of a direct room) pin and
//! unpin messages, at most 50 per room however many pin at once; members read them newest pinned
//! first and hear `pinned` / `unpinned`; non-members get 404. Both stores.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::{Account, Reply, TestApp};

async fn pin(app: &TestApp, who: &Account, room: &str, message: &str) -> Reply {
    app.call(
        "PUT",
        &format!("/rooms/{room}/pins/{message}"),
        None,
        Some(&who.access),
    )
    .await
}

async fn unpin(app: &TestApp, who: &Account, room: &str, message: &str) -> Reply {
    app.delete_as(who, &format!("/rooms/{room}/pins/{message}"))
        .await
}

/// The ids of the room's pins as `who` reads them, newest pinned first.
async fn pinned_ids(app: &TestApp, who: &Account, room: &str) -> Vec<String> {
    let r = app.get_as(who, &format!("/rooms/{room}/pins")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"]["id"].as_str().unwrap().to_owned())
        .collect()
}

fn pin_events(app: &TestApp, who: &Account) -> Vec<(String, String)> {
    let id = chatman::domain::UserId::parse(&who.id).unwrap();
    app.push
        .received_by(&id)
        .into_iter()
        .filter(|e| e.kind == "pinned" || e.kind == "unpinned")
        .map(|e| {
            let fields = Value::Object(e.fields);
            (
                e.kind.to_owned(),
                fields["message_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn admins_pin_members_read(app: TestApp) {
    let (alice, bob, carol, eve) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
        app.register("eve").await,
    );
    let room = app.room_of(&alice, "group", &[&bob, &carol]).await;
    let promoted = app
        .patch_as(
            &alice,
            &format!("/rooms/{room}/members/carol"),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    let first = app.say(&bob, &room, "first").await.str("id");
    let second = app.say(&bob, &room, "second").await.str("id");

    assert_eq!(pin(&app, &alice, &room, &first).await.status, 204);
    app.advance(time::Duration::seconds(1));
    assert_eq!(
        pin(&app, &carol, &room, &second).await.status,
        204,
        "admins pin"
    );
    assert_eq!(
        pin(&app, &alice, &room, &second).await.status,
        204,
        "pinned again: no change"
    );
    let r = pin(&app, &bob, &room, &first).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "forbidden"),
        "a member does not"
    );
    assert_eq!(unpin(&app, &bob, &room, &first).await.status, 403);
    for message in [first.as_str(), "nope"] {
        let r = pin(&app, &eve, &room, message).await;
        assert_eq!(
            (r.status, r.code()),
            (404, "not_found"),
            "a non-member learns nothing"
        );
    }
    assert_eq!(
        app.get_as(&eve, &format!("/rooms/{room}/pins"))
            .await
            .status,
        404
    );
    let unknown = chatman::domain::MessageId::new().to_string();
    assert_eq!(pin(&app, &alice, &room, &unknown).await.status, 404);

    let listed = app.get_as(&bob, &format!("/rooms/{room}/pins")).await;
    assert_eq!(listed.status, 200);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["message"]["text"], "second", "newest pinned first");
    assert_eq!(items[0]["pinned_by"], "carol");
    assert_eq!(items[1]["message"]["id"], first.as_str());
    assert_eq!(items[1]["pinned_by"], "alice");
    assert!(items[1]["pinned_at"].is_string());

    assert_eq!(unpin(&app, &carol, &room, &first).await.status, 204);
    assert_eq!(
        unpin(&app, &carol, &room, &first).await.status,
        204,
        "unpinned again: no change"
    );
    assert_eq!(pinned_ids(&app, &bob, &room).await, vec![second.clone()]);

    app.deliver().await;
    let expect = vec![
        ("pinned".to_owned(), first.clone()),
        ("pinned".to_owned(), second.clone()),
        ("unpinned".to_owned(), first.clone()),
    ];
    assert_eq!(
        pin_events(&app, &bob),
        expect,
        "one event per change, none for a repeat"
    );

    // A direct room has no admins: either person pins.
    let direct = app.direct(&alice, &bob).await.str("id");
    let said = app.say(&alice, &direct, "the address").await.str("id");
    assert_eq!(pin(&app, &bob, &direct, &said).await.status, 204);
    assert_eq!(pinned_ids(&app, &alice, &direct).await, vec![said]);
}

/// Seventy different messages pinned at once: exactly fifty stay, the rest are refused
/// `too_many_pins`. A pinned message deleted leaves the list and frees its place.
async fn fifty_pins_at_most_however_many_at_once(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let mut ids = vec![];
    for i in 0..35 {
        ids.push(app.say(&alice, &room, &format!("a{i}")).await.str("id"));
        ids.push(app.say(&bob, &room, &format!("b{i}")).await.str("id"));
    }
    let replies =
        futures_util::future::join_all(ids.iter().map(|id| pin(&app, &alice, &room, id))).await;
    let pinned = replies.iter().filter(|r| r.status == 204).count();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status != 204).collect();
    assert_eq!(pinned, 50, "{:?}", refused.first());
    assert!(
        refused
            .iter()
            .all(|r| (r.status, r.code()) == (422, "too_many_pins"))
    );
    let listed = pinned_ids(&app, &bob, &room).await;
    assert_eq!(listed.len(), 50);

    let extra = ids.iter().find(|id| !listed.contains(id)).unwrap().clone();
    assert_eq!(pin(&app, &alice, &room, &extra).await.status, 422);
    let gone = listed[0].clone();
    let deleted = app
        .delete_as(&alice, &format!("/rooms/{room}/messages/{gone}"))
        .await;
    assert_eq!(deleted.status, 204);
    let listed = pinned_ids(&app, &bob, &room).await;
    assert_eq!(listed.len(), 49);
    assert!(!listed.contains(&gone), "a deleted message is not listed");
    assert_eq!(
        pin(&app, &alice, &room, &extra).await.status,
        204,
        "its place is free"
    );
    assert_eq!(pin(&app, &alice, &room, &gone).await.status, 404);
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
    admins_pin_members_read,
    fifty_pins_at_most_however_many_at_once
);
