//! Item mapping of the ledger: wallets, entries (each with its whole transfer), idempotency
//! records, donate links.
//! Key layout is documented in `mod.rs`.

use super::items::{Item, Read, key, n, s};
use crate::domain::time::to_millis;
use crate::domain::{
    Amount, Direction, DonateLink, DonateLinkId, Entry, IdempotencyKey, Party, Refunded,
    SentByHour, Transfer, TransferId, TransferKind, UserId, Username, Wallet,
};
use crate::ports::StoredAnswer;
use anyhow::anyhow;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

pub const WALLET_SK: &str = "WALLET";
pub const ENTRY_PREFIX: &str = "ENTRY#";
pub const LINK_PREFIX: &str = "LINK#";

pub fn wallet_pk(owner: &UserId) -> String {
    format!("WALLET#{owner}")
}
pub fn wallet_key(owner: &UserId) -> Item {
    key(wallet_pk(owner), WALLET_SK)
}
pub fn entry_key(owner: &UserId, transfer: &TransferId) -> Item {
    key(wallet_pk(owner), &format!("{ENTRY_PREFIX}{transfer}"))
}
pub fn idempotency_key(user: &UserId, k: &IdempotencyKey) -> Item {
    key(format!("IDEM#{user}#{}", hex(&k.digest())), "IDEM")
}
pub fn link_key(id: &DonateLinkId) -> Item {
    key(format!("LINK#{id}"), "LINK")
}
/// The owner's copy of a link, so listing one's links is one query of one's wallet partition.
pub fn owner_link_key(owner: &UserId, id: &DonateLinkId) -> Item {
    key(wallet_pk(owner), &format!("{LINK_PREFIX}{id}"))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn with(mut item: Item, fields: impl IntoIterator<Item = (&'static str, AttributeValue)>) -> Item {
    item.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
    item
}

fn at(t: OffsetDateTime) -> AttributeValue {
    n(to_millis(t))
}

fn bad<T>(what: &str) -> impl FnOnce(T) -> anyhow::Error + '_ {
    move |_| anyhow!("stored {what} is invalid")
}

pub fn wallet_from(item: &Item) -> anyhow::Result<Wallet> {
    let r = Read(item);
    Ok(Wallet {
        owner: UserId::parse(r.s("owner")?).map_err(bad("owner"))?,
        balance: r.n("balance")?,
        updated_at: r.at("updated_at")?,
        version: r.n("version")?,
        sent_by_hour: sent_by_hour_from(item)?,
    })
}

/// The daily outgoing count as stored on the wallet: a map of hour (since the epoch) to minor
/// units, absent until the first counted payment.
pub fn sent_by_hour_value(sent: &SentByHour) -> AttributeValue {
    AttributeValue::M(
        sent.hours()
            .map(|(hour, amount)| (hour.to_string(), n(amount)))
            .collect(),
    )
}

fn sent_by_hour_from(item: &Item) -> anyhow::Result<SentByHour> {
    let Some(stored) = item.get("sent_by_hour") else {
        return Ok(SentByHour::default());
    };
    let map = stored
        .as_m()
        .map_err(|_| anyhow!("stored sent_by_hour is invalid"))?;
    let hours = map
        .iter()
        .map(|(hour, amount)| {
            let hour: i64 = hour.parse().map_err(bad("sent_by_hour hour"))?;
            let amount: i64 = amount
                .as_n()
                .map_err(|_| anyhow!("stored sent_by_hour amount is invalid"))?
                .parse()
                .map_err(bad("sent_by_hour amount"))?;
            Ok((hour, amount))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(SentByHour::from_hours(hours))
}

pub fn new_wallet_item(owner: &UserId, now: OffsetDateTime) -> Item {
    with(
        wallet_key(owner),
        [
            ("owner", s(owner.to_string())),
            ("balance", n(0)),
            ("version", n(0)),
            ("updated_at", at(now)),
        ],
    )
}

fn transfer_fields(t: &Transfer) -> Vec<(&'static str, AttributeValue)> {
    let mut fields = vec![
        ("transfer_id", s(t.id.to_string())),
        ("kind", s(t.kind.as_str())),
        ("to_id", s(t.to.id.to_string())),
        ("to_name", s(t.to.username.as_str())),
        ("amount", n(t.amount.minor_units())),
        ("currency", s(&t.currency)),
        ("description", s(&t.description)),
        ("created_at", at(t.created_at)),
    ];
    if let Some(from) = &t.from {
        fields.push(("from_id", s(from.id.to_string())));
        fields.push(("from_name", s(from.username.as_str())));
    }
    if let Some(original) = &t.refund_of {
        fields.push(("refund_of", s(original.to_string())));
    }
    fields
}

/// What the refunds of a transfer add to both of its entries (`ADD`, so the first one creates
/// them): `refunded_total` and the string set `refund_ids`.
pub const ADD_REFUND: &str = "ADD refunded_total :amt, refund_ids :rid";

fn refunded_from(r: &Read<'_>) -> anyhow::Result<Refunded> {
    let total = match r.0.contains_key("refunded_total") {
        true => r.n("refunded_total")?,
        false => 0,
    };
    let mut ids = match r.0.get("refund_ids") {
        Some(AttributeValue::Ss(raw)) => raw
            .iter()
            .map(|id| TransferId::parse(id).map_err(bad("refund id")))
            .collect::<anyhow::Result<Vec<_>>>()?,
        Some(_) => return Err(anyhow!("stored refund ids invalid")),
        None => vec![],
    };
    // A set has no order; UUIDv7 ids sort by time.
    ids.sort();
    Ok(Refunded { total, ids })
}

fn party(r: &Read<'_>, id: &str, name: &str) -> anyhow::Result<Party> {
    Ok(Party {
        id: UserId::parse(r.s(id)?).map_err(bad(id))?,
        username: Username::parse(r.s(name)?).map_err(bad(name))?,
    })
}

fn transfer_from(r: &Read<'_>) -> anyhow::Result<Transfer> {
    Ok(Transfer {
        id: TransferId::parse(r.s("transfer_id")?).map_err(bad("transfer id"))?,
        kind: TransferKind::parse(r.s("kind")?).ok_or_else(|| anyhow!("stored kind invalid"))?,
        from: match r.0.contains_key("from_id") {
            true => Some(party(r, "from_id", "from_name")?),
            false => None,
        },
        to: party(r, "to_id", "to_name")?,
        amount: Amount::new(r.n("amount")?).map_err(bad("amount"))?,
        currency: r.s("currency")?.to_owned(),
        description: r.s("description")?.to_owned(),
        created_at: r.at("created_at")?,
        refund_of: match r.0.contains_key("refund_of") {
            true => Some(TransferId::parse(r.s("refund_of")?).map_err(bad("refund_of"))?),
            false => None,
        },
    })
}

pub fn entry_item(e: &Entry) -> Item {
    let mut fields = transfer_fields(&e.transfer);
    fields.push(("owner", s(e.owner.to_string())));
    fields.push(("direction", s(e.direction.as_str())));
    with(entry_key(&e.owner, &e.transfer.id), fields)
}

pub fn entry_from(item: &Item) -> anyhow::Result<Entry> {
    let r = Read(item);
    Ok(Entry {
        owner: UserId::parse(r.s("owner")?).map_err(bad("owner"))?,
        direction: match r.s("direction")? {
            "in" => Direction::In,
            "out" => Direction::Out,
            other => return Err(anyhow!("stored direction {other:?} invalid")),
        },
        transfer: transfer_from(&r)?,
        refunded: refunded_from(&r)?,
    })
}

/// The answer attributes of a settled idempotency record.
pub fn answer_values(answer: &StoredAnswer) -> [(&'static str, AttributeValue); 3] {
    [
        (":status", n(answer.status)),
        (":ctype", s(&answer.content_type)),
        (":body", s(&answer.body)),
    ]
}

pub const SET_ANSWER: &str =
    "SET answer_status = :status, answer_type = :ctype, answer_body = :body REMOVE lease_until";

pub fn answer_from(item: &Item) -> anyhow::Result<Option<StoredAnswer>> {
    let r = Read(item);
    if !item.contains_key("answer_status") {
        return Ok(None);
    }
    Ok(Some(StoredAnswer {
        status: r.n("answer_status")?,
        content_type: r.s("answer_type")?.to_owned(),
        body: r.s("answer_body")?.to_owned(),
    }))
}

fn link_fields(l: &DonateLink) -> Vec<(&'static str, AttributeValue)> {
    let mut fields = vec![
        ("link_id", s(l.id.to_string())),
        ("owner", s(l.owner.to_string())),
        ("description", s(&l.description)),
        ("expires_at", at(l.expires_at)),
        ("revoked", AttributeValue::Bool(l.revoked)),
        ("created_at", at(l.created_at)),
        // Kept a day past expiry so a late visitor still hears 410 rather than 404.
        ("ttl", n(l.expires_at.unix_timestamp() + 86_400)),
    ];
    if let Some(amount) = l.amount {
        fields.push(("amount", n(amount.minor_units())));
    }
    fields
}

pub fn link_items(l: &DonateLink) -> [Item; 2] {
    [
        with(link_key(&l.id), link_fields(l)),
        with(owner_link_key(&l.owner, &l.id), link_fields(l)),
    ]
}

pub fn link_from(item: &Item) -> anyhow::Result<DonateLink> {
    let r = Read(item);
    Ok(DonateLink {
        id: DonateLinkId::parse(r.s("link_id")?).map_err(bad("link id"))?,
        owner: UserId::parse(r.s("owner")?).map_err(bad("owner"))?,
        amount: match item.contains_key("amount") {
            true => Some(Amount::new(r.n("amount")?).map_err(bad("amount"))?),
            false => None,
        },
        description: r.s("description")?.to_owned(),
        expires_at: r.at("expires_at")?,
        revoked: r.bool("revoked")?,
        created_at: r.at("created_at")?,
    })
}

pub fn millis(t: OffsetDateTime) -> AttributeValue {
    at(t)
}
