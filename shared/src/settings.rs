//! Deployment settings every function reads once at cold start.

use crate::domain::{Currency, Role, Username};
use crate::security::jwt::TokenScope;
use anyhow::{Context as _, bail};
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
    pub limits: Limits,
    /// The deployment's one currency: `USD` unless `config::context` read `CURRENCY`.
    pub currency: Currency,
}

/// The throttles that are settings (docs/LIMITS.md has the whole policy). An address limit of 0
/// is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// An account (or an unknown login name) locks for every address after this many failed
    /// guesses in a row; each address adds at most its own first five, so a single address can
    /// never lock the owner out. Must exceed five.
    pub account_lock_after: u32,
    /// Login and password-change attempts per client address per 15 minutes.
    pub login_attempts_per_address: u32,
    /// Signups per client address per hour.
    pub signups_per_address: u32,
    /// Signup-code resends per client address per hour.
    pub resends_per_address: u32,
    /// Forgot-password requests per client address per hour.
    pub resets_per_address: u32,
    /// Groups and channels one person may create per hour (0: no limit).
    pub rooms_per_user: u32,
    /// People one person may add (or invite) to rooms per hour, all rooms together (0: no limit).
    pub member_adds_per_user: u32,
    /// Most members a room may have: held by a count on the room item, reserved in the same
    /// transaction as the member writes. Never 0.
    pub room_member_ceiling: u32,
    /// A group with more members than this gets the subscription index of large rooms (once,
    /// for good; channels have it from creation): delivery then reads its online connections
    /// instead of every member's (docs/REALTIME.md).
    pub subscribe_above_members: u32,
    /// `read` events fan out only in rooms of at most this many members; in larger ones only the
    /// reader's marker moves (one conditional write), and nobody is told.
    pub read_receipts_max_members: u32,
    /// `typing` is relayed only in rooms of at most this many members; in larger ones the frame
    /// is dropped without an answer, like one the typing window drops.
    pub typing_max_members: u32,
    /// Most minor units one person may send (transfers, in-chat transfers, donations) in any 24
    /// hours; held on the payer's wallet by the debit itself (docs/WALLET.md). 0: no cap.
    pub outgoing_per_day: i64,
}

impl Limits {
    /// What a deployment gets unless its template parameters say otherwise.
    pub const DEPLOYED: Self = Self {
        account_lock_after: 20,
        login_attempts_per_address: 100,
        signups_per_address: 20,
        resends_per_address: 30,
        resets_per_address: 20,
        rooms_per_user: 50,
        member_adds_per_user: 500,
        room_member_ceiling: 10_000,
        subscribe_above_members: 256,
        read_receipts_max_members: 32,
        typing_max_members: 256,
        // 100,000.00 in a currency of two decimals: generous for a person, a ceiling for a
        // stolen session.
        outgoing_per_day: 10_000_000,
    };

    /// The local server's defaults: no per-address or per-user creation limits, so a developer
    /// or a test suite can sign up hundreds of accounts from 127.0.0.1 and make rooms freely.
    /// Lockouts and the member ceiling stay as deployed.
    pub const LOCAL: Self = Self {
        login_attempts_per_address: 0,
        signups_per_address: 0,
        resends_per_address: 0,
        resets_per_address: 0,
        rooms_per_user: 0,
        member_adds_per_user: 0,
        outgoing_per_day: 0,
        ..Self::DEPLOYED
    };

    /// From `ACCOUNT_LOCK_AFTER`, `LOGIN_ATTEMPTS_PER_ADDRESS`, `SIGNUPS_PER_ADDRESS`,
    /// `RESENDS_PER_ADDRESS`, `RESETS_PER_ADDRESS`, `ROOMS_PER_USER`, `MEMBER_ADDS_PER_USER`,
    /// `ROOM_MEMBER_CEILING`, `SUBSCRIBE_ABOVE_MEMBERS`, `READ_RECEIPTS_MAX_MEMBERS`,
    /// `TYPING_MAX_MEMBERS` and `OUTGOING_PER_DAY`, each defaulting to `DEPLOYED`.
    pub fn from_env() -> anyhow::Result<Self> {
        let read = |name: &str, default: u32| -> anyhow::Result<u32> {
            match std::env::var(name) {
                Err(_) => Ok(default),
                Ok(raw) => raw
                    .trim()
                    .parse()
                    .with_context(|| format!("{name} must be a whole number")),
            }
        };
        let d = Self::DEPLOYED;
        Self {
            account_lock_after: read("ACCOUNT_LOCK_AFTER", d.account_lock_after)?,
            login_attempts_per_address: read(
                "LOGIN_ATTEMPTS_PER_ADDRESS",
                d.login_attempts_per_address,
            )?,
            signups_per_address: read("SIGNUPS_PER_ADDRESS", d.signups_per_address)?,
            resends_per_address: read("RESENDS_PER_ADDRESS", d.resends_per_address)?,
            resets_per_address: read("RESETS_PER_ADDRESS", d.resets_per_address)?,
            rooms_per_user: read("ROOMS_PER_USER", d.rooms_per_user)?,
            member_adds_per_user: read("MEMBER_ADDS_PER_USER", d.member_adds_per_user)?,
            room_member_ceiling: read("ROOM_MEMBER_CEILING", d.room_member_ceiling)?,
            subscribe_above_members: read("SUBSCRIBE_ABOVE_MEMBERS", d.subscribe_above_members)?,
            read_receipts_max_members: read(
                "READ_RECEIPTS_MAX_MEMBERS",
                d.read_receipts_max_members,
            )?,
            typing_max_members: read("TYPING_MAX_MEMBERS", d.typing_max_members)?,
            outgoing_per_day: match std::env::var("OUTGOING_PER_DAY") {
                Err(_) => d.outgoing_per_day,
                Ok(raw) => raw
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|cap| *cap >= 0)
                    .context("OUTGOING_PER_DAY must be a whole number of minor units, 0 or more")?,
            },
        }
        .checked()
    }

    /// Refuses an account lock that one address could trigger alone, and a room that could hold
    /// nobody.
    pub fn checked(self) -> anyhow::Result<Self> {
        if self.outgoing_per_day < 0 {
            bail!("OUTGOING_PER_DAY must be 0 (no cap) or more");
        }
        if self.room_member_ceiling < 2 {
            bail!("ROOM_MEMBER_CEILING must be at least 2");
        }
        if self.account_lock_after <= crate::services::lockout::FAILURES_BEFORE_LOCK {
            bail!(
                "ACCOUNT_LOCK_AFTER must be more than {}",
                crate::services::lockout::FAILURES_BEFORE_LOCK
            );
        }
        Ok(self)
    }
}

/// `JWT_ISSUER` and `JWT_AUDIENCE`, defaulting to `chatman` and `chatman-api`.
pub fn token_scope_from_env() -> TokenScope {
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    TokenScope {
        issuer: var("JWT_ISSUER", "chatman"),
        audience: var("JWT_AUDIENCE", "chatman-api"),
    }
}

/// Reset links carry a secret: they must point at https, except on this machine.
pub fn checked_app_url(raw: &str) -> anyhow::Result<String> {
    let url = raw.trim().trim_end_matches('/');
    let local = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|origin| {
            url.strip_prefix(origin)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    let https = url
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
    if !(https || local) {
        bail!("APP_URL must be an https:// URL (http only for localhost)");
    }
    Ok(url.to_owned())
}

impl Settings {
    /// Reads `APP_URL` (https), `JWT_ISSUER`, `JWT_AUDIENCE` and the limits, with local
    /// defaults. Never admins: see `bootstrap_admins`.
    pub fn from_env() -> anyhow::Result<Self> {
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        let mut settings = Self::new(
            "",
            &checked_app_url(&var("APP_URL", "http://127.0.0.1:3000"))?,
            token_scope_from_env(),
        );
        settings.limits = Limits::from_env()?;
        Ok(settings)
    }

    /// Settings with the local server's limits (`Limits::LOCAL`).
    pub fn new(admin_usernames: &str, app_url: &str, token_scope: TokenScope) -> Self {
        let bootstrap_admins = admin_usernames
            .split(',')
            .filter_map(|name| Username::parse(name).ok())
            .collect();
        Self {
            bootstrap_admins,
            app_url: app_url.trim_end_matches('/').to_owned(),
            token_scope,
            limits: Limits::LOCAL,
            currency: Currency::default(),
        }
    }

    pub fn with_limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
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

    #[test]
    fn the_app_url_must_be_https_except_on_this_machine() {
        assert_eq!(
            checked_app_url("https://app.example.com/").unwrap(),
            "https://app.example.com"
        );
        assert!(checked_app_url("http://127.0.0.1:3000").is_ok());
        assert!(checked_app_url("http://localhost").is_ok());
        assert!(checked_app_url("http://app.example.com").is_err());
        assert!(checked_app_url("http://localhost.evil.example").is_err());
        assert!(checked_app_url("ftp://x").is_err());
        assert!(checked_app_url("https://").is_err());
    }

    #[test]
    fn an_account_lock_one_address_could_trigger_is_refused() {
        let one_address = Limits {
            account_lock_after: 5,
            ..Limits::DEPLOYED
        };
        assert!(one_address.checked().is_err());
        assert!(Limits::DEPLOYED.checked().is_ok());
    }
}
