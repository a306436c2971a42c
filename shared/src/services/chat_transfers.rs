//! Money in chat: the chat's side of the WebSocket `transfer` action. Before any money moves it
//! checks what a send checks (the caller's seat, the posting rule, blocks in a direct room) and
//! who is paid (the other person of a direct room, or `to`, a member, in a group or channel),
//! then takes a slot of the send limit. After the wallet moved the money it posts the message
//! of kind `transfer` carrying the wallet's record, at most once per transfer whatever is
//! retried: the store writes a guard keyed by the transfer id in the same transaction as the
//! message, so a replay finds the message instead of posting a second one, and a retry after a
//! crash between the two steps posts the missing one.

use super::chat::{ChatPorts, Seat};
use super::chat_links::Links;
use super::chat_views::{MessageView, message_view};
use super::messages::{Appended, Draft, MessageService};
use super::send_limit::SendLimit;
use crate::domain::{Invalid, MessageId, Room, RoomId, User};
use crate::error::{Error, Result};
use crate::settings::Limits;
use serde_json::Value;
use time::OffsetDateTime;

/// A transfer the chat allows: the room as read and the person paid.
pub struct Payee {
    pub room: Room,
    pub user: User,
}

/// What posting a transfer's message did.
pub enum Posted {
    /// Posted now: every member's connections got `message`.
    New(MessageView),
    /// The transfer had its message already (a replay); `None` when it was deleted since.
    Earlier(Option<MessageView>),
}

pub struct ChatTransfers {
    ports: ChatPorts,
    messages: MessageService,
    limit: SendLimit,
}

/// One message for an unknown name and for a non-member, so `to` never tells who exists.
fn not_a_member() -> Error {
    Error::field("to", Invalid::new("is not a member of this room"))
}

impl ChatTransfers {
    pub fn new(ports: ChatPorts, limits: Limits) -> Self {
        Self {
            messages: MessageService::new(ports.clone(), limits),
            limit: SendLimit::new(ports.limiter.clone()),
            ports,
        }
    }

    /// Who `me` may pay in `room`, checked in the order of a send, then one slot of the send
    /// limit (reserved in the store before the money moves, so a limited transfer moves nothing).
    pub async fn prepare(
        &self,
        me: &User,
        room: &str,
        to: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Payee> {
        let Seat { room, me: seat } = self.ports.seat(&me.id, room).await?;
        self.messages.may_post(&room, seat.role, me).await?;
        let user = match room.kind {
            crate::domain::RoomKind::Direct => {
                let other = room
                    .pair
                    .iter()
                    .find(|id| **id != me.id)
                    .ok_or(Error::Refused("self_transfer"))?;
                let user = self
                    .ports
                    .accounts
                    .user(other)
                    .await?
                    .ok_or_else(not_a_member)?;
                // `to` is optional here; given, it must name the other person.
                if to.is_some_and(|name| name != user.username.as_str()) {
                    return Err(not_a_member());
                }
                user
            }
            _ => {
                let name = to.ok_or_else(|| {
                    Error::field("to", Invalid::new("is required in a group or channel"))
                })?;
                let user = self
                    .ports
                    .user_named(name)
                    .await?
                    .ok_or_else(not_a_member)?;
                if user.id == me.id {
                    return Err(Error::Refused("self_transfer"));
                }
                if self.ports.chat.member(&room.id, &user.id).await?.is_none() {
                    return Err(not_a_member());
                }
                user
            }
        };
        self.limit.reserve(&me.id, now).await?;
        Ok(Payee { room, user })
    }

    /// Posts `transfer` (the wallet's record) in `room` as `me`'s message, unless it has one:
    /// `maybe_posted` (a replayed key) looks for it first; a lost race finds it too.
    pub async fn post(
        &self,
        me: &User,
        room: Room,
        transfer: Value,
        client_id: Option<String>,
        now: OffsetDateTime,
        maybe_posted: bool,
    ) -> Result<Posted> {
        let transfer_id = transfer["id"]
            .as_str()
            .ok_or_else(|| Error::Unexpected(anyhow::anyhow!("a transfer record without id")))?
            .to_owned();
        if maybe_posted
            && let Some(id) = self
                .ports
                .chat
                .transfer_message(&room.id, &transfer_id)
                .await?
        {
            return self.earlier(me, &room.id, &id).await;
        }
        let draft = Draft {
            text: transfer["description"].as_str().unwrap_or("").to_owned(),
            client_id,
            files: vec![],
            transfer: Some(transfer),
            created_at: now,
            reply_to: None,
        };
        let room_id = room.id;
        // A transfer message carries no files: nothing to sign.
        let links = Links::default();
        match self.messages.append(me, room, draft, false, &links).await? {
            Appended::New(view) => Ok(Posted::New(*view)),
            Appended::Existing(id) => self.earlier(me, &room_id, &id).await,
        }
    }

    async fn earlier(&self, me: &User, room: &RoomId, id: &MessageId) -> Result<Posted> {
        let Some(message) = self.ports.chat.message(room, id).await? else {
            return Ok(Posted::Earlier(None));
        };
        let people = [(me.id, me.clone())].into_iter().collect();
        Ok(Posted::Earlier(Some(message_view(&message, &people))))
    }
}
