//! The chat's wire shapes, exactly as API.md names them (`Room`, `RoomSummary`, `Message`).
//! They live beside the services because server events carry them too.

use crate::domain::time::rfc3339;
use crate::domain::{Member, Message, Room, RoomKind, User, UserId};
use serde::Serialize;
use std::collections::HashMap;

/// API.md's `User`: what anyone may see of an account.
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub id: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
}

impl From<&User> for PersonView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.to_string(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            bio: user.bio.clone(),
            avatar_url: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub user: PersonView,
    pub role: &'static str,
    pub joined_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub description: String,
    pub avatar_url: Option<String>,
    pub posting: &'static str,
    pub members: Vec<MemberView>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: String,
    pub room_id: String,
    /// The message's place in its room (1, 2, …): what `after_seq` history continues from.
    pub seq: u64,
    pub sender: String,
    pub kind: &'static str,
    pub text: String,
    pub files: Vec<serde_json::Value>,
    pub transfer: Option<serde_json::Value>,
    pub client_id: Option<String>,
    pub created_at: String,
    /// When its sender last edited its text; null for a message never edited.
    pub edited_at: Option<String>,
    /// What it answers: null for a message that answers nothing.
    pub reply_to: Option<ReplyView>,
    /// Counts per emoji, in the picker's order, with whether the reader is among them.
    pub reactions: Vec<ReactionView>,
}

/// One emoji on a message: how many put it there, and whether the reader did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReactionView {
    pub emoji: &'static str,
    pub count: u64,
    pub mine: bool,
}

/// A reply's preview of the message it answers; `sender` and `text` are null once it is deleted.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyView {
    pub message_id: String,
    pub sender: Option<String>,
    pub text: Option<String>,
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomSummaryView {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub avatar_url: Option<String>,
    pub last_message: Option<MessageView>,
    pub unread_count: u64,
    pub updated_at: String,
}

/// Accounts by id, for naming senders and members.
pub type People = HashMap<UserId, User>;

pub(super) fn username_of(people: &People, id: &UserId) -> String {
    // An account cannot be deleted today; should one ever vanish, its messages stay readable.
    people
        .get(id)
        .map(|u| u.username.to_string())
        .unwrap_or_else(|| "deleted".to_owned())
}

/// A direct room's name is the other person's username; a group's is its own.
pub fn room_name(room: &Room, me: &UserId, people: &People) -> String {
    match room.kind {
        RoomKind::Direct => room
            .pair
            .iter()
            .find(|id| *id != me)
            .map(|other| username_of(people, other))
            .unwrap_or_default(),
        _ => room.name.clone(),
    }
}

pub fn message_view(message: &Message, people: &People) -> MessageView {
    message_view_in(message, people, &[])
}

/// As `message_view`, for a reader of a room whose deleted seqs are `deleted`: a reply to a
/// message deleted since shows `deleted` instead of its preview.
pub fn message_view_in(message: &Message, people: &People, deleted: &[u64]) -> MessageView {
    MessageView {
        id: message.id.to_string(),
        room_id: message.room_id.to_string(),
        seq: message.seq,
        sender: username_of(people, &message.sender),
        kind: if message.transfer.is_some() {
            "transfer"
        } else {
            "text"
        },
        text: message.text.clone(),
        files: vec![],
        transfer: message.transfer.clone(),
        client_id: message.client_id.clone(),
        created_at: rfc3339(message.created_at),
        edited_at: message.edited_at.map(rfc3339),
        reply_to: message
            .reply_to
            .as_ref()
            .map(|r| super::message_replies::reply_view(r, deleted)),
        reactions: super::reactions::reaction_views(&message.reactions, &[]),
    }
}

pub fn room_view(room: &Room, me: &UserId, members: &[Member], people: &People) -> RoomView {
    let mut members: Vec<&Member> = members.iter().collect();
    members.sort_by_key(|m| (std::cmp::Reverse(m.role), m.joined_at, m.user_id));
    RoomView {
        id: room.id.to_string(),
        kind: room.kind.as_str(),
        name: room_name(room, me, people),
        description: room.description.clone(),
        avatar_url: None,
        posting: room.posting.as_str(),
        members: members
            .into_iter()
            .filter_map(|m| {
                people.get(&m.user_id).map(|u| MemberView {
                    user: PersonView::from(u),
                    role: m.role.as_str(),
                    joined_at: rfc3339(m.joined_at),
                })
            })
            .collect(),
        created_at: rfc3339(room.created_at),
    }
}

pub fn summary_view(
    room: &Room,
    me: &UserId,
    last_read_seq: u64,
    people: &People,
) -> RoomSummaryView {
    RoomSummaryView {
        id: room.id.to_string(),
        kind: room.kind.as_str(),
        name: room_name(room, me, people),
        avatar_url: None,
        last_message: room
            .last_message
            .as_ref()
            .map(|m| message_view_in(m, people, &room.deleted_seqs)),
        unread_count: room.unread_after(last_read_seq),
        updated_at: rfc3339(room.updated_at),
    }
}
