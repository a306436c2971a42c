//! Each function's DynamoDB policy in `template.yaml` allows exactly what its code does: every
//! route is driven against DynamoDB Local through a client that records each request the SDK
//! sends (action, table or index, partition key), attributed to the function serving the route;
//! then
//!
//! - everything recorded must be allowed by a statement of that function (action, resource and a
//!   `dynamodb:LeadingKeys` pattern), or the deployed function would be refused, and
//! - every (action, resource, key prefix) a statement allows must have been used, so no policy
//!   grants an action or key prefix the code never needs.
//!
//! `TransactWriteItems` is recorded item by item as the action IAM authorizes it by (`PutItem`,
//! `UpdateItem`, `DeleteItem`, `ConditionCheckItem`), as AWS does.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chatman::adapters::dynamodb::{DynamoAccounts, schema::create_accounts_table};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use support::{PASSWORD, TestApp};
use time::Duration;

/// (function, action, resource, key prefix such as `USER#*`); resource is `table` or the index.
type Access = (String, String, String, String);

#[derive(Debug, Default)]
struct Recorder {
    serving: Mutex<String>,
    seen: Mutex<BTreeSet<Access>>,
}

impl Recorder {
    fn serving(&self, function: &str) {
        *self.serving.lock().unwrap() = function.to_owned();
    }

    fn record(&self, action: &str, resource: &str, key: &str) {
        let prefix = match key.split_once('#') {
            Some((head, _)) => format!("{head}#*"),
            None => key.to_owned(),
        };
        let function = self.serving.lock().unwrap().clone();
        self.seen.lock().unwrap().insert((
            function,
            action.to_owned(),
            resource.to_owned(),
            prefix,
        ));
    }
}

#[derive(Debug)]
struct RecordRequests(Arc<Recorder>);

fn pk(item: &Value) -> &str {
    item["pk"]["S"].as_str().unwrap_or("?")
}

impl Intercept for RecordRequests {
    fn name(&self) -> &'static str {
        "RecordRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or("");
        let action = target.rsplit('.').next().unwrap_or("").to_owned();
        let body: Value = serde_json::from_slice(request.body().bytes().unwrap_or(b"{}"))?;
        let rec = &self.0;
        match action.as_str() {
            "GetItem" | "DeleteItem" | "UpdateItem" => {
                rec.record(&action, "table", pk(&body["Key"]))
            }
            "PutItem" => rec.record(&action, "table", pk(&body["Item"])),
            "TransactWriteItems" => {
                for item in body["TransactItems"].as_array().unwrap() {
                    let (kind, op) = item.as_object().unwrap().iter().next().unwrap();
                    let key = if kind == "Put" {
                        &op["Item"]
                    } else {
                        &op["Key"]
                    };
                    let as_action = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        _ => "ConditionCheckItem",
                    };
                    rec.record(as_action, "table", pk(key));
                }
            }
            "BatchGetItem" => {
                for table in body["RequestItems"].as_object().unwrap().values() {
                    for key in table["Keys"].as_array().unwrap() {
                        rec.record(&action, "table", pk(key));
                    }
                }
            }
            "Query" => {
                // "<partition attribute> = :name AND ...": the partition key's value.
                let condition = body["KeyConditionExpression"].as_str().unwrap();
                let name = condition
                    .split('=')
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap();
                let value = body["ExpressionAttributeValues"][name]["S"]
                    .as_str()
                    .unwrap();
                let resource = body["IndexName"].as_str().unwrap_or("table");
                rec.record(&action, resource, value);
            }
            other => rec.record(other, "table", "?"),
        }
        Ok(())
    }
}

/// What each function's policy allows, read from the template's statement layout: `Action:`
/// (one or a list), `Resource:` (the table or an index) and `dynamodb:LeadingKeys: [...]`.
fn allowed_by_template() -> BTreeSet<Access> {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
    )
    .unwrap();
    let mut allowed = BTreeSet::new();
    let (mut function, mut actions, mut resource) = (String::new(), Vec::new(), String::new());
    for line in template.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("Binary:") {
            function = name.trim().to_owned();
        } else if let Some(list) = line.strip_prefix("Action:") {
            actions = list
                .trim_matches(|c| " []".contains(c))
                .split(',')
                .filter_map(|a| a.trim().strip_prefix("dynamodb:"))
                .map(str::to_owned)
                .collect();
        } else if let Some(arn) = line.strip_prefix("Resource:") {
            resource = match arn.split_once("/index/") {
                Some((_, index)) => index.trim().to_owned(),
                None => "table".to_owned(),
            };
        } else if let Some(keys) = line.strip_prefix("dynamodb:LeadingKeys:") {
            for key in keys.trim_matches(|c| " []".contains(c)).split(',') {
                for action in &actions {
                    allowed.insert((
                        function.clone(),
                        action.clone(),
                        resource.clone(),
                        key.trim().trim_matches('"').to_owned(),
                    ));
                }
            }
        }
    }
    allowed
}

#[test]
fn every_dynamodb_statement_is_scoped_by_leading_keys() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
    )
    .unwrap();
    let statements = template.matches("Action: dynamodb:").count()
        + template.matches("Action: [dynamodb:").count();
    let scoped = template.matches("dynamodb:LeadingKeys:").count();
    assert!(statements > 0);
    assert_eq!(
        statements, scoped,
        "a DynamoDB statement without LeadingKeys"
    );
}

async fn call(
    app: &TestApp,
    rec: &Recorder,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> support::Reply {
    let route = chatman::handlers::routes::match_route(method, path.split('?').next().unwrap())
        .unwrap()
        .0;
    rec.serving(chatman::handlers::routes::function_of(route).unwrap());
    app.call(method, path, body, token).await
}

#[tokio::test]
async fn each_function_may_touch_exactly_the_items_its_code_touches() {
    let rec = Arc::new(Recorder::default());
    let aws = chatman::adapters::aws::local(&support::dynamodb_endpoint());
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    create_accounts_table(&aws_sdk_dynamodb::Client::new(&aws), &table)
        .await
        .unwrap();
    let config = aws_sdk_dynamodb::config::Builder::from(&aws)
        .interceptor(RecordRequests(rec.clone()))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let store = DynamoAccounts::new(client.clone(), table.clone());
    let ledger = chatman::adapters::dynamodb::DynamoLedger::new(client, table);
    // The deployed limits, so the per-address counters are exercised as in the cloud.
    let app = TestApp::assemble_everything(
        Arc::new(store),
        Arc::new(ledger),
        None,
        Arc::new(chatman::adapters::recording_push::RecordingPush::new()),
        "root",
        None,
        chatman::settings::Limits::DEPLOYED,
    );
    let post = |path: &'static str, body: Value| call(&app, &rec, "POST", path, Some(body), None);

    // signup, verify-otp (a resend, a wrong code, the right one).
    let alice = post(
        "/auth/signup",
        json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(alice.status, 202);
    app.advance(Duration::seconds(61));
    let id = alice.str("signup_id");
    assert_eq!(
        post("/auth/signup/resend", json!({"signup_id": id}))
            .await
            .status,
        202
    );
    let wrong = if app.last_code("alice@example.com") == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        post(
            "/auth/signup/verify",
            json!({"signup_id": id, "code": wrong})
        )
        .await
        .status,
        400
    );
    let code = app.last_code("alice@example.com");
    let verified = post(
        "/auth/signup/verify",
        json!({"signup_id": id, "code": code}),
    )
    .await;
    assert_eq!(verified.status, 201, "{:?}", verified.body);
    // A signup for a taken email reads the account (and mails its owner).
    let again = post(
        "/auth/signup",
        json!({"username": "alice2", "email": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(again.status, 202);
    rec.serving("setup");
    let bob = app.register("bob").await;

    // token: a failed login, logins by username and email, refresh, reuse, logout, logout-all.
    assert_eq!(
        post(
            "/auth/token",
            json!({"login": "alice", "password": "wrong password!"})
        )
        .await
        .status,
        401
    );
    let login = post(
        "/auth/token",
        json!({"login": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(login.status, 200);
    let by_email = post(
        "/auth/token",
        json!({"login": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    let refreshed = post(
        "/auth/token/refresh",
        json!({"refresh_token": login.str("refresh_token")}),
    )
    .await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(
        post(
            "/auth/token/refresh",
            json!({"refresh_token": login.str("refresh_token")})
        )
        .await
        .status,
        401
    );
    assert_eq!(
        post(
            "/auth/logout",
            json!({"refresh_token": by_email.str("refresh_token")})
        )
        .await
        .status,
        204
    );
    let access = post(
        "/auth/token",
        json!({"login": "alice", "password": PASSWORD}),
    )
    .await
    .str("access_token");
    assert_eq!(
        call(&app, &rec, "POST", "/auth/logout-all", None, Some(&access))
            .await
            .status,
        204
    );

    // reset: forgot, reset, change (wrong current password, then right).
    assert_eq!(
        post(
            "/auth/password/forgot",
            json!({"email": "alice@example.com"})
        )
        .await
        .status,
        202
    );
    let token = app.last_reset_token("alice@example.com");
    let new = "a brand new passphrase";
    let reset = post(
        "/auth/password/reset",
        json!({"token": token, "new_password": new, "confirm_password": new}),
    )
    .await;
    assert_eq!(reset.status, 204, "{:?}", reset.body);
    let access = post("/auth/token", json!({"login": "alice", "password": new}))
        .await
        .str("access_token");
    let change = |current: &str| json!({"current_password": current, "new_password": "yet another passphrase"});
    assert_eq!(
        call(
            &app,
            &rec,
            "POST",
            "/auth/password/change",
            Some(change("not it at all")),
            Some(&access)
        )
        .await
        .status,
        400,
        "a wrong current password"
    );
    assert_eq!(
        call(
            &app,
            &rec,
            "POST",
            "/auth/password/change",
            Some(change(new)),
            Some(&access)
        )
        .await
        .status,
        204
    );

    // profile: every route, a rename included.
    let me = Some(bob.access.as_str());
    assert_eq!(call(&app, &rec, "GET", "/me", None, me).await.status, 200);
    assert_eq!(
        call(
            &app,
            &rec,
            "PATCH",
            "/me",
            Some(json!({"username": "bobby"})),
            me
        )
        .await
        .status,
        200
    );
    assert_eq!(
        call(&app, &rec, "GET", "/users/alice", None, me)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&app, &rec, "GET", "/users?q=al", None, me)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&app, &rec, "POST", "/users/alice/block", None, me)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&app, &rec, "GET", "/me/blocks", None, me).await.status,
        200
    );
    assert_eq!(
        call(&app, &rec, "DELETE", "/users/alice/block", None, me)
            .await
            .status,
        204
    );

    let used: BTreeSet<Access> = rec
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.0 != "setup")
        .cloned()
        .collect();
    // The functions this journey drives (the accounts side). The wallet's and the chat's
    // statements are scoped by LeadingKeys too (the test above), but not yet replayed here.
    let exercised: BTreeSet<String> = used.iter().map(|a| a.0.clone()).collect();
    let mut allowed = allowed_by_template();
    // Upload records (UPLOAD#) are replayed by the uploads tests, not by this journey.
    allowed.retain(|a| exercised.contains(&a.0) && a.3 != "UPLOAD#*");
    let refused: Vec<&Access> = used.difference(&allowed).collect();
    assert!(
        refused.is_empty(),
        "the template would refuse what the code does: {refused:#?}"
    );
    let unused: Vec<&Access> = allowed.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "the template allows what no route does: {unused:#?}"
    );
}
