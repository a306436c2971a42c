//! Messages: history newest first (or oldest first after a seq, for catching up), sending
//! (posting rules, blocks in direct rooms, the posting limit, one message per client id),
//! deleting (sender, owner or admin) and read markers. Each change is pushed to the room's
//! members as API.md's WebSocket section names it, with the room's `seq` (docs/REALTIME.md),
//! through the outbox: recorded with the change, delivered after the request.

use super::chat::{ChatPorts, Seat};
use super::chat_links::{Download, Links, message_keys};
use super::chat_views::{MessageView, message_view, message_view_in};
use super::send_limit::SendLimit;
use super::uploads::UploadRefusal;
use crate::domain::{
    ClientId, FileRef, MemberRole, Message, MessageId, MessageText, Posting, ReplyTo, Room, RoomId,
    RoomKind, User,
};
use crate::error::{Error, FieldError, Fields, Result};
use crate::ports::{Audience, Event, Outgoing, Page, StoreError};
use crate::settings::Limits;
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
    /// The id of a message of the same room this one answers.
    pub reply_to: Option<String>,
}

/// What a message says, before `MessageService::append` gives it its place in the room.
pub(crate) struct Draft {
    pub text: String,
    pub client_id: Option<String>,
    pub files: Vec<FileRef>,
    pub transfer: Option<serde_json::Value>,
    pub created_at: OffsetDateTime,
    pub reply_to: Option<ReplyTo>,
}

/// What a send answers: the message, and whether it was stored by an earlier send with the same
/// `client_id` (then nothing was stored now and nobody was told).
pub struct Sent {
    pub message: MessageView,
    pub replayed: bool,
}

/// What `MessageService::append` did.
pub(crate) enum Appended {
    /// Stored now, at the room's next seq, with its view as the members get it.
    New(Box<MessageView>),
    /// Not stored: this message would repeat that one.
    Existing(MessageId),
}

pub struct MessageService {
    pub(super) ports: ChatPorts,
    limit: SendLimit,
    pub(super) reaction_limit: SendLimit,
    /// The fan-out thresholds (`read_receipts_max_members`).
    limits: Limits,
}

pub(super) fn not_found_message() -> Error {
    Error::NotFound("message")
}

/// `message {room_id, seq, message}`: `seq` is the message's own.
pub fn message_event(view: &MessageView) -> Event {
    Event::new(
        "message",
        json!({"room_id": view.room_id, "seq": view.seq, "message": view}),
    )
}

pub(super) async fn backoff(attempt: usize) {
    let ceiling = 2u64.saturating_pow(attempt.min(6) as u32);
    tokio::time::sleep(StdDuration::from_millis(rand::random_range(0..=ceiling))).await;
}

impl MessageService {
    pub fn new(ports: ChatPorts, limits: Limits) -> Self {
        let limit = SendLimit::new(ports.limiter.clone());
        let reaction_limit = SendLimit::reactions(ports.limiter.clone());
        Self {
            ports,
            limit,
            reaction_limit,
            limits,
        }
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
        self.views(page, &seat.room, me, now).await
    }

    /// GET /rooms/{id}/messages?after_seq=N: the messages after seq `N`, OLDEST first, for a
    /// client catching up after a gap or a reconnect; the next page's cursor is the last seq
    /// (pass it as `after_seq`).
    pub async fn history_after(
        &self,
        me: &User,
        room: &str,
        after_seq: u64,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Page<MessageView>> {
        let seat = self.ports.seat(&me.id, room).await?;
        let page = self
            .ports
            .chat
            .messages_after(&seat.room.id, after_seq, limit)
            .await?;
        self.views(page, &seat.room, me, now).await
    }

    /// A page of messages as `me` sees them: senders' names, signed file links, replies to
    /// deleted messages hidden, and which reactions are theirs (one range read for the page).
    async fn views(
        &self,
        page: Page<Message>,
        room: &Room,
        me: &User,
        now: OffsetDateTime,
    ) -> Result<Page<MessageView>> {
        let mine = match (
            page.items.iter().map(|m| m.id).min(),
            page.items.iter().map(|m| m.id).max(),
        ) {
            (Some(oldest), Some(newest)) if page.items.iter().any(|m| !m.reactions.is_empty()) => {
                self.ports
                    .chat
                    .reactions_of(&room.id, &me.id, &oldest, &newest)
                    .await?
            }
            _ => Default::default(),
        };
        let deleted = &room.deleted_seqs;
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
                .map(|m| {
                    let mut view = message_view_in(m, &people, deleted);
                    if let Some(emoji) = mine.get(&m.id) {
                        view.reactions = super::reactions::reaction_views(&m.reactions, emoji);
                    }
                    links.message(view, m)
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// POST /rooms/{id}/messages. With a `client_id` the send is stored once however often it is
    /// retried: a retry (concurrent or later) answers the message the first one stored, and
    /// stores and tells nothing.
    pub async fn send(
        &self,
        me: &User,
        room: &str,
        new: NewMessage,
        now: OffsetDateTime,
    ) -> Result<Sent> {
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
        let reply_id = match new.reply_to.as_deref() {
            Some(raw) => fields
                .take(
                    "reply_to",
                    MessageId::parse(raw)
                        .map_err(|_| crate::domain::Invalid::new("is not a message of this room")),
                )
                .map(Some),
            None => Some(None),
        };
        let ((text, client_id), reply_id) = fields.finish(text.zip(client_id).zip(reply_id))?;
        let Seat { room, me: seat } = self.ports.seat(&me.id, room).await?;
        // A later retry: answered before the limit or the uploads are touched again (one
        // `GetItem`, only for sends that carry a client id).
        if let Some(c) = &client_id
            && let Some(id) = self
                .ports
                .chat
                .client_message(&room.id, &me.id, c.as_str())
                .await?
        {
            return self.replay(me, &room.id, &id, now).await;
        }
        self.may_post(&room, seat.role, me).await?;
        // Read before the limit is spent: a reply to nothing of this room is refused for free.
        let reply_to = match &reply_id {
            Some(id) => Some(self.reply_preview(&room, id).await?),
            None => None,
        };
        self.limit.reserve(&me.id, now).await?;
        // Reserved before the message exists, given back if it never does: an upload is never
        // attached to two messages, nor lost to a send that failed.
        let attached = match &new.upload_ids {
            Some(ids) => {
                let result = self
                    .ports
                    .uploads
                    .attach_message_files(&me.id, ids, now)
                    .await;
                match (result, &client_id) {
                    (Ok(attached), _) => attached,
                    // A concurrent retry of this very send holds the uploads: its message is the
                    // answer once it is stored.
                    (Err(Error::Upload(UploadRefusal::AlreadyAttached)), Some(c)) => {
                        return match self.stored_meanwhile(me, &room.id, c.as_str()).await? {
                            Some(id) => self.replay(me, &room.id, &id, now).await,
                            None => Err(Error::Upload(UploadRefusal::AlreadyAttached)),
                        };
                    }
                    (Err(e), _) => return Err(e),
                }
            }
            None => vec![],
        };
        let draft = Draft {
            text: text.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            client_id: client_id.map(|c| c.as_str().to_owned()),
            files: attached.iter().map(|a| FileRef::of(&a.upload)).collect(),
            transfer: None,
            created_at: now,
            reply_to,
        };
        let room_id = room.id;
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
            // Stored: the uploads belong to the message, and its event is in the outbox; the
            // delivery worker takes it to the members' sockets and moves their chat lists.
            Ok(Appended::New(view)) => Ok(Sent {
                message: *view,
                replayed: false,
            }),
            // A concurrent retry stored it first: its uploads stay with that message.
            Ok(Appended::Existing(id)) => {
                self.ports.uploads.release_all(&attached).await;
                self.replay(me, &room_id, &id, now).await
            }
            Err(e) => {
                self.ports.uploads.release_all(&attached).await;
                Err(e)
            }
        }
    }

    /// The message a concurrent send under `client_id` stores, waiting a little for its commit
    /// (it holds the uploads between attaching them and appending: ~0.6 s at most here).
    async fn stored_meanwhile(
        &self,
        me: &User,
        room: &RoomId,
        client_id: &str,
    ) -> Result<Option<MessageId>> {
        for attempt in 0..10 {
            if let Some(id) = self
                .ports
                .chat
                .client_message(room, &me.id, client_id)
                .await?
            {
                return Ok(Some(id));
            }
            backoff(attempt + 4).await;
        }
        Ok(None)
    }

    /// The message an earlier send with the same client id stored, as its sender sees it; 410
    /// `message_deleted` when it was deleted since (the retry still posts nothing).
    async fn replay(
        &self,
        me: &User,
        room: &RoomId,
        id: &MessageId,
        now: OffsetDateTime,
    ) -> Result<Sent> {
        let message = self
            .ports
            .chat
            .message(room, id)
            .await?
            .ok_or(Error::Gone("message_deleted"))?;
        let people = [(me.id, me.clone())].into_iter().collect();
        let links = Links::sign(&self.ports.uploads, message_keys(&message), now).await?;
        Ok(Sent {
            message: links.message(message_view(&message, &people), &message),
            replayed: true,
        })
    }

    /// Appends `draft` as `me`'s message at the room's next seq, retrying when another send took
    /// it. A message posting an in-chat transfer (`draft.transfer`) is stored once per transfer,
    /// and any other message with a client id once per (sender, client id): after a conflict,
    /// the message a duplicate request posted first is the answer and nothing is stored (the
    /// store guards both in the send's transaction). `posting_applies` re-checks
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
                edited_at: None,
                reply_to: draft.reply_to.clone(),
                reactions: Default::default(),
            };
            let view = links.message(message_view(&message, &people), &message);
            let announce = Outgoing::new(
                room.id,
                Audience::Members,
                message_event(&view),
                message.created_at,
            );
            match self
                .ports
                .chat
                .append_message(&room, &message, &[announce])
                .await
            {
                Ok(()) => return Ok(Appended::New(Box::new(view))),
                Err(StoreError::Conflict) => {
                    // Another send took this seq, the sender left, or this is a repeat.
                    if let Some(transfer) = message.transfer_id()
                        && let Some(id) =
                            self.ports.chat.transfer_message(&room.id, transfer).await?
                    {
                        return Ok(Appended::Existing(id));
                    }
                    if let Some(client_id) = message.client_guard()
                        && let Some(id) = self
                            .ports
                            .chat
                            .client_message(&room.id, &me.id, client_id)
                            .await?
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
            // `seq`: the room's, which the delete is conditioned on.
            let deleted = Event::new(
                "deleted",
                json!({
                    "room_id": room.id.to_string(),
                    "seq": room.seq,
                    "message_id": message.id.to_string(),
                }),
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
                    // A pin of it frees its place (best effort: reading the pins finishes it).
                    if let Err(e) = self.ports.chat.unpin(&room.id, &message.id, &[]).await {
                        tracing::warn!(error = %e, "unpinning a deleted message failed");
                    }
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
    /// message; members get `read` when it moved, in rooms of at most
    /// `read_receipts_max_members` (elsewhere a read costs the marker's write alone).
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
        if moved && room.member_count <= self.limits.read_receipts_max_members {
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
                    // The room's seq as read just before the marker moved.
                    "seq": room.seq,
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
