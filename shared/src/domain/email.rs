//! Email addresses: trimmed and lower-cased, so case never splits one mailbox into two accounts.

use super::Invalid;

/// A plausible, normalised email address (syntax only; ownership is proven by the emailed code).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() || email.len() > Self::MAX {
            return Err(Invalid::new(
                "must be an email address of at most 254 characters",
            ));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(Invalid::new("must be an email address"));
        };
        let well_formed = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && email.chars().all(|c| !c.is_whitespace() && !c.is_control())
            && !email.contains(['<', '>', ',', ';', '"', '\\', '(', ')', '[', ']']);
        if !well_formed {
            return Err(Invalid::new("must be an email address"));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Bob@Example.COM ").unwrap().as_str(),
            "bob@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "bob",
            "bob@",
            "@example.com",
            "bob@example",
            "bo b@example.com",
            "a@b@c.com",
            "bob@.com",
            "bob@x..com",
            "x<y>@a.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlong_emails_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
