//! Flags and environment of the local server. Every setting has an embedded default, so
//! `cargo run -p chatman-local` alone gives a working API.

use chatman::settings::Limits;
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
    /// WebSocket API port (0 picks a free one); it also serves the `@connections` API.
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
    /// Failed guesses from all addresses together that lock an account (more than 5).
    #[arg(long, env = "ACCOUNT_LOCK_AFTER", default_value_t = Limits::LOCAL.account_lock_after)]
    pub account_lock_after: u32,
    /// Login and password-change attempts per client address per 15 min (0: no limit).
    #[arg(long, env = "LOGIN_ATTEMPTS_PER_ADDRESS", default_value_t = 0)]
    pub login_attempts_per_address: u32,
    /// Signups per client address per hour (0: no limit).
    #[arg(long, env = "SIGNUPS_PER_ADDRESS", default_value_t = 0)]
    pub signups_per_address: u32,
    /// Code resends per client address per hour (0: no limit).
    #[arg(long, env = "RESENDS_PER_ADDRESS", default_value_t = 0)]
    pub resends_per_address: u32,
    /// Forgot-password requests per client address per hour (0: no limit).
    #[arg(long, env = "RESETS_PER_ADDRESS", default_value_t = 0)]
    pub resets_per_address: u32,
    /// Groups and channels one person may create per hour (0: no limit).
    #[arg(long, env = "ROOMS_PER_USER", default_value_t = 0)]
    pub rooms_per_user: u32,
    /// People one person may add or invite to rooms per hour (0: no limit).
    #[arg(long, env = "MEMBER_ADDS_PER_USER", default_value_t = 0)]
    pub member_adds_per_user: u32,
    /// Most minor units one person may send in any 24 hours (0: no cap).
    #[arg(long, env = "OUTGOING_PER_DAY", default_value_t = 0)]
    pub outgoing_per_day: i64,
    /// Most members one room may have.
    #[arg(long, env = "ROOM_MEMBER_CEILING", default_value_t = Limits::LOCAL.room_member_ceiling)]
    pub room_member_ceiling: u32,
    /// A group with more members than this gets the subscription index (channels always do).
    #[arg(long, env = "SUBSCRIBE_ABOVE_MEMBERS", default_value_t = Limits::LOCAL.subscribe_above_members)]
    pub subscribe_above_members: u32,
    /// `read` events fan out only in rooms of at most this many members.
    #[arg(long, env = "READ_RECEIPTS_MAX_MEMBERS", default_value_t = Limits::LOCAL.read_receipts_max_members)]
    pub read_receipts_max_members: u32,
    /// `typing` is relayed only in rooms of at most this many members.
    #[arg(long, env = "TYPING_MAX_MEMBERS", default_value_t = Limits::LOCAL.typing_max_members)]
    pub typing_max_members: u32,
    /// Base URL of the web app, used in emailed links (default: this server).
    #[arg(long, env = "APP_URL")]
    pub app_url: Option<String>,
    /// Origin browsers may call the API from (`Access-Control-Allow-Origin`).
    #[arg(long, env = "CHATMAN_CORS_ORIGIN", default_value = "*")]
    pub cors_origin: String,
    /// Seconds without a frame from a WebSocket client before its connection is closed.
    #[arg(long, env = "CHATMAN_WS_IDLE_TIMEOUT", default_value_t = 600)]
    pub ws_idle_timeout: u64,
    /// Do not print emails to the console (they stay readable at /_local/outbox).
    #[arg(long, default_value_t = false)]
    pub quiet_mail: bool,
    /// Take this many milliseconds to "send" each email, like a real mail service.
    #[arg(long, default_value_t = 0)]
    pub mail_latency_ms: u64,
    /// Take this many milliseconds to answer each `@connections` POST, like API Gateway's
    /// management API across the network (the realtime benchmark injects 15).
    #[arg(long, default_value_t = 0)]
    pub ws_post_latency_ms: u64,
    /// Port of the in-process S3 that upload and download URLs point at (0 picks a free one).
    #[arg(long, env = "CHATMAN_S3_PORT", default_value_t = 3002)]
    pub s3_port: u16,
    /// Where the local S3 keeps uploaded files (default: `chatman-local/s3` in the system's
    /// temporary directory).
    #[arg(long, env = "CHATMAN_S3_DATA_DIR")]
    pub s3_data_dir: Option<std::path::PathBuf>,
    /// Delete the S3 data directory when the server stops (embedded test servers).
    #[arg(skip)]
    pub s3_ephemeral: bool,
    /// Log lines: `text` (readable) or `json` (the one field set the Lambdas log).
    #[arg(long, env = "CHATMAN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LocalConfig {
    /// Defaults only, ignoring flags and environment (tests).
    pub fn embedded() -> Self {
        Self {
            host: "127.0.0.1".into(),
            http_port: 0,
            ws_port: 0,
            log_format: LogFormat::Text,
            dynamodb_endpoint: None,
            table: "chatman-accounts".into(),
            admins: String::new(),
            account_lock_after: Limits::LOCAL.account_lock_after,
            login_attempts_per_address: 0,
            signups_per_address: 0,
            resends_per_address: 0,
            resets_per_address: 0,
            rooms_per_user: 0,
            member_adds_per_user: 0,
            outgoing_per_day: 0,
            room_member_ceiling: Limits::LOCAL.room_member_ceiling,
            subscribe_above_members: Limits::LOCAL.subscribe_above_members,
            read_receipts_max_members: Limits::LOCAL.read_receipts_max_members,
            typing_max_members: Limits::LOCAL.typing_max_members,
            app_url: None,
            cors_origin: "*".into(),
            quiet_mail: true,
            ws_idle_timeout: 600,
            mail_latency_ms: 0,
            ws_post_latency_ms: 0,
            s3_port: 0,
            // Each embedded server (a test) keeps its files apart.
            s3_data_dir: Some(std::env::temp_dir().join(format!(
                "chatman-local-test-{}",
                uuid::Uuid::now_v7().simple()
            ))),
            s3_ephemeral: true,
        }
    }
}

impl LocalConfig {
    /// The local S3's data directory.
    pub fn s3_data_dir(&self) -> std::path::PathBuf {
        self.s3_data_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("chatman-local").join("s3"))
    }

    /// The throttles these flags ask for, checked like a deployment's.
    pub fn limits(&self) -> anyhow::Result<Limits> {
        Limits {
            account_lock_after: self.account_lock_after,
            login_attempts_per_address: self.login_attempts_per_address,
            signups_per_address: self.signups_per_address,
            resends_per_address: self.resends_per_address,
            resets_per_address: self.resets_per_address,
            rooms_per_user: self.rooms_per_user,
            member_adds_per_user: self.member_adds_per_user,
            room_member_ceiling: self.room_member_ceiling,
            subscribe_above_members: self.subscribe_above_members,
            read_receipts_max_members: self.read_receipts_max_members,
            typing_max_members: self.typing_max_members,
            outgoing_per_day: self.outgoing_per_day,
        }
        .checked()
    }
}
