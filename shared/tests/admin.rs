//! The operator's role changes (`services::admin`, behind `chatman-admin`), on both stores: a grant
//! shows in GET /me, a revoke takes it back, an unknown name is an error that writes nothing, and
//! grants and revokes racing each other and the owner's own edits lose no write.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::domain::{Role, Username};
use chatman::error::Error;
use chatman::ports::AccountStore;
use chatman::services::admin::AdminService;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use support::TestApp;

async fn role_in_me(app: &TestApp, access: &str) -> String {
    let me = app.call("GET", "/me", None, Some(access)).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    me.str("role")
}

async fn grant_shows_in_me_and_revoke_takes_it_back(store: Arc<dyn AccountStore>) {
    let app = TestApp::build(store.clone(), "");
    let admin = AdminService::new(store.clone());
    let alice = app.register("alice").await;
    assert_eq!(role_in_me(&app, &alice.access).await, "user");

    let granted = admin.grant("Alice").await.unwrap();
    assert!(granted.changed());
    assert_eq!(
        (granted.previous, granted.user.role),
        (Role::User, Role::Admin)
    );
    // The role is read from the store on every request: the same token now acts as an admin.
    assert_eq!(role_in_me(&app, &alice.access).await, "admin");

    // Granting again writes nothing.
    let again = admin.grant("alice").await.unwrap();
    assert!(!again.changed());
    assert_eq!(again.user.version, granted.user.version);
    assert_eq!(admin.show("alice").await.unwrap().role, Role::Admin);

    let revoked = admin.revoke("alice").await.unwrap();
    assert_eq!(
        (revoked.previous, revoked.user.role),
        (Role::Admin, Role::User)
    );
    assert_eq!(role_in_me(&app, &alice.access).await, "user");
    // Nothing else of the account moved: the password still logs in.
    assert_eq!(app.login("alice", &alice.password).await.status, 200);
}

async fn an_unknown_or_invalid_username_is_an_error_and_writes_nothing(
    store: Arc<dyn AccountStore>,
) {
    let admin = AdminService::new(store.clone());
    assert!(matches!(
        admin.grant("nobody").await,
        Err(Error::NotFound("user"))
    ));
    assert!(matches!(
        admin.revoke("nobody").await,
        Err(Error::NotFound("user"))
    ));
    assert!(matches!(
        admin.show("nobody").await,
        Err(Error::NotFound("user"))
    ));
    assert!(matches!(
        admin.grant("not a name!").await,
        Err(Error::Validation(_))
    ));
    let nobody = Username::parse("nobody").unwrap();
    assert!(store.user_by_username(&nobody).await.unwrap().is_none());
}

async fn racing_grants_revokes_and_edits_lose_no_write(store: Arc<dyn AccountStore>) {
    let app = Arc::new(TestApp::build(store.clone(), ""));
    let admin = Arc::new(AdminService::new(store.clone()));
    let alice = app.register("alice").await;
    let before = admin.show("alice").await.unwrap();

    let mut role_ops = Vec::new();
    for i in 0..8 {
        let admin = admin.clone();
        role_ops.push(tokio::spawn(async move {
            if i % 2 == 0 {
                admin.grant("alice").await
            } else {
                admin.revoke("alice").await
            }
        }));
    }
    let mut edits = Vec::new();
    for i in 0..4 {
        let (app, access) = (app.clone(), alice.access.clone());
        edits.push(tokio::spawn(async move {
            let bio = format!("edit {i}");
            let reply = app
                .call("PATCH", "/me", Some(json!({"bio": bio})), Some(&access))
                .await;
            (reply.status, bio)
        }));
    }

    // Every role change ends, each write at its own version.
    let mut written = Vec::new();
    for op in role_ops {
        let change = op
            .await
            .unwrap()
            .expect("a role change retries until it lands");
        if change.changed() {
            written.push((change.user.version, change.user.role));
        }
    }
    let versions: BTreeSet<u64> = written.iter().map(|(v, _)| *v).collect();
    assert_eq!(
        versions.len(),
        written.len(),
        "two writes claimed one version"
    );
    // The owner's edits either land or are told to retry (409), never silently lost.
    let mut landed = Vec::new();
    for edit in edits {
        let (status, bio) = edit.await.unwrap();
        assert!(status == 200 || status == 409, "edit answered {status}");
        if status == 200 {
            landed.push(bio);
        }
    }

    let after = admin.show("alice").await.unwrap();
    assert_eq!(
        after.version,
        before.version + written.len() as u64 + landed.len() as u64,
        "every successful write is one version step: none overwrote another"
    );
    let expected_role = written
        .iter()
        .max_by_key(|(v, _)| *v)
        .map_or(before.role, |(_, role)| *role);
    assert_eq!(after.role, expected_role, "the last role written holds");
    match landed.is_empty() {
        true => assert_eq!(after.bio, before.bio),
        false => assert!(landed.contains(&after.bio), "bio {:?}", after.bio),
    }
    assert_eq!(
        (&after.email, &after.password_hash),
        (&before.email, &before.password_hash)
    );
    assert_eq!(
        role_in_me(&app, &alice.access).await,
        after.role.as_str(),
        "GET /me agrees with the store"
    );
}

macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(std::sync::Arc::new(chatman::adapters::memory::MemoryAccounts::new())).await }) *
        }
        mod dynamodb_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(crate::support::dynamo_store().await).await }) *
        }
    };
}

both_stores!(
    grant_shows_in_me_and_revoke_takes_it_back,
    an_unknown_or_invalid_username_is_an_error_and_writes_nothing,
    racing_grants_revokes_and_edits_lose_no_write,
);
