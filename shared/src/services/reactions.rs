//! PUT / DELETE /rooms/{id}/messages/{message_id}/reactions/{emoji}: members put one of the
//! reaction emoji on a message, at most `MAX_REACTIONS_PER_PERSON` different ones each, and take
//! them off. Both are idempotent (putting what is there, or taking off what is not, changes
//! nothing and tells nobody). Each change is one transaction in the store (the person's set and
//! the message's count), with a `reaction` event for the room, so parallel reactions give exact
//! counts (docs/CHAT.md, "Reactions").

use super::chat::Seat;
use super::chat_views::ReactionView;
use super::messages::{MessageService, backoff, not_found_message};
use crate::domain::{
    Emoji, MAX_REACTIONS_PER_PERSON, MessageId, REACTION_EMOJI, ReactionCounts, User,
};
use crate::error::{Error, Result};
use crate::ports::{Audience, Event, Outgoing, Reacted, StoreError};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

/// The person has `MAX_REACTIONS_PER_PERSON` emoji on the message already.
pub const TOO_MANY_REACTIONS: &str = "too_many_reactions";
/// Decisions taken again while other reactions on the same message keep colliding.
const REACT_RETRIES: usize = 30;

/// What a reaction request answers: the message's reactions as the person sees them now.
#[derive(Debug, Serialize)]
pub struct MessageReactions {
    pub message_id: String,
    pub reactions: Vec<ReactionView>,
}

impl MessageService {
    /// Puts (`on`) or takes off `emoji` on the message for `me`.
    pub async fn react(
        &self,
        me: &User,
        room: &str,
        message_id: &str,
        emoji: &str,
        on: bool,
        now: OffsetDateTime,
    ) -> Result<MessageReactions> {
        let Seat { room, .. } = self.ports.seat(&me.id, room).await?;
        let id = MessageId::parse(message_id).map_err(|_| not_found_message())?;
        let emoji = Emoji::parse(emoji).map_err(|e| Error::field("emoji", e))?;
        // Every member may react, in channels too; a block in a direct room ends that as well.
        if self.ports.blocked_in_direct(&room, &me.id).await? {
            return Err(Error::Blocked);
        }
        self.reaction_limit.reserve(&me.id, now).await?;
        let event = Event::new(
            "reaction",
            json!({
                "room_id": room.id.to_string(),
                "message_id": id.to_string(),
                "emoji": emoji.as_str(),
                "username": me.username.to_string(),
                "added": on,
            }),
        );
        let announce = [Outgoing::new(room.id, Audience::Members, event, now)];
        let chat = &self.ports.chat;
        for attempt in 0..REACT_RETRIES {
            let outcome = match on {
                true => {
                    let most = MAX_REACTIONS_PER_PERSON;
                    chat.add_reaction(&room.id, &id, &me.id, &emoji, most, &announce)
                        .await
                }
                false => {
                    chat.remove_reaction(&room.id, &id, &me.id, &emoji, &announce)
                        .await
                }
            };
            match outcome {
                Ok(Reacted::Changed | Reacted::Unchanged) => {
                    return self.reactions_now(&room.id, &id, me).await;
                }
                Ok(Reacted::Full) => return Err(Error::Refused(TOO_MANY_REACTIONS)),
                Ok(Reacted::MessageGone) => return Err(not_found_message()),
                Err(StoreError::Conflict) => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// The message's counts (a consistent read after the change) and `me`'s own emoji.
    async fn reactions_now(
        &self,
        room: &crate::domain::RoomId,
        id: &MessageId,
        me: &User,
    ) -> Result<MessageReactions> {
        let message = self
            .ports
            .chat
            .message(room, id)
            .await?
            .ok_or_else(not_found_message)?;
        let mine = self.ports.chat.reactions_of(room, &me.id, id, id).await?;
        Ok(MessageReactions {
            message_id: id.to_string(),
            reactions: reaction_views(
                &message.reactions,
                mine.get(id).map(Vec::as_slice).unwrap_or_default(),
            ),
        })
    }
}

/// The counts in the picker's order (chips do not jump about as counts change), with `mine`.
pub fn reaction_views(counts: &ReactionCounts, mine: &[Emoji]) -> Vec<ReactionView> {
    REACTION_EMOJI
        .iter()
        .filter_map(|emoji| {
            let count = *counts.get(*emoji)?;
            (count > 0).then(|| ReactionView {
                emoji,
                count,
                mine: mine.iter().any(|e| e.as_str() == *emoji),
            })
        })
        .collect()
}
