//! The username index (which search reads) holds public attributes only: read straight from
//! DynamoDB Local, an account's index item carries no password hash, email or role, and search
//! through the API still shows whole public profiles.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::adapters::dynamodb::DynamoAccounts;
use chatman::adapters::dynamodb::schema::{
    PUBLIC_ATTRIBUTES, USERNAME_INDEX, create_accounts_table,
};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use support::TestApp;

#[tokio::test]
async fn the_index_item_of_an_account_holds_no_hash_email_or_role() {
    let aws = chatman::adapters::aws::local(&support::dynamodb_endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("test-{}", uuid::Uuid::now_v7().simple());
    create_accounts_table(&client, &table).await.unwrap();
    let app = TestApp::with_store(Arc::new(DynamoAccounts::new(client.clone(), &table)));
    let alice = app.register("alice").await;
    let bob = app.register("alicia").await;
    let patched = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"first_name": "Alicia", "bio": "hi"})),
            Some(&bob.access),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);

    let out = client
        .query()
        .table_name(&table)
        .index_name(USERNAME_INDEX)
        .key_condition_expression("gsi1pk = :p")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S("USERNAMES#a".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.items().len(), 2, "both accounts are in the index");
    let allowed: BTreeSet<&str> = PUBLIC_ATTRIBUTES
        .into_iter()
        .chain(["pk", "sk", "gsi1pk", "gsi1sk"])
        .collect();
    for item in out.items() {
        let names: BTreeSet<&str> = item.keys().map(String::as_str).collect();
        assert!(
            names.is_subset(&allowed),
            "index item holds {:?}",
            names.difference(&allowed).collect::<Vec<_>>()
        );
        let text = format!("{item:?}");
        assert!(!text.contains("$argon2id$"), "a password hash: {text}");
        assert!(!text.contains("@example.com"), "an email: {text}");
        assert!(names.contains("id") && names.contains("bio"), "{text}");
    }

    // Search reads only the index and still shows the whole public profile.
    let found = app
        .call("GET", "/users?q=ali", None, Some(&alice.access))
        .await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(
        found.body,
        json!({"items": [{
            "id": bob.id, "username": "alicia", "first_name": "Alicia", "last_name": "",
            "bio": "hi", "avatar_url": null,
        }]})
    );
}
