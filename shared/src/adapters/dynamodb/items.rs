//! Item mapping: records to DynamoDB attribute maps and back. Table keys exist only here.

use crate::domain::time::{from_millis, to_millis};
use crate::domain::{
    Email, PendingSignup, RefreshRecord, ResetTicket, Session, SessionId, SignupId, Tally,
    TokenHash, User, UserId, Username,
};
use crate::domain::{PublicProfile, Role};
use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use time::OffsetDateTime;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn at(t: OffsetDateTime) -> AttributeValue {
    n(to_millis(t))
}

/// DynamoDB TTL wants epoch seconds.
fn ttl(t: OffsetDateTime) -> AttributeValue {
    n(t.unix_timestamp())
}

pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub fn user_key(id: &UserId) -> Item {
    key(format!("USER#{id}"), "PROFILE")
}
pub fn username_guard(u: &Username) -> Item {
    key(format!("USERNAME#{u}"), "GUARD")
}
pub fn email_guard(e: &Email) -> Item {
    key(format!("EMAIL#{e}"), "GUARD")
}
pub fn signup_key(id: &SignupId) -> Item {
    key(format!("SIGNUP#{id}"), "SIGNUP")
}
pub fn session_key(id: &SessionId) -> Item {
    key(format!("SESSION#{id}"), "SESSION")
}
pub fn refresh_key(hash: &TokenHash) -> Item {
    key(format!("REFRESH#{}", hash.to_hex()), "REFRESH")
}
pub fn reset_key(user: &UserId) -> Item {
    key(format!("USER#{user}"), "RESET")
}
pub fn block_key(blocker: &UserId, blocked: &UserId) -> Item {
    key(format!("USER#{blocker}"), &format!("BLOCK#{blocked}"))
}
pub fn tally_key(k: &str) -> Item {
    key(format!("TALLY#{k}"), "TALLY")
}
pub fn rate_key(k: &str, window_start_ms: i64) -> Item {
    key(format!("RATE#{k}#{window_start_ms}"), "RATE")
}

/// Partition of the username index: the first letter, so a prefix query hits one partition.
pub fn username_partition(prefix: &str) -> String {
    format!("USERNAMES#{}", prefix.chars().next().unwrap_or('_'))
}

fn with(mut item: Item, fields: impl IntoIterator<Item = (&'static str, AttributeValue)>) -> Item {
    item.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
    item
}

/// Typed reads from an item, with the attribute named in every error.
pub struct Read<'a>(pub &'a Item);

impl Read<'_> {
    pub fn s(&self, name: &str) -> anyhow::Result<&str> {
        match self.0.get(name) {
            Some(AttributeValue::S(v)) => Ok(v),
            _ => Err(anyhow!("attribute {name} missing or not a string")),
        }
    }

    pub fn n<T: std::str::FromStr>(&self, name: &str) -> anyhow::Result<T> {
        match self.0.get(name) {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| anyhow!("attribute {name} is not a valid number")),
            _ => Err(anyhow!("attribute {name} missing or not a number")),
        }
    }

    pub fn bool(&self, name: &str) -> anyhow::Result<bool> {
        match self.0.get(name) {
            Some(AttributeValue::Bool(v)) => Ok(*v),
            _ => Err(anyhow!("attribute {name} missing or not a boolean")),
        }
    }

    pub fn at(&self, name: &str) -> anyhow::Result<OffsetDateTime> {
        Ok(from_millis(self.n(name)?))
    }

    pub fn hash(&self, name: &str) -> anyhow::Result<TokenHash> {
        TokenHash::from_hex(self.s(name)?).ok_or_else(|| anyhow!("attribute {name} is not a hash"))
    }
}

fn parse<T>(r: Result<T, crate::domain::Invalid>, what: &str) -> anyhow::Result<T> {
    r.map_err(|e| anyhow!("stored {what} is invalid: {e}"))
}

pub fn user_item(u: &User) -> Item {
    let mut item = with(
        user_key(&u.id),
        [
            ("id", s(u.id.to_string())),
            ("username", s(u.username.as_str())),
            ("email", s(u.email.as_str())),
            ("password_hash", s(&u.password_hash)),
            ("first_name", s(&u.first_name)),
            ("last_name", s(&u.last_name)),
            ("bio", s(&u.bio)),
            ("role", s(u.role.as_str())),
            ("group_adds", s(u.group_adds.as_str())),
            ("created_at", at(u.created_at)),
            ("session_epoch", n(u.session_epoch)),
            ("version", n(u.version)),
            ("gsi1pk", s(username_partition(u.username.as_str()))),
            ("gsi1sk", s(u.username.as_str())),
        ],
    );
    if let Some(k) = &u.avatar_key {
        item.insert("avatar_key".into(), s(k));
    }
    item
}

pub fn user_from(item: &Item) -> anyhow::Result<User> {
    let r = Read(item);
    Ok(User {
        id: parse(UserId::parse(r.s("id")?), "user id")?,
        username: parse(Username::parse(r.s("username")?), "username")?,
        email: parse(Email::parse(r.s("email")?), "email")?,
        password_hash: r.s("password_hash")?.to_owned(),
        first_name: r.s("first_name")?.to_owned(),
        last_name: r.s("last_name")?.to_owned(),
        bio: r.s("bio")?.to_owned(),
        avatar_key: r.s("avatar_key").ok().map(str::to_owned),
        // Accounts written before roles were stored are plain users.
        role: match r.s("role") {
            Ok(raw) => Role::parse(raw).with_context(|| format!("unknown role {raw:?}"))?,
            Err(_) => Role::User,
        },
        // Accounts written before the setting existed keep the old behaviour.
        group_adds: match r.s("group_adds") {
            Ok(raw) => parse(crate::domain::GroupAdds::parse(raw), "group_adds")?,
            Err(_) => crate::domain::GroupAdds::Everyone,
        },
        created_at: r.at("created_at")?,
        session_epoch: r.n("session_epoch")?,
        version: r.n("version")?,
    })
}

/// A username-index item: the public attributes `schema::PUBLIC_ATTRIBUTES` projects, nothing more.
pub fn public_profile_from(item: &Item) -> anyhow::Result<PublicProfile> {
    let r = Read(item);
    Ok(PublicProfile {
        id: parse(UserId::parse(r.s("id")?), "user id")?,
        username: parse(Username::parse(r.s("username")?), "username")?,
        first_name: r.s("first_name")?.to_owned(),
        last_name: r.s("last_name")?.to_owned(),
        bio: r.s("bio")?.to_owned(),
        avatar_key: r.s("avatar_key").ok().map(str::to_owned),
    })
}

pub fn guard_item(guard: Item, user: &UserId) -> Item {
    with(guard, [("user_id", s(user.to_string()))])
}

pub fn signup_item(p: &PendingSignup, version: u64) -> Item {
    with(
        signup_key(&p.id),
        [
            ("id", s(p.id.to_string())),
            ("username", s(p.username.as_str())),
            ("email", s(p.email.as_str())),
            ("password_hash", s(&p.password_hash)),
            ("first_name", s(&p.first_name)),
            ("last_name", s(&p.last_name)),
            ("bio", s(&p.bio)),
            ("email_taken", AttributeValue::Bool(p.email_taken)),
            ("code_hash", s(TokenHash(p.code_hash).to_hex())),
            ("code_round", n(p.code_round)),
            ("code_expires_at", at(p.code_expires_at)),
            ("failed_attempts", n(p.failed_attempts)),
            ("resends", n(p.resends)),
            ("last_sent_at", at(p.last_sent_at)),
            ("created_at", at(p.created_at)),
            ("expires_at", at(p.expires_at)),
            ("version", n(version)),
            ("ttl", ttl(p.expires_at)),
        ],
    )
}

pub fn signup_from(item: &Item) -> anyhow::Result<PendingSignup> {
    let r = Read(item);
    Ok(PendingSignup {
        id: parse(SignupId::parse(r.s("id")?), "signup id")?,
        username: parse(Username::parse(r.s("username")?), "username")?,
        email: parse(Email::parse(r.s("email")?), "email")?,
        password_hash: r.s("password_hash")?.to_owned(),
        first_name: r.s("first_name")?.to_owned(),
        last_name: r.s("last_name")?.to_owned(),
        bio: r.s("bio")?.to_owned(),
        email_taken: r.bool("email_taken")?,
        code_hash: r.hash("code_hash")?.0,
        code_round: r.n("code_round")?,
        code_expires_at: r.at("code_expires_at")?,
        failed_attempts: r.n("failed_attempts")?,
        resends: r.n("resends")?,
        last_sent_at: r.at("last_sent_at")?,
        created_at: r.at("created_at")?,
        expires_at: r.at("expires_at")?,
        version: r.n("version")?,
    })
}

pub fn session_item(x: &Session) -> Item {
    with(
        session_key(&x.id),
        [
            ("id", s(x.id.to_string())),
            ("user_id", s(x.user_id.to_string())),
            ("epoch", n(x.epoch)),
            ("created_at", at(x.created_at)),
            ("expires_at", at(x.expires_at)),
            ("revoked", AttributeValue::Bool(x.revoked)),
            ("ttl", ttl(x.expires_at)),
        ],
    )
}

pub fn session_from(item: &Item) -> anyhow::Result<Session> {
    let r = Read(item);
    Ok(Session {
        id: parse(SessionId::parse(r.s("id")?), "session id")?,
        user_id: parse(UserId::parse(r.s("user_id")?), "user id")?,
        epoch: r.n("epoch")?,
        created_at: r.at("created_at")?,
        expires_at: r.at("expires_at")?,
        revoked: r.bool("revoked")?,
    })
}

pub fn refresh_item(x: &RefreshRecord) -> Item {
    with(
        refresh_key(&x.hash),
        [
            ("hash", s(x.hash.to_hex())),
            ("session_id", s(x.session_id.to_string())),
            ("user_id", s(x.user_id.to_string())),
            ("active", AttributeValue::Bool(x.active)),
            ("expires_at", at(x.expires_at)),
            ("ttl", ttl(x.expires_at)),
        ],
    )
}

pub fn refresh_from(item: &Item) -> anyhow::Result<RefreshRecord> {
    let r = Read(item);
    Ok(RefreshRecord {
        hash: r.hash("hash")?,
        session_id: parse(SessionId::parse(r.s("session_id")?), "session id")?,
        user_id: parse(UserId::parse(r.s("user_id")?), "user id")?,
        active: r.bool("active")?,
        expires_at: r.at("expires_at")?,
    })
}

pub fn reset_item(x: &ResetTicket) -> Item {
    with(
        reset_key(&x.user_id),
        [
            ("user_id", s(x.user_id.to_string())),
            ("secret_hash", s(x.secret_hash.to_hex())),
            ("expires_at", at(x.expires_at)),
            ("ttl", ttl(x.expires_at)),
        ],
    )
}

pub fn reset_from(item: &Item) -> anyhow::Result<ResetTicket> {
    let r = Read(item);
    Ok(ResetTicket {
        user_id: parse(UserId::parse(r.s("user_id")?), "user id")?,
        secret_hash: r.hash("secret_hash")?,
        expires_at: r.at("expires_at")?,
    })
}

/// A tally as its next version (`version + 1`), kept a day past `now` or past its lock.
pub fn tally_item(k: &str, t: &Tally, now: OffsetDateTime) -> Item {
    let keep_until = t.locked_until.map_or(now, |until| until.max(now)) + time::Duration::days(1);
    let mut item = with(
        tally_key(k),
        [
            ("count", n(t.count)),
            ("version", n(t.version + 1)),
            ("ttl", ttl(keep_until)),
        ],
    );
    if let Some(until) = t.locked_until {
        item.insert("locked_until".into(), at(until));
    }
    item
}

pub fn tally_from(item: &Item) -> anyhow::Result<Tally> {
    let r = Read(item);
    Ok(Tally {
        count: r.n("count")?,
        locked_until: r.at("locked_until").ok(),
        version: r.n("version")?,
    })
}

/// Wraps an SDK error with the operation's name and the full error chain.
pub fn sdk_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    op: &'static str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, R>) -> anyhow::Error {
    move |e| {
        anyhow!(
            "DynamoDB {op}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
        )
    }
}
