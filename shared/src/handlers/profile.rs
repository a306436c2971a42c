//! The `profile` function: /me, /users, /users/{username}, blocks.

use super::{
    Context, Function, dto, respond,
    views::{Items, MeView, PageView, UserView},
};
use crate::error::{Error, FieldError, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::security::jwt::TokenVerifier;
use crate::services::auth::{Authenticator, Principal};
use crate::services::profile::{
    BLOCKS_DEFAULT_LIMIT, LIST_MAX_LIMIT, ProfilePatch, ProfileService, SEARCH_DEFAULT_LIMIT,
};
use async_trait::async_trait;

pub struct Profile {
    ctx: Context,
    profiles: ProfileService,
    auth: Authenticator,
}

impl Profile {
    pub fn new(ctx: Context, verifier: TokenVerifier) -> Self {
        let profiles = ProfileService::new(ctx.store.clone());
        let auth = Authenticator::new(ctx.store.clone(), verifier);
        Self {
            ctx,
            profiles,
            auth,
        }
    }

    fn me_view(&self, me: &crate::domain::User) -> MeView {
        MeView::new(me)
    }

    fn username(req: &Request) -> Result<String> {
        request::path_param(req, "username").ok_or(Error::NotFound("user"))
    }

    async fn route(&self, me: Principal, key: &str, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        match key {
            "GET /me" => Ok(response::json(200, &self.me_view(&me.user))),
            "PATCH /me" => {
                let body: dto::PatchMeBody = request::json_body(req)?;
                let patch = ProfilePatch {
                    username: body.username,
                    first_name: body.first_name,
                    last_name: body.last_name,
                    bio: body.bio,
                    avatar_upload_id: body.avatar_upload_id,
                };
                let updated = self.profiles.update(&me.user, patch).await?;
                Ok(response::json(200, &self.me_view(&updated)))
            }
            "GET /users/{username}" => {
                let user = self.profiles.public(&Self::username(req)?).await?;
                Ok(response::json(200, &UserView::from(&user)))
            }
            "GET /users" => {
                let q = request::query_param(req, "q")
                    .ok_or_else(|| Error::Validation(vec![FieldError::new("q", "is required")]))?;
                let limit = request::limit(req, SEARCH_DEFAULT_LIMIT, LIST_MAX_LIMIT)?;
                let found = self.profiles.search(&me.user, &q, limit).await?;
                Ok(response::json(
                    200,
                    &Items {
                        items: found.iter().map(UserView::from).collect(),
                    },
                ))
            }
            "POST /users/{username}/block" => {
                self.profiles
                    .block(&me.user, &Self::username(req)?, now)
                    .await?;
                Ok(response::no_content())
            }
            "DELETE /users/{username}/block" => {
                self.profiles
                    .unblock(&me.user, &Self::username(req)?)
                    .await?;
                Ok(response::no_content())
            }
            "GET /me/blocks" => {
                let limit = request::limit(req, BLOCKS_DEFAULT_LIMIT, LIST_MAX_LIMIT)?;
                let cursor = request::query_param(req, "cursor");
                let page = self
                    .profiles
                    .blocks(&me.user, limit, cursor.as_deref())
                    .await?;
                Ok(response::json(
                    200,
                    &PageView {
                        items: page.items.iter().map(UserView::from).collect(),
                        next_cursor: page.next_cursor,
                    },
                ))
            }
            _ => Err(Error::NoRoute),
        }
    }
}

#[async_trait]
impl Function for Profile {
    async fn handle(&self, req: Request) -> Response<Body> {
        let Some(key) = request::route_key(&req).map(str::to_owned) else {
            return respond(Err(Error::NoRoute));
        };
        if super::routes::function_of(&key) != Some("profile") {
            return respond(Err(Error::NoRoute));
        }
        respond(
            match self
                .auth
                .principal(request::bearer(&req), self.ctx.clock.now())
                .await
            {
                Ok(me) => self.route(me, &key, &req).await,
                Err(e) => Err(e),
            },
        )
    }
}
