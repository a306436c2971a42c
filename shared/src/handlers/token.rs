//! The `token` function: login, refresh, logout and logout-all.

use super::{Context, Function, dto, respond, views::TokensView};
use crate::domain::Password;
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::security::jwt::TokenSigner;
use crate::services::{
    auth::Authenticator,
    sessions::{SessionService, end_all_sessions},
    socket_sweep::SocketSweep,
};
use async_trait::async_trait;

pub struct Token {
    ctx: Context,
    sessions: SessionService,
    auth: Authenticator,
    sockets: SocketSweep,
}

impl Token {
    /// `sockets` closes the WebSockets of the sessions logout, logout-all and a reused refresh
    /// token end.
    pub fn new(ctx: Context, signer: TokenSigner, sockets: SocketSweep) -> Self {
        let auth = Authenticator::new(ctx.store.clone(), signer.verifier().clone());
        let sessions = SessionService::new(ctx.store.clone(), signer, ctx.settings.limits)
            .ending_sockets(sockets.clone());
        Self {
            ctx,
            sessions,
            auth,
            sockets,
        }
    }

    async fn login(&self, req: &Request) -> Result<Response<Body>> {
        let body: dto::LoginBody = request::json_body(req)?;
        // Out-of-range input cannot be anyone's password: same answer as a wrong one.
        let password =
            Password::presented(&body.password).map_err(|_| Error::InvalidCredentials)?;
        if body.login.trim().is_empty() || body.login.len() > 254 {
            return Err(Error::InvalidCredentials);
        }
        let tokens = self
            .sessions
            .login(
                &body.login,
                &password,
                &request::client_address(req),
                self.ctx.clock.now(),
            )
            .await?;
        Ok(response::json(200, &TokensView::from(tokens)))
    }

    async fn refresh(&self, req: &Request) -> Result<Response<Body>> {
        let body: dto::RefreshBody = request::json_body(req)?;
        let tokens = self
            .sessions
            .refresh(&body.refresh_token, self.ctx.clock.now())
            .await?;
        Ok(response::json(200, &TokensView::from(tokens)))
    }

    async fn logout(&self, req: &Request) -> Result<Response<Body>> {
        let body: dto::RefreshBody = request::json_body(req)?;
        self.sessions.logout(&body.refresh_token).await?;
        Ok(response::no_content())
    }

    async fn logout_all(&self, req: &Request) -> Result<Response<Body>> {
        let me = self
            .auth
            .principal(request::bearer(req), self.ctx.clock.now())
            .await?;
        end_all_sessions(self.ctx.store.as_ref(), &self.sockets, &me.user).await?;
        Ok(response::no_content())
    }
}

#[async_trait]
impl Function for Token {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(match request::route_key(&req) {
            Some("POST /auth/token") => self.login(&req).await,
            Some("POST /auth/token/refresh") => self.refresh(&req).await,
            Some("POST /auth/logout") => self.logout(&req).await,
            Some("POST /auth/logout-all") => self.logout_all(&req).await,
            _ => Err(Error::NoRoute),
        })
    }
}
