//! The ledger store in process memory, for the local server and tests. A movement is one step
//! under one lock with the same checks DynamoDB's transaction makes, so the contract suite and
//! the bank test hold for both.

use crate::domain::{Direction, DonateLink, DonateLinkId, Entry, TransferId, UserId, Wallet};
use crate::ports::{
    Claim, ClaimOutcome, LedgerStore, MoveError, Movement, Page, StoreError, StoredAnswer,
};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

struct IdemRecord {
    token: String,
    fingerprint: [u8; 32],
    lease_until: OffsetDateTime,
    expires_at: OffsetDateTime,
    answer: Option<StoredAnswer>,
}

#[derive(Default)]
struct State {
    wallets: HashMap<UserId, Wallet>,
    /// Per wallet, by transfer id (UUIDv7, so in time order).
    entries: HashMap<UserId, BTreeMap<TransferId, Entry>>,
    idempotency: HashMap<(UserId, [u8; 32]), IdemRecord>,
    links: HashMap<DonateLinkId, DonateLink>,
}

/// The ledger in memory.
#[derive(Default)]
pub struct MemoryLedger {
    state: Mutex<State>,
}

impl MemoryLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `wallet` as it is, without a ledger behind it: for tests that need a balance no
    /// sequence of movements reaches quickly (the `i64` ceiling).
    pub fn seed_wallet(&self, wallet: Wallet) {
        self.state().wallets.insert(wallet.owner, wallet);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change is checked first and applied after, so a poisoned lock holds consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn scope_key(claim: &Claim) -> (UserId, [u8; 32]) {
    (claim.scope.user, claim.scope.key.digest())
}

fn holds(state: &State, claim: &Claim) -> bool {
    state
        .idempotency
        .get(&scope_key(claim))
        .is_some_and(|r| r.token == claim.token && r.answer.is_none())
}

#[async_trait]
impl LedgerStore for MemoryLedger {
    async fn open_wallet(&self, owner: &UserId, now: OffsetDateTime) -> Result<(), StoreError> {
        self.state().wallets.entry(*owner).or_insert(Wallet {
            owner: *owner,
            balance: 0,
            updated_at: now,
            version: 0,
            sent_by_hour: Default::default(),
        });
        Ok(())
    }

    async fn wallet(&self, owner: &UserId) -> Result<Option<Wallet>, StoreError> {
        Ok(self.state().wallets.get(owner).cloned())
    }

    async fn entry(
        &self,
        owner: &UserId,
        transfer: &TransferId,
    ) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .state()
            .entries
            .get(owner)
            .and_then(|entries| entries.get(transfer))
            .cloned())
    }

    async fn entries(
        &self,
        owner: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Entry>, StoreError> {
        let before = match cursor {
            Some(raw) => Some(TransferId::parse(raw).map_err(|_| StoreError::Conflict)?),
            None => None,
        };
        let state = self.state();
        let Some(entries) = state.entries.get(owner) else {
            return Ok(Page {
                items: vec![],
                next_cursor: None,
            });
        };
        let items: Vec<Entry> = entries
            .iter()
            .rev()
            .filter(|(id, _)| before.is_none_or(|b| **id < b))
            .take(limit + 1)
            .map(|(_, e)| e.clone())
            .collect();
        Ok(Page::from_overfetch(items, limit, |e| {
            e.transfer.id.to_string()
        }))
    }

    async fn claim(&self, claim: &Claim, now: OffsetDateTime) -> Result<ClaimOutcome, StoreError> {
        let mut state = self.state();
        let key = scope_key(claim);
        if let Some(existing) = state.idempotency.get(&key).filter(|r| now < r.expires_at) {
            if existing.fingerprint != claim.fingerprint {
                return Ok(ClaimOutcome::Mismatch);
            }
            if let Some(answer) = &existing.answer {
                return Ok(ClaimOutcome::Replay(answer.clone()));
            }
            if now < existing.lease_until {
                return Ok(ClaimOutcome::InProgress);
            }
        }
        state.idempotency.insert(
            key,
            IdemRecord {
                token: claim.token.clone(),
                fingerprint: claim.fingerprint,
                lease_until: claim.lease_until,
                expires_at: claim.expires_at,
                answer: None,
            },
        );
        Ok(ClaimOutcome::Claimed)
    }

    async fn settle(&self, claim: &Claim, answer: &StoredAnswer) -> Result<(), StoreError> {
        let mut state = self.state();
        if !holds(&state, claim) {
            return Err(StoreError::Conflict);
        }
        if let Some(record) = state.idempotency.get_mut(&scope_key(claim)) {
            record.answer = Some(answer.clone());
        }
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<(), StoreError> {
        let mut state = self.state();
        if holds(&state, claim) {
            state.idempotency.remove(&scope_key(claim));
        }
        Ok(())
    }

    async fn move_money(&self, movement: &Movement) -> Result<(), MoveError> {
        let mut state = self.state();
        let t = &movement.transfer;
        let amount = t.amount.minor_units();
        // Every check first, in the transaction's order; nothing is written unless all pass.
        if !holds(&state, &movement.claim) {
            return Err(MoveError::ClaimLost);
        }
        // A donation only while its link is live, decided under the lock a revoke takes too.
        if let Some(link) = &movement.link
            && !state
                .links
                .get(link)
                .is_some_and(|l| l.active(t.created_at))
        {
            return Err(MoveError::LinkGone);
        }
        if let Some(from) = &t.from {
            let payer = state.wallets.get(&from.id);
            let (balance, version) = payer.map_or((0, 0), |w| (w.balance, w.version));
            if balance < amount {
                return Err(MoveError::InsufficientFunds);
            }
            if Some(version) != movement.payer_version {
                return Err(MoveError::PayerChanged);
            }
        }
        let payee_balance = state.wallets.get(&t.to.id).map_or(0, |w| w.balance);
        if payee_balance > i64::MAX - amount {
            return Err(MoveError::BalanceLimit);
        }
        // A refund only within its cap, read from the refunder's entry of the original, and
        // counted there (and on the payer's) below, under the same lock.
        if let Some(cap) = &movement.refund {
            let Some(from) = &t.from else {
                return Err(MoveError::Unexpected(anyhow::anyhow!(
                    "a refund without a payer"
                )));
            };
            let refunded = state
                .entries
                .get(&from.id)
                .and_then(|held| held.get(&cap.original))
                .map(|e| &e.refunded)
                .ok_or_else(|| MoveError::Unexpected(anyhow::anyhow!("refunded entry missing")))?;
            if refunded.total > cap.refunded_at_most || refunded.ids.len() >= cap.max_refunds {
                return Err(MoveError::RefundCap);
            }
        }
        if Entry::of(t).iter().any(|e| {
            state
                .entries
                .get(&e.owner)
                .is_some_and(|held| held.contains_key(&t.id))
        }) {
            return Err(MoveError::Unexpected(anyhow::anyhow!("transfer id reused")));
        }

        if let Some(record) = state.idempotency.get_mut(&scope_key(&movement.claim)) {
            record.answer = Some(movement.answer.clone());
        }
        if let Some(cap) = &movement.refund {
            for entry in Entry::of(t) {
                if let Some(original) = state
                    .entries
                    .get_mut(&entry.owner)
                    .and_then(|held| held.get_mut(&cap.original))
                {
                    original.refunded.total += amount;
                    original.refunded.ids.push(t.id);
                }
            }
        }
        for entry in Entry::of(t) {
            let wallet = state.wallets.entry(entry.owner).or_insert(Wallet {
                owner: entry.owner,
                balance: 0,
                updated_at: t.created_at,
                version: 0,
                sent_by_hour: Default::default(),
            });
            // The payer's daily count, with the debit, as the DynamoDB debit sets it.
            if let (Some(sent), Direction::Out) = (&movement.payer_sent, entry.direction) {
                wallet.sent_by_hour = sent.clone();
            }
            wallet.balance += entry.signed_amount();
            wallet.version += 1;
            wallet.updated_at = t.created_at;
            state
                .entries
                .entry(entry.owner)
                .or_default()
                .insert(t.id, entry);
        }
        Ok(())
    }

    async fn put_link(&self, link: &DonateLink) -> Result<(), StoreError> {
        self.state().links.insert(link.id, link.clone());
        Ok(())
    }

    async fn link(&self, id: &DonateLinkId) -> Result<Option<DonateLink>, StoreError> {
        Ok(self.state().links.get(id).cloned())
    }

    async fn links_of(&self, owner: &UserId, limit: usize) -> Result<Vec<DonateLink>, StoreError> {
        let mut links: Vec<DonateLink> = self
            .state()
            .links
            .values()
            .filter(|l| l.owner == *owner)
            .cloned()
            .collect();
        links.sort_by_key(|l| std::cmp::Reverse(l.id));
        links.truncate(limit);
        Ok(links)
    }

    async fn revoke_link(&self, id: &DonateLinkId, owner: &UserId) -> Result<bool, StoreError> {
        match self.state().links.get_mut(id) {
            Some(link) if link.owner == *owner => {
                link.revoked = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl crate::adapters::memory_expiry::Expiring for MemoryLedger {
    fn drop_expired(&self, now: OffsetDateTime) -> usize {
        use crate::adapters::memory_expiry::retain_live;
        let mut state = self.state();
        let s = &mut *state;
        // As the `ttl` of `IDEM#` records (24 h) and of both copies of a link (a day past its
        // expiry, so a late visitor hears 410 first). Wallets and entries are the ledger: kept.
        retain_live(&mut s.idempotency, |_, r| now < r.expires_at)
            + retain_live(&mut s.links, |_, l| {
                now < l.expires_at + time::Duration::days(1)
            })
    }
}
