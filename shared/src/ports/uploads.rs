//! The record of every upload (owner, purpose, what was declared, whether it is attached).
//! Attaching is one conditional write, so one upload is attached at most once however many
//! requests race for it.

use crate::domain::{Upload, UploadId};
use crate::ports::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The upload is not pending any more (attached by another request) or does not exist.
    #[error("the upload is not pending")]
    NotPending,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Stores a new upload; its id must be new.
    async fn put_upload(&self, upload: &Upload) -> Result<(), StoreError>;
    async fn upload(&self, id: &UploadId) -> Result<Option<Upload>, StoreError>;
    /// Marks a pending upload attached (and no longer expiring), if it is still pending.
    async fn mark_attached(&self, id: &UploadId, now: OffsetDateTime) -> Result<(), AttachError>;
    /// Undoes `mark_attached` when the write it reserved the upload for failed.
    async fn release(&self, upload: &Upload) -> Result<(), StoreError>;
}
