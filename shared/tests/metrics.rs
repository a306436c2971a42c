//! The EMF lines a request leaves behind, parsed as CloudWatch parses them: each is one JSON
//! object whose `_aws` directive declares metrics that the object then carries as numbers, and
//! the counters an operator alarms on (requests, 5xx, logins failed, money moved, replays,
//! refusals) add up to what the requests did.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use std::collections::HashMap;
use support::{PASSWORD, TestApp};

/// Every line, checked against the EMF specification's shape, as JSON.
fn documents(app: &TestApp) -> Vec<Value> {
    app.metrics
        .lines()
        .iter()
        .map(|line| {
            assert!(!line.contains('\n'), "one line per document: {line}");
            let doc: Value = serde_json::from_str(line).expect("an EMF line is JSON");
            let aws = &doc["_aws"];
            assert!(aws["Timestamp"].as_i64().unwrap() > 1_600_000_000_000);
            for directive in aws["CloudWatchMetrics"].as_array().unwrap() {
                assert_eq!(directive["Namespace"], "Chatman");
                for set in directive["Dimensions"].as_array().unwrap() {
                    for dimension in set.as_array().unwrap() {
                        let name = dimension.as_str().unwrap();
                        assert!(
                            doc[name].is_string(),
                            "dimension {name} is a member: {line}"
                        );
                    }
                }
                for metric in directive["Metrics"].as_array().unwrap() {
                    let name = metric["Name"].as_str().unwrap();
                    assert!(doc[name].is_number(), "metric {name} is a number: {line}");
                    assert!(["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap()));
                }
            }
            doc
        })
        .collect()
}

/// The sum of each metric over all lines, with the routes each came from.
fn totals(docs: &[Value]) -> HashMap<String, f64> {
    let mut sums = HashMap::new();
    for doc in docs {
        for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                *sums.entry(name.to_owned()).or_insert(0.0) += doc[name].as_f64().unwrap();
            }
        }
    }
    sums
}

#[tokio::test]
async fn every_request_is_one_line_by_function_and_route() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let before = app.metrics.lines().len();
    let me = app.call("GET", "/me", None, Some(&alice.access)).await;
    assert_eq!(me.status, 200);
    let docs = documents(&app);
    assert_eq!(docs.len(), before + 1, "one line per request");
    let last = docs.last().unwrap();
    assert_eq!(last["Function"], "profile");
    assert_eq!(last["Route"], "GET /me");
    assert_eq!(last["Requests"], 1.0);
    assert_eq!(last["Errors5xx"], 0.0);
    assert!(last["Latency"].as_f64().unwrap() >= 0.0);
    let route_directive = &last["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(
        route_directive["Dimensions"],
        json!([["Function", "Route"]])
    );
    // Nothing that names a person is a dimension or a member.
    let text = last.to_string();
    assert!(!text.contains("alice"), "{text}");
}

#[tokio::test]
async fn failed_logins_money_replays_and_refusals_are_counted() {
    let app = TestApp::new();
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    app.register("bob").await;
    assert_eq!(
        app.login("alice", "not the password at all").await.status,
        401
    );
    assert_eq!(app.login("alice", PASSWORD).await.status, 200);
    app.deposit(&root, "alice", 1_000).await;
    let paid = app.transfer(&alice, "bob", json!(250), "k-1").await;
    assert_eq!(paid.status, 201);
    let bob = app.login("bob", PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refund = app
        .post_keyed(
            &format!(
                "/wallet/transfers/{}/refunds",
                paid.body["transfer"]["id"].as_str().unwrap_or_default()
            ),
            &json!({"amount": 100}),
            &bob,
            Some("r-1"),
        )
        .await;
    assert_eq!(refund.status, 201, "{}", refund.body);
    let replay = app.transfer(&alice, "bob", json!(250), "k-1").await;
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    let broke = app.transfer(&alice, "bob", json!(5_000), "k-2").await;
    assert_eq!(broke.code(), "insufficient_funds");

    let sums = totals(&documents(&app));
    assert_eq!(sums["LoginFailures"], 1.0);
    assert_eq!(sums["Deposits"], 1.0);
    assert_eq!(sums["DepositedAmount"], 1_000.0);
    // The replay moved nothing and is counted as a replay, not as a second transfer.
    assert_eq!(sums["Transfers"], 1.0);
    assert_eq!(sums["TransferredAmount"], 250.0);
    assert_eq!(sums["IdempotentReplays"], 1.0);
    assert_eq!(sums["Refunds"], 1.0);
    assert_eq!(sums["RefundedAmount"], 100.0);
    assert_eq!(sums["InsufficientFunds"], 1.0);
    assert_eq!(sums["Errors5xx"], 0.0);
    assert_eq!(sums["Requests"], app.metrics.lines().len() as f64);
}

#[tokio::test]
async fn payments_past_the_daily_cap_are_counted() {
    let limits = chatman::settings::Limits {
        outgoing_per_day: 100,
        ..chatman::settings::Limits::LOCAL
    };
    let app = TestApp::with_limits(
        std::sync::Arc::new(chatman::adapters::memory::MemoryAccounts::new()),
        limits,
    );
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    app.register("bob").await;
    app.deposit(&root, "alice", 1_000).await;
    let over = app.transfer(&alice, "bob", json!(150), "over-1").await;
    assert_eq!(over.code(), "limit_exceeded");
    let sums = totals(&documents(&app));
    assert_eq!(sums["DailyLimitExceeded"], 1.0);
    assert_eq!(sums.get("Transfers"), None, "nothing moved");
}
