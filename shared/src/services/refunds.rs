//! Refunds: the receiver of a payment (a transfer, a donation, money sent in a chat) sends all or
//! part of it back. A refund is a transfer of its own (kind `refund`, `refund_of` the original)
//! made by the same movement as any payment, plus a capped count on the original's entries in the
//! same transaction: the refunder's entry admits it only while what was refunded before leaves
//! room for it, so parallel refunds can never return more than was paid, nor more than
//! `MAX_REFUNDS` times.

use super::wallet::{REFUND_EXCEEDS, Render, Terms, WalletService, party};
use crate::domain::{
    Amount, Description, Direction, Entry, Party, Transfer, TransferId, TransferKind, User,
};
use crate::error::{Error, Result};
use crate::ports::{Claim, RefundCap, StoredAnswer};
use time::OffsetDateTime;

/// How many refunds one transfer may have: enough for honest partial refunds, few enough that
/// reading a transfer with all of its refunds stays a handful of reads.
pub const MAX_REFUNDS: usize = 10;
/// How often a refund is decided again after another refund of the same transfer landed first.
const REFUND_DECISIONS: u32 = 8;
const INSUFFICIENT: &str = "insufficient_funds";

/// What a refund asks for.
pub struct RefundOrder<'a> {
    /// `None`: everything not refunded yet, decided on the freshest read.
    pub amount: Option<Amount>,
    pub reason: Description,
    pub claim: &'a Claim,
    pub now: OffsetDateTime,
    pub render: Render<'a>,
}

impl WalletService {
    /// Sends back `order.amount` (or all that is left) of transfer `raw_id`, which `me` received.
    /// A stranger, and an unknown or malformed id, get `not_found` as for GET; the payer, a
    /// deposit or a refund get `not_refundable`. No block check: returning money is always allowed.
    pub async fn refund(
        &self,
        me: &User,
        raw_id: &str,
        order: RefundOrder<'_>,
    ) -> Result<StoredAnswer> {
        let original_id = TransferId::parse(raw_id).map_err(|_| Error::NotFound("transfer"))?;
        // One id for every decision of this request, so its answer names one refund.
        let refund_id = TransferId::new();
        for _ in 0..REFUND_DECISIONS {
            let entry = self
                .ledger
                .entry(&me.id, &original_id)
                .await?
                .ok_or(Error::NotFound("transfer"))?;
            let (amount, payer) = decide(&entry, order.amount)?;
            let transfer = Transfer {
                id: refund_id,
                kind: TransferKind::Refund,
                from: Some(party(me)),
                to: self.current_party(payer).await?,
                amount,
                currency: self.currency.as_str().to_owned(),
                description: order.reason.as_str().to_owned(),
                created_at: order.now,
                refund_of: Some(original_id),
            };
            let terms = Terms {
                link: None,
                refund: Some(RefundCap {
                    original: original_id,
                    refunded_at_most: entry.transfer.amount.minor_units() - amount.minor_units(),
                    max_refunds: MAX_REFUNDS,
                }),
                claim: order.claim,
                render: order.render,
            };
            match self.commit(&transfer, Some(me), terms).await {
                // Another refund of the same transfer landed between the read and the write:
                // decide again on the new figures (which may now refuse).
                Err(Error::Refused(REFUND_EXCEEDS)) => continue,
                // Short, maybe because another refund of this transfer spent the balance after
                // our read: then what the cap says now is the truer answer.
                Err(Error::Refused(INSUFFICIENT)) => {
                    let now = self.ledger.entry(&me.id, &original_id).await?;
                    if let Some(fresh) = now {
                        decide(&fresh, order.amount)?;
                    }
                    return Err(Error::Refused(INSUFFICIENT));
                }
                other => return other,
            }
        }
        Err(Error::Conflict)
    }

    /// The refunds of the transfer `entry` is of, oldest first, each read from the caller's own
    /// entry of it (both parties of a transfer are the parties of its refunds).
    pub async fn refunds_of(&self, entry: &Entry) -> Result<Vec<Transfer>> {
        let reads = entry
            .refunded
            .ids
            .iter()
            .map(|id| self.ledger.entry(&entry.owner, id));
        let found = futures_util::future::try_join_all(reads).await?;
        Ok(found.into_iter().flatten().map(|e| e.transfer).collect())
    }

    /// The payer as they are called now (a refund names today's username); as they were called
    /// then if the account is gone.
    async fn current_party(&self, payer: Party) -> Result<Party> {
        Ok(match self.accounts.user(&payer.id).await? {
            Some(user) => party(&user),
            None => payer,
        })
    }
}

/// The amount a refund of `entry` returns and to whom, or why it cannot be made.
fn decide(entry: &Entry, asked: Option<Amount>) -> Result<(Amount, Party)> {
    let original = &entry.transfer;
    let payer = match (&original.from, entry.direction) {
        (Some(payer), Direction::In) if original.refundable() => payer.clone(),
        _ => return Err(Error::Refused("not_refundable")),
    };
    if entry.refunded.ids.len() >= MAX_REFUNDS {
        return Err(Error::Refused("too_many_refunds"));
    }
    let left = original.amount.minor_units() - entry.refunded.total;
    let amount = match asked {
        Some(amount) if amount.minor_units() <= left => amount,
        Some(_) => return Err(Error::Refused(REFUND_EXCEEDS)),
        None => Amount::new(left).map_err(|_| Error::Refused(REFUND_EXCEEDS))?,
    };
    Ok((amount, payer))
}
