//! The shape checks of a message's `upload_ids`, done with the other fields before anything is
//! read or reserved: 1 to `MAX_FILES_PER_MESSAGE` well-formed, distinct ids. Ownership, purpose,
//! presence and the attach-once rule are `UploadService::attach_message_files`'s.

use super::uploads::MAX_FILES_PER_MESSAGE;
use crate::domain::{Invalid, UploadId};
use crate::error::Fields;

/// Records every shape problem of `ids` in `fields`.
pub fn check_upload_ids(ids: &[String], fields: &mut Fields) {
    if ids.is_empty() || ids.len() > MAX_FILES_PER_MESSAGE {
        fields.take::<()>(
            "upload_ids",
            Err(Invalid::new(format!(
                "must list 1 to {MAX_FILES_PER_MESSAGE} uploads"
            ))),
        );
        return;
    }
    let mut seen: Vec<UploadId> = Vec::with_capacity(ids.len());
    for (i, raw) in ids.iter().enumerate() {
        if let Some(id) = fields.take(&format!("upload_ids[{i}]"), UploadId::parse(raw)) {
            if seen.contains(&id) {
                fields.take::<()>(
                    &format!("upload_ids[{i}]"),
                    Err(Invalid::new("must not list an upload twice")),
                );
            }
            seen.push(id);
        }
    }
}
