//! The connection store contract: tickets open one connection once, connections are found by
//! owner and by id, and lapse or are forgotten. Run against the memory adapter and against
//! DynamoDB Local through the real SDK adapter; both must behave the same.
#![allow(clippy::unwrap_used)]

mod support;

use ::time::Duration;
use chatman::adapters::dynamodb::{DynamoConnections, schema::create_accounts_table};
use chatman::adapters::memory_connections::MemoryConnections;
use chatman::domain::{
    CONNECTION_LIFETIME, ConnectionId, TICKET_LIFETIME, TokenHash, UserId, WsTicket,
};
use chatman::ports::ConnectionStore;
use std::sync::Arc;
use support::start_time;

async fn dynamo() -> Arc<dyn ConnectionStore> {
    let aws = chatman::adapters::aws::local(&support::dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    create_accounts_table(&client, &table).await.unwrap();
    Arc::new(DynamoConnections::new(client, table))
}

fn memory() -> Arc<dyn ConnectionStore> {
    Arc::new(MemoryConnections::new())
}

fn id(raw: &str) -> ConnectionId {
    ConnectionId::parse(raw).unwrap()
}

async fn ticket(store: &dyn ConnectionStore, user: UserId, seed: u8) -> TokenHash {
    let hash = TokenHash([seed; 32]);
    store
        .put_ticket(&WsTicket {
            hash,
            user_id: user,
            expires_at: start_time() + TICKET_LIFETIME,
        })
        .await
        .unwrap();
    hash
}

async fn a_ticket_opens_one_connection_for_its_owner(store: Arc<dyn ConnectionStore>) {
    let alice = UserId::new();
    let hash = ticket(&*store, alice, 1).await;
    let now = start_time() + Duration::seconds(5);
    let opened = store
        .connect(&hash, &id("c1="), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.user_id, alice);
    assert_eq!(opened.connected_at, now);
    assert_eq!(opened.expires_at, now + CONNECTION_LIFETIME);
    assert_eq!(
        store.connection(&id("c1="), now).await.unwrap(),
        Some(opened.clone())
    );
    assert_eq!(
        store.connections_of(&alice, now).await.unwrap(),
        vec![opened]
    );
    assert!(
        store
            .connect(&hash, &id("c2="), now)
            .await
            .unwrap()
            .is_none(),
        "a spent ticket opens nothing"
    );
    assert!(store.connection(&id("c2="), now).await.unwrap().is_none());
}

async fn missing_and_expired_tickets_open_nothing(store: Arc<dyn ConnectionStore>) {
    let alice = UserId::new();
    assert!(
        store
            .connect(&TokenHash([9; 32]), &id("c1"), start_time())
            .await
            .unwrap()
            .is_none()
    );
    let hash = ticket(&*store, alice, 2).await;
    let expired = start_time() + TICKET_LIFETIME;
    assert!(
        store
            .connect(&hash, &id("c1"), expired)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .connections_of(&alice, expired)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn racing_connects_with_one_ticket_have_exactly_one_winner(store: Arc<dyn ConnectionStore>) {
    let alice = UserId::new();
    let hash = ticket(&*store, alice, 3).await;
    let attempts = (0..16).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .connect(&hash, &id(&format!("race{i}")), start_time())
                .await
        })
    });
    let results = futures_util::future::join_all(attempts).await;
    let winners = results
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .filter(Option::is_some)
        .count();
    assert_eq!(winners, 1);
    assert_eq!(
        store
            .connections_of(&alice, start_time())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn each_user_finds_only_their_own_connections(store: Arc<dyn ConnectionStore>) {
    let (alice, bob) = (UserId::new(), UserId::new());
    for (i, user) in [alice, alice, bob].into_iter().enumerate() {
        let hash = ticket(&*store, user, 10 + i as u8).await;
        store
            .connect(&hash, &id(&format!("k{i}")), start_time())
            .await
            .unwrap()
            .unwrap();
    }
    let mut of_alice: Vec<String> = store
        .connections_of(&alice, start_time())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    of_alice.sort();
    assert_eq!(of_alice, ["k0", "k1"]);
    assert_eq!(
        store
            .connections_of(&bob, start_time())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .connections_of(&UserId::new(), start_time())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_disconnect_forgets_the_connection_everywhere(store: Arc<dyn ConnectionStore>) {
    let alice = UserId::new();
    let hash = ticket(&*store, alice, 20).await;
    store
        .connect(&hash, &id("gone"), start_time())
        .await
        .unwrap()
        .unwrap();
    store.disconnect(&id("gone")).await.unwrap();
    assert!(
        store
            .connection(&id("gone"), start_time())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .connections_of(&alice, start_time())
            .await
            .unwrap()
            .is_empty()
    );
    store.disconnect(&id("gone")).await.unwrap();
    store.disconnect(&id("never")).await.unwrap();
}

async fn connections_lapse_after_their_lifetime(store: Arc<dyn ConnectionStore>) {
    let alice = UserId::new();
    let hash = ticket(&*store, alice, 30).await;
    store
        .connect(&hash, &id("old"), start_time())
        .await
        .unwrap()
        .unwrap();
    let later = start_time() + CONNECTION_LIFETIME;
    assert!(store.connection(&id("old"), later).await.unwrap().is_none());
    assert!(
        store
            .connections_of(&alice, later)
            .await
            .unwrap()
            .is_empty()
    );
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::memory()).await }) *
        }
        mod dynamodb_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::dynamo().await).await }) *
        }
    };
}

contract!(
    a_ticket_opens_one_connection_for_its_owner,
    missing_and_expired_tickets_open_nothing,
    racing_connects_with_one_ticket_have_exactly_one_winner,
    each_user_finds_only_their_own_connections,
    a_disconnect_forgets_the_connection_everywhere,
    connections_lapse_after_their_lifetime,
);
