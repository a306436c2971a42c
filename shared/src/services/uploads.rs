//! Uploads: handing out presigned PUTs for declared files, and attaching uploaded files to a
//! profile, room or message.
//!
//! Attaching checks, in order: the id is well-formed; the upload exists and is the caller's
//! (else 404, as for anything the caller may not see); its purpose matches the target; it is
//! not attached yet; the storage holds exactly the declared size and type (a HEAD). It is then
//! reserved by one conditional write (so racing requests attach it once) and its bytes copied out
//! of the expiring `uploads/` prefix. A caller whose own write then fails calls `release`.

use crate::domain::disposition::content_disposition;
use crate::domain::{
    ContentType, FileRef, Filename, Purpose, Upload, UploadId, UploadState, UserId,
};
use crate::error::{Error, Fields, Result};
use crate::ports::{AttachError, Files, Presigned, Serve, UploadStore};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// How long a presigned PUT works.
pub const PUT_VALIDITY: Duration = Duration::minutes(5);
/// How long a download URL handed out in a response works.
pub const GET_VALIDITY: Duration = Duration::minutes(15);
/// Upload URLs one person may ask for per hour: bounds the records and presigned PUTs one
/// account can make (counted in the store before the work, so it holds under parallel requests
/// and across Lambda instances).
pub const UPLOADS_PER_HOUR: u32 = 100;

/// Counts one upload request of `owner`; 429 `rate_limited` past `UPLOADS_PER_HOUR`.
pub async fn count_upload_request(
    store: &dyn crate::ports::AccountStore,
    owner: &UserId,
    now: OffsetDateTime,
) -> Result<()> {
    let key = format!("uploads:{owner}");
    match store
        .hit_rate_limit(&key, UPLOADS_PER_HOUR, Duration::hours(1), now)
        .await?
    {
        crate::ports::RateDecision::Allowed => Ok(()),
        crate::ports::RateDecision::Limited { until } => Err(Error::RateLimited {
            retry_after: crate::domain::time::seconds_until(now, until),
            code: "rate_limited",
        }),
    }
}

/// The most files one message carries.
pub const MAX_FILES_PER_MESSAGE: usize = 10;
/// How long a never-attached upload is remembered (the bucket deletes its bytes after a day).
pub const PENDING_LIFETIME: Duration = Duration::days(1);

/// Why an upload was refused or cannot be attached, with its documented status and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadRefusal {
    /// 413: the declared size exceeds the purpose's limit.
    TooLarge { limit: u64 },
    /// 415: the content type is not on the purpose's list.
    UnsupportedType,
    /// 400: the storage does not hold the declared bytes (never PUT, or not what was declared).
    Missing,
    /// 400: the upload was asked for another purpose than where it is being attached.
    WrongPurpose,
    /// 409: the upload is attached already; each upload is attached once.
    AlreadyAttached,
}

impl UploadRefusal {
    /// `(status, code, detail)` for `http::problem`.
    pub fn problem(&self) -> (u16, &'static str, String) {
        match self {
            Self::TooLarge { limit } => (
                413,
                "file_too_large",
                format!("A file for this purpose may be at most {limit} bytes."),
            ),
            Self::UnsupportedType => (
                415,
                "unsupported_file_type",
                "This content type is not accepted for this purpose.".into(),
            ),
            Self::Missing => (
                400,
                "upload_missing",
                "The file is not in storage as declared: PUT the exact bytes first.".into(),
            ),
            Self::WrongPurpose => (
                400,
                "upload_purpose_mismatch",
                "This upload was asked for another purpose.".into(),
            ),
            Self::AlreadyAttached => (
                409,
                "upload_already_attached",
                "This upload is attached already.".into(),
            ),
        }
    }
}

/// An upload reserved for a target, its bytes at `key`.
#[derive(Debug, Clone)]
pub struct Attached {
    pub upload: Upload,
    pub key: String,
}

/// The upload rules over the upload store and the object storage. Cheap to clone.
#[derive(Clone)]
pub struct UploadService {
    store: Arc<dyn UploadStore>,
    files: Arc<dyn Files>,
}

/// `size`: a whole number of bytes, at least 1 (JSON numbers like `1.5`, `-1` or `"12"` are not).
fn parse_size(raw: &serde_json::Value) -> std::result::Result<u64, crate::domain::Invalid> {
    match raw.as_u64() {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(crate::domain::Invalid::new(
            "must be a whole number of bytes, at least 1",
        )),
    }
}

impl UploadService {
    pub fn new(store: Arc<dyn UploadStore>, files: Arc<dyn Files>) -> Self {
        Self { store, files }
    }

    /// The upload records (tests read an upload's state through it).
    pub fn store(&self) -> &Arc<dyn UploadStore> {
        &self.store
    }

    /// POST /uploads: validates the declaration, records the upload and presigns its PUT.
    pub async fn request(
        &self,
        owner: &UserId,
        purpose: &str,
        filename: &str,
        content_type: &str,
        size: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(Upload, Presigned)> {
        let mut fields = Fields::default();
        let purpose = fields.take("purpose", Purpose::parse(purpose));
        let filename = fields.take("filename", Filename::parse(filename));
        let content_type = fields.take("content_type", ContentType::parse(content_type));
        let size = fields.take("size", parse_size(size));
        let (purpose, filename, content_type, size) = fields.finish(
            purpose
                .zip(filename)
                .zip(content_type)
                .zip(size)
                .map(|(((p, f), c), s)| (p, f, c, s)),
        )?;
        if !purpose.allows(&content_type) {
            return Err(Error::Upload(UploadRefusal::UnsupportedType));
        }
        if size > purpose.max_size() {
            return Err(Error::Upload(UploadRefusal::TooLarge {
                limit: purpose.max_size(),
            }));
        }
        let upload = Upload {
            id: UploadId::new(),
            owner: *owner,
            purpose,
            filename,
            content_type,
            size,
            state: UploadState::Pending,
            created_at: now,
            expires_at: now + PENDING_LIFETIME,
        };
        let put = self
            .files
            .presign_put(
                &upload.pending_key(),
                upload.content_type.as_str(),
                size,
                now,
                PUT_VALIDITY,
            )
            .await?;
        self.store.put_upload(&upload).await?;
        tracing::info!(upload_id = %upload.id, owner = %owner, purpose = purpose.as_str(), size, "upload requested");
        Ok((upload, put))
    }

    /// A download URL for an avatar (a person's or a room's: an image, shown inline), valid
    /// `GET_VALIDITY`. Only call it for a caller who may see the file.
    pub async fn download_url(&self, key: &str, now: OffsetDateTime) -> Result<String> {
        Ok(self
            .files
            .presign_get(key, &Serve::default(), now, GET_VALIDITY)
            .await?
            .url)
    }

    /// A download URL for a file on a message, valid `GET_VALIDITY`: the storage answers its
    /// declared type and `Content-Disposition` (`domain::disposition`: a download under its
    /// sanitised name, app images inline), whatever the PUT tried to store with it.
    pub async fn file_url(&self, file: &FileRef, now: OffsetDateTime) -> Result<String> {
        let serve = Serve {
            content_type: Some(file.content_type.clone()),
            content_disposition: Some(content_disposition(&file.filename, &file.content_type)),
        };
        Ok(self
            .files
            .presign_get(&file.key, &serve, now, GET_VALIDITY)
            .await?
            .url)
    }

    /// Deletes the objects of files nothing shows any more (a deleted message or room, a
    /// replaced avatar), after the write that dropped them committed. A failure is logged and
    /// leaves the bytes behind (docs/UPLOADS.md): the write already happened and stands.
    pub async fn forget(&self, keys: &[String]) {
        for key in keys {
            match self.files.delete(key).await {
                Ok(()) => tracing::info!(key = %key, "file deleted"),
                Err(e) => tracing::warn!(key = %key, error = ?e, "could not delete a dropped file"),
            }
        }
    }

    /// Download URLs for optional keys, in order.
    pub async fn download_urls(
        &self,
        keys: &[Option<&str>],
        now: OffsetDateTime,
    ) -> Result<Vec<Option<String>>> {
        let mut urls = Vec::with_capacity(keys.len());
        for key in keys {
            urls.push(match key {
                Some(k) => Some(self.download_url(k, now).await?),
                None => None,
            });
        }
        Ok(urls)
    }

    /// Reserves the caller's upload `raw_id` (sent as `field`) for a target of `purpose` and
    /// moves its bytes to their lasting key. See the module doc for the order of checks.
    pub async fn attach(
        &self,
        owner: &UserId,
        field: &str,
        raw_id: &str,
        purpose: Purpose,
        now: OffsetDateTime,
    ) -> Result<Attached> {
        let id = UploadId::parse(raw_id).map_err(|e| Error::field(field, e))?;
        let upload = match self.store.upload(&id).await? {
            Some(u) if u.owner == *owner => u,
            _ => return Err(Error::NotFound("upload")),
        };
        if upload.purpose != purpose {
            return Err(Error::Upload(UploadRefusal::WrongPurpose));
        }
        if upload.state == UploadState::Attached {
            return Err(Error::Upload(UploadRefusal::AlreadyAttached));
        }
        if now >= upload.expires_at {
            return Err(Error::NotFound("upload"));
        }
        let stored = self.files.head(&upload.pending_key()).await?;
        let as_declared = stored.is_some_and(|o| {
            o.size == upload.size && o.content_type.as_deref() == Some(upload.content_type.as_str())
        });
        if !as_declared {
            return Err(Error::Upload(UploadRefusal::Missing));
        }
        match self.store.mark_attached(&id, now).await {
            Ok(()) => {}
            Err(AttachError::NotPending) => {
                return Err(Error::Upload(UploadRefusal::AlreadyAttached));
            }
            Err(AttachError::Unexpected(e)) => return Err(e.into()),
        }
        let key = upload.file_key();
        if let Err(e) = self
            .files
            .copy(&upload.pending_key(), &key, upload.content_type.as_str())
            .await
        {
            self.release_logged(&upload).await;
            return Err(e.into());
        }
        tracing::info!(upload_id = %id, owner = %owner, purpose = purpose.as_str(), "upload attached");
        Ok(Attached { upload, key })
    }

    /// Reserves 1 to `MAX_FILES_PER_MESSAGE` distinct uploads of the caller's for one message (all
    /// or none: when one cannot be attached, those already reserved are given back).
    pub async fn attach_message_files(
        &self,
        owner: &UserId,
        raw_ids: &[String],
        now: OffsetDateTime,
    ) -> Result<Vec<Attached>> {
        let count_error = |message: &str| {
            Error::Validation(vec![crate::error::FieldError::new("upload_ids", message)])
        };
        if raw_ids.is_empty() || raw_ids.len() > MAX_FILES_PER_MESSAGE {
            return Err(count_error("must list 1 to 10 uploads"));
        }
        let mut ids = Vec::with_capacity(raw_ids.len());
        for (i, raw) in raw_ids.iter().enumerate() {
            let id =
                UploadId::parse(raw).map_err(|e| Error::field(&format!("upload_ids[{i}]"), e))?;
            if ids.contains(&id) {
                return Err(count_error("must not list an upload twice"));
            }
            ids.push(id);
        }
        let mut attached: Vec<Attached> = Vec::with_capacity(raw_ids.len());
        for (i, raw) in raw_ids.iter().enumerate() {
            let field = format!("upload_ids[{i}]");
            match self.attach(owner, &field, raw, Purpose::Message, now).await {
                Ok(a) => attached.push(a),
                Err(e) => {
                    for a in &attached {
                        self.release(a).await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(attached)
    }

    /// Gives reserved uploads back when the write they were reserved for failed.
    pub async fn release_all(&self, attached: &[Attached]) {
        for a in attached {
            self.release(a).await;
        }
    }

    /// Download URLs of `keys`, by key (each signed once however often it appears).
    pub async fn url_map<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
        now: OffsetDateTime,
    ) -> Result<std::collections::HashMap<String, String>> {
        let mut urls = std::collections::HashMap::new();
        for key in keys {
            if !urls.contains_key(key) {
                urls.insert(key.to_owned(), self.download_url(key, now).await?);
            }
        }
        Ok(urls)
    }

    /// Gives a reserved upload back when the write it was reserved for failed.
    pub async fn release(&self, attached: &Attached) {
        self.release_logged(&attached.upload).await;
    }

    async fn release_logged(&self, upload: &Upload) {
        if let Err(e) = self.store.release(upload).await {
            tracing::warn!(upload_id = %upload.id, error = ?e, "could not release an upload");
        }
    }
}
