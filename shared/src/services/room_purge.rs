//! Finishing a room's deletion: what a deleted room owned goes after its marker is written
//! (`ChatStore::delete_room`), in an order that survives being stopped anywhere (docs/CHAT.md,
//! "Room deletion"):
//!
//! 1. its members still listed leave the subscription index (large rooms only);
//! 2. its avatar and the files of its messages still stored are deleted from storage;
//! 3. its items are purged a page at a time, the marker last.
//!
//! Each step works from what the store still holds, and a step's inputs are only deleted by a
//! later step, so a run that stops part-way leaves the marker and enough for the next run (a
//! repeat delete by the owner, `RoomService::delete`) to do the rest; doing a step twice is
//! harmless.

use super::chat::ChatPorts;
use crate::domain::{MessageId, RoomId};
use crate::error::Result;
use crate::ports::{Purge, RoomDeletion};
use time::Duration;

/// How long the clean-up that wrote or took over a deletion holds it: longer than a request
/// may run (the functions' `Timeout: 10`), so a repeat delete only takes over one that stopped.
pub const DELETION_HOLD: Duration = Duration::seconds(30);
/// Items purged per store call (4 `BatchWriteItem`s of 25).
const PURGE_PAGE: usize = 100;
/// Messages read per page when collecting their files.
const FILES_PAGE: usize = 100;

impl ChatPorts {
    /// Runs a deleted room's clean-up to its end (see the module doc).
    pub async fn finish_deletion(&self, deletion: &RoomDeletion) -> Result<()> {
        let room = deletion.room_id;
        if deletion.subscribed {
            let members = self.member_ids(&room).await?;
            self.unsubscribe_all(&room, &members).await;
        }
        let mut files: Vec<String> = deletion.avatar_key.iter().cloned().collect();
        files.extend(self.files_of(&room).await?);
        // Nobody's now. Deleted before the messages naming them, so a stop in between leaves
        // names to delete again, never a file nothing names.
        self.uploads.forget(&files).await;
        while self.chat.purge_room(&room, PURGE_PAGE).await? == Purge::More {}
        tracing::info!(room_id = %room, "deleted room collected");
        Ok(())
    }

    /// The storage keys of the files of a room's messages, read page by page (a room's
    /// deletion reads its whole history once; docs/UPLOADS.md).
    async fn files_of(&self, room: &RoomId) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut before: Option<MessageId> = None;
        loop {
            let page = self
                .chat
                .messages(room, FILES_PAGE, before.as_ref())
                .await?;
            keys.extend(
                page.items
                    .iter()
                    .flat_map(|m| m.files.iter().map(|f| f.key.clone())),
            );
            match page.next_cursor.as_deref().map(MessageId::parse) {
                Some(Ok(next)) => before = Some(next),
                _ => return Ok(keys),
            }
        }
    }
}
