//! Download URLs in the chat's views: every `File.url` of a message, every person's `avatar_url`
//! and every room's `avatar_url` is a presigned GET valid `uploads::GET_VALIDITY` (15 minutes).
//!
//! A message's file is signed with its declared type and disposition (`UploadService::file_url`:
//! a download under its name, app images inline); avatars as they are.
//!
//! The chat services build views only for members (the seat check, or events sent to the room's
//! members), so whoever gets a view may see its files. Signing is local computation (no HEAD,
//! no network); each key is signed once per answer however often it appears.

use super::chat_views::{MessageView, People, RoomSummaryView, RoomView};
use super::uploads::UploadService;
use crate::domain::{FileRef, Message, Room, RoomKind, User, UserId};
use crate::error::Result;
use serde::Serialize;
use std::collections::HashMap;
use time::OffsetDateTime;

/// API.md's `File`.
#[derive(Debug, Clone, Serialize)]
pub struct FileView {
    pub upload_id: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub url: String,
}

/// One object a view links to: an avatar by its key, or a message's file (signed with how the
/// storage must serve it).
#[derive(Debug, Clone)]
pub enum Download {
    Avatar(String),
    File(FileRef),
}

impl Download {
    fn key(&self) -> &str {
        match self {
            Self::Avatar(key) => key,
            Self::File(file) => &file.key,
        }
    }
}

/// Download URLs by storage key, signed for one answer.
#[derive(Debug, Default)]
pub struct Links {
    by_key: HashMap<String, String>,
}

/// The files a message's view shows.
pub fn message_keys(message: &Message) -> Vec<Download> {
    message.files.iter().cloned().map(Download::File).collect()
}

/// People's avatars.
pub fn avatar_keys(people: &People) -> Vec<Download> {
    people
        .values()
        .filter_map(|u| u.avatar_key.clone().map(Download::Avatar))
        .collect()
}

/// The storage keys a room's or summary's view shows besides its people's avatars: the room's
/// own avatar and its last message's files.
pub fn room_keys(room: &Room) -> Vec<Download> {
    let mut keys: Vec<Download> = room
        .avatar_key
        .iter()
        .cloned()
        .map(Download::Avatar)
        .collect();
    if let Some(m) = &room.last_message {
        keys.extend(message_keys(m));
    }
    keys
}

impl Links {
    /// Signs every key of `keys` (once each). Takes owned keys: the futures stay `Send`
    /// whatever iterator the caller built them with.
    pub async fn sign(
        uploads: &UploadService,
        keys: Vec<Download>,
        now: OffsetDateTime,
    ) -> Result<Self> {
        let mut by_key = HashMap::with_capacity(keys.len());
        for download in keys {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                by_key.entry(download.key().to_owned())
            {
                let url = match &download {
                    Download::Avatar(key) => uploads.download_url(key, now).await?,
                    Download::File(file) => uploads.file_url(file, now).await?,
                };
                slot.insert(url);
            }
        }
        Ok(Self { by_key })
    }

    fn url(&self, key: &str) -> Option<String> {
        self.by_key.get(key).cloned()
    }

    pub fn files(&self, files: &[FileRef]) -> Vec<FileView> {
        files
            .iter()
            .filter_map(|f| {
                Some(FileView {
                    upload_id: f.upload_id.to_string(),
                    filename: f.filename.clone(),
                    content_type: f.content_type.clone(),
                    size: f.size,
                    url: self.url(&f.key)?,
                })
            })
            .collect()
    }

    /// A message's view with its files (and kind `files` when it carries any).
    pub fn message(&self, view: MessageView, message: &Message) -> MessageView {
        if message.files.is_empty() {
            return view;
        }
        let files = self
            .files(&message.files)
            .into_iter()
            .filter_map(|f| serde_json::to_value(f).ok())
            .collect();
        let kind = if view.kind == "text" {
            "files"
        } else {
            view.kind
        };
        MessageView {
            kind,
            files,
            ..view
        }
    }

    fn avatar_of(&self, user: Option<&User>) -> Option<String> {
        self.url(user?.avatar_key.as_deref()?)
    }

    /// A room's avatar: its own for a group or channel, the other person's for a direct room.
    pub fn room_avatar(&self, room: &Room, me: &UserId, people: &People) -> Option<String> {
        match room.kind {
            RoomKind::Direct => {
                let other = room.pair.iter().find(|id| *id != me)?;
                self.avatar_of(people.get(other))
            }
            _ => self.url(room.avatar_key.as_deref()?),
        }
    }

    /// A room's view with its avatar and its members' avatars.
    pub fn room(&self, view: RoomView, room: &Room, me: &UserId, people: &People) -> RoomView {
        let by_id: HashMap<String, &User> =
            people.values().map(|u| (u.id.to_string(), u)).collect();
        let mut view = RoomView {
            avatar_url: self.room_avatar(room, me, people),
            ..view
        };
        for member in &mut view.members {
            member.user.avatar_url = self.avatar_of(by_id.get(&member.user.id).copied());
        }
        view
    }

    /// A chat-list entry with the room's avatar and its last message's files.
    pub fn summary(
        &self,
        view: RoomSummaryView,
        room: &Room,
        me: &UserId,
        people: &People,
    ) -> RoomSummaryView {
        RoomSummaryView {
            avatar_url: self.room_avatar(room, me, people),
            last_message: match (view.last_message, &room.last_message) {
                (Some(v), Some(m)) => Some(self.message(v, m)),
                (v, _) => v,
            },
            ..view
        }
    }
}
