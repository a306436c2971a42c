//! `ConnectionStore` on DynamoDB, in the accounts table under its own key prefixes:
//!
//! | pk | sk | what |
//! |---|---|---|
//! | `WSTICKET#{sha256}` | `WSTICKET` | a ticket (`user_id`, `session_id`, `epoch`, `expires_at`; TTL) |
//! | `WSCONN#{connection id}` | `WSCONN` | a connection by id: who holds it, under which session and epoch (TTL) |
//! | `WSUSER#{id}` | `WSCONN#{connection id}` | the same connection under its owner, so a push finds a user's connections with one Query |
//! | `WSUSER#{id}` | `WSVERSION` | bumped by every connect of the user, so racing connects settle the cap one at a time |
//!
//! Own partitions (not `USER#`), so the functions that push get IAM rights on these prefixes only.
//!
//! A ticket is spent by one conditional `DeleteItem` (exists and not expired) returning the old
//! item: of racing `$connect`s exactly one delete succeeds. The connection is then recorded by
//! one transaction that also checks the ticket's session (`SESSION#`: not revoked) and its user
//! (`USER#`: `session_epoch` unchanged), bumps `WSVERSION` from the value read with the user's
//! connections, and deletes the oldest beyond `MAX_CONNECTIONS_PER_USER`. A logout that commits
//! first fails the connect's conditions; one that commits after finds the connection.

use super::items::{Item, Read, key, n, s, sdk_error, session_key, user_key};
use super::tx::{TxOutcome, transact};
use crate::domain::time::{from_millis, to_millis};
use crate::domain::{
    Connection, ConnectionId, MAX_CONNECTIONS_PER_USER, Opened, SessionBinding, SessionId,
    TokenHash, UserId, WsTicket,
};
use crate::ports::{ConnectionStore, StoreError};
use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use time::OffsetDateTime;

/// Rounds of racing connects one connect may lose before it gives up (each round one wins):
/// well above the tickets one user can take per minute.
const CONNECT_ROUNDS: usize = 64;
/// The transaction items of `connect` before the evictions: session, user, version, 2 puts.
const SESSION_CHECK: usize = 0;
const EPOCH_CHECK: usize = 1;
const VERSION_BUMP: usize = 2;

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

fn version_key(user: &UserId) -> Item {
    key(format!("WSUSER#{user}"), "WSVERSION")
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
        ("session_id".to_owned(), s(c.session_id.to_string())),
        ("epoch".to_owned(), n(c.epoch)),
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
        session_id: SessionId::parse(r.s("session_id")?)
            .map_err(|e| anyhow!("stored session id is invalid: {e}"))?,
        epoch: r.n("epoch")?,
        connected_at: from_millis(r.n("connected_at")?),
        expires_at: from_millis(r.n("expires_at")?),
    })
}

fn session_from_ticket(item: &Item) -> anyhow::Result<SessionBinding> {
    let r = Read(item);
    Ok(SessionBinding {
        user_id: UserId::parse(r.s("user_id")?)
            .map_err(|e| anyhow!("stored ticket owner is invalid: {e}"))?,
        session_id: SessionId::parse(r.s("session_id")?)
            .map_err(|e| anyhow!("stored ticket session is invalid: {e}"))?,
        epoch: r.n("epoch")?,
    })
}

/// What one read of a user's partition says: the version to bump and the connections held.
struct Held {
    version: Option<u64>,
    connections: Vec<Connection>,
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

    fn delete(&self, key: Item) -> anyhow::Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .build()?,
            )
            .build())
    }

    fn check(
        &self,
        key: Item,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> anyhow::Result<TransactWriteItem> {
        let mut check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition);
        for (name, value) in values {
            check = check.expression_attribute_values(name, value);
        }
        Ok(TransactWriteItem::builder()
            .condition_check(check.build()?)
            .build())
    }

    /// The version item and every connection record of `user` (lapsed ones included).
    async fn held(&self, user: &UserId) -> Result<Held, StoreError> {
        let mut held = Held {
            version: None,
            connections: Vec::new(),
        };
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :ws)")
                .expression_attribute_values(":pk", s(format!("WSUSER#{user}")))
                .expression_attribute_values(":ws", s("WS"))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error("Query"))?;
            for item in page.items() {
                if Read(item).s("sk")? == "WSVERSION" {
                    held.version = Some(Read(item).n("version")?);
                } else {
                    held.connections.push(connection_from(item)?);
                }
            }
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(held),
            }
        }
    }

    /// One attempt at recording `c` against the user's connections as read now.
    async fn try_record(&self, c: &Connection, now: OffsetDateTime) -> Result<Attempt, StoreError> {
        let held = self.held(&c.user_id).await?;
        // Lapsed records go first (they hold nothing), then the oldest live ones beyond the cap.
        let mut by_age = held.connections;
        by_age.sort_by_key(|x| (now < x.expires_at, x.connected_at, x.id.clone()));
        let lapsed = by_age.iter().filter(|x| now >= x.expires_at).count();
        let live = by_age.len() - lapsed;
        let excess = (live + 1).saturating_sub(MAX_CONNECTIONS_PER_USER);
        let evicted: Vec<Connection> = by_age.into_iter().take(lapsed + excess).collect();

        let mut items = vec![
            self.check(
                session_key(&c.session_id),
                "attribute_exists(pk) AND revoked = :no AND user_id = :user",
                vec![
                    (":no", AttributeValue::Bool(false)),
                    (":user", s(c.user_id.to_string())),
                ],
            )?,
            self.check(
                user_key(&c.user_id),
                "session_epoch = :epoch",
                vec![(":epoch", n(c.epoch))],
            )?,
            self.bump(&c.user_id, held.version)?,
        ];
        let mut by_id = connection_key(&c.id);
        by_id.extend(connection_fields(c));
        let mut by_owner = owner_key(&c.user_id, &c.id);
        by_owner.extend(connection_fields(c));
        items.push(self.put(by_id)?);
        items.push(self.put(by_owner)?);
        for old in &evicted {
            items.push(self.delete(connection_key(&old.id))?);
            items.push(self.delete(owner_key(&old.user_id, &old.id))?);
        }
        match transact(&self.client, items, 3, 10).await {
            Ok(_) => Ok(Attempt::Recorded(
                evicted
                    .into_iter()
                    .filter(|x| now < x.expires_at)
                    .map(|x| x.id)
                    .collect(),
            )),
            Err(outcome) if outcome.failed_at(SESSION_CHECK) || outcome.failed_at(EPOCH_CHECK) => {
                Ok(Attempt::SessionEnded)
            }
            Err(outcome @ TxOutcome::ConditionFailed(_)) if outcome.failed_at(VERSION_BUMP) => {
                Ok(Attempt::Lost)
            }
            Err(TxOutcome::Contended) => Ok(Attempt::Lost),
            Err(TxOutcome::ConditionFailed(at)) => Err(StoreError::Unexpected(anyhow!(
                "connect: unexpected condition failed at {at:?}"
            ))),
            Err(TxOutcome::Failed(e)) => Err(StoreError::Unexpected(e)),
        }
    }

    /// The update of the user's version item from the value `read` (absent: not yet written).
    fn bump(&self, user: &UserId, read: Option<u64>) -> anyhow::Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(version_key(user)))
            .update_expression("SET version = :next");
        update = match read {
            Some(v) => update
                .condition_expression("version = :read")
                .expression_attribute_values(":read", n(v))
                .expression_attribute_values(":next", n(v + 1)),
            None => update
                .condition_expression("attribute_not_exists(pk)")
                .expression_attribute_values(":next", n(1)),
        };
        Ok(TransactWriteItem::builder().update(update.build()?).build())
    }
}

/// How one attempt to record a connection ended.
enum Attempt {
    /// Committed; these live connections were evicted.
    Recorded(Vec<ConnectionId>),
    /// The ticket's session was revoked or the user's epoch moved on.
    SessionEnded,
    /// Another connect of the same user committed first: read again.
    Lost,
}

#[async_trait]
impl ConnectionStore for DynamoConnections {
    async fn put_ticket(&self, ticket: &WsTicket) -> Result<(), StoreError> {
        let mut item = ticket_key(&ticket.hash);
        item.insert("user_id".to_owned(), s(ticket.session.user_id.to_string()));
        item.insert(
            "session_id".to_owned(),
            s(ticket.session.session_id.to_string()),
        );
        item.insert("epoch".to_owned(), n(ticket.session.epoch));
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
    ) -> Result<Option<Opened>, StoreError> {
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
        let connection = Connection::opened(id.clone(), session_from_ticket(&old)?, now);
        for _ in 0..CONNECT_ROUNDS {
            match self.try_record(&connection, now).await? {
                Attempt::Recorded(evicted) => {
                    return Ok(Some(Opened {
                        connection,
                        evicted,
                    }));
                }
                Attempt::SessionEnded => return Ok(None),
                Attempt::Lost => {
                    let pause = rand::random_range(1..=20);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
            }
        }
        Err(StoreError::Unexpected(anyhow!(
            "connect kept losing to other connects of the same user"
        )))
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
