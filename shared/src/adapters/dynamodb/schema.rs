//! The accounts table's shape, for DynamoDB Local and tests. `template.yaml` declares the same
//! table for AWS (a test checks they agree).

use anyhow::Context;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};

pub const USERNAME_INDEX: &str = "by_username";
/// A person's chat list in activity order: memberships (`INBOX#{user}`, `ROOM#{room}`) sorted
/// by `inbox_order` = `{last activity, 13-digit millis}#{room}`. Keys only: the list reads the
/// memberships and rooms of one page by key.
pub const INBOX_INDEX: &str = "by_activity";
pub const INBOX_ORDER: &str = "inbox_order";

/// The only attributes (besides keys) the username index holds: what search returns
/// (`PublicProfile`). Never the password hash, email or role.
pub const PUBLIC_ATTRIBUTES: [&str; 6] = [
    "id",
    "username",
    "first_name",
    "last_name",
    "bio",
    "avatar_key",
];

fn key(name: &str, kind: KeyType) -> anyhow::Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .context("key schema")
}

fn attr(name: &str) -> anyhow::Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .context("attribute definition")
}

fn outbox_stream() -> anyhow::Result<StreamSpecification> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewImage)
        .build()
        .context("stream specification")
}

/// A table made before the outbox existed gets its stream.
async fn ensure_stream(client: &Client, table: &str) -> anyhow::Result<()> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "describing table {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    let enabled = described
        .table()
        .and_then(|t| t.stream_specification())
        .is_some_and(|s| s.stream_enabled());
    if enabled {
        return Ok(());
    }
    client
        .update_table()
        .table_name(table)
        .stream_specification(outbox_stream()?)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "enabling the stream of {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(())
}

/// Creates the accounts table (with the outbox's stream) unless it exists, and gives an
/// existing one its stream.
pub async fn create_accounts_table(client: &Client, table: &str) -> anyhow::Result<()> {
    let index = GlobalSecondaryIndex::builder()
        .index_name(USERNAME_INDEX)
        .key_schema(key("gsi1pk", KeyType::Hash)?)
        .key_schema(key("gsi1sk", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(
                    PUBLIC_ATTRIBUTES.iter().map(|a| a.to_string()).collect(),
                ))
                .build(),
        )
        .build()
        .context("index")?;
    let inbox = GlobalSecondaryIndex::builder()
        .index_name(INBOX_INDEX)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key(INBOX_ORDER, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .context("inbox index")?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .attribute_definitions(attr("gsi1pk")?)
        .attribute_definitions(attr("gsi1sk")?)
        .attribute_definitions(attr(INBOX_ORDER)?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index)
        .global_secondary_indexes(inbox)
        // The outbox's stream: new images only (the worker needs nothing else).
        .stream_specification(outbox_stream()?)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            ensure_stream(client, table).await
        }
        Err(e) => Err(anyhow::anyhow!(
            "creating table {table}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
        )),
    }
}
