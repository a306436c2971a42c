//! The chat list of `DynamoChat` in activity order: memberships carry `inbox_order`
//! (`{last activity millis:013}#{room}`), the sort key of the `by_activity` index, so one page is
//! one index Query with `Limit` plus the page's memberships read by key (the index is eventually
//! consistent; the markers come from the table). A send moves each member's entry up after it
//! committed (`move_up`); layout and costs in `docs/CHAT.md`.

use super::chat::{DynamoChat, values};
use super::chat_items::*;
use super::items::{Item, n, s, sdk_error};
use super::schema::{INBOX_INDEX, INBOX_ORDER};
use crate::domain::time::to_millis;
use crate::domain::{Membership, RoomId, UserId};
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use futures_util::stream::{self, StreamExt};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Members whose entries one send moves at once.
const MOVES_IN_FLIGHT: usize = 16;

impl DynamoChat {
    pub(super) async fn inbox_page(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<(OffsetDateTime, RoomId)>,
    ) -> Result<Vec<Membership>, StoreError> {
        if limit == 0 {
            return Ok(vec![]);
        }
        let pk = inbox_pk(user);
        let start = after.map(|(at, room)| {
            let mut key = membership_key(user, &room);
            key.insert(INBOX_ORDER.into(), s(inbox_order(to_millis(at), &room)));
            key
        });
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(INBOX_INDEX)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(false)
            .limit(limit.min(1000) as i32)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(sdk_error("Query"))?;
        self.capacity().add(false, out.consumed_capacity());
        let rooms: Vec<RoomId> = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|i| match i.get("sk") {
                Some(AttributeValue::S(sk)) => sk
                    .strip_prefix(MEMBERSHIP_PREFIX)
                    .and_then(|r| RoomId::parse(r).ok()),
                _ => None,
            })
            .collect();
        // The markers as they are now (the index may lag a moment behind the table).
        let keys = rooms.iter().map(|r| membership_key(user, r)).collect();
        let mut by_room: HashMap<RoomId, Membership> = HashMap::new();
        for item in self.batch_get(keys).await? {
            let m = membership_from(&item)?;
            by_room.insert(m.room_id, m);
        }
        // In the index's order; a membership removed since the index saw it is left out.
        Ok(rooms.iter().filter_map(|r| by_room.remove(r)).collect())
    }

    /// Moves `room` up to `at` in each member's list: one conditional update per member
    /// (`activity < :at`, so a later message is never overtaken by an earlier one), at most
    /// `MOVES_IN_FLIGHT` at a time. A member who left meanwhile fails the condition harmlessly.
    pub(super) async fn move_up(&self, room: &RoomId, users: &[UserId], at: OffsetDateTime) {
        let at_ms = to_millis(at);
        let order = inbox_order(at_ms, room);
        let mut requests = Vec::with_capacity(users.len());
        for user in users {
            let vals: Item = values([(":at", n(at_ms)), (":order", s(order.clone()))]);
            requests.push(
                self.client()
                    .update_item()
                    .table_name(self.table())
                    .set_key(Some(membership_key(user, room)))
                    .update_expression("SET activity = :at, #order = :order")
                    .condition_expression(
                        "attribute_exists(pk) AND (attribute_not_exists(activity) OR activity < :at)",
                    )
                    .expression_attribute_names("#order", INBOX_ORDER)
                    .set_expression_attribute_values(Some(vals))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total),
            );
        }
        let meter = self.capacity();
        stream::iter(requests)
            .for_each_concurrent(MOVES_IN_FLIGHT, |request| async move {
                match request.send().await {
                    Ok(out) => meter.add(true, out.consumed_capacity()),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                    Err(e) => tracing::warn!(
                        error = %sdk_error("UpdateItem")(e),
                        "a chat-list entry was not moved; the room's next message moves it"
                    ),
                }
            })
            .await;
    }
}
