//! The account store contract: every rule services rely on, run against the memory adapter and
//! against DynamoDB Local through the real SDK adapter. Both must behave the same.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use ::time::Duration;
use chatman::domain::*;
use chatman::ports::{AccountStore, CreateUserError, RateDecision, StoreError, UpdateUserError};
use std::sync::Arc;
use support::start_time;

fn username(s: &str) -> Username {
    Username::parse(s).unwrap()
}

fn pending(name: &str, email: &str) -> PendingSignup {
    let now = start_time();
    PendingSignup {
        id: SignupId::new(),
        username: username(name),
        email: Email::parse(email).unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        first_name: "First".into(),
        last_name: String::new(),
        bio: "line one\nline two".into(),
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
    }
}

fn user_from(p: &PendingSignup) -> User {
    User {
        id: UserId::new(),
        username: p.username.clone(),
        email: p.email.clone(),
        password_hash: p.password_hash.clone(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        bio: p.bio.clone(),
        avatar_key: None,
        role: Default::default(),
        group_adds: Default::default(),
        created_at: start_time(),
        session_epoch: 0,
        version: 0,
    }
}

async fn create(store: &dyn AccountStore, name: &str) -> User {
    let p = pending(name, &format!("{name}@example.com"));
    store.put_signup(&p).await.unwrap();
    let u = user_from(&p);
    store.create_user(&u, &p).await.unwrap();
    u
}

async fn signups_round_trip_and_updates_are_version_checked(store: Arc<dyn AccountStore>) {
    let p = pending("alice", "alice@example.com");
    store.put_signup(&p).await.unwrap();
    assert_eq!(store.signup(&p.id).await.unwrap().as_ref(), Some(&p));
    let bumped = PendingSignup {
        failed_attempts: 1,
        ..p.clone()
    };
    store.update_signup(&bumped).await.unwrap();
    let stored = store.signup(&p.id).await.unwrap().unwrap();
    assert_eq!((stored.failed_attempts, stored.version), (1, 1));
    // A writer that read version 0 lost the race.
    assert!(matches!(
        store.update_signup(&bumped).await,
        Err(StoreError::Conflict)
    ));
    assert!(store.signup(&SignupId::new()).await.unwrap().is_none());
}

async fn creating_a_user_claims_username_and_email_and_spends_the_signup(
    store: Arc<dyn AccountStore>,
) {
    let p = pending("alice", "alice@example.com");
    store.put_signup(&p).await.unwrap();
    let u = user_from(&p);
    store.create_user(&u, &p).await.unwrap();
    assert!(store.signup(&p.id).await.unwrap().is_none());
    assert_eq!(store.user(&u.id).await.unwrap().as_ref(), Some(&u));
    assert_eq!(
        store
            .user_by_username(&username("alice"))
            .await
            .unwrap()
            .map(|x| x.id),
        Some(u.id)
    );
    assert_eq!(
        store.user_by_email(&u.email).await.unwrap().map(|x| x.id),
        Some(u.id)
    );

    let same_name = pending("alice", "other@example.com");
    store.put_signup(&same_name).await.unwrap();
    assert!(matches!(
        store.create_user(&user_from(&same_name), &same_name).await,
        Err(CreateUserError::UsernameTaken)
    ));
    let same_email = pending("other", "alice@example.com");
    store.put_signup(&same_email).await.unwrap();
    assert!(matches!(
        store
            .create_user(&user_from(&same_email), &same_email)
            .await,
        Err(CreateUserError::EmailTaken)
    ));
    // Failed creations leave nothing behind.
    assert!(
        store
            .user_by_username(&username("other"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.signup(&same_email.id).await.unwrap().is_some());
}

async fn a_stale_signup_cannot_create_a_user(store: Arc<dyn AccountStore>) {
    let p = pending("alice", "alice@example.com");
    store.put_signup(&p).await.unwrap();
    store
        .update_signup(&PendingSignup {
            failed_attempts: 1,
            ..p.clone()
        })
        .await
        .unwrap();
    assert!(matches!(
        store.create_user(&user_from(&p), &p).await,
        Err(CreateUserError::Conflict)
    ));
    assert!(
        store
            .user_by_username(&username("alice"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn racing_creations_of_one_username_cannot_both_win(store: Arc<dyn AccountStore>) {
    let (a, b) = (
        pending("alice", "a@example.com"),
        pending("alice", "b@example.com"),
    );
    store.put_signup(&a).await.unwrap();
    store.put_signup(&b).await.unwrap();
    let (ua, ub) = (user_from(&a), user_from(&b));
    let (ra, rb) = tokio::join!(store.create_user(&ua, &a), store.create_user(&ub, &b));
    assert_eq!(
        [ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{ra:?} {rb:?}"
    );
}

async fn users_are_updated_only_from_their_current_version(store: Arc<dyn AccountStore>) {
    let u = create(store.as_ref(), "alice").await;
    let edited = User {
        bio: "new".into(),
        ..u.clone()
    };
    store.update_user(&edited, None).await.unwrap();
    let stored = store.user(&u.id).await.unwrap().unwrap();
    assert_eq!((stored.bio.as_str(), stored.version), ("new", 1));
    assert!(matches!(
        store.update_user(&edited, None).await,
        Err(UpdateUserError::Conflict)
    ));
}

async fn a_username_change_moves_the_claim_atomically(store: Arc<dyn AccountStore>) {
    let alice = create(store.as_ref(), "alice").await;
    let bob = create(store.as_ref(), "bob").await;
    let renamed = User {
        username: username("alicia"),
        ..alice.clone()
    };
    store
        .update_user(&renamed, Some(&username("alice")))
        .await
        .unwrap();
    assert!(
        store
            .user_by_username(&username("alice"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .user_by_username(&username("alicia"))
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.id)
    );
    let stored = store.user(&alice.id).await.unwrap().unwrap();
    let grab = User {
        username: username("bob"),
        ..stored
    };
    assert!(matches!(
        store.update_user(&grab, Some(&username("alicia"))).await,
        Err(UpdateUserError::UsernameTaken)
    ));
    assert_eq!(
        store
            .user_by_username(&username("bob"))
            .await
            .unwrap()
            .map(|u| u.id),
        Some(bob.id)
    );
    assert_eq!(
        store
            .user_by_username(&username("alicia"))
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.id)
    );
}

async fn search_finds_username_prefixes_in_order(store: Arc<dyn AccountStore>) {
    for name in ["bob", "alfred", "ali", "albert", "zed"] {
        create(store.as_ref(), name).await;
    }
    let names = |users: Vec<PublicProfile>| {
        users
            .into_iter()
            .map(|u| u.username.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.search_users("al", 10).await.unwrap()),
        ["albert", "alfred", "ali"]
    );
    assert_eq!(
        names(store.search_users("alb", 10).await.unwrap()),
        ["albert"]
    );
    assert_eq!(
        names(store.search_users("al", 2).await.unwrap()),
        ["albert", "alfred"]
    );
    assert!(store.search_users("q", 10).await.unwrap().is_empty());
}

async fn users_by_ids_skip_unknown_ones(store: Arc<dyn AccountStore>) {
    let a = create(store.as_ref(), "alice").await;
    let b = create(store.as_ref(), "bob").await;
    let mut found: Vec<UserId> = store
        .users(&[a.id, UserId::new(), b.id])
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    found.sort();
    let mut want = vec![a.id, b.id];
    want.sort();
    assert_eq!(found, want);
    assert!(store.users(&[]).await.unwrap().is_empty());
}

fn refresh(session: &Session, hash: [u8; 32]) -> RefreshRecord {
    RefreshRecord {
        hash: TokenHash(hash),
        session_id: session.id,
        user_id: session.user_id,
        active: true,
        expires_at: session.expires_at,
    }
}

async fn refresh_tokens_rotate_once(store: Arc<dyn AccountStore>) {
    let u = create(store.as_ref(), "alice").await;
    let session = Session {
        id: SessionId::new(),
        user_id: u.id,
        epoch: 0,
        created_at: start_time(),
        expires_at: start_time() + Duration::days(30),
        revoked: false,
    };
    let first = refresh(&session, [1; 32]);
    store.create_session(&session, &first).await.unwrap();
    assert_eq!(
        store.session(&session.id).await.unwrap().as_ref(),
        Some(&session)
    );
    assert_eq!(
        store.refresh_token(&first.hash).await.unwrap().as_ref(),
        Some(&first)
    );
    let second = refresh(&session, [2; 32]);
    store
        .rotate_refresh_token(&first.hash, &second)
        .await
        .unwrap();
    assert!(
        !store
            .refresh_token(&first.hash)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    assert!(
        store
            .refresh_token(&second.hash)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    // The retired token cannot rotate again.
    let third = refresh(&session, [3; 32]);
    assert!(matches!(
        store.rotate_refresh_token(&first.hash, &third).await,
        Err(StoreError::Conflict)
    ));
    assert!(store.refresh_token(&third.hash).await.unwrap().is_none());
    store.revoke_session(&session.id).await.unwrap();
    assert!(store.session(&session.id).await.unwrap().unwrap().revoked);
    // Revoking an unknown session is harmless.
    store.revoke_session(&SessionId::new()).await.unwrap();
}

async fn a_reset_ticket_is_replaced_by_a_newer_one_and_consumed_once(store: Arc<dyn AccountStore>) {
    let u = create(store.as_ref(), "alice").await;
    let old = ResetTicket {
        user_id: u.id,
        secret_hash: TokenHash([1; 32]),
        expires_at: start_time() + Duration::minutes(5),
    };
    let new = ResetTicket {
        secret_hash: TokenHash([2; 32]),
        ..old.clone()
    };
    store.put_reset_ticket(&old).await.unwrap();
    store.put_reset_ticket(&new).await.unwrap();
    assert_eq!(
        store.reset_ticket(&u.id).await.unwrap().as_ref(),
        Some(&new)
    );
    let changed = User {
        password_hash: "other".into(),
        session_epoch: 1,
        ..u.clone()
    };
    assert!(matches!(
        store.consume_reset_ticket(&old, &changed).await,
        Err(StoreError::Conflict)
    ));
    store.consume_reset_ticket(&new, &changed).await.unwrap();
    assert!(store.reset_ticket(&u.id).await.unwrap().is_none());
    let stored = store.user(&u.id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.password_hash.as_str(),
            stored.session_epoch,
            stored.version
        ),
        ("other", 1, 1)
    );
    assert!(matches!(
        store.consume_reset_ticket(&new, &stored).await,
        Err(StoreError::Conflict)
    ));
}

async fn tallies_are_written_as_versions_and_cleared(store: Arc<dyn AccountStore>) {
    let keys = vec!["user:x@203.0.113.7".to_owned(), "user:x".to_owned()];
    let fresh = store.tallies(&keys).await.unwrap();
    assert_eq!(fresh, vec![Tally::default(), Tally::default()]);
    let t = start_time();
    let locked = Tally {
        count: 5,
        locked_until: Some(t + Duration::seconds(30)),
        version: 0,
    };
    let one = Tally {
        count: 1,
        locked_until: None,
        version: 0,
    };
    store
        .put_tallies(&[(keys[0].clone(), locked), (keys[1].clone(), one)], t)
        .await
        .unwrap();
    let read = store.tallies(&keys).await.unwrap();
    assert_eq!(
        read[0],
        Tally {
            version: 1,
            ..locked
        }
    );
    assert_eq!(read[1], Tally { version: 1, ..one });
    store.clear_tallies(&keys).await.unwrap();
    assert_eq!(
        store.tallies(&keys).await.unwrap(),
        vec![Tally::default(), Tally::default()]
    );
}

async fn a_tally_write_from_a_stale_read_changes_nothing(store: Arc<dyn AccountStore>) {
    let keys = vec!["login:x@192.0.2.1".to_owned(), "login:x".to_owned()];
    let t = start_time();
    let read = store.tallies(&keys).await.unwrap();
    let counted = |t: Tally| Tally {
        count: t.count + 1,
        ..t
    };
    store
        .put_tallies(&[(keys[1].clone(), counted(read[1]))], t)
        .await
        .unwrap();
    // Both written from the first read: the second key's version moved, so neither lands.
    let stale = [
        (keys[0].clone(), counted(read[0])),
        (keys[1].clone(), counted(read[1])),
    ];
    assert!(matches!(
        store.put_tallies(&stale, t).await,
        Err(StoreError::Conflict)
    ));
    let now = store.tallies(&keys).await.unwrap();
    assert_eq!(now[0], Tally::default(), "all or nothing");
    assert_eq!(now[1].count, 1);
}

async fn concurrent_tally_writes_from_one_read_land_once(store: Arc<dyn AccountStore>) {
    let keys = vec!["user:race@198.51.100.2".to_owned()];
    let t = start_time();
    let read = store.tallies(&keys).await.unwrap()[0];
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            let key = keys[0].clone();
            tokio::spawn(async move {
                let next = Tally {
                    count: read.count + 1,
                    ..read
                };
                store.put_tallies(&[(key, next)], t).await.is_ok()
            })
        })
        .collect();
    let mut landed = 0;
    for task in tasks {
        landed += usize::from(task.await.unwrap());
    }
    assert_eq!(landed, 1, "exactly one write from the same read wins");
    assert_eq!(store.tallies(&keys).await.unwrap()[0].count, 1);
}

async fn rate_limits_count_per_fixed_window(store: Arc<dyn AccountStore>) {
    let t = start_time() + Duration::seconds(10);
    let window = Duration::minutes(1);
    for _ in 0..3 {
        assert_eq!(
            store.hit_rate_limit("k", 3, window, t).await.unwrap(),
            RateDecision::Allowed
        );
    }
    assert_eq!(
        store.hit_rate_limit("k", 3, window, t).await.unwrap(),
        RateDecision::Limited {
            until: start_time() + Duration::minutes(1)
        }
    );
    assert_eq!(
        store.hit_rate_limit("other", 3, window, t).await.unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(
        store
            .hit_rate_limit("k", 3, window, t + window)
            .await
            .unwrap(),
        RateDecision::Allowed
    );
}

async fn blocks_are_directional_idempotent_and_paged(store: Arc<dyn AccountStore>) {
    let a = UserId::new();
    let others: Vec<UserId> = (0..5).map(|_| UserId::new()).collect();
    for o in &others {
        store.block(&a, o, start_time()).await.unwrap();
    }
    store.block(&a, &others[0], start_time()).await.unwrap();
    assert!(store.is_blocked(&a, &others[0]).await.unwrap());
    assert!(!store.is_blocked(&others[0], &a).await.unwrap());
    let first = store.blocked_by(&a, 3, None).await.unwrap();
    assert_eq!(first.items.len(), 3);
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = store.blocked_by(&a, 3, Some(&cursor)).await.unwrap();
    assert_eq!(second.items.len(), 2);
    assert_eq!(second.next_cursor, None);
    let mut all: Vec<UserId> = first.items.into_iter().chain(second.items).collect();
    all.sort();
    let mut want = others.clone();
    want.sort();
    assert_eq!(all, want);
    store.unblock(&a, &others[0]).await.unwrap();
    store.unblock(&a, &others[0]).await.unwrap();
    assert!(!store.is_blocked(&a, &others[0]).await.unwrap());
    assert_eq!(store.blocked_by(&a, 10, None).await.unwrap().items.len(), 4);
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(std::sync::Arc::new(chatman::adapters::memory::MemoryAccounts::new())).await }) *
        }
        mod dynamodb_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(crate::support::dynamo_store().await).await }) *
        }
    };
}

contract!(
    signups_round_trip_and_updates_are_version_checked,
    creating_a_user_claims_username_and_email_and_spends_the_signup,
    a_stale_signup_cannot_create_a_user,
    racing_creations_of_one_username_cannot_both_win,
    users_are_updated_only_from_their_current_version,
    a_username_change_moves_the_claim_atomically,
    search_finds_username_prefixes_in_order,
    users_by_ids_skip_unknown_ones,
    refresh_tokens_rotate_once,
    a_reset_ticket_is_replaced_by_a_newer_one_and_consumed_once,
    tallies_are_written_as_versions_and_cleared,
    a_tally_write_from_a_stale_read_changes_nothing,
    concurrent_tally_writes_from_one_read_land_once,
    rate_limits_count_per_fixed_window,
    blocks_are_directional_idempotent_and_paged,
);
