//! Cold-start configuration of the Lambda functions, read once from the environment. A missing or
//! bad setting stops the function at init with a message naming it (never a value), which
//! `lambda::start` reports to the Runtime API. No secret is in the environment: the functions that
//! need one get a Secrets Manager secret id here and read the secret on first use
//! (`adapters::key_secrets`, docs/KEYS.md).

use crate::adapters::key_secrets::{OtpKeySecret, SigningKeySecret};
use crate::adapters::secrets_manager::SecretOnFirstUse;
use crate::adapters::{
    dynamodb::{DynamoAccounts, DynamoLedger},
    s3::S3Files,
    ses::SesMailer,
};
use crate::handlers::Context;
use crate::ports::{Mailer, Push, SystemClock};
use crate::security::jwt::TokenVerifier;
use crate::services::uploads::UploadService;
use crate::settings::Settings;
use anyhow::Context as _;
use std::sync::Arc;

/// The function's one DynamoDB client, built on first use and shared by every adapter: building
/// a client (its runtime plugins, endpoint resolver, retry and identity caches) cost each
/// adapter its own share of init, and separate clients kept separate connection pools. A Lambda
/// process has one `SdkConfig`; the binaries are the only callers.
fn dynamodb(aws: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    static CLIENT: std::sync::OnceLock<aws_sdk_dynamodb::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| aws_sdk_dynamodb::Client::new(aws))
        .clone()
}

/// Where settings are read from: `process_env` on Lambda, a map in tests.
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn required_in(vars: Vars, name: &str) -> anyhow::Result<String> {
    vars(name)
        .filter(|v| !v.trim().is_empty())
        .with_context(|| format!("{name} is not set"))
}

fn required(name: &str) -> anyhow::Result<String> {
    required_in(&process_env, name)
}

/// Store (`TABLE_NAME`), clock and settings for a function running on AWS.
pub fn context(aws: &aws_config::SdkConfig) -> anyhow::Result<Context> {
    let table = required("TABLE_NAME")?;
    let store = DynamoAccounts::new(dynamodb(aws), &table);
    Ok(Context {
        ledger: Arc::new(DynamoLedger::new(dynamodb(aws), table)),
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

/// Uploads: the upload records in `TABLE_NAME` and the files in the S3 bucket `BUCKET_NAME`.
pub fn uploads(aws: &aws_config::SdkConfig) -> anyhow::Result<UploadService> {
    let store = DynamoAccounts::new(dynamodb(aws), required("TABLE_NAME")?);
    let files = S3Files::new(aws, required("BUCKET_NAME")?);
    Ok(UploadService::new(Arc::new(store), Arc::new(files)))
}

/// SES, sending as `MAIL_FROM`.
pub fn mailer(aws: &aws_config::SdkConfig) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(Arc::new(SesMailer::new(aws, required("MAIL_FROM")?)))
}

/// The signup-code key, in the secret `OTP_SECRET_ID` names (read on first use).
pub fn otp_key(aws: &aws_config::SdkConfig) -> anyhow::Result<OtpKeySecret> {
    otp_key_in(aws, &process_env)
}

pub fn otp_key_in(aws: &aws_config::SdkConfig, vars: Vars) -> anyhow::Result<OtpKeySecret> {
    let id = required_in(vars, "OTP_SECRET_ID")?;
    Ok(OtpKeySecret::new(SecretOnFirstUse::new(aws, id)))
}

/// The JWT signer: its private key in the secret `JWT_SIGNING_KEY_SECRET_ID` names (read on
/// first use), verifying with `JWT_PUBLIC_KEYS`.
pub fn signer(aws: &aws_config::SdkConfig, ctx: &Context) -> anyhow::Result<SigningKeySecret> {
    signer_in(aws, ctx, &process_env)
}

pub fn signer_in(
    aws: &aws_config::SdkConfig,
    ctx: &Context,
    vars: Vars,
) -> anyhow::Result<SigningKeySecret> {
    let verifier = verifier_in(ctx, vars)?;
    let id = required_in(vars, "JWT_SIGNING_KEY_SECRET_ID")?;
    let secret = SecretOnFirstUse::new(aws, id);
    Ok(SigningKeySecret::new(
        secret,
        verifier,
        ctx.settings.token_scope.clone(),
    ))
}

/// The JWT verifier, trusting the Ed25519 public keys (SPKI PEMs) in `JWT_PUBLIC_KEYS`: the
/// current signing key's, plus the next or previous one during a rotation.
pub fn verifier(ctx: &Context) -> anyhow::Result<TokenVerifier> {
    verifier_in(ctx, &process_env)
}

pub fn verifier_in(ctx: &Context, vars: Vars) -> anyhow::Result<TokenVerifier> {
    let pems = required_in(vars, "JWT_PUBLIC_KEYS")?;
    TokenVerifier::from_public_pems(&pems, &ctx.settings.token_scope)
        .context("JWT_PUBLIC_KEYS is invalid")
}

/// The WebSocket connections, in the accounts table (`TABLE_NAME`).
pub fn connections(
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<Arc<dyn crate::ports::ConnectionStore>> {
    Ok(Arc::new(crate::adapters::dynamodb::DynamoConnections::new(
        dynamodb(aws),
        required("TABLE_NAME")?,
    )))
}

/// The WebSocket API's `@connections` endpoint (`WS_MANAGEMENT_URL`,
/// `https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
pub fn connection_api(
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<Arc<dyn crate::ports::ConnectionApi>> {
    Ok(Arc::new(
        crate::adapters::apigw::ApiGatewayConnections::new(aws, &required("WS_MANAGEMENT_URL")?),
    ))
}

/// What closes the sockets of ended sessions: the connections in the table and `@connections`.
pub fn socket_sweep(
    aws: &aws_config::SdkConfig,
    ctx: &Context,
) -> anyhow::Result<crate::services::socket_sweep::SocketSweep> {
    Ok(crate::services::socket_sweep::SocketSweep::new(
        connections(aws)?,
        connection_api(aws)?,
        ctx.clock.clone(),
    ))
}

/// The real push: connections from the table, posts through the WebSocket API's `@connections`
/// endpoint.
pub fn push(ctx: &Context, aws: &aws_config::SdkConfig) -> anyhow::Result<Arc<dyn Push>> {
    Ok(Arc::new(
        crate::adapters::websocket_push::WebSocketPush::new(
            connections(aws)?,
            connection_api(aws)?,
            ctx.clock.clone(),
        ),
    ))
}

/// The delivery worker as `ws-deliver` runs it: members and chat lists in the table
/// (`TABLE_NAME`), posts through `@connections` (`WS_MANAGEMENT_URL`).
pub fn delivery(
    ctx: &Context,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<crate::services::delivery::Delivery> {
    let chat = crate::adapters::dynamodb::DynamoChat::new(dynamodb(aws), required("TABLE_NAME")?);
    Ok(crate::services::delivery::Delivery::new(
        Arc::new(chat),
        push(ctx, aws)?,
        connections(aws)?,
        ctx.clock.clone(),
    ))
}

/// The WebSocket URL tickets point at (`WS_URL`, `wss://...`).
pub fn ws_url() -> anyhow::Result<String> {
    required("WS_URL")
}

/// The chat's ports on AWS: rooms, messages and send windows in the same table (`TABLE_NAME`);
/// events delivered to WebSocket connections by the real push (`WS_MANAGEMENT_URL`); files and
/// room avatars in the bucket `BUCKET_NAME`; large rooms' subscription index beside the
/// connections.
pub fn chat(
    aws: &aws_config::SdkConfig,
    ctx: &Context,
) -> anyhow::Result<crate::services::chat::ChatPorts> {
    chat_with_push(aws, ctx, push(ctx, aws)?)
}

/// The chat's ports for `messages`, which pushes nothing itself: every message event goes to the
/// outbox and `ws-deliver` posts it (docs/REALTIME.md). Building the real push would build a
/// connections client and an `@connections` client at every cold start for no request, so its
/// push only logs, at debug level (`LogPush`).
pub fn chat_for_messages(
    aws: &aws_config::SdkConfig,
    ctx: &Context,
) -> anyhow::Result<crate::services::chat::ChatPorts> {
    chat_with_push(aws, ctx, Arc::new(crate::adapters::log_push::LogPush))
}

fn chat_with_push(
    aws: &aws_config::SdkConfig,
    ctx: &Context,
    push: Arc<dyn Push>,
) -> anyhow::Result<crate::services::chat::ChatPorts> {
    let chat = Arc::new(crate::adapters::dynamodb::DynamoChat::new(
        dynamodb(aws),
        required("TABLE_NAME")?,
    ));
    Ok(crate::services::chat::ChatPorts {
        accounts: ctx.store.clone(),
        chat: chat.clone(),
        limiter: chat,
        push,
        subscriptions: connections(aws)?,
        uploads: uploads(aws)?,
    })
}
