//! The mailer on Amazon SES (v2 API). Message bodies carry codes and links, so they are never
//! logged; a failure is reported with its SES error code only.

use crate::ports::{Mail, Mailer};
use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    /// `from` must be an identity verified in SES (`MAIL_FROM`).
    pub fn new(config: &aws_config::SdkConfig, from: String) -> Self {
        Self {
            client: aws_sdk_sesv2::Client::new(config),
            from,
        }
    }
}

fn content(text: &str) -> anyhow::Result<Content> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .context("SES content")
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(
                Body::builder()
                    .text(content(&mail.text)?)
                    .html(content(&mail.html)?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "SES SendEmail failed: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(())
    }
}
