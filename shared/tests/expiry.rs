//! The memory stores drop what DynamoDB's TTL drops (issue 18): pending signups, sessions and
//! their refresh records, reset tickets, idempotency records, WebSocket tickets and lapsed
//! connections. One set of records is written through the ports to both stores: on DynamoDB
//! Local each item carries a `ttl` at the instant the memory store drops it (AWS deletes it
//! then), and the memory store keeps every record until that instant and none after.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use ::time::{Duration, OffsetDateTime};
use aws_sdk_dynamodb::types::AttributeValue;
use chatman::adapters::dynamodb::{DynamoAccounts, DynamoConnections, DynamoLedger, schema};
use chatman::adapters::memory::MemoryAccounts;
use chatman::adapters::memory_connections::MemoryConnections;
use chatman::adapters::memory_expiry::Expiring;
use chatman::adapters::memory_ledger::MemoryLedger;
use chatman::domain::*;
use chatman::ports::{AccountStore, Claim, ClaimOutcome, ConnectionStore, IdemScope, LedgerStore};
use std::collections::BTreeSet;
use std::sync::Arc;
use support::start_time;

struct Stores {
    accounts: Arc<dyn AccountStore>,
    ledger: Arc<dyn LedgerStore>,
    connections: Arc<dyn ConnectionStore>,
}

/// What was written, and the instant each record lapses.
struct Written {
    signup: PendingSignup,
    session: Session,
    refresh: RefreshRecord,
    reset: ResetTicket,
    claim: Claim,
    ticket: WsTicket,
    connection: ConnectionId,
    user: User,
}

fn at(offset: Duration) -> OffsetDateTime {
    start_time() + offset
}

fn user_named(name: &str) -> (PendingSignup, User) {
    let pending = PendingSignup {
        id: SignupId::new(),
        username: Username::parse(name).unwrap(),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        first_name: "First".into(),
        last_name: String::new(),
        bio: String::new(),
        email_taken: false,
        code_hash: [7; 32],
        code_round: 0,
        code_expires_at: at(Duration::minutes(10)),
        failed_attempts: 0,
        resends: 0,
        last_sent_at: start_time(),
        created_at: start_time(),
        expires_at: at(Duration::hours(24)),
        version: 0,
    };
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
        created_at: start_time(),
        session_epoch: 0,
        group_adds: Default::default(),
        version: 0,
    };
    (pending, user)
}

/// The records, each with its own lifetime, written through the ports.
async fn write(s: &Stores) -> Written {
    let (account_signup, user) = user_named("alice");
    s.accounts.put_signup(&account_signup).await.unwrap();
    s.accounts
        .create_user(&user, &account_signup)
        .await
        .unwrap();
    // A second signup left pending: it lapses after a day.
    let (signup, _) = user_named("bob");
    s.accounts.put_signup(&signup).await.unwrap();
    let session = Session {
        id: SessionId::new(),
        user_id: user.id,
        epoch: 0,
        created_at: start_time(),
        expires_at: at(Duration::days(30)),
        revoked: false,
    };
    let refresh = RefreshRecord {
        hash: TokenHash([1; 32]),
        session_id: session.id,
        user_id: user.id,
        active: true,
        expires_at: session.expires_at,
    };
    s.accounts.create_session(&session, &refresh).await.unwrap();
    let reset = ResetTicket {
        user_id: user.id,
        secret_hash: TokenHash([2; 32]),
        expires_at: at(Duration::minutes(30)),
    };
    s.accounts.put_reset_ticket(&reset).await.unwrap();
    let claim = Claim {
        scope: IdemScope {
            user: user.id,
            key: IdempotencyKey::parse("pay-rent-december").unwrap(),
        },
        token: "a".repeat(32),
        fingerprint: [3; 32],
        lease_until: at(Duration::seconds(30)),
        expires_at: at(Duration::hours(24)),
    };
    assert_eq!(
        s.ledger.claim(&claim, start_time()).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let binding = SessionBinding {
        user_id: user.id,
        session_id: session.id,
        epoch: 0,
    };
    let ticket = WsTicket {
        hash: TokenHash([4; 32]),
        session: binding,
        expires_at: at(Duration::seconds(60)),
    };
    s.connections.put_ticket(&ticket).await.unwrap();
    // A second ticket, spent on a connection that then lives its full lifetime.
    let spent = TokenHash([5; 32]);
    s.connections
        .put_ticket(&WsTicket {
            hash: spent,
            session: binding,
            expires_at: at(Duration::seconds(60)),
        })
        .await
        .unwrap();
    let connection = ConnectionId::parse("Zexpiry1connA=").unwrap();
    s.connections
        .connect(&spent, &connection, start_time())
        .await
        .unwrap()
        .expect("the connection opens");
    Written {
        signup,
        session,
        refresh,
        reset,
        claim,
        ticket,
        connection,
        user,
    }
}

#[tokio::test]
async fn the_memory_stores_keep_each_record_until_its_ttl_and_drop_it_after() {
    let accounts = Arc::new(MemoryAccounts::new());
    let ledger = Arc::new(MemoryLedger::new());
    let connections = Arc::new(MemoryConnections::new(accounts.clone()));
    let s = Stores {
        accounts: accounts.clone(),
        ledger: ledger.clone(),
        connections: connections.clone(),
    };
    let w = write(&s).await;
    let opened = connections
        .connection(&w.connection, start_time())
        .await
        .unwrap()
        .expect("open");
    let sweep = |now: OffsetDateTime| {
        accounts.drop_expired(now) + ledger.drop_expired(now) + connections.drop_expired(now)
    };

    // Nothing has lapsed a second before the earliest expiry (the tickets, at 60 s).
    assert_eq!(sweep(at(Duration::seconds(59))), 0);
    // The unspent ticket lapses; the spent one was deleted by its connect.
    assert_eq!(sweep(w.ticket.expires_at), 1);
    // The reset ticket at 30 minutes.
    assert!(s.accounts.reset_ticket(&w.user.id).await.unwrap().is_some());
    assert_eq!(sweep(w.reset.expires_at), 1);
    assert!(s.accounts.reset_ticket(&w.user.id).await.unwrap().is_none());
    // The connection at its own expiry (130 minutes): gone, not merely hidden.
    assert_eq!(sweep(opened.expires_at - Duration::seconds(1)), 0);
    assert_eq!(sweep(opened.expires_at), 1);
    assert!(
        connections
            .connection(&w.connection, opened.expires_at - Duration::seconds(1))
            .await
            .unwrap()
            .is_none(),
        "a lapsed connection is gone, not merely hidden"
    );
    // The pending signup and the idempotency record at 24 hours: a retry of the key after that
    // is a new request, on DynamoDB as here.
    assert!(s.accounts.signup(&w.signup.id).await.unwrap().is_some());
    assert_eq!(sweep(w.claim.expires_at - Duration::seconds(1)), 0);
    assert_eq!(
        sweep(w.claim.expires_at),
        2,
        "the signup and the idempotency record"
    );
    assert!(s.accounts.signup(&w.signup.id).await.unwrap().is_none());
    // The session and its refresh record at 30 days; the user stays.
    assert!(s.accounts.session(&w.session.id).await.unwrap().is_some());
    assert_eq!(sweep(w.session.expires_at), 2);
    assert!(s.accounts.session(&w.session.id).await.unwrap().is_none());
    assert!(
        s.accounts
            .refresh_token(&w.refresh.hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.accounts.user(&w.user.id).await.unwrap().is_some());
    assert_eq!(sweep(at(Duration::days(365))), 0, "nothing else expires");
}

#[tokio::test]
async fn on_dynamodb_the_same_records_carry_a_ttl_at_the_instant_memory_drops_them() {
    let aws = chatman::adapters::aws::local(&support::dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    schema::create_accounts_table(&client, &table)
        .await
        .unwrap();
    let accounts: Arc<dyn AccountStore> =
        Arc::new(DynamoAccounts::new(client.clone(), table.clone()));
    let s = Stores {
        ledger: Arc::new(DynamoLedger::new(client.clone(), table.clone())),
        connections: Arc::new(DynamoConnections::new(client.clone(), table.clone())),
        accounts,
    };
    let w = write(&s).await;
    let opened = s
        .connections
        .connection(&w.connection, start_time())
        .await
        .unwrap()
        .expect("open");
    let items = client
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let ttls: BTreeSet<i64> = items
        .iter()
        .filter_map(|i| match i.get("ttl") {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        })
        .collect();
    for (what, expires) in [
        ("pending signup", w.signup.expires_at),
        ("session", w.session.expires_at),
        ("refresh record", w.refresh.expires_at),
        ("reset ticket", w.reset.expires_at),
        ("idempotency record", w.claim.expires_at),
        ("WebSocket ticket", w.ticket.expires_at),
        ("connection", opened.expires_at),
    ] {
        assert!(
            ttls.contains(&expires.unix_timestamp()),
            "the {what} has no item with ttl {} (ttls: {ttls:?})",
            expires.unix_timestamp()
        );
    }
    // The account itself never expires.
    let user_items = items.iter().filter(|i| {
        matches!(i.get("pk"), Some(AttributeValue::S(pk)) if pk == &format!("USER#{}", w.user.id))
            && i.contains_key("username")
    });
    for item in user_items {
        assert!(
            !item.contains_key("ttl"),
            "a user item carries a ttl: {item:?}"
        );
    }
}
