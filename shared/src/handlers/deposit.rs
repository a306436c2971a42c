//! The `deposit` function: POST /wallet/deposits, money from outside credited by an admin.

use super::wallet_views::{DepositBody, transfer_body};
use super::{Context, Function, idempotent, respond};
use crate::domain::{Amount, Description, Role, Transfer};
use crate::error::{Error, Fields, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::ports::Push;
use crate::security::jwt::TokenVerifier;
use crate::services::auth::Authenticator;
use crate::services::wallet::{Order, WalletService};
use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;

pub struct Deposit {
    ctx: Context,
    wallets: WalletService,
    auth: Authenticator,
}

impl Deposit {
    pub fn new(ctx: Context, verifier: TokenVerifier, push: Arc<dyn Push>) -> Self {
        let wallets = WalletService::new(
            ctx.store.clone(),
            ctx.ledger.clone(),
            push,
            ctx.settings.currency.clone(),
        );
        let auth = Authenticator::new(ctx.store.clone(), verifier);
        Self { ctx, wallets, auth }
    }

    async fn deposit(&self, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        let me = self.auth.principal(request::bearer(req), now).await?;
        // Refused before anything else: a non-admin learns nothing and claims no key.
        if me.user.role != Role::Admin {
            return Err(Error::Forbidden);
        }
        let key = idempotent::key(req)?;
        let body: DepositBody = request::json_body(req)?;
        let mut fields = Fields::default();
        let amount = fields.take("amount", Amount::from_json(&body.amount));
        let description = fields.take(
            "description",
            Description::parse(body.description.as_deref()),
        );
        let (amount, description) = fields.finish(amount.zip(description))?;
        let render = |t: &Transfer, _: Option<i64>| {
            idempotent::answer_of(&response::json(201, &json!({"transfer": transfer_body(t)})))
        };
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
                self.wallets.deposit(&me.user, &body.username, order).await
            },
        )
        .await
    }
}

#[async_trait]
impl Function for Deposit {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(match request::route_key(&req) {
            Some("POST /wallet/deposits") => self.deposit(&req).await,
            _ => Err(Error::NoRoute),
        })
    }
}
