//! The connection store contract: tickets open one connection once, only while the session that
//! took the ticket lives; connections are found by owner and by id, lapse or are forgotten; a
//! user holds at most `MAX_CONNECTIONS_PER_USER` (the oldest evicted), under racing connects too.
//! Run against the memory adapter and against DynamoDB Local through the real SDK adapter (the
//! sessions in the account store beside them); both must behave the same.
#![allow(clippy::unwrap_used)]

mod support;

use ::time::Duration;
use ::time::OffsetDateTime;
use chatman::adapters::dynamodb::{
    DynamoAccounts, DynamoConnections, schema::create_accounts_table,
};
use chatman::adapters::memory::MemoryAccounts;
use chatman::adapters::memory_connections::MemoryConnections;
use chatman::adapters::recording_connection_api::RecordingConnectionApi;
use chatman::domain::{
    CONNECTION_LIFETIME, Connection, ConnectionId, Email, MAX_CONNECTIONS_PER_USER, PendingSignup,
    RefreshRecord, RoomId, SUBSCRIPTION_SHARDS, Session, SessionBinding, SessionId, SignupId,
    TICKET_LIFETIME, TokenHash, User, UserId, Username, WsTicket, subscription_shard,
};
use chatman::ports::{AccountStore, Clock, ConnectionStore, ManualClock};
use chatman::services::socket_sweep::SocketSweep;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use support::start_time;

#[derive(Clone)]
struct Stores {
    accounts: Arc<dyn AccountStore>,
    connections: Arc<dyn ConnectionStore>,
}

async fn dynamo() -> Stores {
    let aws = chatman::adapters::aws::local(&support::dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    create_accounts_table(&client, &table).await.unwrap();
    Stores {
        accounts: Arc::new(DynamoAccounts::new(client.clone(), table.clone())),
        connections: Arc::new(DynamoConnections::new(client, table)),
    }
}

fn memory() -> Stores {
    let accounts: Arc<dyn AccountStore> = Arc::new(MemoryAccounts::new());
    Stores {
        connections: Arc::new(MemoryConnections::new(accounts.clone())),
        accounts,
    }
}

fn id(raw: &str) -> ConnectionId {
    ConnectionId::parse(raw).unwrap()
}

/// A user with one open session, written straight into the account store.
async fn signed_in(accounts: &dyn AccountStore) -> (User, SessionBinding) {
    let now = start_time();
    let name = format!("u{}", rand::random::<u32>());
    let pending = PendingSignup {
        id: SignupId::new(),
        username: Username::parse(&name).unwrap(),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        first_name: "First".into(),
        last_name: String::new(),
        bio: String::new(),
        email_taken: false,
        code_hash: [7; 32],
        code_round: 0,
        code_expires_at: now + Duration::minutes(10),
        failed_attempts: 0,
        resends: 0,
        last_sent_at: now,
        created_at: now,
        expires_at: now + Duration::hours(24),
        version: 0,
    };
    accounts.put_signup(&pending).await.unwrap();
    let user = User {
        id: UserId::new(),
        username: pending.username.clone(),
        email: pending.email.clone(),
        password_hash: pending.password_hash.clone(),
        first_name: pending.first_name.clone(),
        last_name: String::new(),
        bio: String::new(),
        avatar_key: None,
        role: Default::default(),
        created_at: now,
        session_epoch: 0,
        group_adds: Default::default(),
        version: 0,
    };
    accounts.create_user(&user, &pending).await.unwrap();
    let session = open_session(accounts, &user).await;
    (user, session)
}

/// Another session of `user` (another device).
async fn open_session(accounts: &dyn AccountStore, user: &User) -> SessionBinding {
    let session = Session {
        id: SessionId::new(),
        user_id: user.id,
        epoch: user.session_epoch,
        created_at: start_time(),
        expires_at: start_time() + Duration::days(30),
        revoked: false,
    };
    let record = RefreshRecord {
        hash: TokenHash(rand::random()),
        session_id: session.id,
        user_id: user.id,
        active: true,
        expires_at: session.expires_at,
    };
    accounts.create_session(&session, &record).await.unwrap();
    SessionBinding {
        user_id: user.id,
        session_id: session.id,
        epoch: user.session_epoch,
    }
}

static SEED: AtomicU8 = AtomicU8::new(1);

async fn ticket(store: &dyn ConnectionStore, session: SessionBinding) -> TokenHash {
    let mut bytes: [u8; 32] = rand::random();
    bytes[0] = SEED.fetch_add(1, Ordering::Relaxed);
    let hash = TokenHash(bytes);
    store
        .put_ticket(&WsTicket {
            hash,
            session,
            expires_at: start_time() + TICKET_LIFETIME,
        })
        .await
        .unwrap();
    hash
}

/// A connection `raw` of `session`, opened at `at`.
async fn open(
    store: &dyn ConnectionStore,
    session: SessionBinding,
    raw: &str,
    at: ::time::OffsetDateTime,
) -> Connection {
    let hash = ticket(store, session).await;
    store
        .connect(&hash, &id(raw), at)
        .await
        .unwrap()
        .expect("the ticket opens a connection")
        .connection
}

async fn a_ticket_opens_one_connection_for_its_owner(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    let alice = user.id;
    let hash = ticket(&*store, session).await;
    let now = start_time() + Duration::seconds(5);
    let opened = store
        .connect(&hash, &id("c1="), now)
        .await
        .unwrap()
        .unwrap();
    assert!(opened.evicted.is_empty());
    let opened = opened.connection;
    assert_eq!(opened.user_id, alice);
    assert_eq!(opened.session_id, session.session_id);
    assert_eq!(opened.epoch, session.epoch);
    assert_eq!(opened.connected_at, now);
    assert_eq!(opened.expires_at, now + CONNECTION_LIFETIME);
    assert_eq!(
        store.connection(&id("c1="), now).await.unwrap(),
        Some(opened.clone())
    );
    assert_eq!(
        store.connections_of(&alice, now).await.unwrap(),
        vec![opened]
    );
    assert!(
        store
            .connect(&hash, &id("c2="), now)
            .await
            .unwrap()
            .is_none(),
        "a spent ticket opens nothing"
    );
    assert!(store.connection(&id("c2="), now).await.unwrap().is_none());
}

async fn missing_and_expired_tickets_open_nothing(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    let alice = user.id;
    assert!(
        store
            .connect(&TokenHash([9; 32]), &id("c1"), start_time())
            .await
            .unwrap()
            .is_none()
    );
    let hash = ticket(&*store, session).await;
    let expired = start_time() + TICKET_LIFETIME;
    assert!(
        store
            .connect(&hash, &id("c1"), expired)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .connections_of(&alice, expired)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn racing_connects_with_one_ticket_have_exactly_one_winner(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    let alice = user.id;
    let hash = ticket(&*store, session).await;
    let attempts = (0..16).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .connect(&hash, &id(&format!("race{i}")), start_time())
                .await
        })
    });
    let results = futures_util::future::join_all(attempts).await;
    let winners = results
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .filter(Option::is_some)
        .count();
    assert_eq!(winners, 1);
    assert_eq!(
        store
            .connections_of(&alice, start_time())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn each_user_finds_only_their_own_connections(stores: Stores) {
    let store = stores.connections.clone();
    let (a, alice_session) = signed_in(&*stores.accounts).await;
    let (b, bob_session) = signed_in(&*stores.accounts).await;
    let (alice, bob) = (a.id, b.id);
    for (i, session) in [alice_session, alice_session, bob_session]
        .into_iter()
        .enumerate()
    {
        open(&*store, session, &format!("k{i}"), start_time()).await;
    }
    let mut of_alice: Vec<String> = store
        .connections_of(&alice, start_time())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    of_alice.sort();
    assert_eq!(of_alice, ["k0", "k1"]);
    assert_eq!(
        store
            .connections_of(&bob, start_time())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .connections_of(&UserId::new(), start_time())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_disconnect_forgets_the_connection_everywhere(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    let alice = user.id;
    open(&*store, session, "gone", start_time()).await;
    store.disconnect(&id("gone")).await.unwrap();
    assert!(
        store
            .connection(&id("gone"), start_time())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .connections_of(&alice, start_time())
            .await
            .unwrap()
            .is_empty()
    );
    store.disconnect(&id("gone")).await.unwrap();
    store.disconnect(&id("never")).await.unwrap();
}

async fn connections_lapse_after_their_lifetime(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    let alice = user.id;
    open(&*store, session, "old", start_time()).await;
    let later = start_time() + CONNECTION_LIFETIME;
    assert!(store.connection(&id("old"), later).await.unwrap().is_none());
    assert!(
        store
            .connections_of(&alice, later)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_ticket_of_an_ended_session_opens_nothing(stores: Stores) {
    let store = stores.connections.clone();
    let accounts = stores.accounts.clone();
    let (user, session) = signed_in(&*accounts).await;
    let other = open_session(&*accounts, &user).await;

    // Logout of the ticket's session.
    let hash = ticket(&*store, session).await;
    accounts.revoke_session(&session.session_id).await.unwrap();
    assert!(
        store
            .connect(&hash, &id("revoked"), start_time())
            .await
            .unwrap()
            .is_none()
    );

    // Logout-all (the epoch moves on) kills the other session's ticket too.
    let hash = ticket(&*store, other).await;
    let mut bumped = accounts.user(&user.id).await.unwrap().unwrap();
    bumped.session_epoch += 1;
    accounts.update_user(&bumped, None).await.unwrap();
    assert!(
        store
            .connect(&hash, &id("stale"), start_time())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .connections_of(&user.id, start_time())
            .await
            .unwrap()
            .is_empty()
    );

    // A ticket of a session opened after the bump works.
    let fresh = open_session(&*accounts, &bumped).await;
    let opened = open(&*store, fresh, "fresh", start_time()).await;
    assert_eq!(opened.epoch, 1);
}

async fn the_eleventh_connection_evicts_the_oldest(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    for i in 0..MAX_CONNECTIONS_PER_USER {
        let at = start_time() + Duration::seconds(i as i64);
        open(&*store, session, &format!("c{i:02}"), at).await;
    }
    let hash = ticket(&*store, session).await;
    let at = start_time() + Duration::seconds(30);
    let opened = store
        .connect(&hash, &id("newest"), at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.evicted, vec![id("c00")], "the oldest goes");
    let held = store.connections_of(&user.id, at).await.unwrap();
    assert_eq!(held.len(), MAX_CONNECTIONS_PER_USER);
    assert!(held.iter().all(|c| c.id != id("c00")));
    assert!(store.connection(&id("c00"), at).await.unwrap().is_none());
    assert!(store.connection(&id("newest"), at).await.unwrap().is_some());
}

async fn thirty_racing_connects_leave_at_most_ten(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    let mut tickets = Vec::new();
    for _ in 0..30 {
        tickets.push(ticket(&*store, session).await);
    }
    let attempts = tickets.into_iter().enumerate().map(|(i, hash)| {
        let store = store.clone();
        tokio::spawn(async move {
            let at = start_time() + Duration::milliseconds(i as i64);
            store.connect(&hash, &id(&format!("p{i:02}")), at).await
        })
    });
    let opened: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap().expect("every ticket opens"))
        .collect();
    let held = store
        .connections_of(&user.id, start_time() + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(held.len(), MAX_CONNECTIONS_PER_USER, "{held:?}");
    // Every connection is either still held or was evicted by exactly one later connect.
    let mut evicted: Vec<ConnectionId> = opened.iter().flat_map(|o| o.evicted.clone()).collect();
    evicted.sort();
    evicted.dedup();
    assert_eq!(evicted.len() + held.len(), 30);
}

async fn racing_connects_and_logout_all_leave_no_live_connection(stores: Stores) {
    let store = stores.connections.clone();
    let accounts = stores.accounts.clone();
    let (user, session) = signed_in(&*accounts).await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start_time()));
    let sweep = SocketSweep::new(
        store.clone(),
        Arc::new(RecordingConnectionApi::new()),
        clock,
    );
    for round in 0..4 {
        let mut tickets = Vec::new();
        for _ in 0..6 {
            tickets.push(ticket(&*store, session).await);
        }
        let connects = tickets.into_iter().enumerate().map(|(i, hash)| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .connect(&hash, &id(&format!("r{round}x{i}")), start_time())
                    .await
            })
        });
        let logout_all = {
            let (accounts, sweep, user) = (accounts.clone(), sweep.clone(), user.id);
            tokio::spawn(async move {
                let mut me = accounts.user(&user).await.unwrap().unwrap();
                me.session_epoch += 1;
                accounts.update_user(&me, None).await.unwrap();
                sweep.end_epochs_before(&user, me.session_epoch).await;
                me.session_epoch
            })
        };
        let (results, epoch) = tokio::join!(futures_util::future::join_all(connects), logout_all);
        for r in results {
            r.unwrap().unwrap();
        }
        let epoch = epoch.unwrap();
        let left = store.connections_of(&user.id, start_time()).await.unwrap();
        assert!(
            left.iter().all(|c| c.epoch == epoch),
            "round {round}: a connection of an ended epoch is still recorded: {left:?}"
        );
        assert!(left.is_empty(), "no ticket was of the new epoch");
    }
}

async fn a_push_lookup_reads_each_users_live_connections_once(stores: Stores) {
    let store = stores.connections.clone();
    let (alice, alice_session) = signed_in(&*stores.accounts).await;
    let (bob, bob_session) = signed_in(&*stores.accounts).await;
    let (carol, carol_session) = signed_in(&*stores.accounts).await;
    open(&*store, alice_session, "alice1", start_time()).await;
    open(&*store, alice_session, "alice2", start_time()).await;
    open(&*store, bob_session, "bob1", start_time()).await;
    // Carol's one connection lapses before the lookup: she costs nothing and gets nothing.
    open(
        &*store,
        carol_session,
        "carol1",
        start_time() - CONNECTION_LIFETIME,
    )
    .await;
    // Well over one 100-key request of users, most never connected, the real ones repeated.
    let mut users: Vec<UserId> = (0..250).map(|_| UserId::new()).collect();
    users.extend([alice.id, bob.id, carol.id, alice.id, bob.id]);
    users.rotate_right(120);
    let mut found: Vec<String> = store
        .connections_of_users(&users, start_time())
        .await
        .unwrap()
        .into_iter()
        .map(|c| format!("{}:{}", c.user_id == alice.id || c.user_id == bob.id, c.id))
        .collect();
    found.sort();
    assert_eq!(found, ["true:alice1", "true:alice2", "true:bob1"]);
    assert!(
        store
            .connections_of_users(&[], start_time())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_disconnect_leaves_no_record_for_any_lookup(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    open(&*store, session, "kept", start_time()).await;
    let gone = open(&*store, session, "gone", start_time()).await;
    let stale = open(&*store, session, "stale", start_time()).await;
    store.disconnect(&gone.id).await.unwrap();
    // The 410 Gone path: the connection as the push read it, removed in one write.
    store.forget(&stale).await.unwrap();
    store.forget(&stale).await.unwrap();
    for id in [&gone.id, &stale.id] {
        assert!(store.connection(id, start_time()).await.unwrap().is_none());
    }
    let ids = |v: Vec<Connection>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.connections_of(&user.id, start_time()).await.unwrap()),
        vec![id("kept")]
    );
    assert_eq!(
        ids(store
            .connections_of_users(&[user.id], start_time())
            .await
            .unwrap()),
        vec![id("kept")]
    );
}

async fn lapsed_connections_do_not_count_against_the_cap(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    // Ten records whose `$disconnect` never came, lapsed by now; one still live.
    let long_ago = start_time() - CONNECTION_LIFETIME - Duration::seconds(1);
    for i in 0..MAX_CONNECTIONS_PER_USER {
        open(&*store, session, &format!("old{i}"), long_ago).await;
    }
    open(
        &*store,
        session,
        "live",
        start_time() - Duration::seconds(5),
    )
    .await;
    let hash = ticket(&*store, session).await;
    let opened = store
        .connect(&hash, &id("fresh"), start_time())
        .await
        .unwrap()
        .unwrap();
    assert!(
        opened.evicted.is_empty(),
        "lapsed records hold no seat: {:?}",
        opened.evicted
    );
    let mut held: Vec<ConnectionId> = store
        .connections_of(&user.id, start_time())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    held.sort();
    assert_eq!(held, vec![id("fresh"), id("live")]);
    // The connect's write dropped them: still absent looking back from before they lapsed.
    let mut before: Vec<ConnectionId> = store
        .connections_of(&user.id, long_ago)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    before.sort();
    assert_eq!(before, vec![id("fresh"), id("live")]);
}

async fn racing_disconnects_and_connects_keep_exactly_the_live_ones(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    for round in 0..3 {
        let mut old = Vec::new();
        for i in 0..4 {
            old.push(open(&*store, session, &format!("d{round}x{i}"), start_time()).await);
        }
        let mut tickets = Vec::new();
        for _ in 0..4 {
            tickets.push(ticket(&*store, session).await);
        }
        let connects = tickets.into_iter().enumerate().map(|(i, hash)| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .connect(&hash, &id(&format!("n{round}x{i}")), start_time())
                    .await
            })
        });
        let disconnects = old.into_iter().map(|c| {
            let store = store.clone();
            tokio::spawn(async move { store.disconnect(&c.id).await })
        });
        let (connected, disconnected) = tokio::join!(
            futures_util::future::join_all(connects),
            futures_util::future::join_all(disconnects)
        );
        for r in disconnected {
            r.unwrap().unwrap();
        }
        for r in connected {
            assert!(r.unwrap().unwrap().unwrap().evicted.is_empty());
        }
        let mut held: Vec<String> = store
            .connections_of_users(&[user.id], start_time())
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id.to_string())
            .collect();
        held.sort();
        let fresh: Vec<String> = (0..4).map(|i| format!("n{round}x{i}")).collect();
        assert!(
            held.iter().all(|h| h.starts_with('n')),
            "round {round}: a disconnected connection came back: {held:?}"
        );
        assert!(fresh.iter().all(|f| held.contains(f)), "{held:?}");
        for c in fresh {
            store.disconnect(&id(&c)).await.unwrap();
        }
    }
}

/// Every connection in `room`'s index, as `shard/id` (each shard read once), sorted.
async fn index_of(store: &dyn ConnectionStore, room: &RoomId, now: OffsetDateTime) -> Vec<String> {
    let mut all = Vec::new();
    for shard in 0..SUBSCRIPTION_SHARDS {
        for c in store.room_subscribers(room, shard, now).await.unwrap() {
            assert_eq!(
                subscription_shard(&c.id),
                shard,
                "{} is in the wrong shard",
                c.id
            );
            all.push(format!("{shard}/{}", c.id));
        }
    }
    all.sort();
    all
}

fn in_shards(ids: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = ids
        .iter()
        .map(|raw| format!("{}/{raw}", subscription_shard(&id(raw))))
        .collect();
    all.sort();
    all
}

async fn a_members_connections_are_in_exactly_their_shards(stores: Stores) {
    let store = stores.connections.clone();
    let (alice, a) = signed_in(&*stores.accounts).await;
    let (bob, b) = signed_in(&*stores.accounts).await;
    let (channel, other) = (RoomId::new(), RoomId::new());
    let now = start_time();
    open(&*store, a, "alice1", now).await;
    open(&*store, b, "bob1", now).await;
    // Join: the connections she holds go in; a connect afterwards goes in too.
    store.subscribe(&alice.id, &channel).await.unwrap();
    store.subscribe(&alice.id, &channel).await.unwrap();
    open(&*store, a, "alice2", now).await;
    assert_eq!(
        index_of(&*store, &channel, now).await,
        in_shards(&["alice1", "alice2"])
    );
    store.subscribe(&bob.id, &channel).await.unwrap();
    store.subscribe(&bob.id, &other).await.unwrap();
    assert_eq!(
        index_of(&*store, &channel, now).await,
        in_shards(&["alice1", "alice2", "bob1"])
    );
    assert_eq!(index_of(&*store, &other, now).await, in_shards(&["bob1"]));
    // Disconnect and 410 Gone take a connection out of every room.
    store.disconnect(&id("bob1")).await.unwrap();
    let alice1 = store.connection(&id("alice1"), now).await.unwrap().unwrap();
    store.forget(&alice1).await.unwrap();
    assert_eq!(
        index_of(&*store, &channel, now).await,
        in_shards(&["alice2"])
    );
    assert!(index_of(&*store, &other, now).await.is_empty());
    // Leave: none of hers stays, and her next connection does not go in.
    store.unsubscribe(&alice.id, &channel).await.unwrap();
    store.unsubscribe(&alice.id, &channel).await.unwrap();
    store.unsubscribe(&UserId::new(), &channel).await.unwrap();
    open(&*store, a, "alice3", now).await;
    assert!(index_of(&*store, &channel, now).await.is_empty());
    // Lapsed connections are not read.
    store.subscribe(&alice.id, &channel).await.unwrap();
    assert_eq!(
        index_of(&*store, &channel, now).await,
        in_shards(&["alice2", "alice3"])
    );
    assert!(
        index_of(&*store, &channel, now + CONNECTION_LIFETIME)
            .await
            .is_empty()
    );
}

async fn an_evicted_connection_leaves_the_index(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    let channel = RoomId::new();
    store.subscribe(&user.id, &channel).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..=MAX_CONNECTIONS_PER_USER {
        let raw = format!("e{i:02}");
        open(
            &*store,
            session,
            &raw,
            start_time() + Duration::seconds(i as i64),
        )
        .await;
        ids.push(raw);
    }
    let at = start_time() + Duration::seconds(20);
    let kept: Vec<&str> = ids[1..].iter().map(String::as_str).collect();
    assert_eq!(index_of(&*store, &channel, at).await, in_shards(&kept));
}

async fn racing_connects_and_joins_leave_no_live_connection_unsubscribed(stores: Stores) {
    let store = stores.connections.clone();
    let (user, session) = signed_in(&*stores.accounts).await;
    let rooms: Vec<RoomId> = (0..4).map(|_| RoomId::new()).collect();
    let left = RoomId::new();
    store.subscribe(&user.id, &left).await.unwrap();
    let mut tickets = Vec::new();
    for _ in 0..6 {
        tickets.push(ticket(&*store, session).await);
    }
    let connects = tickets.into_iter().enumerate().map(|(i, hash)| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .connect(&hash, &id(&format!("j{i}")), start_time())
                .await
        })
    });
    let joins = rooms.iter().map(|room| {
        let (store, room, user) = (store.clone(), *room, user.id);
        tokio::spawn(async move { store.subscribe(&user, &room).await })
    });
    let leave = {
        let (store, user) = (store.clone(), user.id);
        tokio::spawn(async move { store.unsubscribe(&user, &left).await })
    };
    let (connected, joined, left_ok) = tokio::join!(
        futures_util::future::join_all(connects),
        futures_util::future::join_all(joins),
        leave
    );
    for r in connected {
        r.unwrap().unwrap().unwrap();
    }
    for r in joined {
        r.unwrap().unwrap();
    }
    left_ok.unwrap().unwrap();
    let all: Vec<String> = (0..6).map(|i| format!("j{i}")).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    for room in &rooms {
        assert_eq!(
            index_of(&*store, room, start_time()).await,
            in_shards(&all),
            "every live connection is in every room joined"
        );
    }
    assert!(
        index_of(&*store, &left, start_time()).await.is_empty(),
        "no connection stays in a room left"
    );
}

/// The figure docs/REALTIME.md quotes: reading all 16 shards of a room's index holding 1,000
/// live connections (100 members online with 10 sockets each), eventually consistent, as a
/// delivery's shard tasks do, costs at most the 100 RCU the online audience is allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_an_index_of_1000_connections_costs_under_100_rcu() {
    use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
    let aws = chatman::adapters::aws::local(&support::dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    create_accounts_table(&client, &table).await.unwrap();
    let accounts: Arc<dyn AccountStore> =
        Arc::new(DynamoAccounts::new(client.clone(), table.clone()));
    let store: Arc<dyn ConnectionStore> =
        Arc::new(DynamoConnections::new(client.clone(), table.clone()));
    let channel = RoomId::new();
    // Eight people at a time: DynamoDB Local serializes on its locks, and a hundred at once
    // on a loaded machine time out there (AWS would take them all).
    use futures_util::StreamExt as _;
    let members: Vec<UserId> = futures_util::stream::iter(0..100)
        .map(|u| {
            let (accounts, store) = (accounts.clone(), store.clone());
            async move {
                let (user, session) = signed_in(&*accounts).await;
                store.subscribe(&user.id, &channel).await.unwrap();
                for c in 0..MAX_CONNECTIONS_PER_USER {
                    // API Gateway's ids are 16 characters of base64.
                    let raw = format!("{u:03}{c:02}{:011x}", rand::random::<u64>() >> 20);
                    open(&*store, session, &raw[..16], start_time()).await;
                }
                user.id
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut read = 0;
    for shard in 0..SUBSCRIPTION_SHARDS {
        read += store
            .room_subscribers(&channel, shard, start_time())
            .await
            .unwrap()
            .len();
    }
    assert_eq!(read, 1_000);

    let mut rcu = 0.0;
    let mut hottest = 0.0_f64;
    for shard in 0..SUBSCRIPTION_SHARDS {
        let mut start = None;
        let mut units = 0.0;
        loop {
            let page = client
                .query()
                .table_name(&table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(format!("ROOMSUB#{channel}#{shard}")),
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            units += page
                .consumed_capacity()
                .and_then(|c| c.capacity_units())
                .unwrap();
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        hottest = hottest.max(units);
        rcu += units;
    }
    println!("index of 1000 connections: {rcu} RCU over 16 shards, hottest shard {hottest} RCU");
    assert!(rcu <= 100.0, "{rcu} RCU");

    // The small-room path for the same audience: the 100 members' connections items.
    let keys = members
        .iter()
        .map(|m| {
            std::collections::HashMap::from([
                ("pk".to_owned(), AttributeValue::S(format!("WSUSER#{m}"))),
                ("sk".to_owned(), AttributeValue::S("WSVERSION".to_owned())),
            ])
        })
        .collect();
    let out = client
        .batch_get_item()
        .request_items(
            &table,
            aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .unwrap(),
        )
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let batch: f64 = out
        .consumed_capacity()
        .iter()
        .filter_map(|c| c.capacity_units())
        .sum();
    println!("connections items of 100 members (10 each), one BatchGetItem: {batch} RCU");
    assert!(out.unprocessed_keys.is_none_or(|u| u.is_empty()));
    let found = store
        .connections_of_users(&members, start_time())
        .await
        .unwrap();
    assert_eq!(found.len(), 1_000);
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::memory()).await }) *
        }
        mod dynamodb_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::dynamo().await).await }) *
        }
    };
}

contract!(
    a_ticket_opens_one_connection_for_its_owner,
    missing_and_expired_tickets_open_nothing,
    racing_connects_with_one_ticket_have_exactly_one_winner,
    each_user_finds_only_their_own_connections,
    a_disconnect_forgets_the_connection_everywhere,
    connections_lapse_after_their_lifetime,
    a_ticket_of_an_ended_session_opens_nothing,
    the_eleventh_connection_evicts_the_oldest,
    thirty_racing_connects_leave_at_most_ten,
    racing_connects_and_logout_all_leave_no_live_connection,
    a_push_lookup_reads_each_users_live_connections_once,
    a_disconnect_leaves_no_record_for_any_lookup,
    lapsed_connections_do_not_count_against_the_cap,
    racing_disconnects_and_connects_keep_exactly_the_live_ones,
    a_members_connections_are_in_exactly_their_shards,
    an_evicted_connection_leaves_the_index,
    racing_connects_and_joins_leave_no_live_connection_unsubscribed,
);
