//! Free-text profile fields. Empty means "not set", so PATCH can clear a field with `""`.

use super::Invalid;

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name(String);

        impl $name {
            pub const MAX: usize = $max;

            /// Trims the value; refuses it when longer than the limit or when it has control
            /// characters (line breaks are allowed in a bio only).
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                let text = raw.trim();
                if text.chars().count() > Self::MAX {
                    return Err(Invalid::new(format!("must be at most {} characters", Self::MAX)));
                }
                if text.chars().any(|c| c.is_control() && !(Self::MULTILINE && c == '\n')) {
                    return Err(Invalid::new("must not contain control characters"));
                }
                Ok(Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

bounded_text!(
    /// A first or last name, at most 50 characters.
    PersonName,
    50
);
bounded_text!(
    /// A profile bio, at most 500 characters.
    Bio,
    500
);

impl PersonName {
    const MULTILINE: bool = false;
}
impl Bio {
    const MULTILINE: bool = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bios_are_bounded() {
        assert!(PersonName::parse(&"a".repeat(50)).is_ok());
        assert!(PersonName::parse(&"a".repeat(51)).is_err());
        assert!(Bio::parse(&"a".repeat(500)).is_ok());
        assert!(Bio::parse(&"a".repeat(501)).is_err());
    }

    #[test]
    fn a_bio_may_span_lines_but_a_name_may_not() {
        assert!(Bio::parse("one\ntwo").is_ok());
        assert!(PersonName::parse("one\ntwo").is_err());
    }

    #[test]
    fn empty_text_means_cleared() {
        assert_eq!(PersonName::parse("  ").unwrap().as_str(), "");
    }
}
