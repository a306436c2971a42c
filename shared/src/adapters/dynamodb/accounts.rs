//! `AccountStore` on DynamoDB. Every multi-item change is one `TransactWriteItems`; every race is
//! settled by a condition expression, never by reading first and hoping.

use super::DynamoAccounts;
use super::items::*;
use super::schema::USERNAME_INDEX;
use super::tx::{self, TxOutcome};
use crate::domain::PublicProfile;
use crate::domain::time::to_millis;
use crate::domain::{
    Email, PendingSignup, RefreshRecord, ResetTicket, Session, SessionId, SignupId, Tally,
    TokenHash, User, UserId, Username,
};
use crate::ports::{
    AccountStore, CreateUserError, Page, RateDecision, StoreError, UpdateUserError, window_start,
};
use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use time::{Duration, OffsetDateTime};

fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
    values: Item,
) -> anyhow::Result<TransactWriteItem> {
    let mut p = Put::builder().table_name(table).set_item(Some(item));
    if let Some(c) = condition {
        p = p.condition_expression(c);
    }
    if !values.is_empty() {
        p = p.set_expression_attribute_values(Some(values));
    }
    Ok(TransactWriteItem::builder().put(p.build()?).build())
}

fn delete(
    table: &str,
    key: Item,
    condition: &str,
    values: Item,
) -> anyhow::Result<TransactWriteItem> {
    let mut d = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(condition);
    if !values.is_empty() {
        d = d.set_expression_attribute_values(Some(values));
    }
    Ok(TransactWriteItem::builder().delete(d.build()?).build())
}

fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

const NOT_EXISTS: &str = "attribute_not_exists(pk)";

/// Writes `user` as its next version, if the stored one is still `user.version`.
fn put_next_version(table: &str, user: &User) -> anyhow::Result<TransactWriteItem> {
    let next = User {
        version: user.version + 1,
        ..user.clone()
    };
    put(
        table,
        user_item(&next),
        Some("version = :v"),
        values([(":v", n(user.version))]),
    )
}

impl DynamoAccounts {
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxOutcome> {
        tx::transact(&self.client, items, 4, 20).await.map(|_| ())
    }

    async fn get(&self, key: Item) -> anyhow::Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        Ok(out.item)
    }

    async fn get_as<T>(
        &self,
        key: Item,
        from: fn(&Item) -> anyhow::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.get(key).await?.map(|item| from(&item)).transpose()?)
    }

    /// PutItem guarded by `version = :v`.
    async fn put_versioned(&self, item: Item, version: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(StoreError::Unexpected(sdk_error("PutItem")(e))),
        }
    }

    async fn put_plain(&self, item: Item) -> anyhow::Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error("PutItem"))?;
        Ok(())
    }

    async fn delete_plain(&self, key: Item) -> anyhow::Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(sdk_error("DeleteItem"))?;
        Ok(())
    }

    /// BatchGetItem over any number of keys (`batch::batch_get`).
    async fn batch_get(&self, keys: &[Item], consistent: bool) -> anyhow::Result<Vec<Item>> {
        super::batch::batch_get(&self.client, &self.table, keys, consistent, None).await
    }

    async fn user_by_guard(&self, guard: Item) -> Result<Option<User>, StoreError> {
        let Some(item) = self.get(guard).await? else {
            return Ok(None);
        };
        let id =
            UserId::parse(Read(&item).s("user_id")?).map_err(|e| anyhow!("guard user id: {e}"))?;
        self.user(&id).await
    }
}

fn tx_to_store(outcome: TxOutcome) -> StoreError {
    match outcome {
        TxOutcome::ConditionFailed(_) | TxOutcome::Contended => StoreError::Conflict,
        TxOutcome::Failed(e) => StoreError::Unexpected(e),
    }
}

#[async_trait]
impl AccountStore for DynamoAccounts {
    async fn put_signup(&self, signup: &PendingSignup) -> Result<(), StoreError> {
        Ok(self.put_plain(signup_item(signup, signup.version)).await?)
    }

    async fn signup(&self, id: &SignupId) -> Result<Option<PendingSignup>, StoreError> {
        self.get_as(signup_key(id), signup_from).await
    }

    async fn update_signup(&self, signup: &PendingSignup) -> Result<(), StoreError> {
        self.put_versioned(signup_item(signup, signup.version + 1), signup.version)
            .await
    }

    async fn create_user(&self, user: &User, from: &PendingSignup) -> Result<(), CreateUserError> {
        let t = &self.table;
        let items = vec![
            put(
                t,
                guard_item(username_guard(&user.username), &user.id),
                Some(NOT_EXISTS),
                Item::new(),
            )?,
            put(
                t,
                guard_item(email_guard(&user.email), &user.id),
                Some(NOT_EXISTS),
                Item::new(),
            )?,
            put(t, user_item(user), Some(NOT_EXISTS), Item::new())?,
            delete(
                t,
                signup_key(&from.id),
                "version = :v",
                values([(":v", n(from.version))]),
            )?,
        ];
        // Every failed condition is reported: a pending signup that changed or vanished means a
        // concurrent verification of this very signup (its guards then fail too), so that is a
        // conflict, not a taken name.
        self.transact(items).await.map_err(|o| match o {
            TxOutcome::Failed(e) => CreateUserError::Unexpected(e),
            o if o.failed_at(3) => CreateUserError::Conflict,
            o if o.failed_at(0) => CreateUserError::UsernameTaken,
            o if o.failed_at(1) => CreateUserError::EmailTaken,
            _ => CreateUserError::Conflict,
        })
    }

    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.get_as(user_key(id), user_from).await
    }

    async fn user_by_username(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.user_by_guard(username_guard(username)).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.user_by_guard(email_guard(email)).await
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let keys: Vec<Item> = ids.iter().map(user_key).collect();
        Ok(self
            .batch_get(&keys, false)
            .await?
            .iter()
            .map(user_from)
            .collect::<anyhow::Result<_>>()?)
    }

    async fn update_user(
        &self,
        user: &User,
        previous: Option<&Username>,
    ) -> Result<(), UpdateUserError> {
        let Some(old) = previous else {
            let next = User {
                version: user.version + 1,
                ..user.clone()
            };
            return self
                .put_versioned(user_item(&next), user.version)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict => UpdateUserError::Conflict,
                    StoreError::Unexpected(e) => UpdateUserError::Unexpected(e),
                });
        };
        let t = &self.table;
        let items = vec![
            put(
                t,
                guard_item(username_guard(&user.username), &user.id),
                Some(NOT_EXISTS),
                Item::new(),
            )?,
            delete(
                t,
                username_guard(old),
                "user_id = :id",
                values([(":id", s(user.id.to_string()))]),
            )?,
            put_next_version(t, user)?,
        ];
        self.transact(items).await.map_err(|o| match o {
            TxOutcome::Failed(e) => UpdateUserError::Unexpected(e),
            o if o.failed_at(2) => UpdateUserError::Conflict,
            o if o.failed_at(0) => UpdateUserError::UsernameTaken,
            _ => UpdateUserError::Conflict,
        })
    }

    async fn search_users(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(USERNAME_INDEX)
            .key_condition_expression("gsi1pk = :p AND begins_with(gsi1sk, :prefix)")
            .expression_attribute_values(":p", s(username_partition(prefix)))
            .expression_attribute_values(":prefix", s(prefix))
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(sdk_error("Query"))?;
        Ok(out
            .items()
            .iter()
            .map(public_profile_from)
            .collect::<anyhow::Result<_>>()?)
    }

    async fn create_session(
        &self,
        session: &Session,
        first: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let t = &self.table;
        let items = vec![
            put(t, session_item(session), Some(NOT_EXISTS), Item::new())?,
            put(t, refresh_item(first), Some(NOT_EXISTS), Item::new())?,
        ];
        self.transact(items).await.map_err(tx_to_store)
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        self.get_as(session_key(id), session_from).await
    }

    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
        self.get_as(refresh_key(hash), refresh_from).await
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let retire = Update::builder()
            .table_name(&self.table)
            .set_key(Some(refresh_key(old)))
            .update_expression("SET active = :no")
            .condition_expression("active = :yes")
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .build()
            .map_err(|e| anyhow!(e))?;
        let items = vec![
            TransactWriteItem::builder().update(retire).build(),
            put(
                &self.table,
                refresh_item(new),
                Some(NOT_EXISTS),
                Item::new(),
            )?,
        ];
        self.transact(items).await.map_err(tx_to_store)
    }

    async fn revoke_session(&self, id: &SessionId) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(id)))
            .update_expression("SET revoked = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(StoreError::Unexpected(sdk_error("UpdateItem")(e))),
        }
    }

    async fn put_reset_ticket(&self, ticket: &ResetTicket) -> Result<(), StoreError> {
        Ok(self.put_plain(reset_item(ticket)).await?)
    }

    async fn reset_ticket(&self, user: &UserId) -> Result<Option<ResetTicket>, StoreError> {
        self.get_as(reset_key(user), reset_from).await
    }

    async fn consume_reset_ticket(
        &self,
        ticket: &ResetTicket,
        user: &User,
    ) -> Result<(), StoreError> {
        let t = &self.table;
        let items = vec![
            delete(
                t,
                reset_key(&ticket.user_id),
                "secret_hash = :h",
                values([(":h", s(ticket.secret_hash.to_hex()))]),
            )?,
            put_next_version(t, user)?,
        ];
        self.transact(items).await.map_err(tx_to_store)
    }

    async fn tallies(&self, keys: &[String]) -> Result<Vec<Tally>, StoreError> {
        // One consistent round trip for every key of a guess.
        let wanted: Vec<Item> = keys.iter().map(|k| tally_key(k)).collect();
        let found = self.batch_get(&wanted, true).await?;
        wanted
            .iter()
            .map(|key| {
                let item = found.iter().find(|item| item.get("pk") == key.get("pk"));
                Ok(item.map(tally_from).transpose()?.unwrap_or_default())
            })
            .collect()
    }

    async fn put_tallies(
        &self,
        tallies: &[(String, Tally)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let items = tallies
            .iter()
            .map(|(k, t)| {
                let (condition, values) = if t.version == 0 {
                    (NOT_EXISTS, Item::new())
                } else {
                    ("version = :v", values([(":v", n(t.version))]))
                };
                put(&self.table, tally_item(k, t, now), Some(condition), values)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.transact(items).await.map_err(tx_to_store)
    }

    async fn clear_tallies(&self, keys: &[String]) -> Result<(), StoreError> {
        for k in keys {
            self.delete_plain(tally_key(k)).await?;
        }
        Ok(())
    }

    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError> {
        self.hit_rate_limit_by(key, 1, limit, window, now).await
    }

    async fn hit_rate_limit_by(
        &self,
        key: &str,
        events: u32,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError> {
        let start = window_start(now, window);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(rate_key(key, to_millis(start))))
            .update_expression("ADD hits :one SET #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(events))
            .expression_attribute_values(
                ":ttl",
                n((start + window + Duration::hours(1)).unix_timestamp()),
            )
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error("UpdateItem"))?;
        let item = out.attributes.unwrap_or_default();
        let hits: u32 = Read(&item).n("hits")?;
        Ok(RateDecision::after(hits, limit, start + window))
    }

    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut item = block_key(blocker, blocked);
        item.insert("blocked_id".into(), s(blocked.to_string()));
        item.insert("blocked_at".into(), n(to_millis(at)));
        Ok(self.put_plain(item).await?)
    }

    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<(), StoreError> {
        Ok(self.delete_plain(block_key(blocker, blocked)).await?)
    }

    async fn is_blocked(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        Ok(self.get(block_key(blocker, blocked)).await?.is_some())
    }

    async fn blocked_by(
        &self,
        blocker: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<UserId>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :block)")
            .expression_attribute_values(":pk", s(format!("USER#{blocker}")))
            .expression_attribute_values(":block", s("BLOCK#"))
            .consistent_read(true)
            .limit((limit + 1).min(1000) as i32);
        if let Some(c) = cursor {
            let after = UserId::parse(c).map_err(|_| anyhow!("bad cursor"))?;
            query = query.set_exclusive_start_key(Some(block_key(blocker, &after)));
        }
        let out = query.send().await.map_err(sdk_error("Query"))?;
        let ids = out
            .items()
            .iter()
            .map(|i| {
                UserId::parse(Read(i).s("blocked_id")?).map_err(|e| anyhow!("blocked id: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(ids, limit, ToString::to_string))
    }
}
