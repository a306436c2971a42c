//! Every function wired as its Lambda binary wires it, over ONE recorded DynamoDB client: the
//! accounts, ledger, chat, upload and connection stores in one DynamoDB Local table, and the real
//! `WebSocketPush` (connections looked up in the table, a Gone one deleted) in front of an
//! `@connections` endpoint that answers 410 Gone for ids starting with `gone-`. Only S3 (the
//! memory file store) and the `@connections` endpoint are fakes: neither is DynamoDB.

use super::{RecordRequests, Recorder};
use crate::support::{self, Account, Reply, TestApp, scope};
use async_trait::async_trait;
use chatman::adapters::dynamodb::{
    DynamoAccounts, DynamoChat, DynamoConnections, DynamoLedger, schema::create_accounts_table,
};
use chatman::adapters::recording_push::RecordingPush;
use chatman::adapters::websocket_push::WebSocketPush;
use chatman::domain::ConnectionId;
use chatman::handlers::websocket::WsFunction;
use chatman::handlers::{
    Context, deposit::Deposit, donate::Donate, messages::Messages, rooms::Rooms,
    transfer::Transfer, wallet::Wallet, ws_actions::Actions, ws_connect::WsConnect,
    ws_disconnect::WsDisconnect, ws_message::WsMessage, ws_ticket::WsTicket,
};
use chatman::http::websocket::{
    CONNECT, DISCONNECT, MESSAGE, WsIncoming, WsRequest, WsResponse, to_ws_event, to_ws_request,
};
use chatman::ports::{Clock, ConnectionApi, ConnectionStore, PostError, Push};
use chatman::services::chat::ChatPorts;
use chatman::services::delivery::{Delivery, DeliveryLoop};
use chatman::settings::{Limits, Settings};
use serde_json::Value;
use std::sync::Arc;

/// The `@connections` endpoint: every post lands, except to connections named `gone-*`.
struct GoneForStale;

#[async_trait]
impl ConnectionApi for GoneForStale {
    async fn post(&self, id: &ConnectionId, _frame: &[u8]) -> Result<(), PostError> {
        if id.as_str().starts_with("gone-") {
            Err(PostError::Gone)
        } else {
            Ok(())
        }
    }

    async fn close(&self, _id: &ConnectionId) -> Result<(), PostError> {
        Ok(())
    }
}

pub struct Deployment {
    pub app: TestApp,
    pub rec: Arc<Recorder>,
    /// `ws-deliver`: the table's stream to the sockets, run after each request.
    deliver: DeliveryLoop,
    connect: WsConnect,
    message: WsMessage,
    disconnect: WsDisconnect,
}

impl Deployment {
    pub async fn new() -> Self {
        let rec = Arc::new(Recorder::default());
        let aws = chatman::adapters::aws::local(&support::dynamodb_endpoint());
        let table = format!("test-{}", uuid::Uuid::now_v7().simple());
        create_accounts_table(&aws_sdk_dynamodb::Client::new(&aws), &table)
            .await
            .unwrap();
        let config = aws_sdk_dynamodb::config::Builder::from(&aws)
            .interceptor(RecordRequests(rec.clone()))
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let accounts = Arc::new(DynamoAccounts::new(client.clone(), table.clone()));
        let chat = Arc::new(DynamoChat::new(client.clone(), table.clone()));
        let connections: Arc<dyn ConnectionStore> =
            Arc::new(DynamoConnections::new(client.clone(), table.clone()));
        // The deployed limits, so the per-address and per-user counters run as in the cloud.
        let mut app = TestApp::assemble_with_uploads(
            accounts.clone(),
            Arc::new(DynamoLedger::new(client, table.clone())),
            Some((chat.clone(), chat)),
            Arc::new(RecordingPush::new()),
            "root",
            None,
            Limits::DEPLOYED,
            accounts,
        );
        app.deliver_from_stream(&table);
        app.deliver_manually();
        let settings = Settings::new("root", "https://app.example", scope());
        let ctx = Context {
            store: app.store.clone(),
            clock: app.clock.clone() as Arc<dyn Clock>,
            settings: Arc::new(settings.with_limits(Limits::DEPLOYED)),
            ledger: app.ledger.clone(),
        };
        // The functions that push do it as deployed (config::push): through the table.
        let push: Arc<dyn Push> = Arc::new(WebSocketPush::new(
            connections.clone(),
            Arc::new(GoneForStale),
            ctx.clock.clone(),
        ));
        // token and reset sweep the sockets of the sessions they end, in the table (first: it
        // also replaces the rooms function, which the one below replaces again).
        app.use_connections(connections.clone());
        let chat = ChatPorts {
            push: push.clone(),
            subscriptions: connections.clone(),
            ..app.chat.clone()
        };
        // As the ws-deliver binary wires it: the chat store and the WebSocket push.
        let deliver = DeliveryLoop::new(
            TestApp::open_feed(&app.feed_source()).await,
            Arc::new(Delivery::new(
                chat.chat.clone(),
                push.clone(),
                chat.subscriptions.clone(),
                ctx.clock.clone(),
            )),
        );
        let verifier = app.signer.verifier().clone();
        let wallet = Wallet::new(ctx.clone(), verifier.clone(), push.clone());
        app.insert_function("wallet", Box::new(wallet));
        let transfer = Transfer::new(ctx.clone(), verifier.clone(), push.clone());
        app.insert_function("transfer", Box::new(transfer));
        let deposit = Deposit::new(ctx.clone(), verifier.clone(), push.clone());
        app.insert_function("deposit", Box::new(deposit));
        let donate = Donate::new(ctx.clone(), verifier.clone(), push);
        app.insert_function("donate", Box::new(donate));
        let rooms = Rooms::new(ctx.clone(), chat.clone(), verifier.clone());
        app.insert_function("rooms", Box::new(rooms));
        let messages = Messages::new(ctx.clone(), chat.clone(), verifier.clone());
        app.insert_function("messages", Box::new(messages));
        let ticket = WsTicket::new(
            ctx.clone(),
            verifier,
            connections.clone(),
            "wss://ws.test/live",
        );
        app.insert_function("ws-ticket", Box::new(ticket));
        let api: Arc<dyn ConnectionApi> = Arc::new(GoneForStale);
        Self {
            connect: WsConnect::new(ctx.clone(), connections.clone(), api.clone()),
            message: WsMessage::new(
                ctx.clone(),
                connections.clone(),
                api,
                Actions::new(chat, &ctx),
            ),
            disconnect: WsDisconnect::new(app.store.clone(), connections),
            app,
            rec,
            deliver,
        }
    }

    /// A request through the function that serves its route, recorded as that function.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        self.serve_route(method, path);
        let reply = self.app.call(method, path, body, token).await;
        self.deliver().await;
        reply
    }

    /// The `ws-deliver` function's run over what the last request recorded.
    async fn deliver(&self) {
        self.rec.serving("ws-deliver");
        self.deliver.drain().await.expect("deliver the outbox");
    }

    /// A money-moving POST with `Idempotency-Key: key`.
    pub async fn keyed(&self, path: &str, body: Value, who: &Account, key: &str) -> Reply {
        self.serve_route("POST", path);
        let reply = self
            .app
            .post_keyed(path, &body, &who.access, Some(key))
            .await;
        self.deliver().await;
        reply
    }

    fn serve_route(&self, method: &str, path: &str) {
        let route = chatman::handlers::routes::match_route(method, path.split('?').next().unwrap())
            .unwrap()
            .0;
        self.rec
            .serving(chatman::handlers::routes::function_of(route).unwrap());
    }

    /// Someone who exists before the scenario starts: their signup is not any function's record.
    /// Each owns a channel (made through the rooms function), so every function that records,
    /// forgets or closes their connections also keeps the channel's subscription index.
    pub async fn person(&self, username: &str) -> Account {
        self.rec.serving("setup");
        let who = self.app.register(username).await;
        let channel = serde_json::json!({"kind": "channel", "name": "Own", "members": []});
        let made = self
            .call("POST", "/rooms", Some(channel), Some(&who.access))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
        who
    }

    /// A ticket (ws-ticket) spent on `$connect` (ws-connect) for connection `id`.
    pub async fn connect(&self, who: &Account, id: &str) -> u16 {
        let ticket = self
            .call("POST", "/ws/tickets", None, Some(&who.access))
            .await;
        assert_eq!(ticket.status, 201, "{}", ticket.body);
        self.open(id, &ticket.str("ticket")).await
    }

    /// `$connect` with `ticket`.
    pub async fn open(&self, id: &str, ticket: &str) -> u16 {
        self.rec.serving("ws-connect");
        let event = ws_event(id, "$connect", CONNECT, Some(ticket), None);
        self.connect.handle(event).await.status_code
    }

    /// A frame on connection `id` (ws-message), routed as API Gateway routes it (by `action`).
    pub async fn frame(&self, id: &str, frame: Value) -> WsResponse {
        self.rec.serving("ws-message");
        let route = frame["action"].as_str().unwrap_or("$default").to_owned();
        let body = frame.to_string();
        let event = ws_event(id, &route, MESSAGE, None, Some(body.as_bytes()));
        let response = self.message.handle(event).await;
        self.deliver().await;
        response
    }

    /// The error code a frame answered with, or `None` when it answered nothing.
    pub async fn frame_error(&self, id: &str, frame: Value) -> Option<String> {
        let response = self.frame(id, frame).await;
        let body: Value = serde_json::from_str(response.body.as_deref()?).unwrap();
        body["code"].as_str().map(str::to_owned)
    }

    /// `$disconnect` of connection `id` (ws-disconnect).
    pub async fn close(&self, id: &str) -> u16 {
        self.rec.serving("ws-disconnect");
        let event = ws_event(id, "$disconnect", DISCONNECT, None, None);
        self.disconnect.handle(event).await.status_code
    }
}

fn ws_event(
    connection: &str,
    route_key: &str,
    event_type: &str,
    ticket: Option<&str>,
    body: Option<&[u8]>,
) -> WsRequest {
    to_ws_request(to_ws_event(&WsIncoming {
        connection_id: connection,
        route_key,
        event_type,
        domain_name: "ws.test",
        stage: "live",
        source_ip: support::SOURCE_IP,
        connected_at_ms: 0,
        query: ticket
            .map(|t| vec![("ticket".to_owned(), t.to_owned())])
            .unwrap_or_default(),
        headers: vec![],
        body,
        is_binary: false,
    }))
    .unwrap()
}
