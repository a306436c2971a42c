//! Item mapping of the chat: rooms, members, memberships, messages and send windows to DynamoDB
//! attribute maps and back. The chat's table keys exist only here (layout in `docs/CHAT.md`).

use super::items::{Item, Read, key, n, s};
use super::schema::INBOX_ORDER;
use crate::domain::time::{from_millis, to_millis};
use crate::domain::{
    Invitation, Member, MemberRole, Membership, Message, MessageId, Posting, ReplyTo, Room, RoomId,
    RoomKind, UserId,
};
use crate::ports::RoomDeletion;
use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use time::OffsetDateTime;

pub const ROOM_SK: &str = "ROOM";
/// The room's deleted seqs, beside the room item: a send rewrites the room item, never this.
pub const DELETED_SK: &str = "DELETED";
/// On the room item: the newest deleted seq (0 or absent: nothing deleted, no `DELETED` item).
pub const NEWEST_DELETED: &str = "deleted_newest";
pub const MEMBER_PREFIX: &str = "MEMBER#";
pub const MESSAGE_PREFIX: &str = "MSG#";
pub const MEMBERSHIP_PREFIX: &str = "ROOM#";
pub const TRANSFER_GUARD_PREFIX: &str = "XFER#";
pub const CLIENT_GUARD_PREFIX: &str = "CLIENT#";
pub const SEQ_PREFIX: &str = "SEQ#";
pub const INVITATION_PREFIX: &str = "INVITE#";
pub const LEFT_PREFIX: &str = "LEFT#";
/// A person's reactions on one message: `REACT#<user>#<message>` (sorts apart from `MSG#`).
pub const REACTION_PREFIX: &str = "REACT#";
/// The message item's attribute counting one emoji: `rx:<emoji>`.
pub const REACTION_COUNT_PREFIX: &str = "rx:";
/// A deleted room's marker, in place of its room item until the clean-up has taken the rest.
pub const DELETING_SK: &str = "DELETING";
/// "This person's inbox may hold an item of this room besides a membership" (an invitation, a
/// "left" mark): how a deletion finds those without reading anyone's whole inbox.
pub const INBOX_REF_PREFIX: &str = "INBOXREF#";
/// The room item's member count: the member ceiling is reserved on it.
pub const MEMBER_COUNT: &str = "member_count";

pub fn room_pk(id: &RoomId) -> String {
    format!("ROOM#{id}")
}
/// A person's chat list: its own partition, not `USER#`, so the chat functions may write
/// memberships without any write access to accounts.
pub fn inbox_pk(id: &UserId) -> String {
    format!("INBOX#{id}")
}
pub fn room_key(id: &RoomId) -> Item {
    key(room_pk(id), ROOM_SK)
}
pub fn deleted_key(id: &RoomId) -> Item {
    key(room_pk(id), DELETED_SK)
}
pub fn member_key(room: &RoomId, user: &UserId) -> Item {
    key(room_pk(room), &format!("{MEMBER_PREFIX}{user}"))
}
pub fn membership_key(user: &UserId, room: &RoomId) -> Item {
    key(inbox_pk(user), &format!("{MEMBERSHIP_PREFIX}{room}"))
}
pub fn message_key(room: &RoomId, id: &MessageId) -> Item {
    key(room_pk(room), &format!("{MESSAGE_PREFIX}{id}"))
}
/// The guard of a transfer posted in a room: one message per transfer (`XFER#` sorts apart
/// from `MEMBER#` and `MSG#`, so no query of those ever sees it).
pub fn transfer_guard_key(room: &RoomId, transfer_id: &str) -> Item {
    key(
        room_pk(room),
        &format!("{TRANSFER_GUARD_PREFIX}{transfer_id}"),
    )
}
/// The guard of a sender's client id in a room: one message per (sender, client id).
/// `CLIENT#` sorts apart from `MEMBER#` and `MSG#` like `XFER#`.
pub fn client_guard_key(room: &RoomId, sender: &UserId, client_id: &str) -> Item {
    key(
        room_pk(room),
        &format!("{CLIENT_GUARD_PREFIX}{sender}#{client_id}"),
    )
}
pub fn reactor_sk(user: &UserId, message: &MessageId) -> String {
    format!("{REACTION_PREFIX}{user}#{message}")
}
pub fn reactor_key(room: &RoomId, user: &UserId, message: &MessageId) -> Item {
    key(room_pk(room), &reactor_sk(user, message))
}
pub fn reaction_count_name(emoji: &str) -> String {
    format!("{REACTION_COUNT_PREFIX}{emoji}")
}

/// The counts of the message item's `rx:` attributes above 0 (one that fell to 0 stays as 0).
fn reaction_counts(item: &Item) -> anyhow::Result<crate::domain::ReactionCounts> {
    let mut counts = crate::domain::ReactionCounts::new();
    for (name, value) in item {
        let Some(emoji) = name.strip_prefix(REACTION_COUNT_PREFIX) else {
            continue;
        };
        let count: i64 = match value {
            AttributeValue::N(v) => v.parse().context("stored reaction count")?,
            _ => return Err(anyhow!("stored reaction count is not a number")),
        };
        if count > 0 {
            counts.insert(emoji.to_owned(), count as u64);
        }
    }
    Ok(counts)
}

/// The sort key of seq `seq`'s pointer: zero-padded to 20 digits (all of `u64`), so text order
/// is seq order and a key condition can start at any seq.
pub fn seq_sk(seq: u64) -> String {
    format!("{SEQ_PREFIX}{seq:020}")
}
/// Seq `seq`'s pointer: the id of the message that took it (kept when the message is deleted).
/// `after_seq` history finds where to start in `MSG#` by it.
pub fn seq_pointer_item(m: &Message) -> Item {
    let mut item = key(room_pk(&m.room_id), &seq_sk(m.seq));
    item.insert("message_id".into(), s(m.id.to_string()));
    item
}
/// A pending invitation, in the invitee's inbox partition (`INVITE#` sorts apart from the
/// `ROOM#` memberships, so the chat list never reads it).
pub fn invitation_key(user: &UserId, room: &RoomId) -> Item {
    key(inbox_pk(user), &format!("{INVITATION_PREFIX}{room}"))
}
/// "This person left this room on their own": only an invitation brings them back.
pub fn left_key(user: &UserId, room: &RoomId) -> Item {
    key(inbox_pk(user), &format!("{LEFT_PREFIX}{room}"))
}
pub fn deleting_key(id: &RoomId) -> Item {
    key(room_pk(id), DELETING_SK)
}
/// The room-side pointer to `user`'s invitation or "left" mark for this room (`INBOX_REF_PREFIX`).
pub fn inbox_ref_key(room: &RoomId, user: &UserId) -> Item {
    key(room_pk(room), &format!("{INBOX_REF_PREFIX}{user}"))
}
pub fn window_key(k: &str) -> Item {
    key(format!("WINDOW#{k}"), "WINDOW")
}

fn with(mut item: Item, fields: impl IntoIterator<Item = (&'static str, AttributeValue)>) -> Item {
    item.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
    item
}

fn id_list(ids: &[UserId]) -> AttributeValue {
    AttributeValue::L(ids.iter().map(|id| s(id.to_string())).collect())
}

pub fn seq_list(seqs: &[u64]) -> AttributeValue {
    AttributeValue::L(seqs.iter().map(n).collect())
}

fn parse_id<T>(r: Result<T, crate::domain::Invalid>, what: &str) -> anyhow::Result<T> {
    r.map_err(|e| anyhow!("stored {what} is invalid: {e}"))
}

/// The message's own fields (also the shape of a room's `last` map).
pub fn message_fields(m: &Message) -> Item {
    let mut item: Item = HashMap::from([
        ("id".to_owned(), s(m.id.to_string())),
        ("room_id".to_owned(), s(m.room_id.to_string())),
        ("seq".to_owned(), n(m.seq)),
        ("sender".to_owned(), s(m.sender.to_string())),
        ("text".to_owned(), s(&m.text)),
        ("created_at".to_owned(), n(to_millis(m.created_at))),
    ]);
    if let Some(c) = &m.client_id {
        item.insert("client_id".into(), s(c));
    }
    if let Some(t) = &m.transfer {
        // The wire record as JSON text: written once, read back whole, never queried into.
        item.insert("transfer".into(), s(t.to_string()));
    }
    if let Some(at) = m.edited_at {
        item.insert("edited_at".into(), n(to_millis(at)));
    }
    if let Some(r) = &m.reply_to {
        item.insert(
            "reply_to".into(),
            AttributeValue::M(HashMap::from([
                ("message_id".to_owned(), s(r.message_id.to_string())),
                ("seq".to_owned(), n(r.seq)),
                ("sender".to_owned(), s(&r.sender)),
                ("text".to_owned(), s(&r.text)),
            ])),
        );
    }
    super::file_items::put_files(&mut item, &m.files);
    item
}

pub fn message_item(m: &Message) -> Item {
    let mut item = message_key(&m.room_id, &m.id);
    item.extend(message_fields(m));
    item
}

pub fn message_from(item: &Item) -> anyhow::Result<Message> {
    let r = Read(item);
    Ok(Message {
        id: parse_id(MessageId::parse(r.s("id")?), "message id")?,
        room_id: parse_id(RoomId::parse(r.s("room_id")?), "room id")?,
        seq: r.n("seq")?,
        sender: parse_id(UserId::parse(r.s("sender")?), "sender")?,
        text: r.s("text")?.to_owned(),
        client_id: r.s("client_id").ok().map(str::to_owned),
        created_at: r.at("created_at")?,
        transfer: r
            .s("transfer")
            .ok()
            .map(|t| serde_json::from_str(t).context("stored transfer"))
            .transpose()?,
        files: super::file_items::files_from(item)?,
        edited_at: match item.contains_key("edited_at") {
            true => Some(r.at("edited_at")?),
            false => None,
        },
        reply_to: match item.get("reply_to") {
            Some(AttributeValue::M(reply)) => {
                let r = Read(reply);
                Some(ReplyTo {
                    message_id: parse_id(MessageId::parse(r.s("message_id")?), "reply_to id")?,
                    seq: r.n("seq")?,
                    sender: r.s("sender")?.to_owned(),
                    text: r.s("text")?.to_owned(),
                })
            }
            Some(_) => return Err(anyhow!("stored reply_to is invalid")),
            None => None,
        },
        reactions: reaction_counts(item)?,
    })
}

pub fn room_item(room: &Room) -> Item {
    let mut item = with(
        room_key(&room.id),
        [
            ("id", s(room.id.to_string())),
            ("kind", s(room.kind.as_str())),
            ("name", s(&room.name)),
            ("description", s(&room.description)),
            ("posting", s(room.posting.as_str())),
            ("pair", id_list(&room.pair)),
            ("created_at", n(to_millis(room.created_at))),
            ("updated_at", n(to_millis(room.updated_at))),
            ("seq", n(room.seq)),
            (
                NEWEST_DELETED,
                n(room.deleted_seqs.iter().max().copied().unwrap_or(0)),
            ),
            ("version", n(room.version)),
            ("subscribed", AttributeValue::Bool(room.subscribed)),
        ],
    );
    if let Some(id) = &room.last_id {
        item.insert("last_id".into(), s(id.to_string()));
    }
    if let Some(m) = &room.last_message {
        item.insert("last".into(), AttributeValue::M(message_fields(m)));
    }
    if let Some(k) = &room.avatar_key {
        item.insert("avatar_key".into(), s(k));
    }
    item
}

pub fn room_from(item: &Item) -> anyhow::Result<Room> {
    let r = Read(item);
    let list = |name: &str| match item.get(name) {
        Some(AttributeValue::L(values)) => Ok(values.as_slice()),
        _ => Err(anyhow!("attribute {name} missing or not a list")),
    };
    let pair = list("pair")?
        .iter()
        .map(|v| match v {
            AttributeValue::S(id) => parse_id(UserId::parse(id), "pair id"),
            _ => Err(anyhow!("pair holds a non-string")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // A room item written before the `DELETED` item existed holds its list itself.
    let deleted_seqs = match item.get("deleted") {
        Some(_) => numbers(item, "deleted")?,
        None => vec![],
    };
    let last_message = match item.get("last") {
        Some(AttributeValue::M(m)) => Some(message_from(m)?),
        _ => None,
    };
    Ok(Room {
        id: parse_id(RoomId::parse(r.s("id")?), "room id")?,
        kind: parse_id(RoomKind::parse(r.s("kind")?), "room kind")?,
        name: r.s("name")?.to_owned(),
        description: r.s("description")?.to_owned(),
        posting: parse_id(Posting::parse(r.s("posting")?), "posting")?,
        pair,
        created_at: r.at("created_at")?,
        updated_at: r.at("updated_at")?,
        seq: r.n("seq")?,
        last_id: r
            .s("last_id")
            .ok()
            .map(|id| parse_id(MessageId::parse(id), "last id"))
            .transpose()?,
        last_message,
        deleted_seqs,
        version: r.n("version")?,
        avatar_key: r.s("avatar_key").ok().map(str::to_owned),
        // Rooms stored before the subscription index have no flag: not subscribed.
        subscribed: r.bool("subscribed").unwrap_or(false),
        // Rooms from before the member ceiling carry no count: they count as small.
        member_count: r.n(MEMBER_COUNT).unwrap_or(0),
    })
}

/// Whether the room item says its deleted seqs are in a `DELETED` item (`deleted_key`).
pub fn has_deleted_item(room_item: &Item) -> bool {
    Read(room_item).n::<u64>(NEWEST_DELETED).unwrap_or(0) > 0
}

/// The `DELETED` item of a room: its deleted seqs among the last `DELETED_MEMORY`.
pub fn deleted_item(room: &RoomId, seqs: &[u64]) -> Item {
    with(deleted_key(room), [("seqs", seq_list(seqs))])
}

pub fn deleted_from(item: &Item) -> anyhow::Result<Vec<u64>> {
    numbers(item, "seqs")
}

fn numbers(item: &Item, name: &str) -> anyhow::Result<Vec<u64>> {
    match item.get(name) {
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| match v {
                AttributeValue::N(x) => x.parse().context("deleted seq"),
                _ => Err(anyhow!("{name} holds a non-number")),
            })
            .collect(),
        _ => Err(anyhow!("attribute {name} missing or not a list")),
    }
}

pub fn member_item(m: &Member) -> Item {
    with(
        member_key(&m.room_id, &m.user_id),
        [
            ("room_id", s(m.room_id.to_string())),
            ("user_id", s(m.user_id.to_string())),
            ("role", s(m.role.as_str())),
            ("joined_at", n(to_millis(m.joined_at))),
        ],
    )
}

pub fn member_from(item: &Item) -> anyhow::Result<Member> {
    let r = Read(item);
    Ok(Member {
        room_id: parse_id(RoomId::parse(r.s("room_id")?), "room id")?,
        user_id: parse_id(UserId::parse(r.s("user_id")?), "user id")?,
        role: parse_id(MemberRole::parse(r.s("role")?), "role")?,
        joined_at: r.at("joined_at")?,
    })
}

/// The chat-list index's sort key of a membership: last activity (13-digit epoch millis, so
/// text order is time order until the year 2286), then the room id.
pub fn inbox_order(activity_ms: i64, room: &RoomId) -> String {
    format!("{:013}#{room}", activity_ms.max(0))
}

/// A membership, in the chat-list index from the moment it is written (`inbox_order`).
pub fn membership_item(m: &Member) -> Item {
    let at = to_millis(m.joined_at);
    with(
        membership_key(&m.user_id, &m.room_id),
        [
            ("room_id", s(m.room_id.to_string())),
            ("user_id", s(m.user_id.to_string())),
            ("last_read_seq", n(0)),
            ("activity", n(at)),
            (INBOX_ORDER, s(inbox_order(at, &m.room_id))),
        ],
    )
}

pub fn membership_from(item: &Item) -> anyhow::Result<Membership> {
    let r = Read(item);
    Ok(Membership {
        room_id: parse_id(RoomId::parse(r.s("room_id")?), "room id")?,
        user_id: parse_id(UserId::parse(r.s("user_id")?), "user id")?,
        last_read_seq: r.n("last_read_seq")?,
        // Written before the chat-list index: ordered as the oldest.
        activity_at: r.at("activity").unwrap_or(OffsetDateTime::UNIX_EPOCH),
    })
}

pub fn invitation_item(i: &Invitation) -> Item {
    with(
        invitation_key(&i.user_id, &i.room_id),
        [
            ("room_id", s(i.room_id.to_string())),
            ("user_id", s(i.user_id.to_string())),
            ("inviter", s(i.inviter.to_string())),
            ("invited_at", n(to_millis(i.invited_at))),
        ],
    )
}

pub fn invitation_from(item: &Item) -> anyhow::Result<Invitation> {
    let r = Read(item);
    Ok(Invitation {
        room_id: parse_id(RoomId::parse(r.s("room_id")?), "room id")?,
        user_id: parse_id(UserId::parse(r.s("user_id")?), "user id")?,
        inviter: parse_id(UserId::parse(r.s("inviter")?), "inviter")?,
        invited_at: r.at("invited_at")?,
    })
}

pub fn deletion_item(d: &RoomDeletion) -> Item {
    let mut item = with(
        deleting_key(&d.room_id),
        [
            ("room_id", s(d.room_id.to_string())),
            ("by", s(d.by.to_string())),
            ("subscribed", AttributeValue::Bool(d.subscribed)),
            ("held_until", n(to_millis(d.held_until))),
        ],
    );
    if let Some(k) = &d.avatar_key {
        item.insert("avatar_key".into(), s(k));
    }
    item
}

pub fn deletion_from(item: &Item) -> anyhow::Result<RoomDeletion> {
    let r = Read(item);
    Ok(RoomDeletion {
        room_id: parse_id(RoomId::parse(r.s("room_id")?), "room id")?,
        by: parse_id(UserId::parse(r.s("by")?), "deleter")?,
        subscribed: r.bool("subscribed")?,
        avatar_key: r.s("avatar_key").ok().map(str::to_owned),
        held_until: r.at("held_until")?,
    })
}

/// A send window's event times (epoch millis, oldest first) and version.
pub fn window_from(item: &Item) -> anyhow::Result<(Vec<i64>, u64)> {
    let times = match item.get("times") {
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| match v {
                AttributeValue::N(x) => x.parse().context("window time"),
                _ => Err(anyhow!("times holds a non-number")),
            })
            .collect::<anyhow::Result<Vec<i64>>>()?,
        _ => return Err(anyhow!("attribute times missing or not a list")),
    };
    Ok((times, Read(item).n("version")?))
}

pub fn window_item(k: &str, times: &[i64], version: u64, expires_ms: i64) -> Item {
    with(
        window_key(k),
        [
            ("times", AttributeValue::L(times.iter().map(n).collect())),
            ("version", n(version)),
            ("ttl", n(from_millis(expires_ms).unix_timestamp())),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_item_carries_no_deleted_list_and_an_old_one_still_reads() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut room = Room {
            id: RoomId::new(),
            kind: RoomKind::Group,
            name: "r".into(),
            description: String::new(),
            posting: Posting::Everyone,
            pair: vec![],
            created_at: now,
            updated_at: now,
            seq: 9,
            last_id: None,
            last_message: None,
            deleted_seqs: vec![3, 7],
            version: 2,
            avatar_key: None,
            member_count: 0,
            subscribed: false,
        };
        let mut item = room_item(&room);
        assert!(
            !item.contains_key("deleted"),
            "the list is the DELETED item's"
        );
        assert!(has_deleted_item(&item));
        // An item written before the DELETED item existed holds the list itself.
        item.insert("deleted".into(), seq_list(&[3, 7]));
        item.remove(NEWEST_DELETED);
        assert_eq!(room_from(&item).unwrap().deleted_seqs, vec![3, 7]);
        assert!(!has_deleted_item(&item));
        room.deleted_seqs = vec![];
        assert!(!has_deleted_item(&room_item(&room)));
        let list = deleted_item(&room.id, &[3, 7]);
        assert_eq!(deleted_from(&list).unwrap(), vec![3, 7]);
    }
}
