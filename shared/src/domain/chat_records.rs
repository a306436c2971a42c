//! What the chat store keeps: rooms, their members, each person's memberships (with the read
//! marker) and messages. A room carries a sequence number that every send bumps, so unread counts
//! come from `room.seq - membership.last_read_seq` without any per-member write per message.

use super::chat::{MemberRole, Posting, RoomKind};
use super::{FileRef, MessageId, RoomId, UserId};
use time::OffsetDateTime;

/// How many sequence numbers back a room remembers its deleted messages (for unread counts).
pub const DELETED_MEMORY: u64 = 10_000;

/// The newest live message of a room, kept on the room so the chat list needs no message reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub room_id: RoomId,
    /// Position in the room: 1 for the first message, `room.seq` for the newest.
    pub seq: u64,
    pub sender: UserId,
    pub text: String,
    pub client_id: Option<String>,
    pub created_at: OffsetDateTime,
    /// Attached files (0 to 10), in the order sent; empty for a text-only message.
    pub files: Vec<FileRef>,
    /// A `transfer`-kind message's money movement: the wallet's record in its wire form
    /// (`services::wallet::transfer_json`), frozen as it was when the money moved.
    pub transfer: Option<serde_json::Value>,
    /// When its sender last changed its text (`PATCH /rooms/{id}/messages/{message_id}`).
    pub edited_at: Option<OffsetDateTime>,
    /// The message of the same room this one answers, as it was when the reply was sent.
    pub reply_to: Option<ReplyTo>,
    /// How many people put each emoji on it (`PUT .../reactions/{emoji}`).
    pub reactions: super::ReactionCounts,
}

/// What a reply shows of the message it answers: frozen when the reply is sent (a later edit or
/// rename does not change it), and hidden by readers once that message is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub message_id: MessageId,
    pub seq: u64,
    /// The answered message's sender, by the name they had then.
    pub sender: String,
    /// Its first `REPLY_PREVIEW_CHARS` characters.
    pub text: String,
}

/// How much of the answered message a reply carries.
pub const REPLY_PREVIEW_CHARS: usize = 100;

impl ReplyTo {
    pub fn of(message: &Message, sender: &str) -> Self {
        let text = match message.text.char_indices().nth(REPLY_PREVIEW_CHARS) {
            Some((cut, _)) => message.text[..cut].to_owned(),
            None => message.text.clone(),
        };
        Self {
            message_id: message.id,
            seq: message.seq,
            sender: sender.to_owned(),
            text,
        }
    }
}

impl Message {
    /// The id of the transfer this message posts, if it posts one: at most one message per
    /// transfer (the stores keep a guard keyed by it).
    pub fn transfer_id(&self) -> Option<&str> {
        self.transfer.as_ref().and_then(|t| t["id"].as_str())
    }

    /// The message as its room item keeps it for the chat list: the first `PREVIEW_CHARS`
    /// characters of its text (files and transfer whole: both are small and bounded), so a
    /// 4,000-character message does not make every later send rewrite it in the room item.
    pub fn preview(&self) -> Message {
        let mut m = self.clone();
        m.reactions.clear(); // the chat list shows no reactions (and a reaction never rewrites it)
        if let Some((cut, _)) = m.text.char_indices().nth(PREVIEW_CHARS) {
            m.text.truncate(cut);
        }
        m
    }

    /// The client id that names this message among its sender's in the room, if any: a plain
    /// message's `client_id` (a transfer's message is guarded by its transfer instead, and its
    /// client id only pairs the frame with its answer).
    pub fn client_guard(&self) -> Option<&str> {
        match self.transfer {
            Some(_) => None,
            None => self.client_id.as_deref(),
        }
    }
}

/// How much of the last message's text the room item keeps (`Message::preview`).
pub const PREVIEW_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: RoomId,
    pub kind: RoomKind,
    /// Empty for a direct room (its name is the other person's).
    pub name: String,
    pub description: String,
    pub posting: Posting,
    /// The two people of a direct room, lower id first; empty otherwise.
    pub pair: Vec<UserId>,
    pub created_at: OffsetDateTime,
    /// Last activity: creation, or the newest message.
    pub updated_at: OffsetDateTime,
    /// Messages ever sent (the newest one's `seq`).
    pub seq: u64,
    /// The id of message `seq` (deleted or not): the next id must sort after it.
    pub last_id: Option<MessageId>,
    /// The newest message that is not deleted, as a preview (`Message::preview`): its text cut
    /// to `PREVIEW_CHARS` characters.
    pub last_message: Option<Message>,
    /// Seqs of deleted messages among the last `DELETED_MEMORY` ones.
    pub deleted_seqs: Vec<u64>,
    /// Bumped by every change except sends (which are ordered by `seq`).
    pub version: u64,
    /// Storage key of a group's or channel's avatar (a direct room shows the other person's).
    pub avatar_key: Option<String>,
    /// Whether its members' live connections are kept in the sharded subscription index
    /// (`ROOMSUB#`), so delivery reads the online audience instead of every member: set at
    /// creation for channels (`Room::subscribes`), never changed.
    pub subscribed: bool,
    /// Members now, as the store counts them (the count the member ceiling is reserved on):
    /// what decides whether `read` and `typing` fan out (`Limits::read_receipts_max_members`).
    pub member_count: u32,
}

impl Room {
    /// The subscription rule: channels (the rooms that grow to thousands of members) use the
    /// index from creation; direct rooms and groups (at most a few hundred) look their members'
    /// connections up per push.
    pub fn subscribes(kind: RoomKind) -> bool {
        kind == RoomKind::Channel
    }

    /// Messages after `last_read_seq` that are still there: exact while fewer than
    /// `DELETED_MEMORY` messages are unread.
    pub fn unread_after(&self, last_read_seq: u64) -> u64 {
        let sent = self.seq.saturating_sub(last_read_seq);
        let deleted = self
            .deleted_seqs
            .iter()
            .filter(|s| **s > last_read_seq)
            .count() as u64;
        sent.saturating_sub(deleted)
    }

    /// The deleted seqs after `seq` is deleted, forgetting those too old to matter.
    pub fn deleted_with(&self, seq: u64) -> Vec<u64> {
        let horizon = self.seq.saturating_sub(DELETED_MEMORY);
        let mut seqs: Vec<u64> = self
            .deleted_seqs
            .iter()
            .copied()
            .chain(std::iter::once(seq))
            .filter(|s| *s > horizon)
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs
    }
}

/// A person in a room, as the room sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub room_id: RoomId,
    pub user_id: UserId,
    pub role: MemberRole,
    pub joined_at: OffsetDateTime,
}

/// An add that waits for the person's consent: made instead of a membership when they accept
/// groups from nobody (`GroupAdds::Nobody`) or left this room before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub room_id: RoomId,
    /// Who is invited.
    pub user_id: UserId,
    /// Who added them.
    pub inviter: UserId,
    pub invited_at: OffsetDateTime,
}

/// A room in a person's chat list, with their read marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub room_id: RoomId,
    pub user_id: UserId,
    pub last_read_seq: u64,
    /// The room's last activity as this person's chat list orders it: when they joined, then
    /// each message (moved after the send, see `ChatStore::touch_inbox`).
    pub activity_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(seq: u64, deleted: Vec<u64>) -> Room {
        let now = OffsetDateTime::UNIX_EPOCH;
        Room {
            id: RoomId::new(),
            kind: RoomKind::Group,
            name: "r".into(),
            description: String::new(),
            posting: Posting::Everyone,
            pair: vec![],
            created_at: now,
            updated_at: now,
            seq,
            last_id: None,
            last_message: None,
            deleted_seqs: deleted,
            version: 0,
            avatar_key: None,
            subscribed: false,
            member_count: 2,
        }
    }

    #[test]
    fn unread_counts_skip_deleted_messages_after_the_marker() {
        let r = room(10, vec![3, 8]);
        assert_eq!(r.unread_after(0), 8);
        assert_eq!(r.unread_after(5), 4);
        assert_eq!(r.unread_after(10), 0);
    }

    #[test]
    fn the_deleted_memory_is_bounded() {
        let r = room(DELETED_MEMORY + 100, vec![50, 150]);
        assert_eq!(r.deleted_with(200), vec![150, 200]);
    }
}
