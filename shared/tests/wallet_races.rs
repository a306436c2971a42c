//! Money rules under many requests at once, through the handlers, on both stores: a payer can
//! never spend more than it has however its transfers and donations interleave, and a key
//! fired many times at once moves money once.
#![allow(clippy::unwrap_used)]

mod bank_driver;
mod support;

use chatman::adapters::recording_push::RecordingPush;
use chatman::ports::{AccountStore, LedgerStore};
use serde_json::json;
use std::sync::Arc;
use support::TestApp;

async fn overspending_at_once_never_overdraws(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let app = TestApp::assemble(store, ledger, Arc::new(RecordingPush::new()), "root", None);
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.deposit(&root, "alice", 1_000).await;
    let link = app
        .call(
            "POST",
            "/donate-links",
            Some(json!({"expires_in_minutes": 5, "amount": 100})),
            Some(&bob.access),
        )
        .await
        .str("id");
    let pay_path = format!("/donate-links/{link}/pay");
    let pay_body = json!({});
    let transfer_body = json!({"to": "bob", "amount": 100});
    let keys: Vec<String> = (0..24).map(|i| format!("spend-{i}")).collect();
    let sends = keys.iter().enumerate().map(|(i, key)| {
        let (path, body) = if i % 2 == 0 {
            ("/wallet/transfers", &transfer_body)
        } else {
            (pay_path.as_str(), &pay_body)
        };
        app.post_keyed(path, body, &alice.access, Some(key))
    });
    let replies = bank_driver::join_all(sends.collect()).await;
    let ok = replies.iter().filter(|r| r.status == 201).count();
    for r in &replies {
        assert!(
            r.status == 201 || r.code() == "insufficient_funds",
            "{} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(ok, 10, "exactly the balance was spent");
    assert_eq!(app.balance(&alice).await, 0);
    assert_eq!(app.balance(&bob).await, 1_000);
}

async fn one_deposit_fired_many_times_at_once_credits_once(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let app = TestApp::assemble(store, ledger, Arc::new(RecordingPush::new()), "root", None);
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let body = json!({"username": "alice", "amount": 500});
    let sends =
        (0..10).map(|_| app.post_keyed("/wallet/deposits", &body, &root.access, Some("once")));
    let replies = bank_driver::join_all(sends.collect()).await;
    let answered: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(!answered.is_empty());
    for r in &replies {
        assert!(
            r.status == 201 || r.code() == "request_in_progress",
            "{}",
            r.body
        );
    }
    assert!(answered.iter().all(|r| r.body == answered[0].body));
    assert_eq!(app.balance(&alice).await, 500);
    let again = app
        .post_keyed("/wallet/deposits", &body, &root.access, Some("once"))
        .await;
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.body, answered[0].body);
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() {
                super::$name(
                    std::sync::Arc::new(chatman::adapters::memory::MemoryAccounts::new()),
                    std::sync::Arc::new(chatman::adapters::memory_ledger::MemoryLedger::new()),
                ).await
            }) *
        }
        mod dynamodb_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() {
                let (store, ledger) = crate::support::dynamo_stores().await;
                super::$name(store, ledger).await
            }) *
        }
    };
}

on_both_stores!(
    overspending_at_once_never_overdraws,
    one_deposit_fired_many_times_at_once_credits_once,
);
