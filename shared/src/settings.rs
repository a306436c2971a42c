//! Deployment settings every function reads once at cold start.

use crate::domain::{Currency, Role, Username};
use crate::security::jwt::TokenScope;
use std::collections::HashSet;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Usernames whose accounts are made admins when they are created. A development convenience of
    /// the local server (`--admins`); deployed functions never set it, so there an admin exists
    /// only by an operator's `chatman-admin grant`.
    pub bootstrap_admins: HashSet<Username>,
    /// Where the web app lives: reset links point at `{app_url}/reset-password?token=...`.
    pub app_url: String,
    pub token_scope: TokenScope,
    /// The deployment's one currency: `USD` unless `config::context` read `CURRENCY`.
    pub currency: Currency,
}

impl Settings {
    /// Reads `APP_URL`, `JWT_ISSUER` and `JWT_AUDIENCE`, with local defaults. Never admins: see
    /// `bootstrap_admins`.
    pub fn from_env() -> Self {
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        Self::new(
            "",
            &var("APP_URL", "http://127.0.0.1:3000"),
            TokenScope {
                issuer: var("JWT_ISSUER", "chatman"),
                audience: var("JWT_AUDIENCE", "chatman-api"),
            },
        )
    }

    pub fn new(admin_usernames: &str, app_url: &str, token_scope: TokenScope) -> Self {
        let bootstrap_admins = admin_usernames
            .split(',')
            .filter_map(|name| Username::parse(name).ok())
            .collect();
        Self {
            bootstrap_admins,
            app_url: app_url.trim_end_matches('/').to_owned(),
            token_scope,
            currency: Currency::default(),
        }
    }

    /// The role a new account with this username starts with.
    pub fn initial_role(&self, username: &Username) -> Role {
        if self.bootstrap_admins.contains(username) {
            Role::Admin
        } else {
            Role::User
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_usernames_start_as_admins_whatever_the_case_or_spacing() {
        let scope = TokenScope {
            issuer: "i".into(),
            audience: "a".into(),
        };
        let s = Settings::new(" Root , ops ,", "http://x/", scope);
        assert_eq!(
            s.initial_role(&Username::parse("root").unwrap()),
            Role::Admin
        );
        assert_eq!(
            s.initial_role(&Username::parse("ops").unwrap()),
            Role::Admin
        );
        assert_eq!(
            s.initial_role(&Username::parse("alice").unwrap()),
            Role::User
        );
        assert_eq!(s.app_url, "http://x");
    }
}
