//! Delivery after the request: the outbox (the memory store's queue, DynamoDB Local's stream)
//! and the worker that takes it to the sockets. A send answers when the message is committed;
//! events reach members afterwards, in the order of the changes, at least once, and a worker
//! that dies mid-batch leaves nothing undelivered and nothing stored twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use async_trait::async_trait;
use chatman::adapters::dynamodb::outbox_items::outbox_item;
use chatman::adapters::recording_push::RecordingPush;
use chatman::domain::{RoomId, UserId};
use chatman::handlers::ws_deliver::{StreamEvent, WsDeliver};
use chatman::ports::{Audience, Event, Outgoing, Push};
use chatman::services::delivery::{Delivery, DeliveryLoop, MAX_ATTEMPTS};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{Account, TestApp};

/// A push that records, fails while `failures` lasts (or for every event of kind `refuse`),
/// and hangs for ever once it has recorded `hang_after` events (a worker that died mid-batch).
#[derive(Default)]
struct FlakyPush {
    inner: RecordingPush,
    failures: AtomicUsize,
    refuse: Option<&'static str>,
    hang_after: Option<usize>,
}

#[async_trait]
impl Push for FlakyPush {
    async fn push(&self, recipients: &[UserId], event: &Event) -> anyhow::Result<()> {
        if self
            .hang_after
            .is_some_and(|n| self.inner.events().len() >= n)
        {
            std::future::pending::<()>().await;
        }
        if self.refuse == Some(event.kind) {
            anyhow::bail!("refused (test)");
        }
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            anyhow::bail!("failing (test)");
        }
        self.inner.push(recipients, event).await
    }

    async fn push_to(
        &self,
        connections: &[chatman::domain::Connection],
        event: &Event,
    ) -> anyhow::Result<()> {
        let owners: Vec<UserId> = connections.iter().map(|c| c.user_id).collect();
        self.push(&owners, event).await
    }
}

/// An app whose requests leave delivery to the test.
async fn app(on_dynamodb: bool) -> TestApp {
    let mut app = if on_dynamodb {
        TestApp::on_dynamodb().await
    } else {
        TestApp::new()
    };
    app.deliver_manually();
    app
}

async fn worker(app: &TestApp, push: Arc<dyn Push>) -> DeliveryLoop {
    let feed = TestApp::open_feed(&app.feed_source()).await;
    DeliveryLoop::new(feed, Arc::new(delivery(app, push))).with_backoff(Duration::from_millis(1))
}

fn delivery(app: &TestApp, push: Arc<dyn Push>) -> Delivery {
    let clock: Arc<dyn chatman::ports::Clock> = app.clock.clone();
    Delivery::new(
        app.chat.chat.clone(),
        push,
        app.chat.subscriptions.clone(),
        clock,
    )
}

fn uid(who: &Account) -> UserId {
    UserId::parse(&who.id).unwrap()
}

/// What `who` received of the room's history (`room` events about membership, which the
/// rooms function still pushes itself, left out): `(type, message id)` in order.
fn received(push: &RecordingPush, who: &Account) -> Vec<(String, String)> {
    push.received_by(&uid(who))
        .into_iter()
        .filter(|e| e.kind != "room")
        .map(|e| {
            let frame = e.to_json();
            let id = frame["message"]["id"]
                .as_str()
                .or(frame["message_id"].as_str())
                .unwrap_or_default()
                .to_owned();
            (e.kind.to_owned(), id)
        })
        .collect()
}

async fn group(app: &TestApp) -> (Account, Account, String) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app.room_of(&alice, "group", &[&bob]).await;
    (alice, bob, room)
}

async fn a_send_answers_before_anything_is_delivered(app: TestApp) {
    let (alice, bob, room) = group(&app).await;
    let sent = app.say(&alice, &room, "hello").await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    assert!(
        received(&app.push, &bob).is_empty(),
        "nothing is pushed inside the request"
    );
    app.deliver().await;
    assert_eq!(
        received(&app.push, &bob),
        vec![("message".to_owned(), sent.str("id"))]
    );
    // The worker also moved the room up bob's chat list (the send no longer does).
    assert_eq!(
        app.summary(&bob, &room).await["last_message"]["id"],
        sent.str("id")
    );
}

async fn events_arrive_in_the_order_of_the_changes(app: TestApp) {
    let (alice, bob, room) = group(&app).await;
    let one = app.say(&alice, &room, "one").await.str("id");
    let two = app.say(&alice, &room, "two").await.str("id");
    let gone = app
        .delete_as(&alice, &format!("/rooms/{room}/messages/{one}"))
        .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    let read = app
        .post_as(
            &bob,
            &format!("/rooms/{room}/read"),
            json!({"message_id": two}),
        )
        .await;
    assert_eq!(read.status, 204, "{}", read.body);
    app.deliver().await;
    assert_eq!(
        received(&app.push, &bob),
        vec![
            ("message".to_owned(), one.clone()),
            ("message".to_owned(), two.clone()),
            ("deleted".to_owned(), one),
            ("read".to_owned(), two),
        ]
    );
}

async fn a_worker_killed_mid_batch_loses_nothing_and_stores_nothing_twice(app: TestApp) {
    let (alice, bob, room) = group(&app).await;
    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(app.say(&alice, &room, &format!("m{i}")).await.str("id"));
    }
    // The first worker dies after 7 pushes, in the middle of its batch.
    let dying = Arc::new(FlakyPush {
        hang_after: Some(7),
        ..FlakyPush::default()
    });
    let first = worker(&app, dying.clone()).await;
    // It hangs for ever after its 7th push: the timeout is only how long we wait to see that.
    let killed = tokio::time::timeout(Duration::from_secs(5), first.drain()).await;
    assert!(killed.is_err(), "the first worker was stopped mid-batch");
    assert_eq!(received(&dying.inner, &bob).len(), 7);
    drop(first);
    // A new one reads from the last checkpoint: what the dead one had not acknowledged.
    let push = Arc::new(RecordingPush::new());
    let second = worker(&app, push.clone()).await;
    second.drain().await.unwrap();
    let delivered: Vec<String> = received(&push, &bob)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let mut all: Vec<String> = received(&dying.inner, &bob)
        .into_iter()
        .map(|(_, id)| id)
        .chain(delivered.iter().cloned())
        .collect();
    all.sort();
    all.dedup();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(all, expected, "every message reached bob");
    assert_eq!(
        delivered, sent,
        "the second worker delivers in order from its checkpoint"
    );
    // History holds each message once, whatever the wire carried.
    let mut history = app.history_ids(&bob, &room).await;
    history.reverse();
    assert_eq!(history, sent);
}

async fn failures_are_retried_and_a_hopeless_record_is_set_aside(app: TestApp) {
    let (alice, bob, room) = group(&app).await;
    let one = app.say(&alice, &room, "one").await.str("id");
    let flaky = Arc::new(FlakyPush {
        failures: AtomicUsize::new(3),
        ..FlakyPush::default()
    });
    let w = worker(&app, flaky.clone()).await;
    w.drain().await.unwrap();
    assert_eq!(
        received(&flaky.inner, &bob),
        vec![("message".to_owned(), one.clone())]
    );
    assert_eq!(w.stats.retried.load(Ordering::Relaxed), 3);

    // A record that can never be delivered goes to the dead letters; the ones after it do not
    // wait for ever behind it.
    let refusing = Arc::new(FlakyPush {
        refuse: Some("deleted"),
        ..FlakyPush::default()
    });
    app.delete_as(&alice, &format!("/rooms/{room}/messages/{one}"))
        .await;
    let two = app.say(&alice, &room, "two").await.str("id");
    let w = worker(&app, refusing.clone()).await;
    // On a stream feed the new worker starts from the stream's start: `one` comes again.
    w.drain().await.unwrap();
    assert_eq!(w.stats.dead_letters.load(Ordering::Relaxed), 1);
    assert_eq!(
        w.stats.retried.load(Ordering::Relaxed),
        u64::from(MAX_ATTEMPTS - 1),
        "tried MAX_ATTEMPTS times before giving up"
    );
    let after = received(&refusing.inner, &bob);
    assert_eq!(after.last(), Some(&("message".to_owned(), two)));
    assert!(!after.iter().any(|(kind, _)| kind == "deleted"));
}

/// A channel (a room with a subscription index) is delivered by shard: only connections that
/// are online cost anything, each gets the event, offline members are never looked up.
async fn a_channel_is_delivered_to_its_online_connections_by_shard(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let room = app.room_of(&alice, "channel", &[&bob, &carol]).await;
    app.open_connection(&bob, "bob-phone").await;
    app.open_connection(&bob, "bob-laptop").await;
    app.deliver().await;
    let before = app.push.events().len();
    let sent = app.say(&alice, &room, "to the channel").await.str("id");
    app.deliver().await;
    let pushes: Vec<_> = app.push.events().into_iter().skip(before).collect();
    assert!(!pushes.is_empty(), "the message was delivered");
    for (to, event) in &pushes {
        assert_eq!(event.kind, "message");
        assert_eq!(event.to_json()["message"]["id"], sent.as_str());
        assert_eq!(to, &vec![uid(&bob)], "only the online member's connections");
    }
    let shards: std::collections::BTreeSet<u16> = ["bob-phone", "bob-laptop"]
        .iter()
        .map(|raw| {
            chatman::domain::subscription_shard(&chatman::domain::ConnectionId::parse(raw).unwrap())
        })
        .collect();
    assert_eq!(
        pushes.len(),
        shards.len(),
        "one push per shard holding a connection"
    );
    assert!(received(&app.push, &carol).is_empty());
    // The members' chat lists moved (the first message of the interval).
    assert_eq!(
        app.summary(&carol, &room).await["last_message"]["id"],
        sent.as_str()
    );
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod in_memory {
            $(#[tokio::test] async fn $name() { super::$name(super::app(false).await).await; })*
        }
        mod on_dynamodb_local {
            $(#[tokio::test] async fn $name() { super::$name(super::app(true).await).await; })*
        }
    };
}

on_both_stores!(
    a_send_answers_before_anything_is_delivered,
    events_arrive_in_the_order_of_the_changes,
    a_worker_killed_mid_batch_loses_nothing_and_stores_nothing_twice,
    failures_are_retried_and_a_hopeless_record_is_set_aside,
    a_channel_is_delivered_to_its_online_connections_by_shard,
);

/// DynamoDB JSON of an item, as a Lambda stream event carries a new image.
fn image(record: &Outgoing) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn value(v: &A) -> Value {
        match v {
            A::S(x) => json!({ "S": x }),
            A::N(x) => json!({ "N": x }),
            A::L(l) => json!({ "L": l.iter().map(value).collect::<Vec<_>>() }),
            other => panic!("not in an outbox item: {other:?}"),
        }
    }
    Value::Object(
        outbox_item(record)
            .iter()
            .map(|(k, v)| (k.clone(), value(v)))
            .collect(),
    )
}

/// The `ws-deliver` function over an event shaped like the event source mapping's: records it
/// cannot use are passed over, and a failure names the first record that failed, so the
/// mapping retries from there.
#[tokio::test]
async fn ws_deliver_reports_the_first_record_that_failed() {
    let app = TestApp::new();
    let (_alice, bob, room) = group(&app).await;
    let room = RoomId::parse(&room).unwrap();
    let record = |kind: &'static str| {
        Outgoing::new(
            room,
            Audience::Members,
            Event::new(
                kind,
                json!({"room_id": room.to_string(), "message_id": kind}),
            ),
            time::OffsetDateTime::now_utc(),
        )
    };
    let event = |records: Vec<Value>| -> StreamEvent {
        serde_json::from_value(json!({ "Records": records })).unwrap()
    };
    let insert = |seq: &str, o: &Outgoing| {
        json!({"eventName": "INSERT", "eventSource": "aws:dynamodb",
               "dynamodb": {"SequenceNumber": seq, "Keys": {}, "NewImage": image(o)}})
    };
    let push = Arc::new(FlakyPush {
        refuse: Some("deleted"),
        ..FlakyPush::default()
    });
    let function = WsDeliver::new(delivery(&app, push.clone()));
    let answer = function
        .handle(event(vec![
            insert("100", &record("message")),
            json!({"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "101", "NewImage": {"pk": {"S": "ROOM#x"}}}}),
            json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": "102", "NewImage": {"pk": {"S": "OUTBOX#bad"}}}}),
            insert("103", &record("deleted")),
            insert("104", &record("message")),
        ]))
        .await;
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "103"}]})
    );
    // The record before the failure was delivered; the malformed one was skipped, not retried.
    assert_eq!(
        push.inner.received_by(&uid(&bob)).first().map(|e| e.kind),
        Some("message")
    );

    let answer = function
        .handle(event(vec![insert("200", &record("message"))]))
        .await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
}

/// `events/ws-deliver.json` (what `sam local invoke WsDeliverFunction` sends) is an event the
/// function reads: its record is for a room that no longer exists, so it is done, not retried.
#[tokio::test]
async fn the_sample_stream_event_is_one_ws_deliver_reads() {
    let app = TestApp::new();
    let push = Arc::new(RecordingPush::new());
    let event: StreamEvent =
        serde_json::from_str(include_str!("../../events/ws-deliver.json")).unwrap();
    assert_eq!(event.records.len(), 1);
    let function = WsDeliver::new(delivery(&app, push.clone()));
    assert_eq!(
        function.handle(event).await,
        json!({"batchItemFailures": []})
    );
    assert!(push.events().is_empty(), "nobody is in a room that is gone");
}
