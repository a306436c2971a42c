//! Money in chat: the WebSocket `transfer` action driven through `Actions` (what `ws-message`
//! runs) on both stores (memory, and accounts, chat and ledger on DynamoDB Local): the message
//! of kind `transfer` with the server's record, one `transfer_received`, history on both sides,
//! replays (also many at once) that move no money and post no second message, the missing
//! message posted once after a crash between the transfer and the post, the key kept apart from
//! HTTP keys, every refusal (non-member, unknown `to`, no key, bad amount, self, channel, block,
//! insufficient funds) and the send limit; the payer removed or the room deleted between the
//! money and the message (the caller learns the payment, on every retry too), and a rename
//! between the chat's check and the payment (the checked member is paid).
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use async_trait::async_trait;
use chatman::adapters::dynamodb::{DynamoAccounts, DynamoChat, DynamoLedger};
use chatman::adapters::recording_push::RecordingPush;
use chatman::domain::{
    Connection, ConnectionId, Invitation, Member, MemberRole, Membership, Message, MessageId, Room,
    RoomId, UserId,
};
use chatman::handlers::Context;
use chatman::handlers::ws_actions::Actions;
use chatman::handlers::ws_frames::{Frame, error_frame};
use chatman::ports::{
    AddMembersError, ChatStore, Clock, CreateRoomError, Page, SlidingWindow, StoreError,
};
use chatman::settings::{Limits, Settings};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{Account, TestApp, scope};
use time::Duration;

/// A chat store whose next `crashes` transfer-message appends fail as if the process died
/// between the money moving and the message being written, and which can run an `Interlude`
/// at a chosen point of the action.
struct CrashingChat {
    inner: Arc<dyn ChatStore>,
    crashes: AtomicUsize,
    interlude: std::sync::Mutex<Option<Interlude>>,
}

/// Something another request does in the middle of a transfer.
enum Interlude {
    /// Before the next transfer message is appended (the money has moved): the payer leaves.
    RemoveBeforePost(RoomId, UserId),
    /// Before the next transfer message is appended: the room is deleted.
    DeleteBeforePost(RoomId),
    /// Right after the chat checked that `payee` is a member (before the money moves): each
    /// (account, new name) is renamed in turn.
    RenameAfterCheck {
        payee: UserId,
        accounts: Arc<dyn chatman::ports::AccountStore>,
        renames: Vec<(UserId, &'static str)>,
    },
}

impl CrashingChat {
    fn take_interlude(&self, pick: impl Fn(&Interlude) -> bool) -> Option<Interlude> {
        let mut slot = self.interlude.lock().unwrap();
        if slot.as_ref().is_some_and(pick) {
            slot.take()
        } else {
            None
        }
    }
}

async fn rename(accounts: &dyn chatman::ports::AccountStore, id: &UserId, name: &str) {
    let mut user = accounts.user(id).await.unwrap().unwrap();
    let previous = user.username.clone();
    user.username = chatman::domain::Username::parse(name).unwrap();
    accounts.update_user(&user, Some(&previous)).await.unwrap();
}

#[async_trait]
impl ChatStore for CrashingChat {
    async fn create_room(&self, room: &Room, members: &[Member]) -> Result<(), CreateRoomError> {
        self.inner.create_room(room, members).await
    }
    async fn room(&self, id: &RoomId) -> Result<Option<Room>, StoreError> {
        self.inner.room(id).await
    }
    async fn rooms(&self, ids: &[RoomId]) -> Result<Vec<Room>, StoreError> {
        self.inner.rooms(ids).await
    }
    async fn update_room(&self, room: &Room) -> Result<(), StoreError> {
        self.inner.update_room(room).await
    }
    async fn delete_room(
        &self,
        room: &Room,
        by: &UserId,
        held_until: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner.delete_room(room, by, held_until).await
    }
    async fn room_deletion(
        &self,
        id: &RoomId,
    ) -> Result<Option<chatman::ports::RoomDeletion>, StoreError> {
        self.inner.room_deletion(id).await
    }
    async fn hold_room_deletion(
        &self,
        id: &RoomId,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner.hold_room_deletion(id, now, until).await
    }
    async fn purge_room(
        &self,
        id: &RoomId,
        limit: usize,
    ) -> Result<chatman::ports::Purge, StoreError> {
        self.inner.purge_room(id, limit).await
    }
    async fn subscribe_room_above(&self, id: &RoomId, members: u32) -> Result<bool, StoreError> {
        self.inner.subscribe_room_above(id, members).await
    }
    async fn member(&self, room: &RoomId, user: &UserId) -> Result<Option<Member>, StoreError> {
        let member = self.inner.member(room, user).await;
        if let Some(Interlude::RenameAfterCheck {
            accounts, renames, ..
        }) = self.take_interlude(
            |i| matches!(i, Interlude::RenameAfterCheck { payee, .. } if payee == user),
        ) {
            for (id, name) in renames {
                rename(accounts.as_ref(), &id, name).await;
            }
        }
        member
    }
    async fn members(&self, room: &RoomId) -> Result<Vec<Member>, StoreError> {
        self.inner.members(room).await
    }
    async fn add_members(
        &self,
        room: &RoomId,
        members: &[Member],
        ceiling: u32,
    ) -> Result<(), AddMembersError> {
        self.inner.add_members(room, members, ceiling).await
    }
    async fn leave(
        &self,
        room: &RoomId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<(), StoreError> {
        self.inner.leave(room, user, role).await
    }
    async fn has_left(&self, user: &UserId, room: &RoomId) -> Result<bool, StoreError> {
        self.inner.has_left(user, room).await
    }
    async fn invite(&self, invitations: &[Invitation]) -> Result<(), StoreError> {
        self.inner.invite(invitations).await
    }
    async fn invitation(
        &self,
        user: &UserId,
        room: &RoomId,
    ) -> Result<Option<Invitation>, StoreError> {
        self.inner.invitation(user, room).await
    }
    async fn invitations(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&RoomId>,
    ) -> Result<Page<Invitation>, StoreError> {
        self.inner.invitations(user, limit, after).await
    }
    async fn accept_invitation(
        &self,
        invitation: &Invitation,
        member: &Member,
        ceiling: u32,
    ) -> Result<(), AddMembersError> {
        self.inner
            .accept_invitation(invitation, member, ceiling)
            .await
    }
    async fn decline_invitation(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError> {
        self.inner.decline_invitation(user, room).await
    }
    async fn remove_member(
        &self,
        room: &RoomId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<(), StoreError> {
        self.inner.remove_member(room, user, role).await
    }
    async fn set_role(
        &self,
        room: &RoomId,
        user: &UserId,
        from: MemberRole,
        to: MemberRole,
    ) -> Result<(), StoreError> {
        self.inner.set_role(room, user, from, to).await
    }
    async fn transfer_ownership(
        &self,
        room: &RoomId,
        owner: &UserId,
        to: &UserId,
        to_role: MemberRole,
    ) -> Result<(), StoreError> {
        self.inner
            .transfer_ownership(room, owner, to, to_role)
            .await
    }
    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        self.inner.memberships(user).await
    }
    async fn membership(
        &self,
        user: &UserId,
        room: &RoomId,
    ) -> Result<Option<Membership>, StoreError> {
        self.inner.membership(user, room).await
    }
    async fn mark_read(&self, user: &UserId, room: &RoomId, seq: u64) -> Result<bool, StoreError> {
        self.inner.mark_read(user, room, seq).await
    }
    async fn inbox(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<(time::OffsetDateTime, RoomId)>,
    ) -> Result<Vec<Membership>, StoreError> {
        self.inner.inbox(user, limit, after).await
    }
    async fn touch_inbox(&self, room: &RoomId, users: &[UserId], at: time::OffsetDateTime) {
        self.inner.touch_inbox(room, users, at).await
    }
    async fn claim_chat_list_move(
        &self,
        room: &RoomId,
        at: time::OffsetDateTime,
        every: time::Duration,
    ) -> Result<bool, StoreError> {
        self.inner.claim_chat_list_move(room, at, every).await
    }
    async fn append_message(
        &self,
        room: &Room,
        message: &Message,
        announce: &[chatman::ports::Outgoing],
    ) -> Result<(), StoreError> {
        if message.transfer.is_some() {
            match self.take_interlude(|i| !matches!(i, Interlude::RenameAfterCheck { .. })) {
                Some(Interlude::RemoveBeforePost(room, user)) => {
                    self.inner
                        .remove_member(&room, &user, MemberRole::Member)
                        .await?
                }
                Some(Interlude::DeleteBeforePost(room)) => {
                    let stored = self.inner.room(&room).await?.ok_or(StoreError::Conflict)?;
                    self.inner
                        .delete_room(&stored, &message.sender, message.created_at)
                        .await?
                }
                _ => {}
            }
        }
        if message.transfer.is_some()
            && self
                .crashes
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(StoreError::Unexpected(anyhow::anyhow!("crashed")));
        }
        self.inner.append_message(room, message, announce).await
    }
    async fn transfer_message(
        &self,
        room: &RoomId,
        transfer_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        self.inner.transfer_message(room, transfer_id).await
    }
    async fn client_message(
        &self,
        room: &RoomId,
        sender: &UserId,
        client_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        self.inner.client_message(room, sender, client_id).await
    }
    async fn messages_after(
        &self,
        room: &RoomId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Page<Message>, StoreError> {
        self.inner.messages_after(room, after_seq, limit).await
    }
    async fn message(&self, room: &RoomId, id: &MessageId) -> Result<Option<Message>, StoreError> {
        self.inner.message(room, id).await
    }
    async fn messages(
        &self,
        room: &RoomId,
        limit: usize,
        before: Option<&MessageId>,
    ) -> Result<Page<Message>, StoreError> {
        self.inner.messages(room, limit, before).await
    }
    async fn newest_messages_before(
        &self,
        room: &RoomId,
        before: &MessageId,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        self.inner.newest_messages_before(room, before, limit).await
    }
    async fn delete_message(
        &self,
        room: &Room,
        message: &Message,
        last: Option<&Message>,
        announce: &[chatman::ports::Outgoing],
    ) -> Result<(), StoreError> {
        self.inner
            .delete_message(room, message, last, announce)
            .await
    }
    async fn edit_message(
        &self,
        room: &Room,
        before: &Message,
        edited: &Message,
        announce: &[chatman::ports::Outgoing],
    ) -> Result<(), StoreError> {
        self.inner
            .edit_message(room, before, edited, announce)
            .await
    }
    async fn add_reaction(
        &self,
        room: &RoomId,
        message: &MessageId,
        user: &UserId,
        emoji: &chatman::domain::Emoji,
        most: usize,
        announce: &[chatman::ports::Outgoing],
    ) -> Result<chatman::ports::Reacted, StoreError> {
        self.inner
            .add_reaction(room, message, user, emoji, most, announce)
            .await
    }
    async fn remove_reaction(
        &self,
        room: &RoomId,
        message: &MessageId,
        user: &UserId,
        emoji: &chatman::domain::Emoji,
        announce: &[chatman::ports::Outgoing],
    ) -> Result<chatman::ports::Reacted, StoreError> {
        self.inner
            .remove_reaction(room, message, user, emoji, announce)
            .await
    }
    async fn reactions_of(
        &self,
        room: &RoomId,
        user: &UserId,
        oldest: &MessageId,
        newest: &MessageId,
    ) -> Result<std::collections::HashMap<MessageId, Vec<chatman::domain::Emoji>>, StoreError> {
        self.inner.reactions_of(room, user, oldest, newest).await
    }
    async fn pin(
        &self,
        pin: &chatman::domain::Pin,
        most: u32,
        announce: &[chatman::ports::Outgoing],
    ) -> Result<chatman::ports::Pinned, StoreError> {
        self.inner.pin(pin, most, announce).await
    }
    async fn unpin(
        &self,
        room: &RoomId,
        message: &MessageId,
        announce: &[chatman::ports::Outgoing],
    ) -> Result<bool, StoreError> {
        self.inner.unpin(room, message, announce).await
    }
    async fn pins(&self, room: &RoomId) -> Result<Vec<chatman::domain::Pin>, StoreError> {
        self.inner.pins(room).await
    }
    async fn messages_by_id(
        &self,
        room: &RoomId,
        ids: &[MessageId],
    ) -> Result<Vec<Message>, StoreError> {
        self.inner.messages_by_id(room, ids).await
    }
    async fn publish(&self, records: &[chatman::ports::Outgoing]) -> Result<(), StoreError> {
        self.inner.publish(records).await
    }
}

struct Ws {
    app: TestApp,
    actions: Actions,
    crashing: Arc<CrashingChat>,
}

async fn memory() -> Ws {
    let chat = Arc::new(chatman::adapters::memory_chat::MemoryChat::new());
    let feed = support::FeedSource::Memory(chat.outbox());
    ws(
        Arc::new(chatman::adapters::memory::MemoryAccounts::new()),
        Arc::new(chatman::adapters::memory_ledger::MemoryLedger::new()),
        chat.clone(),
        chat,
        feed,
    )
}

async fn dynamodb() -> Ws {
    let aws = chatman::adapters::aws::local(&support::dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    chatman::adapters::dynamodb::schema::create_accounts_table(&client, &table)
        .await
        .unwrap();
    let chat = Arc::new(DynamoChat::new(client.clone(), table.clone()));
    let feed = support::FeedSource::Stream(table.clone());
    ws(
        Arc::new(DynamoAccounts::new(client.clone(), table.clone())),
        Arc::new(DynamoLedger::new(client, table)),
        chat.clone(),
        chat,
        feed,
    )
}

fn ws(
    accounts: Arc<dyn chatman::ports::AccountStore>,
    ledger: Arc<dyn chatman::ports::LedgerStore>,
    chat: Arc<dyn ChatStore>,
    limiter: Arc<dyn SlidingWindow>,
    feed: support::FeedSource,
) -> Ws {
    let crashing = Arc::new(CrashingChat {
        inner: chat,
        crashes: AtomicUsize::new(0),
        interlude: std::sync::Mutex::new(None),
    });
    let mut app = TestApp::assemble_everything(
        accounts,
        ledger,
        Some((crashing.clone(), limiter)),
        Arc::new(RecordingPush::new()),
        "root",
        None,
        Limits::LOCAL,
    );
    app.deliver_from(feed);
    let ctx = Context {
        store: app.store.clone(),
        clock: app.clock.clone() as Arc<dyn Clock>,
        settings: Arc::new(Settings::new("root", "https://app.example", scope())),
        ledger: app.ledger.clone(),
    };
    let actions = Actions::new(app.chat.clone(), &ctx);
    Ws {
        app,
        actions,
        crashing,
    }
}

fn uid(who: &Account) -> UserId {
    UserId::parse(&who.id).unwrap()
}

impl Ws {
    /// Runs `frame` for `who`: the reply to the caller (`None` when there is none).
    async fn frame(&self, who: &Account, frame: Value) -> Option<Value> {
        let Value::Object(mut fields) = frame else {
            panic!("a frame is an object")
        };
        let action = fields
            .remove("action")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        let client_id = fields
            .remove("client_id")
            .map(|c| c.as_str().unwrap().to_owned());
        let frame = Frame {
            action,
            client_id,
            fields,
        };
        let caller = Connection::opened(
            ConnectionId::parse("conn").unwrap(),
            who.session(),
            self.app.clock_now(),
        );
        let reply = match self.actions.run(&caller, &frame).await {
            Ok(reply) => reply.map(|e| e.to_json()),
            Err(e) => Some(error_frame(&frame.action, frame.client_id.as_deref(), &e)),
        };
        // The frame's events were recorded; the worker takes them to the members.
        self.app.deliver().await;
        reply
    }

    async fn error_code(&self, who: &Account, frame: Value) -> String {
        let reply = self.frame(who, frame).await.expect("an error event");
        assert_eq!(reply["type"], "error", "{reply}");
        reply["code"].as_str().unwrap().to_owned()
    }

    /// root, alice (with 5000) and bob, and their direct room.
    async fn people(&self) -> (Account, Account, Account, String) {
        let root = self.app.register("root").await;
        let alice = self.app.register("alice").await;
        let bob = self.app.register("bob").await;
        self.app.deposit(&root, "alice", 5000).await;
        let room = self.app.direct(&alice, &bob).await.str("id");
        (root, alice, bob, room)
    }

    async fn history(&self, who: &Account, room: &str) -> Vec<Value> {
        let r = self
            .app
            .get_as(who, &format!("/rooms/{room}/messages"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"].as_array().unwrap().clone()
    }

    fn kinds_received(&self, who: &Account, kind: &str) -> Vec<Value> {
        self.app
            .push
            .received_by(&uid(who))
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.to_json())
            .collect()
    }

    /// Every balance equals the sum of its entries, and the total is what root deposited.
    async fn balances_match_the_ledger(&self, people: &[&Account], deposited: i64) {
        let mut total = 0;
        for who in people {
            let balance = self.app.balance(who).await;
            let entries = self
                .app
                .call(
                    "GET",
                    "/wallet/transactions?limit=100",
                    None,
                    Some(&who.access),
                )
                .await;
            let sum: i64 = entries.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let amount = e["amount"].as_i64().unwrap();
                    if e["direction"] == "in" {
                        amount
                    } else {
                        -amount
                    }
                })
                .sum();
            assert_eq!(balance, sum, "{}'s balance is its ledger", who.username);
            total += balance;
        }
        assert_eq!(total, deposited);
    }
}

fn transfer(room: &str, amount: i64, key: &str) -> Value {
    json!({"action": "transfer", "room_id": room, "amount": amount, "idempotency_key": key,
           "description": "lunch", "client_id": "c-1"})
}

async fn a_transfer_in_a_direct_room_is_a_message_and_a_wallet_movement(ws: Ws) {
    let (_root, alice, bob, room) = ws.people().await;
    assert_eq!(ws.frame(&alice, transfer(&room, 1250, "k1")).await, None);

    let to_alice = ws.kinds_received(&alice, "message");
    let to_bob = ws.kinds_received(&bob, "message");
    assert_eq!(to_alice.len(), 1);
    assert_eq!(to_alice, to_bob, "both see the same message");
    let message = &to_bob[0]["message"];
    assert_eq!(message["kind"], "transfer");
    assert_eq!(message["sender"], "alice");
    assert_eq!(message["text"], "lunch");
    assert_eq!(message["client_id"], "c-1");
    let record = &message["transfer"];
    assert_eq!(record["kind"], "transfer");
    assert_eq!(record["from"], "alice");
    assert_eq!(record["to"], "bob");
    assert_eq!(record["amount"], 1250);
    assert_eq!(record["currency"], "USD");
    assert_eq!(record["description"], "lunch");
    let received = ws.kinds_received(&bob, "transfer_received");
    assert_eq!(received.len(), 1, "exactly one transfer_received");
    assert_eq!(&received[0]["transfer"], record);
    assert!(ws.kinds_received(&alice, "transfer_received").len() == 1); // root's deposit

    assert_eq!(ws.app.balance(&alice).await, 3750);
    assert_eq!(ws.app.balance(&bob).await, 1250);
    let bobs = ws
        .app
        .call("GET", "/wallet/transactions", None, Some(&bob.access))
        .await;
    assert_eq!(bobs.body["items"][0]["transfer_id"], record["id"]);
    assert_eq!(bobs.body["items"][0]["direction"], "in");
    assert_eq!(bobs.body["items"][0]["counterparty"], "alice");
    // History on both sides shows it with the record, and so does the chat list.
    assert_eq!(ws.history(&bob, &room).await, vec![message.clone()]);
    assert_eq!(ws.history(&alice, &room).await, vec![message.clone()]);
    let list = ws.app.get_as(&bob, "/rooms").await;
    assert_eq!(list.body["items"][0]["last_message"], *message);
    // The text of a payment's message is its description, kept as paid: never edited.
    let edit = ws
        .app
        .patch_as(
            &alice,
            &format!("/rooms/{room}/messages/{}", message["id"].as_str().unwrap()),
            json!({"text": "dinner"}),
        )
        .await;
    assert_eq!((edit.status, edit.code()), (422, "not_editable"));
    assert_eq!(ws.history(&bob, &room).await, vec![message.clone()]);

    // `to` naming the other person is the same transfer; naming anyone else is refused.
    let mut named = transfer(&room, 100, "k2");
    named["to"] = json!("bob");
    assert_eq!(ws.frame(&alice, named).await, None);
    let mut wrong = transfer(&room, 100, "k3");
    wrong["to"] = json!("root");
    assert_eq!(ws.error_code(&alice, wrong).await, "validation_failed");
    assert_eq!(ws.app.balance(&bob).await, 1350);
}

async fn a_replay_moves_no_money_and_posts_nothing_again(ws: Ws) {
    let (root, alice, bob, room) = ws.people().await;
    assert_eq!(ws.frame(&alice, transfer(&room, 1000, "k1")).await, None);
    let first = ws.kinds_received(&bob, "message")[0].clone();
    let events = ws.app.push.events().len();

    // The same frame again: the caller alone gets the message it posted.
    let again = ws.frame(&alice, transfer(&room, 1000, "k1")).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(ws.app.push.events().len(), events, "nobody was told twice");
    assert_eq!(ws.history(&bob, &room).await.len(), 1);
    assert_eq!(ws.app.balance(&alice).await, 4000);

    // Another frame under a used key is refused; the client_id alone does not make another.
    let mut other = transfer(&room, 999, "k1");
    other["client_id"] = json!("c-9");
    let reply = ws.frame(&alice, other).await.unwrap();
    assert_eq!(reply["code"], "idempotency_key_reused");
    assert_eq!(reply["client_id"], "c-9");

    // An HTTP transfer under the same key string is another request: the keys never meet.
    let http = ws.app.transfer(&alice, "bob", json!(500), "k1").await;
    assert_eq!(http.status, 201, "{}", http.body);
    assert_eq!(ws.app.balance(&alice).await, 3500);
    assert_eq!(ws.history(&bob, &room).await.len(), 1);
    ws.balances_match_the_ledger(&[&root, &alice, &bob], 5000)
        .await;
}

async fn many_parallel_replays_make_one_transfer_and_one_message(ws: Ws) {
    let (root, alice, bob, room) = ws.people().await;
    let ws = Arc::new(ws);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (ws, alice, room) = (ws.clone(), alice.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            ws.frame(&alice, transfer(&room, 700, "same")).await
        }));
    }
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    let history = ws.history(&bob, &room).await;
    assert_eq!(history.len(), 1, "one message: {history:?}");
    for reply in &replies {
        match reply {
            None => {}
            Some(r) if r["type"] == "message" => assert_eq!(r["message"], history[0]),
            Some(r) => assert_eq!(r["code"], "request_in_progress", "{r}"),
        }
    }
    assert!(replies.iter().any(Option::is_none), "one of them posted it");
    assert_eq!(ws.app.balance(&alice).await, 4300);
    assert_eq!(ws.app.balance(&bob).await, 700);
    assert_eq!(ws.kinds_received(&bob, "transfer_received").len(), 1);
    assert_eq!(ws.kinds_received(&bob, "message").len(), 1);
    ws.balances_match_the_ledger(&[&root, &alice, &bob], 5000)
        .await;
}

async fn a_retry_after_a_crash_posts_the_missing_message_once(ws: Ws) {
    let (_root, alice, bob, room) = ws.people().await;
    ws.crashing.crashes.store(1, Ordering::SeqCst);
    let crashed = ws.frame(&alice, transfer(&room, 800, "k1")).await.unwrap();
    assert_eq!(crashed["code"], "internal_error");
    assert_eq!(ws.app.balance(&bob).await, 800, "the money moved");
    assert!(
        ws.history(&bob, &room).await.is_empty(),
        "the message did not"
    );

    assert_eq!(ws.frame(&alice, transfer(&room, 800, "k1")).await, None);
    let history = ws.history(&bob, &room).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["transfer"]["amount"], 800);
    assert_eq!(ws.kinds_received(&bob, "message").len(), 1);
    assert_eq!(ws.kinds_received(&bob, "transfer_received").len(), 1);
    let again = ws.frame(&alice, transfer(&room, 800, "k1")).await.unwrap();
    assert_eq!(again["message"], history[0]);
    assert_eq!(ws.history(&bob, &room).await.len(), 1);
    assert_eq!(ws.app.balance(&alice).await, 4200);
}

async fn groups_need_a_member_and_every_refusal_is_an_error_event(ws: Ws) {
    let (root, alice, bob, direct) = ws.people().await;
    let carol = ws.app.register("carol").await;
    let group = ws.app.room_of(&alice, "group", &[&bob]).await;

    let mut to_bob = transfer(&group, 300, "g1");
    to_bob["to"] = json!("bob");
    assert_eq!(ws.frame(&alice, to_bob).await, None);
    let message = &ws.kinds_received(&bob, "message")[0]["message"];
    assert_eq!(message["transfer"]["to"], "bob");
    assert_eq!(ws.app.balance(&bob).await, 300);

    let refusals = [
        (transfer(&group, 300, "g2"), "validation_failed"), // no `to` in a group
        (
            json!({"action": "transfer", "room_id": group, "amount": 5, "to": "carol", "idempotency_key": "g3"}),
            "validation_failed",
        ),
        (
            json!({"action": "transfer", "room_id": group, "amount": 5, "to": "nobody", "idempotency_key": "g4"}),
            "validation_failed",
        ),
        (
            json!({"action": "transfer", "room_id": group, "amount": 5, "to": "alice", "idempotency_key": "g5"}),
            "self_transfer",
        ),
        (
            json!({"action": "transfer", "room_id": direct, "amount": 5}),
            "idempotency_key_required",
        ),
        (
            json!({"action": "transfer", "room_id": direct, "amount": 5, "idempotency_key": ""}),
            "idempotency_key_required",
        ),
        (
            json!({"action": "transfer", "room_id": direct, "amount": 5, "idempotency_key": "tab\t"}),
            "validation_failed",
        ),
        (
            json!({"action": "transfer", "room_id": direct, "amount": "5", "idempotency_key": "g6"}),
            "validation_failed",
        ),
        (
            json!({"action": "transfer", "room_id": direct, "amount": 0, "idempotency_key": "g7"}),
            "validation_failed",
        ),
        (
            json!({"action": "transfer", "room_id": direct, "amount": 5, "idempotency_key": "g8", "from": "bob"}),
            "validation_failed",
        ),
        (
            json!({"action": "transfer", "room_id": "nope", "amount": 5, "idempotency_key": "g9"}),
            "not_found",
        ),
    ];
    for (frame, code) in refusals {
        assert_eq!(ws.error_code(&alice, frame.clone()).await, code, "{frame}");
    }
    // Not a member of the room at all: the room does not exist for carol.
    assert_eq!(
        ws.error_code(&carol, transfer(&group, 5, "c1")).await,
        "not_found"
    );
    // The unknown and the non-member `to` read the same.
    let unknown = ws
        .frame(
            &alice,
            json!({"action": "transfer", "room_id": group, "amount": 5, "to": "nobody", "idempotency_key": "x1"}),
        )
        .await
        .unwrap();
    let outsider = ws
        .frame(
            &alice,
            json!({"action": "transfer", "room_id": group, "amount": 5, "to": "carol", "idempotency_key": "x2"}),
        )
        .await
        .unwrap();
    assert_eq!(unknown["message"], outsider["message"]);

    // A channel takes transfers from its admins only.
    let channel = ws.app.room_of(&bob, "channel", &[&alice]).await;
    let mut in_channel = transfer(&channel, 5, "ch1");
    in_channel["to"] = json!("bob");
    assert_eq!(ws.error_code(&alice, in_channel).await, "forbidden");

    // Not enough money: refused, and that is the key's answer from now on.
    let poor = transfer(&direct, 1_000_000, "big");
    assert_eq!(
        ws.error_code(&alice, poor.clone()).await,
        "insufficient_funds"
    );
    ws.app.deposit(&root, "alice", 2_000_000).await;
    assert_eq!(ws.error_code(&alice, poor).await, "insufficient_funds");

    // A block stops the direct room.
    let block = ws
        .app
        .call("POST", "/users/alice/block", None, Some(&bob.access))
        .await;
    assert_eq!(block.status, 204);
    assert_eq!(
        ws.error_code(&alice, transfer(&direct, 5, "b1")).await,
        "blocked"
    );
    assert_eq!(ws.app.balance(&bob).await, 300, "nothing else moved");
    assert_eq!(ws.history(&bob, &direct).await.len(), 0);
    ws.balances_match_the_ledger(&[&root, &alice, &bob, &carol], 2_005_000)
        .await;
}

/// The payer is removed from a group after the money moved and before the message is posted:
/// the caller learns the payment (`transfer_sent` with the record), and so does every retry of
/// the key, which moves nothing again; the room shows no message.
async fn removed_between_money_and_message_the_caller_learns_the_transfer(ws: Ws) {
    let (root, alice, bob, _direct) = ws.people().await;
    let group = ws.app.room_of(&bob, "group", &[&alice]).await;
    let room = RoomId::parse(&group).unwrap();
    *ws.crashing.interlude.lock().unwrap() = Some(Interlude::RemoveBeforePost(room, uid(&alice)));
    let mut frame = transfer(&group, 700, "left");
    frame["to"] = json!("bob");
    let first = ws.frame(&alice, frame.clone()).await.expect("an answer");
    assert_eq!(first["type"], "transfer_sent", "{first}");
    assert_eq!(first["transfer"]["amount"], 700);
    assert_eq!(first["transfer"]["to"], "bob");
    assert_eq!(first["client_id"], "c-1");
    assert_eq!(ws.app.balance(&bob).await, 700, "the money moved");
    assert!(ws.history(&bob, &group).await.is_empty(), "no message");

    let retry = ws.frame(&alice, frame.clone()).await.expect("an answer");
    assert_eq!(retry["type"], "transfer_sent", "{retry}");
    assert_eq!(retry["transfer"], first["transfer"], "the same payment");
    assert_eq!(ws.app.balance(&alice).await, 4300, "moved once");
    assert_eq!(ws.kinds_received(&bob, "transfer_received").len(), 1);

    // Another frame under the key is still no payment, and a fresh key is refused as before.
    let mut other = frame.clone();
    other["amount"] = json!(5);
    assert_eq!(ws.error_code(&alice, other).await, "not_found");
    let mut fresh = frame;
    fresh["idempotency_key"] = json!("after");
    assert_eq!(ws.error_code(&alice, fresh).await, "not_found");
    ws.balances_match_the_ledger(&[&root, &alice, &bob], 5000)
        .await;
}

/// After the payer was removed, 20 retries of the key at once: every one learns the one payment
/// (`transfer_sent`, the same transfer) and nothing moves again.
async fn many_retries_at_once_after_removal_all_learn_the_one_transfer(ws: Ws) {
    let (root, alice, bob, _direct) = ws.people().await;
    let group = ws.app.room_of(&bob, "group", &[&alice]).await;
    let room = RoomId::parse(&group).unwrap();
    *ws.crashing.interlude.lock().unwrap() = Some(Interlude::RemoveBeforePost(room, uid(&alice)));
    let mut frame = transfer(&group, 900, "once");
    frame["to"] = json!("bob");
    let first = ws.frame(&alice, frame.clone()).await.expect("an answer");
    assert_eq!(first["type"], "transfer_sent", "{first}");
    let ws = Arc::new(ws);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (ws, alice, frame) = (ws.clone(), alice.clone(), frame.clone());
            tokio::spawn(async move { ws.frame(&alice, frame).await })
        })
        .collect();
    for task in tasks {
        let reply = task.await.unwrap().expect("an answer");
        assert_eq!(reply["type"], "transfer_sent", "{reply}");
        assert_eq!(reply["transfer"]["id"], first["transfer"]["id"]);
    }
    assert_eq!(ws.app.balance(&alice).await, 4100, "moved once");
    assert_eq!(ws.kinds_received(&bob, "transfer_received").len(), 1);
    ws.balances_match_the_ledger(&[&root, &alice, &bob], 5000)
        .await;
}

/// The room is deleted between the money and the message: the same, a `transfer_sent` each time.
async fn room_deleted_between_money_and_message_the_caller_learns_the_transfer(ws: Ws) {
    let (root, alice, bob, direct) = ws.people().await;
    let room = RoomId::parse(&direct).unwrap();
    *ws.crashing.interlude.lock().unwrap() = Some(Interlude::DeleteBeforePost(room));
    let first = ws
        .frame(&alice, transfer(&direct, 250, "gone"))
        .await
        .expect("an answer");
    assert_eq!(first["type"], "transfer_sent", "{first}");
    assert_eq!(first["transfer"]["amount"], 250);
    let retry = ws
        .frame(&alice, transfer(&direct, 250, "gone"))
        .await
        .expect("an answer");
    assert_eq!(retry["type"], "transfer_sent", "{retry}");
    assert_eq!(retry["transfer"]["id"], first["transfer"]["id"]);
    assert_eq!(ws.app.balance(&bob).await, 250, "moved once");
    ws.balances_match_the_ledger(&[&root, &alice, &bob], 5000)
        .await;
}

/// Between the chat's check that `bob` is a member and the payment, bob renames himself and
/// carol (no member) takes the name `bob`: the member that was checked is paid, never carol.
async fn a_rename_between_check_and_pay_cannot_pay_another_account(ws: Ws) {
    let (root, alice, bob, _direct) = ws.people().await;
    let carol = ws.app.register("carol").await;
    let group = ws.app.room_of(&alice, "group", &[&bob]).await;
    *ws.crashing.interlude.lock().unwrap() = Some(Interlude::RenameAfterCheck {
        payee: uid(&bob),
        accounts: ws.app.store.clone(),
        renames: vec![(uid(&bob), "bobby"), (uid(&carol), "bob")],
    });
    let mut frame = transfer(&group, 400, "renamed");
    frame["to"] = json!("bob");
    assert_eq!(ws.frame(&alice, frame).await, None);
    assert!(
        ws.crashing.interlude.lock().unwrap().is_none(),
        "the renames ran"
    );
    assert_eq!(
        ws.app.balance(&bob).await,
        400,
        "the checked member is paid"
    );
    assert_eq!(ws.app.balance(&carol).await, 0, "nobody else");
    ws.balances_match_the_ledger(&[&root, &alice, &bob, &carol], 5000)
        .await;
}

async fn a_transfer_counts_against_the_send_limit(ws: Ws) {
    let (_root, alice, bob, room) = ws.people().await;
    for i in 0..60 {
        let r = ws.app.say(&alice, &room, &format!("m{i}")).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let limited = ws.frame(&alice, transfer(&room, 100, "k1")).await.unwrap();
    assert_eq!(limited["code"], "rate_limited");
    assert!(limited["retry_after"].as_u64().unwrap() >= 1);
    assert_eq!(ws.app.balance(&bob).await, 0, "no money moved");
    // The key was never claimed: once the window moves on, it goes through.
    ws.app.advance(Duration::seconds(61));
    assert_eq!(ws.frame(&alice, transfer(&room, 100, "k1")).await, None);
    assert_eq!(ws.app.balance(&bob).await, 100);
    // And a transfer takes a slot a send would have had: 59 more sends, then the 61st is limited.
    for i in 0..59 {
        let r = ws.app.say(&alice, &room, &format!("n{i}")).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    assert_eq!(ws.app.say(&alice, &room, "one too many").await.status, 429);
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod in_memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::memory().await).await;
            })*
        }
        mod on_dynamodb_local {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::dynamodb().await).await;
            })*
        }
    };
}

on_both_stores!(
    a_transfer_in_a_direct_room_is_a_message_and_a_wallet_movement,
    a_replay_moves_no_money_and_posts_nothing_again,
    many_parallel_replays_make_one_transfer_and_one_message,
    a_retry_after_a_crash_posts_the_missing_message_once,
    groups_need_a_member_and_every_refusal_is_an_error_event,
    a_transfer_counts_against_the_send_limit,
    removed_between_money_and_message_the_caller_learns_the_transfer,
    room_deleted_between_money_and_message_the_caller_learns_the_transfer,
    many_retries_at_once_after_removal_all_learn_the_one_transfer,
    a_rename_between_check_and_pay_cannot_pay_another_account,
);
