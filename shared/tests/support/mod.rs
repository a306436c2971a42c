//! The test harness: a whole accounts deployment in process (memory store or DynamoDB Local,
//! outbox mailer, manual clock, ephemeral keys), driven through the very handlers the Lambda
//! functions run, with API Gateway 2.0 events built like the gateway builds them.
#![allow(dead_code)]

pub mod chat;

use chatman::adapters::dynamodb::DynamoChat;
use chatman::adapters::dynamodb::{DynamoAccounts, schema::create_accounts_table};
use chatman::adapters::memory::MemoryAccounts;
use chatman::adapters::memory_chat::MemoryChat;
use chatman::adapters::memory_connections::MemoryConnections;
use chatman::adapters::memory_ledger::MemoryLedger;
use chatman::adapters::outbox::Outbox;
use chatman::adapters::recording_connection_api::RecordingConnectionApi;
use chatman::adapters::recording_push::RecordingPush;
use chatman::adapters::{memory_files::MemoryFiles, memory_uploads::MemoryUploads};
use chatman::handlers::{
    Context, Function, messages::Messages, profile::Profile, reset::Reset, rooms::Rooms, routes,
    signup::Signup, token::Token, upload_url::UploadUrl, verify_otp::VerifyOtp,
};
use chatman::handlers::{deposit::Deposit, donate::Donate, transfer::Transfer, wallet::Wallet};
use chatman::http::apigw::{Incoming, to_event, to_request};
use chatman::ports::{AccountStore, Clock, Mailer, ManualClock};
use chatman::ports::{ConnectionStore, UploadStore};
use chatman::ports::{LedgerStore, Push};
use chatman::security::jwt::{TokenScope, TokenSigner};
use chatman::security::otp::OtpKey;
use chatman::services::chat::ChatPorts;
use chatman::services::delivery::{Delivery, DeliveryLoop};
use chatman::services::socket_sweep::SocketSweep;
use chatman::services::uploads::UploadService;
use chatman::settings::{Limits, Settings};
use chatman::telemetry::{emf, observe};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const PASSWORD: &str = "correct horse battery staple";
/// The client address of every request unless a test says otherwise.
pub const SOURCE_IP: &str = "203.0.113.7";

/// The DynamoDB Local endpoint `scripts/test` started. Tests that need it fail loudly without
/// it: a missing database must never pass as a skipped test.
pub fn dynamodb_endpoint() -> String {
    std::env::var("CHATMAN_TEST_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "CHATMAN_TEST_DYNAMODB is not set. These tests run against DynamoDB Local: \
             use `scripts/test`, which starts it, or start one and set CHATMAN_TEST_DYNAMODB=http://127.0.0.1:PORT"
        )
    })
}

/// A fresh table in DynamoDB Local, so tests never see each other's data.
pub async fn dynamo_store() -> Arc<DynamoAccounts> {
    let aws = chatman::adapters::aws::local(&dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    create_accounts_table(&client, &table)
        .await
        .expect("create a table in DynamoDB Local");
    Arc::new(DynamoAccounts::new(client, table))
}

/// A fresh table in DynamoDB Local with both stores over it.
pub async fn dynamo_chat_stores() -> (Arc<DynamoAccounts>, Arc<DynamoChat>) {
    let aws = chatman::adapters::aws::local(&dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    create_accounts_table(&client, &table)
        .await
        .expect("create a table in DynamoDB Local");
    (
        Arc::new(DynamoAccounts::new(client.clone(), table.clone())),
        Arc::new(DynamoChat::new(client, table)),
    )
}

pub fn start_time() -> OffsetDateTime {
    time::macros::datetime!(2026-11-22 10:00:00 UTC)
}

/// A response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: lambda_http::http::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field} in {}", self.body))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// A signed-up, verified, logged-in person.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl Account {
    /// The session the access token belongs to (its `sub`, `sid` and `ep` claims), as a
    /// WebSocket ticket of this person carries it.
    pub fn session(&self) -> chatman::domain::SessionBinding {
        let payload = self.access.split('.').nth(1).expect("a JWT");
        let bytes = chatman::security::secrets::decode(payload).expect("base64url claims");
        let claims: Value = serde_json::from_slice(&bytes).expect("JSON claims");
        chatman::domain::SessionBinding {
            user_id: chatman::domain::UserId::parse(&self.id).expect("a user id"),
            session_id: chatman::domain::SessionId::parse(claims["sid"].as_str().expect("sid"))
                .expect("a session id"),
            epoch: claims["ep"].as_u64().expect("ep"),
        }
    }
}

/// A chat store and its send limiter.
pub type ChatStores = (
    Arc<dyn chatman::ports::ChatStore>,
    Arc<dyn chatman::ports::SlidingWindow>,
);

pub struct TestApp {
    pub clock: Arc<ManualClock>,
    pub outbox: Arc<Outbox>,
    pub store: Arc<dyn AccountStore>,
    pub signer: TokenSigner,
    pub otp: OtpKey,
    pub ledger: Arc<dyn LedgerStore>,
    /// The chat's ports (their push records every event).
    pub chat: ChatPorts,
    /// Every server event pushed (the wallet's `transfer_received`, the chat's events).
    pub push: Arc<RecordingPush>,
    /// The object storage behind uploads: a test "PUTs" bytes with `files.put`.
    pub files: Arc<MemoryFiles>,
    /// The WebSocket connections the session-ending functions sweep (memory unless replaced).
    pub connections: Arc<dyn ConnectionStore>,
    /// `@connections`: which sockets were told what and which were closed.
    pub socket_api: Arc<RecordingConnectionApi>,
    ctx: Context,
    mailer: Arc<dyn Mailer>,
    functions: HashMap<&'static str, Box<dyn Function>>,
    /// The EMF line of every request, as Lambda would print it.
    pub metrics: Arc<emf::Captured>,
    /// Where the chat's outbox is read from: the memory store's queue, or a table's stream.
    feed: FeedSource,
    /// The delivery worker, made on first use (a stream feed needs a request to open).
    delivery: tokio::sync::OnceCell<DeliveryLoop>,
    /// Whether each request is followed by a delivery run (off when a test runs the worker).
    auto_deliver: bool,
    /// Where `traces_of` looks: the memory chat store, or the DynamoDB Local table.
    traces: Traces,
}

/// What holds the items of a test app's rooms.
#[derive(Clone)]
enum Traces {
    Memory(Arc<MemoryChat>),
    Table(String),
    Unknown,
}

/// Every item of DynamoDB Local table `table` that names `needle` in its key or any string
/// attribute (string sets included), as `pk / sk`: a Scan, which only tests do.
pub async fn items_naming(table: &str, needle: &str) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let aws = chatman::adapters::aws::local(&dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let names = |v: &AttributeValue| match v {
        AttributeValue::S(s) => s.contains(needle),
        AttributeValue::Ss(set) => set.iter().any(|s| s.contains(needle)),
        AttributeValue::L(list) => list
            .iter()
            .any(|x| matches!(x, AttributeValue::S(s) if s.contains(needle))),
        AttributeValue::M(map) => map
            .values()
            .any(|x| matches!(x, AttributeValue::S(s) if s.contains(needle))),
        _ => false,
    };
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan the test table");
        for item in out.items.unwrap_or_default() {
            if item.values().any(names) {
                let key = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                found.push(format!("{:?} / {:?}", key("pk"), key("sk")));
            }
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            return found;
        }
    }
}

/// Where a test app's delivery worker reads the chat's outbox.
#[derive(Clone)]
pub enum FeedSource {
    Memory(Arc<chatman::adapters::memory_outbox::MemoryOutbox>),
    /// The stream of this DynamoDB Local table.
    Stream(String),
}

pub fn scope() -> TokenScope {
    TokenScope {
        issuer: "chatman-test".into(),
        audience: "chatman-api".into(),
    }
}

impl TestApp {
    pub fn new() -> Self {
        Self::build(Arc::new(MemoryAccounts::new()), "root")
    }

    pub fn with_store(store: Arc<dyn AccountStore>) -> Self {
        Self::build(store, "root")
    }

    pub fn build(store: Arc<dyn AccountStore>, admins: &str) -> Self {
        Self::build_with_mailer(store, admins, None)
    }

    /// Accounts, chat and WebSocket connections in one fresh DynamoDB Local table.
    pub async fn on_dynamodb() -> Self {
        Self::on_dynamodb_with_limits(Limits::LOCAL).await
    }

    /// As `on_dynamodb`, with these limits.
    pub async fn on_dynamodb_with_limits(limits: Limits) -> Self {
        let aws = chatman::adapters::aws::local(&dynamodb_endpoint());
        let client = aws_sdk_dynamodb::Client::new(&aws);
        let table = format!("test-{}", uuid::Uuid::now_v7().simple());
        create_accounts_table(&client, &table)
            .await
            .expect("create a table in DynamoDB Local");
        let accounts = Arc::new(DynamoAccounts::new(client.clone(), table.clone()));
        let chat = Arc::new(DynamoChat::new(client.clone(), table.clone()));
        let mut app = Self::assemble_with_uploads(
            accounts.clone(),
            Arc::new(MemoryLedger::new()),
            Some((chat.clone(), chat)),
            Arc::new(RecordingPush::new()),
            "root",
            None,
            limits,
            accounts,
        );
        app.deliver_from_stream(&table);
        app.traces = Traces::Table(table.clone());
        app.use_connections(Arc::new(
            chatman::adapters::dynamodb::DynamoConnections::new(client, table),
        ));
        app
    }

    /// Keeps WebSocket connections in `connections` (the store beside the accounts), with the
    /// session-ending functions sweeping it and the rooms function keeping its subscriptions.
    pub fn use_connections(&mut self, connections: Arc<dyn ConnectionStore>) {
        self.chat.subscriptions = connections.clone();
        let rooms = Rooms::new(
            self.ctx.clone(),
            self.chat.clone(),
            self.signer.verifier().clone(),
        );
        self.functions.insert("rooms", Box::new(rooms));
        self.connections = connections;
        let sweep = self.sweep();
        let (ctx, mailer) = (self.ctx.clone(), self.mailer.clone());
        let token = Token::new(ctx.clone(), self.signer.clone(), sweep.clone());
        self.functions.insert("token", Box::new(token));
        let reset = Reset::new(ctx, mailer, self.signer.verifier().clone(), sweep);
        self.functions.insert("reset", Box::new(reset));
    }

    /// What closes the sockets of ended sessions: these connections, this `@connections`.
    pub fn sweep(&self) -> SocketSweep {
        SocketSweep::new(
            self.connections.clone(),
            self.socket_api.clone(),
            self.clock.clone() as Arc<dyn Clock>,
        )
    }

    /// The context every function of this app shares.
    pub fn context(&self) -> Context {
        self.ctx.clone()
    }

    /// In memory, with a push that records and then fails.
    pub fn with_failing_push() -> Self {
        Self::build_all(
            Arc::new(MemoryAccounts::new()),
            "root",
            None,
            None,
            Arc::new(RecordingPush::failing()),
        )
    }

    /// Sends mail through `mailer` instead of the outbox (which then stays empty).
    pub fn build_with_mailer(
        store: Arc<dyn AccountStore>,
        admins: &str,
        mailer: Option<Arc<dyn Mailer>>,
    ) -> Self {
        Self::build_full(store, admins, mailer, Limits::LOCAL)
    }

    /// With these throttles instead of the local server's.
    pub fn with_limits(store: Arc<dyn AccountStore>, limits: Limits) -> Self {
        Self::build_full(store, "root", None, limits)
    }

    pub fn build_full(
        store: Arc<dyn AccountStore>,
        admins: &str,
        mailer: Option<Arc<dyn Mailer>>,
        limits: Limits,
    ) -> Self {
        let ledger = Arc::new(MemoryLedger::new());
        let push = Arc::new(RecordingPush::new());
        Self::assemble_everything(store, ledger, None, push, admins, mailer, limits)
    }

    /// Everything chosen: stores, push and admins (the wallet tests' entry point).
    pub fn assemble(
        store: Arc<dyn AccountStore>,
        ledger: Arc<dyn LedgerStore>,
        push: Arc<RecordingPush>,
        admins: &str,
        mailer: Option<Arc<dyn Mailer>>,
    ) -> Self {
        Self::assemble_everything(store, ledger, None, push, admins, mailer, Limits::LOCAL)
    }

    /// The chat tests' entry point: `chat` is (store, limiter), in memory when `None`.
    pub fn build_all(
        store: Arc<dyn AccountStore>,
        admins: &str,
        mailer: Option<Arc<dyn Mailer>>,
        chat: Option<ChatStores>,
        push: Arc<RecordingPush>,
    ) -> Self {
        let ledger = Arc::new(MemoryLedger::new());
        Self::assemble_everything(store, ledger, chat, push, admins, mailer, Limits::LOCAL)
    }

    pub fn assemble_everything(
        store: Arc<dyn AccountStore>,
        ledger: Arc<dyn LedgerStore>,
        chat: Option<ChatStores>,
        push: Arc<RecordingPush>,
        admins: &str,
        mailer: Option<Arc<dyn Mailer>>,
        limits: Limits,
    ) -> Self {
        let uploads: Arc<dyn UploadStore> = Arc::new(MemoryUploads::new());
        Self::assemble_with_uploads(store, ledger, chat, push, admins, mailer, limits, uploads)
    }

    /// As `assemble_everything`, with the upload records in `upload_store`.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble_with_uploads(
        store: Arc<dyn AccountStore>,
        ledger: Arc<dyn LedgerStore>,
        chat: Option<ChatStores>,
        push: Arc<RecordingPush>,
        admins: &str,
        mailer: Option<Arc<dyn Mailer>>,
        limits: Limits,
        upload_store: Arc<dyn UploadStore>,
    ) -> Self {
        let mut feed = None;
        let mut traces = Traces::Unknown;
        let (chat_store, limiter) = chat.unwrap_or_else(|| {
            let memory = Arc::new(MemoryChat::new());
            feed = Some(FeedSource::Memory(memory.outbox()));
            traces = Traces::Memory(memory.clone());
            (memory.clone(), memory)
        });
        // A store given from outside is a DynamoDB Local table: `deliver_from_stream` names it.
        let feed = feed.unwrap_or(FeedSource::Stream(String::new()));
        let files = Arc::new(MemoryFiles::new());
        let uploads = UploadService::new(upload_store, files.clone());
        let connections: Arc<dyn ConnectionStore> = Arc::new(MemoryConnections::new(store.clone()));
        let chat = ChatPorts {
            accounts: store.clone(),
            chat: chat_store,
            limiter,
            push: push.clone(),
            subscriptions: connections.clone(),
            uploads: uploads.clone(),
        };
        let clock = Arc::new(ManualClock::new(start_time()));
        let outbox = Arc::new(Outbox::new(false));
        let settings =
            Arc::new(Settings::new(admins, "https://app.example", scope()).with_limits(limits));
        let ctx = Context {
            store: store.clone(),
            clock: clock.clone() as Arc<dyn Clock>,
            settings,
            ledger: ledger.clone(),
        };
        let mailer: Arc<dyn Mailer> = mailer.unwrap_or_else(|| outbox.clone());
        let signer = TokenSigner::ephemeral(scope());
        let socket_api = Arc::new(RecordingConnectionApi::new());
        let sweep = SocketSweep::new(
            connections.clone(),
            socket_api.clone(),
            clock.clone() as Arc<dyn Clock>,
        );
        let otp = OtpKey::generate();
        let functions: HashMap<&'static str, Box<dyn Function>> = HashMap::from([
            (
                "signup",
                Box::new(Signup::new(ctx.clone(), mailer.clone(), otp.clone()))
                    as Box<dyn Function>,
            ),
            (
                "verify-otp",
                Box::new(VerifyOtp::new(
                    ctx.clone(),
                    mailer.clone(),
                    otp.clone(),
                    signer.clone(),
                )),
            ),
            (
                "token",
                Box::new(Token::new(ctx.clone(), signer.clone(), sweep.clone())),
            ),
            (
                "reset",
                Box::new(Reset::new(
                    ctx.clone(),
                    mailer.clone(),
                    signer.verifier().clone(),
                    sweep,
                )),
            ),
            (
                "profile",
                Box::new(Profile::new(
                    ctx.clone(),
                    signer.verifier().clone(),
                    uploads.clone(),
                )),
            ),
            (
                "upload-url",
                Box::new(UploadUrl::new(
                    ctx.clone(),
                    signer.verifier().clone(),
                    uploads,
                )),
            ),
            (
                "rooms",
                Box::new(Rooms::new(
                    ctx.clone(),
                    chat.clone(),
                    signer.verifier().clone(),
                )),
            ),
            (
                "messages",
                Box::new(Messages::new(
                    ctx.clone(),
                    chat.clone(),
                    signer.verifier().clone(),
                )),
            ),
        ]);
        let mut functions = functions;
        let verifier = signer.verifier().clone();
        let port: Arc<dyn Push> = push.clone();
        functions.insert(
            "wallet",
            Box::new(Wallet::new(ctx.clone(), verifier.clone(), port.clone())),
        );
        functions.insert(
            "transfer",
            Box::new(Transfer::new(ctx.clone(), verifier.clone(), port.clone())),
        );
        functions.insert(
            "deposit",
            Box::new(Deposit::new(ctx.clone(), verifier.clone(), port.clone())),
        );
        functions.insert("donate", Box::new(Donate::new(ctx.clone(), verifier, port)));
        Self {
            clock,
            outbox,
            store,
            signer,
            otp,
            ledger,
            chat,
            push,
            files,
            connections,
            socket_api,
            ctx,
            mailer,
            functions,
            metrics: Arc::default(),
            feed,
            delivery: tokio::sync::OnceCell::new(),
            auto_deliver: true,
            traces,
        }
    }

    /// What is left anywhere of room `room`: DynamoDB items naming it (a scan of the table),
    /// or the memory chat store's entries. Empty once a deletion is collected.
    pub async fn traces_of(&self, room: &str) -> Vec<String> {
        match &self.traces {
            Traces::Memory(chat) => {
                let id = chatman::domain::RoomId::parse(room).expect("a room id");
                match chat.traces_of(&id) {
                    0 => vec![],
                    n => vec![format!("{n} entries of the memory chat store")],
                }
            }
            Traces::Table(table) => items_naming(table, room).await,
            Traces::Unknown => panic!("this test app's chat store is not inspectable"),
        }
    }

    /// Requests no longer run the delivery worker: the test runs its own (the IAM deployment
    /// runs it as the `ws-deliver` function).
    pub fn deliver_manually(&mut self) {
        self.auto_deliver = false;
    }

    /// Opens connection `raw` for `who` straight through the connection store, as `$connect`
    /// does with a fresh ticket.
    pub async fn open_connection(&self, who: &Account, raw: &str) {
        let hash = chatman::domain::TokenHash(rand::random());
        let now = self.clock_now();
        self.connections
            .put_ticket(&chatman::domain::WsTicket {
                hash,
                session: who.session(),
                expires_at: now + chatman::domain::TICKET_LIFETIME,
            })
            .await
            .expect("store a ticket");
        self.connections
            .connect(
                &hash,
                &chatman::domain::ConnectionId::parse(raw).expect("an id"),
                now,
            )
            .await
            .expect("connect")
            .expect("the ticket opens a connection");
    }

    /// The outbox this app's chat store writes.
    pub fn feed_source(&self) -> FeedSource {
        self.feed.clone()
    }

    /// Reads the chat's outbox from the stream of DynamoDB Local table `table` (the table the
    /// chat store given to `assemble_*` writes).
    pub fn deliver_from_stream(&mut self, table: &str) {
        self.deliver_from(FeedSource::Stream(table.to_owned()));
    }

    /// Reads the chat's outbox from `feed` (a store given to `assemble_*` names its own).
    pub fn deliver_from(&mut self, feed: FeedSource) {
        self.feed = feed;
        self.delivery = tokio::sync::OnceCell::new();
    }

    /// Opens `source` for reading.
    pub async fn open_feed(source: &FeedSource) -> Arc<dyn chatman::ports::OutboxFeed> {
        match source {
            FeedSource::Memory(outbox) => outbox.clone(),
            FeedSource::Stream(table) => {
                assert!(
                    !table.is_empty(),
                    "a test app on DynamoDB needs deliver_from_stream(table)"
                );
                let aws = chatman::adapters::aws::local(&dynamodb_endpoint());
                Arc::new(
                    chatman::adapters::dynamodb::StreamFeed::of_table(&aws, table)
                        .await
                        .expect("open the table's stream"),
                )
            }
        }
    }

    /// Runs the delivery worker until the outbox is empty, as the event source mapping would
    /// after each request: every event recorded so far has reached `push`.
    pub async fn deliver(&self) {
        let worker = self
            .delivery
            .get_or_init(|| async {
                let feed = Self::open_feed(&self.feed).await;
                let push: Arc<dyn Push> = self.push.clone();
                let delivery = Delivery::new(
                    self.chat.chat.clone(),
                    push,
                    self.chat.subscriptions.clone(),
                    self.clock.clone() as Arc<dyn Clock>,
                );
                DeliveryLoop::new(feed, Arc::new(delivery))
            })
            .await;
        worker.drain().await.expect("deliver the outbox");
    }

    /// Serves `name`'s routes with `function` instead (another push, another store).
    pub fn insert_function(&mut self, name: &'static str, function: Box<dyn Function>) {
        self.functions.insert(name, function);
    }

    /// The handler of a function, by its name.
    pub fn function(&self, name: &str) -> &dyn Function {
        self.functions
            .get(name)
            .unwrap_or_else(|| panic!("no function {name}"))
            .as_ref()
    }

    pub fn clock_now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Sends raw bytes with the given headers through the route's function.
    pub async fn raw(
        &self,
        method: &str,
        path_and_query: &str,
        headers: Vec<(&str, &str)>,
        body: &[u8],
    ) -> Reply {
        self.raw_from(SOURCE_IP, method, path_and_query, headers, body)
            .await
    }

    /// As `raw`, from the client address `source_ip`.
    pub async fn raw_from(
        &self,
        source_ip: &str,
        method: &str,
        path_and_query: &str,
        headers: Vec<(&str, &str)>,
        body: &[u8],
    ) -> Reply {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let (route_key, path_params) =
            routes::match_route(method, path).unwrap_or_else(|| panic!("no route {method} {path}"));
        let function = routes::function_of(route_key).expect("route has a function");
        let mut all_headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.to_string()))
            .collect();
        all_headers.push(("host".into(), "api.test".into()));
        let event = to_event(&Incoming {
            method,
            path,
            raw_query: query,
            headers: all_headers,
            body,
            route_key,
            path_params,
            source_ip: source_ip.into(),
            host: "api.test".into(),
        });
        let request = to_request(event).expect("a valid event");
        let handler = &self.functions[function];
        let response =
            observe::http(request, self.metrics.as_ref(), |req| handler.handle(req)).await;
        if self.auto_deliver {
            self.deliver().await;
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes: &[u8] = response.body().as_ref();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).expect("JSON response")
        };
        if status >= 400 {
            assert_eq!(
                headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "errors are problem+json"
            );
            assert_eq!(body["status"], json!(status), "problem status matches");
        }
        Reply {
            status,
            body,
            headers,
        }
    }

    /// Sends JSON (or nothing) with an optional bearer token.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        self.call_from(SOURCE_IP, method, path, body, token).await
    }

    /// As `call`, from the client address `source_ip`.
    pub async fn call_from(
        &self,
        source_ip: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![];
        if let Some(b) = &bearer {
            headers.push(("authorization", b.as_str()));
        }
        let bytes = match &body {
            Some(v) => {
                headers.push(("content-type", "application/json"));
                serde_json::to_vec(v).expect("serialize")
            }
            None => vec![],
        };
        self.raw_from(source_ip, method, path, headers, &bytes)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(body), None).await
    }

    pub async fn start_signup(&self, username: &str, email: &str) -> Reply {
        self.post(
            "/auth/signup",
            json!({"username": username, "email": email, "password": PASSWORD}),
        )
        .await
    }

    /// Mails sent to `email`, newest first.
    pub fn mails(&self, email: &str) -> Vec<chatman::adapters::outbox::SentMail> {
        self.outbox.to(Some(email))
    }

    /// The code in the newest mail to `email`.
    pub fn last_code(&self, email: &str) -> String {
        let mail = self
            .mails(email)
            .into_iter()
            .next()
            .expect("a mail was sent");
        mail.mail
            .subject
            .split_whitespace()
            .next()
            .expect("code in subject")
            .to_owned()
    }

    /// The reset token in the newest mail to `email`.
    pub fn last_reset_token(&self, email: &str) -> String {
        let text = self
            .mails(email)
            .into_iter()
            .next()
            .expect("a reset mail")
            .mail
            .text;
        let at = text.find("token=").expect("a reset link") + "token=".len();
        text[at..]
            .split_whitespace()
            .next()
            .expect("token")
            .to_owned()
    }

    /// Signs up, verifies and returns the logged-in account.
    pub async fn register(&self, username: &str) -> Account {
        self.register_with(username, &format!("{username}@example.com"))
            .await
    }

    pub async fn register_with(&self, username: &str, email: &str) -> Account {
        let email = email.to_owned();
        let started = self.start_signup(username, &email).await;
        assert_eq!(started.status, 202, "{:?}", started.body);
        let code = self.last_code(&email);
        let verified = self
            .post(
                "/auth/signup/verify",
                json!({"signup_id": started.str("signup_id"), "code": code}),
            )
            .await;
        assert_eq!(verified.status, 201, "{:?}", verified.body);
        Account {
            id: verified.body["user"]["id"].as_str().expect("id").to_owned(),
            username: username.to_owned(),
            email,
            password: PASSWORD.to_owned(),
            access: verified.body["tokens"]["access_token"]
                .as_str()
                .expect("access")
                .to_owned(),
            refresh: verified.body["tokens"]["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        }
    }

    pub async fn login(&self, login: &str, password: &str) -> Reply {
        self.login_from(SOURCE_IP, login, password).await
    }

    pub async fn login_from(&self, source_ip: &str, login: &str, password: &str) -> Reply {
        let body = json!({"login": login, "password": password});
        self.call_from(source_ip, "POST", "/auth/token", Some(body), None)
            .await
    }
}

/// The wallet side of the harness: money-moving calls with an `Idempotency-Key`.
impl TestApp {
    /// POSTs `body` as `token` with `Idempotency-Key: key` (none when `key` is `None`).
    pub async fn post_keyed(
        &self,
        path: &str,
        body: &Value,
        token: &str,
        key: Option<&str>,
    ) -> Reply {
        let bearer = format!("Bearer {token}");
        let mut headers = vec![
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        if let Some(k) = key {
            headers.push(("idempotency-key", k));
        }
        let bytes = serde_json::to_vec(body).expect("serialize");
        self.raw("POST", path, headers, &bytes).await
    }

    /// An admin's deposit of `amount` into `username`'s wallet, which must succeed.
    pub async fn deposit(&self, admin: &Account, username: &str, amount: i64) -> Reply {
        let reply = self
            .post_keyed(
                "/wallet/deposits",
                &json!({"username": username, "amount": amount}),
                &admin.access,
                Some(&uuid::Uuid::now_v7().to_string()),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply
    }

    pub async fn transfer(&self, from: &Account, to: &str, amount: Value, key: &str) -> Reply {
        self.post_keyed(
            "/wallet/transfers",
            &json!({"to": to, "amount": amount}),
            &from.access,
            Some(key),
        )
        .await
    }

    pub async fn balance(&self, who: &Account) -> i64 {
        let reply = self.call("GET", "/wallet", None, Some(&who.access)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["balance"].as_i64().expect("balance")
    }
}

/// The account store and the ledger over one fresh table in DynamoDB Local.
pub async fn dynamo_stores() -> (Arc<dyn AccountStore>, Arc<dyn LedgerStore>) {
    let aws = chatman::adapters::aws::local(&dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    create_accounts_table(&client, &table)
        .await
        .expect("create a table in DynamoDB Local");
    (
        Arc::new(DynamoAccounts::new(client.clone(), table.clone())),
        Arc::new(chatman::adapters::dynamodb::DynamoLedger::new(
            client, table,
        )),
    )
}

/// A ledger over a fresh table in DynamoDB Local, with the raw client and table name.
pub async fn dynamo_ledger() -> (
    aws_sdk_dynamodb::Client,
    String,
    Arc<chatman::adapters::dynamodb::DynamoLedger>,
) {
    let aws = chatman::adapters::aws::local(&dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    create_accounts_table(&client, &table)
        .await
        .expect("create a table in DynamoDB Local");
    let ledger = chatman::adapters::dynamodb::DynamoLedger::new(client.clone(), table.clone());
    (client, table, Arc::new(ledger))
}
