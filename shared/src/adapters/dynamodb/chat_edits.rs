//! Editing a message's text in `DynamoChat`: one transaction of the message item (conditioned on
//! the text and edit time it was read with), the room's preview when it is the last message
//! (conditioned on still being the last), and the `edited` event in the outbox.

use super::chat::{DynamoChat, put, tx_to_store, values};
use super::chat_items::*;
use super::items::{n, s};
use super::outbox_items::outbox_item;
use crate::domain::Message;
use crate::domain::Room;
use crate::domain::time::to_millis;
use crate::ports::{Outgoing, StoreError};
use anyhow::anyhow;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

impl DynamoChat {
    pub(super) async fn edit(
        &self,
        room: &Room,
        before: &Message,
        edited: &Message,
        announce: &[Outgoing],
    ) -> Result<(), StoreError> {
        let at = edited
            .edited_at
            .ok_or_else(|| StoreError::Unexpected(anyhow!("an edit without edited_at")))?;
        let mut vals = values([
            (":old", s(&before.text)),
            (":text", s(&edited.text)),
            (":at", n(to_millis(at))),
        ]);
        // Conditioned on what the edit was decided on: an edit or delete since makes it decide
        // again, so two edits never interleave and a deleted message is never brought back.
        let unchanged = match before.edited_at {
            Some(prev) => {
                vals.insert(":prev".into(), n(to_millis(prev)));
                "attribute_exists(pk) AND #text = :old AND edited_at = :prev"
            }
            None => "attribute_exists(pk) AND #text = :old AND attribute_not_exists(edited_at)",
        };
        let message = Update::builder()
            .table_name(self.table())
            .set_key(Some(message_key(&room.id, &before.id)))
            .update_expression("SET #text = :text, edited_at = :at")
            .condition_expression(unchanged)
            .expression_attribute_names("#text", "text")
            .set_expression_attribute_values(Some(vals))
            .build()
            .map_err(|e| StoreError::Unexpected(anyhow!(e)))?;
        let mut items = vec![TransactWriteItem::builder().update(message).build()];
        if room.last_message.as_ref().map(|m| m.id) == Some(before.id) {
            // The chat list shows the room's copy: it moves with the edit, while it is still this
            // message (a send since moved it on, and then it is not to be touched).
            let preview = Update::builder()
                .table_name(self.table())
                .set_key(Some(room_key(&room.id)))
                .update_expression("SET #last = :last")
                .condition_expression("#last.id = :id")
                .expression_attribute_names("#last", "last")
                .expression_attribute_values(
                    ":last",
                    AttributeValue::M(message_fields(&edited.preview())),
                )
                .expression_attribute_values(":id", s(before.id.to_string()))
                .build()
                .map_err(|e| StoreError::Unexpected(anyhow!(e)))?;
            items.push(TransactWriteItem::builder().update(preview).build());
        }
        for record in announce {
            items.push(put(self.table(), outbox_item(record), None)?);
        }
        self.transact(items).await.map_err(tx_to_store)
    }
}
