//! The wallet's rules: balances (a wallet nobody wrote yet is 0), history, transfers by
//! username, admin deposits and donate links. Every money movement goes through `pay`, which
//! decides on a consistent read of the payer's wallet and has the store check that decision
//! atomically (version and balance) while it settles the request's idempotency claim.

use crate::domain::time::rfc3339;
use crate::domain::{
    Amount, CapDecision, Currency, Description, DonateLink, DonateLinkId, Entry, Party, Role,
    SentByHour, Transfer, TransferId, TransferKind, User, UserId, Username, Wallet,
};
use crate::error::{Error, FieldError, Result};
use crate::ports::{
    AccountStore, Claim, Event, LedgerStore, MoveError, Movement, Page, Push, RefundCap,
    StoredAnswer, push_or_log,
};
use serde_json::{Value, json};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const HISTORY_DEFAULT_LIMIT: usize = 20;
pub const HISTORY_MAX_LIMIT: usize = 100;
/// Donate links live 1 minute to 30 days.
pub const LINK_MINUTES: std::ops::RangeInclusive<u32> = 1..=43_200;
/// How many links `GET /donate-links` lists (newest first).
pub const LINKS_LISTED: usize = 100;
/// How often a payment is decided again after the payer's wallet changed underneath it.
const DECISION_RETRIES: u32 = 12;

/// Builds the response a movement answers with (and the key replays), from the transfer and
/// the payer's balance after it (`None` for a deposit).
pub type Render<'a> = &'a (dyn Fn(&Transfer, Option<i64>) -> StoredAnswer + Send + Sync);

/// `Transfer` in its wire form (API.md): the response body's and the push event's.
pub fn transfer_json(t: &Transfer) -> Value {
    json!({
        "id": t.id.to_string(),
        "kind": t.kind.as_str(),
        "from": t.from.as_ref().map(|p| p.username.to_string()),
        "to": t.to.username.to_string(),
        "amount": t.amount.minor_units(),
        "currency": t.currency,
        "description": t.description,
        "created_at": rfc3339(t.created_at),
        "refund_of": t.refund_of.map(|id| id.to_string()),
    })
}

/// A refund that would return more than what is left of its transfer.
pub const REFUND_EXCEEDS: &str = "refund_exceeds_transfer";

/// What a movement is conditioned on besides the balances, and how it answers.
pub(super) struct Terms<'a> {
    /// Pays this donate link: only while it is live.
    pub link: Option<DonateLinkId>,
    /// Refunds a transfer: only within its cap.
    pub refund: Option<RefundCap>,
    pub claim: &'a Claim,
    pub render: Render<'a>,
}

/// What a money-moving request asks for, besides who pays whom.
pub struct Order<'a> {
    pub amount: Amount,
    pub description: Description,
    /// The request's idempotency claim: the movement settles it.
    pub claim: &'a Claim,
    pub now: OffsetDateTime,
    pub render: Render<'a>,
}

#[derive(Clone)]
pub struct WalletService {
    pub(super) accounts: Arc<dyn AccountStore>,
    pub(super) ledger: Arc<dyn LedgerStore>,
    push: Arc<dyn Push>,
    pub(super) currency: Currency,
    /// Most minor units one person may send in any 24 hours (transfers, in-chat transfers and
    /// donations; refunds give money back and are not counted); 0: no cap.
    daily_outgoing_cap: i64,
}

pub(super) fn party(user: &User) -> Party {
    Party {
        id: user.id,
        username: user.username.clone(),
    }
}

impl WalletService {
    pub fn new(
        accounts: Arc<dyn AccountStore>,
        ledger: Arc<dyn LedgerStore>,
        push: Arc<dyn Push>,
        currency: Currency,
    ) -> Self {
        Self {
            accounts,
            ledger,
            push,
            currency,
            daily_outgoing_cap: 0,
        }
    }

    /// Caps what one person may send in any 24 hours (`Limits::outgoing_per_day`; 0: no cap).
    pub fn with_daily_cap(mut self, minor_units: i64) -> Self {
        self.daily_outgoing_cap = minor_units.max(0);
        self
    }

    /// The cap and what is left of it for `wallet` at `now`; `None` without a cap.
    pub fn daily_allowance(&self, wallet: &Wallet, now: OffsetDateTime) -> Option<(i64, i64)> {
        (self.daily_outgoing_cap > 0).then(|| {
            let cap = self.daily_outgoing_cap;
            (cap, wallet.sent_by_hour.remaining(now, cap))
        })
    }

    /// Whether `transfer` counts under the daily cap, and if so the payer's new count; refused
    /// with `limit_exceeded` (and when enough frees up) when it does not fit.
    fn daily_count(&self, transfer: &Transfer, payer: &Wallet) -> Result<Option<SentByHour>> {
        let counted = matches!(
            transfer.kind,
            TransferKind::Transfer | TransferKind::Donation
        );
        if self.daily_outgoing_cap == 0 || !counted {
            return Ok(None);
        }
        let cap = self.daily_outgoing_cap;
        let amount = transfer.amount.minor_units();
        match payer.sent_by_hour.decide(transfer.created_at, amount, cap) {
            CapDecision::Fits(next) => Ok(Some(next)),
            CapDecision::Exceeded {
                remaining,
                frees_at,
            } => Err(Error::LimitExceeded {
                limit: cap,
                remaining,
                frees_at,
            }),
        }
    }

    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    /// The caller's wallet; one that was never written (an account older than wallets) is 0.
    pub async fn wallet(&self, me: &User) -> Result<Wallet> {
        Ok(self.ledger.wallet(&me.id).await?.unwrap_or(Wallet {
            owner: me.id,
            balance: 0,
            updated_at: me.created_at,
            version: 0,
            sent_by_hour: Default::default(),
        }))
    }

    /// One transfer the caller paid or received, from the caller's own entry (read by key).
    /// Anyone else, and an id that is malformed or unknown, gets the same `not_found`, so the
    /// answer does not tell whether a transfer exists.
    pub async fn transfer_of(&self, me: &User, raw_id: &str) -> Result<Entry> {
        let id = TransferId::parse(raw_id).map_err(|_| Error::NotFound("transfer"))?;
        self.ledger
            .entry(&me.id, &id)
            .await?
            .ok_or(Error::NotFound("transfer"))
    }

    /// The caller's entries, newest first.
    pub async fn history(
        &self,
        me: &User,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Entry>> {
        if let Some(c) = cursor {
            TransferId::parse(c).map_err(|_| {
                Error::Validation(vec![FieldError::new("cursor", "is not a cursor we gave")])
            })?;
        }
        Ok(self.ledger.entries(&me.id, limit, cursor).await?)
    }

    async fn recipient(&self, username: &str) -> Result<User> {
        let name = Username::parse(username).map_err(|_| Error::NotFound("user"))?;
        self.accounts
            .user_by_username(&name)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// Sends `amount` from `me` to the user called `to`.
    pub async fn transfer(&self, me: &User, to: &str, order: Order<'_>) -> Result<StoredAnswer> {
        let payee = self.recipient(to).await?;
        self.transfer_to(me, &payee, order).await
    }

    /// Sends `amount` from `me` to `payee`, an account the caller already resolved and checked
    /// (the member of an in-chat transfer): paid by id, so a rename meanwhile pays nobody else.
    pub async fn transfer_to(
        &self,
        me: &User,
        payee: &User,
        order: Order<'_>,
    ) -> Result<StoredAnswer> {
        self.pay(TransferKind::Transfer, Some(me), payee, None, order)
            .await
    }

    /// An admin credits `amount` from outside the system to the user called `to`.
    pub async fn deposit(&self, admin: &User, to: &str, order: Order<'_>) -> Result<StoredAnswer> {
        if admin.role != Role::Admin {
            return Err(Error::Forbidden);
        }
        let payee = self.recipient(to).await?;
        self.pay(TransferKind::Deposit, None, &payee, None, order)
            .await
    }

    /// Pays the donate link `id`: its fixed amount, or `amount` when it has none.
    pub async fn pay_link(
        &self,
        me: &User,
        id: &DonateLinkId,
        amount: Option<Amount>,
        claim: &Claim,
        now: OffsetDateTime,
        render: Render<'_>,
    ) -> Result<StoredAnswer> {
        let link = self.live_link(id, now).await?;
        let amount = match (link.amount, amount) {
            (Some(fixed), Some(asked)) if fixed != asked => {
                return Err(Error::Refused("amount_mismatch"));
            }
            (Some(fixed), _) => fixed,
            (None, Some(asked)) => asked,
            (None, None) => {
                return Err(Error::Validation(vec![FieldError::new(
                    "amount",
                    "is required: this link has no fixed amount",
                )]));
            }
        };
        let owner = self
            .accounts
            .user(&link.owner)
            .await?
            .ok_or(Error::Gone("link_expired"))?;
        let order = Order {
            amount,
            description: Description::parse(Some(&link.description)).unwrap_or_default(),
            claim,
            now,
            render,
        };
        // Checked above to choose the amount; checked again inside the movement, so a revoke
        // or the expiry landing meanwhile still stops it.
        self.pay(
            TransferKind::Donation,
            Some(me),
            &owner,
            Some(link.id),
            order,
        )
        .await
    }

    /// The one way money moves. Refusals are errors the idempotency layer stores as the key's
    /// answer; the movement itself settles the key inside the store's atomic step, conditioned
    /// on `link` being live when it pays one.
    async fn pay(
        &self,
        kind: TransferKind,
        payer: Option<&User>,
        payee: &User,
        link: Option<DonateLinkId>,
        order: Order<'_>,
    ) -> Result<StoredAnswer> {
        let Order {
            amount,
            description,
            claim,
            now,
            render,
        } = order;
        if let Some(p) = payer {
            if p.id == payee.id {
                return Err(Error::Refused("self_transfer"));
            }
            let (they_blocked, i_blocked) = tokio::try_join!(
                self.accounts.is_blocked(&payee.id, &p.id),
                self.accounts.is_blocked(&p.id, &payee.id)
            )?;
            if they_blocked || i_blocked {
                return Err(Error::Denied("blocked"));
            }
        }
        let transfer = Transfer {
            id: TransferId::new(),
            kind,
            from: payer.map(party),
            to: party(payee),
            amount,
            currency: self.currency.as_str().to_owned(),
            description: description.as_str().to_owned(),
            created_at: now,
            refund_of: None,
        };
        let terms = Terms {
            link,
            refund: None,
            claim,
            render,
        };
        self.commit(&transfer, payer, terms).await
    }

    /// Sends `transfer` as one movement, deciding again (on a fresh read of the payer's wallet)
    /// while that wallet changes underneath, and pushes `transfer_received` once it committed.
    pub(super) async fn commit(
        &self,
        transfer: &Transfer,
        payer: Option<&User>,
        terms: Terms<'_>,
    ) -> Result<StoredAnswer> {
        let amount = transfer.amount;
        for attempt in 0..DECISION_RETRIES {
            let payer_wallet = match payer {
                Some(p) => Some(self.wallet(p).await?),
                None => None,
            };
            if let Some(w) = &payer_wallet
                && w.balance < amount.minor_units()
            {
                return Err(Error::Refused("insufficient_funds"));
            }
            let payer_sent = match &payer_wallet {
                Some(w) => self.daily_count(transfer, w)?,
                None => None,
            };
            let balance_after = payer_wallet
                .as_ref()
                .map(|w| w.balance - amount.minor_units());
            let movement = Movement {
                answer: (terms.render)(transfer, balance_after),
                transfer: transfer.clone(),
                payer_version: payer_wallet.as_ref().map(|w| w.version),
                claim: terms.claim.clone(),
                attempt,
                link: terms.link,
                refund: terms.refund.clone(),
                payer_sent,
            };
            match self.ledger.move_money(&movement).await {
                Ok(()) => {
                    tracing::info!(
                        transfer_id = %transfer.id,
                        kind = transfer.kind.as_str(),
                        "money moved"
                    );
                    let event = Event::new(
                        "transfer_received",
                        json!({ "transfer": transfer_json(transfer) }),
                    );
                    push_or_log(self.push.as_ref(), &[transfer.to.id], &event).await;
                    return Ok(movement.answer);
                }
                Err(MoveError::PayerChanged) => {
                    let pause = rand::random_range(0..=(2u64 << attempt.min(6)));
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(MoveError::InsufficientFunds) => {
                    return Err(Error::Refused("insufficient_funds"));
                }
                Err(MoveError::BalanceLimit) => return Err(Error::Refused("balance_limit")),
                Err(MoveError::ClaimLost) => return Err(Error::RequestInProgress),
                Err(MoveError::LinkGone) => return Err(Error::Gone("link_expired")),
                Err(MoveError::RefundCap) => return Err(Error::Refused(REFUND_EXCEEDS)),
                Err(MoveError::Unexpected(e)) => return Err(Error::Unexpected(e)),
            }
        }
        Err(Error::Conflict)
    }

    /// A new donate link of `me`, live for `minutes`.
    pub async fn create_link(
        &self,
        me: &User,
        amount: Option<Amount>,
        description: Description,
        minutes: u32,
        now: OffsetDateTime,
    ) -> Result<DonateLink> {
        let link = DonateLink {
            id: DonateLinkId::new(),
            owner: me.id,
            amount,
            description: description.as_str().to_owned(),
            expires_at: now + Duration::minutes(i64::from(minutes)),
            revoked: false,
            created_at: now,
        };
        self.ledger.put_link(&link).await?;
        Ok(link)
    }

    pub async fn links(&self, me: &User) -> Result<Vec<DonateLink>> {
        Ok(self.ledger.links_of(&me.id, LINKS_LISTED).await?)
    }

    /// A link anyone may see while it is live, with its receiver: 404 unknown, 410 expired or revoked.
    pub async fn public_link(
        &self,
        id: &DonateLinkId,
        now: OffsetDateTime,
    ) -> Result<(DonateLink, User)> {
        let link = self.live_link(id, now).await?;
        let owner = self
            .accounts
            .user(&link.owner)
            .await?
            .ok_or(Error::Gone("link_expired"))?;
        Ok((link, owner))
    }

    async fn live_link(&self, id: &DonateLinkId, now: OffsetDateTime) -> Result<DonateLink> {
        let link = self
            .ledger
            .link(id)
            .await?
            .ok_or(Error::NotFound("donate link"))?;
        if !link.active(now) {
            return Err(Error::Gone("link_expired"));
        }
        Ok(link)
    }

    /// Revokes one of `me`'s links; someone else's is 404, as if it did not exist.
    pub async fn revoke(&self, me: &User, id: &DonateLinkId) -> Result<()> {
        if self.ledger.revoke_link(id, &me.id).await? {
            Ok(())
        } else {
            Err(Error::NotFound("donate link"))
        }
    }

    /// The users behind `ids` (for link views), by id.
    pub async fn users(&self, ids: &[UserId]) -> Result<Vec<User>> {
        Ok(self.accounts.users(ids).await?)
    }
}
