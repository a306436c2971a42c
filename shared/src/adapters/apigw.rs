//! `ConnectionApi` on `aws-sdk-apigatewaymanagement`: API Gateway's `@connections` API. The
//! endpoint is the WebSocket API's stage (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`),
//! or the local server's WebSocket listener, which serves the same API: the very same code runs
//! in both places.

use crate::domain::ConnectionId;
use crate::ports::{ConnectionApi, PostError};
use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::primitives::Blob;

/// The management API of one WebSocket API stage.
#[derive(Clone)]
pub struct ApiGatewayConnections {
    client: Client,
}

impl ApiGatewayConnections {
    /// A client for `endpoint`, over the shared AWS configuration (its lean HTTPS client,
    /// credentials and region).
    pub fn new(aws: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(aws)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }
}

fn unexpected<E, R>(
    op: &'static str,
    e: aws_sdk_apigatewaymanagement::error::SdkError<E, R>,
) -> PostError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    PostError::Unexpected(anyhow!(
        "API Gateway {op}: {}",
        aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e)
    ))
}

#[async_trait]
impl ConnectionApi for ApiGatewayConnections {
    async fn post(&self, id: &ConnectionId, frame: &[u8]) -> Result<(), PostError> {
        match self
            .client
            .post_to_connection()
            .connection_id(id.as_str())
            .data(Blob::new(frame))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => {
                Err(PostError::Gone)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_limit_exceeded_exception())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 429) =>
            {
                Err(PostError::Throttled)
            }
            Err(e) => Err(unexpected("PostToConnection", e)),
        }
    }

    async fn close(&self, id: &ConnectionId) -> Result<(), PostError> {
        match self
            .client
            .delete_connection()
            .connection_id(id.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => {
                Err(PostError::Gone)
            }
            Err(e) => Err(unexpected("DeleteConnection", e)),
        }
    }
}
