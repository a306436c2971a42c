//! `LedgerStore` on DynamoDB, in the accounts table. A movement is ONE `TransactWriteItems`:
//! the idempotency record settled (it must still be ours), the debit conditioned on the wallet
//! version and `balance >= amount`, the credit conditioned so it cannot pass `i64`, and both
//! entries (each carries the whole immutable transfer), for a donation a condition check that
//! its link is live, and for a refund the capped count on the refunded transfer's entries. Its `ClientRequestToken` derives from the claim and the attempt,
//! so an SDK retry after a lost response is a no-op; collisions with other transactions are
//! retried with jittered backoff.

use super::items::{Item, n, s, sdk_error};
use super::ledger_items::*;
use crate::domain::{DonateLink, DonateLinkId, Entry, TransferId, UserId, Wallet};
use crate::ports::{
    Claim, ClaimOutcome, LedgerStore, MoveError, Movement, Page, RefundCap, StoreError,
    StoredAnswer,
};
use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ConsumedCapacity, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

/// Counts the ledger's round trips and consumed capacity, for the benchmark
/// (`ReturnConsumedCapacity`).
#[derive(Debug, Default)]
pub struct Meter {
    round_trips: AtomicU64,
    /// Capacity units × 1000, summed over reads and writes.
    milli_units: AtomicU64,
    /// Of which `TransactWriteItems` (the money movements themselves).
    transaction_milli_units: AtomicU64,
}

/// What a `Meter` counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metered {
    pub round_trips: u64,
    pub capacity_units: f64,
    pub transaction_units: f64,
}

impl Meter {
    pub fn read(&self) -> Metered {
        Metered {
            round_trips: self.round_trips.load(Ordering::Relaxed),
            capacity_units: self.milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
            transaction_units: self.transaction_milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }

    pub fn reset(&self) {
        self.round_trips.store(0, Ordering::Relaxed);
        self.milli_units.store(0, Ordering::Relaxed);
        self.transaction_milli_units.store(0, Ordering::Relaxed);
    }

    fn add<'a>(&self, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>, transaction: bool) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let units: f64 = consumed
            .into_iter()
            .filter_map(ConsumedCapacity::capacity_units)
            .sum();
        let milli = (units * 1000.0).round() as u64;
        self.milli_units.fetch_add(milli, Ordering::Relaxed);
        if transaction {
            self.transaction_milli_units
                .fetch_add(milli, Ordering::Relaxed);
        }
    }
}

/// The ledger over the accounts table.
#[derive(Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
    meter: Option<Arc<Meter>>,
}

const MAX_CONFLICT_RETRIES: u32 = 6;

fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn put_new(table: &str, item: Item) -> anyhow::Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// At most 36 characters, from the claim and the attempt: the same attempt always sends the
/// same token (the SDK's own retries), a new attempt a new one.
fn request_token(m: &Movement, try_no: u32) -> String {
    let mut h = Sha256::new();
    h.update(m.claim.scope.user.as_bytes());
    h.update(m.claim.scope.key.digest());
    h.update(m.claim.token.as_bytes());
    h.update(m.attempt.to_be_bytes());
    h.update(try_no.to_be_bytes());
    hex(&h.finalize())[..36].to_owned()
}

/// The request token of a link's transaction: one per link, operation and owner (the owner is
/// part of the revoke's condition, and a token must never carry two different requests).
fn link_token(op: &str, id: &DonateLinkId, owner: &UserId) -> String {
    let mut h = Sha256::new();
    h.update(op.as_bytes());
    h.update(id.as_bytes());
    h.update(owner.as_bytes());
    hex(&h.finalize())[..36].to_owned()
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            meter: None,
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    /// Asks DynamoDB for consumed capacity on every call and counts it in `meter`.
    pub fn with_meter(mut self, meter: Arc<Meter>) -> Self {
        self.meter = Some(meter);
        self
    }

    fn capacity(&self) -> Option<ReturnConsumedCapacity> {
        self.meter.as_ref().map(|_| ReturnConsumedCapacity::Total)
    }

    fn count<'a>(&self, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        if let Some(m) = &self.meter {
            m.add(consumed, false);
        }
    }

    fn count_transaction<'a>(&self, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        if let Some(m) = &self.meter {
            m.add(consumed, true);
        }
    }

    async fn get(&self, key: Item) -> anyhow::Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        self.count(out.consumed_capacity());
        Ok(out.item)
    }

    fn settle_update(&self, claim: &Claim, answer: &StoredAnswer) -> anyhow::Result<Update> {
        let mut vals = values(answer_values(answer));
        vals.insert(":tok".into(), s(&claim.token));
        Ok(Update::builder()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(&claim.scope.user, &claim.scope.key)))
            .update_expression(SET_ANSWER)
            .condition_expression("claim_token = :tok AND attribute_not_exists(answer_status)")
            .set_expression_attribute_values(Some(vals))
            .build()?)
    }

    fn movement_items(&self, m: &Movement) -> anyhow::Result<Vec<TransactWriteItem>> {
        let t = &m.transfer;
        let now = millis(t.created_at);
        let amount = n(t.amount.minor_units());
        let mut items = vec![
            TransactWriteItem::builder()
                .update(self.settle_update(&m.claim, &m.answer)?)
                .build(),
        ];
        if let Some(from) = &t.from {
            let version = m.payer_version.unwrap_or(0);
            let mut set =
                "SET balance = balance - :amt, version = version + :one, updated_at = :now"
                    .to_owned();
            let mut vals = values([
                (":amt", amount.clone()),
                (":one", n(1)),
                (":now", now.clone()),
                (":v", n(version)),
            ]);
            // The daily outgoing count rides on the debit: the same version condition that
            // holds the balance decision holds the cap's.
            if let Some(sent) = &m.payer_sent {
                set.push_str(", sent_by_hour = :sent");
                vals.insert(":sent".to_owned(), sent_by_hour_value(sent));
            }
            let debit = Update::builder()
                .table_name(&self.table)
                .set_key(Some(wallet_key(&from.id)))
                .update_expression(set)
                .condition_expression("version = :v AND balance >= :amt")
                .set_expression_attribute_values(Some(vals))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()?;
            items.push(TransactWriteItem::builder().update(debit).build());
        }
        let credit = Update::builder()
            .table_name(&self.table)
            .set_key(Some(wallet_key(&t.to.id)))
            .update_expression(
                "SET balance = if_not_exists(balance, :zero) + :amt, \
                 version = if_not_exists(version, :zero) + :one, updated_at = :now, #owner = :owner",
            )
            // Refused before it could overflow: the room left below i64::MAX must cover the amount.
            .condition_expression("attribute_not_exists(balance) OR balance <= :room")
            .expression_attribute_names("#owner", "owner")
            .set_expression_attribute_values(Some(values([
                (":zero", n(0)),
                (":amt", amount),
                (":one", n(1)),
                (":now", now),
                (":owner", s(t.to.id.to_string())),
                (":room", n(i64::MAX - t.amount.minor_units())),
            ])))
            .build()?;
        items.push(TransactWriteItem::builder().update(credit).build());
        // No separate transfer record: each entry carries the whole transfer, so one more item
        // (2 WCU in a transaction) would only repeat it. The entries' `attribute_not_exists`
        // keeps a transfer id from being written twice.
        for entry in Entry::of(t) {
            items.push(put_new(&self.table, entry_item(&entry))?);
        }
        // Last, so the indexes above stay those `refusal` knows: a donation is conditioned on
        // its link being live in the same transaction, serialised with any revoke of it.
        if let Some(link) = &m.link {
            let live = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(link_key(link)))
                .condition_expression("revoked = :no AND expires_at > :now")
                .expression_attribute_values(":no", AttributeValue::Bool(false))
                .expression_attribute_values(":now", millis(t.created_at))
                .build()?;
            items.push(TransactWriteItem::builder().condition_check(live).build());
        }
        // In the same place for a refund (never a donation too): the refunder's entry of the
        // original holds the cap, the payer's follows it, so both show the same refunds.
        if let (Some(cap), Some(from)) = (&m.refund, &t.from) {
            items.push(self.refund_count(&from.id, t, cap, true)?);
            items.push(self.refund_count(&t.to.id, t, cap, false)?);
        }
        Ok(items)
    }

    /// Adds refund `t` to `owner`'s entry of `cap.original`; on the refunder's (`capped`), only
    /// while what was refunded before leaves room for it and the count is below the cap.
    fn refund_count(
        &self,
        owner: &UserId,
        t: &crate::domain::Transfer,
        cap: &RefundCap,
        capped: bool,
    ) -> anyhow::Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(entry_key(owner, &cap.original)))
            .update_expression(ADD_REFUND)
            .expression_attribute_values(":amt", n(t.amount.minor_units()))
            .expression_attribute_values(":rid", AttributeValue::Ss(vec![t.id.to_string()]));
        update = if capped {
            update
                .condition_expression(
                    "attribute_exists(pk) \
                     AND (attribute_not_exists(refunded_total) OR refunded_total <= :room) \
                     AND (attribute_not_exists(refund_ids) OR size(refund_ids) < :max)",
                )
                .expression_attribute_values(":room", n(cap.refunded_at_most))
                .expression_attribute_values(":max", n(cap.max_refunds as i64))
        } else {
            update.condition_expression("attribute_exists(pk)")
        };
        Ok(TransactWriteItem::builder().update(update.build()?).build())
    }

    /// Why the condition of item `index` failed, given the movement's item order.
    async fn refusal(
        &self,
        m: &Movement,
        index: usize,
        old: Option<&Item>,
    ) -> Result<MoveError, MoveError> {
        let payer = m.transfer.from.as_ref();
        let link_check = 2 + usize::from(payer.is_some()) + Entry::of(&m.transfer).len();
        if m.link.is_some() && index == link_check {
            return Ok(MoveError::LinkGone);
        }
        if m.refund.is_some() && index == link_check {
            return Ok(MoveError::RefundCap);
        }
        match (index, payer) {
            (0, _) => Ok(MoveError::ClaimLost),
            (1, Some(from)) => {
                let wallet = match old {
                    Some(item) => Some(wallet_from(item)?),
                    None => self.wallet(&from.id).await?,
                };
                let balance = wallet.map_or(0, |w| w.balance);
                Ok(if balance < m.transfer.amount.minor_units() {
                    MoveError::InsufficientFunds
                } else {
                    MoveError::PayerChanged
                })
            }
            (i, p) if i == 1 + usize::from(p.is_some()) => Ok(MoveError::BalanceLimit),
            (i, _) => Err(MoveError::Unexpected(anyhow!(
                "movement item {i} refused its condition"
            ))),
        }
    }
}

#[async_trait]
impl LedgerStore for DynamoLedger {
    async fn open_wallet(&self, owner: &UserId, now: OffsetDateTime) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(new_wallet_item(owner, now)))
            .condition_expression("attribute_not_exists(pk)")
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.count(out.consumed_capacity());
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(StoreError::Unexpected(sdk_error("PutItem")(e))),
        }
    }

    async fn wallet(&self, owner: &UserId) -> Result<Option<Wallet>, StoreError> {
        Ok(self
            .get(wallet_key(owner))
            .await?
            .map(|i| wallet_from(&i))
            .transpose()?)
    }

    async fn entry(
        &self,
        owner: &UserId,
        transfer: &TransferId,
    ) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .get(entry_key(owner, transfer))
            .await?
            .map(|i| entry_from(&i))
            .transpose()?)
    }

    async fn entries(
        &self,
        owner: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Entry>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :entry)")
            .expression_attribute_values(":pk", s(wallet_pk(owner)))
            .expression_attribute_values(":entry", s(ENTRY_PREFIX))
            .scan_index_forward(false)
            .limit((limit + 1).min(1000) as i32)
            .set_return_consumed_capacity(self.capacity());
        if let Some(after) = cursor {
            let after =
                crate::domain::TransferId::parse(after).map_err(|_| StoreError::Conflict)?;
            query = query.set_exclusive_start_key(Some(entry_key(owner, &after)));
        }
        let out = query.send().await.map_err(sdk_error("Query"))?;
        self.count(out.consumed_capacity());
        let items = out
            .items()
            .iter()
            .map(entry_from)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |e| {
            e.transfer.id.to_string()
        }))
    }

    async fn claim(&self, claim: &Claim, now: OffsetDateTime) -> Result<ClaimOutcome, StoreError> {
        let k = idempotency_key(&claim.scope.user, &claim.scope.key);
        let mut item = k.clone();
        item.extend(values([
            ("claim_token", s(&claim.token)),
            ("fingerprint", s(hex(&claim.fingerprint))),
            ("lease_until", millis(claim.lease_until)),
            ("expires_at", millis(claim.expires_at)),
            ("ttl", n(claim.expires_at.unix_timestamp())),
        ]));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Free, expired, or claimed by a holder whose lease ran out without an answer.
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now OR \
                 (fingerprint = :fp AND attribute_not_exists(answer_status) AND lease_until < :now)",
            )
            .expression_attribute_values(":now", millis(now))
            .expression_attribute_values(":fp", s(hex(&claim.fingerprint)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await;
        let old = match result {
            Ok(out) => {
                self.count(out.consumed_capacity());
                return Ok(ClaimOutcome::Claimed);
            }
            Err(e) => match e.as_service_error() {
                Some(
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c),
                ) => c.item().cloned(),
                _ => return Err(StoreError::Unexpected(sdk_error("PutItem")(e))),
            },
        };
        self.count([]);
        let old = match old {
            Some(item) => item,
            // Older DynamoDB Local builds do not return the item: read it.
            None => self.get(k).await?.ok_or(StoreError::Conflict)?,
        };
        let fingerprint = super::items::Read(&old).s("fingerprint")?.to_owned();
        if fingerprint != hex(&claim.fingerprint) {
            return Ok(ClaimOutcome::Mismatch);
        }
        Ok(match answer_from(&old)? {
            Some(answer) => ClaimOutcome::Replay(answer),
            None => ClaimOutcome::InProgress,
        })
    }

    async fn settle(&self, claim: &Claim, answer: &StoredAnswer) -> Result<(), StoreError> {
        let u = self
            .settle_update(claim, answer)
            .map_err(StoreError::Unexpected)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(u.key))
            .update_expression(u.update_expression)
            .set_condition_expression(u.condition_expression)
            .set_expression_attribute_values(u.expression_attribute_values)
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.count(out.consumed_capacity());
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(StoreError::Unexpected(sdk_error("UpdateItem")(e))),
        }
    }

    async fn release(&self, claim: &Claim) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(&claim.scope.user, &claim.scope.key)))
            .condition_expression("claim_token = :tok AND attribute_not_exists(answer_status)")
            .expression_attribute_values(":tok", s(&claim.token))
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.count(out.consumed_capacity());
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(StoreError::Unexpected(sdk_error("DeleteItem")(e))),
        }
    }

    async fn move_money(&self, m: &Movement) -> Result<(), MoveError> {
        let items = self.movement_items(m)?;
        let mut delay_ms = 10u64;
        for try_no in 0..=MAX_CONFLICT_RETRIES {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(request_token(m, try_no))
                .set_return_consumed_capacity(self.capacity())
                .send()
                .await;
            let err = match result {
                Ok(out) => {
                    self.count_transaction(out.consumed_capacity());
                    return Ok(());
                }
                Err(e) => e,
            };
            self.count_transaction([]);
            let retry = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    let reasons = c.cancellation_reasons();
                    if let Some(i) = reasons
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"))
                    {
                        return Err(self.refusal(m, i, reasons[i].item()).await?);
                    }
                    reasons
                        .iter()
                        .any(|r| r.code() == Some("TransactionConflict"))
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => true,
                _ => false,
            };
            if !retry || try_no == MAX_CONFLICT_RETRIES {
                return Err(MoveError::Unexpected(sdk_error("TransactWriteItems")(err)));
            }
            let jitter = rand::random_range(0..=delay_ms);
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms + jitter)).await;
            delay_ms = (delay_ms * 2).min(200);
        }
        Err(MoveError::Unexpected(anyhow!("movement kept conflicting")))
    }

    async fn put_link(&self, link: &DonateLink) -> Result<(), StoreError> {
        let [public, owned] = link_items(link);
        let items = vec![put_new(&self.table, public)?, put_new(&self.table, owned)?];
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            // Same link, same token: an SDK retry after a lost response is a no-op.
            .client_request_token(link_token("create", &link.id, &link.owner))
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await
            .map_err(sdk_error("TransactWriteItems"))?;
        self.count(out.consumed_capacity());
        Ok(())
    }

    async fn link(&self, id: &DonateLinkId) -> Result<Option<DonateLink>, StoreError> {
        Ok(self
            .get(link_key(id))
            .await?
            .map(|i| link_from(&i))
            .transpose()?)
    }

    async fn links_of(&self, owner: &UserId, limit: usize) -> Result<Vec<DonateLink>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :link)")
            .expression_attribute_values(":pk", s(wallet_pk(owner)))
            .expression_attribute_values(":link", s(LINK_PREFIX))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await
            .map_err(sdk_error("Query"))?;
        self.count(out.consumed_capacity());
        Ok(out
            .items()
            .iter()
            .map(link_from)
            .collect::<anyhow::Result<_>>()?)
    }

    async fn revoke_link(&self, id: &DonateLinkId, owner: &UserId) -> Result<bool, StoreError> {
        let revoke = |k: Item| -> anyhow::Result<TransactWriteItem> {
            let u = Update::builder()
                .table_name(&self.table)
                .set_key(Some(k))
                .update_expression("SET revoked = :yes")
                .condition_expression("#owner = :owner")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .expression_attribute_values(":owner", s(owner.to_string()))
                .build()?;
            Ok(TransactWriteItem::builder().update(u).build())
        };
        let items = vec![revoke(link_key(id))?, revoke(owner_link_key(owner, id))?];
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(link_token("revoke", id, owner))
            .set_return_consumed_capacity(self.capacity())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.count(out.consumed_capacity());
                Ok(true)
            }
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Ok(false)
                }
                _ => Err(StoreError::Unexpected(sdk_error("TransactWriteItems")(e))),
            },
        }
    }
}
