//! Money rules under many requests at once, through the handlers, on both stores: a payer can
//! never spend more than it has however its transfers and donations interleave, and a key
//! fired many times at once moves money once; a donate link revoked while payments race it
//! takes no payment that was not already committed.
#![allow(clippy::unwrap_used)]

mod bank_driver;
mod support;

use chatman::adapters::recording_push::RecordingPush;
use chatman::domain::{DonateLink, DonateLinkId, Entry, TransferId, UserId, Wallet};
use chatman::ports::{
    AccountStore, Claim, ClaimOutcome, LedgerStore, MoveError, Movement, Page, StoreError,
    StoredAnswer,
};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};
use support::TestApp;
use time::OffsetDateTime;
use tokio::sync::{Notify, RwLock};

/// A ledger whose movements wait while a test holds `gate` (after saying so on `arrived`), so
/// a test can put a step between a payment's decision and its commit.
struct GatedLedger {
    inner: Arc<dyn LedgerStore>,
    gate: RwLock<()>,
    arrived: Notify,
}

#[async_trait::async_trait]
impl LedgerStore for GatedLedger {
    async fn open_wallet(&self, owner: &UserId, now: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.open_wallet(owner, now).await
    }
    async fn wallet(&self, owner: &UserId) -> Result<Option<Wallet>, StoreError> {
        self.inner.wallet(owner).await
    }
    async fn entries(
        &self,
        owner: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Entry>, StoreError> {
        self.inner.entries(owner, limit, cursor).await
    }
    async fn entry(
        &self,
        owner: &UserId,
        transfer: &TransferId,
    ) -> Result<Option<Entry>, StoreError> {
        self.inner.entry(owner, transfer).await
    }
    async fn claim(&self, claim: &Claim, now: OffsetDateTime) -> Result<ClaimOutcome, StoreError> {
        self.inner.claim(claim, now).await
    }
    async fn settle(&self, claim: &Claim, answer: &StoredAnswer) -> Result<(), StoreError> {
        self.inner.settle(claim, answer).await
    }
    async fn release(&self, claim: &Claim) -> Result<(), StoreError> {
        self.inner.release(claim).await
    }
    async fn move_money(&self, movement: &Movement) -> Result<(), MoveError> {
        self.arrived.notify_one();
        let _open = self.gate.read().await;
        self.inner.move_money(movement).await
    }
    async fn put_link(&self, link: &DonateLink) -> Result<(), StoreError> {
        self.inner.put_link(link).await
    }
    async fn link(&self, id: &DonateLinkId) -> Result<Option<DonateLink>, StoreError> {
        self.inner.link(id).await
    }
    async fn links_of(&self, owner: &UserId, limit: usize) -> Result<Vec<DonateLink>, StoreError> {
        self.inner.links_of(owner, limit).await
    }
    async fn revoke_link(&self, id: &DonateLinkId, owner: &UserId) -> Result<bool, StoreError> {
        self.inner.revoke_link(id, owner).await
    }
}

/// A payment that found the link live, then waits while its owner revokes it (DELETE answers
/// 204), is refused when it reaches the ledger: 410 `link_expired`, and nothing moved.
async fn a_payment_decided_before_a_revoke_cannot_commit_after_it(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let gated = Arc::new(GatedLedger {
        inner: ledger,
        gate: RwLock::new(()),
        arrived: Notify::new(),
    });
    let app = TestApp::assemble(
        store,
        gated.clone(),
        Arc::new(RecordingPush::new()),
        "root",
        None,
    );
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
    let held = gated.gate.write().await;
    let (pay_path, no_amount) = (format!("/donate-links/{link}/pay"), json!({}));
    let pay = app.post_keyed(&pay_path, &no_amount, &alice.access, Some("late-pay"));
    let revoke = async {
        gated.arrived.notified().await;
        let revoked = app
            .call(
                "DELETE",
                &format!("/donate-links/{link}"),
                None,
                Some(&bob.access),
            )
            .await;
        assert_eq!(revoked.status, 204, "{}", revoked.body);
        drop(held);
    };
    let (paid, ()) = tokio::join!(pay, revoke);
    assert_eq!(paid.status, 410, "{}", paid.body);
    assert_eq!(paid.code(), "link_expired");
    assert_eq!(app.balance(&alice).await, 1_000);
    assert_eq!(app.balance(&bob).await, 0);
}

/// 30 payments of one link race its revoke: each is paid (201) or refused `link_expired`
/// (410), none that started after the DELETE answered 204 is paid, and the balances are what
/// the ledger's entries say.
async fn thirty_payments_racing_a_revoke(
    store: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
) {
    let app = TestApp::assemble(store, ledger, Arc::new(RecordingPush::new()), "root", None);
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.deposit(&root, "alice", 10_000).await;
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
    let keys: Vec<String> = (0..30).map(|i| format!("pay-{i}")).collect();
    let (answered, revoke_answered) = tokio::sync::watch::channel(false);
    let pays = keys.iter().enumerate().map(|(i, key)| {
        let (app, alice, pay_path) = (&app, &alice, &pay_path);
        let mut revoke_answered = revoke_answered.clone();
        async move {
            // Spread over the revoke: most from before it until well into it, the last five
            // once it has answered.
            if i >= 25 {
                revoke_answered.wait_for(|done| *done).await.unwrap();
            } else {
                tokio::time::sleep(StdDuration::from_millis(2 * i as u64)).await;
            }
            let started = Instant::now();
            let reply = app
                .post_keyed(pay_path, &json!({}), &alice.access, Some(key))
                .await;
            (started, reply)
        }
    });
    let revoke = async {
        tokio::time::sleep(StdDuration::from_millis(20)).await;
        let revoked = app
            .call(
                "DELETE",
                &format!("/donate-links/{link}"),
                None,
                Some(&bob.access),
            )
            .await;
        assert_eq!(revoked.status, 204, "{}", revoked.body);
        let at = Instant::now();
        answered.send(true).unwrap();
        at
    };
    let (replies, revoked_at) = tokio::join!(bank_driver::join_all(pays.collect()), revoke);
    let mut paid = 0;
    for (started, r) in &replies {
        match r.status {
            201 => {
                assert!(
                    *started < revoked_at,
                    "a payment begun after the revoke was paid"
                );
                paid += 1;
            }
            410 => assert_eq!(r.code(), "link_expired", "{}", r.body),
            _ => panic!("{} {}", r.status, r.body),
        }
    }
    assert!(
        replies.iter().any(|(started, _)| *started > revoked_at),
        "some payments start after the revoke"
    );
    assert_eq!(app.balance(&bob).await, 100 * paid);
    assert_eq!(app.balance(&alice).await, 10_000 - 100 * paid);
    let history = app
        .call(
            "GET",
            "/wallet/transactions?limit=100",
            None,
            Some(&bob.access),
        )
        .await;
    assert_eq!(history.status, 200, "{}", history.body);
    let received: i64 = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(
        received,
        app.balance(&bob).await,
        "the balance is its entries' sum"
    );
}

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
    a_payment_decided_before_a_revoke_cannot_commit_after_it,
    thirty_payments_racing_a_revoke,
);
