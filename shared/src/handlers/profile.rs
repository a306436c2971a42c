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
use crate::services::uploads::UploadService;
use async_trait::async_trait;
use time::OffsetDateTime;

pub struct Profile {
    ctx: Context,
    profiles: ProfileService,
    auth: Authenticator,
    uploads: UploadService,
}

impl Profile {
    pub fn new(ctx: Context, verifier: TokenVerifier, uploads: UploadService) -> Self {
        let profiles = ProfileService::new(ctx.store.clone(), uploads.clone());
        let auth = Authenticator::new(ctx.store.clone(), verifier);
        Self {
            ctx,
            profiles,
            auth,
            uploads,
        }
    }

    async fn me_view(&self, me: &crate::domain::User, now: OffsetDateTime) -> Result<MeView> {
        let url = self
            .uploads
            .download_urls(&[me.avatar_key.as_deref()], now)
            .await?;
        Ok(MeView::new(me).with_avatar_url(url.into_iter().flatten().next()))
    }

    /// `User` views with avatar URLs: a public profile's avatar is anyone's to see.
    async fn user_views(
        &self,
        users: &[crate::domain::PublicProfile],
        now: OffsetDateTime,
    ) -> Result<Vec<UserView>> {
        let keys: Vec<Option<&str>> = users.iter().map(|u| u.avatar_key.as_deref()).collect();
        let urls = self.uploads.download_urls(&keys, now).await?;
        Ok(users
            .iter()
            .zip(urls)
            .map(|(u, url)| UserView::from(u).with_avatar_url(url))
            .collect())
    }

    fn username(req: &Request) -> Result<String> {
        request::path_param(req, "username").ok_or(Error::NotFound("user"))
    }

    async fn route(&self, me: Principal, key: &str, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        match key {
            "GET /me" => Ok(response::json(200, &self.me_view(&me.user, now).await?)),
            "PATCH /me" => {
                let body: dto::PatchMeBody = request::json_body(req)?;
                let patch = ProfilePatch {
                    username: body.username,
                    first_name: body.first_name,
                    last_name: body.last_name,
                    bio: body.bio,
                    group_adds: body.group_adds,
                    avatar_upload_id: body.avatar_upload_id,
                };
                let updated = self.profiles.update(&me.user, patch, now).await?;
                Ok(response::json(200, &self.me_view(&updated, now).await?))
            }
            "GET /users/{username}" => {
                let user = self.profiles.public(&Self::username(req)?).await?;
                let view = self.user_views(&[(&user).into()], now).await?.pop();
                Ok(response::json(200, &view.ok_or(Error::NotFound("user"))?))
            }
            "GET /users" => {
                let q = request::query_param(req, "q")
                    .ok_or_else(|| Error::Validation(vec![FieldError::new("q", "is required")]))?;
                let limit = request::limit(req, SEARCH_DEFAULT_LIMIT, LIST_MAX_LIMIT)?;
                let found = self.profiles.search(&me.user, &q, limit).await?;
                Ok(response::json(
                    200,
                    &Items {
                        items: self.user_views(&found, now).await?,
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
                        items: self
                            .user_views(&page.items.iter().map(Into::into).collect::<Vec<_>>(), now)
                            .await?,
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
        respond(
            async {
                let key = super::own_route(&req, "profile")?;
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
