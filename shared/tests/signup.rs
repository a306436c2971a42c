//! POST /auth/signup, /auth/signup/verify and /auth/signup/resend, including every defect of the
//! Django system's OTP ("sometimes the emailed code is invalid") as a regression test.

mod support;

use serde_json::json;
use support::{PASSWORD, TestApp};
use time::Duration;

async fn verify(app: &TestApp, signup_id: &str, code: &str) -> support::Reply {
    app.post(
        "/auth/signup/verify",
        json!({"signup_id": signup_id, "code": code}),
    )
    .await
}

#[tokio::test]
async fn signup_answers_202_and_mails_a_six_digit_code() {
    let app = TestApp::new();
    let reply = app
        .post("/auth/signup", json!({"username": "Alice", "email": " Alice@Example.COM ", "password": PASSWORD, "first_name": "Alice", "bio": "hi"}))
        .await;
    assert_eq!(reply.status, 202);
    assert_eq!(reply.str("email"), "alice@example.com");
    assert_eq!(reply.str("expires_at"), "2026-11-22T10:10:00.000Z");
    assert!(!reply.str("signup_id").is_empty());
    let code = app.last_code("alice@example.com");
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    assert!(app.mails("alice@example.com")[0].mail.text.contains(&code));
}

#[tokio::test]
async fn verifying_creates_the_account_and_logs_in() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    let reply = verify(
        &app,
        &started.str("signup_id"),
        &app.last_code("alice@example.com"),
    )
    .await;
    assert_eq!(reply.status, 201);
    let user = &reply.body["user"];
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["role"], "user");
    assert_eq!(user["avatar_url"], json!(null));
    assert_eq!(user["created_at"], "2026-11-22T10:00:00.000Z");
    let tokens = &reply.body["tokens"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let me = app
        .call("GET", "/me", None, tokens["access_token"].as_str())
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], user["id"]);
}

#[tokio::test]
async fn a_signup_can_be_verified_only_once() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    let code = app.last_code("alice@example.com");
    assert_eq!(
        verify(&app, &started.str("signup_id"), &code).await.status,
        201
    );
    let again = verify(&app, &started.str("signup_id"), &code).await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn listed_admins_get_the_admin_role() {
    let app = TestApp::new(); // ADMIN_USERNAMES = root
    let root = app.register("root").await;
    let me = app.call("GET", "/me", None, Some(&root.access)).await;
    assert_eq!(me.body["role"], "admin");
}

// --- the Django OTP defects, one test each ---

#[tokio::test]
async fn a_code_with_a_leading_zero_verifies() {
    let app = TestApp::new();
    // Find a signup whose code starts with 0 (one in ten do); the code is compared as a string.
    for i in 0..200 {
        let email = format!("zero{i}@example.com");
        let started = app.start_signup(&format!("zero{i}"), &email).await;
        let code = app.last_code(&email);
        if code.starts_with('0') {
            let reply = verify(&app, &started.str("signup_id"), &code).await;
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            return;
        }
    }
    panic!("no code with a leading zero in 200 signups");
}

#[tokio::test]
async fn a_code_still_verifies_31_seconds_after_sending() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    app.advance(Duration::seconds(31));
    let reply = verify(
        &app,
        &started.str("signup_id"),
        &app.last_code("alice@example.com"),
    )
    .await;
    assert_eq!(reply.status, 201);
}

#[tokio::test]
async fn a_code_still_verifies_9_minutes_after_sending() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    app.advance(Duration::minutes(9));
    let reply = verify(
        &app,
        &started.str("signup_id"),
        &app.last_code("alice@example.com"),
    )
    .await;
    assert_eq!(reply.status, 201);
}

#[tokio::test]
async fn a_code_expires_after_10_minutes() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    app.advance(Duration::minutes(10));
    let reply = verify(
        &app,
        &started.str("signup_id"),
        &app.last_code("alice@example.com"),
    )
    .await;
    assert_eq!(reply.status, 410);
    assert_eq!(reply.code(), "code_expired");
}

#[tokio::test]
async fn a_second_signup_for_the_same_email_leaves_the_first_code_valid() {
    let app = TestApp::new();
    let first = app.start_signup("alice", "alice@example.com").await;
    let first_code = app.last_code("alice@example.com");
    let second = app.start_signup("alice2", "alice@example.com").await;
    assert_ne!(first.str("signup_id"), second.str("signup_id"));
    let reply = verify(&app, &first.str("signup_id"), &first_code).await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body["user"]["username"], "alice");
}

#[tokio::test]
async fn resend_mails_the_same_code_while_it_is_valid() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    let code = app.last_code("alice@example.com");
    app.advance(Duration::seconds(61));
    let resent = app
        .post(
            "/auth/signup/resend",
            json!({"signup_id": started.str("signup_id")}),
        )
        .await;
    assert_eq!(resent.status, 202);
    assert_eq!(resent.str("expires_at"), "2026-11-22T10:10:00.000Z");
    assert_eq!(app.mails("alice@example.com").len(), 2);
    assert_eq!(app.last_code("alice@example.com"), code);
    assert_eq!(
        verify(&app, &started.str("signup_id"), &code).await.status,
        201
    );
}

#[tokio::test]
async fn email_case_does_not_matter() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "ALICE@Example.com").await;
    let code = app.last_code("alice@example.com");
    assert_eq!(
        verify(&app, &started.str("signup_id"), &code).await.status,
        201
    );
    let login = app.login("Alice@EXAMPLE.com", PASSWORD).await;
    assert_eq!(login.status, 200);
}

// --- the rest of the rules ---

#[tokio::test]
async fn resend_after_expiry_mails_a_new_code_and_the_old_one_dies() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    let old = app.last_code("alice@example.com");
    app.advance(Duration::minutes(11));
    let resent = app
        .post(
            "/auth/signup/resend",
            json!({"signup_id": started.str("signup_id")}),
        )
        .await;
    assert_eq!(resent.status, 202);
    assert_eq!(resent.str("expires_at"), "2026-11-22T10:21:00.000Z");
    let new = app.last_code("alice@example.com");
    if new != old {
        let stale = verify(&app, &started.str("signup_id"), &old).await;
        assert_eq!(stale.code(), "invalid_code");
    }
    assert_eq!(
        verify(&app, &started.str("signup_id"), &new).await.status,
        201
    );
}

#[tokio::test]
async fn a_resend_right_after_signup_waits_for_the_cooldown() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    app.advance(Duration::seconds(20));
    let reply = app
        .post(
            "/auth/signup/resend",
            json!({"signup_id": started.str("signup_id")}),
        )
        .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.code(), "rate_limited");
    assert_eq!(reply.header("retry-after").as_deref(), Some("40"));
    assert_eq!(reply.body["retry_after"], 40);
    assert_eq!(app.mails("alice@example.com").len(), 1);
}

#[tokio::test]
async fn at_most_five_resends_per_signup() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    let id = json!({"signup_id": started.str("signup_id")});
    for _ in 0..5 {
        app.advance(Duration::seconds(60));
        assert_eq!(
            app.post("/auth/signup/resend", id.clone()).await.status,
            202
        );
    }
    app.advance(Duration::seconds(60));
    let sixth = app.post("/auth/signup/resend", id).await;
    assert_eq!(sixth.status, 429);
    assert_eq!(sixth.code(), "too_many_resends");
    assert!(sixth.header("retry-after").is_some());
    assert_eq!(app.mails("alice@example.com").len(), 6);
}

#[tokio::test]
async fn a_wrong_code_says_how_many_attempts_are_left_and_five_kill_the_signup() {
    let app = TestApp::new();
    let started = app.start_signup("alice", "alice@example.com").await;
    let id = started.str("signup_id");
    let right = app.last_code("alice@example.com");
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    for left in (1..=4).rev() {
        let reply = verify(&app, &id, wrong).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.code(), "invalid_code");
        assert_eq!(reply.body["attempts_left"], left);
    }
    let fifth = verify(&app, &id, wrong).await;
    assert_eq!(fifth.status, 429);
    assert_eq!(fifth.code(), "too_many_attempts");
    let even_right = verify(&app, &id, &right).await;
    assert_eq!(even_right.status, 429);
    assert_eq!(
        app.post("/auth/signup/resend", json!({"signup_id": id}))
            .await
            .status,
        429
    );
}

#[tokio::test]
async fn a_username_held_by_an_account_is_refused_at_signup() {
    let app = TestApp::new();
    app.register("alice").await;
    let reply = app.start_signup("ALICE", "other@example.com").await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.code(), "username_taken");
}

#[tokio::test]
async fn an_email_held_by_an_account_answers_like_a_new_one_and_notifies_the_owner() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let reply = app.start_signup("mallory", &alice.email).await;
    assert_eq!(reply.status, 202);
    assert_eq!(reply.str("email"), alice.email);
    let mails = app.mails(&alice.email);
    assert_eq!(
        mails[0].mail.subject,
        "Someone tried to sign up with your email"
    );
    // The notice carries no code, and no guess can verify that signup.
    for guess in ["000000", "123456", "999999"] {
        assert_eq!(
            verify(&app, &reply.str("signup_id"), guess).await.code(),
            "invalid_code"
        );
    }
}

#[tokio::test]
async fn an_attackers_signup_with_a_victims_email_cannot_take_over_the_account() {
    // Django defect: a second signup with the victim's email and the attacker's password could
    // create the victim's account with the attacker's password.
    let app = TestApp::new();
    let victim = app.start_signup("victim", "victim@example.com").await;
    let victim_code = app.last_code("victim@example.com");
    let attacker = app
        .post("/auth/signup", json!({"username": "victim2", "email": "victim@example.com", "password": "attacker password 1"}))
        .await;
    assert_eq!(attacker.status, 202);
    // The victim verifies their own signup: the account has the victim's password.
    assert_eq!(
        verify(&app, &victim.str("signup_id"), &victim_code)
            .await
            .status,
        201
    );
    assert_eq!(
        app.login("victim@example.com", "attacker password 1")
            .await
            .status,
        401
    );
    assert_eq!(app.login("victim@example.com", PASSWORD).await.status, 200);
    // The attacker's own code went to the victim's inbox; even with it, the email is taken now.
    let attackers_code = app.last_code("victim@example.com");
    let reply = verify(&app, &attacker.str("signup_id"), &attackers_code).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.code(), "email_taken");
}

#[tokio::test]
async fn when_two_signups_race_for_a_username_the_second_verification_gets_409() {
    let app = TestApp::new();
    let a = app.start_signup("alice", "a@example.com").await;
    let a_code = app.last_code("a@example.com");
    let b = app.start_signup("alice", "b@example.com").await;
    let b_code = app.last_code("b@example.com");
    assert_eq!(verify(&app, &a.str("signup_id"), &a_code).await.status, 201);
    let late = verify(&app, &b.str("signup_id"), &b_code).await;
    assert_eq!(late.status, 409);
    assert_eq!(late.code(), "username_taken");
}

#[tokio::test]
async fn concurrent_verifications_of_one_username_cannot_both_win() {
    let app = TestApp::new();
    let a = app.start_signup("alice", "a@example.com").await;
    let a_code = app.last_code("a@example.com");
    let b = app.start_signup("alice", "b@example.com").await;
    let b_code = app.last_code("b@example.com");
    let (a_id, b_id) = (a.str("signup_id"), b.str("signup_id"));
    let (ra, rb) = tokio::join!(verify(&app, &a_id, &a_code), verify(&app, &b_id, &b_code));
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
}

#[tokio::test]
async fn an_unknown_or_expired_signup_is_404() {
    let app = TestApp::new();
    let unknown = verify(&app, "0193a5c4-7e2b-7cc0-9a4e-2f1d3c5b6a70", "123456").await;
    assert_eq!(unknown.status, 404);
    let started = app.start_signup("alice", "alice@example.com").await;
    app.advance(Duration::hours(24));
    let expired = app
        .post(
            "/auth/signup/resend",
            json!({"signup_id": started.str("signup_id")}),
        )
        .await;
    assert_eq!(expired.status, 404);
}

#[tokio::test]
async fn signup_reports_every_invalid_field_at_once() {
    let app = TestApp::new();
    let reply = app
        .post("/auth/signup", json!({"username": "a!", "email": "nope", "password": "short", "first_name": "x".repeat(51), "bio": "y".repeat(501)}))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), "validation_failed");
    let mut fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["bio", "email", "first_name", "password", "username"]
    );
}

#[tokio::test]
async fn weak_passwords_are_refused_at_signup() {
    let app = TestApp::new();
    for (password, why) in [
        ("password123", "common"),
        ("alice_1234", "username"),
        ("alice@example.com", "email"),
    ] {
        let reply = app.post("/auth/signup", json!({"username": "alice_1234", "email": "alice@example.com", "password": password})).await;
        assert_eq!(reply.status, 400, "{why}");
        assert_eq!(reply.body["errors"][0]["field"], "password", "{why}");
    }
}

#[tokio::test]
async fn one_inbox_cannot_be_flooded_with_signups() {
    let app = TestApp::new();
    for i in 0..5 {
        assert_eq!(
            app.start_signup(&format!("user{i}"), "target@example.com")
                .await
                .status,
            202
        );
    }
    let sixth = app.start_signup("user6", "target@example.com").await;
    assert_eq!(sixth.status, 429);
    assert!(sixth.header("retry-after").is_some());
    assert_eq!(app.mails("target@example.com").len(), 5);
}
