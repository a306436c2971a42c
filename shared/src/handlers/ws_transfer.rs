//! The WebSocket `transfer` action: money sent inside a chat. It reads the frame, lets the chat
//! say who is paid (`ChatTransfers::prepare`: seat, posting rule, recipient, send limit), moves
//! the money through the very path of `POST /wallet/transfers` (`idempotent::run` around
//! `WalletService::transfer`, the same idempotency store, the key in its own namespace and the
//! fingerprint under its own route name), and posts the message of kind `transfer` carrying the
//! wallet's record (`ChatTransfers::post`, once per transfer). Only the amount, the recipient,
//! the description and the key come from the client.

use super::idempotent;
use super::ws_frames::error_frame_of;
use crate::domain::{Amount, ClientId, Description, IdempotencyKey, Transfer, User};
use crate::error::{Error, Fields, Result};
use crate::http::request::from_json_value;
use crate::ports::{Event, LedgerStore};
use crate::services::chat::ChatPorts;
use crate::services::chat_transfers::{ChatTransfers, Posted};
use crate::services::wallet::{Order, WalletService, transfer_json};
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

fn key_of(raw: Option<&str>) -> Result<IdempotencyKey> {
    match raw {
        None | Some("") => Err(Error::IdempotencyKeyRequired),
        Some(raw) => IdempotencyKey::parse(raw).map_err(|e| Error::field("idempotency_key", e)),
    }
}

impl WsTransfer {
    pub fn new(chat: ChatPorts, ledger: Arc<dyn LedgerStore>, wallets: WalletService) -> Self {
        Self {
            chat: ChatTransfers::new(chat),
            wallets,
            ledger,
        }
    }

    /// Runs a `transfer` frame of `me`: `Ok(None)` when the message went to every member (the
    /// caller's connections too); a replay answers the caller alone with the message it
    /// posted, and a refusal stored under the key answers with the same `error` again.
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
        let payee = self
            .chat
            .prepare(me, &f.room_id, f.to.as_deref(), now)
            .await?;
        // The same request: same room, same person paid, same amount and description (`to`
        // given or left out in a direct room is the same request).
        let fingerprint = idempotent::fingerprint_of(
            ROUTE,
            &json!({
                "room_id": payee.room.id.to_string(),
                "to": payee.user.id.to_string(),
                "amount": amount.minor_units(),
                "description": description.as_str(),
            }),
        );
        let render = |t: &Transfer, balance: Option<i64>| {
            idempotent::answer_of(&crate::http::response::json(
                201,
                &json!({"transfer": transfer_json(t), "balance": balance}),
            ))
        };
        let payee_name = payee.user.username.to_string();
        let response = idempotent::run(
            self.ledger.as_ref(),
            me.id,
            IdempotencyKey::in_namespace(KEY_NAMESPACE, &key),
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
                self.wallets.transfer(me, &payee_name, order).await
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
        let client = client.map(|c| c.as_str().to_owned());
        match self
            .chat
            .post(
                me,
                payee.room,
                document["transfer"].clone(),
                client,
                now,
                replayed,
            )
            .await?
        {
            Posted::New(_) | Posted::Earlier(None) => Ok(None),
            Posted::Earlier(Some(view)) => Ok(Some(Event::new(
                "message",
                json!({"room_id": view.room_id.clone(), "message": view}),
            ))),
        }
    }
}
