//! Roles. An account is `admin` when its username is listed in `ADMIN_USERNAMES`; the role is
//! derived on every request, so changing the setting takes effect without touching stored data.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}
