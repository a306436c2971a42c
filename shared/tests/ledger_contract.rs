//! The ledger store contract: every rule the wallet service relies on, run against the memory
//! adapter and against DynamoDB Local through the real SDK adapter.
#![allow(clippy::unwrap_used)]

mod support;

use ::time::Duration;
use chatman::domain::*;
use chatman::ports::{
    Claim, ClaimOutcome, IdemScope, LedgerStore, MoveError, Movement, RefundCap, StoredAnswer,
};
use std::sync::Arc;
use support::start_time;

fn party(name: &str) -> Party {
    Party {
        id: UserId::new(),
        username: Username::parse(name).unwrap(),
    }
}

fn claim(user: UserId, key: &str, fingerprint: u8) -> Claim {
    let now = start_time();
    Claim {
        scope: IdemScope {
            user,
            key: IdempotencyKey::parse(key).unwrap(),
        },
        token: format!("{:032x}", rand::random::<u128>()),
        fingerprint: [fingerprint; 32],
        lease_until: now + Duration::seconds(30),
        expires_at: now + Duration::hours(24),
    }
}

fn answer(status: u16, body: &str) -> StoredAnswer {
    StoredAnswer {
        status,
        content_type: "application/json".into(),
        body: body.into(),
    }
}

fn transfer(from: Option<&Party>, to: &Party, amount: i64) -> Transfer {
    Transfer {
        id: TransferId::new(),
        kind: if from.is_some() {
            TransferKind::Transfer
        } else {
            TransferKind::Deposit
        },
        from: from.cloned(),
        to: to.clone(),
        amount: Amount::new(amount).unwrap(),
        currency: "USD".into(),
        description: "note".into(),
        created_at: start_time(),
        refund_of: None,
    }
}

/// Claims a fresh key of the payer (or payee) and moves `t`, decided on `version`.
async fn movement(
    ledger: &dyn LedgerStore,
    t: &Transfer,
    version: Option<u64>,
) -> Result<(), MoveError> {
    let owner = t.from.as_ref().map_or(t.to.id, |p| p.id);
    let c = claim(owner, &t.id.to_string(), 1);
    assert_eq!(
        ledger.claim(&c, start_time()).await.unwrap(),
        ClaimOutcome::Claimed
    );
    ledger
        .move_money(&Movement {
            transfer: t.clone(),
            payer_version: version,
            claim: c,
            answer: answer(201, "{}"),
            attempt: 0,
            link: None,
            refund: None,
            payer_sent: None,
        })
        .await
}

async fn deposit(ledger: &dyn LedgerStore, to: &Party, amount: i64) {
    movement(ledger, &transfer(None, to, amount), None)
        .await
        .unwrap();
}

async fn balance(ledger: &dyn LedgerStore, who: &Party) -> (i64, u64) {
    ledger
        .wallet(&who.id)
        .await
        .unwrap()
        .map_or((0, 0), |w| (w.balance, w.version))
}

async fn an_unwritten_wallet_is_absent_and_opening_is_idempotent(ledger: Arc<dyn LedgerStore>) {
    let alice = party("alice");
    assert_eq!(ledger.wallet(&alice.id).await.unwrap(), None);
    ledger.open_wallet(&alice.id, start_time()).await.unwrap();
    assert_eq!(balance(ledger.as_ref(), &alice).await, (0, 0));
    deposit(ledger.as_ref(), &alice, 500).await;
    ledger.open_wallet(&alice.id, start_time()).await.unwrap();
    assert_eq!(
        balance(ledger.as_ref(), &alice).await.0,
        500,
        "reopening keeps the balance"
    );
}

async fn a_movement_writes_both_entries_and_both_balances(ledger: Arc<dyn LedgerStore>) {
    let (alice, bob) = (party("alice"), party("bob"));
    deposit(ledger.as_ref(), &alice, 1_000).await;
    let (_, v) = balance(ledger.as_ref(), &alice).await;
    let t = transfer(Some(&alice), &bob, 400);
    movement(ledger.as_ref(), &t, Some(v)).await.unwrap();
    assert_eq!(balance(ledger.as_ref(), &alice).await.0, 600);
    assert_eq!(balance(ledger.as_ref(), &bob).await.0, 400);
    let alices = ledger.entries(&alice.id, 10, None).await.unwrap();
    assert_eq!(alices.items.len(), 2);
    assert_eq!(alices.items[0].transfer, t, "newest first, stored whole");
    assert_eq!(alices.items[0].direction, Direction::Out);
    assert_eq!(alices.items[1].direction, Direction::In);
    let bobs = ledger.entries(&bob.id, 10, None).await.unwrap();
    assert_eq!(bobs.items.len(), 1);
    assert_eq!(bobs.items[0].direction, Direction::In);
}

async fn each_party_reads_a_transfer_by_id_from_its_own_entry(ledger: Arc<dyn LedgerStore>) {
    let (alice, bob, carol) = (party("alice"), party("bob"), party("carol"));
    deposit(ledger.as_ref(), &alice, 1_000).await;
    let (_, v) = balance(ledger.as_ref(), &alice).await;
    let t = transfer(Some(&alice), &bob, 400);
    movement(ledger.as_ref(), &t, Some(v)).await.unwrap();
    let payer = ledger.entry(&alice.id, &t.id).await.unwrap().unwrap();
    assert_eq!(
        (payer.transfer.clone(), payer.direction),
        (t.clone(), Direction::Out)
    );
    let payee = ledger.entry(&bob.id, &t.id).await.unwrap().unwrap();
    assert_eq!(
        (payee.transfer, payee.direction),
        (t.clone(), Direction::In)
    );
    assert_eq!(
        ledger.entry(&carol.id, &t.id).await.unwrap(),
        None,
        "not a party"
    );
    let unknown = TransferId::new();
    assert_eq!(ledger.entry(&alice.id, &unknown).await.unwrap(), None);
}

/// Refunds `amount` of `original` (paid by `payer` to `receiver`), capped as the service caps it.
async fn refund_movement(
    ledger: &dyn LedgerStore,
    original: &Transfer,
    amount: i64,
    refunded_at_most: i64,
    max_refunds: usize,
) -> (Transfer, Result<(), MoveError>) {
    let receiver = original.to.clone();
    let mut t = transfer(Some(&receiver), original.from.as_ref().unwrap(), amount);
    t.kind = TransferKind::Refund;
    t.refund_of = Some(original.id);
    let (_, version) = balance(ledger, &receiver).await;
    let c = claim(receiver.id, &t.id.to_string(), 1);
    assert_eq!(
        ledger.claim(&c, start_time()).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let moved = ledger
        .move_money(&Movement {
            transfer: t.clone(),
            payer_version: Some(version),
            claim: c,
            answer: answer(201, "{}"),
            attempt: 0,
            link: None,
            refund: Some(RefundCap {
                original: original.id,
                refunded_at_most,
                max_refunds,
            }),
            payer_sent: None,
        })
        .await;
    (t, moved)
}

async fn a_refund_moves_only_within_its_cap_and_counts_on_both_entries(
    ledger: Arc<dyn LedgerStore>,
) {
    let (alice, bob) = (party("alice"), party("bob"));
    deposit(ledger.as_ref(), &alice, 1_000).await;
    // bob has more than he was paid, so only the cap can refuse below.
    deposit(ledger.as_ref(), &bob, 1_000).await;
    let (_, v) = balance(ledger.as_ref(), &alice).await;
    let original = transfer(Some(&alice), &bob, 400);
    movement(ledger.as_ref(), &original, Some(v)).await.unwrap();

    let (first, moved) = refund_movement(ledger.as_ref(), &original, 300, 100, 2).await;
    moved.unwrap();
    // 300 refunded already: a second 300 would need at most 100 refunded before it.
    let (_, over) = refund_movement(ledger.as_ref(), &original, 300, 100, 2).await;
    assert!(matches!(over, Err(MoveError::RefundCap)), "{over:?}");
    let (second, moved) = refund_movement(ledger.as_ref(), &original, 100, 300, 2).await;
    moved.unwrap();
    // Two refunds made: a third is refused by the count, though the amount would fit.
    let (_, third) = refund_movement(ledger.as_ref(), &original, 1, 1_000, 2).await;
    assert!(matches!(third, Err(MoveError::RefundCap)), "{third:?}");

    for who in [&alice, &bob] {
        let entry = ledger.entry(&who.id, &original.id).await.unwrap().unwrap();
        assert_eq!(
            entry.transfer, original,
            "the transfer itself never changes"
        );
        assert_eq!(
            entry.refunded,
            Refunded {
                total: 400,
                ids: vec![first.id, second.id]
            }
        );
        let refund = ledger.entry(&who.id, &first.id).await.unwrap().unwrap();
        assert_eq!(refund.transfer, first);
        assert_eq!(refund.refunded, Refunded::default());
    }
    assert_eq!(balance(ledger.as_ref(), &alice).await.0, 1_000);
    assert_eq!(balance(ledger.as_ref(), &bob).await.0, 1_000);
}

async fn entries_page_newest_first(ledger: Arc<dyn LedgerStore>) {
    let alice = party("alice");
    for amount in 1..=5 {
        deposit(ledger.as_ref(), &alice, amount).await;
    }
    let first = ledger.entries(&alice.id, 2, None).await.unwrap();
    let amounts = |p: &chatman::ports::Page<Entry>| -> Vec<i64> {
        p.items
            .iter()
            .map(|e| e.transfer.amount.minor_units())
            .collect()
    };
    assert_eq!(amounts(&first), vec![5, 4]);
    let second = ledger
        .entries(&alice.id, 2, first.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(amounts(&second), vec![3, 2]);
    let third = ledger
        .entries(&alice.id, 2, second.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(amounts(&third), vec![1]);
    assert_eq!(third.next_cursor, None);
}

async fn a_debit_beyond_the_balance_moves_nothing(ledger: Arc<dyn LedgerStore>) {
    let (alice, bob) = (party("alice"), party("bob"));
    deposit(ledger.as_ref(), &alice, 100).await;
    let (_, v) = balance(ledger.as_ref(), &alice).await;
    let refused = movement(ledger.as_ref(), &transfer(Some(&alice), &bob, 101), Some(v)).await;
    assert!(
        matches!(refused, Err(MoveError::InsufficientFunds)),
        "{refused:?}"
    );
    let empty = transfer(Some(&bob), &alice, 1);
    let refused = movement(ledger.as_ref(), &empty, Some(0)).await;
    assert!(
        matches!(refused, Err(MoveError::InsufficientFunds)),
        "a wallet never written is 0"
    );
    assert_eq!(balance(ledger.as_ref(), &alice).await, (100, v));
    assert_eq!(ledger.wallet(&bob.id).await.unwrap(), None);
    assert_eq!(
        ledger
            .entries(&alice.id, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn a_debit_decided_on_an_old_version_is_refused(ledger: Arc<dyn LedgerStore>) {
    let (alice, bob) = (party("alice"), party("bob"));
    deposit(ledger.as_ref(), &alice, 100).await;
    let (_, v) = balance(ledger.as_ref(), &alice).await;
    deposit(ledger.as_ref(), &alice, 100).await;
    let stale = movement(ledger.as_ref(), &transfer(Some(&alice), &bob, 10), Some(v)).await;
    assert!(matches!(stale, Err(MoveError::PayerChanged)), "{stale:?}");
    assert_eq!(balance(ledger.as_ref(), &alice).await.0, 200);
}

async fn racing_debits_of_one_decision_move_money_once(ledger: Arc<dyn LedgerStore>) {
    let (alice, bob) = (party("alice"), party("bob"));
    deposit(ledger.as_ref(), &alice, 1_000).await;
    let (_, v) = balance(ledger.as_ref(), &alice).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (ledger, alice, bob) = (ledger.clone(), alice.clone(), bob.clone());
        tasks.push(tokio::spawn(async move {
            movement(ledger.as_ref(), &transfer(Some(&alice), &bob, 100), Some(v)).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(MoveError::PayerChanged) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(balance(ledger.as_ref(), &alice).await.0, 900);
    assert_eq!(balance(ledger.as_ref(), &bob).await.0, 100);
}

async fn a_key_is_claimed_once_answered_once_and_replayed(ledger: Arc<dyn LedgerStore>) {
    let user = UserId::new();
    let now = start_time();
    let first = claim(user, "key", 1);
    assert_eq!(
        ledger.claim(&first, now).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let twin = claim(user, "key", 1);
    assert_eq!(
        ledger.claim(&twin, now).await.unwrap(),
        ClaimOutcome::InProgress
    );
    let other = claim(user, "key", 2);
    assert_eq!(
        ledger.claim(&other, now).await.unwrap(),
        ClaimOutcome::Mismatch
    );
    assert!(
        ledger.settle(&twin, &answer(422, "no")).await.is_err(),
        "only the holder settles"
    );
    ledger
        .settle(&first, &answer(422, "{\"code\":\"x\"}"))
        .await
        .unwrap();
    assert!(
        ledger.settle(&first, &answer(201, "{}")).await.is_err(),
        "answered once"
    );
    assert_eq!(
        ledger.claim(&twin, now).await.unwrap(),
        ClaimOutcome::Replay(answer(422, "{\"code\":\"x\"}"))
    );
    let elsewhere = claim(UserId::new(), "key", 2);
    assert_eq!(
        ledger.claim(&elsewhere, now).await.unwrap(),
        ClaimOutcome::Claimed,
        "per user"
    );
    let later = now + Duration::hours(25);
    assert_eq!(
        ledger.claim(&other, later).await.unwrap(),
        ClaimOutcome::Claimed,
        "24 h"
    );
}

async fn a_lapsed_claim_is_taken_over_and_its_holder_cannot_move_money(
    ledger: Arc<dyn LedgerStore>,
) {
    let (alice, bob) = (party("alice"), party("bob"));
    deposit(ledger.as_ref(), &alice, 100).await;
    let (_, v) = balance(ledger.as_ref(), &alice).await;
    let now = start_time();
    let crashed = claim(alice.id, "k", 1);
    assert_eq!(
        ledger.claim(&crashed, now).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let retry = claim(alice.id, "k", 1);
    let after_lease = now + Duration::seconds(31);
    assert_eq!(
        ledger.claim(&retry, after_lease).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let late = ledger
        .move_money(&Movement {
            transfer: transfer(Some(&alice), &bob, 10),
            payer_version: Some(v),
            claim: crashed,
            answer: answer(201, "{}"),
            attempt: 0,
            link: None,
            refund: None,
            payer_sent: None,
        })
        .await;
    assert!(matches!(late, Err(MoveError::ClaimLost)), "{late:?}");
    assert_eq!(balance(ledger.as_ref(), &alice).await.0, 100);
    ledger
        .move_money(&Movement {
            transfer: transfer(Some(&alice), &bob, 10),
            payer_version: Some(v),
            claim: retry.clone(),
            answer: answer(201, "{\"ok\":1}"),
            attempt: 0,
            link: None,
            refund: None,
            payer_sent: None,
        })
        .await
        .unwrap();
    assert_eq!(
        ledger.claim(&retry, after_lease).await.unwrap(),
        ClaimOutcome::Replay(answer(201, "{\"ok\":1}")),
        "the movement stored the key's answer"
    );
}

async fn a_released_claim_frees_the_key_only_for_its_holder(ledger: Arc<dyn LedgerStore>) {
    let user = UserId::new();
    let now = start_time();
    let mine = claim(user, "k", 1);
    ledger.claim(&mine, now).await.unwrap();
    ledger.release(&claim(user, "k", 1)).await.unwrap();
    assert_eq!(
        ledger.claim(&claim(user, "k", 1), now).await.unwrap(),
        ClaimOutcome::InProgress
    );
    ledger.release(&mine).await.unwrap();
    assert_eq!(
        ledger.claim(&claim(user, "k", 2), now).await.unwrap(),
        ClaimOutcome::Claimed
    );
}

async fn racing_claims_of_one_key_have_one_winner(ledger: Arc<dyn LedgerStore>) {
    let user = UserId::new();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            ledger
                .claim(&claim(user, "race", 1), start_time())
                .await
                .unwrap()
        }));
    }
    let mut claimed = 0;
    for t in tasks {
        if t.await.unwrap() == ClaimOutcome::Claimed {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);
}

async fn links_are_stored_listed_by_owner_and_revoked_by_owner_only(ledger: Arc<dyn LedgerStore>) {
    let owner = UserId::new();
    let now = start_time();
    let mut made = Vec::new();
    for i in 0..3 {
        let link = DonateLink {
            id: DonateLinkId::new(),
            owner,
            amount: (i == 0).then(|| Amount::new(300).unwrap()),
            description: format!("link {i}"),
            expires_at: now + Duration::minutes(10),
            revoked: false,
            created_at: now,
        };
        ledger.put_link(&link).await.unwrap();
        made.push(link);
    }
    assert_eq!(
        ledger.link(&made[0].id).await.unwrap().as_ref(),
        Some(&made[0])
    );
    let listed = ledger.links_of(&owner, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![made[2].id, made[1].id, made[0].id]
    );
    assert!(
        ledger
            .links_of(&UserId::new(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !ledger
            .revoke_link(&made[1].id, &UserId::new())
            .await
            .unwrap()
    );
    assert!(ledger.revoke_link(&made[1].id, &owner).await.unwrap());
    assert!(ledger.link(&made[1].id).await.unwrap().unwrap().revoked);
    assert!(ledger.links_of(&owner, 10).await.unwrap()[1].revoked);
    assert!(
        !ledger
            .revoke_link(&DonateLinkId::new(), &owner)
            .await
            .unwrap()
    );
}

/// Moves `t` (a donation) on a fresh key, conditioned on `link` being live.
async fn donation(
    ledger: &dyn LedgerStore,
    t: &Transfer,
    link: &DonateLinkId,
) -> Result<(), MoveError> {
    let payer = t.from.as_ref().unwrap();
    let version = ledger.wallet(&payer.id).await.unwrap().map(|w| w.version);
    let c = claim(payer.id, &t.id.to_string(), 1);
    ledger.claim(&c, start_time()).await.unwrap();
    ledger
        .move_money(&Movement {
            transfer: t.clone(),
            payer_version: version,
            claim: c,
            answer: answer(201, "{}"),
            attempt: 0,
            link: Some(*link),
            refund: None,
            payer_sent: None,
        })
        .await
}

/// A movement paying a donate link happens only while the link is live when it runs: after a
/// revoke, at or past the expiry, or for a link that does not exist it is `LinkGone` and
/// nothing moves.
async fn a_donation_moves_only_while_its_link_is_live(ledger: Arc<dyn LedgerStore>) {
    let (alice, bob) = (party("alice"), party("bob"));
    deposit(ledger.as_ref(), &alice, 1_000).await;
    let now = start_time();
    let link = |expires_at| DonateLink {
        id: DonateLinkId::new(),
        owner: bob.id,
        amount: None,
        description: "tips".into(),
        expires_at,
        revoked: false,
        created_at: now - Duration::minutes(5),
    };
    let live = link(now + Duration::minutes(10));
    let revoked = link(now + Duration::minutes(10));
    let expired = link(now);
    for l in [&live, &revoked, &expired] {
        ledger.put_link(l).await.unwrap();
    }
    assert!(ledger.revoke_link(&revoked.id, &bob.id).await.unwrap());
    let pay = |amount| transfer(Some(&alice), &bob, amount);
    for gone in [revoked.id, expired.id, DonateLinkId::new()] {
        let refused = donation(ledger.as_ref(), &pay(100), &gone).await;
        assert!(matches!(refused, Err(MoveError::LinkGone)), "{refused:?}");
    }
    assert_eq!(
        balance(ledger.as_ref(), &alice).await.0,
        1_000,
        "nothing moved"
    );
    assert_eq!(
        ledger.entries(&bob.id, 10, None).await.unwrap().items.len(),
        0
    );
    donation(ledger.as_ref(), &pay(100), &live.id)
        .await
        .unwrap();
    assert_eq!(balance(ledger.as_ref(), &bob).await.0, 100);
    assert!(ledger.revoke_link(&live.id, &bob.id).await.unwrap());
    let late = donation(ledger.as_ref(), &pay(100), &live.id).await;
    assert!(matches!(late, Err(MoveError::LinkGone)), "{late:?}");
    assert_eq!(balance(ledger.as_ref(), &alice).await.0, 900);
}

/// A credit that would carry a balance past `i64::MAX` is refused, and nothing moves.
async fn a_credit_past_i64_is_refused(ledger: Arc<dyn LedgerStore>, bob: Party) {
    let alice = party("alice");
    deposit(ledger.as_ref(), &alice, 10).await;
    let (_, v) = balance(ledger.as_ref(), &alice).await;
    let refused = movement(ledger.as_ref(), &transfer(Some(&alice), &bob, 10), Some(v)).await;
    assert!(
        matches!(refused, Err(MoveError::BalanceLimit)),
        "{refused:?}"
    );
    assert_eq!(balance(ledger.as_ref(), &alice).await.0, 10);
    assert_eq!(balance(ledger.as_ref(), &bob).await.0, i64::MAX - 5);
}

#[tokio::test]
async fn memory_a_credit_past_i64_is_refused() {
    let ledger = Arc::new(chatman::adapters::memory_ledger::MemoryLedger::new());
    let bob = party("bob");
    ledger.seed_wallet(Wallet {
        owner: bob.id,
        balance: i64::MAX - 5,
        updated_at: start_time(),
        version: 1,
        sent_by_hour: Default::default(),
    });
    a_credit_past_i64_is_refused(ledger, bob).await;
}

#[tokio::test]
async fn dynamodb_local_a_credit_past_i64_is_refused() {
    let (client, table, ledger) = support::dynamo_ledger().await;
    let bob = party("bob");
    let n = |v: i64| aws_sdk_dynamodb::types::AttributeValue::N(v.to_string());
    let s = |v: String| aws_sdk_dynamodb::types::AttributeValue::S(v);
    client
        .put_item()
        .table_name(&table)
        .item("pk", s(format!("WALLET#{}", bob.id)))
        .item("sk", s("WALLET".into()))
        .item("owner", s(bob.id.to_string()))
        .item("balance", n(i64::MAX - 5))
        .item("version", n(1))
        .item("updated_at", n(0))
        .send()
        .await
        .unwrap();
    a_credit_past_i64_is_refused(ledger, bob).await;
}

/// The payer's daily outgoing count is written by the debit itself, and only when the movement
/// carries one; a stale decision (the version moved) writes neither money nor count.
async fn the_debit_writes_the_payers_daily_count(ledger: Arc<dyn LedgerStore>) {
    let (alice, bob) = (party("alice"), party("bob"));
    deposit(ledger.as_ref(), &alice, 1000).await;
    let (_, v) = balance(ledger.as_ref(), &alice).await;
    let sent = SentByHour::from_hours([(490_000, 300)]);
    let t = transfer(Some(&alice), &bob, 300);
    let c = claim(alice.id, &t.id.to_string(), 1);
    assert_eq!(
        ledger.claim(&c, start_time()).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let counted = Movement {
        transfer: t,
        payer_version: Some(v),
        claim: c,
        answer: answer(201, "{}"),
        attempt: 0,
        link: None,
        refund: None,
        payer_sent: Some(sent.clone()),
    };
    ledger.move_money(&counted).await.unwrap();
    let wallet = ledger.wallet(&alice.id).await.unwrap().unwrap();
    assert_eq!(
        (wallet.balance, wallet.sent_by_hour.clone()),
        (700, sent.clone())
    );
    let payee = ledger.wallet(&bob.id).await.unwrap().unwrap();
    assert_eq!(
        payee.sent_by_hour,
        SentByHour::default(),
        "a credit counts nothing"
    );

    // Decided on the old version: refused, and the count stays as it was.
    let stale_t = transfer(Some(&alice), &bob, 100);
    let c = claim(alice.id, &stale_t.id.to_string(), 1);
    assert_eq!(
        ledger.claim(&c, start_time()).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let stale = Movement {
        transfer: stale_t,
        payer_version: Some(v),
        claim: c,
        answer: answer(201, "{}"),
        attempt: 0,
        link: None,
        refund: None,
        payer_sent: Some(SentByHour::from_hours([(490_000, 400)])),
    };
    assert!(matches!(
        ledger.move_money(&stale).await,
        Err(MoveError::PayerChanged)
    ));
    let wallet = ledger.wallet(&alice.id).await.unwrap().unwrap();
    assert_eq!((wallet.balance, wallet.sent_by_hour), (700, sent));
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(std::sync::Arc::new(chatman::adapters::memory_ledger::MemoryLedger::new())).await }) *
        }
        mod dynamodb_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(crate::support::dynamo_stores().await.1).await }) *
        }
    };
}

contract!(
    an_unwritten_wallet_is_absent_and_opening_is_idempotent,
    the_debit_writes_the_payers_daily_count,
    a_movement_writes_both_entries_and_both_balances,
    each_party_reads_a_transfer_by_id_from_its_own_entry,
    entries_page_newest_first,
    a_debit_beyond_the_balance_moves_nothing,
    a_debit_decided_on_an_old_version_is_refused,
    racing_debits_of_one_decision_move_money_once,
    a_key_is_claimed_once_answered_once_and_replayed,
    a_lapsed_claim_is_taken_over_and_its_holder_cannot_move_money,
    a_released_claim_frees_the_key_only_for_its_holder,
    racing_claims_of_one_key_have_one_winner,
    links_are_stored_listed_by_owner_and_revoked_by_owner_only,
    a_donation_moves_only_while_its_link_is_live,
    a_refund_moves_only_within_its_cap_and_counts_on_both_entries,
);
