//! Wallet response bodies and request bodies, exactly as API.md names them. Amounts arrive as raw
//! JSON values so that strings, floats and booleans are refused with our own message.

use crate::domain::time::rfc3339;
use crate::domain::{Direction, DonateLink, Entry, User, Wallet};
use crate::services::wallet::transfer_json;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::views::UserView;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    pub to: String,
    pub amount: Value,
    pub description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// Omitted: all that is not refunded yet.
    pub amount: Option<Value>,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositBody {
    pub username: String,
    pub amount: Value,
    pub description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    pub expires_in_minutes: Value,
    pub amount: Option<Value>,
    pub description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    pub amount: Option<Value>,
}

/// `Wallet`: the balance and, under a daily outgoing cap, the cap and what is left of it now
/// (`daily_limit: null` without one).
pub fn wallet_json(w: &Wallet, currency: &str, allowance: Option<(i64, i64)>) -> Value {
    let daily_limit =
        allowance.map(|(limit, remaining)| json!({"limit": limit, "remaining": remaining}));
    json!({"balance": w.balance, "currency": currency, "updated_at": rfc3339(w.updated_at), "daily_limit": daily_limit})
}

/// `Entry`: one line of the caller's history.
#[derive(Serialize)]
pub struct EntryView {
    id: String,
    transfer_id: String,
    kind: &'static str,
    direction: &'static str,
    amount: i64,
    currency: String,
    counterparty: Option<String>,
    description: String,
    created_at: String,
    refund_of: Option<String>,
    refunded_total: i64,
}

impl From<&Entry> for EntryView {
    fn from(e: &Entry) -> Self {
        let t = &e.transfer;
        Self {
            id: format!(
                "{}-{}",
                t.id,
                match e.direction {
                    Direction::In => "in",
                    Direction::Out => "out",
                }
            ),
            transfer_id: t.id.to_string(),
            kind: t.kind.as_str(),
            direction: e.direction.as_str(),
            amount: t.amount.minor_units(),
            currency: t.currency.clone(),
            counterparty: e.counterparty().map(|p| p.username.to_string()),
            description: t.description.clone(),
            created_at: rfc3339(t.created_at),
            refund_of: t.refund_of.map(|id| id.to_string()),
            refunded_total: e.refunded.total,
        }
    }
}

/// `DonateLink`, with its receiver's public profile.
pub fn link_json(
    link: &DonateLink,
    receiver: &User,
    app_url: &str,
    currency: &str,
    now: time::OffsetDateTime,
) -> Value {
    json!({
        "id": link.id.to_string(),
        "url": format!("{app_url}/donate/{}", link.id),
        "receiver": UserView::from(receiver),
        "amount": link.amount.map(|a| a.minor_units()),
        "currency": currency,
        "description": link.description,
        "expires_at": rfc3339(link.expires_at),
        "active": link.active(now),
        "created_at": rfc3339(link.created_at),
    })
}

pub fn transfer_body(t: &crate::domain::Transfer) -> Value {
    transfer_json(t)
}

/// GET /wallet/transfers/{id}: the `Transfer` body POST answered, with what was refunded of it.
pub fn transfer_detail(entry: &Entry, refunds: &[crate::domain::Transfer]) -> Value {
    let mut body = transfer_json(&entry.transfer);
    body["refunded_total"] = json!(entry.refunded.total);
    body["refunds"] = refunds.iter().map(transfer_json).collect();
    body
}
