//! Room deletion on DynamoDB, resumable: one conditional transaction swaps the room item for its
//! `DELETING` marker (from then on the room is gone for every request, which all check the room
//! item), then `purge_room` collects what the room owned a page at a time, each person's items
//! before the room-side items that lead to them, and the marker last. Whatever stops it, the
//! marker is still there and the next purge of the room starts over from what is left
//! (`docs/CHAT.md`, "Room deletion").

use super::chat::{DynamoChat, delete, is_condition_failed, put, tx_to_store, values};
use super::chat_items::*;
use super::items::{Item, key, n, sdk_error};
use super::outbox_items::OUTBOX_PREFIX;
use crate::domain::time::to_millis;
use crate::domain::{Room, RoomId, SUBSCRIPTION_SHARDS, UserId};
use crate::ports::{Purge, RoomDeletion, StoreError};
use anyhow::anyhow;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use time::OffsetDateTime;

/// The partitions a room's outbox records live in: the room's own and one per subscription
/// shard (`outbox_items.rs`).
fn outbox_partitions(room: &RoomId) -> impl Iterator<Item = String> {
    let own = std::iter::once(format!("{OUTBOX_PREFIX}{room}"));
    own.chain((0..SUBSCRIPTION_SHARDS).map(move |s| format!("{OUTBOX_PREFIX}{room}#{s:02}")))
}

fn sort_key(item: &Item) -> Option<&str> {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => Some(sk),
        _ => None,
    }
}

impl DynamoChat {
    pub(super) async fn mark_deleted(
        &self,
        room: &Room,
        by: &UserId,
        held_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // The marker must say whether the members are in the subscription index, so the delete
        // only commits while the room is as read (a flip to `subscribed` makes it read again).
        let subscribed = if room.subscribed {
            "subscribed = :yes"
        } else {
            "(attribute_not_exists(subscribed) OR subscribed = :no)"
        };
        let condition = format!("attribute_exists(pk) AND version = :v AND {subscribed}");
        let mut vals = values([(":v", n(room.version))]);
        vals.insert(
            (if room.subscribed { ":yes" } else { ":no" }).into(),
            AttributeValue::Bool(room.subscribed),
        );
        let marker = RoomDeletion {
            room_id: room.id,
            by: *by,
            subscribed: room.subscribed,
            avatar_key: room.avatar_key.clone(),
            held_until,
        };
        let items = vec![
            delete(self.table(), room_key(&room.id), Some((&condition, vals)))?,
            put(self.table(), deletion_item(&marker), None)?,
        ];
        self.transact(items).await.map_err(tx_to_store)
    }

    pub(super) async fn deletion(&self, id: &RoomId) -> Result<Option<RoomDeletion>, StoreError> {
        Ok(self
            .get(deleting_key(id))
            .await?
            .map(|i| deletion_from(&i))
            .transpose()?)
    }

    pub(super) async fn take_over_deletion(
        &self,
        id: &RoomId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(deleting_key(id)))
            .update_expression("SET held_until = :until")
            .condition_expression("attribute_exists(pk) AND held_until <= :now")
            .expression_attribute_values(":until", n(to_millis(until)))
            .expression_attribute_values(":now", n(to_millis(now)))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.capacity().add(true, out.consumed_capacity());
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(is_condition_failed) => Ok(false),
            Err(e) => Err(StoreError::Unexpected(sdk_error("UpdateItem")(e))),
        }
    }

    pub(super) async fn purge(&self, id: &RoomId, limit: usize) -> Result<Purge, StoreError> {
        if limit == 0 {
            return Ok(Purge::More);
        }
        if self.get(deleting_key(id)).await?.is_none() {
            return Ok(Purge::Done); // a live room, or one already collected
        }
        // The room's partition first: its members (and their memberships), messages, guards,
        // seq pointers, deleted list and inbox pointers. The marker is skipped until the end.
        let page = self
            .query(room_pk(id), "", false, Some(limit + 1), None)
            .await?;
        let mut people: Vec<Item> = Vec::new();
        let mut own: Vec<Item> = Vec::new();
        for sk in page
            .iter()
            .filter_map(sort_key)
            .filter(|sk| *sk != DELETING_SK)
        {
            if own.len() == limit {
                break;
            }
            if let Some(user) = sk
                .strip_prefix(MEMBER_PREFIX)
                .and_then(|u| UserId::parse(u).ok())
            {
                people.push(membership_key(&user, id));
            }
            if let Some(user) = sk
                .strip_prefix(INBOX_REF_PREFIX)
                .and_then(|u| UserId::parse(u).ok())
            {
                people.push(invitation_key(&user, id));
                people.push(left_key(&user, id));
            }
            own.push(key(room_pk(id), sk));
        }
        // Then its outbox records (they expire in a day anyway; a deleted room's go now).
        if own.is_empty() {
            for pk in outbox_partitions(id) {
                let want = limit - own.len();
                if want == 0 {
                    break;
                }
                let records = self.query(pk.clone(), "", false, Some(want), None).await?;
                own.extend(
                    records
                        .iter()
                        .filter_map(sort_key)
                        .map(|sk| key(pk.clone(), sk)),
                );
            }
        }
        if own.is_empty() {
            // Nothing else is left: the marker goes last, so until here a purge can resume.
            let out = self
                .client()
                .delete_item()
                .table_name(self.table())
                .set_key(Some(deleting_key(id)))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(sdk_error("DeleteItem"))?;
            self.capacity().add(true, out.consumed_capacity());
            return Ok(Purge::Done);
        }
        // A person's items before the room's item that leads to them: stopped in between, the
        // room item is still there to find them by next time.
        self.delete_all(people).await?;
        self.delete_all(own).await.map_err(|e| anyhow!(e))?;
        Ok(Purge::More)
    }
}
