//! Profiles and people: the caller's own profile, public profiles, prefix search and blocks.

use crate::domain::{Bio, GroupAdds, PersonName, PublicProfile, Purpose, User, UserId, Username};
use crate::error::{Error, FieldError, Fields, Result};
use crate::ports::{AccountStore, Page};
use crate::services::uploads::{Attached, UploadService};
use std::sync::Arc;
use time::OffsetDateTime;

pub const SEARCH_DEFAULT_LIMIT: usize = 10;
pub const LIST_MAX_LIMIT: usize = 100;
pub const BLOCKS_DEFAULT_LIMIT: usize = 20;

/// PATCH /me: `None` leaves a field alone; `Some("")` clears a text field.
#[derive(Debug, Default)]
pub struct ProfilePatch {
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub bio: Option<String>,
    /// `everyone` or `nobody` (`domain::GroupAdds`).
    pub group_adds: Option<String>,
    /// `Some(None)` clears the avatar; `Some(Some(id))` sets it from an upload.
    pub avatar_upload_id: Option<Option<String>>,
}

pub struct ProfileService {
    store: Arc<dyn AccountStore>,
    uploads: UploadService,
}

impl ProfileService {
    pub fn new(store: Arc<dyn AccountStore>, uploads: UploadService) -> Self {
        Self { store, uploads }
    }

    /// PATCH /me. Keeping one's own username is not an error. A new avatar is attached (reserved
    /// and moved) only once every other field is valid, and given back if the account write fails;
    /// once it is written, the avatar it replaced (or cleared) is deleted from the storage.
    pub async fn update(
        &self,
        me: &User,
        patch: ProfilePatch,
        now: OffsetDateTime,
    ) -> Result<User> {
        let mut fields = Fields::default();
        let mut next = me.clone();
        if let Some(u) = patch
            .username
            .as_deref()
            .and_then(|raw| fields.take("username", Username::parse(raw)))
        {
            // The role is stored on the account: taking any free name grants nothing.
            next.username = u;
        }
        if let Some(v) = patch
            .first_name
            .as_deref()
            .and_then(|raw| fields.take("first_name", PersonName::parse(raw)))
        {
            next.first_name = v.as_str().to_owned();
        }
        if let Some(v) = patch
            .last_name
            .as_deref()
            .and_then(|raw| fields.take("last_name", PersonName::parse(raw)))
        {
            next.last_name = v.as_str().to_owned();
        }
        if let Some(v) = patch
            .bio
            .as_deref()
            .and_then(|raw| fields.take("bio", Bio::parse(raw)))
        {
            next.bio = v.as_str().to_owned();
        }
        if let Some(v) = patch
            .group_adds
            .as_deref()
            .and_then(|raw| fields.take("group_adds", GroupAdds::parse(raw)))
        {
            next.group_adds = v;
        }
        if let Some(None) = patch.avatar_upload_id {
            next.avatar_key = None;
        }
        let mut next = fields.finish(Some(next))?;
        let mut attached: Option<Attached> = None;
        if let Some(Some(raw)) = &patch.avatar_upload_id {
            // Sending the upload that already is the avatar again (a retried PATCH) changes nothing.
            let current = crate::domain::UploadId::parse(raw)
                .ok()
                .map(|id| crate::domain::Upload::file_key_of(&me.id, &id));
            if current.is_none() || current != me.avatar_key {
                let a = self
                    .uploads
                    .attach(&me.id, "avatar_upload_id", raw, Purpose::Avatar, now)
                    .await?;
                next.avatar_key = Some(a.key.clone());
                attached = Some(a);
            }
        }
        if next == *me {
            return Ok(next);
        }
        let previous = (next.username != me.username).then_some(&me.username);
        if let Err(e) = self.store.update_user(&next, previous).await {
            if let Some(a) = &attached {
                self.uploads.release(a).await;
            }
            return Err(e.into());
        }
        if previous.is_some() {
            tracing::info!(user_id = %me.id, "username changed");
        }
        // Written (against the version `me` was read at): the avatar it replaced is nobody's.
        if me.avatar_key != next.avatar_key
            && let Some(old) = &me.avatar_key
        {
            self.uploads.forget(std::slice::from_ref(old)).await;
        }
        next.version += 1;
        Ok(next)
    }

    /// GET /users/{username}.
    pub async fn public(&self, username: &str) -> Result<User> {
        let username = Username::parse(username).map_err(|_| Error::NotFound("user"))?;
        self.store
            .user_by_username(&username)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// GET /users?q=: case-insensitive username prefix, a leading `@` ignored, caller excluded.
    pub async fn search(&self, me: &User, q: &str, limit: usize) -> Result<Vec<PublicProfile>> {
        let prefix = q.trim().trim_start_matches('@').to_ascii_lowercase();
        let valid = !prefix.is_empty()
            && prefix.len() <= Username::MAX
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if !valid {
            return Err(Error::Validation(vec![FieldError::new(
                "q",
                "must be 1 to 30 username characters",
            )]));
        }
        let mut found = self.store.search_users(&prefix, limit + 1).await?;
        found.retain(|u| u.id != me.id);
        found.truncate(limit);
        Ok(found)
    }

    /// POST /users/{username}/block. Blocking twice is fine.
    pub async fn block(&self, me: &User, username: &str, now: OffsetDateTime) -> Result<()> {
        let other = self.public(username).await?;
        if other.id == me.id {
            return Err(Error::Refused("self_block"));
        }
        self.store.block(&me.id, &other.id, now).await?;
        tracing::info!(user_id = %me.id, blocked = %other.id, "blocked");
        Ok(())
    }

    /// DELETE /users/{username}/block. Unblocking someone not blocked is fine.
    pub async fn unblock(&self, me: &User, username: &str) -> Result<()> {
        let other = self.public(username).await?;
        self.store.unblock(&me.id, &other.id).await?;
        Ok(())
    }

    /// GET /me/blocks, oldest block first.
    pub async fn blocks(
        &self,
        me: &User,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<User>> {
        if cursor.is_some_and(|c| UserId::parse(c).is_err()) {
            return Err(Error::Validation(vec![FieldError::new(
                "cursor",
                "is not a cursor from a previous page",
            )]));
        }
        let page = self.store.blocked_by(&me.id, limit, cursor).await?;
        let mut users = self.store.users(&page.items).await?;
        let order = |id: &UserId| page.items.iter().position(|x| x == id);
        users.sort_by_key(|u| order(&u.id));
        Ok(Page {
            items: users,
            next_cursor: page.next_cursor,
        })
    }
}
