//! `Files` in memory, for handler tests that need no storage server: objects are what a test
//! puts with `put`, URLs are `memory://` and say which key they sign and how it is to be served
//! (`response-content-type`, `response-content-disposition`, percent-encoded). The real adapter
//! (`s3.rs`) is tested against the local server's signature-checking S3.

use crate::ports::{Files, Presigned, Serve, StoredObject};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

#[derive(Default)]
pub struct MemoryFiles {
    objects: Mutex<HashMap<String, StoredObject>>,
}

impl MemoryFiles {
    pub fn new() -> Self {
        Self::default()
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredObject>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What a client's PUT would leave under `key`.
    pub fn put(&self, key: &str, size: u64, content_type: &str) {
        self.objects().insert(
            key.to_owned(),
            StoredObject {
                size,
                content_type: Some(content_type.to_owned()),
            },
        );
    }

    pub fn contains(&self, key: &str) -> bool {
        self.objects().contains_key(key)
    }
}

#[async_trait]
impl Files for MemoryFiles {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> anyhow::Result<Presigned> {
        Ok(Presigned {
            url: format!("memory://files/{key}?method=PUT"),
            headers: vec![
                ("content-length".into(), size.to_string()),
                ("content-type".into(), content_type.into()),
            ],
            expires_at: now + ttl,
        })
    }

    async fn presign_get(
        &self,
        key: &str,
        serve: &Serve,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> anyhow::Result<Presigned> {
        let mut url = format!("memory://files/{key}?method=GET");
        for (name, value) in [
            ("response-content-type", &serve.content_type),
            ("response-content-disposition", &serve.content_disposition),
        ] {
            if let Some(v) = value {
                url.push_str(&format!(
                    "&{name}={}",
                    crate::domain::disposition::percent_encode(v)
                ));
            }
        }
        Ok(Presigned {
            url,
            headers: vec![],
            expires_at: now + ttl,
        })
    }

    async fn head(&self, key: &str) -> anyhow::Result<Option<StoredObject>> {
        Ok(self.objects().get(key).cloned())
    }

    async fn copy(&self, from: &str, to: &str, content_type: &str) -> anyhow::Result<()> {
        let mut objects = self.objects();
        let object = objects
            .get(from)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no object at {from}"))?;
        objects.insert(
            to.to_owned(),
            StoredObject {
                content_type: Some(content_type.to_owned()),
                ..object
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.objects().remove(key);
        Ok(())
    }
}
