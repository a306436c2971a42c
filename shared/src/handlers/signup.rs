//! The `signup` function: POST /auth/signup.

use super::{Context, Function, dto::SignupBody, respond};
use crate::domain::time::rfc3339;
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::ports::Mailer;
use crate::security::otp::OtpKey;
use crate::services::signup::{SignupForm, SignupService};
use async_trait::async_trait;
use std::sync::Arc;

pub struct Signup {
    ctx: Context,
    signups: SignupService,
}

impl Signup {
    pub fn new(ctx: Context, mailer: Arc<dyn Mailer>, otp: OtpKey) -> Self {
        let signups = SignupService::new(ctx.store.clone(), mailer, otp, ctx.settings.clone());
        Self { ctx, signups }
    }

    async fn signup(&self, req: &Request) -> Result<Response<Body>> {
        let body: SignupBody = request::json_body(req)?;
        let form = SignupForm {
            username: body.username,
            email: body.email,
            password: body.password,
            first_name: body.first_name,
            last_name: body.last_name,
            bio: body.bio,
        };
        let from = request::client_address(req);
        let started = self
            .signups
            .start(form, &from, self.ctx.clock.now())
            .await?;
        Ok(response::json(
            202,
            &serde_json::json!({
                "signup_id": started.signup_id.to_string(),
                "email": started.email.as_str(),
                "expires_at": rfc3339(started.expires_at),
            }),
        ))
    }
}

#[async_trait]
impl Function for Signup {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(match request::route_key(&req) {
            Some("POST /auth/signup") => self.signup(&req).await,
            _ => Err(Error::NoRoute),
        })
    }
}
