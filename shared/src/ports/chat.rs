//! The chat store: rooms, members, memberships with read markers, and messages. Every change that
//! touches several items is atomic, and every race is settled by a condition in the store:
//! a send is ordered by the room's `seq`, a membership change by the member item's existence and
//! role, a room edit by the room's `version`.

use crate::domain::{
    Emoji, Invitation, Member, MemberRole, Membership, Message, MessageId, Pin, Room, RoomId,
    UserId,
};
use crate::ports::{Outgoing, Page, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;
use time::OffsetDateTime;

/// Why creating a room failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateRoomError {
    /// A room with this id exists (the direct room of this pair).
    #[error("room exists")]
    Exists,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why adding members failed.
#[derive(Debug, thiserror::Error)]
pub enum AddMembersError {
    /// This person became a member meanwhile (nothing was written).
    #[error("already a member")]
    AlreadyMember(UserId),
    /// The room is gone.
    #[error("room gone")]
    RoomGone,
    /// The room would pass its member ceiling (nothing was written).
    #[error("room full")]
    Full,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for AddMembersError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::RoomGone,
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

/// A deleted room whose clean-up has not finished: the marker that took the room item's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDeletion {
    pub room_id: RoomId,
    /// The owner who deleted it: only their repeat delete finishes it.
    pub by: UserId,
    /// Whether its members' connections are in the subscription index (to take them out).
    pub subscribed: bool,
    /// Its avatar's storage key, to delete with its messages' files.
    pub avatar_key: Option<String>,
    /// Until when the clean-up under way may run undisturbed; after that a repeat delete takes
    /// it over.
    pub held_until: OffsetDateTime,
}

/// What one `purge_room` call left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Items remain: call again.
    More,
    /// Nothing of the room is left, its marker included.
    Done,
}

/// What pinning did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    /// Pinned now, with its event.
    Changed,
    /// Nothing to do: it was pinned already.
    Unchanged,
    /// Not pinned: the room holds as many pins as it may.
    Full,
    /// Not pinned: the message (or the room) is not there.
    MessageGone,
}

/// What adding or removing a reaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reacted {
    /// Written, with its event.
    Changed,
    /// Nothing to do: the emoji was already there (add) or was not (remove).
    Unchanged,
    /// Not written: the person has as many reactions on the message as they may.
    Full,
    /// Not written: the message is not there (deleted).
    MessageGone,
}

/// Most members one request may add (each costs two items of a 100-item transaction).
pub const MAX_MEMBERS_PER_CHANGE: usize = 40;

#[async_trait]
pub trait ChatStore: Send + Sync {
    // --- rooms ---
    /// Writes the room, its members and their memberships in one transaction; `Exists` when
    /// a room with this id is already there.
    async fn create_room(&self, room: &Room, members: &[Member]) -> Result<(), CreateRoomError>;
    async fn room(&self, id: &RoomId) -> Result<Option<Room>, StoreError>;
    /// Rooms by id, unknown ones left out, in no particular order.
    async fn rooms(&self, ids: &[RoomId]) -> Result<Vec<Room>, StoreError>;
    /// Writes name, description and posting if the stored version is still `room.version`
    /// (`Conflict` otherwise), bumping it.
    async fn update_room(&self, room: &Room) -> Result<(), StoreError>;
    /// In one conditional write: the room item goes and its deletion marker takes its place,
    /// held by `by` until `held_until`. From then on the room is gone for every request (they
    /// all check the room item); what it owned stays until `purge_room` collects it. `Conflict`
    /// when the room is gone, or its `version` or `subscribed` is no longer `room`'s (the marker
    /// must know whether to unsubscribe its members).
    async fn delete_room(
        &self,
        room: &Room,
        by: &UserId,
        held_until: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The marker of a deleted room whose clean-up has not finished.
    async fn room_deletion(&self, id: &RoomId) -> Result<Option<RoomDeletion>, StoreError>;
    /// Takes over an unfinished clean-up whose hold ran out by `now`, holding it until `until`,
    /// in one conditional write: `true` for the one caller that did.
    async fn hold_room_deletion(
        &self,
        id: &RoomId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Deletes at most `limit` of the items a deleted room left (its members with their
    /// memberships, its messages, guards and seq pointers, invitations to it, "left" marks,
    /// its outbox records), each person's items before the room's items that lead to them, and
    /// the marker last of all: `Done` once nothing is left (also for a room with no marker,
    /// which includes every live room). Safe to repeat and to run twice at once.
    async fn purge_room(&self, id: &RoomId, limit: usize) -> Result<Purge, StoreError>;
    /// Marks the room `subscribed` if it is not yet and holds more than `members` members, in
    /// one conditional write: `true` for the one call that flipped it, `false` otherwise
    /// (already subscribed, not that many members, or gone).
    async fn subscribe_room_above(&self, id: &RoomId, members: u32) -> Result<bool, StoreError>;

    // --- members ---
    async fn member(&self, room: &RoomId, user: &UserId) -> Result<Option<Member>, StoreError>;
    /// Every member of a room, in no particular order.
    async fn members(&self, room: &RoomId) -> Result<Vec<Member>, StoreError>;
    /// Adds members and their memberships in one transaction, if none of them is a member yet,
    /// the room still exists and its member count stays within `ceiling` (reserved on the room
    /// item in the same transaction). At most `MAX_MEMBERS_PER_CHANGE`.
    async fn add_members(
        &self,
        room: &RoomId,
        members: &[Member],
        ceiling: u32,
    ) -> Result<(), AddMembersError>;
    /// Removes a member and their membership, if they still have `role` (`Conflict` otherwise).
    async fn remove_member(
        &self,
        room: &RoomId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<(), StoreError>;
    /// As `remove_member`, for a person leaving on their own: the same transaction remembers
    /// that they left, so only an invitation they accept brings them back (`has_left`).
    async fn leave(&self, room: &RoomId, user: &UserId, role: MemberRole)
    -> Result<(), StoreError>;
    /// Whether `user` left `room` on their own and has not come back since.
    async fn has_left(&self, user: &UserId, room: &RoomId) -> Result<bool, StoreError>;

    // --- invitations ---
    /// Stores (or renews) an invitation; a pending one for the same room is replaced.
    async fn invite(&self, invitations: &[Invitation]) -> Result<(), StoreError>;
    async fn invitation(
        &self,
        user: &UserId,
        room: &RoomId,
    ) -> Result<Option<Invitation>, StoreError>;
    /// A person's pending invitations by room id, at most `limit`, after room `after`.
    async fn invitations(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&RoomId>,
    ) -> Result<Page<Invitation>, StoreError>;
    /// In one transaction: the invitation (which must still be there: `Conflict`-like
    /// `RoomGone` otherwise) becomes `member`, under the same conditions as `add_members`, and
    /// the person's "left" mark goes.
    async fn accept_invitation(
        &self,
        invitation: &Invitation,
        member: &Member,
        ceiling: u32,
    ) -> Result<(), AddMembersError>;
    /// Deletes an invitation (none there is fine).
    async fn decline_invitation(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError>;

    /// Changes a member's role from `from` to `to` (`Conflict` if it is no longer `from`).
    async fn set_role(
        &self,
        room: &RoomId,
        user: &UserId,
        from: MemberRole,
        to: MemberRole,
    ) -> Result<(), StoreError>;
    /// In one transaction: `owner` (still owner) becomes admin and `to` (still `to_role`) owner.
    async fn transfer_ownership(
        &self,
        room: &RoomId,
        owner: &UserId,
        to: &UserId,
        to_role: MemberRole,
    ) -> Result<(), StoreError>;

    // --- memberships and read markers ---
    /// Every room of a person with their read marker, in no particular order.
    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, StoreError>;
    async fn membership(
        &self,
        user: &UserId,
        room: &RoomId,
    ) -> Result<Option<Membership>, StoreError>;
    /// One page of a person's chat list, most recently active first: at most `limit` memberships
    /// ordered by `(activity_at, room)` descending, those before `after` when given. Reads only
    /// the page (an index Query with `Limit`, then the page's memberships by key), whatever the
    /// number of rooms.
    async fn inbox(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<(OffsetDateTime, RoomId)>,
    ) -> Result<Vec<Membership>, StoreError>;
    /// Moves `room` up to `at` in each of `users`' chat lists (never back). Best effort after a
    /// send: a failure is logged and only delays the room's place until its next message.
    async fn touch_inbox(&self, room: &RoomId, users: &[UserId], at: OffsetDateTime);
    /// Whether a message at `at` may move `room` up its members' chat lists: `true` for the
    /// first caller since `at - every` (recorded on the room in one conditional write), so a
    /// busy large room moves its members' lists at most once per `every`, not per message.
    async fn claim_chat_list_move(
        &self,
        room: &RoomId,
        at: OffsetDateTime,
        every: time::Duration,
    ) -> Result<bool, StoreError>;
    /// Moves the read marker forward to `seq` (never back); `Ok(false)` when it was already
    /// there or past it. `Conflict` when the person is not a member.
    async fn mark_read(&self, user: &UserId, room: &RoomId, seq: u64) -> Result<bool, StoreError>;

    // --- messages ---
    /// In one transaction: the room's `seq` goes from `room.seq` to `message.seq` (which must be
    /// `room.seq + 1`) with the message as its last, the message is stored, and the sender's read
    /// marker moves to it (the sender must still be a member). `Conflict` if any of that changed.
    /// A message carrying a transfer also writes that transfer's guard in the same transaction:
    /// `Conflict` if the transfer has a message already (see `transfer_message`). A message
    /// with a `client_id` and no transfer likewise writes the guard of (room, sender,
    /// client_id): `Conflict` if that sender's client id has a message already (see
    /// `client_message`). Every message also gets its seq's pointer, so `messages_after` starts
    /// with a key lookup. `announce` goes into the outbox in the same transaction: a stored
    /// message always has its event.
    async fn append_message(
        &self,
        room: &Room,
        message: &Message,
        announce: &[Outgoing],
    ) -> Result<(), StoreError>;
    /// The message that posted transfer `transfer_id` in `room`, if one did (deleted or not).
    async fn transfer_message(
        &self,
        room: &RoomId,
        transfer_id: &str,
    ) -> Result<Option<MessageId>, StoreError>;
    /// The message `sender` posted in `room` under `client_id` (no transfer), if one did
    /// (deleted or not): a send retried with the same client id gets it instead of another.
    async fn client_message(
        &self,
        room: &RoomId,
        sender: &UserId,
        client_id: &str,
    ) -> Result<Option<MessageId>, StoreError>;
    /// Messages with a seq above `after_seq`, OLDEST first, at most `limit`; the next page's
    /// cursor is the last one's seq (the next `after_seq`). Starts at seq `after_seq` by key,
    /// never reading the messages before it.
    async fn messages_after(
        &self,
        room: &RoomId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Page<Message>, StoreError>;
    async fn message(&self, room: &RoomId, id: &MessageId) -> Result<Option<Message>, StoreError>;
    /// Messages newest first, those older than `before` when given.
    async fn messages(
        &self,
        room: &RoomId,
        limit: usize,
        before: Option<&MessageId>,
    ) -> Result<Page<Message>, StoreError>;
    /// Messages newest first, at most `limit`, older than `before`: the candidates for the new
    /// last message when the last one is deleted.
    async fn newest_messages_before(
        &self,
        room: &RoomId,
        before: &MessageId,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError>;
    /// In one transaction: deletes `message` and records it on the room (deleted seqs, and
    /// `last` as the new last message when it was the last), if the room is still at
    /// `room.seq` and `room.version` (`Conflict` otherwise), with `announce` in the outbox.
    async fn delete_message(
        &self,
        room: &Room,
        message: &Message,
        last: Option<&Message>,
        announce: &[Outgoing],
    ) -> Result<(), StoreError>;

    /// In one transaction: writes `edited` (the same message with its new text and `edited_at`)
    /// if the stored message still has `before`'s text and edit time (`Conflict` otherwise: it was
    /// edited or deleted since); when it is the room's last message, the room's preview of it
    /// too (only while it is still the last, else `Conflict`); with `announce` in the outbox.
    async fn edit_message(
        &self,
        room: &Room,
        before: &Message,
        edited: &Message,
        announce: &[Outgoing],
    ) -> Result<(), StoreError>;

    // --- reactions (docs/CHAT.md, "Reactions") ---
    /// In one transaction: `emoji` joins `user`'s reactions on the message (if it is not among
    /// them and they have fewer than `most`), the message's count of it goes up by one (the
    /// message must still be there), and `announce` goes into the outbox.
    async fn add_reaction(
        &self,
        room: &RoomId,
        message: &MessageId,
        user: &UserId,
        emoji: &Emoji,
        most: usize,
        announce: &[Outgoing],
    ) -> Result<Reacted, StoreError>;
    /// In one transaction: `emoji` leaves `user`'s reactions on the message (if it is among
    /// them), the message's count of it goes down by one, and `announce` goes into the outbox.
    async fn remove_reaction(
        &self,
        room: &RoomId,
        message: &MessageId,
        user: &UserId,
        emoji: &Emoji,
        announce: &[Outgoing],
    ) -> Result<Reacted, StoreError>;
    /// `user`'s reactions on the messages of `room` from `oldest` to `newest` (both included),
    /// by message: one range read, whatever the number of messages.
    async fn reactions_of(
        &self,
        room: &RoomId,
        user: &UserId,
        oldest: &MessageId,
        newest: &MessageId,
    ) -> Result<HashMap<MessageId, Vec<Emoji>>, StoreError>;

    // --- pins (docs/CHAT.md, "Pins") ---
    /// In one transaction: pins the message (if it is not pinned yet) while the room holds fewer
    /// than `most` pins (reserved on the room's pin counter), the message and the room still
    /// there, with `announce` in the outbox.
    async fn pin(&self, pin: &Pin, most: u32, announce: &[Outgoing]) -> Result<Pinned, StoreError>;
    /// In one transaction: unpins the message, freeing its place, with `announce`; `Ok(false)`
    /// when it was not pinned (nothing written).
    async fn unpin(
        &self,
        room: &RoomId,
        message: &MessageId,
        announce: &[Outgoing],
    ) -> Result<bool, StoreError>;
    /// The room's pins, in no particular order (at most the room's limit: one Query).
    async fn pins(&self, room: &RoomId) -> Result<Vec<Pin>, StoreError>;
    /// The messages of `room` with these ids (deleted ones left out), in no particular order.
    async fn messages_by_id(
        &self,
        room: &RoomId,
        ids: &[MessageId],
    ) -> Result<Vec<Message>, StoreError>;

    // --- the outbox (ports::outbox) ---
    /// Records events for the delivery worker, after a change that wrote its own items.
    async fn publish(&self, records: &[Outgoing]) -> Result<(), StoreError>;
}
