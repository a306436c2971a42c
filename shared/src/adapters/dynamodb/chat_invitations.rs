//! The consent side of `DynamoChat`: the member ceiling reserved on the room item, leaving (which
//! remembers that the person left), and invitations in the invitee's `INBOX#` partition. Each
//! change is one transaction whose conditions settle every race (layout in `docs/CHAT.md`).

use super::chat::{DynamoChat, EXISTS, NOT_EXISTS, delete, put, tx_to_store, values};
use super::chat_items::*;
use super::items::{Item, n, s};
use super::tx::TxOutcome;
use crate::domain::{Invitation, Member, MemberRole, RoomId, UserId};
use crate::ports::{AddMembersError, Page, StoreError};
use anyhow::anyhow;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, TransactWriteItem, Update};

/// A transaction's check that a room item exists.
fn room_exists(table: &str, room: &RoomId) -> anyhow::Result<TransactWriteItem> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(room_key(room)))
        .condition_expression(EXISTS)
        .build()?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

impl DynamoChat {
    /// The room-item update that takes `seats` more members if the room exists and stays
    /// within `ceiling`. A room written before the count existed starts counting from here.
    pub(super) fn reserve_seats(
        &self,
        room: &RoomId,
        seats: usize,
        ceiling: u32,
    ) -> anyhow::Result<TransactWriteItem> {
        let room_left = u64::from(ceiling).saturating_sub(seats as u64);
        let u = Update::builder()
            .table_name(self.table())
            .set_key(Some(room_key(room)))
            .update_expression("SET #count = if_not_exists(#count, :zero) + :seats")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#count) OR #count <= :left)",
            )
            .expression_attribute_names("#count", MEMBER_COUNT)
            .set_expression_attribute_values(Some(values([
                (":zero", n(0)),
                (":seats", n(seats)),
                (":left", n(room_left)),
            ])))
            .build()?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    /// Gives one seat back, in a member removal's transaction (the room must still exist, so
    /// the update never recreates a deleted room item).
    pub(super) fn free_seat(&self, room: &RoomId) -> anyhow::Result<TransactWriteItem> {
        let u = Update::builder()
            .table_name(self.table())
            .set_key(Some(room_key(room)))
            .update_expression("ADD #count :minus")
            .condition_expression(EXISTS)
            .expression_attribute_names("#count", MEMBER_COUNT)
            .expression_attribute_values(":minus", n(-1))
            .build()?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    /// Why `reserve_seats` failed: the room is gone, or full.
    pub(super) async fn why_no_seats(&self, room: &RoomId) -> AddMembersError {
        match self.get(room_key(room)).await {
            Ok(None) => AddMembersError::RoomGone,
            Ok(Some(_)) => AddMembersError::Full,
            Err(e) => AddMembersError::Unexpected(e),
        }
    }

    pub(super) async fn leave_room(
        &self,
        room: &RoomId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<(), StoreError> {
        let member = Delete::builder()
            .table_name(self.table())
            .set_key(Some(member_key(room, user)))
            .condition_expression("#role = :role")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", s(role.as_str()))
            .build()
            .map_err(|e| anyhow!(e))?;
        let mut left = left_key(user, room);
        left.insert("room_id".into(), s(room.to_string()));
        let items = vec![
            TransactWriteItem::builder().delete(member).build(),
            delete(self.table(), membership_key(user, room), None)?,
            self.free_seat(room)?,
            put(self.table(), left, None)?,
            // So a deletion of the room finds the mark (`chat_purge.rs`).
            put(self.table(), inbox_ref_key(room, user), None)?,
        ];
        self.transact(items).await.map_err(tx_to_store)
    }

    pub(super) async fn put_invitations(
        &self,
        invitations: &[Invitation],
    ) -> Result<(), StoreError> {
        // At most MAX_MEMBERS_PER_CHANGE (40) per add, two items each, and the check that each
        // room still exists (a deleted room gets no invitation its clean-up could miss): one
        // transaction keeps them all-or-none.
        if invitations.is_empty() {
            return Ok(());
        }
        let mut rooms: Vec<RoomId> = invitations.iter().map(|i| i.room_id).collect();
        rooms.sort_unstable();
        rooms.dedup();
        let mut items = rooms
            .iter()
            .map(|r| room_exists(self.table(), r))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for i in invitations {
            items.push(put(self.table(), invitation_item(i), None)?);
            // So a deletion of the room finds the invitation (`chat_purge.rs`).
            items.push(put(
                self.table(),
                inbox_ref_key(&i.room_id, &i.user_id),
                None,
            )?);
        }
        self.transact(items).await.map_err(tx_to_store)
    }

    pub(super) async fn invitation_page(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&RoomId>,
    ) -> Result<Page<Invitation>, StoreError> {
        let start = after.map(|r| format!("{INVITATION_PREFIX}{r}"));
        let items = self
            .query(
                inbox_pk(user),
                INVITATION_PREFIX,
                false,
                Some(limit + 1),
                start,
            )
            .await?
            .iter()
            .map(invitation_from)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |i| {
            i.room_id.to_string()
        }))
    }

    /// One transaction: the seat, the member and membership (neither there yet), the
    /// invitation (still the one read) deleted, and the "left" mark deleted.
    pub(super) async fn accept(
        &self,
        invitation: &Invitation,
        member: &Member,
        ceiling: u32,
    ) -> Result<(), AddMembersError> {
        let (user, room) = (&invitation.user_id, &invitation.room_id);
        let items = vec![
            self.reserve_seats(room, 1, ceiling)?,
            put(self.table(), member_item(member), Some(NOT_EXISTS))?,
            put(self.table(), membership_item(member), Some(NOT_EXISTS))?,
            delete(
                self.table(),
                invitation_key(user, room),
                Some((
                    "inviter = :inviter",
                    Item::from([(":inviter".to_owned(), s(invitation.inviter.to_string()))]),
                )),
            )?,
            delete(self.table(), left_key(user, room), None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(o) if o.failed_at(3) => Err(AddMembersError::RoomGone),
            Err(o) if o.failed_at(0) => Err(self.why_no_seats(room).await),
            Err(o) if o.failed_at(1) || o.failed_at(2) => {
                Err(AddMembersError::AlreadyMember(*user))
            }
            Err(TxOutcome::Failed(e)) => Err(AddMembersError::Unexpected(e)),
            Err(_) => Err(AddMembersError::Unexpected(anyhow!(
                "transaction kept conflicting"
            ))),
        }
    }
}
