//! `UploadStore` in memory, honouring the same conditions as the DynamoDB adapter.

use crate::domain::{Upload, UploadId, UploadState};
use crate::ports::{AttachError, StoreError, UploadStore};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

#[derive(Default)]
pub struct MemoryUploads {
    uploads: Mutex<HashMap<UploadId, Upload>>,
}

impl MemoryUploads {
    pub fn new() -> Self {
        Self::default()
    }

    fn uploads(&self) -> std::sync::MutexGuard<'_, HashMap<UploadId, Upload>> {
        self.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl UploadStore for MemoryUploads {
    async fn put_upload(&self, upload: &Upload) -> Result<(), StoreError> {
        let mut uploads = self.uploads();
        if uploads.contains_key(&upload.id) {
            return Err(StoreError::Conflict);
        }
        uploads.insert(upload.id, upload.clone());
        Ok(())
    }

    async fn upload(&self, id: &UploadId) -> Result<Option<Upload>, StoreError> {
        Ok(self.uploads().get(id).cloned())
    }

    async fn mark_attached(&self, id: &UploadId, _now: OffsetDateTime) -> Result<(), AttachError> {
        match self.uploads().get_mut(id) {
            Some(u) if u.state == UploadState::Pending => {
                u.state = UploadState::Attached;
                Ok(())
            }
            _ => Err(AttachError::NotPending),
        }
    }

    async fn release(&self, upload: &Upload) -> Result<(), StoreError> {
        match self.uploads().get_mut(&upload.id) {
            Some(u) if u.state == UploadState::Attached => {
                u.state = UploadState::Pending;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
}

impl crate::adapters::memory_expiry::Expiring for MemoryUploads {
    fn drop_expired(&self, now: OffsetDateTime) -> usize {
        // Only a pending upload carries a `ttl` on DynamoDB; an attached one is kept.
        crate::adapters::memory_expiry::retain_live(&mut self.uploads(), |_, u| {
            u.state != crate::domain::UploadState::Pending || now < u.expires_at
        })
    }
}
