//! What each client action does. Every action is a thin call into the same services the HTTP
//! routes use (one rule, written once); this file only reads the frame's fields into their
//! types and says which event the caller gets back. The caller is the connection's owner as
//! stored at `$connect`: names and ids in a frame never say who is acting.

use super::Context;
use super::ws_frames::Frame;
use super::ws_transfer::WsTransfer;
use crate::domain::{Connection, User};
use crate::error::{Error, Result};
use crate::http::request::from_json_value;
use crate::ports::{Clock, Event};
use crate::services::chat::ChatPorts;
use crate::services::messages::{MessageService, NewMessage};
use crate::services::wallet::WalletService;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendFrame {
    room_id: String,
    text: Option<String>,
    upload_ids: Option<Vec<String>>,
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

/// The actions and the services behind them.
#[derive(Clone)]
pub struct Actions {
    chat: ChatPorts,
    messages: Arc<MessageService>,
    transfers: Arc<WsTransfer>,
    clock: Arc<dyn Clock>,
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
        );
        Self {
            messages: Arc::new(MessageService::new(chat.clone())),
            transfers: Arc::new(WsTransfer::new(chat.clone(), ctx.ledger.clone(), wallets)),
            chat,
            clock: ctx.clock.clone(),
        }
    }

    /// The connection's owner as stored now (current username; a deleted account acts no more).
    async fn owner(&self, caller: &Connection) -> Result<User> {
        self.chat
            .accounts
            .user(&caller.user_id)
            .await?
            .ok_or(Error::Unauthorized)
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
                };
                // The sender's connections get the `message` event with the others.
                self.messages
                    .send(&me, &f.room_id, new, self.clock.now())
                    .await?;
                Ok(None)
            }
            "typing" => {
                let f: TypingFrame = from_json_value(fields)?;
                let me = self.owner(caller).await?;
                let seat = self.chat.seat(&me.id, &f.room_id).await?;
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
            "transfer" => {
                let me = self.owner(caller).await?;
                self.transfers
                    .run(&me, fields, frame.client_id.as_deref(), self.clock.now())
                    .await
            }
            _ => Err(Error::Refused("unknown_action")),
        }
    }
}
