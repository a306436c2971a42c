//! POST /wallet/transfers/{id}/refunds: the receiver of a payment sends all or part of it back,
//! as a transfer of its own (kind `refund`, `refund_of`), never more than was paid and at most
//! ten times, held under parallel refunds; both parties see it. Every test on both stores.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::adapters::recording_push::RecordingPush;
use chatman::ports::{AccountStore, LedgerStore};
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Account, Reply, TestApp};

fn app_on(store: Arc<dyn AccountStore>, ledger: Arc<dyn LedgerStore>) -> TestApp {
    TestApp::assemble(store, ledger, Arc::new(RecordingPush::new()), "root", None)
}

async fn refund(app: &TestApp, who: &Account, transfer: &str, body: Value, key: &str) -> Reply {
    app.post_keyed(
        &format!("/wallet/transfers/{transfer}/refunds"),
        &body,
        &who.access,
        Some(key),
    )
    .await
}

async fn read(app: &TestApp, who: &Account, transfer: &str) -> Reply {
    app.call(
        "GET",
        &format!("/wallet/transfers/{transfer}"),
        None,
        Some(&who.access),
    )
    .await
}

/// alice (1000 deposited) pays bob `amount`; answers the transfer's id.
async fn paid_to_bob(app: &TestApp, root: &Account, alice: &Account, amount: i64) -> String {
    app.deposit(root, "alice", 1000).await;
    let paid = app
        .transfer(
            alice,
            "bob",
            json!(amount),
            &uuid::Uuid::now_v7().to_string(),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    paid.body["transfer"]["id"].as_str().unwrap().to_string()
}

async fn a_receiver_refunds_part_then_the_rest_and_both_parties_see_it(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let app = app_on(store, ledger);
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = paid_to_bob(&app, &root, &alice, 300).await;

    let first = refund(
        &app,
        &bob,
        &id,
        json!({"amount": 100, "reason": "too much"}),
        "r1",
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let t = &first.body["transfer"];
    assert_eq!(t["kind"], "refund");
    assert_eq!(t["refund_of"], id.as_str());
    assert_eq!(
        (t["from"].as_str(), t["to"].as_str()),
        (Some("bob"), Some("alice"))
    );
    assert_eq!(t["amount"], 100);
    assert_eq!(t["description"], "too much");
    assert_eq!(
        first.body["balance"], 200,
        "the refunder's balance after it"
    );
    assert_eq!(app.balance(&alice).await, 800);
    let received = app
        .push
        .received_by(&chatman::domain::UserId::parse(&alice.id).unwrap());
    assert!(
        received
            .iter()
            .any(|e| e.kind == "transfer_received" && e.fields["transfer"] == *t),
        "the payer hears of the refund: {received:?}"
    );

    // The same key again is the same answer, replayed; nothing moves twice.
    let again = refund(
        &app,
        &bob,
        &id,
        json!({"amount": 100, "reason": "too much"}),
        "r1",
    )
    .await;
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(app.balance(&bob).await, 200);

    // More than is left is refused; no amount means all that is left.
    let over = refund(&app, &bob, &id, json!({"amount": 201}), "r2").await;
    assert_eq!((over.status, over.code()), (422, "refund_exceeds_transfer"));
    let rest = refund(&app, &bob, &id, json!({}), "r3").await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert_eq!(rest.body["transfer"]["amount"], 200);
    assert_eq!(rest.body["balance"], 0);
    let nothing_left = refund(&app, &bob, &id, json!({}), "r4").await;
    assert_eq!(
        (nothing_left.status, nothing_left.code()),
        (422, "refund_exceeds_transfer")
    );
    assert_eq!(app.balance(&alice).await, 1000);

    // Both parties read the transfer with its refunds, oldest first.
    for who in [&alice, &bob] {
        let detail = read(&app, who, &id).await;
        assert_eq!(detail.status, 200, "{}", detail.body);
        assert_eq!(detail.body["refunded_total"], 300);
        assert_eq!(
            detail.body["refunds"],
            json!([first.body["transfer"], rest.body["transfer"]])
        );
        let history = app
            .call("GET", "/wallet/transactions", None, Some(&who.access))
            .await;
        let items = history.body["items"].as_array().unwrap();
        let refunds: Vec<_> = items.iter().filter(|e| e["kind"] == "refund").collect();
        assert_eq!(refunds.len(), 2, "{items:?}");
        assert!(refunds.iter().all(|e| e["refund_of"] == id.as_str()));
        let original = items.iter().find(|e| e["transfer_id"] == id.as_str());
        assert_eq!(original.unwrap()["refunded_total"], 300);
    }
}

async fn only_the_receiver_refunds_a_payment_and_only_a_payment(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let app = app_on(store, ledger);
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let id = paid_to_bob(&app, &root, &alice, 300).await;

    let by_payer = refund(&app, &alice, &id, json!({"amount": 1}), "a1").await;
    assert_eq!((by_payer.status, by_payer.code()), (422, "not_refundable"));
    // A stranger learns nothing: the same 404 as for an id that does not exist.
    let by_stranger = refund(&app, &carol, &id, json!({"amount": 1}), "c1").await;
    assert_eq!((by_stranger.status, by_stranger.code()), (404, "not_found"));
    let unknown = refund(
        &app,
        &bob,
        "0198a0f0-0000-7000-8000-000000000000",
        json!({}),
        "b0",
    )
    .await;
    assert_eq!(unknown.body, by_stranger.body);
    let malformed = refund(&app, &bob, "not-an-id", json!({}), "b00").await;
    assert_eq!(malformed.body, by_stranger.body);

    // A deposit has nobody inside to return it to; a refund is not refunded back.
    let history = app
        .call("GET", "/wallet/transactions", None, Some(&alice.access))
        .await;
    let deposit = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "deposit")
        .unwrap()["transfer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let of_deposit = refund(&app, &alice, &deposit, json!({"amount": 1}), "a2").await;
    assert_eq!(
        (of_deposit.status, of_deposit.code()),
        (422, "not_refundable")
    );
    let back = refund(&app, &bob, &id, json!({"amount": 50}), "b1").await;
    let refund_id = back.body["transfer"]["id"].as_str().unwrap().to_string();
    let of_refund = refund(&app, &alice, &refund_id, json!({"amount": 1}), "a3").await;
    assert_eq!(
        (of_refund.status, of_refund.code()),
        (422, "not_refundable")
    );

    // Money already spent cannot be sent back.
    let spent = app.transfer(&bob, "carol", json!(250), "spend").await;
    assert_eq!(spent.status, 201, "{}", spent.body);
    let short = refund(&app, &bob, &id, json!({"amount": 10}), "b2").await;
    assert_eq!((short.status, short.code()), (422, "insufficient_funds"));

    // Bad input is a 400 that claims nothing.
    for body in [
        json!({"amount": "10"}),
        json!({"amount": 0}),
        json!({"amount": 1.5}),
        json!({"reason": "x".repeat(256)}),
        json!({"amount": 1, "to": "carol"}),
    ] {
        let bad = refund(&app, &bob, &id, body.clone(), "bad").await;
        assert_eq!(bad.status, 400, "{body}: {}", bad.body);
    }
    let no_key = app
        .post_keyed(
            &format!("/wallet/transfers/{id}/refunds"),
            &json!({}),
            &bob.access,
            None,
        )
        .await;
    assert_eq!(no_key.code(), "idempotency_key_required");
    assert_eq!(app.balance(&alice).await, 750);
    assert_eq!(app.balance(&bob).await, 0);
    assert_eq!(app.balance(&carol).await, 250);
}

/// Twenty refunds of 150 of one 1000 payment, at once, each with its own key: exactly six
/// commit (900), the others are refused, and no balance or total passes what was paid.
async fn parallel_refunds_never_return_more_than_was_paid(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let app = app_on(store, ledger);
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = paid_to_bob(&app, &root, &alice, 1000).await;
    let keys: Vec<String> = (0..20).map(|i| format!("part-{i}")).collect();
    let replies = futures_util::future::join_all(
        keys.iter()
            .map(|k| refund(&app, &bob, &id, json!({"amount": 150}), k)),
    )
    .await;
    for r in &replies {
        assert!(
            r.status == 201 || r.code() == "refund_exceeds_transfer",
            "{} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 6);
    assert_eq!(app.balance(&alice).await, 900);
    assert_eq!(app.balance(&bob).await, 100);
    let detail = read(&app, &bob, &id).await;
    assert_eq!(detail.body["refunded_total"], 900);
    assert_eq!(detail.body["refunds"].as_array().unwrap().len(), 6);

    // Ten "refund the rest" at once: one returns the 100 left, the rest find nothing left.
    let keys: Vec<String> = (0..10).map(|i| format!("rest-{i}")).collect();
    let rest =
        futures_util::future::join_all(keys.iter().map(|k| refund(&app, &bob, &id, json!({}), k)))
            .await;
    let moved: Vec<_> = rest.iter().filter(|r| r.status == 201).collect();
    assert_eq!(moved.len(), 1, "{rest:?}");
    assert_eq!(moved[0].body["transfer"]["amount"], 100);
    assert!(
        rest.iter()
            .all(|r| r.status == 201 || r.code() == "refund_exceeds_transfer")
    );
    assert_eq!(app.balance(&alice).await, 1000);
    assert_eq!(app.balance(&bob).await, 0);
    assert_eq!(read(&app, &alice, &id).await.body["refunded_total"], 1000);
}

/// Fifteen refunds of 1 at once: exactly ten commit, the others are `too_many_refunds`.
async fn parallel_refunds_stop_at_ten(store: Arc<dyn AccountStore>, ledger: Arc<dyn LedgerStore>) {
    let app = app_on(store, ledger);
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = paid_to_bob(&app, &root, &alice, 1000).await;
    let keys: Vec<String> = (0..15).map(|i| format!("one-{i}")).collect();
    let replies = futures_util::future::join_all(
        keys.iter()
            .map(|k| refund(&app, &bob, &id, json!({"amount": 1}), k)),
    )
    .await;
    for r in &replies {
        assert!(
            r.status == 201 || r.code() == "too_many_refunds",
            "{} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 10);
    assert_eq!(app.balance(&alice).await, 10);
    assert_eq!(app.balance(&bob).await, 990);
    let detail = read(&app, &alice, &id).await;
    assert_eq!(detail.body["refunded_total"], 10);
    assert_eq!(detail.body["refunds"].as_array().unwrap().len(), 10);
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
    a_receiver_refunds_part_then_the_rest_and_both_parties_see_it,
    only_the_receiver_refunds_a_payment_and_only_a_payment,
    parallel_refunds_never_return_more_than_was_paid,
    parallel_refunds_stop_at_ten,
);
