//! The chat store and the sliding-window limiter in process memory, for the local server and
//! tests. One lock makes each change atomic; the same conditions as the DynamoDB adapter decide
//! races, so the contract suite holds for both.

use super::memory_outbox::MemoryOutbox;
use crate::domain::time::to_millis;
use crate::domain::{
    Emoji, Invitation, Member, MemberRole, Membership, Message, MessageId, Pin, Room, RoomId,
    UserId,
};
use crate::ports::{
    AddMembersError, ChatStore, CreateRoomError, Outgoing, Page, Pinned, Purge, RateDecision,
    Reacted, RoomDeletion, SlidingWindow, StoreError, admit,
};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};

#[derive(Default)]
struct State {
    rooms: HashMap<RoomId, Room>,
    members: HashMap<RoomId, BTreeMap<UserId, Member>>,
    memberships: HashMap<UserId, BTreeMap<RoomId, Membership>>,
    /// Per room, by message id (UUIDv7 ordered like the room's seq, see `append_message`).
    messages: HashMap<RoomId, BTreeMap<MessageId, Message>>,
    windows: HashMap<String, Vec<i64>>,
    /// Per room, the message each posted transfer got (one per transfer).
    transfer_messages: HashMap<(RoomId, String), MessageId>,
    /// Per room, the message each sender's `client_id` got (one per client id).
    client_messages: HashMap<(RoomId, UserId, String), MessageId>,
    /// Pending invitations per invitee, by room.
    invitations: HashMap<UserId, BTreeMap<RoomId, Invitation>>,
    /// Who left which room on their own (only an accepted invitation brings them back).
    left: HashSet<(UserId, RoomId)>,
    /// When each large room last moved its members' chat lists.
    chat_list_moves: HashMap<RoomId, OffsetDateTime>,
    /// Deleted rooms whose clean-up has not finished (the DynamoDB adapter's `DELETING` item).
    deleting: HashMap<RoomId, RoomDeletion>,
    /// Each person's reactions per room, by message (the DynamoDB adapter's `REACT#` items).
    reactions: HashMap<(RoomId, UserId), BTreeMap<MessageId, Vec<Emoji>>>,
    /// Each room's pinned messages (the DynamoDB adapter's `PIN#` items; their count is its
    /// `PINS` counter).
    pins: HashMap<RoomId, BTreeMap<MessageId, Pin>>,
}

impl State {
    /// A stored room with its member count as of now.
    fn counted(&self, room: &Room) -> Room {
        let mut room = room.clone();
        room.member_count = self.members.get(&room.id).map_or(0, |m| m.len() as u32);
        room
    }

    /// `add_members`' conditions and writes, shared with accepting an invitation.
    fn add(
        &mut self,
        room: &RoomId,
        members: &[Member],
        ceiling: u32,
    ) -> Result<(), AddMembersError> {
        if !self.rooms.contains_key(room) {
            return Err(AddMembersError::RoomGone);
        }
        let existing = self.members.entry(*room).or_default();
        if let Some(m) = members.iter().find(|m| existing.contains_key(&m.user_id)) {
            return Err(AddMembersError::AlreadyMember(m.user_id));
        }
        if existing.len() + members.len() > ceiling as usize {
            return Err(AddMembersError::Full);
        }
        for m in members {
            existing.insert(m.user_id, m.clone());
        }
        for m in members {
            self.memberships
                .entry(m.user_id)
                .or_default()
                .insert(*room, membership_of(m));
        }
        Ok(())
    }

    fn remove(&mut self, room: &RoomId, user: &UserId, role: MemberRole) -> Result<(), StoreError> {
        // As on DynamoDB, where the member count on the room item is part of the change.
        if !self.rooms.contains_key(room) {
            return Err(StoreError::Conflict);
        }
        let list = self.members.get_mut(room).ok_or(StoreError::Conflict)?;
        if list.get(user).map(|m| m.role) != Some(role) {
            return Err(StoreError::Conflict);
        }
        list.remove(user);
        if let Some(rooms) = self.memberships.get_mut(user) {
            rooms.remove(room);
        }
        Ok(())
    }
}

impl State {
    /// Removes at most `budget` of what deleted room `id` left, in the DynamoDB adapter's
    /// order (a member with their membership counts as one, as do a message and its seq
    /// pointer); how many it removed.
    fn purge_some(&mut self, id: &RoomId, budget: usize) -> usize {
        let mut removed = 0;
        while removed < budget {
            if let Some(members) = self.members.get_mut(id)
                && let Some((user, _)) = members.pop_first()
            {
                if let Some(list) = self.memberships.get_mut(&user) {
                    list.remove(id);
                }
            } else if let Some(user) = self
                .invitations
                .iter()
                .find(|(_, list)| list.contains_key(id))
                .map(|(user, _)| *user)
            {
                if let Some(list) = self.invitations.get_mut(&user) {
                    list.remove(id);
                }
            } else if let Some(mark) = self.left.iter().find(|(_, room)| room == id).copied() {
                self.left.remove(&mark);
            } else if let Some(messages) = self.messages.get_mut(id)
                && messages.pop_first().is_some()
            {
            } else if let Some(guard) = self.transfer_messages.keys().find(|(r, _)| r == id) {
                let guard = guard.clone();
                self.transfer_messages.remove(&guard);
            } else if let Some(guard) = self.client_messages.keys().find(|(r, _, _)| r == id) {
                let guard = guard.clone();
                self.client_messages.remove(&guard);
            } else if self.chat_list_moves.remove(id).is_some() || self.pins.remove(id).is_some() {
            } else if let Some(reactor) = self.reactions.keys().find(|(r, _)| r == id) {
                let reactor = *reactor;
                self.reactions.remove(&reactor);
            } else {
                self.members.remove(id);
                self.messages.remove(id);
                return removed;
            }
            removed += 1;
        }
        removed
    }

    /// How many entries of any kind still name room `id` (0 once it is fully collected).
    fn traces_of(&self, id: &RoomId) -> usize {
        usize::from(self.rooms.contains_key(id))
            + usize::from(self.deleting.contains_key(id))
            + self.members.get(id).map_or(0, BTreeMap::len)
            + self.messages.get(id).map_or(0, BTreeMap::len)
            + self
                .memberships
                .values()
                .filter(|l| l.contains_key(id))
                .count()
            + self
                .invitations
                .values()
                .filter(|l| l.contains_key(id))
                .count()
            + self.left.iter().filter(|(_, r)| r == id).count()
            + self
                .transfer_messages
                .keys()
                .filter(|(r, _)| r == id)
                .count()
            + self
                .client_messages
                .keys()
                .filter(|(r, _, _)| r == id)
                .count()
            + usize::from(self.chat_list_moves.contains_key(id))
            + self.reactions.keys().filter(|(r, _)| r == id).count()
            + self.pins.get(id).map_or(0, BTreeMap::len)
    }
}

/// Rooms, members, messages and send windows in memory.
#[derive(Default)]
pub struct MemoryChat {
    state: Mutex<State>,
    /// Where the events of each change go, appended while `state` is held (commit order).
    outbox: std::sync::Arc<MemoryOutbox>,
}

impl MemoryChat {
    pub fn new() -> Self {
        Self::default()
    }

    /// The store's outbox, for the delivery worker to read (`ports::OutboxFeed`).
    pub fn outbox(&self) -> std::sync::Arc<MemoryOutbox> {
        self.outbox.clone()
    }

    /// How many entries of any kind still name room `id`: a deleted room's clean-up is
    /// finished when this is 0 (what a scan of the DynamoDB table shows there).
    pub fn traces_of(&self, id: &RoomId) -> usize {
        self.state().traces_of(id)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change below is checked before it writes anything, so a poisoned lock still
        // guards consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn membership_of(m: &Member) -> Membership {
    Membership {
        room_id: m.room_id,
        user_id: m.user_id,
        last_read_seq: 0,
        activity_at: m.joined_at,
    }
}

#[async_trait]
impl ChatStore for MemoryChat {
    async fn create_room(&self, room: &Room, members: &[Member]) -> Result<(), CreateRoomError> {
        let mut s = self.state();
        if s.rooms.contains_key(&room.id) {
            return Err(CreateRoomError::Exists);
        }
        s.rooms.insert(room.id, room.clone());
        s.members.insert(
            room.id,
            members.iter().map(|m| (m.user_id, m.clone())).collect(),
        );
        for m in members {
            s.memberships
                .entry(m.user_id)
                .or_default()
                .insert(room.id, membership_of(m));
        }
        Ok(())
    }

    async fn room(&self, id: &RoomId) -> Result<Option<Room>, StoreError> {
        let s = self.state();
        Ok(s.rooms.get(id).map(|r| s.counted(r)))
    }

    async fn rooms(&self, ids: &[RoomId]) -> Result<Vec<Room>, StoreError> {
        let s = self.state();
        Ok(ids
            .iter()
            .filter_map(|id| s.rooms.get(id).map(|r| s.counted(r)))
            .collect())
    }

    async fn update_room(&self, room: &Room) -> Result<(), StoreError> {
        let mut s = self.state();
        let stored = s
            .rooms
            .get_mut(&room.id)
            .filter(|r| r.version == room.version)
            .ok_or(StoreError::Conflict)?;
        stored.name = room.name.clone();
        stored.description = room.description.clone();
        stored.posting = room.posting;
        stored.avatar_key = room.avatar_key.clone();
        stored.version += 1;
        Ok(())
    }

    async fn subscribe_room_above(&self, id: &RoomId, members: u32) -> Result<bool, StoreError> {
        let mut s = self.state();
        let count = s.members.get(id).map_or(0, BTreeMap::len);
        match s.rooms.get_mut(id) {
            Some(room) if !room.subscribed && count > members as usize => {
                room.subscribed = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_room(
        &self,
        room: &Room,
        by: &UserId,
        held_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let stored = s.rooms.get(&room.id).ok_or(StoreError::Conflict)?;
        if stored.version != room.version || stored.subscribed != room.subscribed {
            return Err(StoreError::Conflict);
        }
        s.rooms.remove(&room.id);
        let marker = RoomDeletion {
            room_id: room.id,
            by: *by,
            subscribed: room.subscribed,
            avatar_key: room.avatar_key.clone(),
            held_until,
        };
        s.deleting.insert(room.id, marker);
        Ok(())
    }

    async fn room_deletion(&self, id: &RoomId) -> Result<Option<RoomDeletion>, StoreError> {
        Ok(self.state().deleting.get(id).cloned())
    }

    async fn hold_room_deletion(
        &self,
        id: &RoomId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        match self.state().deleting.get_mut(id) {
            Some(d) if d.held_until <= now => {
                d.held_until = until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn purge_room(&self, id: &RoomId, limit: usize) -> Result<Purge, StoreError> {
        let mut s = self.state();
        if !s.deleting.contains_key(id) {
            return Ok(Purge::Done);
        }
        if s.purge_some(id, limit) > 0 || limit == 0 {
            return Ok(Purge::More);
        }
        s.deleting.remove(id);
        Ok(Purge::Done)
    }

    async fn member(&self, room: &RoomId, user: &UserId) -> Result<Option<Member>, StoreError> {
        Ok(self
            .state()
            .members
            .get(room)
            .and_then(|m| m.get(user))
            .cloned())
    }

    async fn members(&self, room: &RoomId) -> Result<Vec<Member>, StoreError> {
        Ok(self
            .state()
            .members
            .get(room)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn add_members(
        &self,
        room: &RoomId,
        members: &[Member],
        ceiling: u32,
    ) -> Result<(), AddMembersError> {
        self.state().add(room, members, ceiling)
    }

    async fn remove_member(
        &self,
        room: &RoomId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<(), StoreError> {
        self.state().remove(room, user, role)
    }

    async fn leave(
        &self,
        room: &RoomId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        s.remove(room, user, role)?;
        s.left.insert((*user, *room));
        Ok(())
    }

    async fn has_left(&self, user: &UserId, room: &RoomId) -> Result<bool, StoreError> {
        Ok(self.state().left.contains(&(*user, *room)))
    }

    async fn invite(&self, invitations: &[Invitation]) -> Result<(), StoreError> {
        let mut s = self.state();
        // As on DynamoDB: a deleted room gets no invitation its clean-up could miss.
        if invitations
            .iter()
            .any(|i| !s.rooms.contains_key(&i.room_id))
        {
            return Err(StoreError::Conflict);
        }
        for i in invitations {
            s.invitations
                .entry(i.user_id)
                .or_default()
                .insert(i.room_id, i.clone());
        }
        Ok(())
    }

    async fn invitation(
        &self,
        user: &UserId,
        room: &RoomId,
    ) -> Result<Option<Invitation>, StoreError> {
        Ok(self
            .state()
            .invitations
            .get(user)
            .and_then(|list| list.get(room))
            .cloned())
    }

    async fn invitations(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&RoomId>,
    ) -> Result<Page<Invitation>, StoreError> {
        let s = self.state();
        let items: Vec<Invitation> = s
            .invitations
            .get(user)
            .map(|list| {
                list.values()
                    .filter(|i| after.is_none_or(|a| i.room_id > *a))
                    .take(limit + 1)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(Page::from_overfetch(items, limit, |i| {
            i.room_id.to_string()
        }))
    }

    async fn accept_invitation(
        &self,
        invitation: &Invitation,
        member: &Member,
        ceiling: u32,
    ) -> Result<(), AddMembersError> {
        let mut s = self.state();
        let (user, room) = (invitation.user_id, invitation.room_id);
        let pending = s.invitations.get(&user).and_then(|l| l.get(&room));
        if pending.map(|p| p.inviter) != Some(invitation.inviter) {
            return Err(AddMembersError::RoomGone);
        }
        s.add(&room, std::slice::from_ref(member), ceiling)?;
        if let Some(list) = s.invitations.get_mut(&user) {
            list.remove(&room);
        }
        s.left.remove(&(user, room));
        Ok(())
    }

    async fn decline_invitation(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError> {
        if let Some(list) = self.state().invitations.get_mut(user) {
            list.remove(room);
        }
        Ok(())
    }

    async fn set_role(
        &self,
        room: &RoomId,
        user: &UserId,
        from: MemberRole,
        to: MemberRole,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let member = s
            .members
            .get_mut(room)
            .and_then(|m| m.get_mut(user))
            .filter(|m| m.role == from)
            .ok_or(StoreError::Conflict)?;
        member.role = to;
        Ok(())
    }

    async fn transfer_ownership(
        &self,
        room: &RoomId,
        owner: &UserId,
        to: &UserId,
        to_role: MemberRole,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let list = s.members.get_mut(room).ok_or(StoreError::Conflict)?;
        let ok = list.get(owner).map(|m| m.role) == Some(MemberRole::Owner)
            && list.get(to).map(|m| m.role) == Some(to_role)
            && owner != to;
        if !ok {
            return Err(StoreError::Conflict);
        }
        if let Some(m) = list.get_mut(owner) {
            m.role = MemberRole::Admin;
        }
        if let Some(m) = list.get_mut(to) {
            m.role = MemberRole::Owner;
        }
        Ok(())
    }

    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        Ok(self
            .state()
            .memberships
            .get(user)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn membership(
        &self,
        user: &UserId,
        room: &RoomId,
    ) -> Result<Option<Membership>, StoreError> {
        Ok(self
            .state()
            .memberships
            .get(user)
            .and_then(|m| m.get(room))
            .cloned())
    }

    async fn inbox(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<(OffsetDateTime, RoomId)>,
    ) -> Result<Vec<Membership>, StoreError> {
        let s = self.state();
        let mut page: Vec<Membership> = s
            .memberships
            .get(user)
            .map(|list| list.values().cloned().collect())
            .unwrap_or_default();
        let order = |m: &Membership| (to_millis(m.activity_at), m.room_id);
        page.sort_by_key(|m| std::cmp::Reverse(order(m)));
        if let Some((at, room)) = after {
            page.retain(|m| order(m) < (to_millis(at), room));
        }
        page.truncate(limit);
        Ok(page)
    }

    async fn touch_inbox(&self, room: &RoomId, users: &[UserId], at: OffsetDateTime) {
        let mut s = self.state();
        for user in users {
            if let Some(m) = s.memberships.get_mut(user).and_then(|l| l.get_mut(room))
                && m.activity_at < at
            {
                m.activity_at = at;
            }
        }
    }

    async fn claim_chat_list_move(
        &self,
        room: &RoomId,
        at: OffsetDateTime,
        every: Duration,
    ) -> Result<bool, StoreError> {
        let mut s = self.state();
        if !s.rooms.contains_key(room) {
            return Ok(false);
        }
        let due = s
            .chat_list_moves
            .get(room)
            .is_none_or(|last| *last <= at - every);
        if due {
            s.chat_list_moves.insert(*room, at);
        }
        Ok(due)
    }

    async fn mark_read(&self, user: &UserId, room: &RoomId, seq: u64) -> Result<bool, StoreError> {
        let mut s = self.state();
        let m = s
            .memberships
            .get_mut(user)
            .and_then(|m| m.get_mut(room))
            .ok_or(StoreError::Conflict)?;
        if m.last_read_seq >= seq {
            return Ok(false);
        }
        m.last_read_seq = seq;
        Ok(true)
    }

    async fn append_message(
        &self,
        room: &Room,
        message: &Message,
        announce: &[Outgoing],
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let is_member = s
            .memberships
            .get(&message.sender)
            .is_some_and(|m| m.contains_key(&room.id));
        let stored = s.rooms.get(&room.id).ok_or(StoreError::Conflict)?;
        // Ids must grow with seq, so history by id has no gaps (see the DynamoDB adapter).
        let grows = stored.last_id.is_none_or(|id| id < message.id);
        if stored.seq != room.seq || message.seq != room.seq + 1 || !is_member || !grows {
            return Err(StoreError::Conflict);
        }
        let guard = message.transfer_id().map(|t| (room.id, t.to_owned()));
        if let Some(g) = &guard
            && s.transfer_messages.contains_key(g)
        {
            return Err(StoreError::Conflict);
        }
        let client = message
            .client_guard()
            .map(|c| (room.id, message.sender, c.to_owned()));
        if let Some(c) = &client
            && s.client_messages.contains_key(c)
        {
            return Err(StoreError::Conflict);
        }
        if let Some(g) = guard {
            s.transfer_messages.insert(g, message.id);
        }
        if let Some(c) = client {
            s.client_messages.insert(c, message.id);
        }
        let stored = s.rooms.get_mut(&room.id).ok_or(StoreError::Conflict)?;
        stored.seq = message.seq;
        stored.updated_at = message.created_at;
        stored.last_id = Some(message.id);
        stored.last_message = Some(message.preview());
        s.messages
            .entry(room.id)
            .or_default()
            .insert(message.id, message.clone());
        if let Some(m) = s
            .memberships
            .get_mut(&message.sender)
            .and_then(|m| m.get_mut(&room.id))
        {
            m.last_read_seq = m.last_read_seq.max(message.seq);
        }
        self.outbox.append(announce.iter().cloned());
        Ok(())
    }

    async fn transfer_message(
        &self,
        room: &RoomId,
        transfer_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        Ok(self
            .state()
            .transfer_messages
            .get(&(*room, transfer_id.to_owned()))
            .copied())
    }

    async fn client_message(
        &self,
        room: &RoomId,
        sender: &UserId,
        client_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        Ok(self
            .state()
            .client_messages
            .get(&(*room, *sender, client_id.to_owned()))
            .copied())
    }

    async fn messages_after(
        &self,
        room: &RoomId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Page<Message>, StoreError> {
        let s = self.state();
        // Ids grow with seq, so id order is seq order.
        let items: Vec<Message> = s
            .messages
            .get(room)
            .map(|all| {
                all.values()
                    .filter(|m| m.seq > after_seq)
                    .take(limit + 1)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(Page::from_overfetch(items, limit, |m| m.seq.to_string()))
    }

    async fn message(&self, room: &RoomId, id: &MessageId) -> Result<Option<Message>, StoreError> {
        Ok(self
            .state()
            .messages
            .get(room)
            .and_then(|m| m.get(id))
            .cloned())
    }

    async fn messages(
        &self,
        room: &RoomId,
        limit: usize,
        before: Option<&MessageId>,
    ) -> Result<Page<Message>, StoreError> {
        let s = self.state();
        let items: Vec<Message> = match s.messages.get(room) {
            None => vec![],
            Some(all) => match before {
                Some(b) => all
                    .range(..*b)
                    .rev()
                    .take(limit + 1)
                    .map(|(_, m)| m.clone())
                    .collect(),
                None => all.values().rev().take(limit + 1).cloned().collect(),
            },
        };
        Ok(Page::from_overfetch(items, limit, |m| m.id.to_string()))
    }

    async fn newest_messages_before(
        &self,
        room: &RoomId,
        before: &MessageId,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let s = self.state();
        Ok(s.messages
            .get(room)
            .map(|all| {
                all.range(..*before)
                    .rev()
                    .take(limit)
                    .map(|(_, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn delete_message(
        &self,
        room: &Room,
        message: &Message,
        last: Option<&Message>,
        announce: &[Outgoing],
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let stored = s.rooms.get(&room.id).ok_or(StoreError::Conflict)?;
        let exists = s
            .messages
            .get(&room.id)
            .is_some_and(|m| m.contains_key(&message.id));
        if stored.seq != room.seq || stored.version != room.version || !exists {
            return Err(StoreError::Conflict);
        }
        let was_last = stored.last_message.as_ref().map(|m| m.id) == Some(message.id);
        let deleted = room.deleted_with(message.seq);
        let stored = s.rooms.get_mut(&room.id).ok_or(StoreError::Conflict)?;
        stored.deleted_seqs = deleted;
        stored.version += 1;
        if was_last {
            stored.last_message = last.map(Message::preview);
        }
        if let Some(m) = s.messages.get_mut(&room.id) {
            m.remove(&message.id);
        }
        self.outbox.append(announce.iter().cloned());
        Ok(())
    }

    async fn edit_message(
        &self,
        room: &Room,
        before: &Message,
        edited: &Message,
        announce: &[Outgoing],
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let unchanged = s
            .messages
            .get(&room.id)
            .and_then(|m| m.get(&before.id))
            .is_some_and(|m| m.text == before.text && m.edited_at == before.edited_at);
        if !unchanged {
            return Err(StoreError::Conflict);
        }
        let stored = s.rooms.get_mut(&room.id).ok_or(StoreError::Conflict)?;
        let was_last = room.last_message.as_ref().map(|m| m.id) == Some(before.id);
        let still_last = stored.last_message.as_ref().map(|m| m.id) == Some(before.id);
        if was_last != still_last {
            return Err(StoreError::Conflict);
        }
        if still_last {
            stored.last_message = Some(edited.preview());
        }
        // Text and edit time only: the counts of reactions made since the read stay.
        if let Some(m) = s
            .messages
            .get_mut(&room.id)
            .and_then(|m| m.get_mut(&edited.id))
        {
            m.text.clone_from(&edited.text);
            m.edited_at = edited.edited_at;
        }
        self.outbox.append(announce.iter().cloned());
        Ok(())
    }

    async fn add_reaction(
        &self,
        room: &RoomId,
        message: &MessageId,
        user: &UserId,
        emoji: &Emoji,
        most: usize,
        announce: &[Outgoing],
    ) -> Result<Reacted, StoreError> {
        let mut s = self.state();
        let exists = s
            .messages
            .get(room)
            .is_some_and(|m| m.contains_key(message));
        let mine = s
            .reactions
            .get(&(*room, *user))
            .and_then(|m| m.get(message))
            .cloned()
            .unwrap_or_default();
        // The same order of verdicts as the DynamoDB adapter's: a gone message first.
        if !exists {
            return Ok(Reacted::MessageGone);
        }
        if mine.contains(emoji) {
            return Ok(Reacted::Unchanged);
        }
        if mine.len() >= most {
            return Ok(Reacted::Full);
        }
        if let Some(m) = s.messages.get_mut(room).and_then(|m| m.get_mut(message)) {
            *m.reactions.entry(emoji.as_str().to_owned()).or_default() += 1;
        }
        s.reactions
            .entry((*room, *user))
            .or_default()
            .entry(*message)
            .or_default()
            .push(emoji.clone());
        self.outbox.append(announce.iter().cloned());
        Ok(Reacted::Changed)
    }

    async fn remove_reaction(
        &self,
        room: &RoomId,
        message: &MessageId,
        user: &UserId,
        emoji: &Emoji,
        announce: &[Outgoing],
    ) -> Result<Reacted, StoreError> {
        let mut s = self.state();
        if !s
            .messages
            .get(room)
            .is_some_and(|m| m.contains_key(message))
        {
            return Ok(Reacted::MessageGone);
        }
        let Some(mine) = s
            .reactions
            .get_mut(&(*room, *user))
            .and_then(|m| m.get_mut(message))
            .filter(|m| m.contains(emoji))
        else {
            return Ok(Reacted::Unchanged);
        };
        mine.retain(|e| e != emoji);
        if let Some(m) = s.messages.get_mut(room).and_then(|m| m.get_mut(message)) {
            let key = emoji.as_str();
            if let Some(count) = m.reactions.get_mut(key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    m.reactions.remove(key);
                }
            }
        }
        self.outbox.append(announce.iter().cloned());
        Ok(Reacted::Changed)
    }

    async fn pin(&self, pin: &Pin, most: u32, announce: &[Outgoing]) -> Result<Pinned, StoreError> {
        let mut s = self.state();
        let room = &pin.room_id;
        let exists = s.rooms.contains_key(room)
            && s.messages
                .get(room)
                .is_some_and(|m| m.contains_key(&pin.message_id));
        if !exists {
            return Ok(Pinned::MessageGone);
        }
        let pins = s.pins.entry(*room).or_default();
        if pins.contains_key(&pin.message_id) {
            return Ok(Pinned::Unchanged);
        }
        if pins.len() >= most as usize {
            return Ok(Pinned::Full);
        }
        pins.insert(pin.message_id, pin.clone());
        self.outbox.append(announce.iter().cloned());
        Ok(Pinned::Changed)
    }

    async fn unpin(
        &self,
        room: &RoomId,
        message: &MessageId,
        announce: &[Outgoing],
    ) -> Result<bool, StoreError> {
        let mut s = self.state();
        let removed = s.pins.get_mut(room).and_then(|p| p.remove(message));
        if removed.is_some() {
            self.outbox.append(announce.iter().cloned());
        }
        Ok(removed.is_some())
    }

    async fn pins(&self, room: &RoomId) -> Result<Vec<Pin>, StoreError> {
        let s = self.state();
        Ok(s.pins
            .get(room)
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn messages_by_id(
        &self,
        room: &RoomId,
        ids: &[MessageId],
    ) -> Result<Vec<Message>, StoreError> {
        let s = self.state();
        let Some(messages) = s.messages.get(room) else {
            return Ok(Vec::new());
        };
        Ok(ids
            .iter()
            .filter_map(|id| messages.get(id).cloned())
            .collect())
    }

    async fn reactions_of(
        &self,
        room: &RoomId,
        user: &UserId,
        oldest: &MessageId,
        newest: &MessageId,
    ) -> Result<HashMap<MessageId, Vec<Emoji>>, StoreError> {
        if oldest > newest {
            return Ok(HashMap::new());
        }
        let s = self.state();
        Ok(s.reactions
            .get(&(*room, *user))
            .map(|m| {
                m.range(*oldest..=*newest)
                    .filter(|(_, e)| !e.is_empty())
                    .map(|(id, e)| (*id, e.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn publish(&self, records: &[Outgoing]) -> Result<(), StoreError> {
        // Under the store's lock, so records keep the order of the changes they follow.
        let _s = self.state();
        self.outbox.append(records.iter().cloned());
        Ok(())
    }
}

#[async_trait]
impl SlidingWindow for MemoryChat {
    async fn reserve(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError> {
        let mut s = self.state();
        let times = s.windows.entry(key.to_owned()).or_default();
        match admit(
            times,
            limit,
            window.whole_milliseconds() as i64,
            to_millis(now),
        ) {
            Ok(next) => {
                *times = next;
                Ok(RateDecision::Allowed)
            }
            Err(until) => Ok(RateDecision::Limited {
                until: crate::domain::time::from_millis(until),
            }),
        }
    }
}
