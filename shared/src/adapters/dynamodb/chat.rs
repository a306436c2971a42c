//! `ChatStore` and `SlidingWindow` on DynamoDB, in the accounts table (single-table design; keys
//! in `chat_items.rs`, the whole layout in `docs/CHAT.md`). Every multi-item change is one
//! `TransactWriteItems` and every race is settled by a condition: a send by the room's `seq`,
//! a membership change by the member item, a room edit or message delete by the room's version,
//! a send window by its version. No Scan anywhere.

use super::chat_items::*;
use super::items::{Item, n, s, sdk_error};
use super::outbox_items::outbox_item;
use super::tx::{self, TxOutcome};
use crate::domain::time::to_millis;
use crate::domain::{
    Emoji, Invitation, Member, MemberRole, Membership, Message, MessageId, Pin, Room, RoomId,
    UserId,
};
use crate::ports::{
    AddMembersError, ChatStore, CreateRoomError, Outgoing, Page, Pinned, Purge, RateDecision,
    Reacted, RoomDeletion, SlidingWindow, StoreError, admit,
};
use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, Delete, DeleteRequest, Put, ReturnConsumedCapacity,
    TransactWriteItem, Update, WriteRequest,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use time::{Duration, OffsetDateTime};

/// Consumed capacity of every chat request, in thousandths of a unit: the benchmark's meter.
#[derive(Debug, Default)]
pub struct CapacityMeter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
}

impl CapacityMeter {
    /// `(read units, write units)` so far.
    pub fn totals(&self) -> (f64, f64) {
        (
            self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0,
        )
    }

    pub fn reset(&self) {
        self.read_milli.store(0, Ordering::Relaxed);
        self.write_milli.store(0, Ordering::Relaxed);
    }

    /// Adds what one request consumed. DynamoDB Local reports only the total, so the caller
    /// says whether the request read or wrote.
    pub(super) fn add<'a>(
        &self,
        wrote: bool,
        consumed: impl IntoIterator<Item = &'a ConsumedCapacity>,
    ) {
        for c in consumed {
            let units = c.capacity_units().unwrap_or(0.0);
            let bucket = if wrote {
                &self.write_milli
            } else {
                &self.read_milli
            };
            bucket.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        }
    }
}

/// The chat store over the accounts table.
#[derive(Clone)]
pub struct DynamoChat {
    client: Client,
    table: String,
    meter: Arc<CapacityMeter>,
}

pub(super) fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

pub(super) fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
) -> anyhow::Result<TransactWriteItem> {
    let mut p = Put::builder().table_name(table).set_item(Some(item));
    if let Some(c) = condition {
        p = p.condition_expression(c);
    }
    Ok(TransactWriteItem::builder().put(p.build()?).build())
}

pub(super) fn delete(
    table: &str,
    key: Item,
    condition: Option<(&str, Item)>,
) -> anyhow::Result<TransactWriteItem> {
    let mut d = Delete::builder().table_name(table).set_key(Some(key));
    if let Some((c, v)) = condition {
        d = d.condition_expression(c);
        if !v.is_empty() {
            d = d.set_expression_attribute_values(Some(v));
        }
    }
    Ok(TransactWriteItem::builder().delete(d.build()?).build())
}

fn update(
    table: &str,
    key: Item,
    expression: &str,
    condition: &str,
    vals: Item,
) -> anyhow::Result<TransactWriteItem> {
    let u = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .condition_expression(condition)
        .set_expression_attribute_values(Some(vals))
        .build()?;
    Ok(TransactWriteItem::builder().update(u).build())
}

pub(super) const NOT_EXISTS: &str = "attribute_not_exists(pk)";
pub(super) const EXISTS: &str = "attribute_exists(pk)";

pub(super) fn tx_to_store(outcome: TxOutcome) -> StoreError {
    match outcome {
        TxOutcome::ConditionFailed(_) => StoreError::Conflict,
        TxOutcome::Contended => StoreError::Unexpected(anyhow!("transaction kept conflicting")),
        TxOutcome::Failed(e) => StoreError::Unexpected(e),
    }
}

/// The `message_id` of a guard or seq pointer.
fn guarded_message(item: &Item) -> anyhow::Result<MessageId> {
    match item.get("message_id") {
        Some(AttributeValue::S(id)) => {
            MessageId::parse(id).map_err(|e| anyhow!("stored guard is invalid: {e}"))
        }
        _ => Err(anyhow!("guard without a message id")),
    }
}

pub(super) fn is_condition_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

impl DynamoChat {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            meter: Arc::new(CapacityMeter::default()),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn capacity(&self) -> &CapacityMeter {
        &self.meter
    }

    /// The table it keeps the chat in (whose stream carries its outbox).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The capacity every request of this store consumed so far.
    pub fn meter(&self) -> Arc<CapacityMeter> {
        self.meter.clone()
    }

    /// The shared transaction runner (`tx`), metering what each commit consumed.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxOutcome> {
        self.transact_with(items, 6, 10).await
    }

    /// As `transact`, with its own attempts and first delay: for items many requests write at
    /// once (a popular message's reactions, a room's pin counter).
    pub(super) async fn transact_with(
        &self,
        items: Vec<TransactWriteItem>,
        attempts: usize,
        first_delay_ms: u64,
    ) -> Result<(), TxOutcome> {
        let out = tx::transact(&self.client, items, attempts, first_delay_ms).await?;
        self.meter.add(true, out.consumed_capacity());
        Ok(())
    }

    pub(super) async fn get(&self, key: Item) -> anyhow::Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        self.meter.add(false, out.consumed_capacity());
        Ok(out.item)
    }

    /// The items of `keys` that exist (strongly consistent, metered; `batch::batch_get`).
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> anyhow::Result<Vec<Item>> {
        super::batch::batch_get(&self.client, &self.table, &keys, true, Some(&self.meter)).await
    }

    /// Every item of partition `pk` whose sort key starts with `prefix`, newest-last unless
    /// `descending`, at most `limit` (all when `None`), starting after `start` (a sort key).
    pub(super) async fn query(
        &self,
        pk: String,
        prefix: &str,
        descending: bool,
        limit: Option<usize>,
        start: Option<String>,
    ) -> anyhow::Result<Vec<Item>> {
        let mut found = Vec::new();
        let mut exclusive = start.map(|sk| values([("pk", s(pk.clone())), ("sk", s(sk))]));
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(pk.clone()));
            q = if prefix.is_empty() {
                q.key_condition_expression("pk = :pk")
            } else {
                q.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix))
            };
            q = q
                .scan_index_forward(!descending)
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(exclusive.take());
            if let Some(l) = limit {
                q = q.limit((l - found.len()).min(1000) as i32);
            }
            let out = q.send().await.map_err(sdk_error("Query"))?;
            self.meter.add(false, out.consumed_capacity());
            found.extend(out.items.unwrap_or_default());
            exclusive = out.last_evaluated_key;
            let full = limit.is_some_and(|l| found.len() >= l);
            if exclusive.is_none() || full {
                return Ok(found);
            }
        }
    }

    /// Deletes the items of `keys` in batches of 25, retrying unprocessed ones.
    pub(super) async fn delete_all(&self, keys: Vec<Item>) -> anyhow::Result<()> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    Ok(WriteRequest::builder()
                        .delete_request(DeleteRequest::builder().set_key(Some(k.clone())).build()?)
                        .build())
                })
                .collect::<anyhow::Result<_>>()?;
            let mut backoff = 10u64;
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(sdk_error("BatchWriteItem"))?;
                self.meter.add(true, out.consumed_capacity());
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(backoff)).await;
                    backoff = (backoff * 2).min(500);
                }
            }
        }
        Ok(())
    }

    /// The message id of the newest seq pointer at or below `seq`, if any.
    async fn pointer_at_or_below(
        &self,
        room: &RoomId,
        seq: u64,
    ) -> anyhow::Result<Option<MessageId>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(room_pk(room)))
            .expression_attribute_values(":low", s(seq_sk(0)))
            .expression_attribute_values(":high", s(seq_sk(seq)))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(sdk_error("Query"))?;
        self.meter.add(false, out.consumed_capacity());
        out.items
            .unwrap_or_default()
            .first()
            .map(guarded_message)
            .transpose()
    }

    async fn messages_before(
        &self,
        room: &RoomId,
        limit: usize,
        before: Option<&MessageId>,
    ) -> anyhow::Result<Vec<Message>> {
        let start = before.map(|id| format!("{MESSAGE_PREFIX}{id}"));
        self.query(room_pk(room), MESSAGE_PREFIX, true, Some(limit), start)
            .await?
            .iter()
            .map(message_from)
            .collect()
    }
}

#[async_trait]
impl ChatStore for DynamoChat {
    async fn create_room(&self, room: &Room, members: &[Member]) -> Result<(), CreateRoomError> {
        let mut room_item = room_item(room);
        room_item.insert(MEMBER_COUNT.into(), n(members.len()));
        let mut items = vec![put(&self.table, room_item, Some(NOT_EXISTS))?];
        for m in members {
            items.push(put(&self.table, member_item(m), None)?);
            items.push(put(&self.table, membership_item(m), None)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxOutcome::ConditionFailed(_)) => Err(CreateRoomError::Exists),
            Err(TxOutcome::Contended) => Err(CreateRoomError::Unexpected(anyhow!(
                "transaction kept conflicting"
            ))),
            Err(TxOutcome::Failed(e)) => Err(CreateRoomError::Unexpected(e)),
        }
    }

    async fn room(&self, id: &RoomId) -> Result<Option<Room>, StoreError> {
        let Some(item) = self.get(room_key(id)).await? else {
            return Ok(None);
        };
        let mut room = room_from(&item)?;
        // Only a room with deletions has the second item; the others cost one read as before.
        if has_deleted_item(&item)
            && let Some(deleted) = self.get(deleted_key(id)).await?
        {
            room.deleted_seqs = deleted_from(&deleted)?;
        }
        Ok(Some(room))
    }

    async fn rooms(&self, ids: &[RoomId]) -> Result<Vec<Room>, StoreError> {
        let keys = ids.iter().map(room_key).collect();
        let items = self.batch_get(keys).await?;
        let mut rooms: Vec<Room> = items.iter().map(room_from).collect::<anyhow::Result<_>>()?;
        // One more batch, of the rooms with deletions only.
        let with_deleted: Vec<Item> = items
            .iter()
            .zip(&rooms)
            .filter(|(item, _)| has_deleted_item(item))
            .map(|(_, room)| deleted_key(&room.id))
            .collect();
        if !with_deleted.is_empty() {
            let mut lists = std::collections::HashMap::new();
            for item in self.batch_get(with_deleted).await? {
                if let Some(AttributeValue::S(pk)) = item.get("pk") {
                    lists.insert(pk.clone(), deleted_from(&item)?);
                }
            }
            for room in &mut rooms {
                if let Some(seqs) = lists.remove(&room_pk(&room.id)) {
                    room.deleted_seqs = seqs;
                }
            }
        }
        Ok(rooms)
    }

    async fn update_room(&self, room: &Room) -> Result<(), StoreError> {
        // The avatar is set with the other settings, or removed when cleared.
        let avatar_clause = match &room.avatar_key {
            Some(_) => ", avatar_key = :avatar",
            None => " REMOVE avatar_key",
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(room_key(&room.id)))
            .update_expression(format!(
                "SET #name = :name, description = :description, posting = :posting, version = :next{avatar_clause}"
            ))
            .condition_expression("version = :v")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(&room.name))
            .expression_attribute_values(":description", s(&room.description))
            .expression_attribute_values(":posting", s(room.posting.as_str()))
            .expression_attribute_values(":v", n(room.version))
            .expression_attribute_values(":next", n(room.version + 1))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if let Some(k) = &room.avatar_key {
            request = request.expression_attribute_values(":avatar", s(k));
        }
        let result = request.send().await;
        match result {
            Ok(out) => {
                self.meter.add(true, out.consumed_capacity());
                Ok(())
            }
            Err(e) if e.as_service_error().is_some_and(is_condition_failed) => {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(StoreError::Unexpected(sdk_error("UpdateItem")(e))),
        }
    }

    async fn subscribe_room_above(&self, id: &RoomId, members: u32) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(room_key(id)))
            .update_expression("SET subscribed = :yes")
            .condition_expression(
                "attribute_exists(pk) AND #count > :members AND (attribute_not_exists(subscribed) OR subscribed = :no)",
            )
            .expression_attribute_names("#count", MEMBER_COUNT)
            .expression_attribute_values(":members", n(members))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.add(true, out.consumed_capacity());
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(is_condition_failed) => Ok(false),
            Err(e) => Err(StoreError::Unexpected(sdk_error("UpdateItem")(e))),
        }
    }

    async fn delete_room(
        &self,
        room: &Room,
        by: &UserId,
        held_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.mark_deleted(room, by, held_until).await
    }

    async fn room_deletion(&self, id: &RoomId) -> Result<Option<RoomDeletion>, StoreError> {
        self.deletion(id).await
    }

    async fn hold_room_deletion(
        &self,
        id: &RoomId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.take_over_deletion(id, now, until).await
    }

    async fn purge_room(&self, id: &RoomId, limit: usize) -> Result<Purge, StoreError> {
        self.purge(id, limit).await
    }

    async fn member(&self, room: &RoomId, user: &UserId) -> Result<Option<Member>, StoreError> {
        Ok(self
            .get(member_key(room, user))
            .await?
            .map(|i| member_from(&i))
            .transpose()?)
    }

    async fn members(&self, room: &RoomId) -> Result<Vec<Member>, StoreError> {
        Ok(self
            .query(room_pk(room), MEMBER_PREFIX, false, None, None)
            .await?
            .iter()
            .map(member_from)
            .collect::<anyhow::Result<_>>()?)
    }

    async fn add_members(
        &self,
        room: &RoomId,
        members: &[Member],
        ceiling: u32,
    ) -> Result<(), AddMembersError> {
        let mut items = vec![self.reserve_seats(room, members.len(), ceiling)?];
        for m in members {
            items.push(put(&self.table, member_item(m), Some(NOT_EXISTS))?);
            items.push(put(&self.table, membership_item(m), Some(NOT_EXISTS))?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            // The first failed condition decides, as it did when only that one was read.
            Err(o) if o.failed_at(0) => Err(self.why_no_seats(room).await),
            Err(TxOutcome::ConditionFailed(failed)) => {
                let i = failed[0];
                Err(members
                    .get((i - 1) / 2)
                    .map(|m| AddMembersError::AlreadyMember(m.user_id))
                    .unwrap_or_else(|| {
                        AddMembersError::Unexpected(anyhow!("condition {i} failed"))
                    }))
            }
            Err(TxOutcome::Contended) => Err(AddMembersError::Unexpected(anyhow!(
                "transaction kept conflicting"
            ))),
            Err(TxOutcome::Failed(e)) => Err(AddMembersError::Unexpected(e)),
        }
    }

    async fn remove_member(
        &self,
        room: &RoomId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<(), StoreError> {
        let member = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(member_key(room, user)))
            .condition_expression("#role = :role")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", s(role.as_str()))
            .build()
            .map_err(|e| anyhow!(e))?;
        let items = vec![
            TransactWriteItem::builder().delete(member).build(),
            delete(&self.table, membership_key(user, room), None)?,
            self.free_seat(room)?,
        ];
        self.transact(items).await.map_err(tx_to_store)
    }

    async fn leave(
        &self,
        room: &RoomId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<(), StoreError> {
        self.leave_room(room, user, role).await
    }

    async fn has_left(&self, user: &UserId, room: &RoomId) -> Result<bool, StoreError> {
        Ok(self.get(left_key(user, room)).await?.is_some())
    }

    async fn invite(&self, invitations: &[Invitation]) -> Result<(), StoreError> {
        self.put_invitations(invitations).await
    }

    async fn invitation(
        &self,
        user: &UserId,
        room: &RoomId,
    ) -> Result<Option<Invitation>, StoreError> {
        Ok(self
            .get(invitation_key(user, room))
            .await?
            .map(|i| invitation_from(&i))
            .transpose()?)
    }

    async fn invitations(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&RoomId>,
    ) -> Result<Page<Invitation>, StoreError> {
        self.invitation_page(user, limit, after).await
    }

    async fn accept_invitation(
        &self,
        invitation: &Invitation,
        member: &Member,
        ceiling: u32,
    ) -> Result<(), AddMembersError> {
        self.accept(invitation, member, ceiling).await
    }

    async fn decline_invitation(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError> {
        let items = vec![delete(&self.table, invitation_key(user, room), None)?];
        self.transact(items).await.map_err(tx_to_store)
    }

    async fn set_role(
        &self,
        room: &RoomId,
        user: &UserId,
        from: MemberRole,
        to: MemberRole,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(member_key(room, user)))
            .update_expression("SET #role = :to")
            .condition_expression("#role = :from")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(to.as_str()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.add(true, out.consumed_capacity());
                Ok(())
            }
            Err(e) if e.as_service_error().is_some_and(is_condition_failed) => {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(StoreError::Unexpected(sdk_error("UpdateItem")(e))),
        }
    }

    async fn transfer_ownership(
        &self,
        room: &RoomId,
        owner: &UserId,
        to: &UserId,
        to_role: MemberRole,
    ) -> Result<(), StoreError> {
        if owner == to {
            return Err(StoreError::Conflict);
        }
        let role_change = |user: &UserId, from: MemberRole, next: MemberRole| {
            let u = Update::builder()
                .table_name(&self.table)
                .set_key(Some(member_key(room, user)))
                .update_expression("SET #role = :to")
                .condition_expression("#role = :from")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":from", s(from.as_str()))
                .expression_attribute_values(":to", s(next.as_str()))
                .build()?;
            anyhow::Ok(TransactWriteItem::builder().update(u).build())
        };
        let items = vec![
            role_change(owner, MemberRole::Owner, MemberRole::Admin)?,
            role_change(to, to_role, MemberRole::Owner)?,
        ];
        self.transact(items).await.map_err(tx_to_store)
    }

    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        Ok(self
            .query(inbox_pk(user), MEMBERSHIP_PREFIX, false, None, None)
            .await?
            .iter()
            .map(membership_from)
            .collect::<anyhow::Result<_>>()?)
    }

    async fn membership(
        &self,
        user: &UserId,
        room: &RoomId,
    ) -> Result<Option<Membership>, StoreError> {
        Ok(self
            .get(membership_key(user, room))
            .await?
            .map(|i| membership_from(&i))
            .transpose()?)
    }

    async fn inbox(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<(OffsetDateTime, RoomId)>,
    ) -> Result<Vec<Membership>, StoreError> {
        self.inbox_page(user, limit, after).await
    }

    async fn touch_inbox(&self, room: &RoomId, users: &[UserId], at: OffsetDateTime) {
        self.move_up(room, users, at).await;
    }

    async fn claim_chat_list_move(
        &self,
        room: &RoomId,
        at: OffsetDateTime,
        every: Duration,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(room_key(room)))
            .update_expression("SET chat_list_moved_at = :at")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(chat_list_moved_at) OR chat_list_moved_at <= :due)",
            )
            .expression_attribute_values(":at", n(to_millis(at)))
            .expression_attribute_values(":due", n(to_millis(at - every)))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.add(true, out.consumed_capacity());
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(is_condition_failed) => Ok(false),
            Err(e) => Err(StoreError::Unexpected(sdk_error("UpdateItem")(e))),
        }
    }

    async fn mark_read(&self, user: &UserId, room: &RoomId, seq: u64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(membership_key(user, room)))
            .update_expression("SET last_read_seq = :seq")
            .condition_expression("attribute_exists(pk) AND last_read_seq < :seq")
            .expression_attribute_values(":seq", n(seq))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.add(true, out.consumed_capacity());
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(is_condition_failed) => {
                // Already at or past `seq` (no change), or not a member at all.
                match self.get(membership_key(user, room)).await? {
                    Some(_) => Ok(false),
                    None => Err(StoreError::Conflict),
                }
            }
            Err(e) => Err(StoreError::Unexpected(sdk_error("UpdateItem")(e))),
        }
    }

    async fn append_message(
        &self,
        room: &Room,
        message: &Message,
        announce: &[Outgoing],
    ) -> Result<(), StoreError> {
        if message.seq != room.seq + 1 || room.last_id.is_some_and(|id| id >= message.id) {
            return Err(StoreError::Conflict);
        }
        let room_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(room_key(&room.id)))
            .update_expression("SET seq = :next, updated_at = :at, last_id = :id, #last = :last")
            .condition_expression("seq = :seq")
            .expression_attribute_names("#last", "last")
            .set_expression_attribute_values(Some(values([
                (":next", n(message.seq)),
                (":seq", n(room.seq)),
                (":at", n(to_millis(message.created_at))),
                (":id", s(message.id.to_string())),
                (
                    ":last",
                    AttributeValue::M(message_fields(&message.preview())),
                ),
            ])))
            .build()
            .map_err(|e| anyhow!(e))?;
        let mut items = vec![
            TransactWriteItem::builder().update(room_update).build(),
            put(&self.table, message_item(message), Some(NOT_EXISTS))?,
            update(
                &self.table,
                membership_key(&message.sender, &room.id),
                "SET last_read_seq = :seq",
                EXISTS,
                values([(":seq", n(message.seq))]),
            )?,
        ];
        if let Some(transfer_id) = message.transfer_id() {
            let mut guard = transfer_guard_key(&room.id, transfer_id);
            guard.insert("message_id".into(), s(message.id.to_string()));
            items.push(put(&self.table, guard, Some(NOT_EXISTS))?);
        }
        if let Some(client_id) = message.client_guard() {
            let mut guard = client_guard_key(&room.id, &message.sender, client_id);
            guard.insert("message_id".into(), s(message.id.to_string()));
            items.push(put(&self.table, guard, Some(NOT_EXISTS))?);
        }
        // Unconditional: the room's `seq` condition already makes this seq this message's.
        items.push(put(&self.table, seq_pointer_item(message), None)?);
        for record in announce {
            items.push(put(&self.table, outbox_item(record), None)?);
        }
        self.transact(items).await.map_err(tx_to_store)
    }

    async fn client_message(
        &self,
        room: &RoomId,
        sender: &UserId,
        client_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        let item = self.get(client_guard_key(room, sender, client_id)).await?;
        Ok(item.map(|i| guarded_message(&i)).transpose()?)
    }

    async fn messages_after(
        &self,
        room: &RoomId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Page<Message>, StoreError> {
        // Where to start: the message of the newest pointer at or below `after_seq` (one key
        // condition, Limit 1). It is seq `after_seq`'s own unless that message predates the
        // pointers; then the few messages between are read and dropped below.
        let start = match after_seq {
            0 => None,
            _ => self
                .pointer_at_or_below(room, after_seq)
                .await?
                .map(|id| format!("{MESSAGE_PREFIX}{id}")),
        };
        let mut found = Vec::with_capacity(limit + 1);
        let mut start = start;
        loop {
            let want = limit + 1 - found.len();
            let page = self
                .query(
                    room_pk(room),
                    MESSAGE_PREFIX,
                    false,
                    Some(want),
                    start.take(),
                )
                .await?;
            let exhausted = page.len() < want;
            for item in &page {
                let m = message_from(item)?;
                start = Some(format!("{MESSAGE_PREFIX}{}", m.id));
                if m.seq > after_seq {
                    found.push(m);
                }
            }
            if exhausted || found.len() > limit {
                break;
            }
        }
        Ok(Page::from_overfetch(found, limit, |m| m.seq.to_string()))
    }

    async fn transfer_message(
        &self,
        room: &RoomId,
        transfer_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        let item = self.get(transfer_guard_key(room, transfer_id)).await?;
        Ok(item.map(|i| guarded_message(&i)).transpose()?)
    }

    async fn message(&self, room: &RoomId, id: &MessageId) -> Result<Option<Message>, StoreError> {
        Ok(self
            .get(message_key(room, id))
            .await?
            .map(|i| message_from(&i))
            .transpose()?)
    }

    async fn messages(
        &self,
        room: &RoomId,
        limit: usize,
        before: Option<&MessageId>,
    ) -> Result<Page<Message>, StoreError> {
        let items = self.messages_before(room, limit + 1, before).await?;
        Ok(Page::from_overfetch(items, limit, |m| m.id.to_string()))
    }

    async fn newest_messages_before(
        &self,
        room: &RoomId,
        before: &MessageId,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        Ok(self.messages_before(room, limit, Some(before)).await?)
    }

    async fn delete_message(
        &self,
        room: &Room,
        message: &Message,
        last: Option<&Message>,
        announce: &[Outgoing],
    ) -> Result<(), StoreError> {
        let was_last = room.last_message.as_ref().map(|m| m.id) == Some(message.id);
        let deleted = room.deleted_with(message.seq);
        let newest = deleted.iter().max().copied().unwrap_or(message.seq);
        let mut vals = values([
            (":newest", n(newest)),
            (":seq", n(room.seq)),
            (":v", n(room.version)),
            (":next", n(room.version + 1)),
        ]);
        // The list goes to the `DELETED` item (below); a room item that still holds one from
        // before loses it here.
        let expression = match (was_last, last) {
            (true, Some(m)) => {
                vals.insert(
                    ":last".into(),
                    AttributeValue::M(message_fields(&m.preview())),
                );
                "SET deleted_newest = :newest, version = :next, #last = :last REMOVE deleted"
            }
            (true, None) => "SET deleted_newest = :newest, version = :next REMOVE #last, deleted",
            (false, _) => "SET deleted_newest = :newest, version = :next REMOVE deleted",
        };
        let mut u = Update::builder()
            .table_name(&self.table)
            .set_key(Some(room_key(&room.id)))
            .update_expression(expression)
            .condition_expression("seq = :seq AND version = :v")
            .set_expression_attribute_values(Some(vals));
        if was_last {
            u = u.expression_attribute_names("#last", "last");
        }
        let mut items = vec![
            delete(
                &self.table,
                message_key(&room.id, &message.id),
                Some((EXISTS, Item::new())),
            )?,
            TransactWriteItem::builder()
                .update(u.build().map_err(|e| anyhow!(e))?)
                .build(),
            // Unconditional: the room's `version` condition orders deletes, this list included.
            put(&self.table, deleted_item(&room.id, &deleted), None)?,
        ];
        for record in announce {
            items.push(put(&self.table, outbox_item(record), None)?);
        }
        self.transact(items).await.map_err(tx_to_store)
    }

    async fn edit_message(
        &self,
        room: &Room,
        before: &Message,
        edited: &Message,
        announce: &[Outgoing],
    ) -> Result<(), StoreError> {
        self.edit(room, before, edited, announce).await
    }

    async fn add_reaction(
        &self,
        room: &RoomId,
        message: &MessageId,
        user: &UserId,
        emoji: &Emoji,
        most: usize,
        announce: &[Outgoing],
    ) -> Result<Reacted, StoreError> {
        let change = super::chat_reactions::Change::Add { most };
        self.react(room, message, user, emoji, change, announce)
            .await
    }

    async fn remove_reaction(
        &self,
        room: &RoomId,
        message: &MessageId,
        user: &UserId,
        emoji: &Emoji,
        announce: &[Outgoing],
    ) -> Result<Reacted, StoreError> {
        let change = super::chat_reactions::Change::Remove;
        self.react(room, message, user, emoji, change, announce)
            .await
    }

    async fn reactions_of(
        &self,
        room: &RoomId,
        user: &UserId,
        oldest: &MessageId,
        newest: &MessageId,
    ) -> Result<HashMap<MessageId, Vec<Emoji>>, StoreError> {
        self.reactions_between(room, user, oldest, newest).await
    }

    async fn pin(&self, pin: &Pin, most: u32, announce: &[Outgoing]) -> Result<Pinned, StoreError> {
        self.pin_message(pin, most, announce).await
    }

    async fn unpin(
        &self,
        room: &RoomId,
        message: &MessageId,
        announce: &[Outgoing],
    ) -> Result<bool, StoreError> {
        self.unpin_message(room, message, announce).await
    }

    async fn pins(&self, room: &RoomId) -> Result<Vec<Pin>, StoreError> {
        self.room_pins(room).await
    }

    async fn messages_by_id(
        &self,
        room: &RoomId,
        ids: &[MessageId],
    ) -> Result<Vec<Message>, StoreError> {
        self.messages_with_ids(room, ids).await
    }

    async fn publish(&self, records: &[Outgoing]) -> Result<(), StoreError> {
        // One PutItem each, in order: records of one room are one partition, and the stream
        // keeps a partition's writes in the order they happened.
        for record in records {
            let out = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(outbox_item(record)))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(sdk_error("PutItem"))?;
            self.meter.add(true, out.consumed_capacity());
        }
        Ok(())
    }
}

#[async_trait]
impl SlidingWindow for DynamoChat {
    async fn reserve(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError> {
        let window_ms = window.whole_milliseconds() as i64;
        let now_ms = to_millis(now);
        // Racing reservations of one key settle by the version condition: each round one wins,
        // the others read again. Generous retries, since a burst of parallel posts is exactly
        // the case the limit exists for.
        for attempt in 0..200u32 {
            let stored = self.get(window_key(key)).await?;
            let (times, version) = match &stored {
                Some(item) => window_from(item)?,
                None => (vec![], 0),
            };
            let next = match admit(&times, limit, window_ms, now_ms) {
                Ok(next) => next,
                Err(until) => {
                    return Ok(RateDecision::Limited {
                        until: crate::domain::time::from_millis(until),
                    });
                }
            };
            let item = window_item(key, &next, version + 1, now_ms + window_ms + 3_600_000);
            let mut p = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            p = if stored.is_some() {
                p.condition_expression("version = :v")
                    .expression_attribute_values(":v", n(version))
            } else {
                p.condition_expression(NOT_EXISTS)
            };
            match p.send().await {
                Ok(out) => {
                    self.meter.add(true, out.consumed_capacity());
                    return Ok(RateDecision::Allowed);
                }
                Err(e) if e.as_service_error().is_some_and(is_condition_failed) => {
                    let ceiling = 2u64.pow(attempt.min(5));
                    tokio::time::sleep(std::time::Duration::from_millis(rand::random_range(
                        0..=ceiling,
                    )))
                    .await;
                }
                Err(e) => return Err(StoreError::Unexpected(sdk_error("PutItem")(e))),
            }
        }
        Err(StoreError::Conflict)
    }
}
