//! Password and code guessing, per-address limits and signup races under the load an attacker
//! (or an impatient client) brings: parallel guesses, one persistent address, many addresses,
//! double submits (docs/LIMITS.md). Every test runs on the memory store and on DynamoDB Local.

#[path = "support/stale_reads.rs"]
mod stale_reads;
mod support;

use chatman::adapters::dynamodb::DynamoAccounts;
use chatman::ports::AccountStore;
use chatman::settings::Limits;
use serde_json::json;
use std::sync::Arc;
use support::{PASSWORD, TestApp};
use time::Duration;

const ATTACKER: &str = "198.51.100.66";
const OWNER: &str = "192.0.2.10";

/// Runs `count` copies of `request` at once and returns their statuses.
async fn at_once<F, Fut>(app: &Arc<TestApp>, count: usize, request: F) -> Vec<u16>
where
    F: Fn(Arc<TestApp>, usize) -> Fut,
    Fut: std::future::Future<Output = u16> + Send + 'static,
{
    let tasks: Vec<_> = (0..count)
        .map(|i| tokio::spawn(request(app.clone(), i)))
        .collect();
    let mut statuses = Vec::with_capacity(count);
    for task in tasks {
        statuses.push(task.await.expect("request task"));
    }
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn parallel_logins_after_four_failures_check_one_guess(store: Arc<dyn AccountStore>) {
    let app = Arc::new(TestApp::with_store(store));
    app.register("alice").await;
    for _ in 0..4 {
        assert_eq!(app.login("alice", "not the password").await.status, 401);
    }
    let statuses = at_once(&app, 30, |app, i| async move {
        app.login("alice", &format!("guess number {i}"))
            .await
            .status
    })
    .await;
    assert_eq!(count(&statuses, 401), 1, "one guess left, one checked");
    assert_eq!(count(&statuses, 429), 29, "{statuses:?}");
    let locked = app.login("alice", PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert_eq!(locked.code(), "too_many_attempts");
}

async fn parallel_password_changes_after_four_failures_check_one_guess(
    store: Arc<dyn AccountStore>,
) {
    let app = Arc::new(TestApp::with_store(store));
    let alice = Arc::new(app.register("alice").await);
    let change = |app: Arc<TestApp>, token: String, current: String| async move {
        let body = json!({"current_password": current, "new_password": "a new long passphrase"});
        app.call("POST", "/auth/password/change", Some(body), Some(&token))
            .await
            .status
    };
    for _ in 0..4 {
        let status = change(app.clone(), alice.access.clone(), "wrong".into()).await;
        assert_eq!(status, 400);
    }
    let statuses = at_once(&app, 30, |app, i| {
        change(app, alice.access.clone(), format!("guess number {i}"))
    })
    .await;
    assert_eq!(count(&statuses, 400), 1, "one guess left, one checked");
    assert_eq!(count(&statuses, 429), 29, "{statuses:?}");
}

async fn one_attacker_address_never_locks_the_owner_out(store: Arc<dyn AccountStore>) {
    let app = TestApp::with_store(store);
    app.register("alice").await;
    let mut checked = 0;
    // Hours of guessing from one address, waiting out every lock it earns, until its 15th
    // checked guess (each lock doubles: the last ones wait an hour).
    for _ in 0..100 {
        let reply = app.login_from(ATTACKER, "alice", "not the password").await;
        match reply.status {
            401 if checked == 14 => {
                checked += 1;
                break;
            }
            401 => checked += 1,
            429 => {
                let wait = reply.body["retry_after"].as_i64().expect("retry_after");
                app.advance(Duration::seconds(wait));
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(checked, 15, "the attacker kept guessing");
    assert_eq!(
        app.login_from(ATTACKER, "alice", PASSWORD).await.status,
        429,
        "the attacker's own address is locked"
    );
    assert_eq!(
        app.login_from(OWNER, "alice", PASSWORD).await.status,
        200,
        "the owner, elsewhere, is not"
    );
}

async fn many_attacker_addresses_lock_the_account_at_its_ceiling(store: Arc<dyn AccountStore>) {
    let app = TestApp::with_store(store);
    app.register("alice").await;
    let ceiling = Limits::LOCAL.account_lock_after;
    // Each address adds at most five guesses to the account's count.
    for i in 0..ceiling / 5 {
        let address = format!("198.51.100.{i}");
        for _ in 0..5 {
            let reply = app.login_from(&address, "alice", "not the password").await;
            assert_eq!(reply.status, 401);
        }
    }
    let owner = app.login_from(OWNER, "alice", PASSWORD).await;
    assert_eq!(owner.status, 429, "past the ceiling the account is locked");
    let wait = owner.body["retry_after"].as_i64().expect("retry_after");
    app.advance(Duration::seconds(wait));
    assert_eq!(app.login_from(OWNER, "alice", PASSWORD).await.status, 200);
}

async fn an_address_past_its_login_attempts_is_refused_alone(store: Arc<dyn AccountStore>) {
    let limits = Limits {
        login_attempts_per_address: 10,
        ..Limits::LOCAL
    };
    let app = TestApp::with_limits(store, limits);
    app.register("alice").await;
    // Spread over many names, so no account lock interferes: this is the address's own count.
    for i in 0..10 {
        let reply = app
            .login_from(ATTACKER, &format!("nobody{i}"), "x1234567")
            .await;
        assert_eq!(reply.status, 401);
    }
    let refused = app.login_from(ATTACKER, "alice", PASSWORD).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.code(), "rate_limited");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(app.login_from(OWNER, "alice", PASSWORD).await.status, 200);
}

async fn signups_resends_and_resets_are_limited_per_address(store: Arc<dyn AccountStore>) {
    let limits = Limits {
        signups_per_address: 3,
        resends_per_address: 2,
        resets_per_address: 2,
        ..Limits::LOCAL
    };
    let app = TestApp::with_limits(store, limits);
    let signup = |name: &str| json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
    let mut ids = vec![];
    for name in ["ann", "ben", "cat"] {
        let started = app
            .call_from(ATTACKER, "POST", "/auth/signup", Some(signup(name)), None)
            .await;
        assert_eq!(started.status, 202);
        ids.push(started.str("signup_id"));
    }
    let fourth = app
        .call_from(ATTACKER, "POST", "/auth/signup", Some(signup("dan")), None)
        .await;
    assert_eq!(fourth.status, 429);
    assert_eq!(fourth.code(), "rate_limited");
    let elsewhere = app
        .call_from(OWNER, "POST", "/auth/signup", Some(signup("dan")), None)
        .await;
    assert_eq!(elsewhere.status, 202);

    app.advance(Duration::seconds(61));
    let resend = |id: &str| json!({"signup_id": id});
    for id in &ids[..2] {
        let reply = app
            .call_from(
                ATTACKER,
                "POST",
                "/auth/signup/resend",
                Some(resend(id)),
                None,
            )
            .await;
        assert_eq!(reply.status, 202);
    }
    let third = app
        .call_from(
            ATTACKER,
            "POST",
            "/auth/signup/resend",
            Some(resend(&ids[2])),
            None,
        )
        .await;
    assert_eq!(third.status, 429);
    assert_eq!(third.code(), "rate_limited");

    let forgot = json!({"email": "someone@example.com"});
    for _ in 0..2 {
        let reply = app
            .call_from(
                ATTACKER,
                "POST",
                "/auth/password/forgot",
                Some(forgot.clone()),
                None,
            )
            .await;
        assert_eq!(reply.status, 202);
    }
    let third = app
        .call_from(
            ATTACKER,
            "POST",
            "/auth/password/forgot",
            Some(forgot),
            None,
        )
        .await;
    assert_eq!(third.status, 429);
}

async fn parallel_signups_from_one_address_stop_at_its_limit(store: Arc<dyn AccountStore>) {
    let limits = Limits {
        signups_per_address: 5,
        ..Limits::LOCAL
    };
    let app = Arc::new(TestApp::with_limits(store, limits));
    let statuses = at_once(&app, 20, |app, i| async move {
        let body = json!({"username": format!("user{i}"), "email": format!("user{i}@example.com"), "password": PASSWORD});
        app.call_from(ATTACKER, "POST", "/auth/signup", Some(body), None)
            .await
            .status
    })
    .await;
    assert_eq!(count(&statuses, 202), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 15, "{statuses:?}");
}

/// Four wrong codes, then the right one hidden among nineteen wrong ones sent at once: only one
/// of the twenty is ever judged. Whichever the store commits first decides (the right code wins
/// some trials, a wrong one the others), so the checks are on what every trial must show.
async fn a_signup_code_has_one_try_left_however_many_arrive(store: Arc<dyn AccountStore>) {
    let app = Arc::new(TestApp::with_store(store.clone()));
    for trial in 0..6 {
        let email = format!("trial{trial}@example.com");
        let started = app.start_signup(&format!("trial{trial}"), &email).await;
        let id = started.str("signup_id");
        let code = app.last_code(&email);
        spend_four_tries(&app, &id, &code).await;
        let statuses = last_try_among_twenty(&app, &id, &code, (trial * 7) % 20).await;
        assert_eq!(
            count(&statuses, 400),
            0,
            "no sixth code was judged: {statuses:?}"
        );
        match count(&statuses, 201) {
            0 => {
                let signup = chatman::domain::SignupId::parse(&id).expect("id");
                let left = store.signup(&signup).await.expect("read").expect("kept");
                assert_eq!(left.failed_attempts, 5, "exactly the one try was spent");
            }
            1 => {}
            n => panic!("{n} verifications won"),
        }
    }
}

/// The defect this guards against: the right code, judged on a read taken before a wrong code
/// was counted, created the account anyway. Here the store holds all twenty reads until each has
/// read, and the account's creation until a wrong code was counted: the right code must lose.
async fn the_right_code_judged_on_a_stale_read_loses_to_a_counted_wrong_one(
    store: Arc<dyn AccountStore>,
) {
    let gate = Arc::new(stale_reads::StaleReads::new(store.clone()));
    let app = Arc::new(TestApp::with_store(gate.clone()));
    let started = app.start_signup("late", "late@example.com").await;
    let id = started.str("signup_id");
    let code = app.last_code("late@example.com");
    spend_four_tries(&app, &id, &code).await;
    gate.arm(20);
    let statuses = last_try_among_twenty(&app, &id, &code, 0).await;
    assert_eq!(count(&statuses, 201), 0, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 20, "{statuses:?}");
    let signup = chatman::domain::SignupId::parse(&id).expect("id");
    let left = store.signup(&signup).await.expect("read").expect("kept");
    assert_eq!(left.failed_attempts, 5, "exactly the one try was spent");
    let again = app
        .post(
            "/auth/signup/verify",
            json!({"signup_id": id, "code": code}),
        )
        .await;
    assert_eq!(again.status, 429, "the code is spent: {}", again.body);
}

fn wrong_code(code: &str, i: usize) -> String {
    format!(
        "{:06}",
        (code.parse::<u32>().unwrap_or(0) + 1 + i as u32) % 1_000_000
    )
}

async fn spend_four_tries(app: &TestApp, id: &str, code: &str) {
    for i in 0..4 {
        let reply = app
            .post(
                "/auth/signup/verify",
                json!({"signup_id": id, "code": wrong_code(code, i)}),
            )
            .await;
        assert_eq!(reply.status, 400);
    }
}

/// Sends the right code at position `right_at` among nineteen wrong ones, all at once.
async fn last_try_among_twenty(
    app: &Arc<TestApp>,
    id: &str,
    code: &str,
    right_at: usize,
) -> Vec<u16> {
    let codes: Arc<Vec<String>> = Arc::new(
        (0..20)
            .map(|i| {
                if i == right_at {
                    code.to_string()
                } else {
                    wrong_code(code, 4 + i)
                }
            })
            .collect(),
    );
    let id = Arc::new(id.to_string());
    at_once(app, 20, |app, i| {
        let (codes, id) = (codes.clone(), id.clone());
        async move {
            app.post(
                "/auth/signup/verify",
                json!({"signup_id": *id, "code": codes[i]}),
            )
            .await
            .status
        }
    })
    .await
}

/// The same code submitted ten times at once (a double click, a retrying client): one account,
/// and the others are told of a conflict or that the signup is gone, never that their name is taken.
async fn a_double_submitted_verification_is_a_conflict_not_a_taken_name(
    store: Arc<dyn AccountStore>,
) {
    let app = Arc::new(TestApp::with_store(store));
    let started = app.start_signup("alice", "alice@example.com").await;
    let body = Arc::new(
        json!({"signup_id": started.str("signup_id"), "code": app.last_code("alice@example.com")}),
    );
    let replies = at_once(&app, 10, |app, _| {
        let body = body.clone();
        async move {
            let reply = app.post("/auth/signup/verify", (*body).clone()).await;
            match (reply.status, reply.code()) {
                (201, _) | (409, "conflict") | (404, _) => reply.status,
                (status, code) => panic!("{status} {code}"),
            }
        }
    })
    .await;
    assert_eq!(count(&replies, 201), 1, "{replies:?}");
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
                super::$name(std::sync::Arc::new(chatman::adapters::memory::MemoryAccounts::new())).await
            })*
        }
        mod dynamodb_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
                let store: std::sync::Arc<super::DynamoAccounts> = crate::support::dynamo_store().await;
                super::$name(store).await
            })*
        }
    };
}

on_both_stores!(
    parallel_logins_after_four_failures_check_one_guess,
    parallel_password_changes_after_four_failures_check_one_guess,
    one_attacker_address_never_locks_the_owner_out,
    many_attacker_addresses_lock_the_account_at_its_ceiling,
    an_address_past_its_login_attempts_is_refused_alone,
    signups_resends_and_resets_are_limited_per_address,
    a_signup_code_has_one_try_left_however_many_arrive,
    the_right_code_judged_on_a_stale_read_loses_to_a_counted_wrong_one,
    a_double_submitted_verification_is_a_conflict_not_a_taken_name,
    parallel_signups_from_one_address_stop_at_its_limit,
);
