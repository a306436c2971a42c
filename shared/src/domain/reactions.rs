//! Reactions: the emoji a member may put on a message, and how many one person may put on one.
//!
//! A fixed set, not any emoji: every client can draw all of them, the count map on a message
//! stays small (at most 12 attributes), and nothing has to decide what "one emoji grapheme" is
//! across Unicode versions. The set is the one most chat apps offer first (docs/CHAT.md).

use super::Invalid;
use std::collections::BTreeMap;

/// The emoji one may react with, in the order a picker shows them.
pub const REACTION_EMOJI: [&str; 12] = [
    "👍", "👎", "❤️", "😂", "😮", "😢", "🙏", "🎉", "🔥", "👀", "✅", "💯",
];

/// How many different emoji one person may put on one message.
pub const MAX_REACTIONS_PER_PERSON: usize = 3;

/// Counts per emoji on a message (only emoji with a count above 0).
pub type ReactionCounts = BTreeMap<String, u64>;

/// One of `REACTION_EMOJI`. The heart is also taken without its variation selector (U+FE0F),
/// which keyboards often leave out, and stored with it, so both spellings count as one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Emoji(&'static str);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = if raw == "\u{2764}" { "❤️" } else { raw };
        REACTION_EMOJI
            .iter()
            .find(|e| **e == raw)
            .map(|e| Self(e))
            .ok_or_else(|| Invalid::new(format!("must be one of {}", REACTION_EMOJI.join(" "))))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_set_is_taken_and_the_bare_heart_is_the_heart() {
        assert_eq!(Emoji::parse("👍").map(|e| e.as_str()), Ok("👍"));
        assert_eq!(Emoji::parse("\u{2764}").map(|e| e.as_str()), Ok("❤️"));
        for bad in ["", "x", "👍👍", "🦀", "👍 ", ":+1:"] {
            assert!(Emoji::parse(bad).is_err(), "{bad:?} was taken");
        }
    }
}
