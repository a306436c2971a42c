//! Chat values: room kinds, member roles, posting modes, and the bounded texts of rooms and
//! messages. Each is parsed once at the boundary; the bounds are documented in `openapi.yaml`.

use super::Invalid;
use serde::Serialize;

/// What a room is: two people, a group where everyone posts, or a channel where admins post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    Direct,
    Group,
    Channel,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
            Self::Channel => "channel",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "direct" => Ok(Self::Direct),
            "group" => Ok(Self::Group),
            "channel" => Ok(Self::Channel),
            _ => Err(Invalid::new("must be direct, group or channel")),
        }
    }
}

/// A member's role in a group or channel. A direct room's two people are both `Member`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Member,
    Admin,
    Owner,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            _ => Err(Invalid::new("must be member, admin or owner")),
        }
    }

    /// Owner and admins manage the room.
    pub fn manages(self) -> bool {
        self >= Self::Admin
    }
}

/// Who may post in a group (a channel is always `Admins`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Posting {
    Everyone,
    Admins,
}

impl Posting {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Admins => "admins",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "everyone" => Ok(Self::Everyone),
            "admins" => Ok(Self::Admins),
            _ => Err(Invalid::new("must be everyone or admins")),
        }
    }
}

fn has_control(text: &str, multiline: bool) -> bool {
    text.chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
}

/// A message's text: 1 to 4000 characters, not only whitespace. Kept as sent (line breaks and
/// tabs allowed, other control characters refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub const MAX: usize = 4000;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::new("must not be empty or only whitespace"));
        }
        if raw.chars().count() > Self::MAX {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX
            )));
        }
        if has_control(raw, true) {
            return Err(Invalid::new("must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A group's or channel's name: 1 to 100 characters after trimming, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    pub const MAX: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(Invalid::new("must not be empty"));
        }
        if text.chars().count() > Self::MAX {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX
            )));
        }
        if has_control(text, false) {
            return Err(Invalid::new("must be one line without control characters"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A room's description: up to 500 characters after trimming (empty clears it), line breaks allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDescription(String);

impl RoomDescription {
    pub const MAX: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let text = raw.trim();
        if text.chars().count() > Self::MAX {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX
            )));
        }
        if has_control(text, true) {
            return Err(Invalid::new("must not contain control characters"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The client's own id for a message it sends, echoed back for de-duplication: 1 to 64
/// printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub const MAX: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok =
            !raw.is_empty() && raw.len() <= Self::MAX && raw.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(Invalid::new(format!(
                "must be 1 to {} printable ASCII characters without spaces",
                Self::MAX
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_is_one_to_4000_characters_not_only_whitespace() {
        assert!(MessageText::parse("").is_err());
        assert!(MessageText::parse(" \n\t ").is_err());
        assert!(MessageText::parse("hi").is_ok());
        assert!(MessageText::parse(&"é".repeat(4000)).is_ok());
        assert!(MessageText::parse(&"é".repeat(4001)).is_err());
        assert!(MessageText::parse("line\nbreak").is_ok());
        assert!(MessageText::parse("nul\0").is_err());
    }

    #[test]
    fn room_names_are_one_line_and_bounded() {
        assert!(RoomName::parse("  ").is_err());
        assert_eq!(RoomName::parse(" Team ").unwrap().as_str(), "Team");
        assert!(RoomName::parse(&"a".repeat(100)).is_ok());
        assert!(RoomName::parse(&"a".repeat(101)).is_err());
        assert!(RoomName::parse("two\nlines").is_err());
        assert!(RoomDescription::parse(&"a".repeat(501)).is_err());
        assert!(RoomDescription::parse("").is_ok());
    }

    #[test]
    fn client_ids_are_short_printable_ascii() {
        assert!(ClientId::parse("c-1").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("with space").is_err());
        assert!(ClientId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn roles_and_modes_parse_only_their_names() {
        assert_eq!(MemberRole::parse("owner").unwrap(), MemberRole::Owner);
        assert!(MemberRole::parse("Owner").is_err());
        assert!(Posting::parse("nobody").is_err());
        assert!(RoomKind::parse("dm").is_err());
        assert!(MemberRole::Admin.manages() && !MemberRole::Member.manages());
    }
}
