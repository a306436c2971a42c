//! Bad input to the wallet: every malformed amount, key, body and link gets its documented
//! problem+json error, stores nothing under its key, and moves no money.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::{Account, TestApp};

async fn funded() -> (TestApp, Account, Account, Account) {
    let app = TestApp::new();
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.deposit(&root, "alice", 1_000).await;
    (app, root, alice, bob)
}

fn bad_amounts() -> Vec<Value> {
    vec![
        json!("100"),
        json!("1e3"),
        json!(12.5),
        json!(100.0),
        json!(1e3),
        json!(0),
        json!(-1),
        json!(-10_000),
        json!(10_000_000_001i64),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(true),
        json!(null),
        json!([100]),
        json!({"value": 100}),
    ]
}

#[tokio::test]
async fn malformed_amounts_are_validation_errors_and_move_nothing() {
    let (app, root, alice, bob) = funded().await;
    for (i, amount) in bad_amounts().into_iter().enumerate() {
        let key = format!("k{i}");
        let t = app.transfer(&alice, "bob", amount.clone(), &key).await;
        assert_eq!(
            (t.status, t.code()),
            (400, "validation_failed"),
            "transfer {amount}"
        );
        assert_eq!(t.body["errors"][0]["field"], "amount", "{amount}");
        let d = app
            .post_keyed(
                "/wallet/deposits",
                &json!({"username": "bob", "amount": amount}),
                &root.access,
                Some(&key),
            )
            .await;
        assert_eq!(
            (d.status, d.code()),
            (400, "validation_failed"),
            "deposit {amount}"
        );
        // Nothing was stored under the key: a good request with it goes through.
    }
    let ok = app.transfer(&alice, "bob", json!(1), "k0").await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(app.balance(&alice).await, 999);
    assert_eq!(app.balance(&bob).await, 1);
}

#[tokio::test]
async fn a_missing_amount_or_recipient_or_an_unknown_field_is_refused() {
    let (app, _, alice, bob) = funded().await;
    for body in [
        json!({"to": "bob"}),
        json!({"amount": 5}),
        json!({"to": "bob", "amount": 5, "currency": "EUR"}),
        json!({"to": 7, "amount": 5}),
        json!({"to": "bob", "amount": 5, "description": "x".repeat(256)}),
    ] {
        let r = app
            .post_keyed("/wallet/transfers", &body, &alice.access, Some("k"))
            .await;
        assert_eq!((r.status, r.code()), (400, "validation_failed"), "{body}");
    }
    let broken = app
        .raw(
            "POST",
            "/wallet/transfers",
            vec![
                ("authorization", &format!("Bearer {}", alice.access)),
                ("content-type", "application/json"),
                ("idempotency-key", "k"),
            ],
            b"{\"to\": \"bob\", \"amount\": 5",
        )
        .await;
    assert_eq!((broken.status, broken.code()), (400, "invalid_json"));
    assert_eq!(app.balance(&bob).await, 0);
}

#[tokio::test]
async fn missing_empty_and_overlong_idempotency_keys_are_refused() {
    let (app, _, alice, bob) = funded().await;
    let body = json!({"to": "bob", "amount": 5});
    let missing = app
        .post_keyed("/wallet/transfers", &body, &alice.access, None)
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (400, "idempotency_key_required")
    );
    let empty = app
        .post_keyed("/wallet/transfers", &body, &alice.access, Some(""))
        .await;
    assert_eq!(
        (empty.status, empty.code()),
        (400, "idempotency_key_required")
    );
    let long = "k".repeat(300);
    let overlong = app
        .post_keyed("/wallet/transfers", &body, &alice.access, Some(&long))
        .await;
    assert_eq!(
        (overlong.status, overlong.code()),
        (400, "validation_failed")
    );
    assert_eq!(overlong.body["errors"][0]["field"], "Idempotency-Key");
    let longest = "k".repeat(255);
    let fine = app
        .post_keyed("/wallet/transfers", &body, &alice.access, Some(&longest))
        .await;
    assert_eq!(fine.status, 201, "255 characters is a key");
    assert_eq!(app.balance(&bob).await, 5);
}

#[tokio::test]
async fn deposits_and_link_payments_require_a_key_too() {
    let (app, root, alice, bob) = funded().await;
    let d = app
        .post_keyed(
            "/wallet/deposits",
            &json!({"username": "bob", "amount": 5}),
            &root.access,
            None,
        )
        .await;
    assert_eq!(d.code(), "idempotency_key_required");
    let link = app
        .call(
            "POST",
            "/donate-links",
            Some(json!({"expires_in_minutes": 5})),
            Some(&bob.access),
        )
        .await;
    let pay = app
        .post_keyed(
            &format!("/donate-links/{}/pay", link.str("id")),
            &json!({"amount": 5}),
            &alice.access,
            None,
        )
        .await;
    assert_eq!(pay.code(), "idempotency_key_required");
    assert_eq!(app.balance(&bob).await, 0);
}

#[tokio::test]
async fn donate_link_bodies_are_bounded() {
    let (app, _, alice, _) = funded().await;
    for body in [
        json!({}),
        json!({"expires_in_minutes": 0}),
        json!({"expires_in_minutes": 43_201}),
        json!({"expires_in_minutes": "5"}),
        json!({"expires_in_minutes": 1.5}),
        json!({"expires_in_minutes": -1}),
        json!({"expires_in_minutes": 5, "amount": 0}),
        json!({"expires_in_minutes": 5, "amount": "5"}),
        json!({"expires_in_minutes": 5, "description": "x".repeat(256)}),
    ] {
        let r = app
            .call(
                "POST",
                "/donate-links",
                Some(body.clone()),
                Some(&alice.access),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "validation_failed"), "{body}");
    }
    for minutes in [1, 43_200] {
        let r = app
            .call(
                "POST",
                "/donate-links",
                Some(json!({"expires_in_minutes": minutes})),
                Some(&alice.access),
            )
            .await;
        assert_eq!(r.status, 201, "{minutes}");
    }
}

#[tokio::test]
async fn a_link_without_a_fixed_amount_needs_one_and_a_bad_one_is_refused() {
    let (app, _, alice, bob) = funded().await;
    let link = app
        .call(
            "POST",
            "/donate-links",
            Some(json!({"expires_in_minutes": 5})),
            Some(&bob.access),
        )
        .await;
    let path = format!("/donate-links/{}/pay", link.str("id"));
    let none = app
        .post_keyed(&path, &json!({}), &alice.access, Some("a"))
        .await;
    assert_eq!((none.status, none.code()), (400, "validation_failed"));
    let float = app
        .post_keyed(&path, &json!({"amount": 2.5}), &alice.access, Some("a"))
        .await;
    assert_eq!((float.status, float.code()), (400, "validation_failed"));
    let ok = app
        .post_keyed(&path, &json!({"amount": 5}), &alice.access, Some("a"))
        .await;
    assert_eq!(
        ok.status, 201,
        "the refused attempts stored nothing under the key"
    );
    assert_eq!(app.balance(&bob).await, 5);
}

#[tokio::test]
async fn wallet_routes_need_a_token_except_the_public_link_view() {
    let app = TestApp::new();
    for (method, path) in [
        ("GET", "/wallet"),
        ("GET", "/wallet/transactions"),
        ("POST", "/wallet/transfers"),
        ("POST", "/wallet/deposits"),
        ("POST", "/donate-links"),
        ("GET", "/donate-links"),
        (
            "DELETE",
            "/donate-links/0193a5b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b",
        ),
        (
            "POST",
            "/donate-links/0193a5b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b/pay",
        ),
    ] {
        let r = app.call(method, path, None, None).await;
        assert_eq!(r.status, 401, "{method} {path}");
    }
}
