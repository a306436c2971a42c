//! The `wallet` function: GET /wallet (balance), GET /wallet/transactions (history) and
//! GET /wallet/transfers/{id} (one transfer with its refunds, for either party).

use super::wallet_views::{EntryView, transfer_detail, wallet_json};
use super::{Context, Function, respond, views::PageView};
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::ports::Push;
use crate::security::jwt::TokenVerifier;
use crate::services::auth::{Authenticator, Principal};
use crate::services::wallet::{HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, WalletService};
use async_trait::async_trait;
use std::sync::Arc;

pub struct Wallet {
    ctx: Context,
    wallets: WalletService,
    auth: Authenticator,
}

impl Wallet {
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

    async fn route(&self, me: Principal, key: &str, req: &Request) -> Result<Response<Body>> {
        match key {
            "GET /wallet" => {
                let wallet = self.wallets.wallet(&me.user).await?;
                let allowance = self.wallets.daily_allowance(&wallet, self.ctx.clock.now());
                Ok(response::json(
                    200,
                    &wallet_json(&wallet, self.wallets.currency().as_str(), allowance),
                ))
            }
            "GET /wallet/transactions" => {
                let limit = request::limit(req, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)?;
                let cursor = request::query_param(req, "cursor");
                let page = self
                    .wallets
                    .history(&me.user, limit, cursor.as_deref())
                    .await?;
                Ok(response::json(
                    200,
                    &PageView {
                        items: page.items.iter().map(EntryView::from).collect(),
                        next_cursor: page.next_cursor,
                    },
                ))
            }
            "GET /wallet/transfers/{id}" => {
                let raw = request::path_param(req, "id").unwrap_or_default();
                let entry = self.wallets.transfer_of(&me.user, &raw).await?;
                let refunds = self.wallets.refunds_of(&entry).await?;
                Ok(response::json(200, &transfer_detail(&entry, &refunds)))
            }
            _ => Err(Error::NoRoute),
        }
    }
}

#[async_trait]
impl Function for Wallet {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(
            async {
                let key = super::own_route(&req, "wallet")?;
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
