//! Passwords as they arrive: length and strength rules. The plaintext never leaves this type except
//! to be hashed, and its `Debug` form is redacted so it cannot reach a log by accident.

use super::{Email, Invalid, Username};

/// A password that met the length and common-password rules.
#[derive(Clone)]
pub struct Password(String);

const COMMON: &str = include_str!("common_passwords.txt");

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    /// Checks a new password. `username` and `email` are the account's own: a password equal to
    /// either is refused, whatever the case.
    pub fn new_for(raw: &str, username: &Username, email: &Email) -> Result<Self, Invalid> {
        let password = Self::new(raw)?;
        let lower = raw.to_lowercase();
        if lower == username.as_str() || lower == email.as_str() {
            return Err(Invalid::new("must not be your username or email"));
        }
        Ok(password)
    }

    /// Checks the length and common-password rules only (when the account's names are unknown
    /// or themselves invalid).
    pub fn new(raw: &str) -> Result<Self, Invalid> {
        let len = raw.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&len) {
            return Err(Invalid::new("must be 8 to 128 characters"));
        }
        let lower = raw.to_lowercase();
        if COMMON.lines().any(|common| common == lower) {
            return Err(Invalid::new("is too common; choose another"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password presented to log in: only bounded, so a huge body cannot make us hash megabytes.
    pub fn presented(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.chars().count() > Self::MAX {
            return Err(Invalid::new("must be 1 to 128 characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(********)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> (Username, Email) {
        (
            Username::parse("alice").unwrap(),
            Email::parse("alice@example.com").unwrap(),
        )
    }

    #[test]
    fn a_long_uncommon_password_is_accepted() {
        let (u, e) = who();
        assert!(Password::new_for("correct horse battery", &u, &e).is_ok());
    }

    #[test]
    fn short_and_overlong_passwords_are_refused() {
        let (u, e) = who();
        assert!(Password::new_for("short7!", &u, &e).is_err());
        assert!(Password::new_for(&"x".repeat(129), &u, &e).is_err());
        assert!(Password::new_for(&"é".repeat(128), &u, &e).is_ok());
    }

    #[test]
    fn the_username_or_email_as_password_is_refused() {
        let (u, e) = who();
        let u8 = Username::parse("alice123").unwrap();
        assert!(Password::new_for("ALICE123", &u8, &e).is_err());
        assert!(Password::new_for("Alice@Example.com", &u, &e).is_err());
    }

    #[test]
    fn common_passwords_are_refused() {
        let (u, e) = who();
        assert!(Password::new_for("Password123", &u, &e).is_err());
        assert!(Password::new_for("12345678", &u, &e).is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let p = Password::presented("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
