//! The `ws-ticket` function: POST /ws/tickets, a single-use ticket to open a WebSocket.

use super::{Context, Function, respond};
use crate::domain::SessionBinding;
use crate::domain::time::rfc3339;
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::ports::ConnectionStore;
use crate::security::jwt::TokenVerifier;
use crate::services::auth::Authenticator;
use crate::services::realtime::RealtimeService;
use async_trait::async_trait;
use std::sync::Arc;

pub struct WsTicket {
    ctx: Context,
    auth: Authenticator,
    realtime: RealtimeService,
    /// The WebSocket API's URL (`wss://.../{stage}` on AWS, `ws://127.0.0.1:3001/` locally).
    ws_url: String,
}

impl WsTicket {
    pub fn new(
        ctx: Context,
        verifier: TokenVerifier,
        connections: Arc<dyn ConnectionStore>,
        ws_url: impl Into<String>,
    ) -> Self {
        Self {
            auth: Authenticator::new(ctx.store.clone(), verifier),
            realtime: RealtimeService::new(ctx.store.clone(), connections),
            ws_url: ws_url.into(),
            ctx,
        }
    }

    async fn ticket(&self, req: &Request) -> Result<Response<Body>> {
        let now = self.ctx.clock.now();
        let me = self.auth.principal(request::bearer(req), now).await?;
        // The ticket, and the connection it opens, live no longer than this session.
        let session = SessionBinding {
            user_id: me.user.id,
            session_id: me.session_id,
            epoch: me.user.session_epoch,
        };
        let issued = self.realtime.issue_ticket(session, now).await?;
        // The ticket is base64url: safe in a query string as it is.
        let url = format!("{}?ticket={}", self.ws_url, issued.ticket);
        Ok(response::json(
            201,
            &serde_json::json!({
                "ticket": issued.ticket,
                "url": url,
                "expires_at": rfc3339(issued.expires_at),
            }),
        ))
    }
}

#[async_trait]
impl Function for WsTicket {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(match request::route_key(&req) {
            Some("POST /ws/tickets") => self.ticket(&req).await,
            _ => Err(Error::NoRoute),
        })
    }
}
