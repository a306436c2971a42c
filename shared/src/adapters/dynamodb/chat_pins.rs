//! Pins in `DynamoChat`: `ROOM#{room}/PIN#{message}` per pinned message and the room's counter
//! `ROOM#{room}/PINS` (`count`), on an item of its own so pins never collide with sends on the
//! room item. Pinning is one transaction: the counter (`count < most`), the pin
//! (`attribute_not_exists`), checks that the message and the room are still there, and the event.

use super::chat::{DynamoChat, put, values};
use super::chat_items::*;
use super::items::{Item, Read, key, n, s};
use super::tx::TxOutcome;
use crate::domain::time::to_millis;
use crate::domain::{MessageId, Pin, RoomId, UserId};
use crate::ports::{Outgoing, Pinned, StoreError};
use anyhow::anyhow;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, TransactWriteItem, Update};

const PINS_SK: &str = "PINS";
const PIN_PREFIX: &str = "PIN#";
/// Pins of one room collide only when an admin pins many at once: a few quick attempts.
const ATTEMPTS: usize = 8;
const FIRST_DELAY_MS: u64 = 5;

fn pins_key(room: &RoomId) -> Item {
    key(room_pk(room), PINS_SK)
}

fn pin_key(room: &RoomId, message: &MessageId) -> Item {
    key(room_pk(room), &format!("{PIN_PREFIX}{message}"))
}

fn pin_item(pin: &Pin) -> Item {
    let mut item = pin_key(&pin.room_id, &pin.message_id);
    item.extend(values([
        ("message_id", s(pin.message_id.to_string())),
        ("pinned_by", s(pin.pinned_by.to_string())),
        ("pinned_at", n(to_millis(pin.pinned_at))),
    ]));
    item
}

fn pin_from(room: &RoomId, item: &Item) -> anyhow::Result<Pin> {
    let r = Read(item);
    Ok(Pin {
        room_id: *room,
        message_id: MessageId::parse(r.s("message_id")?).map_err(|e| anyhow!("stored pin: {e}"))?,
        pinned_by: UserId::parse(r.s("pinned_by")?).map_err(|e| anyhow!("stored pin: {e}"))?,
        pinned_at: r.at("pinned_at")?,
    })
}

fn unexpected(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow!("{e}"))
}

impl DynamoChat {
    pub(super) async fn pin_message(
        &self,
        pin: &Pin,
        most: u32,
        announce: &[Outgoing],
    ) -> Result<Pinned, StoreError> {
        let room = &pin.room_id;
        let counter = Update::builder()
            .table_name(self.table())
            .set_key(Some(pins_key(room)))
            .update_expression("ADD #count :one")
            .condition_expression("attribute_not_exists(#count) OR #count < :most")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":most", n(most))
            .build()
            .map_err(unexpected)?;
        let exists = |k: Item| {
            ConditionCheck::builder()
                .table_name(self.table())
                .set_key(Some(k))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map(|c| TransactWriteItem::builder().condition_check(c).build())
                .map_err(unexpected)
        };
        let mut items = vec![
            TransactWriteItem::builder().update(counter).build(),
            put(
                self.table(),
                pin_item(pin),
                Some("attribute_not_exists(pk)"),
            )?,
            exists(message_key(room, &pin.message_id))?,
            exists(room_key(room))?,
        ];
        for record in announce {
            items.push(put(
                self.table(),
                super::outbox_items::outbox_item(record),
                None,
            )?);
        }
        match self.transact_with(items, ATTEMPTS, FIRST_DELAY_MS).await {
            Ok(()) => Ok(Pinned::Changed),
            Err(TxOutcome::ConditionFailed(failed)) => {
                Ok(if failed.contains(&2) || failed.contains(&3) {
                    Pinned::MessageGone
                } else if failed.contains(&1) {
                    Pinned::Unchanged
                } else {
                    Pinned::Full
                })
            }
            Err(TxOutcome::Contended) => Err(StoreError::Conflict),
            Err(TxOutcome::Failed(e)) => Err(StoreError::Unexpected(e)),
        }
    }

    pub(super) async fn unpin_message(
        &self,
        room: &RoomId,
        message: &MessageId,
        announce: &[Outgoing],
    ) -> Result<bool, StoreError> {
        let pin = Delete::builder()
            .table_name(self.table())
            .set_key(Some(pin_key(room, message)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(unexpected)?;
        let counter = Update::builder()
            .table_name(self.table())
            .set_key(Some(pins_key(room)))
            .update_expression("ADD #count :less")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":less", n(-1))
            .build()
            .map_err(unexpected)?;
        let mut items = vec![
            TransactWriteItem::builder().delete(pin).build(),
            TransactWriteItem::builder().update(counter).build(),
        ];
        for record in announce {
            items.push(put(
                self.table(),
                super::outbox_items::outbox_item(record),
                None,
            )?);
        }
        match self.transact_with(items, ATTEMPTS, FIRST_DELAY_MS).await {
            Ok(()) => Ok(true),
            Err(TxOutcome::ConditionFailed(_)) => Ok(false),
            Err(TxOutcome::Contended) => Err(StoreError::Conflict),
            Err(TxOutcome::Failed(e)) => Err(StoreError::Unexpected(e)),
        }
    }

    pub(super) async fn room_pins(&self, room: &RoomId) -> Result<Vec<Pin>, StoreError> {
        let items = self
            .query(room_pk(room), PIN_PREFIX, false, None, None)
            .await?;
        Ok(items
            .iter()
            .map(|item| pin_from(room, item))
            .collect::<anyhow::Result<_>>()?)
    }

    pub(super) async fn messages_with_ids(
        &self,
        room: &RoomId,
        ids: &[MessageId],
    ) -> Result<Vec<crate::domain::Message>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = ids.iter().map(|id| message_key(room, id)).collect();
        let items = self.batch_get(keys).await?;
        Ok(items
            .iter()
            .map(message_from)
            .collect::<anyhow::Result<_>>()?)
    }
}
