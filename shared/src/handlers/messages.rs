//! The `messages` function: /rooms/{id}/messages and /rooms/{id}/read.

use super::chat_dto::{ReadBody, SendBody};
use super::{Context, Function, respond};
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
            ctx,
            messages: MessageService::new(chat),
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
                let page = self
                    .messages
                    .history(me, &room, limit, cursor.as_deref(), now)
                    .await?;
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
                };
                Ok(response::json(
                    201,
                    &self.messages.send(me, &room, new, now).await?,
                ))
            }
            "DELETE /rooms/{id}/messages/{message_id}" => {
                let id =
                    request::path_param(req, "message_id").ok_or(Error::NotFound("message"))?;
                self.messages.delete(me, &room, &id).await?;
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
