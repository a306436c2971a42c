//! Cold-start configuration of the Lambda functions, read once from the environment. A missing or
//! bad setting stops the function at init with a message naming it (never a secret's value).

use crate::adapters::{
    dynamodb::{DynamoAccounts, DynamoLedger},
    ses::SesMailer,
};
use crate::handlers::Context;
use crate::ports::{Mailer, Push, SystemClock};
use crate::security::jwt::{TokenSigner, TokenVerifier};
use crate::security::otp::OtpKey;
use crate::settings::Settings;
use anyhow::Context as _;
use std::sync::Arc;

fn required(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .with_context(|| format!("{name} is not set"))
}

/// Store (`TABLE_NAME`), clock and settings for a function running on AWS.
pub fn context(aws: &aws_config::SdkConfig) -> anyhow::Result<Context> {
    let table = required("TABLE_NAME")?;
    let store = DynamoAccounts::from_config(aws, &table);
    Ok(Context {
        ledger: Arc::new(DynamoLedger::from_config(aws, table)),
        store: Arc::new(store),
        clock: Arc::new(SystemClock),
        settings: Arc::new(settings()?),
    })
}

/// `Settings::from_env` plus the wallet's `CURRENCY` (default `USD`; a bad code stops init).
fn settings() -> anyhow::Result<Settings> {
    let mut settings = Settings::from_env()?;
    if let Ok(raw) = std::env::var("CURRENCY") {
        settings.currency =
            crate::domain::Currency::parse(&raw).map_err(|e| anyhow::anyhow!("CURRENCY {e}"))?;
    }
    Ok(settings)
}

/// SES, sending as `MAIL_FROM`.
pub fn mailer(aws: &aws_config::SdkConfig) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(Arc::new(SesMailer::new(aws, required("MAIL_FROM")?)))
}

/// The signup-code key, `OTP_SECRET` (at least 32 bytes).
pub fn otp_key() -> anyhow::Result<OtpKey> {
    OtpKey::new(required("OTP_SECRET")?.as_bytes())
}

/// The JWT signer, from `JWT_PRIVATE_KEY` and `JWT_PUBLIC_KEY` (Ed25519 PEMs).
pub fn signer(ctx: &Context) -> anyhow::Result<TokenSigner> {
    TokenSigner::from_pems(
        &required("JWT_PRIVATE_KEY")?,
        &required("JWT_PUBLIC_KEY")?,
        ctx.settings.token_scope.clone(),
    )
}

/// The JWT verifier, from `JWT_PUBLIC_KEY` only.
pub fn verifier(ctx: &Context) -> anyhow::Result<TokenVerifier> {
    TokenVerifier::from_public_pem(&required("JWT_PUBLIC_KEY")?, &ctx.settings.token_scope)
}

/// The WebSocket connections, in the accounts table (`TABLE_NAME`).
pub fn connections(
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<Arc<dyn crate::ports::ConnectionStore>> {
    Ok(Arc::new(
        crate::adapters::dynamodb::DynamoConnections::from_config(aws, required("TABLE_NAME")?),
    ))
}

/// The real push: connections from the table, posts through the WebSocket API's `@connections`
/// endpoint (`WS_MANAGEMENT_URL`, `https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
pub fn push(ctx: &Context, aws: &aws_config::SdkConfig) -> anyhow::Result<Arc<dyn Push>> {
    let api =
        crate::adapters::apigw::ApiGatewayConnections::new(aws, &required("WS_MANAGEMENT_URL")?);
    Ok(Arc::new(
        crate::adapters::websocket_push::WebSocketPush::new(
            connections(aws)?,
            Arc::new(api),
            ctx.clock.clone(),
        ),
    ))
}

/// The WebSocket URL tickets point at (`WS_URL`, `wss://...`).
pub fn ws_url() -> anyhow::Result<String> {
    required("WS_URL")
}

/// The chat's ports on AWS: rooms, messages and send windows in the same table (`TABLE_NAME`);
/// events delivered to WebSocket connections by the real push (`WS_MANAGEMENT_URL`).
pub fn chat(
    aws: &aws_config::SdkConfig,
    ctx: &Context,
) -> anyhow::Result<crate::services::chat::ChatPorts> {
    let chat = Arc::new(crate::adapters::dynamodb::DynamoChat::from_config(
        aws,
        required("TABLE_NAME")?,
    ));
    Ok(crate::services::chat::ChatPorts {
        accounts: ctx.store.clone(),
        chat: chat.clone(),
        limiter: chat,
        push: push(ctx, aws)?,
    })
}
