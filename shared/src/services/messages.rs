//! Messages: history newest first, sending (posting rules, blocks in direct rooms, the posting
//! limit), deleting (sender, owner or admin) and read markers. Each change is pushed to the
//! room's members as API.md's WebSocket section names it.

use super::chat::{ChatPorts, Seat};
use super::chat_links::{Download, Links, message_keys};
use super::chat_views::{MessageView, message_view};
use super::send_limit::SendLimit;
use crate::domain::{
    ClientId, FileRef, MemberRole, Message, MessageId, MessageText, Posting, Room, RoomKind, User,
};
use crate::error::{Error, FieldError, Fields, Result};
use crate::ports::{Audience, Event, Outgoing, Page, StoreError};
use serde_json::json;
use std::time::Duration as StdDuration;
use time::OffsetDateTime;

/// How often a send retries after another send took its sequence number.
const SEND_RETRIES: usize = 50;

/// POST /rooms/{id}/messages.
#[derive(Debug, Default)]
pub struct NewMessage {
    pub text: Option<String>,
    pub upload_ids: Option<Vec<String>>,
    pub client_id: Option<String>,
}

/// What a message says, before `MessageService::append` gives it its place in the room.
pub(crate) struct Draft {
    pub text: String,
    pub client_id: Option<String>,
    pub files: Vec<FileRef>,
    pub transfer: Option<serde_json::Value>,
    pub created_at: OffsetDateTime,
}

/// What `MessageService::append` did.
pub(crate) enum Appended {
    /// Stored now, at the room's next seq, with its view as the members get it.
    New(MessageView),
    /// Not stored: this message would repeat that one.
    Existing(MessageId),
}

pub struct MessageService {
    ports: ChatPorts,
    limit: SendLimit,
}

fn not_found_message() -> Error {
    Error::NotFound("message")
}

async fn backoff(attempt: usize) {
    let ceiling = 2u64.saturating_pow(attempt.min(6) as u32);
    tokio::time::sleep(StdDuration::from_millis(rand::random_range(0..=ceiling))).await;
}

impl MessageService {
    pub fn new(ports: ChatPorts) -> Self {
        let limit = SendLimit::new(ports.limiter.clone());
        Self { ports, limit }
    }

    /// GET /rooms/{id}/messages: newest first; `cursor` is the last id of the previous page.
    pub async fn history(
        &self,
        me: &User,
        room: &str,
        limit: usize,
        cursor: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Page<MessageView>> {
        let before = cursor
            .map(|c| {
                MessageId::parse(c).map_err(|_| {
                    Error::Validation(vec![FieldError::new(
                        "cursor",
                        "is not a cursor from a previous page",
                    )])
                })
            })
            .transpose()?;
        let seat = self.ports.seat(&me.id, room).await?;
        let page = self
            .ports
            .chat
            .messages(&seat.room.id, limit, before.as_ref())
            .await?;
        let people = self
            .ports
            .people(page.items.iter().map(|m| m.sender))
            .await?;
        let links = Links::sign(
            &self.ports.uploads,
            page.items.iter().flat_map(message_keys).collect(),
            now,
        )
        .await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(|m| links.message(message_view(m, &people), m))
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// POST /rooms/{id}/messages.
    pub async fn send(
        &self,
        me: &User,
        room: &str,
        new: NewMessage,
        now: OffsetDateTime,
    ) -> Result<MessageView> {
        let mut fields = Fields::default();
        if let Some(ids) = &new.upload_ids {
            super::message_files::check_upload_ids(ids, &mut fields);
        }
        // A message has text, files, or both.
        let text = match new.text.as_deref() {
            Some(raw) => fields.take("text", MessageText::parse(raw)).map(Some),
            None if new.upload_ids.is_none() => {
                fields.take::<MessageText>("text", Err(crate::domain::Invalid::new("is required")));
                None
            }
            None => Some(None),
        };
        let client_id = match new.client_id.as_deref() {
            Some(raw) => fields.take("client_id", ClientId::parse(raw)).map(Some),
            None => Some(None),
        };
        let (text, client_id) = fields.finish(text.zip(client_id))?;
        let Seat { room, me: seat } = self.ports.seat(&me.id, room).await?;
        self.may_post(&room, seat.role, me).await?;
        self.limit.reserve(&me.id, now).await?;
        // Reserved before the message exists, given back if it never does: an upload is never
        // attached to two messages, nor lost to a send that failed.
        let attached = match &new.upload_ids {
            Some(ids) => {
                self.ports
                    .uploads
                    .attach_message_files(&me.id, ids, now)
                    .await?
            }
            None => vec![],
        };
        let draft = Draft {
            text: text.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            client_id: client_id.map(|c| c.as_str().to_owned()),
            files: attached.iter().map(|a| FileRef::of(&a.upload)).collect(),
            transfer: None,
            created_at: now,
        };
        // Signed before the message exists: its event is written in the same transaction.
        let keys = draft.files.iter().cloned().map(Download::File).collect();
        let links = match Links::sign(&self.ports.uploads, keys, now).await {
            Ok(links) => links,
            Err(e) => {
                self.ports.uploads.release_all(&attached).await;
                return Err(e);
            }
        };
        match self.append(me, room, draft, true, &links).await {
            Ok(Appended::New(view)) => Ok(view),
            // A plain send (no transfer) never repeats another message.
            Ok(Appended::Existing(_)) => {
                self.ports.uploads.release_all(&attached).await;
                Err(Error::Conflict)
            }
            Err(e) => {
                self.ports.uploads.release_all(&attached).await;
                Err(e)
            }
        }
        // Stored: the uploads belong to the message, and its event is in the outbox; the
        // delivery worker takes it to the members' sockets and moves their chat lists.
    }

    /// Appends `draft` as `me`'s message at the room's next seq, retrying when another send took
    /// it. A message posting an in-chat transfer (`draft.transfer`) is stored once per transfer:
    /// after a conflict, the message a duplicate request posted for it first is the answer and
    /// nothing is stored (the store guards it by the transfer id). `posting_applies` re-checks
    /// the posting rule on the room as read again; a transfer's message follows money that has
    /// moved already, so it only needs the sender to be still in the room.
    ///
    /// The `message` event goes into the outbox in the message's own transaction (`links` signs
    /// its files), so a stored message is always delivered, after the request, by the worker.
    pub(crate) async fn append(
        &self,
        me: &User,
        room: Room,
        draft: Draft,
        posting_applies: bool,
        links: &Links,
    ) -> Result<Appended> {
        let people = [(me.id, me.clone())].into_iter().collect();
        let mut room = room;
        for attempt in 0..SEND_RETRIES {
            let message = Message {
                id: MessageId::after(room.last_id.as_ref()),
                room_id: room.id,
                seq: room.seq + 1,
                sender: me.id,
                text: draft.text.clone(),
                client_id: draft.client_id.clone(),
                created_at: draft.created_at,
                files: draft.files.clone(),
                transfer: draft.transfer.clone(),
            };
            let view = links.message(message_view(&message, &people), &message);
            let event = Event::new(
                "message",
                json!({"room_id": message.room_id.to_string(), "message": view}),
            );
            let announce = Outgoing::new(room.id, Audience::Members, event, message.created_at);
            match self
                .ports
                .chat
                .append_message(&room, &message, &[announce])
                .await
            {
                Ok(()) => return Ok(Appended::New(view)),
                Err(StoreError::Conflict) => {
                    // Another send took this seq, the sender left, or this is a repeat.
                    if let Some(transfer) = message.transfer_id()
                        && let Some(id) =
                            self.ports.chat.transfer_message(&room.id, transfer).await?
                    {
                        return Ok(Appended::Existing(id));
                    }
                    backoff(attempt).await;
                    let fresh = self.ports.seat(&me.id, &room.id.to_string()).await?;
                    // The posting rule may have changed meanwhile (blocks were checked above).
                    let admins_only = fresh.room.kind == RoomKind::Channel
                        || fresh.room.posting == Posting::Admins;
                    if posting_applies && admins_only && !fresh.me.role.manages() {
                        return Err(Error::Forbidden);
                    }
                    room = fresh.room;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// Channels and `posting: "admins"` rooms take posts from owner and admins only; a block
    /// between the two people stops a direct room both ways.
    pub(crate) async fn may_post(&self, room: &Room, role: MemberRole, me: &User) -> Result<()> {
        let admins_only = room.kind == RoomKind::Channel || room.posting == Posting::Admins;
        if admins_only && !role.manages() {
            return Err(Error::Forbidden);
        }
        if self.ports.blocked_in_direct(room, &me.id).await? {
            return Err(Error::Blocked);
        }
        Ok(())
    }

    /// DELETE /rooms/{id}/messages/{message_id}: the sender, or the room's owner or an admin.
    pub async fn delete(&self, me: &User, room: &str, message_id: &str) -> Result<()> {
        let Seat { mut room, me: seat } = self.ports.seat(&me.id, room).await?;
        let id = MessageId::parse(message_id).map_err(|_| not_found_message())?;
        let message = self
            .ports
            .chat
            .message(&room.id, &id)
            .await?
            .ok_or_else(not_found_message)?;
        if message.sender != me.id && !seat.role.manages() {
            return Err(Error::Forbidden);
        }
        for attempt in 0..SEND_RETRIES {
            let was_last = room.last_message.as_ref().map(|m| m.id) == Some(message.id);
            let last = if was_last {
                self.ports
                    .chat
                    .newest_messages_before(&room.id, &message.id, 1)
                    .await?
                    .into_iter()
                    .next()
            } else {
                None
            };
            let deleted = Event::new(
                "deleted",
                json!({"room_id": room.id.to_string(), "message_id": message.id.to_string()}),
            );
            // `at` only orders a message's chat-list move; for other events it is informative.
            let announce = Outgoing::new(
                room.id,
                Audience::Members,
                deleted,
                OffsetDateTime::now_utc(),
            );
            match self
                .ports
                .chat
                .delete_message(&room, &message, last.as_ref(), &[announce])
                .await
            {
                Ok(()) => {
                    // Deleted: its files are nobody's now (an upload is attached to one message).
                    let keys: Vec<String> = message.files.iter().map(|f| f.key.clone()).collect();
                    self.ports.uploads.forget(&keys).await;
                    return Ok(());
                }
                Err(StoreError::Conflict) => {
                    backoff(attempt).await;
                    let fresh = self.ports.seat(&me.id, &room.id.to_string()).await?;
                    if message.sender != me.id && !fresh.me.role.manages() {
                        return Err(Error::Forbidden);
                    }
                    room = fresh.room;
                    if self
                        .ports
                        .chat
                        .message(&room.id, &message.id)
                        .await?
                        .is_none()
                    {
                        return Err(not_found_message());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// POST /rooms/{id}/read `{message_id}`: moves the caller's read marker forward to that
    /// message; members get `read` when it moved.
    pub async fn read(&self, me: &User, room: &str, message_id: Option<&str>) -> Result<()> {
        let raw = message_id.ok_or_else(|| {
            Error::field("message_id", crate::domain::Invalid::new("is required"))
        })?;
        let Seat { room, .. } = self.ports.seat(&me.id, room).await?;
        let id = MessageId::parse(raw).map_err(|_| not_found_message())?;
        let message = self
            .ports
            .chat
            .message(&room.id, &id)
            .await?
            .ok_or_else(not_found_message)?;
        let moved = match self
            .ports
            .chat
            .mark_read(&me.id, &room.id, message.seq)
            .await
        {
            Ok(moved) => moved,
            Err(StoreError::Conflict) => return Err(Error::NotFound("room")),
            Err(e) => return Err(e.into()),
        };
        if moved {
            // The marker is the reader's own and moves anyway; across a block in a direct room
            // only the reader's own connections hear of it.
            let audience = if self.ports.blocked_in_direct(&room, &me.id).await? {
                Audience::Users(vec![me.id])
            } else {
                Audience::Members
            };
            let event = Event::new(
                "read",
                json!({
                    "room_id": room.id.to_string(),
                    "username": me.username.to_string(),
                    "message_id": message.id.to_string(),
                }),
            );
            // The marker has moved: a receipt that cannot be recorded is only logged.
            self.ports
                .announce(Outgoing::new(
                    room.id,
                    audience,
                    event,
                    OffsetDateTime::now_utc(),
                ))
                .await;
        }
        Ok(())
    }
}
