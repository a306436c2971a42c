//! `chatman-admin`: the only way to make or unmake an admin. It writes the accounts table
//! directly, so it needs the deployer's AWS credentials; no API route can change a role.
//!
//! Exit codes: 0 done, 1 the store failed (network, permissions, missing table), 2 usage (bad
//! arguments, no table, not a username), 3 no such account, 4 no AWS credentials or region.

use chatman::adapters::{aws, dynamodb::DynamoAccounts};
use chatman::error::Error;
use chatman::services::admin::{AdminService, RoleChange};
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "chatman-admin",
    about = "Grant, revoke or show the admin role of a Chatman account",
    long_about = "Grant, revoke or show the admin role of a Chatman account.\n\n\
        Writes the accounts table directly with your AWS credentials (the standard chain: \
        AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws files, web identity, \
        container or instance roles). For SSO or credential_process profiles, export \
        credentials first: eval \"$(aws configure export-credentials --format env)\".\n\n\
        Exit codes: 0 done, 1 store error, 2 usage, 3 no such account, 4 no AWS credentials \
        or region."
)]
struct Cli {
    #[command(subcommand)]
    action: Action,
    /// The accounts table (the stack's AccountsTable resource).
    #[arg(long, env = "TABLE_NAME", global = true)]
    table: Option<String>,
    /// AWS region of the table (default: AWS_REGION or the profile's region).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Use this DynamoDB endpoint (e.g. DynamoDB Local at http://127.0.0.1:8000) with dummy
    /// credentials instead of AWS.
    #[arg(long, global = true)]
    dynamodb_endpoint: Option<String>,
}

#[derive(Subcommand)]
enum Action {
    /// Make USERNAME an admin.
    Grant { username: String },
    /// Make USERNAME a plain user again.
    Revoke { username: String },
    /// Print USERNAME's role.
    Show { username: String },
}

/// A failure and the exit code it ends with.
struct Failure(u8, String);

impl Failure {
    fn store(error: Error, username: &str) -> Self {
        match error {
            Error::NotFound(_) => Self(3, format!("no account named {username:?}")),
            Error::Validation(_) => Self(2, format!("{username:?} is not a valid username")),
            Error::Conflict => Self(
                1,
                format!("the account {username:?} kept changing; nothing was written, try again"),
            ),
            other => Self(1, readable(&format!("{:#}", anyhow::Error::from(other)))),
        }
    }
}

/// The SDK's error text ends with a Debug dump of the whole raw response (` (ServiceError(...`);
/// an operator needs the readable chain before it.
fn readable(text: &str) -> String {
    let dump = text.match_indices(" (").find(|(at, _)| {
        let rest = &text[at + 2..];
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(rest.len());
        rest.starts_with(|c: char| c.is_ascii_uppercase())
            && (rest[name_len..].starts_with('(') || rest[name_len..].starts_with(" {"))
    });
    let message = dump.map_or(text, |(at, _)| &text[..at]);
    if message.contains("ResourceNotFoundException") {
        format!("{message} (check --table and --region)")
    } else {
        message.to_owned()
    }
}

async fn dynamodb(cli: &Cli) -> Result<aws_sdk_dynamodb::Client, Failure> {
    use aws_sdk_dynamodb::config::ProvideCredentials;
    if let Some(endpoint) = &cli.dynamodb_endpoint {
        return Ok(aws_sdk_dynamodb::Client::new(&aws::local(endpoint)));
    }
    let config = aws::operator(cli.region.clone())
        .await
        .map_err(|e| Failure(1, format!("AWS configuration: {e:#}")))?;
    if config.region().is_none() {
        return Err(Failure(
            4,
            "no AWS region: pass --region or set AWS_REGION (or a region in your profile)".into(),
        ));
    }
    let provider = config
        .credentials_provider()
        .ok_or_else(|| Failure(4, "no AWS credentials provider could be configured".into()))?;
    if let Err(e) = provider.provide_credentials().await {
        return Err(Failure(
            4,
            format!(
                "no AWS credentials ({}): set AWS_PROFILE or AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY to the deployer's credentials",
                readable(&aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())
            ),
        ));
    }
    Ok(aws_sdk_dynamodb::Client::new(&config))
}

fn describe(username: &str, change: &RoleChange) -> String {
    let role = change.user.role.as_str();
    if change.changed() {
        format!(
            "{username} is now {role} (was {})",
            change.previous.as_str()
        )
    } else {
        format!("{username} is already {role}; nothing changed")
    }
}

async fn run(cli: Cli) -> Result<String, Failure> {
    let table = cli.table.clone().filter(|t| !t.is_empty()).ok_or_else(|| {
        Failure(
            2,
            "no table: pass --table or set TABLE_NAME to the stack's accounts table".into(),
        )
    })?;
    let store = DynamoAccounts::new(dynamodb(&cli).await?, table);
    let admin = AdminService::new(Arc::new(store));
    match &cli.action {
        Action::Grant { username } => admin
            .grant(username)
            .await
            .map(|c| describe(username, &c))
            .map_err(|e| Failure::store(e, username)),
        Action::Revoke { username } => admin
            .revoke(username)
            .await
            .map(|c| describe(username, &c))
            .map_err(|e| Failure::store(e, username)),
        Action::Show { username } => admin
            .show(username)
            .await
            .map(|u| format!("{}: {}", u.username, u.role.as_str()))
            .map_err(|e| Failure::store(e, username)),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(Failure(code, message)) => {
            eprintln!("chatman-admin: {message}");
            ExitCode::from(code)
        }
    }
}
