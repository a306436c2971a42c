//! ws-ticket, ws-connect, ws-message (every action, money included) and ws-disconnect, driven
//! through their handlers with API Gateway WebSocket events.

use super::{field, key};
use crate::iam_support::deployment::Deployment;
use crate::support::PASSWORD;
use serde_json::json;

pub async fn run(d: &Deployment) {
    let sender = d.person("sender").await;
    let friend = d.person("friend").await;
    let third = d.person("third").await;
    d.rec.serving("setup");
    let root = d.app.login("root", PASSWORD).await.str("access_token");
    let funds = json!({"username": "sender", "amount": 5_000});
    let k = key();
    let funded = d
        .app
        .post_keyed("/wallet/deposits", &funds, &root, Some(&k));
    assert_eq!(funded.await.status, 201);

    // ws-ticket and ws-connect: a ticket opens one connection, once.
    let anonymous = d.call("POST", "/ws/tickets", None, None).await;
    assert_eq!(anonymous.status, 401);
    let ticket = d
        .call("POST", "/ws/tickets", None, Some(&sender.access))
        .await;
    let ticket = field(&ticket.body, "ticket");
    assert_eq!(d.open("sender-1", &ticket).await, 200);
    assert_eq!(d.open("sender-2", &ticket).await, 401, "a spent ticket");
    assert_eq!(d.connect(&friend, "friend-1").await, 200);
    // The eleventh connection of one person evicts the oldest (deleted, closed).
    for i in 0..11 {
        assert_eq!(d.connect(&third, &format!("third-{i}")).await, 200);
    }

    let direct = json!({"kind": "direct", "username": "friend"});
    let direct = d
        .call("POST", "/rooms", Some(direct), Some(&sender.access))
        .await;
    let room = field(&direct.body, "id");
    let group = json!({"kind": "group", "name": "Two", "members": ["third"]});
    let group = d
        .call("POST", "/rooms", Some(group), Some(&friend.access))
        .await;
    let group = field(&group.body, "id");

    // ws-message: every action, each pushing to a live and a stale connection.
    let s = "sender-1";
    assert_eq!(d.frame_error(s, json!({"action": "ping"})).await, None);
    assert_eq!(d.connect(&friend, "gone-friend-1").await, 200);
    let hello = json!({"action": "send", "room_id": room, "text": "hi", "client_id": "w-1"});
    assert_eq!(d.frame_error(s, hello).await, None);
    let typing = json!({"action": "typing", "room_id": room, "is_typing": true});
    assert_eq!(d.frame_error(s, typing).await, None);
    let page = format!("/rooms/{room}/messages");
    let page = d.call("GET", &page, None, Some(&friend.access)).await;
    let message = page.body["items"][0]["id"].as_str().unwrap().to_owned();
    let read = json!({"action": "read", "room_id": room, "message_id": message});
    assert_eq!(d.frame_error("friend-1", read.clone()).await, None);
    assert_eq!(d.frame_error("friend-1", read).await, None, "read again");
    let delete = json!({"action": "delete", "room_id": room, "message_id": message});
    assert_eq!(d.frame_error(s, delete).await, None);

    let file = super::uploads::uploaded(d, &sender, "message").await;
    let files = json!({"action": "send", "room_id": room, "upload_ids": [file]});
    assert_eq!(d.frame_error(s, files).await, None);

    let pay = |room: &str, amount: i64, key: &str| json!({"action": "transfer", "room_id": room, "amount": amount, "idempotency_key": key});
    assert_eq!(d.connect(&friend, "gone-friend-2").await, 200);
    let k = key();
    assert_eq!(d.frame_error(s, pay(&room, 700, &k)).await, None);
    assert_eq!(d.frame_error(s, pay(&room, 700, &k)).await, None, "replay");
    d.rec.fail_next("TransactWriteItems");
    let failed = d.frame_error(s, pay(&room, 1, &key())).await;
    assert!(failed.is_some(), "a failed movement is an error frame");
    let broke = d.frame_error(s, pay(&room, 1_000_000, &key())).await;
    assert_eq!(broke.as_deref(), Some("insufficient_funds"));
    let mut to_third = pay(&group, 5, &key());
    to_third["to"] = json!("third");
    assert_eq!(
        d.frame_error("friend-1", to_third).await,
        None,
        "to a member of a group"
    );
    let outsider = d.frame_error(s, pay(&group, 5, &key())).await;
    assert_eq!(outsider.as_deref(), Some("not_found"));
    // An unknown connection is told `unauthorized` through @connections and closed.
    let stranger = d.frame("nobody", json!({"action": "ping"})).await;
    assert!(stranger.body.is_none(), "refused out of band");

    // ws-disconnect: the connection and its owner's index entry go.
    assert_eq!(d.close(s).await, 200);
    assert_eq!(d.close(s).await, 200, "twice is harmless");
    let after = d.frame(s, json!({"action": "ping"})).await;
    assert!(after.body.is_none(), "a closed connection no longer acts");
}
