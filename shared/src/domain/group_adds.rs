//! Who may put a person in a group or channel without asking: the account's `group_adds`
//! privacy setting. With `Nobody`, every add becomes an invitation the person accepts or not.

use super::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupAdds {
    /// Anyone not blocked may add the person directly (the default, as before the setting).
    #[default]
    Everyone,
    /// Every add is an invitation.
    Nobody,
}

impl GroupAdds {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Nobody => "nobody",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "everyone" => Ok(Self::Everyone),
            "nobody" => Ok(Self::Nobody),
            _ => Err(Invalid::new("must be \"everyone\" or \"nobody\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_reads_back_what_it_writes_and_nothing_else() {
        for v in [GroupAdds::Everyone, GroupAdds::Nobody] {
            assert_eq!(GroupAdds::parse(v.as_str()).ok(), Some(v));
        }
        assert!(GroupAdds::parse("friends").is_err());
        assert!(GroupAdds::parse("Nobody").is_err());
    }
}
