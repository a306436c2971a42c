//! The WebSocket API on the local server, driven by real WebSocket clients: tickets, the
//! handshake, ping, errors for the caller alone, bad frames that never hurt anyone else, the
//! `@connections` emulation under the real `aws-sdk-apigatewaymanagement` adapter, and the real
//! push with a stale connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ws_support;

use chatman::adapters::apigw::ApiGatewayConnections;
use chatman::domain::{ConnectionId, UserId, WsTicket};
use chatman::ports::{ConnectionApi, Event, PostError};
use chatman::security::secrets;
use chatman_local::LocalConfig;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use ws_support::*;

fn user_id(who: &Person) -> UserId {
    UserId::parse(&who.id).unwrap()
}

/// The ids of `who`'s recorded connections.
async fn connection_ids(local: &Local, who: &Person) -> Vec<ConnectionId> {
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

/// Waits until `who` has `n` recorded connections (`$disconnect` runs after the close).
async fn wait_for_connections(local: &Local, who: &Person, n: usize) {
    for _ in 0..100 {
        if connection_ids(local, who).await.len() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never had {n} connections", who.username);
}

async fn ping_pong(socket: &mut Socket) {
    send_json(socket, json!({"action": "ping"})).await;
    assert_eq!(next_json(socket).await, json!({"type": "pong"}));
}

#[tokio::test]
async fn a_ticket_opens_exactly_one_connection() {
    let local = local().await;
    let alice = local.person("alice").await;
    let (status, body) = local
        .send("POST", "/ws/tickets", None, Some(&alice.token))
        .await;
    assert_eq!(status, 201, "{body}");
    let url = body["url"].as_str().unwrap();
    assert!(url.starts_with(&local.running.ws_url()), "{url}");
    assert!(url.ends_with(&format!("?ticket={}", body["ticket"].as_str().unwrap())));
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));

    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ping_pong(&mut socket).await;
    assert_eq!(refused_status(url).await, Some(401), "a used ticket");
    assert_eq!(connection_ids(&local, &alice).await.len(), 1);
}

#[tokio::test]
async fn tickets_need_a_token_and_the_handshake_needs_a_live_ticket() {
    let local = local().await;
    let alice = local.person("alice").await;
    let (status, body) = local.send("POST", "/ws/tickets", None, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));

    let ws = local.running.ws_url();
    assert_eq!(refused_status(&ws).await, Some(401), "no ticket");
    assert_eq!(
        refused_status(&format!("{ws}?ticket=nope")).await,
        Some(401)
    );
    let unknown = secrets::encode(&[7u8; 32]);
    assert_eq!(
        refused_status(&format!("{ws}?ticket={unknown}")).await,
        Some(401)
    );

    // A ticket whose 60 s ran out (stored as the service stores them, only its hash).
    let raw: [u8; 32] = secrets::random_bytes();
    local
        .running
        .connections
        .put_ticket(&WsTicket {
            hash: secrets::hash(&raw),
            session: alice.session(),
            expires_at: time::OffsetDateTime::now_utc() - time::Duration::seconds(1),
        })
        .await
        .unwrap();
    let expired = format!("{ws}?ticket={}", secrets::encode(&raw));
    assert_eq!(
        refused_status(&expired).await,
        Some(401),
        "an expired ticket"
    );
    assert!(connection_ids(&local, &alice).await.is_empty());
}

async fn racing_handshakes_with_one_ticket(local: Local) {
    let alice = local.person("alice").await;
    let url = local.ticket_url(&alice).await;
    let attempts = (0..12).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { tokio_tungstenite::connect_async(url).await.ok() })
    });
    let sockets: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap())
        .collect();
    assert_eq!(sockets.len(), 1, "exactly one handshake wins");
    assert_eq!(connection_ids(&local, &alice).await.len(), 1);
}

#[tokio::test]
async fn racing_handshakes_with_one_ticket_have_one_winner_in_memory() {
    racing_handshakes_with_one_ticket(local().await).await;
}

#[tokio::test]
async fn racing_handshakes_with_one_ticket_have_one_winner_on_dynamodb() {
    racing_handshakes_with_one_ticket(local_on_dynamodb().await).await;
}

#[tokio::test]
async fn a_closed_socket_is_forgotten_by_disconnect() {
    let local = local().await;
    let alice = local.person("alice").await;
    let mut socket = local.connect(&alice).await;
    wait_for_connections(&local, &alice, 1).await;
    socket.close(None).await.unwrap();
    wait_for_connections(&local, &alice, 0).await;
    assert!(local.running.sockets.is_empty());
}

#[tokio::test]
async fn errors_reach_only_their_sender_and_never_close_the_socket() {
    let local = local().await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let mut a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;

    send_json(&mut a, json!({"action": "dance", "client_id": "c-1"})).await;
    let error = next_json(&mut a).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "unknown_action");
    assert_eq!(error["action"], "dance");
    assert_eq!(error["client_id"], "c-1");
    assert!(error["message"].as_str().is_some());
    silent_for(&mut b, 300).await;
    ping_pong(&mut a).await;
    ping_pong(&mut b).await;
}

#[tokio::test]
async fn bad_frames_get_error_events_and_the_socket_lives_on() {
    let local = local().await;
    let alice = local.person("alice").await;
    let mut a = local.connect(&alice).await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::text("not json"), "invalid_json"),
        (Message::text("[1,2,3]"), "invalid_json"),
        (Message::text(""), "invalid_json"),
        (Message::text(r#"{"room_id":"r1"}"#), "validation_failed"),
        (Message::text(r#"{"action":42}"#), "validation_failed"),
        (
            Message::binary(vec![0u8, 159, 146, 150]),
            "unsupported_media_type",
        ),
        (
            Message::text(json!({"action": "ping", "pad": "x".repeat(40 * 1024)}).to_string()),
            "payload_too_large",
        ),
        (
            Message::text(json!({"action": "ping", "client_id": "x".repeat(500)}).to_string()),
            "validation_failed",
        ),
    ];
    for (frame, code) in cases {
        let shown = format!("{frame:?}").chars().take(60).collect::<String>();
        a.send(frame).await.unwrap();
        let error = next_json(&mut a).await;
        assert_eq!(error["type"], "error", "{shown}");
        assert_eq!(error["code"], code, "{shown}: {error}");
    }
    ping_pong(&mut a).await;
}

#[tokio::test]
async fn a_frame_beyond_any_reason_closes_only_that_socket() {
    let local = local().await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let mut a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;
    let _ = a.send(Message::text("x".repeat(2 * 1024 * 1024))).await;
    assert_eq!(closed_with(&mut a, 5).await, Some(1009));
    ping_pong(&mut b).await;
    wait_for_connections(&local, &alice, 0).await;
}

#[tokio::test]
async fn a_flood_from_one_socket_does_not_starve_the_others() {
    let local = local().await;
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;
    let (mut a_out, mut a_in) = a.split();
    let flood = tokio::spawn(async move {
        // 1,000 frames within about a second, half of them garbage.
        for i in 0..1000 {
            let frame = if i % 2 == 0 {
                r#"{"action":"ping"}"#
            } else {
                "{{{"
            };
            if a_out.send(Message::text(frame)).await.is_err() {
                return;
            }
            if i % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let mut answers = 0;
    let reader = tokio::spawn(async move {
        while answers < 1000 {
            match tokio::time::timeout(Duration::from_secs(20), a_in.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => answers += 1,
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        answers
    });
    for _ in 0..5 {
        ping_pong(&mut b).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    flood.await.unwrap();
    assert_eq!(
        reader.await.unwrap(),
        1000,
        "every flooded frame was answered"
    );
    ping_pong(&mut b).await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let mut config = LocalConfig::embedded();
    config.ws_idle_timeout = 1;
    let local = local_with(config).await;
    let alice = local.person("alice").await;
    let mut a = local.connect(&alice).await;
    assert_eq!(closed_with(&mut a, 5).await, Some(1001));
    wait_for_connections(&local, &alice, 0).await;
}

#[tokio::test]
async fn the_sdk_adapter_posts_describes_and_closes_through_the_connections_api() {
    let local = local().await;
    let alice = local.person("alice").await;
    let mut a = local.connect(&alice).await;
    let id = connection_ids(&local, &alice).await.remove(0);
    let endpoint = format!("http://{}", local.running.ws_addr);
    let api = ApiGatewayConnections::new(&chatman::adapters::aws::local(&endpoint), &endpoint);

    api.post(&id, br#"{"type":"hello"}"#).await.unwrap();
    assert_eq!(next_json(&mut a).await, json!({"type": "hello"}));

    let (status, info) = local
        .management(
            "GET",
            &format!("/@connections/{}", id.as_str().replace('=', "%3D")),
        )
        .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");
    assert!(info["connectedAt"].as_str().unwrap().ends_with('Z'));

    let unknown = ConnectionId::parse("AAAAAAAAAAAAAA==").unwrap();
    assert!(matches!(
        api.post(&unknown, b"{}").await,
        Err(PostError::Gone)
    ));
    assert!(matches!(api.close(&unknown).await, Err(PostError::Gone)));
    assert_eq!(local.management("GET", "/@connections/nope").await.0, 410);

    api.close(&id).await.unwrap();
    assert_eq!(closed_with(&mut a, 5).await, Some(1000));
    wait_for_connections(&local, &alice, 0).await;
    assert!(matches!(api.post(&id, b"{}").await, Err(PostError::Gone)));
}

async fn push_reaches_every_connection_and_drops_a_stale_one(local: Local) {
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let mut a1 = local.connect(&alice).await;
    let mut a2 = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;

    // A connection that vanished without `$disconnect`: recorded, but no socket behind it.
    let raw: [u8; 32] = secrets::random_bytes();
    let now = time::OffsetDateTime::now_utc();
    let store = &local.running.connections;
    store
        .put_ticket(&WsTicket {
            hash: secrets::hash(&raw),
            session: alice.session(),
            expires_at: now + time::Duration::seconds(60),
        })
        .await
        .unwrap();
    let stale = ConnectionId::parse("staleconnection0=").unwrap();
    store
        .connect(&secrets::hash(&raw), &stale, now)
        .await
        .unwrap()
        .expect("the stale record");
    assert_eq!(connection_ids(&local, &alice).await.len(), 3);

    let event = Event::new("room", json!({"event": "added", "room_id": "r1"}));
    local
        .running
        .push
        .push(&[user_id(&alice), user_id(&alice)], &event)
        .await
        .unwrap();
    let expected = json!({"type": "room", "event": "added", "room_id": "r1"});
    assert_eq!(next_json(&mut a1).await, expected);
    assert_eq!(next_json(&mut a2).await, expected);
    silent_for(&mut a1, 200).await;
    silent_for(&mut b, 100).await;
    let left = connection_ids(&local, &alice).await;
    assert_eq!(left.len(), 2, "the stale connection is removed");
    assert!(!left.contains(&stale));
    ping_pong(&mut b).await;
}

#[tokio::test]
async fn push_reaches_every_connection_and_drops_a_stale_one_in_memory() {
    push_reaches_every_connection_and_drops_a_stale_one(local().await).await;
}

#[tokio::test]
async fn push_reaches_every_connection_and_drops_a_stale_one_on_dynamodb() {
    push_reaches_every_connection_and_drops_a_stale_one(local_on_dynamodb().await).await;
}

#[tokio::test]
async fn the_management_api_is_only_on_the_websocket_port_and_plain_http_is_told_to_upgrade() {
    let local = local().await;
    assert_eq!(local.management("GET", "/").await.0, 426);
    let (status, _) = local.send("GET", "/@connections/x", None, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn every_credit_reaches_the_receivers_sockets_as_transfer_received() {
    let mut config = LocalConfig::embedded();
    config.admins = "root".into();
    let local = local_with(config).await;
    let (root, alice, bob) = (
        local.person("root").await,
        local.person("alice").await,
        local.person("bob").await,
    );
    let mut a = local.connect(&alice).await;
    let mut b = local.connect(&bob).await;
    let mut r = local.connect(&root).await;

    let (status, body) = local
        .send_keyed(
            "POST",
            "/wallet/deposits",
            Some(json!({"username": "alice", "amount": 5000})),
            Some(&root.token),
            Some("deposit-1"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let event = next_json(&mut a).await;
    assert_eq!(event["type"], "transfer_received");
    assert_eq!(event["transfer"], body["transfer"]);

    let (status, body) = local
        .send_keyed(
            "POST",
            "/wallet/transfers",
            Some(json!({"to": "bob", "amount": 1250, "description": "lunch"})),
            Some(&alice.token),
            Some("lunch-1"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let event = next_json(&mut b).await;
    assert_eq!(event["type"], "transfer_received");
    assert_eq!(event["transfer"]["from"], "alice");
    assert_eq!(event["transfer"]["amount"], 1250);
    silent_for(&mut a, 200).await;
    silent_for(&mut r, 100).await;
}
