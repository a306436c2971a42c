//! Flags and environment of the local server. Every setting has an embedded default, so
//! `cargo run -p chatman-local` alone gives a working API.

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "chatman-local",
    about = "Run the whole Chatman API on this machine"
)]
pub struct LocalConfig {
    /// Address to listen on.
    #[arg(long, env = "CHATMAN_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// HTTP API port (0 picks a free one).
    #[arg(long, env = "CHATMAN_HTTP_PORT", default_value_t = 3000)]
    pub http_port: u16,
    /// WebSocket API port, reserved for the chat feature.
    #[arg(long, env = "CHATMAN_WS_PORT", default_value_t = 3001)]
    pub ws_port: u16,
    /// Use DynamoDB at this endpoint (e.g. DynamoDB Local) instead of the in-memory store.
    #[arg(long, env = "CHATMAN_DYNAMODB_ENDPOINT")]
    pub dynamodb_endpoint: Option<String>,
    /// Accounts table name (created on start when using --dynamodb-endpoint).
    #[arg(long, env = "TABLE_NAME", default_value = "chatman-accounts")]
    pub table: String,
    /// Local only: comma-separated usernames whose accounts are made admins when created.
    /// Deployed functions never read it (there, an operator runs `chatman-admin grant`).
    #[arg(long, env = "ADMIN_USERNAMES", default_value = "")]
    pub admins: String,
    /// Base URL of the web app, used in emailed links (default: this server).
    #[arg(long, env = "APP_URL")]
    pub app_url: Option<String>,
    /// Origin browsers may call the API from (`Access-Control-Allow-Origin`).
    #[arg(long, env = "CHATMAN_CORS_ORIGIN", default_value = "*")]
    pub cors_origin: String,
    /// Do not print emails to the console (they stay readable at /_local/outbox).
    #[arg(long, default_value_t = false)]
    pub quiet_mail: bool,
}

impl LocalConfig {
    /// Defaults only, ignoring flags and environment (tests).
    pub fn embedded() -> Self {
        Self {
            host: "127.0.0.1".into(),
            http_port: 0,
            ws_port: 0,
            dynamodb_endpoint: None,
            table: "chatman-accounts".into(),
            admins: String::new(),
            app_url: None,
            cors_origin: "*".into(),
            quiet_mail: true,
        }
    }
}
