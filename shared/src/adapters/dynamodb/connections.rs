//! `ConnectionStore` on DynamoDB, in the accounts table under its own key prefixes:
//!
//! | pk | sk | what |
//! |---|---|---|
//! | `WSTICKET#{sha256}` | `WSTICKET` | a ticket (`user_id`, `expires_at`; TTL) |
//! | `WSCONN#{connection id}` | `WSCONN` | a connection by id: who holds it (TTL) |
//! | `WSUSER#{id}` | `WSCONN#{connection id}` | the same connection under its owner, so a push finds a user's connections with one Query |
//!
//! Own partitions (not `USER#`), so the functions that push get IAM rights on these prefixes only.
//!
//! A ticket is spent by one conditional `DeleteItem` (exists and not expired) returning the old
//! item: of racing `$connect`s exactly one delete succeeds.

use super::items::{Item, Read, key, n, s, sdk_error};
use crate::domain::time::{from_millis, to_millis};
use crate::domain::{Connection, ConnectionId, TokenHash, UserId, WsTicket};
use crate::ports::{ConnectionStore, StoreError};
use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use time::OffsetDateTime;

/// The connection store over the accounts table.
#[derive(Clone)]
pub struct DynamoConnections {
    client: Client,
    table: String,
}

impl DynamoConnections {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }
}

const CONNECTION_PREFIX: &str = "WSCONN#";

fn ticket_key(hash: &TokenHash) -> Item {
    key(format!("WSTICKET#{}", hash.to_hex()), "WSTICKET")
}

fn connection_key(id: &ConnectionId) -> Item {
    key(format!("{CONNECTION_PREFIX}{id}"), "WSCONN")
}

fn owner_key(user: &UserId, id: &ConnectionId) -> Item {
    key(
        format!("WSUSER#{user}"),
        &format!("{CONNECTION_PREFIX}{id}"),
    )
}

/// DynamoDB TTL wants epoch seconds; `expires_at` keeps milliseconds for the code's own check.
fn expiry(at: OffsetDateTime) -> [(String, AttributeValue); 2] {
    [
        ("expires_at".to_owned(), n(to_millis(at))),
        ("ttl".to_owned(), n(at.unix_timestamp())),
    ]
}

fn connection_fields(c: &Connection) -> impl Iterator<Item = (String, AttributeValue)> {
    [
        ("connection_id".to_owned(), s(c.id.as_str())),
        ("user_id".to_owned(), s(c.user_id.to_string())),
        ("connected_at".to_owned(), n(to_millis(c.connected_at))),
    ]
    .into_iter()
    .chain(expiry(c.expires_at))
}

fn connection_from(item: &Item) -> anyhow::Result<Connection> {
    let r = Read(item);
    Ok(Connection {
        id: ConnectionId::parse(r.s("connection_id")?)
            .map_err(|e| anyhow!("stored connection id is invalid: {e}"))?,
        user_id: UserId::parse(r.s("user_id")?)
            .map_err(|e| anyhow!("stored user id is invalid: {e}"))?,
        connected_at: from_millis(r.n("connected_at")?),
        expires_at: from_millis(r.n("expires_at")?),
    })
}

impl DynamoConnections {
    fn put(&self, item: Item) -> anyhow::Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .build()?,
            )
            .build())
    }

    /// Records both items of a connection together.
    async fn record(&self, c: &Connection) -> Result<(), StoreError> {
        let mut by_id = connection_key(&c.id);
        by_id.extend(connection_fields(c));
        let mut by_owner = owner_key(&c.user_id, &c.id);
        by_owner.extend(connection_fields(c));
        self.client
            .transact_write_items()
            .transact_items(self.put(by_id)?)
            .transact_items(self.put(by_owner)?)
            .send()
            .await
            .map_err(sdk_error("TransactWriteItems"))?;
        Ok(())
    }
}

#[async_trait]
impl ConnectionStore for DynamoConnections {
    async fn put_ticket(&self, ticket: &WsTicket) -> Result<(), StoreError> {
        let mut item = ticket_key(&ticket.hash);
        item.insert("user_id".to_owned(), s(ticket.user_id.to_string()));
        item.extend(expiry(ticket.expires_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error("PutItem"))?;
        Ok(())
    }

    async fn connect(
        &self,
        ticket: &TokenHash,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError> {
        let spent = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(ticket_key(ticket)))
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":now", n(to_millis(now)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match spent {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(sdk_error("DeleteItem")(e).into()),
        };
        let user = UserId::parse(Read(&old).s("user_id")?)
            .map_err(|e| anyhow!("stored ticket owner is invalid: {e}"))?;
        let connection = Connection::opened(id.clone(), user, now);
        self.record(&connection).await?;
        Ok(Some(connection))
    }

    async fn connection(
        &self,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        match found.item {
            Some(item) => Ok(Some(connection_from(&item)?).filter(|c| now < c.expires_at)),
            None => Ok(None),
        }
    }

    async fn connections_of(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Connection>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(format!("WSUSER#{user}")))
                .expression_attribute_values(":prefix", s(CONNECTION_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error("Query"))?;
            for item in page.items() {
                let c = connection_from(item)?;
                if now < c.expires_at {
                    out.push(c);
                }
            }
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(out),
            }
        }
    }

    async fn disconnect(&self, id: &ConnectionId) -> Result<(), StoreError> {
        let removed = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error("DeleteItem"))?;
        let Some(old) = removed.attributes.filter(|a| !a.is_empty()) else {
            return Ok(());
        };
        let user = UserId::parse(Read(&old).s("user_id")?)
            .map_err(|e| anyhow!("stored connection owner is invalid: {e}"))?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(owner_key(&user, id)))
            .send()
            .await
            .map_err(sdk_error("DeleteItem"))?;
        Ok(())
    }
}
