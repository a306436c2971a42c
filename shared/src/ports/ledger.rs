//! The ledger store: wallets, transfers and their entries, donate links, and the idempotency
//! records of money-moving requests. A movement is one atomic step that also settles its
//! idempotency record, so a key can move money at most once whatever crashes or races.

use super::{Page, StoreError};
use crate::domain::{
    DonateLink, DonateLinkId, Entry, IdempotencyKey, SentByHour, Transfer, TransferId, UserId,
    Wallet,
};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Whose key: idempotency keys are scoped per user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdemScope {
    pub user: UserId,
    pub key: IdempotencyKey,
}

/// A response as first given, replayed byte for byte for the key's later duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// A claim on a key: the request holding it may answer for the key until `lease_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub scope: IdemScope,
    /// Random, per claim: only the holder's writes settle the key.
    pub token: String,
    /// SHA-256 of what was asked (route and body).
    pub fingerprint: [u8; 32],
    /// A claim whose holder crashed can be taken over after this, so a key never wedges.
    pub lease_until: OffsetDateTime,
    /// The record (and its answer) is kept this long: 24 h.
    pub expires_at: OffsetDateTime,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The key is ours to answer.
    Claimed,
    /// The key was answered already, for the same request.
    Replay(StoredAnswer),
    /// The key was used for a different request.
    Mismatch,
    /// Another request with this key is still running.
    InProgress,
}

/// One money movement: the transfer with its entries, the debit (checked against the wallet
/// version and balance the service decided on), the credit, and the key's answer.
#[derive(Debug, Clone)]
pub struct Movement {
    pub transfer: Transfer,
    /// The payer's wallet version the decision was taken on (`None` for a deposit).
    pub payer_version: Option<u64>,
    pub claim: Claim,
    pub answer: StoredAnswer,
    /// Which attempt of this claim this is: part of the database's own request token, so an
    /// SDK-level retry of one attempt is harmless and a new attempt is a new request.
    pub attempt: u32,
    /// The donate link this movement pays, if any: the movement happens only while the link is
    /// live (not revoked, not expired at the transfer's `created_at`), checked in the same atomic
    /// step, so no payment commits after a revoke has answered.
    pub link: Option<DonateLinkId>,
    /// For a refund: the cap its transaction holds on the refunded transfer.
    pub refund: Option<RefundCap>,
    /// For a payment under the daily outgoing cap: the payer's count with this payment in it,
    /// decided on the wallet read at `payer_version` and written by the debit itself.
    pub payer_sent: Option<SentByHour>,
}

/// A refund commits only while what was refunded of `original` before it is at most
/// `refunded_at_most` (its amount minus this refund) and fewer than `max_refunds` refunds were
/// made; checked and counted on the refunder's entry of `original` in the same atomic step, so
/// parallel refunds can never return more than was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundCap {
    pub original: TransferId,
    pub refunded_at_most: i64,
    pub max_refunds: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// The payer's balance is below the amount (its version may have moved too).
    #[error("insufficient funds")]
    InsufficientFunds,
    /// The payer's wallet changed since it was read; decide again.
    #[error("payer wallet changed")]
    PayerChanged,
    /// The payee's balance would exceed `i64`.
    #[error("balance limit")]
    BalanceLimit,
    /// The claim on the key is no longer ours (taken over after its lease): nothing moved.
    #[error("claim lost")]
    ClaimLost,
    /// The paid donate link was revoked or expired (or is gone) when the movement ran.
    #[error("donate link no longer live")]
    LinkGone,
    /// The refund would pass its transfer's amount or count cap (another refund landed first).
    #[error("refund cap reached")]
    RefundCap,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for MoveError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Unexpected(anyhow::anyhow!("unresolved conflict")),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

#[async_trait]
pub trait LedgerStore: Send + Sync {
    // --- wallets and history ---
    /// Creates `owner`'s wallet at balance 0 unless it exists.
    async fn open_wallet(&self, owner: &UserId, now: OffsetDateTime) -> Result<(), StoreError>;
    /// `None` for a wallet never written (balance 0).
    async fn wallet(&self, owner: &UserId) -> Result<Option<Wallet>, StoreError>;
    /// `owner`'s entries, newest first; `cursor` is the previous page's `next_cursor`.
    async fn entries(
        &self,
        owner: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Entry>, StoreError>;
    /// `owner`'s entry of one transfer, read by key: it carries the whole transfer, so either
    /// party can read a transfer from its own partition, and nobody else finds it.
    async fn entry(
        &self,
        owner: &UserId,
        transfer: &TransferId,
    ) -> Result<Option<Entry>, StoreError>;

    // --- idempotency ---
    /// Claims the key of `claim.scope` for a request with `claim.fingerprint`, unless it is
    /// answered, claimed by a live request, or used for another request.
    async fn claim(&self, claim: &Claim, now: OffsetDateTime) -> Result<ClaimOutcome, StoreError>;
    /// Stores `answer` as the key's answer if `claim` still holds it (else `Conflict`).
    async fn settle(&self, claim: &Claim, answer: &StoredAnswer) -> Result<(), StoreError>;
    /// Gives the key up if `claim` still holds it unanswered (a request that stores nothing, such
    /// as a malformed one or a failure on our side), so a retry can run at once.
    async fn release(&self, claim: &Claim) -> Result<(), StoreError>;

    // --- money ---
    /// In one atomic step: settles the claim with the movement's answer, debits the payer
    /// (version and `balance >= amount` checked), credits the payee (refused before `i64`
    /// overflow), writes the transfer and its entries; with `movement.link`, only while that link
    /// is live (else `LinkGone`); with `movement.refund`, only within its cap (else `RefundCap`),
    /// adding the refund to both parties' entries of the original. All or nothing.
    async fn move_money(&self, movement: &Movement) -> Result<(), MoveError>;

    // --- donate links ---
    async fn put_link(&self, link: &DonateLink) -> Result<(), StoreError>;
    async fn link(&self, id: &DonateLinkId) -> Result<Option<DonateLink>, StoreError>;
    /// `owner`'s links, newest first, at most `limit`.
    async fn links_of(&self, owner: &UserId, limit: usize) -> Result<Vec<DonateLink>, StoreError>;
    /// Marks the link revoked if `owner` owns it; `false` when it does not exist or is not theirs.
    async fn revoke_link(&self, id: &DonateLinkId, owner: &UserId) -> Result<bool, StoreError>;
}
