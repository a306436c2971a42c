//! Invitations: an add that waits for the person's consent (they accept groups from nobody, or
//! left that room before). The invitee lists, accepts or declines them; the inviter is never told
//! which happened, and sees nothing they could not see anyway (who is a member).

use super::chat::ChatPorts;
use super::chat_views::{RoomView, room_name};
use super::rooms::RoomService;
use crate::domain::time::rfc3339;
use crate::domain::{Invitation, Member, MemberRole, RoomId, RoomKind, User, UserId};
use crate::error::{Error, FieldError, Result};
use crate::ports::{AddMembersError, Page};
use crate::settings::Limits;
use serde::Serialize;
use time::OffsetDateTime;

/// API.md's `Invitation`.
#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    pub room_id: String,
    pub kind: &'static str,
    pub name: String,
    /// The username of who added the caller.
    pub invited_by: String,
    pub invited_at: String,
}

pub struct InvitationService {
    ports: ChatPorts,
    rooms: RoomService,
    limits: Limits,
}

/// Every miss looks the same: a malformed id, no invitation, a deleted room, a blocked inviter.
fn gone() -> Error {
    Error::NotFound("invitation")
}

impl InvitationService {
    pub fn new(ports: ChatPorts, limits: Limits) -> Self {
        Self {
            rooms: RoomService::new(ports.clone(), limits),
            ports,
            limits,
        }
    }

    /// Whether an invitation can still be acted on: its room exists and no block stands between
    /// the invitee and the inviter (an add across a block is refused, so is its invitation).
    async fn live(&self, invitation: &Invitation) -> Result<bool> {
        Ok(!self
            .ports
            .blocked_between(&invitation.user_id, &invitation.inviter)
            .await?)
    }

    /// GET /me/invitations: one page by room id; invitations whose room is gone or whose inviter
    /// is blocked (either way) are left out and forgotten. Cost: one Query of `limit + 1`
    /// items, one batch read of their rooms and one of the inviters.
    pub async fn list(
        &self,
        me: &User,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<InvitationView>> {
        let after = cursor
            .map(|raw| {
                RoomId::parse(raw).map_err(|_| {
                    Error::Validation(vec![FieldError::new(
                        "cursor",
                        "is not a cursor from a previous page",
                    )])
                })
            })
            .transpose()?;
        let page = self
            .ports
            .chat
            .invitations(&me.id, limit, after.as_ref())
            .await?;
        let ids: Vec<RoomId> = page.items.iter().map(|i| i.room_id).collect();
        let rooms = self.ports.chat.rooms(&ids).await?;
        let people = self
            .ports
            .people(page.items.iter().map(|i| i.inviter))
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for invitation in &page.items {
            let room = rooms.iter().find(|r| r.id == invitation.room_id);
            let inviter = people.get(&invitation.inviter);
            match (room, inviter) {
                (Some(room), Some(inviter))
                    if room.kind != RoomKind::Direct && self.live(invitation).await? =>
                {
                    items.push(InvitationView {
                        room_id: room.id.to_string(),
                        kind: room.kind.as_str(),
                        name: room_name(room, &me.id, &people),
                        invited_by: inviter.username.to_string(),
                        invited_at: rfc3339(invitation.invited_at),
                    });
                }
                // Nothing to accept any more: forget it (best effort, the next list retries).
                _ => {
                    if let Err(e) = self
                        .ports
                        .chat
                        .decline_invitation(&me.id, &invitation.room_id)
                        .await
                    {
                        tracing::warn!(error = %e, "a dead invitation could not be removed");
                    }
                }
            }
        }
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// POST /me/invitations/{room_id}/accept: the caller becomes a member (within the room's
    /// member ceiling), the room's members get `room updated` and the caller `room added`.
    /// Accepting twice answers the room again.
    pub async fn accept(&self, me: &User, room: &str, now: OffsetDateTime) -> Result<RoomView> {
        let id = RoomId::parse(room).map_err(|_| gone())?;
        let Some(invitation) = self.ports.chat.invitation(&me.id, &id).await? else {
            // Accepted before (a retry): the room as a member sees it; otherwise 404.
            return self.rooms.get(me, room, now).await.map_err(|_| gone());
        };
        if !self.live(&invitation).await? {
            self.ports.chat.decline_invitation(&me.id, &id).await?;
            return Err(gone());
        }
        let member = Member {
            room_id: id,
            user_id: me.id,
            role: MemberRole::Member,
            joined_at: now,
        };
        let before = self.ports.member_ids(&id).await?;
        match self
            .ports
            .chat
            .accept_invitation(&invitation, &member, self.limits.room_member_ceiling)
            .await
        {
            Ok(()) => {}
            Err(AddMembersError::AlreadyMember(_)) => {
                self.ports.chat.decline_invitation(&me.id, &id).await?;
            }
            Err(AddMembersError::RoomGone) => {
                self.ports.chat.decline_invitation(&me.id, &id).await?;
                return Err(gone());
            }
            Err(AddMembersError::Full) => return Err(Error::Refused("room_full")),
            Err(AddMembersError::Unexpected(e)) => return Err(e.into()),
        }
        // A member now (or already, on a retry, which also mends a subscribe that failed).
        if let Some(room) = self.ports.chat.room(&id).await? {
            let above = self.limits.subscribe_above_members;
            self.ports.joined(&room, &[me.id], above).await?;
        }
        self.ports.room_event(&[me.id], "added", &id).await;
        let others: Vec<UserId> = before.into_iter().filter(|u| *u != me.id).collect();
        self.ports.room_event(&others, "updated", &id).await;
        tracing::info!(room_id = %id, "invitation accepted");
        self.rooms.get(me, room, now).await
    }

    /// POST /me/invitations/{room_id}/decline: forgets the invitation. Declining one that is
    /// not there is fine (204 either way), so a retry or a stale screen never errs.
    pub async fn decline(&self, me: &User, room: &str) -> Result<()> {
        let Ok(id) = RoomId::parse(room) else {
            return Ok(());
        };
        self.ports.chat.decline_invitation(&me.id, &id).await?;
        Ok(())
    }
}
