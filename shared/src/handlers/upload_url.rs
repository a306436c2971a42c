//! The `upload-url` function: POST /uploads. Declares a file (purpose, filename, content type,
//! size) and answers with a presigned PUT for exactly those bytes.

use super::{Context, Function, respond};
use crate::domain::time::rfc3339;
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, request, response};
use crate::security::jwt::TokenVerifier;
use crate::services::auth::{Authenticator, Principal};
use crate::services::uploads::{UploadService, count_upload_request};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `size` stays a raw JSON value so `0`, `-1`, `1.5` and `"12"` all get the same field error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadBody {
    purpose: String,
    filename: String,
    content_type: String,
    size: serde_json::Value,
}

/// `{upload_id, method: "PUT", url, headers, expires_at}`.
#[derive(Serialize)]
struct UploadView {
    upload_id: String,
    method: &'static str,
    url: String,
    headers: BTreeMap<String, String>,
    expires_at: String,
}

pub struct UploadUrl {
    ctx: Context,
    auth: Authenticator,
    uploads: UploadService,
}

impl UploadUrl {
    pub fn new(ctx: Context, verifier: TokenVerifier, uploads: UploadService) -> Self {
        let auth = Authenticator::new(ctx.store.clone(), verifier);
        Self { ctx, auth, uploads }
    }

    async fn route(&self, me: Principal, key: &str, req: &Request) -> Result<Response<Body>> {
        match key {
            "POST /uploads" => {
                let now = self.ctx.clock.now();
                count_upload_request(self.ctx.store.as_ref(), &me.user.id, now).await?;
                let body: UploadBody = request::json_body(req)?;
                let (upload, put) = self
                    .uploads
                    .request(
                        &me.user.id,
                        &body.purpose,
                        &body.filename,
                        &body.content_type,
                        &body.size,
                        now,
                    )
                    .await?;
                Ok(response::json(
                    201,
                    &UploadView {
                        upload_id: upload.id.to_string(),
                        method: "PUT",
                        url: put.url,
                        headers: put.headers.into_iter().collect(),
                        expires_at: rfc3339(put.expires_at),
                    },
                ))
            }
            _ => Err(Error::NoRoute),
        }
    }
}

#[async_trait]
impl Function for UploadUrl {
    async fn handle(&self, req: Request) -> Response<Body> {
        respond(
            async {
                let key = super::own_route(&req, "upload-url")?;
                let me = self
                    .auth
                    .principal(request::bearer(&req), self.ctx.clock.now())
                    .await?;
                self.route(me, &key, &req).await
            }
            .await,
        )
    }
}
