//! One module per Lambda function: parse the request, call a service, map the result. The local
//! server and the function binaries run these very handlers.

mod chat_dto;
pub mod deposit;
pub mod donate;
mod dto;
mod idempotent;
pub mod messages;
pub mod profile;
pub mod reset;
pub mod rooms;
pub mod routes;
pub mod signup;
pub mod token;
pub mod transfer;
pub mod upload_url;
pub mod verify_otp;
mod views;
pub mod wallet;
mod wallet_views;
pub mod websocket;
pub mod ws_actions;
pub mod ws_connect;
pub mod ws_deliver;
pub mod ws_disconnect;
pub mod ws_frames;
pub mod ws_message;
pub mod ws_ticket;
pub mod ws_transfer;

use crate::error::Error;
use crate::http::{Body, Request, Response, problem::problem};
use crate::ports::{AccountStore, Clock, LedgerStore};
use crate::settings::Settings;
use async_trait::async_trait;
use std::sync::Arc;

/// What every function shares: the account store, the clock and the settings.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn AccountStore>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Wallets, transfers, donate links and idempotency records (the same table on AWS).
    pub ledger: Arc<dyn LedgerStore>,
}

/// A Lambda function's request handler. It always answers: errors become problem responses
/// (an `Err` out of a Lambda would surface as a bare 5xx from API Gateway).
#[async_trait]
pub trait Function: Send + Sync {
    async fn handle(&self, req: Request) -> Response<Body>;
}

/// The route key of `req` when it is one of `function`'s routes, else 404 `no_route`: checked
/// before any credential, so a function never answers (or authenticates) another one's route.
pub(crate) fn own_route(req: &Request, function: &str) -> Result<String, Error> {
    let key = crate::http::request::route_key(req).ok_or(Error::NoRoute)?;
    match routes::function_of(key) {
        Some(owner) if owner == function => Ok(key.to_owned()),
        _ => Err(Error::NoRoute),
    }
}

/// Turns a handler result into a response, errors included.
pub(crate) fn respond(result: Result<Response<Body>, Error>) -> Response<Body> {
    result.unwrap_or_else(|e| problem(&e))
}
