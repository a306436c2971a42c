//! The rolling 24-hour outgoing cap (`Limits::outgoing_per_day`): transfers and donations count,
//! refunds do not; parallel payments never pass it (the count rides on the debit's version
//! condition); a refusal says what is left and when enough frees up, and then it does. Every test
//! on both stores.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::adapters::recording_push::RecordingPush;
use chatman::ports::{AccountStore, LedgerStore};
use chatman::settings::Limits;
use serde_json::json;
use std::sync::Arc;
use support::{Account, TestApp};
use time::Duration;

const CAP: i64 = 1000;

fn capped(store: Arc<dyn AccountStore>, ledger: Arc<dyn LedgerStore>) -> TestApp {
    let limits = Limits {
        outgoing_per_day: CAP,
        ..Limits::LOCAL
    };
    TestApp::assemble_everything(
        store,
        ledger,
        None,
        Arc::new(RecordingPush::new()),
        "root",
        None,
        limits,
    )
}

async fn people(app: &TestApp) -> (Account, Account, Account) {
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.deposit(&root, "alice", 5000).await;
    (root, alice, bob)
}

/// Moves the clock on and logs `who` in again (access tokens last minutes, the cap a day).
async fn later(app: &TestApp, by: Duration, who: &mut Account) {
    app.advance(by);
    let login = app.login(&who.username, &who.password).await;
    assert_eq!(login.status, 200, "{}", login.body);
    who.access = login.body["access_token"].as_str().unwrap().to_string();
}

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn a_refusal_says_what_is_left_and_when_it_frees_up(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let app = capped(store, ledger);
    let (_, mut alice, bob) = people(&app).await;
    let wallet = app.call("GET", "/wallet", None, Some(&alice.access)).await;
    assert_eq!(
        wallet.body["daily_limit"],
        json!({"limit": 1000, "remaining": 1000})
    );

    assert_eq!(
        app.transfer(&alice, "bob", json!(600), &key()).await.status,
        201
    );
    later(&app, Duration::hours(2), &mut alice).await;
    assert_eq!(
        app.transfer(&alice, "bob", json!(300), &key()).await.status,
        201
    );
    let over = app.transfer(&alice, "bob", json!(200), &key()).await;
    assert_eq!(
        (over.status, over.code()),
        (422, "limit_exceeded"),
        "{}",
        over.body
    );
    assert_eq!(over.body["limit"], 1000);
    assert_eq!(over.body["remaining"], 100);
    // 200 fits once the first 600 stops counting: a day after the end of its hour.
    let frees_at = over.body["frees_at"].as_str().unwrap().to_string();
    let frees_at =
        time::OffsetDateTime::parse(&frees_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let waited = frees_at - app.clock_now();
    assert!(
        waited > Duration::hours(21) && waited <= Duration::hours(23),
        "frees in {waited}"
    );
    let never = app.transfer(&alice, "bob", json!(1001), &key()).await;
    assert_eq!(never.code(), "limit_exceeded");
    assert_eq!(never.body["frees_at"], json!(null), "alone over the cap");
    assert_eq!(
        app.balance(&alice).await,
        4100,
        "nothing moved for the refusals"
    );
    let wallet = app.call("GET", "/wallet", None, Some(&alice.access)).await;
    assert_eq!(wallet.body["daily_limit"]["remaining"], 100);

    // Money received is not money sent: bob's own cap is untouched.
    let mut bob = bob;
    later(&app, Duration::ZERO, &mut bob).await;
    let bobs = app.call("GET", "/wallet", None, Some(&bob.access)).await;
    assert_eq!(bobs.body["daily_limit"]["remaining"], 1000);

    later(&app, waited - Duration::seconds(1), &mut alice).await;
    let early = app.transfer(&alice, "bob", json!(200), &key()).await;
    assert_eq!(early.code(), "limit_exceeded", "a second early");
    app.advance(Duration::seconds(1));
    let freed = app.transfer(&alice, "bob", json!(200), &key()).await;
    assert_eq!(freed.status, 201, "{}", freed.body);
}

async fn donations_count_and_refunds_do_not(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let app = capped(store, ledger);
    let (root, alice, bob) = people(&app).await;
    let link = app
        .post_keyed(
            "/donate-links",
            &json!({"expires_in_minutes": 60}),
            &bob.access,
            None,
        )
        .await;
    assert_eq!(link.status, 201, "{}", link.body);
    let pay = |amount: i64| {
        let path = format!("/donate-links/{}/pay", link.body["id"].as_str().unwrap());
        let access = alice.access.clone();
        let app = &app;
        async move {
            app.post_keyed(&path, &json!({"amount": amount}), &access, Some(&key()))
                .await
        }
    };
    assert_eq!(pay(700).await.status, 201);
    let over = pay(301).await;
    assert_eq!((over.status, over.code()), (422, "limit_exceeded"));
    assert_eq!(over.body["remaining"], 300);

    // Bob, at his own cap, can still give alice's 700 back: a refund is not sending.
    app.deposit(&root, "bob", 2000).await;
    assert_eq!(
        app.transfer(&bob, "root", json!(1000), &key()).await.status,
        201
    );
    let history = app
        .call("GET", "/wallet/transactions", None, Some(&bob.access))
        .await;
    let donation = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "donation")
        .unwrap()["transfer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let back = app
        .post_keyed(
            &format!("/wallet/transfers/{donation}/refunds"),
            &json!({}),
            &bob.access,
            Some(&key()),
        )
        .await;
    assert_eq!(back.status, 201, "{}", back.body);
    let wallet = app.call("GET", "/wallet", None, Some(&bob.access)).await;
    assert_eq!(wallet.body["daily_limit"]["remaining"], 0);
    // Nor does receiving a refund give alice room: what she sent still counts.
    let alices = app.call("GET", "/wallet", None, Some(&alice.access)).await;
    assert_eq!(alices.body["daily_limit"]["remaining"], 300);
}

/// Thirty transfers of 100 at once against a cap of 1000, each with its own key: exactly ten
/// move, the rest are refused with `limit_exceeded`, and the balances show exactly ten.
async fn parallel_payments_never_pass_the_cap(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let app = capped(store, ledger);
    let (_, alice, bob) = people(&app).await;
    let keys: Vec<String> = (0..30).map(|i| format!("cap-{i}")).collect();
    let replies = futures_util::future::join_all(
        keys.iter()
            .map(|k| app.transfer(&alice, "bob", json!(100), k)),
    )
    .await;
    for r in &replies {
        assert!(
            r.status == 201 || r.code() == "limit_exceeded",
            "{} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 10);
    assert_eq!(app.balance(&alice).await, 4000);
    assert_eq!(app.balance(&bob).await, 1000);
    // Each key keeps its answer: a refused one replays its refusal, a moved one its transfer.
    for (k, first) in keys.iter().zip(&replies).take(5) {
        let again = app.transfer(&alice, "bob", json!(100), k).await;
        assert_eq!((again.status, &again.body), (first.status, &first.body));
    }
    assert_eq!(app.balance(&alice).await, 4000);
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
    a_refusal_says_what_is_left_and_when_it_frees_up,
    donations_count_and_refunds_do_not,
    parallel_payments_never_pass_the_cap,
);
