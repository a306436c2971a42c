//! The subscription index of large rooms, kept by the rooms function over HTTP: a channel's
//! members' live connections are in its index (each in its one shard) after create, add and
//! accepting an invitation, and out of it after leave, removal and deletion; a small group keeps
//! no index; members added while they connect end up with every live connection subscribed; a
//! group gets the index
//! once it passes `subscribe_above_members`, with joins and leaves racing the flip. On both
//! stores.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::adapters::memory::MemoryAccounts;
use chatman::domain::{ConnectionId, RoomId, SUBSCRIPTION_SHARDS, subscription_shard};
use chatman::settings::Limits;
use serde_json::json;
use std::sync::Arc;
use support::TestApp;

/// Every connection in the room's index, as `shard/id`, sorted (each shard checked).
async fn index_of(app: &TestApp, room: &str) -> Vec<String> {
    let room = RoomId::parse(room).unwrap();
    let mut all = Vec::new();
    for shard in 0..SUBSCRIPTION_SHARDS {
        for c in app
            .connections
            .room_subscribers(&room, shard, app.clock_now())
            .await
            .unwrap()
        {
            assert_eq!(subscription_shard(&c.id), shard);
            all.push(format!("{shard}/{}", c.id));
        }
    }
    all.sort();
    all
}

fn in_shards(ids: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = ids
        .iter()
        .map(|raw| {
            format!(
                "{}/{raw}",
                subscription_shard(&ConnectionId::parse(raw).unwrap())
            )
        })
        .collect();
    all.sort();
    all
}

async fn a_channels_index_follows_its_membership(app: TestApp) {
    let (alice, bob, carol, dave) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
        app.register("dave").await,
    );
    app.open_connection(&alice, "alice1").await;
    app.open_connection(&bob, "bob1").await;
    app.open_connection(&bob, "bob2").await;
    app.open_connection(&carol, "carol1").await;
    let channel = app.room_of(&alice, "channel", &[&bob]).await;
    let group = app.room_of(&alice, "group", &[&bob, &carol]).await;
    assert_eq!(
        index_of(&app, &channel).await,
        in_shards(&["alice1", "bob1", "bob2"])
    );
    assert!(
        index_of(&app, &group).await.is_empty(),
        "a group has no index"
    );

    // Added: her live connection goes in, and so does the one she opens next.
    let added = app
        .post_as(
            &alice,
            &format!("/rooms/{channel}/members"),
            json!({"usernames": ["carol"]}),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    app.open_connection(&carol, "carol2").await;
    assert_eq!(
        index_of(&app, &channel).await,
        in_shards(&["alice1", "bob1", "bob2", "carol1", "carol2"])
    );

    // Leaving and being removed take every connection of theirs out; a disconnect takes one.
    assert_eq!(
        app.delete_as(&bob, &format!("/rooms/{channel}/members/bob"))
            .await
            .status,
        204
    );
    assert_eq!(
        app.delete_as(&alice, &format!("/rooms/{channel}/members/carol"))
            .await
            .status,
        204
    );
    app.open_connection(&bob, "bob3").await;
    app.connections
        .disconnect(&ConnectionId::parse("alice1").unwrap())
        .await
        .unwrap();
    app.open_connection(&alice, "alice2").await;
    app.open_connection(&dave, "dave1").await;
    assert_eq!(index_of(&app, &channel).await, in_shards(&["alice2"]));

    // Deleted: nothing stays.
    assert_eq!(
        app.delete_as(&alice, &format!("/rooms/{channel}"))
            .await
            .status,
        204
    );
    assert!(index_of(&app, &channel).await.is_empty());
}

async fn an_invitation_subscribes_when_it_is_accepted(app: TestApp) {
    let (alice, carol) = (app.register("alice").await, app.register("carol").await);
    let private = app
        .patch_as(&carol, "/me", json!({"group_adds": "nobody"}))
        .await;
    assert_eq!(private.status, 200, "{}", private.body);
    app.open_connection(&carol, "carol1").await;
    let channel = app.room_of(&alice, "channel", &[]).await;
    let invited = app
        .post_as(
            &alice,
            &format!("/rooms/{channel}/members"),
            json!({"usernames": ["carol"]}),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.body);
    assert!(
        index_of(&app, &channel).await.is_empty(),
        "invited, not a member"
    );
    let accept = format!("/me/invitations/{channel}/accept");
    assert_eq!(app.post_as(&carol, &accept, json!({})).await.status, 200);
    assert_eq!(index_of(&app, &channel).await, in_shards(&["carol1"]));
}

async fn members_added_while_they_connect_have_every_connection_subscribed(app: TestApp) {
    let owner = app.register("owner").await;
    let channel = app.room_of(&owner, "channel", &[]).await;
    let mut people = Vec::new();
    for i in 0..6 {
        people.push(app.register(&format!("member{i}")).await);
    }
    let members_path = format!("/rooms/{channel}/members");
    let adds = people
        .iter()
        .map(|p| app.post_as(&owner, &members_path, json!({"usernames": [p.username]})));
    let connects = people.iter().enumerate().flat_map(|(i, p)| {
        let app = &app;
        (0..2).map(move |c| async move { app.open_connection(p, &format!("m{i}c{c}")).await })
    });
    let (added, ()) = tokio::join!(futures_util::future::join_all(adds), async {
        futures_util::future::join_all(connects).await;
    });
    for r in added {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let all: Vec<String> = (0..6)
        .flat_map(|i| (0..2).map(move |c| format!("m{i}c{c}")))
        .collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_eq!(index_of(&app, &channel).await, in_shards(&all));
}

/// Subscribed above 4 members (instead of 256), so the tests can cross it.
fn small_threshold() -> Limits {
    Limits {
        subscribe_above_members: 4,
        ..Limits::LOCAL
    }
}

async fn a_group_gets_the_index_once_it_passes_the_threshold(app: TestApp) {
    let names = ["per0", "per1", "per2", "per3", "per4", "per5"];
    let mut people = Vec::new();
    for name in names {
        let who = app.register(name).await;
        app.open_connection(&who, &format!("{name}x")).await;
        people.push(who);
    }
    // 4 members: at the threshold, no index.
    let group = app
        .room_of(&people[0], "group", &[&people[1], &people[2], &people[3]])
        .await;
    assert!(index_of(&app, &group).await.is_empty());
    // The 5th member flips it: every member's connections go in, the newcomer's too.
    let members_path = format!("/rooms/{group}/members");
    let add = |who: &str| app.post_as(&people[0], &members_path, json!({"usernames": [who]}));
    assert_eq!(add("per4").await.status, 200);
    assert_eq!(
        index_of(&app, &group).await,
        in_shards(&["per0x", "per1x", "per2x", "per3x", "per4x"])
    );
    // Once subscribed it stays so: below the threshold again, joins and leaves still count.
    for who in ["per3", "per4", "per2"] {
        let gone = app
            .delete_as(&people[0], &format!("/rooms/{group}/members/{who}"))
            .await;
        assert_eq!(gone.status, 204);
    }
    assert_eq!(add("per5").await.status, 200);
    assert_eq!(
        index_of(&app, &group).await,
        in_shards(&["per0x", "per1x", "per5x"])
    );
}

async fn joins_and_leaves_racing_the_flip_leave_exactly_the_members(app: TestApp) {
    let owner = app.register("owner").await;
    app.open_connection(&owner, "ownerx").await;
    let mut stay = Vec::new();
    let mut go = Vec::new();
    for i in 0..3 {
        let who = app.register(&format!("go{i}")).await;
        app.open_connection(&who, &format!("go{i}x")).await;
        go.push(who);
    }
    for i in 0..6 {
        let who = app.register(&format!("stay{i}")).await;
        app.open_connection(&who, &format!("stay{i}x")).await;
        stay.push(who);
    }
    let group = app
        .room_of(&owner, "group", &[&go[0], &go[1], &go[2]])
        .await;
    // Six joins (crossing 4 members) race three leaves.
    let members_path = format!("/rooms/{group}/members");
    let joins = stay
        .iter()
        .map(|p| app.post_as(&owner, &members_path, json!({"usernames": [p.username]})));
    let app_ref = &app;
    let leaves = go.iter().map(|p| {
        let path = format!("/rooms/{group}/members/{}", p.username);
        async move { app_ref.delete_as(p, &path).await }
    });
    let (joined, left) = tokio::join!(
        futures_util::future::join_all(joins),
        futures_util::future::join_all(leaves)
    );
    for r in joined {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for r in left {
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let expected: Vec<String> = std::iter::once("ownerx".to_owned())
        .chain((0..6).map(|i| format!("stay{i}x")))
        .collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(index_of(&app, &group).await, in_shards(&expected));
}

#[tokio::test]
async fn a_group_gets_the_index_once_it_passes_the_threshold_in_memory() {
    let app = TestApp::with_limits(Arc::new(MemoryAccounts::new()), small_threshold());
    a_group_gets_the_index_once_it_passes_the_threshold(app).await;
}

#[tokio::test]
async fn a_group_gets_the_index_once_it_passes_the_threshold_on_dynamodb_local() {
    let app = TestApp::on_dynamodb_with_limits(small_threshold()).await;
    a_group_gets_the_index_once_it_passes_the_threshold(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_and_leaves_racing_the_flip_leave_exactly_the_members_in_memory() {
    for _ in 0..3 {
        let app = TestApp::with_limits(Arc::new(MemoryAccounts::new()), small_threshold());
        joins_and_leaves_racing_the_flip_leave_exactly_the_members(app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_and_leaves_racing_the_flip_leave_exactly_the_members_on_dynamodb_local() {
    for _ in 0..3 {
        let app = TestApp::on_dynamodb_with_limits(small_threshold()).await;
        joins_and_leaves_racing_the_flip_leave_exactly_the_members(app).await;
    }
}

#[tokio::test]
async fn a_channels_index_follows_its_membership_in_memory() {
    a_channels_index_follows_its_membership(TestApp::new()).await;
}

#[tokio::test]
async fn a_channels_index_follows_its_membership_on_dynamodb_local() {
    a_channels_index_follows_its_membership(TestApp::on_dynamodb().await).await;
}

#[tokio::test]
async fn an_invitation_subscribes_when_it_is_accepted_in_memory() {
    an_invitation_subscribes_when_it_is_accepted(TestApp::new()).await;
}

#[tokio::test]
async fn an_invitation_subscribes_when_it_is_accepted_on_dynamodb_local() {
    an_invitation_subscribes_when_it_is_accepted(TestApp::on_dynamodb().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_added_while_they_connect_are_subscribed_in_memory() {
    members_added_while_they_connect_have_every_connection_subscribed(TestApp::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_added_while_they_connect_are_subscribed_on_dynamodb_local() {
    members_added_while_they_connect_have_every_connection_subscribed(TestApp::on_dynamodb().await)
        .await;
}
