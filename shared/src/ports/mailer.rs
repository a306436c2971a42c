//! Outgoing email. Implemented by SES in the cloud and by the outbox locally.

use async_trait::async_trait;

/// One message to one recipient. Bodies may carry a code or link: adapters must never log them.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The subject carries the signup code, the bodies codes and links, the recipient is
        // personal data: nothing of a mail is fit for a log line.
        f.debug_struct("Mail").finish_non_exhaustive()
    }
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: Mail) -> anyhow::Result<()>;
}
