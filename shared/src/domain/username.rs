//! Usernames: 3–30 of `a-z 0-9 _ .`, compared case-insensitively, stored lower-case.

use super::Invalid;

/// A valid, lower-cased username.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 30;

    /// Accepts any case; the stored form is lower-case so `Alice` and `alice` are one name.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let lower = raw.trim().to_ascii_lowercase();
        let len = lower.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&len) {
            return Err(Invalid::new("must be 3 to 30 characters"));
        }
        if !lower
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        {
            return Err(Invalid::new(
                "may contain only letters a-z, digits, '_' and '.'",
            ));
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_stored_lower_case() {
        assert_eq!(Username::parse("Alice.B_1").unwrap().as_str(), "alice.b_1");
    }

    #[test]
    fn usernames_outside_the_length_range_are_refused() {
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(31)).is_err());
        assert!(Username::parse(&"a".repeat(30)).is_ok());
    }

    #[test]
    fn usernames_with_other_characters_are_refused() {
        for bad in ["al ice", "al-ice", "ålice", "al@ce", "al\u{0}ce"] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }
}
