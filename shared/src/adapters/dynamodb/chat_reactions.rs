//! Reactions in `DynamoChat`. Who reacted with what is one item per person and message
//! (`REACT#<user>#<message>`, a string set of at most `most` emoji) in the room's partition; the
//! counts are attributes `rx:<emoji>` of the message item itself, so history reads them with the
//! messages at no extra cost. Adding or removing is one transaction of the two (the person's item
//! conditioned on the set, the message's count conditioned on the message still being there)
//! with the `reaction` event in the outbox (docs/CHAT.md, "Reactions").

use super::chat::{DynamoChat, put, values};
use super::chat_items::*;
use super::items::{Item, n, s, sdk_error};
use super::tx::TxOutcome;
use crate::domain::{Emoji, MessageId, RoomId, UserId};
use crate::ports::{Outgoing, Reacted, StoreError};
use anyhow::anyhow;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, TransactWriteItem, Update};
use std::collections::HashMap;

/// Transactions on one message collide while many react at once: each attempt waits longer.
const ATTEMPTS: usize = 10;
const FIRST_DELAY_MS: u64 = 5;

/// Adding (with the most a person may have on one message) or removing.
pub(super) enum Change {
    Add { most: usize },
    Remove,
}

impl DynamoChat {
    pub(super) async fn react(
        &self,
        room: &RoomId,
        message: &MessageId,
        user: &UserId,
        emoji: &Emoji,
        change: Change,
        announce: &[Outgoing],
    ) -> Result<Reacted, StoreError> {
        let mut vals = values([
            (":set", AttributeValue::Ss(vec![emoji.as_str().to_owned()])),
            (":e", s(emoji.as_str())),
        ]);
        let most = match change {
            Change::Add { most } => Some(most),
            Change::Remove => None,
        };
        let (person, step) = match change {
            Change::Add { most } => {
                vals.insert(":most".into(), n(most));
                (
                    Update::builder()
                        .update_expression("ADD emoji :set")
                        .condition_expression(
                            "attribute_not_exists(emoji) OR (NOT contains(emoji, :e) AND size(emoji) < :most)",
                        ),
                    1,
                )
            }
            Change::Remove => (
                Update::builder()
                    .update_expression("DELETE emoji :set")
                    .condition_expression("contains(emoji, :e)"),
                -1,
            ),
        };
        let person = person
            .table_name(self.table())
            .set_key(Some(reactor_key(room, user, message)))
            .set_expression_attribute_values(Some(vals))
            .build()
            .map_err(|e| StoreError::Unexpected(anyhow!(e)))?;
        let count = Update::builder()
            .table_name(self.table())
            .set_key(Some(message_key(room, message)))
            .update_expression("ADD #count :step")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#count", reaction_count_name(emoji.as_str()))
            .expression_attribute_values(":step", n(step))
            .build()
            .map_err(|e| StoreError::Unexpected(anyhow!(e)))?;
        let mut items = vec![
            TransactWriteItem::builder().update(person).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        for record in announce {
            items.push(put(
                self.table(),
                super::outbox_items::outbox_item(record),
                None,
            )?);
        }
        match self.transact_with(items, ATTEMPTS, FIRST_DELAY_MS).await {
            Ok(()) => Ok(Reacted::Changed),
            // Why it was refused is read afterwards (only on this path): a gone message first,
            // then the person's set as it is now.
            Err(TxOutcome::ConditionFailed(_)) => {
                if self.get(message_key(room, message)).await?.is_none() {
                    return Ok(Reacted::MessageGone);
                }
                let mine = self
                    .get(reactor_key(room, user, message))
                    .await?
                    .map(|item| emoji_of(&item))
                    .unwrap_or_default();
                let has = mine.iter().any(|e| e == emoji.as_str());
                match most {
                    Some(_) if has => Ok(Reacted::Unchanged),
                    Some(most) if mine.len() >= most => Ok(Reacted::Full),
                    None if !has => Ok(Reacted::Unchanged),
                    _ => Err(StoreError::Conflict), // it changed since the refusal: decide again
                }
            }
            Err(TxOutcome::Contended) => Err(StoreError::Conflict),
            Err(TxOutcome::Failed(e)) => Err(StoreError::Unexpected(e)),
        }
    }
}

impl DynamoChat {
    /// One Query of the person's items between the two messages (their sort keys are
    /// `REACT#<user>#<message id>`, and message ids sort by time).
    pub(super) async fn reactions_between(
        &self,
        room: &RoomId,
        user: &UserId,
        oldest: &MessageId,
        newest: &MessageId,
    ) -> Result<HashMap<MessageId, Vec<Emoji>>, StoreError> {
        let mut found = HashMap::new();
        if oldest > newest {
            return Ok(found);
        }
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(room_pk(room)))
                .expression_attribute_values(":from", s(reactor_sk(user, oldest)))
                .expression_attribute_values(":to", s(reactor_sk(user, newest)))
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(sdk_error("Query"))?;
            self.capacity().add(false, out.consumed_capacity());
            for item in out.items() {
                let Some(id) = reacted_message(item) else {
                    continue;
                };
                let mine: Vec<Emoji> = emoji_of(item)
                    .iter()
                    .filter_map(|e| Emoji::parse(e).ok())
                    .collect();
                if !mine.is_empty() {
                    found.insert(id, mine);
                }
            }
            match out.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(found),
            }
        }
    }
}

/// The emoji in a person's reaction item (none when the set was emptied: DynamoDB drops it).
fn emoji_of(item: &Item) -> Vec<String> {
    match item.get("emoji") {
        Some(AttributeValue::Ss(set)) => set.clone(),
        _ => Vec::new(),
    }
}

/// The message a reaction item is about, from its sort key.
fn reacted_message(item: &Item) -> Option<MessageId> {
    let Some(AttributeValue::S(sk)) = item.get("sk") else {
        return None;
    };
    let (_, id) = sk.rsplit_once('#')?;
    MessageId::parse(id).ok()
}
