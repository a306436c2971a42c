//! `ConnectionStore` on DynamoDB, in the accounts table under its own key prefixes:
//!
//! | pk | sk | what |
//! |---|---|---|
//! | `WSTICKET#{sha256}` | `WSTICKET` | a ticket (`user_id`, `session_id`, `epoch`, `expires_at`; TTL) |
//! | `WSCONN#{connection id}` | `WSCONN` | a connection by id: who holds it, under which session and epoch (TTL) |
//! | `WSUSER#{id}` | `WSVERSION` | the user's connections item: `conns`, a map connection id -> {`session_id`, `epoch`, `connected_at`, `expires_at`} of their (at most 10) connections; `rooms`, the subscribed rooms they are a member of (a string set); `version`, bumped by every write of it |
//! | `ROOMSUB#{room}#{shard}` | `{connection id}` | a live connection of a member of a subscribed room, in shard `subscription_shard(id)` of 16 (the connection's fields; TTL = its expiry) |
//!
//! Own partitions (not `USER#`), so the functions that push get IAM rights on these prefixes only.
//! A push reads its recipients' connections items with `BatchGetItem` (100 users a request,
//! eventually consistent, ~0.5 RCU per user however many connections they hold); an entry whose
//! `expires_at` has passed is ignored on read and dropped by the next connect of that user.
//!
//! A ticket is spent by one conditional `DeleteItem` (exists and not expired) returning the old
//! item: of racing `$connect`s exactly one delete succeeds. The connection is then recorded by
//! one transaction that also checks the ticket's session (`SESSION#`: not revoked) and its user
//! (`USER#`: `session_epoch` unchanged), puts the connections item from the `version` read
//! (the new entry in, lapsed entries and the oldest beyond `MAX_CONNECTIONS_PER_USER` out) and
//! the new `WSCONN#` item, and deletes the `WSCONN#` items of those taken out. A logout that
//! commits first fails the connect's conditions; one that commits after finds the connection.
//! A disconnect (or a post answered 410 Gone) removes the `WSCONN#` item, the entry and the
//! connection's subscriptions in one transaction conditioned on the `version` read (and bumping
//! it), so a racing connect or subscribe cannot put any of them back.
//!
//! Every write of the subscription index is ordered against the connections item: `subscribe`
//! and `unsubscribe` put that item (the room in or out of `rooms`) from the `version` read in
//! the same transaction as the index items of the connections it read; a connect writes its
//! new connection's index items right after its own transaction, each batch conditioned on the
//! connection still being in `conns` and every room still in `rooms`. So a connection is in a
//! room's index only while its owner is subscribed to that room, whatever the interleaving.

use super::batch::batch_get;
use super::items::{Item, Read, key, n, s, sdk_error, session_key, user_key};
use super::tx::{TxOutcome, transact};
use crate::domain::time::{from_millis, to_millis};
use crate::domain::{
    Connection, ConnectionId, MAX_CONNECTIONS_PER_USER, Opened, RoomId, SessionBinding, SessionId,
    TokenHash, UserId, WsTicket, subscription_shard,
};
use crate::ports::{ConnectionStore, StoreError};
use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use futures_util::stream::{self, StreamExt};
use std::collections::{BTreeSet, HashMap};
use time::OffsetDateTime;

/// Rounds of racing connects one connect may lose before it gives up (each round one wins):
/// well above the tickets one user can take per minute.
const CONNECT_ROUNDS: usize = 64;
/// Items of a transaction (DynamoDB's limit), and room index items one write puts beside the
/// item it is conditioned on.
const TRANSACTION_ITEMS: usize = 100;
const INDEX_BATCH: usize = 90;
/// `BatchGetItem` requests of one recipient lookup in flight at once.
const LOOKUPS_IN_FLIGHT: usize = 8;
/// The transaction items of `connect` before the evictions: session, user, connections item, `WSCONN#`.
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
const USER_PREFIX: &str = "WSUSER#";
const INDEX_PREFIX: &str = "ROOMSUB#";

fn ticket_key(hash: &TokenHash) -> Item {
    key(format!("WSTICKET#{}", hash.to_hex()), "WSTICKET")
}

fn connection_key(id: &ConnectionId) -> Item {
    key(format!("{CONNECTION_PREFIX}{id}"), "WSCONN")
}

fn version_key(user: &UserId) -> Item {
    key(format!("{USER_PREFIX}{user}"), "WSVERSION")
}

/// The key of `id`'s item in `room`'s subscription index.
fn index_key(room: &RoomId, id: &ConnectionId) -> Item {
    key(
        format!("{INDEX_PREFIX}{room}#{}", subscription_shard(id)),
        id.as_str(),
    )
}

fn index_item(room: &RoomId, c: &Connection) -> Item {
    let mut item = index_key(room, &c.id);
    item.extend(connection_fields(c));
    item
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

/// What one read of a user's connections item says: the version to bump, the connections
/// held (lapsed ones included) and the item itself (kept whole by the next put).
struct Held {
    version: Option<u64>,
    connections: Vec<Connection>,
    /// The subscribed rooms the user is a member of.
    rooms: Vec<RoomId>,
    item: Item,
}

impl Held {
    /// The item to put next: these rooms, the version bumped (everything else as read).
    fn next_item(&self, rooms: &BTreeSet<RoomId>) -> Item {
        let mut item = self.item.clone();
        // No empty map either: DynamoDB Local's stream renders one as `{}`, which no SDK can
        // read, and that stops the whole page of records the delivery worker reads.
        if matches!(item.get("conns"), Some(AttributeValue::M(m)) if m.is_empty()) {
            item.remove("conns");
        }
        if rooms.is_empty() {
            // A string set cannot be empty.
            item.remove("rooms");
        } else {
            item.insert(
                "rooms".to_owned(),
                AttributeValue::Ss(rooms.iter().map(ToString::to_string).collect()),
            );
        }
        item.insert("version".to_owned(), n(self.version.map_or(1, |v| v + 1)));
        item
    }
}

fn entry(c: &Connection) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("session_id".to_owned(), s(c.session_id.to_string())),
        ("epoch".to_owned(), n(c.epoch)),
        ("connected_at".to_owned(), n(to_millis(c.connected_at))),
        ("expires_at".to_owned(), n(to_millis(c.expires_at))),
    ]))
}

fn entry_from(user: UserId, id: &str, value: &AttributeValue) -> anyhow::Result<Connection> {
    let fields = value
        .as_m()
        .map_err(|_| anyhow!("stored connection entry is not a map"))?;
    let r = Read(fields);
    Ok(Connection {
        id: ConnectionId::parse(id).map_err(|e| anyhow!("stored connection id is invalid: {e}"))?,
        user_id: user,
        session_id: SessionId::parse(r.s("session_id")?)
            .map_err(|e| anyhow!("stored session id is invalid: {e}"))?,
        epoch: r.n("epoch")?,
        connected_at: from_millis(r.n("connected_at")?),
        expires_at: from_millis(r.n("expires_at")?),
    })
}

/// The connections item of `user` as read (`None`: the user never connected).
fn held_from(user: UserId, item: Option<Item>) -> anyhow::Result<Held> {
    let Some(item) = item.filter(|i| !i.is_empty()) else {
        return Ok(Held {
            version: None,
            connections: Vec::new(),
            rooms: Vec::new(),
            item: version_key(&user),
        });
    };
    let mut connections = Vec::new();
    if let Some(AttributeValue::M(conns)) = item.get("conns") {
        for (id, value) in conns {
            connections.push(entry_from(user, id, value)?);
        }
    }
    let mut rooms = Vec::new();
    if let Some(AttributeValue::Ss(ids)) = item.get("rooms") {
        for id in ids {
            rooms.push(
                RoomId::parse(id).map_err(|e| anyhow!("stored subscribed room is invalid: {e}"))?,
            );
        }
    }
    Ok(Held {
        version: Some(Read(&item).n("version")?),
        connections,
        rooms,
        item,
    })
}

/// The owner named by a connections item's key.
fn owner_of(item: &Item) -> anyhow::Result<UserId> {
    let read = Read(item);
    let pk = read.s("pk")?;
    let raw = pk
        .strip_prefix(USER_PREFIX)
        .ok_or_else(|| anyhow!("not a connections item: {pk}"))?;
    UserId::parse(raw).map_err(|e| anyhow!("stored connections owner is invalid: {e}"))
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

    /// The put of the user's connections item, on condition nobody wrote it since `read`.
    fn put_held(&self, item: Item, read: Option<u64>) -> anyhow::Result<TransactWriteItem> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        put = match read {
            Some(v) => put
                .condition_expression("version = :read")
                .expression_attribute_values(":read", n(v)),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        Ok(TransactWriteItem::builder().put(put.build()?).build())
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

    /// The connections item of `user`, read consistently (lapsed entries included).
    async fn held(&self, user: &UserId) -> Result<Held, StoreError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(version_key(user)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        Ok(held_from(*user, found.item)?)
    }

    /// One attempt at recording `c` against the user's connections as read now.
    async fn try_record(&self, c: &Connection, now: OffsetDateTime) -> Result<Attempt, StoreError> {
        let mut held = self.held(&c.user_id).await?;
        // Lapsed entries go first (they hold nothing), then the oldest live ones beyond the cap.
        let mut by_age = std::mem::take(&mut held.connections);
        by_age.sort_by_key(|x| (now < x.expires_at, x.connected_at, x.id.clone()));
        let lapsed = by_age.iter().filter(|x| now >= x.expires_at).count();
        let live = by_age.len() - lapsed;
        let excess = (live + 1).saturating_sub(MAX_CONNECTIONS_PER_USER);
        let kept = by_age.split_off(lapsed + excess);
        let evicted = by_age;

        let mut conns: HashMap<String, AttributeValue> = kept
            .iter()
            .chain(std::iter::once(c))
            .map(|x| (x.id.as_str().to_owned(), entry(x)))
            .collect();
        conns.shrink_to_fit();
        let mut item = held.next_item(&held.rooms.iter().copied().collect());
        item.insert("conns".to_owned(), AttributeValue::M(conns));

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
            self.put_held(item, held.version)?,
        ];
        let mut by_id = connection_key(&c.id);
        by_id.extend(connection_fields(c));
        items.push(self.put(by_id)?);
        for old in &evicted {
            items.push(self.delete(connection_key(&old.id))?);
        }
        match transact(&self.client, items, 3, 10).await {
            Ok(_) => Ok(Attempt::Recorded {
                evicted,
                rooms: held.rooms,
            }),
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

    /// Removes the `WSCONN#` item of `id`, its entry in `user`'s connections item and its index
    /// items, in one transaction conditioned on the version read (bumping it), so a connect or
    /// a subscribe that read the entry must read again. Index items beyond one transaction's
    /// room go right after (they point at a connection that no longer exists).
    async fn remove(&self, user: &UserId, id: &ConnectionId) -> Result<(), StoreError> {
        for _ in 0..CONNECT_ROUNDS {
            let held = self.held(user).await?;
            let Some(version) = held.version else {
                // No connections item: the `WSCONN#` item is all there is.
                return self.delete_all(vec![connection_key(id)]).await;
            };
            // The last entry takes the map with it (never an empty map, see `next_item`).
            let last = held.connections.iter().all(|c| &c.id == id);
            let (expression, name) = if last {
                ("REMOVE conns SET version = :next", "conns")
            } else {
                ("REMOVE conns.#id SET version = :next", id.as_str())
            };
            let mut update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(version_key(user)))
                .update_expression(expression)
                .condition_expression("version = :read");
            if !last {
                update = update.expression_attribute_names("#id", name);
            }
            let entry = TransactWriteItem::builder()
                .update(
                    update
                        .expression_attribute_values(":read", n(version))
                        .expression_attribute_values(":next", n(version + 1))
                        .build()
                        .map_err(|e| anyhow!(e))?,
                )
                .build();
            let mut index: Vec<Item> = held.rooms.iter().map(|r| index_key(r, id)).collect();
            let later = index.split_off(index.len().min(TRANSACTION_ITEMS - 2));
            let mut items = vec![self.delete(connection_key(id))?, entry];
            for key in index {
                items.push(self.delete(key)?);
            }
            match transact(&self.client, items, 3, 10).await {
                Ok(_) => return self.delete_all(later).await,
                Err(outcome @ TxOutcome::ConditionFailed(_)) if outcome.failed_at(1) => {}
                Err(TxOutcome::Contended) => {}
                Err(o) => return Err(tx_error("disconnect", o)),
            }
            pause().await;
        }
        Err(StoreError::Unexpected(anyhow!(
            "disconnect kept losing to other writes of the same user"
        )))
    }

    /// Deletes these items, unconditionally, a transaction at a time.
    async fn delete_all(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        for chunk in keys.chunks(TRANSACTION_ITEMS) {
            let items = chunk
                .iter()
                .map(|k| self.delete(k.clone()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            transact(&self.client, items, 5, 10)
                .await
                .map_err(|o| tx_error("deleting index items", o))?;
        }
        Ok(())
    }

    /// Puts the new connection `c` into the index of each of `rooms` (read in the transaction
    /// that recorded it), a batch at a time, each batch conditioned on `c` still being recorded
    /// and every room of the batch still subscribed: a leave or a disconnect that commits first
    /// takes those out of the batch (read again), one that commits after finds the items.
    async fn index_new(&self, c: &Connection, rooms: &[RoomId]) -> Result<(), StoreError> {
        for batch in rooms.chunks(INDEX_BATCH) {
            let mut batch: Vec<RoomId> = batch.to_vec();
            for round in 0.. {
                if batch.is_empty() {
                    break;
                }
                if round == CONNECT_ROUNDS {
                    return Err(StoreError::Unexpected(anyhow!(
                        "subscribing a new connection kept losing to other writes"
                    )));
                }
                let mut guard = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(version_key(&c.user_id)))
                    .expression_attribute_names("#id", c.id.as_str());
                let mut condition = "attribute_exists(conns.#id)".to_owned();
                for (i, room) in batch.iter().enumerate() {
                    condition.push_str(&format!(" AND contains(rooms, :r{i})"));
                    guard =
                        guard.expression_attribute_values(format!(":r{i}"), s(room.to_string()));
                }
                let mut items = vec![
                    TransactWriteItem::builder()
                        .condition_check(
                            guard
                                .condition_expression(condition)
                                .build()
                                .map_err(|e| anyhow!(e))?,
                        )
                        .build(),
                ];
                for room in &batch {
                    items.push(self.put(index_item(room, c))?);
                }
                match transact(&self.client, items, 3, 10).await {
                    Ok(_) => break,
                    Err(outcome @ TxOutcome::ConditionFailed(_)) if outcome.failed_at(0) => {
                        let held = self.held(&c.user_id).await?;
                        if !held.connections.iter().any(|x| x.id == c.id) {
                            // Disconnected meanwhile: its disconnect found nothing to take out.
                            return Ok(());
                        }
                        batch.retain(|r| held.rooms.contains(r));
                    }
                    Err(TxOutcome::Contended) => pause().await,
                    Err(o) => return Err(tx_error("subscribing a connection", o)),
                }
            }
        }
        Ok(())
    }

    /// Puts `user`'s connections item with `room` in (`on`) or out of `rooms`, from the version
    /// read, with the index items of every connection it holds put or deleted.
    async fn set_subscribed(
        &self,
        user: &UserId,
        room: &RoomId,
        on: bool,
    ) -> Result<(), StoreError> {
        for _ in 0..CONNECT_ROUNDS {
            let held = self.held(user).await?;
            if !on && held.version.is_none() {
                return Ok(());
            }
            let mut rooms: BTreeSet<RoomId> = held.rooms.iter().copied().collect();
            if on {
                rooms.insert(*room);
            } else {
                rooms.remove(room);
            }
            let mut items = vec![self.put_held(held.next_item(&rooms), held.version)?];
            // Lapsed connections too (ignored on read; the next connect takes them out).
            for c in &held.connections {
                items.push(if on {
                    self.put(index_item(room, c))?
                } else {
                    self.delete(index_key(room, &c.id))?
                });
            }
            match transact(&self.client, items, 3, 10).await {
                Ok(_) => return Ok(()),
                Err(outcome @ TxOutcome::ConditionFailed(_)) if outcome.failed_at(0) => {}
                Err(TxOutcome::Contended) => {}
                Err(o) => return Err(tx_error("subscribing", o)),
            }
            pause().await;
        }
        Err(StoreError::Unexpected(anyhow!(
            "subscribing kept losing to other writes of the same user"
        )))
    }
}

/// A short random pause before reading again after losing a race.
async fn pause() {
    let ms = rand::random_range(1..=20);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

fn tx_error(what: &str, outcome: TxOutcome) -> StoreError {
    StoreError::Unexpected(match outcome {
        TxOutcome::Failed(e) => e,
        TxOutcome::Contended => anyhow!("{what}: kept colliding with other writes"),
        TxOutcome::ConditionFailed(at) => anyhow!("{what}: unexpected condition failed at {at:?}"),
    })
}

/// How one attempt to record a connection ended.
enum Attempt {
    /// Committed; these connections (lapsed or the oldest live) were taken out, and the user is
    /// subscribed to `rooms`.
    Recorded {
        evicted: Vec<Connection>,
        rooms: Vec<RoomId>,
    },
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
                Attempt::Recorded { evicted, rooms } => {
                    if let Err(e) = self.index_new(&connection, &rooms).await {
                        // Not subscribed where it should be: refuse the handshake instead.
                        self.remove(&connection.user_id, &connection.id).await?;
                        return Err(e);
                    }
                    let gone: Vec<Item> = evicted
                        .iter()
                        .flat_map(|old| rooms.iter().map(|r| index_key(r, &old.id)))
                        .collect();
                    self.delete_all(gone).await?;
                    return Ok(Some(Opened {
                        connection,
                        evicted: evicted
                            .into_iter()
                            .filter(|x| now < x.expires_at)
                            .map(|x| x.id)
                            .collect(),
                    }));
                }
                Attempt::SessionEnded => return Ok(None),
                Attempt::Lost => pause().await,
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
        let held = self.held(user).await?;
        Ok(live(held.connections, now))
    }

    async fn connections_of_users(
        &self,
        users: &[UserId],
        now: OffsetDateTime,
    ) -> Result<Vec<Connection>, StoreError> {
        let unique: BTreeSet<&UserId> = users.iter().collect();
        let keys: Vec<Item> = unique.into_iter().map(version_key).collect();
        // Eventually consistent (half the price): a connection recorded within the last second
        // may miss one event, which the client's catch-up on (re)connect covers anyway.
        // 100 keys a request, a few requests in flight (a 10,000-member room is 100 requests).
        let chunks: Vec<Vec<Item>> = keys.chunks(100).map(<[Item]>::to_vec).collect();
        let pages: Vec<anyhow::Result<Vec<Item>>> = stream::iter(chunks)
            .map(|chunk| {
                let (client, table) = (self.client.clone(), self.table.clone());
                async move { batch_get(&client, &table, &chunk, false, None).await }
            })
            .buffer_unordered(LOOKUPS_IN_FLIGHT)
            .collect()
            .await;
        let mut out = Vec::new();
        for page in pages {
            for item in page? {
                let held = held_from(owner_of(&item)?, Some(item))?;
                out.extend(live(held.connections, now));
            }
        }
        Ok(out)
    }

    async fn disconnect(&self, id: &ConnectionId) -> Result<(), StoreError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        let Some(item) = found.item.filter(|a| !a.is_empty()) else {
            return Ok(());
        };
        let owner = connection_from(&item)?.user_id;
        self.remove(&owner, id).await
    }

    async fn subscribe(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError> {
        self.set_subscribed(user, room, true).await
    }

    async fn unsubscribe(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError> {
        self.set_subscribed(user, room, false).await
    }

    async fn room_subscribers(
        &self,
        room: &RoomId,
        shard: u16,
        now: OffsetDateTime,
    ) -> Result<Vec<Connection>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            // Eventually consistent: a connection subscribed within the last second may miss
            // one event (the client catches up by `after_seq`); half the RCU.
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(format!("{INDEX_PREFIX}{room}#{shard}")))
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

    async fn forget(&self, connection: &Connection) -> Result<(), StoreError> {
        self.remove(&connection.user_id, &connection.id).await
    }
}

/// The connections that have not lapsed at `now`.
fn live(connections: Vec<Connection>, now: OffsetDateTime) -> Vec<Connection> {
    connections
        .into_iter()
        .filter(|c| now < c.expires_at)
        .collect()
}
