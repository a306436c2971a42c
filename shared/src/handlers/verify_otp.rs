//! The `verify-otp` function: POST /auth/signup/verify and POST /auth/signup/resend.

use super::{
    Context, Function, dto, respond,
    views::{MeView, TokensView},
};
use crate::domain::{OtpCode, SignupId, time::rfc3339};
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::ports::Mailer;
use crate::security::{jwt::TokenSigner, otp::OtpKey};
use crate::services::{sessions::SessionService, signup::SignupService};
use async_trait::async_trait;
use std::sync::Arc;

pub struct VerifyOtp {
    ctx: Context,
    signups: SignupService,
    sessions: SessionService,
}

impl VerifyOtp {
    pub fn new(ctx: Context, mailer: Arc<dyn Mailer>, otp: OtpKey, signer: TokenSigner) -> Self {
        let signups = SignupService::new(ctx.store.clone(), mailer, otp, ctx.settings.clone());
        let sessions = SessionService::new(ctx.store.clone(), signer, ctx.settings.limits);
        Self {
            ctx,
            signups,
            sessions,
        }
    }

    async fn verify(&self, req: &Request) -> Result<Response<Body>> {
        let body: dto::VerifyBody = request::json_body(req)?;
        let id = SignupId::parse(&body.signup_id).map_err(|e| Error::field("signup_id", e))?;
        let code = OtpCode::parse(&body.code).map_err(|e| Error::field("code", e))?;
        let now = self.ctx.clock.now();
        let user = self.signups.verify(&id, &code, now).await?;
        // The new account's wallet. A failure here costs nothing: a missing wallet reads as 0
        // and is written by the first money it receives.
        if let Err(e) = self.ctx.ledger.open_wallet(&user.id, now).await {
            tracing::warn!(error = %e, user_id = %user.id, "wallet not opened at verification");
        }
        let tokens = self.sessions.open(&user, now).await?;
        let me = MeView::new(&user);
        Ok(response::json(
            201,
            &serde_json::json!({ "user": me, "tokens": TokensView::from(tokens) }),
        ))
    }

    async fn resend(&self, req: &Request) -> Result<Response<Body>> {
        let body: dto::ResendBody = request::json_body(req)?;
        let id = SignupId::parse(&body.signup_id).map_err(|e| Error::field("signup_id", e))?;
        let from = request::client_address(req);
        let expires_at = self
            .signups
            .resend(&id, &from, self.ctx.clock.now())
            .await?;
        Ok(response::json(
            202,
            &serde_json::json!({ "expires_at": rfc3339(expires_at) }),
        ))
    }
}

#[async_trait]
impl Function for VerifyOtp {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(match request::route_key(&req) {
            Some("POST /auth/signup/verify") => self.verify(&req).await,
            Some("POST /auth/signup/resend") => self.resend(&req).await,
            _ => Err(Error::NoRoute),
        })
    }
}
