//! `UploadStore` on the accounts table: one item per upload, `pk = UPLOAD#{id}`, `sk = UPLOAD`.
//! A pending upload carries `ttl` (DynamoDB drops it a day after it was asked for, like the
//! bucket drops its bytes); attaching is an `UpdateItem` conditioned on `state = pending` that
//! also removes the `ttl`, so an attached upload is kept and attached only once.

use super::DynamoAccounts;
use super::items::{Item, Read, key, n, s, sdk_error};
use crate::domain::time::{from_millis, to_millis};
use crate::domain::{ContentType, Filename, Purpose, Upload, UploadId, UploadState, UserId};
use crate::ports::{AttachError, StoreError, UploadStore};
use anyhow::anyhow;
use async_trait::async_trait;
use time::OffsetDateTime;

fn upload_key(id: &UploadId) -> Item {
    key(format!("UPLOAD#{id}"), "UPLOAD")
}

fn state_name(state: UploadState) -> &'static str {
    match state {
        UploadState::Pending => "pending",
        UploadState::Attached => "attached",
    }
}

fn upload_item(u: &Upload) -> Item {
    let mut item = upload_key(&u.id);
    item.extend(
        [
            ("id", s(u.id.to_string())),
            ("owner", s(u.owner.to_string())),
            ("purpose", s(u.purpose.as_str())),
            ("filename", s(u.filename.as_str())),
            ("content_type", s(u.content_type.as_str())),
            ("size", n(u.size)),
            ("state", s(state_name(u.state))),
            ("created_at", n(to_millis(u.created_at))),
            ("expires_at", n(to_millis(u.expires_at))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v)),
    );
    if u.state == UploadState::Pending {
        item.insert("ttl".into(), n(u.expires_at.unix_timestamp()));
    }
    item
}

fn upload_from(item: &Item) -> anyhow::Result<Upload> {
    let r = Read(item);
    fn invalid(what: &'static str) -> impl Fn(crate::domain::Invalid) -> anyhow::Error {
        move |e| anyhow!("stored {what}: {e}")
    }
    Ok(Upload {
        id: UploadId::parse(r.s("id")?).map_err(invalid("upload id"))?,
        owner: UserId::parse(r.s("owner")?).map_err(invalid("owner"))?,
        purpose: Purpose::parse(r.s("purpose")?).map_err(invalid("purpose"))?,
        filename: Filename::parse(r.s("filename")?).map_err(invalid("filename"))?,
        content_type: ContentType::parse(r.s("content_type")?).map_err(invalid("content type"))?,
        size: r.n("size")?,
        state: match r.s("state")? {
            "pending" => UploadState::Pending,
            "attached" => UploadState::Attached,
            other => return Err(anyhow!("stored upload state {other:?}")),
        },
        created_at: from_millis(r.n("created_at")?),
        expires_at: from_millis(r.n("expires_at")?),
    })
}

impl DynamoAccounts {
    /// Sets `state` from `from` to `to` (and the TTL to match), if it is still `from`.
    async fn switch_upload_state(
        &self,
        id: &UploadId,
        from: UploadState,
        to: UploadState,
        ttl: Option<i64>,
    ) -> Result<bool, anyhow::Error> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(upload_key(id)))
            .condition_expression("#state = :from")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":from", s(state_name(from)))
            .expression_attribute_values(":to", s(state_name(to)));
        update = match ttl {
            Some(at) => update
                .update_expression("SET #state = :to, #ttl = :ttl")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":ttl", n(at)),
            None => update
                .update_expression("SET #state = :to REMOVE #ttl")
                .expression_attribute_names("#ttl", "ttl"),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("UpdateItem")(e)),
        }
    }
}

#[async_trait]
impl UploadStore for DynamoAccounts {
    async fn put_upload(&self, upload: &Upload) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(upload_item(upload)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(StoreError::Unexpected(sdk_error("PutItem")(e))),
        }
    }

    async fn upload(&self, id: &UploadId) -> Result<Option<Upload>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(upload_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        Ok(out.item.as_ref().map(upload_from).transpose()?)
    }

    async fn mark_attached(&self, id: &UploadId, _now: OffsetDateTime) -> Result<(), AttachError> {
        match self
            .switch_upload_state(id, UploadState::Pending, UploadState::Attached, None)
            .await?
        {
            true => Ok(()),
            false => Err(AttachError::NotPending),
        }
    }

    async fn release(&self, upload: &Upload) -> Result<(), StoreError> {
        let ttl = Some(upload.expires_at.unix_timestamp());
        match self
            .switch_upload_state(&upload.id, UploadState::Attached, UploadState::Pending, ttl)
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::Conflict),
        }
    }
}
