//! A socket ends with its session, and one person cannot amplify the realtime load: the WebSocket
//! functions and the session-ending routes (logout, logout-all, password change and reset, a
//! reused refresh token) driven through their handlers, on the memory stores and on DynamoDB
//! Local. `@connections` is the recording adapter: it shows which sockets were told what and
//! which were closed (over real sockets: `local/tests/ws_sessions.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chatman::domain::{SessionId, UserId};
use chatman::handlers::websocket::WsFunction;
use chatman::handlers::{
    ws_actions::Actions, ws_connect::WsConnect, ws_message::WsMessage, ws_ticket::WsTicket,
};
use chatman::http::websocket::{CONNECT, MESSAGE, WsIncoming, to_ws_event, to_ws_request};
use chatman::ports::{ConnectionApi, ConnectionStore};
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Account, PASSWORD, TestApp};
use time::Duration;

const NEW_PASSWORD: &str = "an entirely different passphrase";

struct Ws {
    app: TestApp,
    connect: WsConnect,
    message: WsMessage,
}

fn wire(app: TestApp) -> Ws {
    let limits = app.context().settings.limits;
    wire_with(app, limits)
}

/// As `wire`, the WebSocket actions with `limits` (the fan-out thresholds).
fn wire_with(mut app: TestApp, limits: chatman::settings::Limits) -> Ws {
    let mut ctx = app.context();
    ctx.settings = Arc::new((*ctx.settings).clone().with_limits(limits));
    let connections: Arc<dyn ConnectionStore> = app.connections.clone();
    let api: Arc<dyn ConnectionApi> = app.socket_api.clone();
    let ticket = WsTicket::new(
        ctx.clone(),
        app.signer.verifier().clone(),
        connections.clone(),
        "wss://ws.test/live",
    );
    app.insert_function("ws-ticket", Box::new(ticket));
    Ws {
        connect: WsConnect::new(ctx.clone(), connections.clone(), api.clone()),
        message: WsMessage::new(
            ctx.clone(),
            connections,
            api,
            Actions::new(app.chat.clone(), &ctx),
        ),
        app,
    }
}

fn memory() -> Ws {
    wire(TestApp::new())
}

async fn dynamo() -> Ws {
    wire(TestApp::on_dynamodb().await)
}

fn ws_event(
    connection: &str,
    route_key: &str,
    event_type: &str,
    ticket: Option<&str>,
    body: Option<&[u8]>,
) -> chatman::http::websocket::WsRequest {
    to_ws_request(to_ws_event(&WsIncoming {
        connection_id: connection,
        route_key,
        event_type,
        domain_name: "ws.test",
        stage: "live",
        source_ip: "203.0.113.7",
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

impl Ws {
    async fn ticket(&self, who: &Account) -> String {
        let r = self
            .app
            .call("POST", "/ws/tickets", None, Some(&who.access))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.str("ticket")
    }

    /// `$connect` of connection `id` with `ticket`: the handshake's status.
    async fn open(&self, id: &str, ticket: &str) -> u16 {
        let event = ws_event(id, "$connect", CONNECT, Some(ticket), None);
        self.connect.handle(event).await.status_code
    }

    async fn connect(&self, who: &Account, id: &str) {
        let ticket = self.ticket(who).await;
        assert_eq!(self.open(id, &ticket).await, 200);
    }

    /// A frame on connection `id`: the route response's event, if any.
    async fn frame(&self, id: &str, frame: Value) -> Option<Value> {
        let route = frame["action"].as_str().unwrap().to_owned();
        let body = frame.to_string();
        let event = ws_event(id, &route, MESSAGE, None, Some(body.as_bytes()));
        let response = self.message.handle(event).await;
        assert_eq!(response.status_code, 200);
        response
            .body
            .as_deref()
            .map(|b| serde_json::from_str(b).unwrap())
    }

    fn closed(&self, id: &str) -> bool {
        self.app
            .socket_api
            .closed()
            .iter()
            .any(|c| c.as_str() == id)
    }

    /// The events posted through `@connections` to connection `id`.
    fn told(&self, id: &str) -> Vec<Value> {
        self.app
            .socket_api
            .posted()
            .into_iter()
            .filter(|(c, _)| c.as_str() == id)
            .map(|(_, f)| serde_json::from_str(&f).unwrap())
            .collect()
    }

    async fn held(&self, who: &Account) -> Vec<String> {
        let user = UserId::parse(&who.id).unwrap();
        let mut ids: Vec<String> = self
            .app
            .connections
            .connections_of(&user, self.app.clock_now())
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id.to_string())
            .collect();
        ids.sort();
        ids
    }

    /// root, alice (with 5000) and bob, and their direct room.
    async fn people(&self) -> (Account, Account, String) {
        let root = self.app.register("root").await;
        let alice = self.app.register("alice").await;
        let bob = self.app.register("bob").await;
        self.app.deposit(&root, "alice", 5000).await;
        let room = self.app.direct(&alice, &bob).await.str("id");
        (alice, bob, room)
    }

    /// Alice's `transfer` frame on `id` after her session ended: refused as `unauthorized`
    /// (told through `@connections`), the socket closed, and no money moved.
    async fn transfer_is_refused(&self, id: &str, alice: &Account, bob: &Account, room: &str) {
        let before = self.told(id).len();
        let answer = self
            .frame(
                id,
                json!({"action": "transfer", "room_id": room, "amount": 700,
                       "idempotency_key": format!("k-{id}"), "client_id": "c1"}),
            )
            .await;
        assert!(
            answer.is_none(),
            "answered through @connections: {answer:?}"
        );
        let told = self.told(id);
        assert_eq!(told.len(), before + 1, "{told:?}");
        assert_eq!(told[before]["type"], "error");
        assert_eq!(told[before]["code"], "unauthorized");
        assert!(self.closed(id), "the socket is closed");
        assert!(self.held(alice).await.iter().all(|c| c != id));
        let bob_login = self.app.login(&bob.username, PASSWORD).await;
        let bob_token = bob_login.str("access_token");
        let wallet = self
            .app
            .call("GET", "/wallet", None, Some(&bob_token))
            .await;
        assert_eq!(wallet.body["balance"], 0, "bob got nothing");
    }
}

async fn logout_all_closes_every_socket_and_a_transfer_frame_moves_nothing(ws: Ws) {
    let (alice, bob, room) = ws.people().await;
    ws.connect(&alice, "a1").await;
    ws.connect(&alice, "a2").await;
    let r = ws
        .app
        .call("POST", "/auth/logout-all", None, Some(&alice.access))
        .await;
    assert_eq!(r.status, 204);
    assert!(ws.closed("a1") && ws.closed("a2"), "closed at once");
    assert!(ws.held(&alice).await.is_empty());
    ws.transfer_is_refused("a1", &alice, &bob, &room).await;
}

async fn a_password_change_closes_every_socket(ws: Ws) {
    let (alice, bob, room) = ws.people().await;
    ws.connect(&alice, "a1").await;
    let r = ws
        .app
        .call(
            "POST",
            "/auth/password/change",
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(ws.closed("a1"));
    assert!(ws.held(&alice).await.is_empty());
    ws.transfer_is_refused("a1", &alice, &bob, &room).await;
}

async fn a_password_reset_closes_every_socket(ws: Ws) {
    let alice = ws.app.register("alice").await;
    ws.connect(&alice, "a1").await;
    let r = ws
        .app
        .post("/auth/password/forgot", json!({"email": alice.email}))
        .await;
    assert_eq!(r.status, 202);
    let token = ws.app.last_reset_token(&alice.email);
    let r = ws
        .app
        .post(
            "/auth/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(ws.closed("a1"));
    assert!(ws.held(&alice).await.is_empty());
}

async fn logout_closes_that_sessions_sockets_only(ws: Ws) {
    let alice = ws.app.register("alice").await;
    let other = ws.app.login("alice", PASSWORD).await;
    let phone = Account {
        access: other.str("access_token"),
        refresh: other.str("refresh_token"),
        ..alice.clone()
    };
    ws.connect(&alice, "laptop").await;
    ws.connect(&phone, "phone").await;
    let r = ws
        .app
        .post("/auth/logout", json!({"refresh_token": alice.refresh}))
        .await;
    assert_eq!(r.status, 204);
    assert!(ws.closed("laptop"));
    assert!(!ws.closed("phone"), "the other session's socket stays");
    assert_eq!(ws.held(&alice).await, ["phone"]);
    let pong = ws.frame("phone", json!({"action": "ping"})).await.unwrap();
    assert_eq!(pong["type"], "pong");
    // The ended session's socket is refused if a frame still arrives.
    assert!(
        ws.frame("laptop", json!({"action": "ping"}))
            .await
            .is_none()
    );
    assert_eq!(ws.told("laptop")[0]["code"], "unauthorized");
}

async fn a_reused_refresh_token_closes_that_sessions_sockets(ws: Ws) {
    let alice = ws.app.register("alice").await;
    ws.connect(&alice, "a1").await;
    let body = json!({"refresh_token": alice.refresh});
    let first = ws.app.post("/auth/token/refresh", body.clone()).await;
    assert_eq!(first.status, 200);
    assert!(!ws.closed("a1"), "a rotation ends nothing");
    let reused = ws.app.post("/auth/token/refresh", body).await;
    assert_eq!(reused.status, 401);
    assert!(ws.closed("a1"), "the leaked session's socket is closed");
    assert!(ws.held(&alice).await.is_empty());
}

async fn a_ticket_issued_before_logout_all_cannot_connect(ws: Ws) {
    let alice = ws.app.register("alice").await;
    let ticket = ws.ticket(&alice).await;
    let r = ws
        .app
        .call("POST", "/auth/logout-all", None, Some(&alice.access))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(ws.open("late", &ticket).await, 401);
    assert!(ws.held(&alice).await.is_empty());
}

/// A record that outlived its session (a sweep that failed half-way): every action is refused
/// by the epoch on the owner's account, and `transfer` by the session read on the money path.
async fn a_record_outliving_its_session_is_refused_on_every_frame(ws: Ws) {
    let (alice, bob, room) = ws.people().await;
    ws.connect(&alice, "a1").await;
    ws.connect(&alice, "a2").await;
    // The session revoked behind the sweep's back: only the money path reads it.
    let session: SessionId = alice.session().session_id;
    ws.app.store.revoke_session(&session).await.unwrap();
    ws.transfer_is_refused("a1", &alice, &bob, &room).await;
    // The epoch bumped behind the sweep's back: a send is refused too.
    let mut me = ws
        .app
        .store
        .user(&UserId::parse(&alice.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    me.session_epoch += 1;
    ws.app.store.update_user(&me, None).await.unwrap();
    let answer = ws
        .frame(
            "a2",
            json!({"action": "send", "room_id": room, "text": "still here?"}),
        )
        .await;
    assert!(answer.is_none());
    assert_eq!(ws.told("a2")[0]["code"], "unauthorized");
    assert!(ws.closed("a2"));
    let history = ws
        .app
        .get_as(&bob, &format!("/rooms/{room}/messages"))
        .await;
    assert_eq!(history.body["items"].as_array().map(Vec::len), Some(0));
}

async fn the_eleventh_socket_closes_the_oldest(ws: Ws) {
    let alice = ws.app.register("alice").await;
    for i in 0..10 {
        ws.connect(&alice, &format!("s{i:02}")).await;
        ws.app.advance(Duration::milliseconds(5));
    }
    assert!(ws.app.socket_api.closed().is_empty());
    ws.connect(&alice, "s10").await;
    let held = ws.held(&alice).await;
    assert_eq!(held.len(), 10);
    assert!(!held.contains(&"s00".to_owned()));
    assert_eq!(
        ws.app
            .socket_api
            .closed()
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        ["s00"],
        "the oldest gets a close"
    );
}

/// Typing events relayed to others: at most one per person and room in any 2 s.
async fn typing_is_relayed_at_most_once_per_two_seconds(ws: Ws) {
    let alice = ws.app.register("alice").await;
    let bob = ws.app.register("bob").await;
    let room = ws.app.direct(&alice, &bob).await.str("id");
    ws.connect(&alice, "a1").await;
    let typing = json!({"action": "typing", "room_id": room, "is_typing": true});
    let relayed = |ws: &Ws| {
        ws.app
            .received(&bob)
            .iter()
            .filter(|k| *k == "typing")
            .count()
    };
    let frames = (0..20).map(|_| ws.frame("a1", typing.clone()));
    for answer in futures_util::future::join_all(frames).await {
        assert!(answer.is_none(), "extra frames are dropped silently");
    }
    assert_eq!(relayed(&ws), 1, "twenty at once: one relayed");
    ws.app.advance(Duration::milliseconds(1_900));
    ws.frame("a1", typing.clone()).await;
    assert_eq!(relayed(&ws), 1, "still inside the 2 s");
    ws.app.advance(Duration::milliseconds(200));
    ws.frame("a1", typing.clone()).await;
    assert_eq!(relayed(&ws), 2, "the next window relays again");
}

/// `typing` fans out only in rooms of at most `TYPING_MAX_MEMBERS` (2 here): a group of three
/// hears nobody typing, and the frame is dropped without an answer.
async fn typing_is_relayed_only_in_rooms_within_the_setting(ws: Ws) {
    let ws = wire_with(
        ws.app,
        chatman::settings::Limits {
            typing_max_members: 2,
            ..chatman::settings::Limits::LOCAL
        },
    );
    let alice = ws.app.register("alice").await;
    let bob = ws.app.register("bob").await;
    let carol = ws.app.register("carol").await;
    let direct = ws.app.direct(&alice, &bob).await.str("id");
    let group = ws.app.room_of(&alice, "group", &[&bob, &carol]).await;
    ws.connect(&alice, "a1").await;
    let typing = |room: &str| json!({"action": "typing", "room_id": room, "is_typing": true});
    let heard = |who: &Account| {
        ws.app
            .received(who)
            .iter()
            .filter(|k| *k == "typing")
            .count()
    };
    assert_eq!(ws.frame("a1", typing(&group)).await, None);
    assert_eq!(
        (heard(&bob), heard(&carol)),
        (0, 0),
        "three members: nobody"
    );
    assert_eq!(ws.frame("a1", typing(&direct)).await, None);
    assert_eq!(heard(&bob), 1, "two members: relayed");
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::memory()).await }) *
        }
        mod dynamodb_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::dynamo().await).await }) *
        }
    };
}

on_both_stores!(
    logout_all_closes_every_socket_and_a_transfer_frame_moves_nothing,
    a_password_change_closes_every_socket,
    a_password_reset_closes_every_socket,
    logout_closes_that_sessions_sockets_only,
    a_reused_refresh_token_closes_that_sessions_sockets,
    a_ticket_issued_before_logout_all_cannot_connect,
    a_record_outliving_its_session_is_refused_on_every_frame,
    the_eleventh_socket_closes_the_oldest,
    typing_is_relayed_at_most_once_per_two_seconds,
    typing_is_relayed_only_in_rooms_within_the_setting,
);
