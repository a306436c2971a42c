//! Response bodies, exactly as API.md names them.

use crate::domain::{PublicProfile, Role, User, time::rfc3339};
use crate::services::sessions::Tokens;
use serde::Serialize;

/// `Me`: the caller's own profile; the only view that shows an email.
#[derive(Serialize)]
pub struct MeView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub role: Role,
    /// Who may add this person to groups directly: `everyone`, or `nobody` (invitations only).
    pub group_adds: &'static str,
    pub created_at: String,
}

impl MeView {
    pub fn new(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.to_string(),
            email: user.email.to_string(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            bio: user.bio.clone(),
            avatar_url: None,
            role: user.role,
            group_adds: user.group_adds.as_str(),
            created_at: rfc3339(user.created_at),
        }
    }
}

impl MeView {
    /// With the avatar's download URL (`services::uploads::UploadService::download_url`).
    pub fn with_avatar_url(self, avatar_url: Option<String>) -> Self {
        Self { avatar_url, ..self }
    }
}

/// `User`: what anyone may see of an account.
#[derive(Serialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self::from(&PublicProfile::from(user))
    }
}

impl From<&PublicProfile> for UserView {
    fn from(user: &PublicProfile) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.to_string(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            bio: user.bio.clone(),
            avatar_url: None,
        }
    }
}

impl UserView {
    /// With the avatar's download URL (`services::uploads::UploadService::download_url`).
    pub fn with_avatar_url(self, avatar_url: Option<String>) -> Self {
        Self { avatar_url, ..self }
    }
}

#[derive(Serialize)]
pub struct TokensView {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

impl From<Tokens> for TokensView {
    fn from(t: Tokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
        }
    }
}

/// `{items}`: a bounded list.
#[derive(Serialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// `{items, next_cursor}`: one page of a longer list; `next_cursor` is `null` on the last page.
#[derive(Serialize)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
