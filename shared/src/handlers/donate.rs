//! The `donate` function: donate links. Create, list own, revoke, pay (idempotent), and the
//! public view that needs no login.

use super::wallet_views::{LinkBody, PayBody, link_json, transfer_body};
use super::{Context, Function, idempotent, respond, views::Items};
use crate::domain::{Amount, Description, DonateLinkId, Invalid, Transfer};
use crate::error::{Error, Fields, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::ports::Push;
use crate::security::jwt::TokenVerifier;
use crate::services::auth::{Authenticator, Principal};
use crate::services::wallet::{LINK_MINUTES, WalletService};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Donate {
    ctx: Context,
    wallets: WalletService,
    auth: Authenticator,
}

fn minutes(raw: &Value) -> std::result::Result<u32, Invalid> {
    let invalid = || {
        Invalid::new(format!(
            "must be a whole number of minutes from {} to {}",
            LINK_MINUTES.start(),
            LINK_MINUTES.end()
        ))
    };
    let n = match raw {
        Value::Number(n) if !n.is_f64() => n.as_u64().ok_or_else(invalid)?,
        _ => return Err(invalid()),
    };
    u32::try_from(n)
        .ok()
        .filter(|m| LINK_MINUTES.contains(m))
        .ok_or_else(invalid)
}

impl Donate {
    pub fn new(ctx: Context, verifier: TokenVerifier, push: Arc<dyn Push>) -> Self {
        let wallets = WalletService::new(
            ctx.store.clone(),
            ctx.ledger.clone(),
            push,
            ctx.settings.currency.clone(),
        )
        .with_daily_cap(ctx.settings.limits.outgoing_per_day);
        let auth = Authenticator::new(ctx.store.clone(), verifier);
        Self { ctx, wallets, auth }
    }

    /// The `{id}` of the path; a malformed one names no link: 404.
    fn link_id(req: &Request) -> Result<DonateLinkId> {
        request::path_param(req, "id")
            .and_then(|raw| DonateLinkId::parse(&raw).ok())
            .ok_or(Error::NotFound("donate link"))
    }

    fn view(&self, link: &crate::domain::DonateLink, owner: &crate::domain::User) -> Value {
        link_json(
            link,
            owner,
            &self.ctx.settings.app_url,
            self.wallets.currency().as_str(),
            self.ctx.clock.now(),
        )
    }

    async fn create(&self, me: &Principal, req: &Request) -> Result<Response<Body>> {
        let body: LinkBody = request::json_body(req)?;
        let mut fields = Fields::default();
        let minutes = fields.take("expires_in_minutes", minutes(&body.expires_in_minutes));
        let amount = match &body.amount {
            None | Some(Value::Null) => Some(None),
            Some(v) => fields.take("amount", Amount::from_json(v)).map(Some),
        };
        let description = fields.take(
            "description",
            Description::parse(body.description.as_deref()),
        );
        let (minutes, (amount, description)) =
            fields.finish(minutes.zip(amount.zip(description)))?;
        let now = self.ctx.clock.now();
        let link = self
            .wallets
            .create_link(&me.user, amount, description, minutes, now)
            .await?;
        Ok(response::json(201, &self.view(&link, &me.user)))
    }

    async fn pay(&self, me: Principal, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        let id = Self::link_id(req)?;
        let key = idempotent::key(req)?;
        let body: PayBody = request::json_body(req)?;
        let amount = match &body.amount {
            None | Some(Value::Null) => None,
            Some(v) => Some(Amount::from_json(v).map_err(|e| Error::field("amount", e))?),
        };
        let render = |t: &Transfer, balance: Option<i64>| {
            idempotent::answer_of(&response::json(
                201,
                &json!({"transfer": transfer_body(t), "balance": balance}),
            ))
        };
        idempotent::run(
            self.ctx.ledger.as_ref(),
            me.user.id,
            key,
            idempotent::fingerprint(req),
            now,
            |claim| async move {
                self.wallets
                    .pay_link(&me.user, &id, amount, &claim, now, &render)
                    .await
            },
        )
        .await
    }

    async fn authenticated(&self, key: &str, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        let me = self.auth.principal(request::bearer(req), now).await?;
        match key {
            "POST /donate-links" => self.create(&me, req).await,
            "GET /donate-links" => {
                let links = self.wallets.links(&me.user).await?;
                Ok(response::json(
                    200,
                    &Items {
                        items: links.iter().map(|l| self.view(l, &me.user)).collect(),
                    },
                ))
            }
            "DELETE /donate-links/{id}" => {
                self.wallets.revoke(&me.user, &Self::link_id(req)?).await?;
                Ok(response::no_content())
            }
            "POST /donate-links/{id}/pay" => self.pay(me, req).await,
            _ => Err(Error::NoRoute),
        }
    }
}

#[async_trait]
impl Function for Donate {
    async fn handle(&self, req: Request) -> Response<Body> {
        let key = match super::own_route(&req, "donate") {
            Ok(key) => key,
            Err(e) => return respond(Err(e)),
        };
        respond(match key.as_str() {
            // Public: whoever holds the link may see whom it pays.
            "GET /donate-links/{id}" => match Self::link_id(&req) {
                Ok(id) => self
                    .wallets
                    .public_link(&id, self.ctx.clock.now())
                    .await
                    .map(|(link, owner)| response::json(200, &self.view(&link, &owner))),
                Err(e) => Err(e),
            },
            _ => self.authenticated(&key, &req).await,
        })
    }
}
