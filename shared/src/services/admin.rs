//! Operator actions on accounts: granting and revoking the admin role. No API route reaches this:
//! only `chatman-admin`, run with the deployer's AWS credentials, so signing up or renaming can
//! never make an admin (the Django system let whoever signed up first under a listed name mint
//! money).

use crate::domain::{Role, User, Username};
use crate::error::{Error, Result};
use crate::ports::{AccountStore, UpdateUserError};
use std::sync::Arc;
use std::time::Duration;

/// A role change loses a race only to another write of the same account (a profile edit, a
/// password change, another operator): re-read and try again this many times.
const ATTEMPTS: u32 = 8;

/// What a grant or revoke did.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleChange {
    /// The account as stored afterwards.
    pub user: User,
    /// Its role before.
    pub previous: Role,
}

impl RoleChange {
    /// `false` when the account already had the role (nothing was written).
    pub fn changed(&self) -> bool {
        self.previous != self.user.role
    }
}

pub struct AdminService {
    store: Arc<dyn AccountStore>,
}

impl AdminService {
    pub fn new(store: Arc<dyn AccountStore>) -> Self {
        Self { store }
    }

    /// The account named `username`.
    pub async fn show(&self, username: &str) -> Result<User> {
        let username = Username::parse(username).map_err(|e| Error::field("username", e))?;
        self.store
            .user_by_username(&username)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    pub async fn grant(&self, username: &str) -> Result<RoleChange> {
        self.set_role(username, Role::Admin).await
    }

    pub async fn revoke(&self, username: &str) -> Result<RoleChange> {
        self.set_role(username, Role::User).await
    }

    /// Sets the role with a version-checked write of the account as just read, so a concurrent
    /// edit of the same account is never overwritten: on conflict, read again and retry.
    pub async fn set_role(&self, username: &str, role: Role) -> Result<RoleChange> {
        let mut backoff_ms = 10u64;
        for _ in 0..ATTEMPTS {
            let user = self.show(username).await?;
            let previous = user.role;
            if previous == role {
                return Ok(RoleChange { user, previous });
            }
            let next = User { role, ..user };
            match self.store.update_user(&next, None).await {
                Ok(()) => {
                    tracing::info!(user_id = %next.id, role = role.as_str(), "role changed by an operator");
                    return Ok(RoleChange {
                        user: User {
                            version: next.version + 1,
                            ..next
                        },
                        previous,
                    });
                }
                Err(UpdateUserError::Conflict) => {
                    let jitter = rand::random_range(0..=backoff_ms);
                    tokio::time::sleep(Duration::from_millis(backoff_ms + jitter)).await;
                    backoff_ms = (backoff_ms * 2).min(200);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }
}
