//! The `transfer` function: POST /wallet/transfers, a payment to another user by username, and
//! POST /wallet/transfers/{id}/refunds, money sent back by the payment's receiver.
//! Both idempotent (see `idempotent`): the key and the body are checked before anything is claimed.

use super::wallet_views::{RefundBody, TransferBody, transfer_body};
use super::{Context, Function, idempotent, respond};
use crate::domain::{Amount, Description, Transfer as Movement};
use crate::error::{Error, Fields, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::ports::Push;
use crate::security::jwt::TokenVerifier;
use crate::services::auth::Authenticator;
use crate::services::refunds::RefundOrder;
use crate::services::wallet::{Order, Render, WalletService};
use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;

pub struct Transfer {
    ctx: Context,
    wallets: WalletService,
    auth: Authenticator,
}

impl Transfer {
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

    async fn transfer(&self, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        let me = self.auth.principal(request::bearer(req), now).await?;
        let key = idempotent::key(req)?;
        let body: TransferBody = request::json_body(req)?;
        let mut fields = Fields::default();
        let amount = fields.take("amount", Amount::from_json(&body.amount));
        let description = fields.take(
            "description",
            Description::parse(body.description.as_deref()),
        );
        let (amount, description) = fields.finish(amount.zip(description))?;
        let render = created;
        idempotent::run(
            self.ctx.ledger.as_ref(),
            me.user.id,
            key,
            idempotent::fingerprint(req),
            now,
            |claim| async move {
                let order = Order {
                    amount,
                    description,
                    claim: &claim,
                    now,
                    render: &render,
                };
                self.wallets.transfer(&me.user, &body.to, order).await
            },
        )
        .await
    }

    async fn refund(&self, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        let me = self.auth.principal(request::bearer(req), now).await?;
        let key = idempotent::key(req)?;
        let body: RefundBody = request::json_body(req)?;
        let mut fields = Fields::default();
        let amount = match &body.amount {
            Some(raw) => fields.take("amount", Amount::from_json(raw)).map(Some),
            None => Some(None),
        };
        let reason = fields.take("reason", Description::parse(body.reason.as_deref()));
        let (amount, reason) = fields.finish(amount.zip(reason))?;
        let transfer_id = request::path_param(req, "id").unwrap_or_default();
        let render: Render<'_> = &created;
        idempotent::run(
            self.ctx.ledger.as_ref(),
            me.user.id,
            key,
            idempotent::fingerprint(req),
            now,
            |claim| async move {
                let order = RefundOrder {
                    amount,
                    reason,
                    claim: &claim,
                    now,
                    render,
                };
                self.wallets.refund(&me.user, &transfer_id, order).await
            },
        )
        .await
    }
}

/// 201 `{transfer, balance}`: what a payment and a refund answer (and their keys replay).
fn created(t: &Movement, balance: Option<i64>) -> crate::ports::StoredAnswer {
    idempotent::answer_of(&response::json(
        201,
        &json!({"transfer": transfer_body(t), "balance": balance}),
    ))
}

#[async_trait]
impl Function for Transfer {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(match request::route_key(&req) {
            Some("POST /wallet/transfers") => self.transfer(&req).await,
            Some("POST /wallet/transfers/{id}/refunds") => self.refund(&req).await,
            _ => Err(Error::NoRoute),
        })
    }
}
