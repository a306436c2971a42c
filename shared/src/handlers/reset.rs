//! The `reset` function: forgotten password, reset by emailed link, and password change.

use super::{Context, Function, dto, respond};
use crate::domain::Email;
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::ports::Mailer;
use crate::security::jwt::TokenVerifier;
use crate::services::{auth::Authenticator, password::PasswordService, socket_sweep::SocketSweep};
use async_trait::async_trait;
use std::sync::Arc;

pub struct Reset {
    ctx: Context,
    passwords: PasswordService,
    auth: Authenticator,
}

impl Reset {
    /// `sockets` closes the WebSockets of the sessions a reset or a change ends.
    pub fn new(
        ctx: Context,
        mailer: Arc<dyn Mailer>,
        verifier: TokenVerifier,
        sockets: SocketSweep,
    ) -> Self {
        let passwords =
            PasswordService::new(ctx.store.clone(), mailer, ctx.settings.clone(), sockets);
        let auth = Authenticator::new(ctx.store.clone(), verifier);
        Self {
            ctx,
            passwords,
            auth,
        }
    }

    async fn forgot(&self, req: &Request) -> Result<Response<Body>> {
        let body: dto::ForgotBody = request::json_body(req)?;
        let email = Email::parse(&body.email).map_err(|e| Error::field("email", e))?;
        let from = request::client_address(req);
        self.passwords
            .forgot(&email, &from, self.ctx.clock.now())
            .await?;
        Ok(response::json(
            202,
            &serde_json::json!({ "message": "If an account uses this email, a reset link is on its way." }),
        ))
    }

    async fn reset(&self, req: &Request) -> Result<Response<Body>> {
        let body: dto::ResetBody = request::json_body(req)?;
        let now = self.ctx.clock.now();
        self.passwords
            .reset(
                &body.token,
                &body.new_password,
                &body.confirm_password,
                &request::client_address(req),
                now,
            )
            .await?;
        Ok(response::no_content())
    }

    async fn change(&self, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        let me = self.auth.principal(request::bearer(req), now).await?;
        let body: dto::ChangeBody = request::json_body(req)?;
        self.passwords
            .change(
                &me.user,
                &body.current_password,
                &body.new_password,
                &request::client_address(req),
                now,
            )
            .await?;
        Ok(response::no_content())
    }
}

#[async_trait]
impl Function for Reset {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(match request::route_key(&req) {
            Some("POST /auth/password/forgot") => self.forgot(&req).await,
            Some("POST /auth/password/reset") => self.reset(&req).await,
            Some("POST /auth/password/change") => self.change(&req).await,
            _ => Err(Error::NoRoute),
        })
    }
}
