//! The wallet over its handlers: balances, history, transfers, deposits, donate links,
//! idempotency and pushes. Each test states one rule.
#![allow(clippy::unwrap_used)]

mod bank_driver;
mod support;

use chatman::adapters::memory::MemoryAccounts;
use chatman::adapters::memory_ledger::MemoryLedger;
use chatman::adapters::recording_push::RecordingPush;
use serde_json::json;
use std::sync::Arc;
use support::{Account, TestApp};
use time::Duration;

/// Access tokens live 15 minutes: after moving the clock, log in again.
async fn relogin(app: &TestApp, who: Account) -> Account {
    let login = app.login(&who.username, &who.password).await;
    Account {
        access: login.str("access_token"),
        ..who
    }
}

async fn three() -> (TestApp, Account, Account, Account) {
    let app = TestApp::new();
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    (app, root, alice, bob)
}

#[tokio::test]
async fn a_new_account_has_a_wallet_at_zero_in_the_deployment_currency() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let reply = app.call("GET", "/wallet", None, Some(&alice.access)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["balance"], 0);
    assert_eq!(reply.body["currency"], "USD");
    assert!(reply.body["updated_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn a_wallet_is_opened_when_the_signup_is_verified() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let id = chatman::domain::UserId::parse(&alice.id).unwrap();
    let wallet = app
        .ledger
        .wallet(&id)
        .await
        .unwrap()
        .expect("opened at verification");
    assert_eq!(wallet.balance, 0);
}

#[tokio::test]
async fn an_account_without_a_wallet_reads_zero_and_can_receive() {
    let app = TestApp::new();
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    // An account from before wallets existed: no wallet record at all.
    let fresh = TestApp::assemble(
        app.store.clone(),
        Arc::new(MemoryLedger::new()),
        Arc::new(RecordingPush::new()),
        "root",
        None,
    );
    let alice2 = Account {
        access: fresh
            .login("alice", &alice.password)
            .await
            .str("access_token"),
        ..alice.clone()
    };
    let root2 = Account {
        access: fresh
            .login("root", &root.password)
            .await
            .str("access_token"),
        ..root
    };
    assert_eq!(fresh.balance(&alice2).await, 0);
    fresh.deposit(&root2, "alice", 500).await;
    assert_eq!(fresh.balance(&alice2).await, 500);
}

#[tokio::test]
async fn an_admin_deposit_credits_the_user_and_is_pushed_to_them() {
    let (app, root, alice, _) = three().await;
    let reply = app.deposit(&root, "alice", 1250).await;
    let t = &reply.body["transfer"];
    assert_eq!(t["kind"], "deposit");
    assert_eq!(t["from"], serde_json::Value::Null);
    assert_eq!(t["to"], "alice");
    assert_eq!(t["amount"], 1250);
    assert_eq!(app.balance(&alice).await, 1250);
    let id = chatman::domain::UserId::parse(&alice.id).unwrap();
    let events = app.push.received_by(&id);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "transfer_received");
    assert_eq!(events[0].fields["transfer"], *t);
}

#[tokio::test]
async fn a_deposit_by_a_non_admin_is_forbidden_and_moves_nothing() {
    let (app, _, alice, bob) = three().await;
    let reply = app
        .post_keyed(
            "/wallet/deposits",
            &json!({"username": "bob", "amount": 100}),
            &alice.access,
            Some("k1"),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.code(), "forbidden");
    assert_eq!(app.balance(&bob).await, 0);
}

#[tokio::test]
async fn a_transfer_moves_money_and_both_histories_show_it() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 1000).await;
    let reply = app.transfer(&alice, "bob", json!(300), "t1").await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["balance"], 700);
    assert_eq!(reply.body["transfer"]["from"], "alice");
    assert_eq!(reply.body["transfer"]["kind"], "transfer");
    assert_eq!(app.balance(&alice).await, 700);
    assert_eq!(app.balance(&bob).await, 300);

    let history = app
        .call("GET", "/wallet/transactions", None, Some(&alice.access))
        .await;
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", history.body);
    assert_eq!(items[0]["direction"], "out", "newest first");
    assert_eq!(items[0]["counterparty"], "bob");
    assert_eq!(items[1]["direction"], "in");
    assert_eq!(items[1]["kind"], "deposit");
    let bobs = app
        .call("GET", "/wallet/transactions", None, Some(&bob.access))
        .await;
    assert_eq!(bobs.body["items"][0]["direction"], "in");
    assert_eq!(bobs.body["items"][0]["counterparty"], "alice");
    assert_eq!(bobs.body["items"][0]["amount"], 300);
}

#[tokio::test]
async fn history_pages_with_a_cursor() {
    let (app, root, alice, _) = three().await;
    for _ in 0..5 {
        app.deposit(&root, "alice", 10).await;
    }
    let first = app
        .call(
            "GET",
            "/wallet/transactions?limit=2",
            None,
            Some(&alice.access),
        )
        .await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let mut seen = 2;
    let mut cursor = first.str("next_cursor");
    loop {
        let page = app
            .call(
                "GET",
                &format!("/wallet/transactions?limit=2&cursor={cursor}"),
                None,
                Some(&alice.access),
            )
            .await;
        seen += page.body["items"].as_array().unwrap().len();
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, 5);
    let bad = app
        .call(
            "GET",
            "/wallet/transactions?cursor=nope",
            None,
            Some(&alice.access),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn a_transfer_beyond_the_balance_is_insufficient_funds_and_moves_nothing() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 100).await;
    let reply = app.transfer(&alice, "bob", json!(101), "t1").await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.code(), "insufficient_funds");
    assert_eq!(app.balance(&alice).await, 100);
    assert_eq!(app.balance(&bob).await, 0);
}

#[tokio::test]
async fn a_transfer_to_oneself_is_refused() {
    let (app, root, alice, _) = three().await;
    app.deposit(&root, "alice", 100).await;
    let reply = app.transfer(&alice, "ALICE", json!(10), "t1").await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.code(), "self_transfer");
    assert_eq!(app.balance(&alice).await, 100);
}

#[tokio::test]
async fn a_transfer_to_an_unknown_user_is_404() {
    let (app, root, alice, _) = three().await;
    app.deposit(&root, "alice", 100).await;
    for to in ["nobody", "x"] {
        let reply = app
            .transfer(&alice, to, json!(10), &format!("k-{to}"))
            .await;
        assert_eq!(reply.status, 404, "{to}");
    }
}

#[tokio::test]
async fn a_block_either_way_stops_transfers() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 100).await;
    app.deposit(&root, "bob", 100).await;
    let blocked = app
        .call("POST", "/users/alice/block", None, Some(&bob.access))
        .await;
    assert_eq!(blocked.status, 204);
    let to_blocker = app.transfer(&alice, "bob", json!(10), "a1").await;
    assert_eq!((to_blocker.status, to_blocker.code()), (403, "blocked"));
    let from_blocker = app.transfer(&bob, "alice", json!(10), "b1").await;
    assert_eq!((from_blocker.status, from_blocker.code()), (403, "blocked"));
    assert_eq!(app.balance(&alice).await, 100);
    assert_eq!(app.balance(&bob).await, 100);
}

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_answer_byte_for_byte() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 1000).await;
    let first = app.transfer(&alice, "bob", json!(300), "same").await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = app.transfer(&alice, "bob", json!(300), "same").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "identical answer");
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(app.balance(&alice).await, 700, "money moved once");
    assert_eq!(app.balance(&bob).await, 300);
}

#[tokio::test]
async fn a_refusal_is_the_keys_answer_even_after_the_money_arrives() {
    let (app, root, alice, bob) = three().await;
    let first = app.transfer(&alice, "bob", json!(50), "k").await;
    assert_eq!(first.code(), "insufficient_funds");
    app.deposit(&root, "alice", 1000).await;
    let again = app.transfer(&alice, "bob", json!(50), "k").await;
    assert_eq!(again.status, 422);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(app.balance(&bob).await, 0);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 1000).await;
    app.transfer(&alice, "bob", json!(300), "k").await;
    let other = app.transfer(&alice, "bob", json!(301), "k").await;
    assert_eq!(
        (other.status, other.code()),
        (422, "idempotency_key_reused")
    );
    assert_eq!(app.balance(&alice).await, 700);
    assert_eq!(app.balance(&bob).await, 300);
}

#[tokio::test]
async fn keys_are_scoped_per_user() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 1000).await;
    app.deposit(&root, "bob", 1000).await;
    let a = app.transfer(&alice, "bob", json!(10), "shared-key").await;
    let b = app.transfer(&bob, "alice", json!(10), "shared-key").await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_eq!(b.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn a_key_is_kept_24_hours_and_then_free_again() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 1000).await;
    app.transfer(&alice, "bob", json!(100), "k").await;
    app.advance(Duration::hours(23));
    let alice = relogin(&app, alice).await;
    let replay = app.transfer(&alice, "bob", json!(100), "k").await;
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    app.advance(Duration::hours(2));
    let alice = relogin(&app, alice).await;
    let fresh = app.transfer(&alice, "bob", json!(100), "k").await;
    assert_eq!(fresh.status, 201);
    assert_eq!(fresh.header("idempotent-replayed"), None);
    let bob = relogin(&app, bob).await;
    assert_eq!(app.balance(&bob).await, 200);
}

#[tokio::test]
async fn a_malformed_request_stores_nothing_under_its_key() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 1000).await;
    let bad = app.transfer(&alice, "bob", json!("100"), "k").await;
    assert_eq!(bad.status, 400);
    let good = app.transfer(&alice, "bob", json!(100), "k").await;
    assert_eq!(good.status, 201, "the key was still free");
    assert_eq!(app.balance(&bob).await, 100);
}

#[tokio::test]
async fn concurrent_duplicates_move_money_once_and_all_get_the_same_answer_or_409() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 1000).await;
    let sends = (0..8).map(|_| app.transfer(&alice, "bob", json!(100), "dup"));
    let replies = bank_driver::join_all(sends.collect()).await;
    let ok: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(!ok.is_empty());
    for r in &replies {
        assert!(
            r.status == 201 || r.code() == "request_in_progress",
            "{}",
            r.body
        );
    }
    for r in &ok {
        assert_eq!(r.body, ok[0].body);
    }
    assert_eq!(app.balance(&bob).await, 100);
    assert_eq!(app.balance(&alice).await, 900);
}

#[tokio::test]
async fn a_failing_push_never_fails_or_undoes_the_transfer() {
    let app = TestApp::assemble(
        Arc::new(MemoryAccounts::new()),
        Arc::new(MemoryLedger::new()),
        Arc::new(RecordingPush::failing()),
        "root",
        None,
    );
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.deposit(&root, "alice", 500).await;
    let reply = app.transfer(&alice, "bob", json!(200), "k").await;
    assert_eq!(reply.status, 201);
    assert_eq!(app.balance(&bob).await, 200);
    let bob_id = chatman::domain::UserId::parse(&bob.id).unwrap();
    assert_eq!(app.push.received_by(&bob_id).len(), 1, "the push was tried");
}

#[tokio::test]
async fn a_transfer_is_pushed_to_the_receiver_only() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 500).await;
    let reply = app.transfer(&alice, "bob", json!(200), "k").await;
    let bob_id = chatman::domain::UserId::parse(&bob.id).unwrap();
    let alice_id = chatman::domain::UserId::parse(&alice.id).unwrap();
    let to_bob = app.push.received_by(&bob_id);
    assert_eq!(to_bob.len(), 1);
    assert_eq!(to_bob[0].fields["transfer"], reply.body["transfer"]);
    assert_eq!(
        app.push.received_by(&alice_id).len(),
        1,
        "alice got only her deposit"
    );
}

// ------------------------------------------------------------------ donate links

async fn link(app: &TestApp, owner: &Account, body: serde_json::Value) -> support::Reply {
    app.call("POST", "/donate-links", Some(body), Some(&owner.access))
        .await
}

#[tokio::test]
async fn a_donate_link_is_public_and_paid_by_another_user() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "bob", 1000).await;
    let created = link(
        &app,
        &alice,
        json!({"expires_in_minutes": 60, "description": "coffee"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["receiver"]["username"], "alice");
    assert_eq!(created.body["active"], true);
    assert_eq!(created.body["amount"], serde_json::Value::Null);
    let id = created.str("id");
    assert!(created.str("url").ends_with(&id));

    let public = app
        .call("GET", &format!("/donate-links/{id}"), None, None)
        .await;
    assert_eq!(public.status, 200, "no login needed");
    assert_eq!(public.body["receiver"]["username"], "alice");
    assert!(public.body["receiver"].get("email").is_none());

    let paid = app
        .post_keyed(
            &format!("/donate-links/{id}/pay"),
            &json!({"amount": 250}),
            &bob.access,
            Some("p1"),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    assert_eq!(paid.body["transfer"]["kind"], "donation");
    assert_eq!(paid.body["transfer"]["description"], "coffee");
    assert_eq!(paid.body["balance"], 750);
    assert_eq!(app.balance(&alice).await, 250);
    let mine = app
        .call("GET", "/donate-links", None, Some(&alice.access))
        .await;
    assert_eq!(mine.body["items"][0]["id"], json!(id));
    let bobs = app
        .call("GET", "/donate-links", None, Some(&bob.access))
        .await;
    assert_eq!(bobs.body["items"], json!([]));
}

#[tokio::test]
async fn a_fixed_amount_link_takes_exactly_its_amount() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "bob", 1000).await;
    let id = link(
        &app,
        &alice,
        json!({"expires_in_minutes": 5, "amount": 300}),
    )
    .await
    .str("id");
    let path = format!("/donate-links/{id}/pay");
    let wrong = app
        .post_keyed(&path, &json!({"amount": 299}), &bob.access, Some("a"))
        .await;
    assert_eq!((wrong.status, wrong.code()), (422, "amount_mismatch"));
    let right = app
        .post_keyed(&path, &json!({}), &bob.access, Some("b"))
        .await;
    assert_eq!(right.status, 201, "{}", right.body);
    assert_eq!(app.balance(&alice).await, 300);
}

#[tokio::test]
async fn paying_ones_own_link_is_a_self_transfer() {
    let (app, root, alice, _) = three().await;
    app.deposit(&root, "alice", 1000).await;
    let id = link(&app, &alice, json!({"expires_in_minutes": 5}))
        .await
        .str("id");
    let reply = app
        .post_keyed(
            &format!("/donate-links/{id}/pay"),
            &json!({"amount": 1}),
            &alice.access,
            Some("a"),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (422, "self_transfer"));
}

#[tokio::test]
async fn expired_and_revoked_links_are_gone() {
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "bob", 1000).await;
    let expiring = link(&app, &alice, json!({"expires_in_minutes": 1}))
        .await
        .str("id");
    let revoked = link(&app, &alice, json!({"expires_in_minutes": 60}))
        .await
        .str("id");
    let other = app
        .call(
            "DELETE",
            &format!("/donate-links/{revoked}"),
            None,
            Some(&bob.access),
        )
        .await;
    assert_eq!(other.status, 404, "only the owner revokes");
    let gone = app
        .call(
            "DELETE",
            &format!("/donate-links/{revoked}"),
            None,
            Some(&alice.access),
        )
        .await;
    assert_eq!(gone.status, 204);
    app.advance(Duration::minutes(2));
    let bob = relogin(&app, bob).await;
    for id in [&expiring, &revoked] {
        let view = app
            .call("GET", &format!("/donate-links/{id}"), None, None)
            .await;
        assert_eq!((view.status, view.code()), (410, "link_expired"));
        let pay = app
            .post_keyed(
                &format!("/donate-links/{id}/pay"),
                &json!({"amount": 5}),
                &bob.access,
                Some(id),
            )
            .await;
        assert_eq!((pay.status, pay.code()), (410, "link_expired"));
    }
    assert_eq!(app.balance(&bob).await, 1000);
}

#[tokio::test]
async fn unknown_and_malformed_link_ids_are_404() {
    let (app, _, _, bob) = three().await;
    for id in ["not-an-id", "0190a5b2-0000-7000-8000-000000000000"] {
        let view = app
            .call("GET", &format!("/donate-links/{id}"), None, None)
            .await;
        assert_eq!(view.status, 404, "{id}");
        let pay = app
            .post_keyed(
                &format!("/donate-links/{id}/pay"),
                &json!({"amount": 5}),
                &bob.access,
                Some("k"),
            )
            .await;
        assert_eq!(pay.status, 404, "{id}");
    }
}

#[tokio::test]
async fn a_key_whose_request_died_mid_flight_frees_itself_after_its_lease() {
    use chatman::ports::{Claim, IdemScope};
    use sha2::{Digest, Sha256};
    let (app, root, alice, bob) = three().await;
    app.deposit(&root, "alice", 1_000).await;
    // What a request that claimed the key and then crashed leaves behind: its claim, nothing else.
    let body = json!({"to": "bob", "amount": 100});
    let mut fingerprint = Sha256::new();
    for part in [
        "POST /wallet/transfers".as_bytes(),
        b"\0",
        b"/wallet/transfers",
        b"\0",
        body.to_string().as_bytes(),
    ] {
        fingerprint.update(part);
    }
    let now = app.clock_now();
    let dead = Claim {
        scope: IdemScope {
            user: chatman::domain::UserId::parse(&alice.id).unwrap(),
            key: chatman::domain::IdempotencyKey::parse("k").unwrap(),
        },
        token: "crashed".into(),
        fingerprint: fingerprint.finalize().into(),
        lease_until: now + Duration::seconds(30),
        expires_at: now + Duration::hours(24),
    };
    app.ledger.claim(&dead, now).await.unwrap();
    let busy = app.transfer(&alice, "bob", json!(100), "k").await;
    assert_eq!((busy.status, busy.code()), (409, "request_in_progress"));
    app.advance(Duration::seconds(31));
    let retried = app.transfer(&alice, "bob", json!(100), "k").await;
    assert_eq!(retried.status, 201, "{}", retried.body);
    assert_eq!(app.balance(&bob).await, 100);
    let late = app
        .ledger
        .settle(
            &dead,
            &chatman::ports::StoredAnswer {
                status: 201,
                content_type: "application/json".into(),
                body: "{}".into(),
            },
        )
        .await;
    assert!(
        late.is_err(),
        "the dead request can no longer answer for the key"
    );
}
