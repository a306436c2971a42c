//! The `messages` function: /rooms/{id}/messages (send, history, edit, delete, reactions), /rooms/{id}/pins and
//! /rooms/{id}/read.

use super::chat_dto::{EditBody, ReadBody, SendBody};
use super::{Context, Function, respond};
use crate::domain::Invalid;
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::security::jwt::TokenVerifier;
use crate::services::auth::{Authenticator, Principal};
use crate::services::chat::{ChatPorts, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT};
use crate::services::messages::{MessageService, NewMessage};
use async_trait::async_trait;
use serde_json::json;

pub struct Messages {
    ctx: Context,
    messages: MessageService,
    auth: Authenticator,
}

impl Messages {
    pub fn new(ctx: Context, chat: ChatPorts, verifier: TokenVerifier) -> Self {
        let auth = Authenticator::new(ctx.store.clone(), verifier);
        Self {
            messages: MessageService::new(chat, ctx.settings.limits),
            ctx,
            auth,
        }
    }

    async fn route(&self, me: Principal, key: &str, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        let me = &me.user;
        let room = request::path_param(req, "id").ok_or(Error::NotFound("room"))?;
        match key {
            "GET /rooms/{id}/messages" => {
                let limit = request::limit(req, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT)?;
                let cursor = request::query_param(req, "cursor");
                // Newest first by `cursor`, or oldest first after `after_seq`: one or the other.
                let page = match after_seq(req, cursor.is_some())? {
                    Some(seq) => {
                        self.messages
                            .history_after(me, &room, seq, limit, now)
                            .await?
                    }
                    None => {
                        self.messages
                            .history(me, &room, limit, cursor.as_deref(), now)
                            .await?
                    }
                };
                Ok(response::json(
                    200,
                    &json!({"items": page.items, "next_cursor": page.next_cursor}),
                ))
            }
            "POST /rooms/{id}/messages" => {
                let body: SendBody = request::json_body(req)?;
                let new = NewMessage {
                    text: body.text,
                    upload_ids: body.upload_ids,
                    client_id: body.client_id,
                    reply_to: body.reply_to,
                };
                let sent = self.messages.send(me, &room, new, now).await?;
                // A retry under a used client id: 200 and the first send's message (nothing
                // stored now), marked like the wallet's replayed answers.
                if sent.replayed {
                    let mut r = response::json(200, &sent.message);
                    r.headers_mut().insert(
                        "idempotent-replayed",
                        lambda_http::http::HeaderValue::from_static("true"),
                    );
                    return Ok(r);
                }
                Ok(response::json(201, &sent.message))
            }
            "PATCH /rooms/{id}/messages/{message_id}" => {
                let id =
                    request::path_param(req, "message_id").ok_or(Error::NotFound("message"))?;
                let body: EditBody = request::json_body(req)?;
                let edited = self
                    .messages
                    .edit(me, &room, &id, body.text.as_deref(), now)
                    .await?;
                Ok(response::json(200, &edited))
            }
            "DELETE /rooms/{id}/messages/{message_id}" => {
                let id =
                    request::path_param(req, "message_id").ok_or(Error::NotFound("message"))?;
                self.messages.delete(me, &room, &id).await?;
                Ok(response::no_content())
            }
            "PUT /rooms/{id}/messages/{message_id}/reactions/{emoji}"
            | "DELETE /rooms/{id}/messages/{message_id}/reactions/{emoji}" => {
                let id =
                    request::path_param(req, "message_id").ok_or(Error::NotFound("message"))?;
                let emoji = request::path_param(req, "emoji").unwrap_or_default();
                let on = key.starts_with("PUT ");
                let now_there = self.messages.react(me, &room, &id, &emoji, on, now).await?;
                Ok(response::json(200, &now_there))
            }
            "GET /rooms/{id}/pins" => {
                let items = self.messages.pins(me, &room, now).await?;
                Ok(response::json(200, &json!({ "items": items })))
            }
            "PUT /rooms/{id}/pins/{message_id}" | "DELETE /rooms/{id}/pins/{message_id}" => {
                let id =
                    request::path_param(req, "message_id").ok_or(Error::NotFound("message"))?;
                match key.starts_with("PUT ") {
                    true => self.messages.pin(me, &room, &id, now).await?,
                    false => self.messages.unpin(me, &room, &id, now).await?,
                }
                Ok(response::no_content())
            }
            "POST /rooms/{id}/read" => {
                let body: ReadBody = request::json_body(req)?;
                self.messages
                    .read(me, &room, body.message_id.as_deref())
                    .await?;
                Ok(response::no_content())
            }
            _ => Err(Error::NoRoute),
        }
    }
}

/// `after_seq`: a whole number of at most 20 digits, never with `cursor`.
fn after_seq(req: &Request, with_cursor: bool) -> Result<Option<u64>> {
    let Some(raw) = request::query_param(req, "after_seq") else {
        return Ok(None);
    };
    let invalid = |why: &str| Error::field("after_seq", Invalid::new(why));
    if with_cursor {
        return Err(invalid("cannot be combined with cursor"));
    }
    if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("must be a whole number"));
    }
    raw.parse()
        .map(Some)
        .map_err(|_| invalid("must be a whole number"))
}

#[async_trait]
impl Function for Messages {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(
            async {
                let key = super::own_route(&req, "messages")?;
                let me = self
                    .auth
                    .principal(request::bearer(&req), self.ctx.clock.now())
                    .await?;
                self.route(me, &key, &req).await
            }
            .await,
        )
    }
}
