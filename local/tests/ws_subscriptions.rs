//! A channel's subscription index on the local server, with real WebSocket clients and the HTTP
//! API: the sockets of its members are in the index once they connect or join, and leave it when
//! the socket closes (`$disconnect`) or the member leaves. On both stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ws_support;

use chatman::domain::{ConnectionId, RoomId, SUBSCRIPTION_SHARDS, UserId};
use serde_json::json;
use std::time::Duration;
use ws_support::*;

fn user_id(who: &Person) -> UserId {
    UserId::parse(&who.id).unwrap()
}

/// The ids of `who`'s recorded connections, sorted.
async fn connections_of(local: &Local, who: &Person) -> Vec<ConnectionId> {
    let now = time::OffsetDateTime::now_utc();
    let mut ids: Vec<ConnectionId> = local
        .running
        .connections
        .connections_of(&user_id(who), now)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    ids
}

/// Every connection in the room's index (all shards), sorted.
async fn index_of(local: &Local, room: &RoomId) -> Vec<ConnectionId> {
    let now = time::OffsetDateTime::now_utc();
    let mut all = Vec::new();
    for shard in 0..SUBSCRIPTION_SHARDS {
        for c in local
            .running
            .connections
            .room_subscribers(room, shard, now)
            .await
            .unwrap()
        {
            all.push(c.id);
        }
    }
    all.sort();
    all
}

/// Waits until the room's index is `expected` (`$disconnect` runs after the close).
async fn wait_for_index(local: &Local, room: &RoomId, expected: &[ConnectionId]) {
    let mut expected = expected.to_vec();
    expected.sort();
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = index_of(local, room).await;
        if seen == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the index is {seen:?}, not {expected:?}");
}

async fn a_channels_sockets_follow_connects_closes_and_leaves(local: Local) {
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let _a = local.connect(&alice).await;
    let mut b1 = local.connect(&bob).await;
    let (status, room) = local
        .send(
            "POST",
            "/rooms",
            Some(json!({"kind": "channel", "name": "News", "members": ["bob"]})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let room = RoomId::parse(room["id"].as_str().unwrap()).unwrap();
    let (a_ids, b_ids) = (
        connections_of(&local, &alice).await,
        connections_of(&local, &bob).await,
    );
    wait_for_index(&local, &room, &[a_ids.clone(), b_ids.clone()].concat()).await;

    // A second socket of Bob's joins the index by its `$connect`; the first leaves by its close.
    let _b2 = local.connect(&bob).await;
    let both = connections_of(&local, &bob).await;
    wait_for_index(&local, &room, &[a_ids.clone(), both.clone()].concat()).await;
    b1.close(None).await.unwrap();
    let b2_ids: Vec<ConnectionId> = both.into_iter().filter(|c| !b_ids.contains(c)).collect();
    wait_for_index(&local, &room, &[a_ids.clone(), b2_ids].concat()).await;

    // Leaving takes Bob's remaining socket out while it stays open.
    let (status, _) = local
        .send(
            "DELETE",
            &format!("/rooms/{room}/members/bob"),
            None,
            Some(&bob.token),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(connections_of(&local, &bob).await.len(), 1);
    wait_for_index(&local, &room, &a_ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channels_sockets_follow_connects_closes_and_leaves_in_memory() {
    a_channels_sockets_follow_connects_closes_and_leaves(local().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channels_sockets_follow_connects_closes_and_leaves_on_dynamodb() {
    a_channels_sockets_follow_connects_closes_and_leaves(local_on_dynamodb().await).await;
}
