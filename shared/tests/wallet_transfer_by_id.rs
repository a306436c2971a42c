//! GET /wallet/transfers/{id}: either party reads the transfer; everyone else, and unknown or
//! malformed ids, get the same 404 so the answer does not tell whether a transfer exists.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::TestApp;

#[tokio::test]
async fn both_parties_read_the_transfer_and_nobody_else_learns_it_exists() {
    only_the_parties_read_a_transfer(TestApp::new()).await;
}

#[tokio::test]
async fn on_dynamodb_both_parties_read_the_transfer_and_nobody_else_learns_it_exists() {
    only_the_parties_read_a_transfer(TestApp::on_dynamodb().await).await;
}

async fn only_the_parties_read_a_transfer(app: TestApp) {
    let root = app.register("root").await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    app.deposit(&root, "alice", 1000).await;
    let paid = app.transfer(&alice, "bob", json!(300), "t1").await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let id = paid.body["transfer"]["id"].as_str().unwrap().to_string();
    let path = format!("/wallet/transfers/{id}");

    // Many reads at once, by payer, payee and a stranger: each gets its own answer.
    let reads = (0..30).map(|i| {
        let who = [&alice, &bob, &carol][i % 3];
        app.call("GET", &path, None, Some(&who.access))
    });
    for (i, reply) in futures_util::future::join_all(reads)
        .await
        .into_iter()
        .enumerate()
    {
        if i % 3 == 2 {
            assert_eq!(reply.status, 404, "{}", reply.body);
            assert_eq!(reply.code(), "not_found");
        } else {
            assert_eq!(reply.status, 200, "{}", reply.body);
            let mut expected = paid.body["transfer"].clone();
            expected["refunded_total"] = json!(0);
            expected["refunds"] = json!([]);
            assert_eq!(
                reply.body, expected,
                "the body the transfer answered, with nothing refunded yet"
            );
        }
    }

    let stranger = app.call("GET", &path, None, Some(&carol.access)).await;
    for path in [
        "/wallet/transfers/not-an-id".to_string(),
        format!("/wallet/transfers/{}", "0".repeat(id.len())),
    ] {
        let reply = app.call("GET", &path, None, Some(&alice.access)).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        assert_eq!(reply.body, stranger.body, "same answer as a stranger's");
    }
    let anonymous = app
        .call("GET", &format!("/wallet/transfers/{id}"), None, None)
        .await;
    assert_eq!(anonymous.status, 401);
}
