//! What the ledger keeps: wallets, immutable transfers with their two entries, donate links and
//! idempotency records. Plain data; the rules live in `services::wallet`.

use super::{Amount, DonateLinkId, TransferId, UserId, Username};
use time::OffsetDateTime;

/// A balance. Every change to it is one transfer's entry, so it always equals the sum of its
/// entries. A wallet nobody wrote yet is balance 0 at version 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    pub owner: UserId,
    pub balance: i64,
    pub updated_at: OffsetDateTime,
    /// Bumped by every change; a debit is conditioned on the version it was decided on.
    pub version: u64,
    /// What it sent in the last day, for the rolling outgoing cap (written with the debit).
    pub sent_by_hour: super::SentByHour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    Deposit,
    Transfer,
    Donation,
    /// Money a receiver sent back, against one earlier transfer or donation (`refund_of`).
    Refund,
}

impl TransferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Transfer => "transfer",
            Self::Donation => "donation",
            Self::Refund => "refund",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "deposit" => Some(Self::Deposit),
            "transfer" => Some(Self::Transfer),
            "donation" => Some(Self::Donation),
            "refund" => Some(Self::Refund),
            _ => None,
        }
    }
}

/// One side of a transfer: who, under the username they had when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub id: UserId,
    pub username: Username,
}

/// One money movement. Immutable once written. `from` is `None` for a deposit (money from
/// outside the system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub kind: TransferKind,
    pub from: Option<Party>,
    pub to: Party,
    pub amount: Amount,
    pub currency: String,
    pub description: String,
    pub created_at: OffsetDateTime,
    /// For a refund: the transfer it gives money back for.
    pub refund_of: Option<TransferId>,
}

impl Transfer {
    /// Whether its receiver may send (part of) it back: a payment from another person. Not a
    /// deposit (no one inside to return it to), nor a refund (that would only go round in circles).
    pub fn refundable(&self) -> bool {
        self.from.is_some() && matches!(self.kind, TransferKind::Transfer | TransferKind::Donation)
    }
}

/// What has been sent back of a transfer so far. Both parties' entries of the transfer carry it,
/// updated in each refund's own transaction (the receiver's conditioned on the cap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refunded {
    /// The sum of the refunds, in minor units; never above the transfer's amount.
    pub total: i64,
    /// The refunds' transfer ids, oldest first.
    pub ids: Vec<TransferId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

/// One wallet's side of a transfer: what its history lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub owner: UserId,
    pub direction: Direction,
    pub transfer: Transfer,
    /// The transfer itself never changes; what was refunded of it does.
    pub refunded: Refunded,
}

impl Entry {
    /// The entries a transfer writes: money out of the payer (none for a deposit), into the payee.
    pub fn of(transfer: &Transfer) -> Vec<Entry> {
        let mut entries = Vec::with_capacity(2);
        if let Some(from) = &transfer.from {
            entries.push(Entry {
                owner: from.id,
                direction: Direction::Out,
                transfer: transfer.clone(),
                refunded: Refunded::default(),
            });
        }
        entries.push(Entry {
            owner: transfer.to.id,
            direction: Direction::In,
            transfer: transfer.clone(),
            refunded: Refunded::default(),
        });
        entries
    }

    /// What this entry did to its wallet's balance.
    pub fn signed_amount(&self) -> i64 {
        match self.direction {
            Direction::In => self.transfer.amount.minor_units(),
            Direction::Out => -self.transfer.amount.minor_units(),
        }
    }

    pub fn counterparty(&self) -> Option<&Party> {
        match self.direction {
            Direction::In => self.transfer.from.as_ref(),
            Direction::Out => Some(&self.transfer.to),
        }
    }
}

/// A link anyone can open (without logging in) to pay its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonateLink {
    pub id: DonateLinkId,
    pub owner: UserId,
    /// A fixed amount the payer must pay, or `None` to let the payer choose.
    pub amount: Option<Amount>,
    pub description: String,
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
    pub created_at: OffsetDateTime,
}

impl DonateLink {
    pub fn active(&self, now: OffsetDateTime) -> bool {
        !self.revoked && now < self.expires_at
    }
}
