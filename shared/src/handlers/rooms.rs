//! The `rooms` function: /rooms, /rooms/{id}, members, and the caller's invitations
//! (/me/invitations: they are chat items, written with the rooms' own rights).

use super::chat_dto::{AddMembersBody, CreateRoomBody, PatchRoomBody, SetRoleBody};
use super::{Context, Function, respond};
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::security::jwt::TokenVerifier;
use crate::services::auth::{Authenticator, Principal};
use crate::services::chat::{ChatPorts, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT};
use crate::services::invitations::InvitationService;
use crate::services::rooms::{NewGroup, RoomPatch, RoomService};
use async_trait::async_trait;
use serde_json::json;

pub struct Rooms {
    ctx: Context,
    rooms: RoomService,
    invitations: InvitationService,
    auth: Authenticator,
}

impl Rooms {
    pub fn new(ctx: Context, chat: ChatPorts, verifier: TokenVerifier) -> Self {
        let auth = Authenticator::new(ctx.store.clone(), verifier);
        Self {
            rooms: RoomService::new(chat.clone(), ctx.settings.limits),
            invitations: InvitationService::new(chat, ctx.settings.limits),
            ctx,
            auth,
        }
    }

    async fn route(&self, me: Principal, key: &str, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        let me = &me.user;
        let room = || request::path_param(req, "id").ok_or(Error::NotFound("room"));
        let username = || request::path_param(req, "username").ok_or(Error::NotFound("member"));
        match key {
            "POST /rooms" => {
                let body: CreateRoomBody = request::json_body(req)?;
                if body.kind == "direct" {
                    let extra = [
                        ("name", body.name.is_some()),
                        ("description", body.description.is_some()),
                        ("members", body.members.is_some()),
                    ];
                    if let Some((field, _)) = extra.iter().find(|(_, set)| *set) {
                        return Err(Error::field(
                            field,
                            crate::domain::Invalid::new("not for a direct room"),
                        ));
                    }
                    let Some(name) = body.username.as_deref() else {
                        return Err(Error::field(
                            "username",
                            crate::domain::Invalid::new("is required for a direct room"),
                        ));
                    };
                    let (room, created) = self.rooms.open_direct(me, name, now).await?;
                    Ok(response::json(if created { 201 } else { 200 }, &room))
                } else {
                    if body.username.is_some() {
                        return Err(Error::field(
                            "username",
                            crate::domain::Invalid::new("only for a direct room; use members"),
                        ));
                    }
                    let new = NewGroup {
                        kind: body.kind,
                        name: body.name,
                        description: body.description,
                        members: body.members.unwrap_or_default(),
                    };
                    Ok(response::json(
                        201,
                        &self.rooms.create_group(me, new, now).await?,
                    ))
                }
            }
            "GET /rooms" => {
                let limit = request::limit(req, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT)?;
                let cursor = request::query_param(req, "cursor");
                let page = self.rooms.list(me, limit, cursor.as_deref(), now).await?;
                Ok(response::json(
                    200,
                    &json!({"items": page.items, "next_cursor": page.next_cursor}),
                ))
            }
            "GET /rooms/{id}" => Ok(response::json(
                200,
                &self.rooms.get(me, &room()?, now).await?,
            )),
            "PATCH /rooms/{id}" => {
                let body: PatchRoomBody = request::json_body(req)?;
                let patch = RoomPatch {
                    name: body.name,
                    description: body.description,
                    posting: body.posting,
                    avatar_upload_id: body.avatar_upload_id,
                };
                Ok(response::json(
                    200,
                    &self.rooms.update(me, &room()?, patch, now).await?,
                ))
            }
            "DELETE /rooms/{id}" => {
                self.rooms.delete(me, &room()?, now).await?;
                Ok(response::no_content())
            }
            "POST /rooms/{id}/members" => {
                let body: AddMembersBody = request::json_body(req)?;
                let view = self
                    .rooms
                    .add_members(me, &room()?, &body.usernames, now)
                    .await?;
                Ok(response::json(200, &view))
            }
            "DELETE /rooms/{id}/members/{username}" => {
                self.rooms.remove_member(me, &room()?, &username()?).await?;
                Ok(response::no_content())
            }
            "PATCH /rooms/{id}/members/{username}" => {
                let body: SetRoleBody = request::json_body(req)?;
                let view = self
                    .rooms
                    .set_role(me, &room()?, &username()?, body.role.as_deref(), now)
                    .await?;
                Ok(response::json(200, &view))
            }
            "GET /me/invitations" => {
                let limit = request::limit(req, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT)?;
                let cursor = request::query_param(req, "cursor");
                let page = self.invitations.list(me, limit, cursor.as_deref()).await?;
                Ok(response::json(
                    200,
                    &json!({"items": page.items, "next_cursor": page.next_cursor}),
                ))
            }
            "POST /me/invitations/{room_id}/accept" => {
                let id =
                    request::path_param(req, "room_id").ok_or(Error::NotFound("invitation"))?;
                Ok(response::json(
                    200,
                    &self.invitations.accept(me, &id, now).await?,
                ))
            }
            "POST /me/invitations/{room_id}/decline" => {
                if let Some(id) = request::path_param(req, "room_id") {
                    self.invitations.decline(me, &id).await?;
                }
                Ok(response::no_content())
            }
            _ => Err(Error::NoRoute),
        }
    }
}

#[async_trait]
impl Function for Rooms {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(
            async {
                let key = super::own_route(&req, "rooms")?;
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
