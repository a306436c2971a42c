//! Rooms: direct rooms (one per pair), groups and channels with owner/admin/member roles, their
//! members, settings and deletion, and the chat list. Every permission rule of API.md's "Rooms
//! and messages" about rooms is here; non-members get 404 for everything.

use super::chat::{ChatPorts, Seat, not_direct};
use super::chat_links::{Links, avatar_keys, room_keys};
use super::chat_views::{RoomSummaryView, RoomView, room_view, summary_view};
use super::room_purge::DELETION_HOLD;
use super::throttle;
use super::uploads::Attached;
use crate::domain::time::{from_millis, to_millis};
use crate::domain::{
    GroupAdds, Invitation, Member, MemberRole, Posting, Purpose, Room, RoomDescription, RoomId,
    RoomKind, RoomName, Upload, UploadId, User, UserId,
};
use crate::error::{Error, FieldError, Fields, Result};
use crate::ports::{
    AddMembersError, CreateRoomError, MAX_MEMBERS_PER_CHANGE, Page, RoomDeletion, StoreError,
};
use crate::settings::Limits;
use time::{Duration, OffsetDateTime};

/// POST /rooms for a group or channel.
#[derive(Debug, Default)]
pub struct NewGroup {
    pub kind: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub members: Vec<String>,
}

/// PATCH /rooms/{id}: `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct RoomPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub posting: Option<String>,
    /// `Some(None)` clears the room's avatar; `Some(Some(id))` sets it from the caller's
    /// `room_avatar` upload.
    pub avatar_upload_id: Option<Option<String>>,
}

/// A PATCH's parsed settings: name, description, posting, avatar key (`None` leaves each alone).
type Changes = (
    Option<RoomName>,
    Option<RoomDescription>,
    Option<Posting>,
    Option<Option<String>>,
);

pub struct RoomService {
    ports: ChatPorts,
    limits: Limits,
}

/// People an add names, split by consent: those who become members now, and those who get an
/// invitation instead (they accept groups from nobody, or left this room before).
struct Adds {
    now: Vec<User>,
    invited: Vec<User>,
}

impl RoomService {
    /// `limits` gives the per-user creation limits and the member ceiling.
    pub fn new(ports: ChatPorts, limits: Limits) -> Self {
        Self { ports, limits }
    }

    /// Reserves, before anything is written, one room creation (when `creates`) and `adds`
    /// people added or invited, against the caller's hourly limits.
    async fn count_adds(
        &self,
        me: &User,
        creates: bool,
        adds: usize,
        now: OffsetDateTime,
    ) -> Result<()> {
        let store = self.ports.accounts.as_ref();
        if creates {
            throttle::per_user(
                store,
                "rooms",
                &me.id,
                1,
                self.limits.rooms_per_user,
                Duration::hours(1),
                now,
            )
            .await?;
        }
        throttle::per_user(
            store,
            "member_adds",
            &me.id,
            u32::try_from(adds).unwrap_or(u32::MAX),
            self.limits.member_adds_per_user,
            Duration::hours(1),
            now,
        )
        .await
    }

    /// Splits `people` by consent for `room` (`None`: a room being created, which nobody left).
    async fn by_consent(&self, room: Option<&RoomId>, people: Vec<User>) -> Result<Adds> {
        let mut adds = Adds {
            now: vec![],
            invited: vec![],
        };
        for user in people {
            let left = match room {
                Some(room) => self.ports.chat.has_left(&user.id, room).await?,
                None => false,
            };
            if left || user.group_adds == GroupAdds::Nobody {
                adds.invited.push(user);
            } else {
                adds.now.push(user);
            }
        }
        Ok(adds)
    }

    /// Stores invitations for `people` to `room` from `me`, and tells each of them.
    async fn invite(
        &self,
        me: &User,
        room: &RoomId,
        people: &[User],
        now: OffsetDateTime,
    ) -> Result<()> {
        if people.is_empty() {
            return Ok(());
        }
        let invitations: Vec<Invitation> = people
            .iter()
            .map(|u| Invitation {
                room_id: *room,
                user_id: u.id,
                inviter: me.id,
                invited_at: now,
            })
            .collect();
        self.ports.chat.invite(&invitations).await?;
        let ids: Vec<UserId> = people.iter().map(|u| u.id).collect();
        self.ports.room_event(&ids, "invited", room).await;
        Ok(())
    }

    pub(crate) async fn view(
        &self,
        room: &Room,
        me: &UserId,
        now: OffsetDateTime,
    ) -> Result<RoomView> {
        let members = self.ports.chat.members(&room.id).await?;
        let people = self
            .ports
            .people(
                members
                    .iter()
                    .map(|m| m.user_id)
                    .chain(room.pair.iter().copied()),
            )
            .await?;
        let links = Links::sign(
            &self.ports.uploads,
            [room_keys(room), avatar_keys(&people)].concat(),
            now,
        )
        .await?;
        Ok(links.room(room_view(room, me, &members, &people), room, me, &people))
    }

    /// POST /rooms `{kind: "direct", username}`: the room and whether it was made now (201) or
    /// already existed (200).
    pub async fn open_direct(
        &self,
        me: &User,
        username: &str,
        now: OffsetDateTime,
    ) -> Result<(RoomView, bool)> {
        let other = self
            .ports
            .user_named(username)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if other.id == me.id {
            return Err(Error::field(
                "username",
                crate::domain::Invalid::new("must be someone else"),
            ));
        }
        if self.ports.blocked_between(&me.id, &other.id).await? {
            return Err(Error::Blocked);
        }
        let id = RoomId::direct(&me.id, &other.id);
        let mut pair = vec![me.id, other.id];
        pair.sort_unstable();
        let room = Room {
            id,
            kind: RoomKind::Direct,
            name: String::new(),
            description: String::new(),
            posting: Posting::Everyone,
            pair: pair.clone(),
            created_at: now,
            updated_at: now,
            seq: 0,
            last_id: None,
            last_message: None,
            deleted_seqs: vec![],
            version: 0,
            avatar_key: None,
            subscribed: false,
            member_count: 2,
        };
        let members: Vec<Member> = pair
            .iter()
            .map(|u| Member {
                room_id: id,
                user_id: *u,
                role: MemberRole::Member,
                joined_at: now,
            })
            .collect();
        match self.ports.chat.create_room(&room, &members).await {
            Ok(()) => {
                self.ports.room_event(&pair, "added", &id).await;
                Ok((self.view(&room, &me.id, now).await?, true))
            }
            Err(CreateRoomError::Exists) => {
                let existing =
                    self.ports.chat.room(&id).await?.ok_or_else(|| {
                        anyhow::anyhow!("direct room {id} exists but cannot be read")
                    })?;
                Ok((self.view(&existing, &me.id, now).await?, false))
            }
            Err(CreateRoomError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// POST /rooms `{kind: "group"|"channel", name, description?, members?}`: the caller owns it.
    pub async fn create_group(
        &self,
        me: &User,
        new: NewGroup,
        now: OffsetDateTime,
    ) -> Result<RoomView> {
        let mut fields = Fields::default();
        let kind = fields
            .take("kind", RoomKind::parse(&new.kind))
            .and_then(|k| {
                if k == RoomKind::Direct {
                    fields.take::<RoomKind>(
                        "kind",
                        Err(crate::domain::Invalid::new(
                            "a direct room needs `username`",
                        )),
                    );
                    None
                } else {
                    Some(k)
                }
            });
        let name = match new.name.as_deref() {
            Some(raw) => fields.take("name", RoomName::parse(raw)),
            None => {
                fields.take::<RoomName>("name", Err(crate::domain::Invalid::new("is required")))
            }
        };
        let description = fields.take(
            "description",
            RoomDescription::parse(new.description.as_deref().unwrap_or("")),
        );
        let invited = self
            .resolve_new_members(me, None, &new.members, "members", &mut fields)
            .await?;
        let (kind, name, description) = fields.finish(match (kind, name, description) {
            (Some(k), Some(n), Some(d)) => Some((k, n, d)),
            _ => None,
        })?;
        self.count_adds(me, true, invited.len(), now).await?;
        let Adds {
            now: joining,
            invited,
        } = self.by_consent(None, invited).await?;
        if joining.len() + 1 > self.limits.room_member_ceiling as usize {
            return Err(Error::Refused("room_full"));
        }
        let id = RoomId::new();
        let room = Room {
            id,
            kind,
            name: name.as_str().to_owned(),
            description: description.as_str().to_owned(),
            posting: if kind == RoomKind::Channel {
                Posting::Admins
            } else {
                Posting::Everyone
            },
            pair: vec![],
            created_at: now,
            updated_at: now,
            seq: 0,
            last_id: None,
            last_message: None,
            deleted_seqs: vec![],
            version: 0,
            avatar_key: None,
            subscribed: Room::subscribes(kind),
            member_count: (joining.len() + 1) as u32,
        };
        let members: Vec<Member> = std::iter::once((me.id, MemberRole::Owner))
            .chain(joining.iter().map(|u| (u.id, MemberRole::Member)))
            .map(|(user_id, role)| Member {
                room_id: id,
                user_id,
                role,
                joined_at: now,
            })
            .collect();
        match self.ports.chat.create_room(&room, &members).await {
            Ok(()) => {}
            Err(CreateRoomError::Exists) => {
                return Err(anyhow::anyhow!("a fresh room id {id} was taken").into());
            }
            Err(CreateRoomError::Unexpected(e)) => return Err(e.into()),
        }
        let ids: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
        let above = self.limits.subscribe_above_members;
        self.ports.joined(&room, &ids, above).await?;
        self.ports.room_event(&ids, "added", &id).await;
        self.invite(me, &id, &invited, now).await?;
        tracing::info!(room_id = %id, kind = kind.as_str(), "room created");
        self.view(&room, &me.id, now).await
    }

    /// Parses and looks up usernames to add: every unknown name, the caller and existing members
    /// are reported together, so nothing is written unless all are fine.
    async fn resolve_new_members(
        &self,
        me: &User,
        room: Option<&RoomId>,
        raw: &[String],
        field: &str,
        fields: &mut Fields,
    ) -> Result<Vec<User>> {
        if raw.len() > MAX_MEMBERS_PER_CHANGE {
            fields.take::<()>(
                field,
                Err(crate::domain::Invalid::new(format!(
                    "at most {MAX_MEMBERS_PER_CHANGE} usernames per request"
                ))),
            );
            return Ok(vec![]);
        }
        let mut found: Vec<User> = Vec::with_capacity(raw.len());
        for (i, name) in raw.iter().enumerate() {
            let at = format!("{field}[{i}]");
            // A block either way answers exactly like an unknown name: the adder must not
            // learn that they were blocked (or which of their blocks is in the way).
            let user = match self.ports.user_named(name).await? {
                Some(user) if !self.ports.blocked_between(&me.id, &user.id).await? => user,
                _ => {
                    fields.take::<()>(&at, Err(crate::domain::Invalid::new("no such user")));
                    continue;
                }
            };
            if user.id == me.id {
                fields.take::<()>(&at, Err(crate::domain::Invalid::new("is you")));
                continue;
            }
            if found.iter().any(|u| u.id == user.id) {
                continue;
            }
            if let Some(room) = room
                && self.ports.chat.member(room, &user.id).await?.is_some()
            {
                fields.take::<()>(&at, Err(crate::domain::Invalid::new("is already a member")));
                continue;
            }
            found.push(user);
        }
        Ok(found)
    }

    /// GET /rooms/{id}.
    pub async fn get(&self, me: &User, room: &str, now: OffsetDateTime) -> Result<RoomView> {
        let seat = self.ports.seat(&me.id, room).await?;
        self.view(&seat.room, &me.id, now).await
    }

    /// GET /rooms: the caller's rooms, most recently active first, with last message and unread
    /// count. Reads one page of the chat list (`limit + 1` memberships in activity order) and
    /// those rooms: the cost is bounded by `limit` whatever the number of rooms.
    pub async fn list(
        &self,
        me: &User,
        limit: usize,
        cursor: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Page<RoomSummaryView>> {
        let after = cursor.map(parse_list_cursor).transpose()?;
        let memberships = self
            .ports
            .chat
            .inbox(
                &me.id,
                limit + 1,
                after.map(|(at, id)| (from_millis(at), id)),
            )
            .await?;
        // The page is the first `limit` memberships; the next one only proves there is more.
        // A room deleted but not yet collected is skipped, and the cursor still comes from
        // the memberships, so a page with such a room in it is shorter, never the last.
        let page_of = Page::from_overfetch(memberships.clone(), limit, |m| {
            format!("{}.{}", to_millis(m.activity_at), m.room_id)
        });
        let ids: Vec<RoomId> = page_of.items.iter().map(|m| m.room_id).collect();
        let found = self.ports.chat.rooms(&ids).await?;
        let rooms: Vec<Room> = ids
            .iter()
            .filter_map(|id| found.iter().find(|r| r.id == *id).cloned())
            .collect();
        let people = self
            .ports
            .people(rooms.iter().flat_map(|r| {
                r.pair
                    .iter()
                    .copied()
                    .chain(r.last_message.as_ref().map(|m| m.sender))
            }))
            .await?;
        let page = Page {
            items: rooms,
            next_cursor: page_of.next_cursor,
        };
        let read_of = |id: &RoomId| {
            memberships
                .iter()
                .find(|m| m.room_id == *id)
                .map_or(0, |m| m.last_read_seq)
        };
        let links = Links::sign(
            &self.ports.uploads,
            page.items
                .iter()
                .flat_map(room_keys)
                .chain(avatar_keys(&people))
                .collect(),
            now,
        )
        .await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(|r| {
                    let view = summary_view(r, &me.id, read_of(&r.id), &people);
                    links.summary(view, r, &me.id, &people)
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// PATCH /rooms/{id}: owner and admins of a group or channel.
    pub async fn update(
        &self,
        me: &User,
        room: &str,
        patch: RoomPatch,
        now: OffsetDateTime,
    ) -> Result<RoomView> {
        let Seat { room, me: seat } = self.ports.seat(&me.id, room).await?;
        not_direct(&room)?;
        if !seat.role.manages() {
            return Err(Error::Forbidden);
        }
        let mut fields = Fields::default();
        let name = patch
            .name
            .as_deref()
            .and_then(|raw| fields.take("name", RoomName::parse(raw)));
        let description = patch
            .description
            .as_deref()
            .and_then(|raw| fields.take("description", RoomDescription::parse(raw)));
        let posting = patch
            .posting
            .as_deref()
            .and_then(|raw| fields.take("posting", Posting::parse(raw)));
        if room.kind == RoomKind::Channel && posting == Some(Posting::Everyone) {
            fields.take::<()>(
                "posting",
                Err(crate::domain::Invalid::new(
                    "only owner and admins post in a channel",
                )),
            );
        }
        fields.finish(Some(()))?;
        let (avatar, attached) = self
            .room_avatar(me, &room, patch.avatar_upload_id, now)
            .await?;
        let (room, changed, replaced) =
            match self.apply(room, (name, description, posting, avatar)).await {
                Ok(written) => written,
                Err(e) => {
                    if let Some(a) = &attached {
                        self.ports.uploads.release(a).await;
                    }
                    return Err(e);
                }
            };
        // Written: the avatar's upload belongs to the room from here on.
        if changed {
            let members = self.ports.member_ids(&room.id).await?;
            self.ports.room_event(&members, "updated", &room.id).await;
        }
        // The avatar this write replaced (or cleared) is shown nowhere any more.
        if let Some(old) = replaced {
            self.ports.uploads.forget(&[old]).await;
        }
        self.view(&room, &me.id, now).await
    }

    /// The avatar a PATCH asks for: `None` leaves it, `Some(None)` clears it, `Some(Some(key))`
    /// is the caller's `room_avatar` upload, attached now (sending the room's current avatar
    /// again, a retried PATCH, attaches nothing).
    async fn room_avatar(
        &self,
        me: &User,
        room: &Room,
        raw: Option<Option<String>>,
        now: OffsetDateTime,
    ) -> Result<(Option<Option<String>>, Option<Attached>)> {
        let Some(Some(raw)) = raw else {
            return Ok((raw.map(|_| None), None));
        };
        let current = UploadId::parse(&raw)
            .ok()
            .map(|id| Upload::file_key_of(&me.id, &id));
        if current.is_some() && current == room.avatar_key {
            return Ok((Some(current), None));
        }
        let a = self
            .ports
            .uploads
            .attach(&me.id, "avatar_upload_id", &raw, Purpose::RoomAvatar, now)
            .await?;
        Ok((Some(Some(a.key.clone())), Some(a)))
    }

    /// Writes the room's new settings (version-checked, re-read on a lost race): the room as
    /// stored, whether anything changed, and the avatar key the write replaced, if it did.
    async fn apply(&self, room: Room, changes: Changes) -> Result<(Room, bool, Option<String>)> {
        let (name, description, posting, avatar) = changes;
        let mut current = room;
        for _ in 0..super::CONFLICT_RETRIES {
            let mut next = current.clone();
            if let Some(n) = &name {
                next.name = n.as_str().to_owned();
            }
            if let Some(d) = &description {
                next.description = d.as_str().to_owned();
            }
            if let Some(p) = posting {
                next.posting = p;
            }
            if let Some(a) = &avatar {
                next.avatar_key = a.clone();
            }
            if next == current {
                return Ok((current, false, None));
            }
            match self.ports.chat.update_room(&next).await {
                Ok(()) => {
                    let replaced = current
                        .avatar_key
                        .filter(|old| next.avatar_key.as_ref() != Some(old));
                    return Ok((next, true, replaced));
                }
                Err(StoreError::Conflict) => {
                    current = self.reread(&current.id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// The room as stored now, after a conditional write found it changed: 404 once it is gone.
    async fn reread(&self, id: &RoomId) -> Result<Room> {
        self.ports
            .chat
            .room(id)
            .await?
            .ok_or(Error::NotFound("room"))
    }

    /// DELETE /rooms/{id}: the owner only. One conditional write swaps the room for its
    /// deletion marker (the room is gone for everyone from then on), then its clean-up runs
    /// here (`room_purge`). A clean-up that stopped (the function died, the store failed) is
    /// finished by the owner's repeat delete once its hold ran out, which still answers 404.
    pub async fn delete(&self, me: &User, raw_room: &str, now: OffsetDateTime) -> Result<()> {
        let Seat { room, me: seat } = match self.ports.seat(&me.id, raw_room).await {
            Err(Error::NotFound(what)) => {
                self.finish_stopped_deletion(me, raw_room, now).await;
                return Err(Error::NotFound(what));
            }
            other => other?,
        };
        not_direct(&room)?;
        if seat.role != MemberRole::Owner {
            return Err(Error::Forbidden);
        }
        let members = self.ports.member_ids(&room.id).await?;
        let held_until = now + DELETION_HOLD;
        let mut current = room;
        for _ in 0..super::CONFLICT_RETRIES {
            match self
                .ports
                .chat
                .delete_room(&current, &me.id, held_until)
                .await
            {
                Ok(()) => {
                    self.ports
                        .room_event(&members, "deleted", &current.id)
                        .await;
                    tracing::info!(room_id = %current.id, "room deleted");
                    let deletion = RoomDeletion {
                        room_id: current.id,
                        by: me.id,
                        subscribed: current.subscribed,
                        avatar_key: current.avatar_key,
                        held_until,
                    };
                    return self.ports.finish_deletion(&deletion).await;
                }
                // Changed meanwhile (a message deleted, the room flipped to the subscription
                // index) or deleted by a concurrent request: read again.
                Err(StoreError::Conflict) => {
                    current = self.reread(&current.id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// A delete of a room that is gone: if it is the caller's own deletion and its clean-up
    /// stopped (its hold ran out), finishes it. Failures are logged: the answer is 404 anyway.
    async fn finish_stopped_deletion(&self, me: &User, raw_room: &str, now: OffsetDateTime) {
        let Ok(id) = RoomId::parse(raw_room) else {
            return;
        };
        let finished = async {
            let Some(mut deletion) = self.ports.chat.room_deletion(&id).await? else {
                return Ok(());
            };
            let until = now + DELETION_HOLD;
            if deletion.by != me.id || !self.ports.chat.hold_room_deletion(&id, now, until).await? {
                return Ok(());
            }
            deletion.held_until = until;
            tracing::info!(room_id = %id, "finishing a stopped room deletion");
            self.ports.finish_deletion(&deletion).await
        };
        if let Err(e) = finished.await {
            tracing::warn!(error = %e, room_id = %id, "finishing a room deletion failed");
        }
    }

    /// POST /rooms/{id}/members: owner and admins add people, all or none.
    pub async fn add_members(
        &self,
        me: &User,
        room: &str,
        usernames: &[String],
        now: OffsetDateTime,
    ) -> Result<RoomView> {
        let Seat { room, me: seat } = self.ports.seat(&me.id, room).await?;
        not_direct(&room)?;
        if !seat.role.manages() {
            return Err(Error::Forbidden);
        }
        let mut fields = Fields::default();
        if usernames.is_empty() {
            fields.take::<()>(
                "usernames",
                Err(crate::domain::Invalid::new("must name at least one person")),
            );
        }
        let found = self
            .resolve_new_members(me, Some(&room.id), usernames, "usernames", &mut fields)
            .await?;
        fields.finish(Some(()))?;
        self.count_adds(me, false, found.len(), now).await?;
        let Adds {
            now: found,
            invited,
        } = self.by_consent(Some(&room.id), found).await?;
        if found.is_empty() {
            self.invite(me, &room.id, &invited, now).await?;
            return self.view(&room, &me.id, now).await;
        }
        let before = self.ports.member_ids(&room.id).await?;
        let new: Vec<Member> = found
            .iter()
            .map(|u| Member {
                room_id: room.id,
                user_id: u.id,
                role: MemberRole::Member,
                joined_at: now,
            })
            .collect();
        match self
            .ports
            .chat
            .add_members(&room.id, &new, self.limits.room_member_ceiling)
            .await
        {
            Ok(()) => {}
            Err(AddMembersError::AlreadyMember(id)) => {
                let i = found.iter().position(|u| u.id == id).unwrap_or(0);
                return Err(Error::Validation(vec![FieldError::new(
                    format!("usernames[{i}]"),
                    "is already a member",
                )]));
            }
            Err(AddMembersError::RoomGone) => return Err(Error::NotFound("room")),
            Err(AddMembersError::Full) => return Err(Error::Refused("room_full")),
            Err(AddMembersError::Unexpected(e)) => return Err(e.into()),
        }
        // Only once the request's direct adds committed: a refused request invites nobody.
        self.invite(me, &room.id, &invited, now).await?;
        let added: Vec<UserId> = new.iter().map(|m| m.user_id).collect();
        let above = self.limits.subscribe_above_members;
        self.ports.joined(&room, &added, above).await?;
        self.ports.room_event(&added, "added", &room.id).await;
        self.ports.room_event(&before, "updated", &room.id).await;
        self.view(&room, &me.id, now).await
    }

    /// DELETE /rooms/{id}/members/{username}: leave (anyone but the owner), or remove someone
    /// (the owner anyone, admins plain members only).
    pub async fn remove_member(&self, me: &User, room: &str, username: &str) -> Result<()> {
        let Seat { room, me: seat } = self.ports.seat(&me.id, room).await?;
        let target = self.target(&room, username).await?;
        not_direct(&room)?;
        if target.user_id == me.id {
            if seat.role == MemberRole::Owner {
                return Err(Error::Refused("owner_cannot_leave"));
            }
        } else {
            let allowed = match seat.role {
                MemberRole::Owner => true,
                MemberRole::Admin => target.role == MemberRole::Member,
                MemberRole::Member => false,
            };
            if !allowed {
                return Err(Error::Forbidden);
            }
        }
        // Out of the index first: a failure below leaves a member unsubscribed, not the reverse.
        self.ports.leaving(&room, &target.user_id).await?;
        // Leaving is remembered: only an invitation the person accepts brings them back.
        let removed = if target.user_id == me.id {
            self.ports
                .chat
                .leave(&room.id, &target.user_id, target.role)
                .await
        } else {
            self.ports
                .chat
                .remove_member(&room.id, &target.user_id, target.role)
                .await
        };
        match removed {
            Ok(()) => {}
            // Their role changed or they left meanwhile: let the caller look again.
            Err(StoreError::Conflict) => return Err(Error::Conflict),
            Err(e) => return Err(e.into()),
        }
        self.ports.left(&room.id, &target.user_id).await?;
        self.ports
            .room_event(&[target.user_id], "removed", &room.id)
            .await;
        let rest = self.ports.member_ids(&room.id).await?;
        self.ports.room_event(&rest, "updated", &room.id).await;
        Ok(())
    }

    /// PATCH /rooms/{id}/members/{username} `{role}`: the owner only. `owner` transfers the
    /// ownership (the old owner becomes admin); the owner cannot be demoted otherwise.
    pub async fn set_role(
        &self,
        me: &User,
        room: &str,
        username: &str,
        role: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<RoomView> {
        let role = match role {
            Some(raw) => MemberRole::parse(raw).map_err(|e| Error::field("role", e))?,
            None => {
                return Err(Error::field(
                    "role",
                    crate::domain::Invalid::new("is required"),
                ));
            }
        };
        let Seat { room, me: seat } = self.ports.seat(&me.id, room).await?;
        let target = self.target(&room, username).await?;
        not_direct(&room)?;
        if seat.role != MemberRole::Owner {
            return Err(Error::Forbidden);
        }
        if target.role == MemberRole::Owner {
            if role == MemberRole::Owner {
                return self.view(&room, &me.id, now).await;
            }
            return Err(Error::Refused("owner_cannot_be_demoted"));
        }
        let changed = if role == MemberRole::Owner {
            self.ports
                .chat
                .transfer_ownership(&room.id, &me.id, &target.user_id, target.role)
                .await
        } else if role == target.role {
            return self.view(&room, &me.id, now).await;
        } else {
            self.ports
                .chat
                .set_role(&room.id, &target.user_id, target.role, role)
                .await
        };
        match changed {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(Error::Conflict),
            Err(e) => return Err(e.into()),
        }
        let members = self.ports.member_ids(&room.id).await?;
        self.ports.room_event(&members, "updated", &room.id).await;
        self.view(&room, &me.id, now).await
    }

    /// The member named `username` in `room`: 404 when there is no such member.
    async fn target(&self, room: &Room, username: &str) -> Result<Member> {
        let user = self
            .ports
            .user_named(username)
            .await?
            .ok_or(Error::NotFound("member"))?;
        self.ports
            .chat
            .member(&room.id, &user.id)
            .await?
            .ok_or(Error::NotFound("member"))
    }
}

fn parse_list_cursor(raw: &str) -> Result<(i64, RoomId)> {
    raw.split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, RoomId::parse(id).ok()?)))
        .ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                "cursor",
                "is not a cursor from a previous page",
            )])
        })
}
