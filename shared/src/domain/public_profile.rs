//! What anyone may see of an account, and all that username search ever reads: the username
//! index projects exactly these fields, so password hashes and emails never sit in it.

use super::{User, UserId, Username};

#[derive(Debug, Clone, PartialEq)]
pub struct PublicProfile {
    pub id: UserId,
    pub username: Username,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    /// Storage key of the avatar image, set by the uploads feature.
    pub avatar_key: Option<String>,
}

impl From<&User> for PublicProfile {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            bio: user.bio.clone(),
            avatar_key: user.avatar_key.clone(),
        }
    }
}
