//! Item mapping of the files attached to a message: a list of maps (upload id, filename,
//! content type, size, storage key) under the message's `files` attribute, absent when the
//! message has none (so text messages stored before files existed read back unchanged).

use super::items::{Item, Read, n, s};
use crate::domain::{FileRef, UploadId};
use anyhow::anyhow;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// The attribute name on a message (and on a room's `last` map).
pub const FILES: &str = "files";

/// Adds `files` to a message's item when there are any.
pub fn put_files(item: &mut Item, files: &[FileRef]) {
    if files.is_empty() {
        return;
    }
    let list = files
        .iter()
        .map(|f| {
            AttributeValue::M(HashMap::from([
                ("upload_id".to_owned(), s(f.upload_id.to_string())),
                ("filename".to_owned(), s(&f.filename)),
                ("content_type".to_owned(), s(&f.content_type)),
                ("size".to_owned(), n(f.size)),
                ("key".to_owned(), s(&f.key)),
            ]))
        })
        .collect();
    item.insert(FILES.to_owned(), AttributeValue::L(list));
}

/// The files of a message's item (none when the attribute is absent).
pub fn files_from(item: &Item) -> anyhow::Result<Vec<FileRef>> {
    let Some(value) = item.get(FILES) else {
        return Ok(vec![]);
    };
    let AttributeValue::L(list) = value else {
        return Err(anyhow!("attribute files is not a list"));
    };
    list.iter()
        .map(|v| {
            let AttributeValue::M(map) = v else {
                return Err(anyhow!("files holds a non-map"));
            };
            let r = Read(map);
            Ok(FileRef {
                upload_id: UploadId::parse(r.s("upload_id")?)
                    .map_err(|e| anyhow!("stored upload id is invalid: {e}"))?,
                filename: r.s("filename")?.to_owned(),
                content_type: r.s("content_type")?.to_owned(),
                size: r.n("size")?,
                key: r.s("key")?.to_owned(),
            })
        })
        .collect()
}
