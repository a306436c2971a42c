//! The WebSocket `transfer` action: money sent inside a chat. It reads the frame, lets the chat
//! say who is paid (`ChatTransfers::prepare`: seat, posting rule, recipient, send limit), moves
//! the money through the very path of `POST /wallet/transfers` (`idempotent::run` around
//! `WalletService::transfer`, the same idempotency store, the key in its own namespace and the
//! fingerprint under its own route name), and posts the message of kind `transfer` carrying the
//! wallet's record (`ChatTransfers::post`, once per transfer). Only the amount, the recipient,
//! the description and the key come from the client. The payee is paid by the id the chat
//! checked, never looked up again by name.

use super::idempotent;
use super::ws_frames::error_frame_of;
use crate::domain::{Amount, ClientId, Description, IdempotencyKey, Transfer, User};
use crate::error::{Error, Fields, Result};
use crate::http::request::from_json_value;
use crate::ports::{Event, LedgerStore};
use crate::services::chat::ChatPorts;
use crate::services::chat_transfers::{ChatTransfers, Posted};
use crate::services::messages::message_event;
use crate::services::wallet::{Order, WalletService, transfer_json};
use crate::settings::Limits;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use time::OffsetDateTime;

/// The fingerprint's route: no HTTP route is called this.
const ROUTE: &str = "WS transfer";
/// The idempotency keys' namespace: apart from every `Idempotency-Key` header.
const KEY_NAMESPACE: &str = "ws-transfer";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferFrame {
    room_id: String,
    #[serde(default)]
    amount: Value,
    to: Option<String>,
    description: Option<String>,
    idempotency_key: Option<String>,
}

/// The `transfer` action and the services behind it.
pub struct WsTransfer {
    chat: ChatTransfers,
    wallets: WalletService,
    ledger: Arc<dyn LedgerStore>,
}

/// `transfer_sent` to the caller alone: the payment a key made (`answer`, the wallet's stored
/// 201 body), when the chat cannot answer with its message in `room` (the payer left, the room
/// is gone, or the chat refuses the frame now).
fn sent_unposted(room: &str, answer: &str, client_id: Option<String>) -> Event {
    let document: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
    Event::new(
        "transfer_sent",
        json!({
            "room_id": room,
            "transfer": document["transfer"],
            "balance": document["balance"],
            "client_id": client_id,
        }),
    )
}

fn key_of(raw: Option<&str>) -> Result<IdempotencyKey> {
    match raw {
        None | Some("") => Err(Error::IdempotencyKeyRequired),
        Some(raw) => IdempotencyKey::parse(raw).map_err(|e| Error::field("idempotency_key", e)),
    }
}

impl WsTransfer {
    pub fn new(
        chat: ChatPorts,
        ledger: Arc<dyn LedgerStore>,
        wallets: WalletService,
        limits: Limits,
    ) -> Self {
        Self {
            chat: ChatTransfers::new(chat, limits),
            wallets,
            ledger,
        }
    }

    /// Runs a `transfer` frame of `me`: `Ok(None)` when the message went to every member (the
    /// caller's connections too); a replay answers the caller alone with the message it
    /// posted, and a refusal stored under the key answers with the same `error` again. A key
    /// whose money moved but whose message cannot be posted (the payer is no longer in the
    /// room, or it is gone) answers `transfer_sent` with the payment, on the first try and on
    /// every retry.
    pub async fn run(
        &self,
        me: &User,
        fields: Value,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<Event>> {
        let f: TransferFrame = from_json_value(fields)?;
        let key = key_of(f.idempotency_key.as_deref())?;
        let mut checked = Fields::default();
        let amount = checked.take("amount", Amount::from_json(&f.amount));
        let description = checked.take("description", Description::parse(f.description.as_deref()));
        let client = match client_id {
            Some(raw) => checked.take("client_id", ClientId::parse(raw)).map(Some),
            None => Some(None),
        };
        let ((amount, description), client) =
            checked.finish(amount.zip(description).zip(client))?;
        // The same request: the same frame as sent (room, `to`, amount, description), so a
        // retry is recognised before any chat rule runs, whatever changed in the room since.
        let fingerprint = idempotent::fingerprint_of(
            ROUTE,
            &json!({
                "room_id": f.room_id,
                "to": f.to,
                "amount": amount.minor_units(),
                "description": description.as_str(),
            }),
        );
        let key = IdempotencyKey::in_namespace(KEY_NAMESPACE, &key);
        let client = client.map(|c| c.as_str().to_owned());
        let payee = match self
            .chat
            .prepare(me, &f.room_id, f.to.as_deref(), now)
            .await
        {
            Ok(payee) => payee,
            // Refused now, but this key may have moved money before (the payer was removed
            // from the room, the room deleted, a block, the send limit): that payment is the
            // answer, never the refusal.
            Err(refused) => {
                return match idempotent::answered(
                    self.ledger.as_ref(),
                    me.id,
                    key,
                    fingerprint,
                    now,
                )
                .await?
                {
                    Some(answer) if answer.status == 201 => {
                        Ok(Some(sent_unposted(&f.room_id, &answer.body, client)))
                    }
                    _ => Err(refused),
                };
            }
        };
        let render = |t: &Transfer, balance: Option<i64>| {
            idempotent::answer_of(&crate::http::response::json(
                201,
                &json!({"transfer": transfer_json(t), "balance": balance}),
            ))
        };
        let response = idempotent::run(
            self.ledger.as_ref(),
            me.id,
            key,
            fingerprint,
            now,
            |claim| async move {
                let order = Order {
                    amount,
                    description,
                    claim: &claim,
                    now,
                    render: &render,
                };
                // The member checked above, by id: a rename since cannot pay anyone else.
                self.wallets.transfer_to(me, &payee.user, order).await
            },
        )
        .await?;
        let replayed = response.headers().contains_key("idempotent-replayed");
        let body: &[u8] = response.body().as_ref();
        let document: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if response.status().as_u16() != 201 {
            // The key's answer is a refusal (e.g. insufficient_funds): the same error each time.
            let frame = error_frame_of("transfer", client_id, &document);
            return Ok(Some(Event::new("error", frame)));
        }
        let room_id = payee.room.id.to_string();
        match self
            .chat
            .post(
                me,
                payee.room,
                document["transfer"].clone(),
                client.clone(),
                now,
                replayed,
            )
            .await
        {
            Ok(Posted::New(_) | Posted::Earlier(None)) => Ok(None),
            Ok(Posted::Earlier(Some(view))) => Ok(Some(message_event(&view))),
            // The money moved but the payer left the room (or it was deleted) meanwhile: the
            // payer learns the payment; the room shows nothing, as it no longer has them.
            Err(Error::NotFound(_) | Error::Forbidden) => Ok(Some(sent_unposted(
                &room_id,
                &String::from_utf8_lossy(body),
                client,
            ))),
            Err(e) => Err(e),
        }
    }
}
