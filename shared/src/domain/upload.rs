//! Uploads: what a client may ask to upload (purpose, filename, content type, size) and the
//! record kept of it. The allow-lists and limits of API.md ("Uploads") live here, once.
//!
//! Storage keys are chosen by the server from the owner and the upload id only: a filename is
//! display text and never reaches a key. The bytes land under `uploads/{owner}/{id}` (a prefix
//! whose objects the bucket's lifecycle rule deletes after a day) and are copied to
//! `files/{owner}/{id}` (never expired) when attached.

use super::{Invalid, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

super::ids::id_type!(
    /// One upload: a presigned PUT and, once attached, a file.
    UploadId
);

/// Where an upload may be attached; each purpose has its own types and size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    Message,
    Avatar,
    RoomAvatar,
}

const MIB: u64 = 1024 * 1024;

/// Images people commonly send. No SVG: it can carry scripts.
const MESSAGE_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/heic",
    "image/heif",
    "image/avif",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "audio/flac",
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "video/ogg",
    "application/pdf",
    "text/plain",
    "application/zip",
];
const AVATAR_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "image/gif"];

impl Purpose {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "message" => Ok(Self::Message),
            "avatar" => Ok(Self::Avatar),
            "room_avatar" => Ok(Self::RoomAvatar),
            _ => Err(Invalid::new(
                "must be one of \"message\", \"avatar\", \"room_avatar\"",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Avatar => "avatar",
            Self::RoomAvatar => "room_avatar",
        }
    }

    /// Largest allowed object, in bytes: 25 MiB for messages, 5 MiB for avatars.
    pub fn max_size(self) -> u64 {
        match self {
            Self::Message => 25 * MIB,
            Self::Avatar | Self::RoomAvatar => 5 * MIB,
        }
    }

    /// The content types this purpose accepts.
    pub fn allowed_types(self) -> &'static [&'static str] {
        match self {
            Self::Message => MESSAGE_TYPES,
            Self::Avatar | Self::RoomAvatar => AVATAR_TYPES,
        }
    }

    pub fn allows(self, content_type: &ContentType) -> bool {
        self.allowed_types().contains(&content_type.as_str())
    }
}

/// A display filename: 1–255 characters, no path separators, no control characters, not only
/// dots. Never used in a storage key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filename(String);

impl Filename {
    pub const MAX: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.chars().count() > Self::MAX {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX
            )));
        }
        if raw.chars().any(char::is_control) {
            return Err(Invalid::new("must not contain control characters"));
        }
        let name = raw.trim();
        if name.is_empty() {
            return Err(Invalid::new("must not be empty"));
        }
        if name.contains(['/', '\\']) {
            return Err(Invalid::new("must not contain path separators"));
        }
        if name.chars().all(|c| c == '.') {
            return Err(Invalid::new("must not be only dots"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A bare media type `type/subtype`, lower-cased, without parameters. The upload's presigned PUT
/// signs this exact string, so the stored object carries it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType(String);

impl ContentType {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim().to_ascii_lowercase();
        let token = |s: &str| {
            !s.is_empty()
                && s.len() <= 127
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
        };
        match value.split_once('/') {
            Some((kind, sub)) if token(kind) && token(sub) => Ok(Self(value)),
            _ => Err(Invalid::new(
                "must be a media type such as image/png, without parameters",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the bytes are still to come or the file is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Asked for; the bytes may or may not be in storage yet.
    Pending,
    /// Attached to a profile, room or message: it cannot be attached again.
    Attached,
}

/// What is kept of an upload: who asked, for what, and what was declared (the storage must hold
/// exactly that before it can be attached).
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: UploadId,
    pub owner: UserId,
    pub purpose: Purpose,
    pub filename: Filename,
    pub content_type: ContentType,
    pub size: u64,
    pub state: UploadState,
    pub created_at: OffsetDateTime,
    /// A pending upload is forgotten after this (the bucket drops its bytes after a day too);
    /// an attached one is kept.
    pub expires_at: OffsetDateTime,
}

impl Upload {
    /// Where the client PUTs the bytes.
    pub fn pending_key(&self) -> String {
        format!("uploads/{}/{}", self.owner, self.id)
    }

    /// Where the bytes live once attached.
    pub fn file_key(&self) -> String {
        Self::file_key_of(&self.owner, &self.id)
    }

    /// Where `owner`'s upload `id` lives once attached.
    pub fn file_key_of(owner: &UserId, id: &UploadId) -> String {
        format!("files/{owner}/{id}")
    }
}

/// A file attached to a message: what its `File` view shows, and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub upload_id: UploadId,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub key: String,
}

impl FileRef {
    /// The attached file of `upload`.
    pub fn of(upload: &Upload) -> Self {
        Self {
            upload_id: upload.id,
            filename: upload.filename.as_str().to_owned(),
            content_type: upload.content_type.as_str().to_owned(),
            size: upload.size,
            key: upload.file_key(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_with_separators_controls_or_only_dots_are_refused() {
        for bad in [
            "",
            "  ",
            "a/b.png",
            "a\\b.png",
            "..",
            ".",
            "...",
            "a\u{0}b",
            "line\nbreak",
            "tab\t",
        ] {
            assert!(Filename::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Filename::parse(&"x".repeat(256)).is_err());
        assert!(Filename::parse(&"x".repeat(10_000)).is_err());
        assert_eq!(
            Filename::parse(" photo.final.jpg ").unwrap().as_str(),
            "photo.final.jpg"
        );
        assert!(Filename::parse(&"é".repeat(255)).is_ok());
        assert!(Filename::parse(".bashrc").is_ok());
    }

    #[test]
    fn content_types_are_bare_media_types() {
        assert_eq!(
            ContentType::parse("Image/PNG").unwrap().as_str(),
            "image/png"
        );
        for bad in [
            "",
            "image",
            "image/",
            "/png",
            "image/png; charset=x",
            "image/png/x",
            "ima ge/png",
            "image/p\u{0}ng",
        ] {
            assert!(ContentType::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn avatars_are_small_images_and_messages_take_more() {
        let png = ContentType::parse("image/png").unwrap();
        let pdf = ContentType::parse("application/pdf").unwrap();
        let svg = ContentType::parse("image/svg+xml").unwrap();
        assert!(Purpose::Avatar.allows(&png));
        assert!(!Purpose::Avatar.allows(&pdf));
        assert!(Purpose::Message.allows(&pdf));
        assert!(!Purpose::Message.allows(&svg));
        assert_eq!(Purpose::Avatar.max_size(), 5 * 1024 * 1024);
        assert_eq!(Purpose::Message.max_size(), 25 * 1024 * 1024);
    }
}
