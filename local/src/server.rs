//! Assembles the local deployment (store, mailer, keys, every function) and runs its listeners.

use crate::config::LocalConfig;
use crate::gateway::Gateway;
use anyhow::Context as _;
use chatman::adapters::memory_chat::MemoryChat;
use chatman::adapters::memory_expiry::Expiring;
use chatman::adapters::{dynamodb, memory::MemoryAccounts, outbox::Outbox};
use chatman::handlers::{
    Context, Function, messages::Messages, profile::Profile, reset::Reset, rooms::Rooms,
    signup::Signup, token::Token, upload_url::UploadUrl, verify_otp::VerifyOtp,
};
use chatman::handlers::{deposit::Deposit, donate::Donate, transfer::Transfer, wallet::Wallet};
use chatman::handlers::{ws_actions::Actions, ws_ticket::WsTicket};
use chatman::ports::{AccountStore, Clock, LedgerStore, Mailer, Push, SystemClock, UploadStore};
use chatman::ports::{ConnectionStore, OutboxFeed};
use chatman::security::{jwt::TokenSigner, otp::OtpKey};
use chatman::services::chat::ChatPorts;
use chatman::services::delivery::{Delivery, DeliveryLoop};
use chatman::services::uploads::UploadService;
use chatman::settings::{Settings, token_scope_from_env};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// A started local server.
pub struct Running {
    pub http_addr: SocketAddr,
    pub outbox: Arc<Outbox>,
    pub store_label: String,
    /// The in-process S3 behind upload and download URLs.
    pub s3: crate::s3::LocalS3,
    task: tokio::task::JoinHandle<()>,
    /// The WebSocket listener (`ws://`), which also serves `@connections`.
    pub ws_addr: SocketAddr,
    /// The connection store and the real push the functions use (tests reach behind the API).
    pub connections: Arc<dyn ConnectionStore>,
    pub push: Arc<dyn Push>,
    pub sockets: Arc<crate::websocket::Registry>,
    ws_task: tokio::task::JoinHandle<()>,
    /// The delivery worker's counters (delivered, retried, dead letters).
    pub delivery: Arc<chatman::services::delivery::DeliveryStats>,
    delivery_task: tokio::task::JoinHandle<()>,
    /// The memory stores' TTL (`expiry`): swept every minute, or at once with `sweep()`.
    pub expiry: Arc<crate::expiry::Sweeper>,
    expiry_task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.ws_addr)
    }

    /// Stops accepting connections.
    pub fn stop(self) {
        self.task.abort();
        self.s3.stop();
        self.ws_task.abort();
        self.delivery_task.abort();
        self.expiry_task.abort();
    }
}

type ChatStores = (
    Arc<dyn chatman::ports::ChatStore>,
    Arc<dyn chatman::ports::SlidingWindow>,
);
/// The account store, the ledger, the chat's stores, the chat's outbox, a label saying where
/// they live, and the memory stores whose records expire (none on DynamoDB).
type Stores = (
    Arc<dyn AccountStore>,
    Arc<dyn LedgerStore>,
    ChatStores,
    Arc<dyn OutboxFeed>,
    String,
    Vec<Arc<dyn Expiring>>,
);

async fn store(config: &LocalConfig) -> anyhow::Result<Stores> {
    match &config.dynamodb_endpoint {
        None => {
            let chat = Arc::new(MemoryChat::new());
            let accounts = Arc::new(MemoryAccounts::new());
            let ledger = Arc::new(chatman::adapters::memory_ledger::MemoryLedger::new());
            Ok((
                accounts.clone(),
                ledger.clone(),
                (chat.clone(), chat.clone()),
                chat.outbox(),
                "in memory (lost on exit)".to_owned(),
                vec![accounts as Arc<dyn Expiring>, ledger],
            ))
        }
        Some(endpoint) => {
            let aws = chatman::adapters::aws::local(endpoint);
            let client = aws_sdk_dynamodb::Client::new(&aws);
            dynamodb::schema::create_accounts_table(&client, &config.table)
                .await
                .with_context(|| format!("preparing table {} at {endpoint}", config.table))?;
            let label = format!("DynamoDB at {endpoint}, table {}", config.table);
            let chat = Arc::new(dynamodb::DynamoChat::new(
                client.clone(),
                config.table.clone(),
            ));
            // The table's stream, read as Lambda's event source mapping reads it.
            let feed = dynamodb::StreamFeed::of_table_from_now(&aws, &config.table)
                .await
                .with_context(|| format!("opening the stream of table {}", config.table))?;
            Ok((
                Arc::new(dynamodb::DynamoAccounts::new(
                    client.clone(),
                    config.table.clone(),
                )),
                Arc::new(dynamodb::DynamoLedger::new(client, config.table.clone())),
                (chat.clone(), chat),
                Arc::new(feed),
                label,
                Vec::new(),
            ))
        }
    }
}

/// Upload records beside the accounts: in memory (with its expiry), or in the same DynamoDB
/// table.
fn upload_store(config: &LocalConfig) -> (Arc<dyn UploadStore>, Option<Arc<dyn Expiring>>) {
    match &config.dynamodb_endpoint {
        None => {
            let memory = Arc::new(chatman::adapters::memory_uploads::MemoryUploads::new());
            (memory.clone(), Some(memory))
        }
        Some(endpoint) => {
            let aws = chatman::adapters::aws::local(endpoint);
            let store = dynamodb::DynamoAccounts::new(
                aws_sdk_dynamodb::Client::new(&aws),
                config.table.clone(),
            );
            (Arc::new(store), None)
        }
    }
}

/// The signing key: `JWT_PRIVATE_KEY` (a PEM: the local server has no Secrets Manager) with the
/// trusted `JWT_PUBLIC_KEYS` when both are set, else a fresh pair per run.
fn signer(settings: &Settings) -> anyhow::Result<TokenSigner> {
    match (
        std::env::var("JWT_PRIVATE_KEY"),
        std::env::var("JWT_PUBLIC_KEYS"),
    ) {
        (Ok(private), Ok(public)) => {
            TokenSigner::from_pems(&private, &public, settings.token_scope.clone())
        }
        _ => Ok(TokenSigner::ephemeral(settings.token_scope.clone())),
    }
}

fn otp_key() -> anyhow::Result<OtpKey> {
    match std::env::var("OTP_SECRET") {
        Ok(secret) => OtpKey::new(secret.as_bytes()),
        Err(_) => Ok(OtpKey::generate()),
    }
}

/// Binds the listeners and serves until stopped.
pub async fn start(config: LocalConfig) -> anyhow::Result<Running> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// `start` with the clock every handler and the stores' expiry read: a benchmark or test moves
/// a `ManualClock` forward to see what a day does.
pub async fn start_with_clock(
    config: LocalConfig,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind((config.host.as_str(), config.http_port))
        .await
        .with_context(|| format!("binding {}:{}", config.host, config.http_port))?;
    let http_addr = listener.local_addr()?;
    let app_url = config
        .app_url
        .clone()
        .unwrap_or_else(|| format!("http://{http_addr}"));
    let settings = Arc::new(
        Settings::new(&config.admins, &app_url, token_scope_from_env())
            .with_limits(config.limits()?),
    );
    let (store, ledger, (chat_store, limiter), feed, store_label, mut expiring) =
        store(&config).await?;
    let ctx = Context {
        ledger,
        store,
        clock,
        settings: settings.clone(),
    };
    let outbox = Arc::new(
        Outbox::new(!config.quiet_mail)
            .with_latency(std::time::Duration::from_millis(config.mail_latency_ms)),
    );
    let mailer: Arc<dyn Mailer> = outbox.clone();
    let signer = signer(&settings)?;
    let otp = otp_key()?;
    let mut s3 = crate::s3::start(
        &config.host,
        config.s3_port,
        &config.s3_data_dir(),
        &config.cors_origin,
    )
    .await?;
    s3.ephemeral = config.s3_ephemeral;
    let (upload_records, upload_expiry) = upload_store(&config);
    expiring.extend(upload_expiry);
    let uploads = UploadService::new(
        upload_records,
        Arc::new(chatman::adapters::s3::S3Files::path_style(
            &s3.sdk_config(),
            crate::s3::BUCKET,
        )),
    );
    let s3_origin = s3.endpoint();
    let realtime = crate::realtime::bind(&config, &ctx).await?;
    let (ws_addr, ws_url) = (realtime.addr, realtime.ws_url());
    let (connections, push) = (realtime.connections.clone(), realtime.push.clone());
    expiring.extend(realtime.expiring.clone());
    let expiry = Arc::new(crate::expiry::Sweeper::new(expiring, ctx.clock.clone()));
    let expiry_task = tokio::spawn(expiry.clone().run());
    let sockets = realtime.registry.clone();
    // Logout, logout-all and password changes close the ended sessions' sockets through it.
    let sweep = realtime.sweep(&ctx);
    // Every function hands its events to the real push: WebSocket connections through the SDK
    // adapter and this server's `@connections` API.
    let port: Arc<dyn Push> = push.clone();
    // The delivery worker: the store's outbox to the sockets, after each request answered.
    let delivery = DeliveryLoop::new(
        feed,
        Arc::new(Delivery::new(
            chat_store.clone(),
            port.clone(),
            connections.clone(),
            ctx.clock.clone(),
        )),
    );
    let delivery_stats = delivery.stats.clone();
    let delivery_task = tokio::spawn(delivery.run(std::time::Duration::from_millis(500)));
    let chat = ChatPorts {
        accounts: ctx.store.clone(),
        chat: chat_store,
        limiter,
        push: port.clone(),
        subscriptions: connections.clone(),
        uploads: uploads.clone(),
    };

    let functions: HashMap<&'static str, Arc<dyn Function>> = HashMap::from([
        (
            "signup",
            Arc::new(Signup::new(ctx.clone(), mailer.clone(), otp.clone())) as Arc<dyn Function>,
        ),
        (
            "verify-otp",
            Arc::new(VerifyOtp::new(
                ctx.clone(),
                mailer.clone(),
                otp,
                signer.clone(),
            )),
        ),
        (
            "token",
            Arc::new(Token::new(ctx.clone(), signer.clone(), sweep.clone())),
        ),
        (
            "reset",
            Arc::new(Reset::new(
                ctx.clone(),
                mailer.clone(),
                signer.verifier().clone(),
                sweep,
            )),
        ),
        (
            "profile",
            Arc::new(Profile::new(
                ctx.clone(),
                signer.verifier().clone(),
                uploads.clone(),
            )),
        ),
        (
            "upload-url",
            Arc::new(UploadUrl::new(
                ctx.clone(),
                signer.verifier().clone(),
                uploads,
            )),
        ),
        (
            "rooms",
            Arc::new(Rooms::new(
                ctx.clone(),
                chat.clone(),
                signer.verifier().clone(),
            )),
        ),
        (
            "messages",
            Arc::new(Messages::new(
                ctx.clone(),
                chat.clone(),
                signer.verifier().clone(),
            )),
        ),
    ]);
    let mut functions = functions;
    functions.insert(
        "ws-ticket",
        Arc::new(WsTicket::new(
            ctx.clone(),
            signer.verifier().clone(),
            connections.clone(),
            ws_url,
        )),
    );
    let actions = Actions::new(chat.clone(), &ctx);
    let ws_task = crate::realtime::serve(realtime, &ctx, actions, &config);
    let verifier = signer.verifier().clone();
    functions.insert(
        "wallet",
        Arc::new(Wallet::new(ctx.clone(), verifier.clone(), port.clone())),
    );
    functions.insert(
        "transfer",
        Arc::new(Transfer::new(ctx.clone(), verifier.clone(), port.clone())),
    );
    functions.insert(
        "deposit",
        Arc::new(Deposit::new(ctx.clone(), verifier.clone(), port.clone())),
    );
    functions.insert("donate", Arc::new(Donate::new(ctx.clone(), verifier, port)));
    let gateway = Arc::new(Gateway {
        functions,
        outbox: Some(outbox.clone()),
        cors_origin: config.cors_origin.clone(),
        web: Some(crate::web::WebApp {
            api_url: format!("http://{http_addr}"),
            ws_origin: format!("ws://{ws_addr}"),
            files_origin: s3_origin,
        }),
        hosts: crate::host_check::AllowedHosts::new(&config.host),
    });

    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let gateway = gateway.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, std::convert::Infallible>(gateway.serve(req, peer).await) }
                });
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %e, "connection ended");
                }
            });
        }
    });
    Ok(Running {
        http_addr,
        outbox,
        store_label,
        s3,
        task,
        ws_addr,
        connections,
        push,
        sockets,
        ws_task,
        delivery: delivery_stats,
        delivery_task,
        expiry,
        expiry_task,
    })
}
