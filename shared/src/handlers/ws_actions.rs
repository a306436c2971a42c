//! What each client action does. Every action is a thin call into the same services the HTTP
//! routes use (one rule, written once); this file only reads the frame's fields into their
//! types and says which event the caller gets back. The caller is the connection's owner as
//! stored at `$connect`: names and ids in a frame never say who is acting.
//!
//! Every action but `ping` reads the owner's account anyway, so it also compares the user's
//! session epoch with the connection's (free: same item); `transfer` moves money and also reads
//! the connection's session (one `GetItem` more), in case a sweep failed to remove the record.
//! Either refusal is `unauthorized`, on which `ws-message` closes the socket.

use super::Context;
use super::ws_frames::Frame;
use super::ws_transfer::WsTransfer;
use crate::domain::{Connection, User};
use crate::error::{Error, Result};
use crate::http::request::from_json_value;
use crate::ports::{Clock, Event, RateDecision};
use crate::services::chat::ChatPorts;
use crate::services::messages::{MessageService, NewMessage, message_event};
use crate::services::wallet::WalletService;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// At most one `typing` event is relayed per person and room in any window of this length;
/// the frames between are dropped without an answer (a typing indicator loses nothing by it,
/// and one client cannot make every member's sockets busy with it).
pub const TYPING_WINDOW: time::Duration = time::Duration::seconds(2);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendFrame {
    room_id: String,
    text: Option<String>,
    upload_ids: Option<Vec<String>>,
    reply_to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypingFrame {
    room_id: String,
    is_typing: bool,
}

/// `read` and `delete`: a message of a room.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageFrame {
    room_id: String,
    message_id: String,
}

/// `edit`: a message of a room and its new text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditFrame {
    room_id: String,
    message_id: String,
    text: Option<String>,
}

/// The actions and the services behind them.
#[derive(Clone)]
pub struct Actions {
    chat: ChatPorts,
    messages: Arc<MessageService>,
    transfers: Arc<WsTransfer>,
    clock: Arc<dyn Clock>,
    /// `typing` is relayed only in rooms of at most this many members.
    typing_max_members: u32,
}

impl Actions {
    /// The chat's ports, and from `ctx` the clock, the ledger and the currency (in-chat
    /// transfers are wallet transfers; their `transfer_received` goes through the chat's push).
    pub fn new(chat: ChatPorts, ctx: &Context) -> Self {
        let wallets = WalletService::new(
            chat.accounts.clone(),
            ctx.ledger.clone(),
            chat.push.clone(),
            ctx.settings.currency.clone(),
        )
        .with_daily_cap(ctx.settings.limits.outgoing_per_day);
        Self {
            messages: Arc::new(MessageService::new(chat.clone(), ctx.settings.limits)),
            transfers: Arc::new(WsTransfer::new(
                chat.clone(),
                ctx.ledger.clone(),
                wallets,
                ctx.settings.limits,
            )),
            chat,
            clock: ctx.clock.clone(),
            typing_max_members: ctx.settings.limits.typing_max_members,
        }
    }

    /// The connection's owner as stored now (current username; a deleted account acts no more),
    /// while the user's session epoch is still the connection's.
    async fn owner(&self, caller: &Connection) -> Result<User> {
        self.chat
            .accounts
            .user(&caller.user_id)
            .await?
            .filter(|u| u.session_epoch == caller.epoch)
            .ok_or(Error::Unauthorized)
    }

    /// The owner, as `owner`, and the connection's session itself still open: the money path's
    /// defence against a record that outlived its session.
    async fn owner_in_session(&self, caller: &Connection) -> Result<User> {
        let (user, session) = tokio::try_join!(self.owner(caller), async {
            Ok(self.chat.accounts.session(&caller.session_id).await?)
        })?;
        let live = session
            .is_some_and(|s| !s.revoked && s.user_id == user.id && self.clock.now() < s.expires_at);
        if live {
            Ok(user)
        } else {
            Err(Error::Unauthorized)
        }
    }

    /// Runs `frame` for `caller`: `Some(event)` is answered to the caller alone.
    pub async fn run(&self, caller: &Connection, frame: &Frame) -> Result<Option<Event>> {
        let fields = Value::Object(frame.fields.clone());
        match frame.action.as_str() {
            "ping" => Ok(Some(Event::new("pong", json!({})))),
            "send" => {
                let f: SendFrame = from_json_value(fields)?;
                let me = self.owner(caller).await?;
                let new = NewMessage {
                    text: f.text,
                    upload_ids: f.upload_ids,
                    client_id: frame.client_id.clone(),
                    reply_to: f.reply_to,
                };
                // The sender's connections get the `message` event with the others; a retry under
                // a used client id posts nothing, and the caller alone gets the first one's.
                let sent = self
                    .messages
                    .send(&me, &f.room_id, new, self.clock.now())
                    .await?;
                if sent.replayed {
                    return Ok(Some(message_event(&sent.message)));
                }
                Ok(None)
            }
            "typing" => {
                let f: TypingFrame = from_json_value(fields)?;
                let me = self.owner(caller).await?;
                let seat = self.chat.seat(&me.id, &f.room_id).await?;
                // A large room hears nobody typing: the frame is dropped like a windowed one.
                if seat.room.member_count > self.typing_max_members {
                    return Ok(None);
                }
                // The window first: frames it drops cost no block lookup.
                let key = format!("typing#{}#{}", me.id, seat.room.id);
                let slot = self
                    .chat
                    .limiter
                    .reserve(&key, 1, TYPING_WINDOW, self.clock.now())
                    .await?;
                if let RateDecision::Limited { .. } = slot {
                    return Ok(None);
                }
                // Across a block "is typing…" reaches nobody, like a send there.
                if self.chat.blocked_in_direct(&seat.room, &me.id).await? {
                    return Err(Error::Blocked);
                }
                let others: Vec<_> = self
                    .chat
                    .member_ids(&seat.room.id)
                    .await?
                    .into_iter()
                    .filter(|id| *id != me.id)
                    .collect();
                let event = Event::new(
                    "typing",
                    json!({
                        "room_id": seat.room.id.to_string(),
                        "username": me.username.as_str(),
                        "is_typing": f.is_typing,
                    }),
                );
                self.chat.emit(&others, event).await;
                Ok(None)
            }
            "read" => {
                let f: MessageFrame = from_json_value(fields)?;
                let me = self.owner(caller).await?;
                self.messages
                    .read(&me, &f.room_id, Some(&f.message_id))
                    .await?;
                Ok(None)
            }
            "delete" => {
                let f: MessageFrame = from_json_value(fields)?;
                let me = self.owner(caller).await?;
                self.messages.delete(&me, &f.room_id, &f.message_id).await?;
                Ok(None)
            }
            "edit" => {
                let f: EditFrame = from_json_value(fields)?;
                let me = self.owner(caller).await?;
                self.messages
                    .edit(
                        &me,
                        &f.room_id,
                        &f.message_id,
                        f.text.as_deref(),
                        self.clock.now(),
                    )
                    .await?;
                Ok(None)
            }
            "transfer" => {
                let me = self.owner_in_session(caller).await?;
                self.transfers
                    .run(&me, fields, frame.client_id.as_deref(), self.clock.now())
                    .await
            }
            _ => Err(Error::Refused("unknown_action")),
        }
    }
}
