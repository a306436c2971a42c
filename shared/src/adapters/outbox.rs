//! The local mailer: keeps every mail for `GET /_local/outbox` and, when asked, prints it to the
//! console so a person running the local server can read their code. Never used in the cloud.

use crate::ports::{Mail, Mailer};
use async_trait::async_trait;
use std::sync::Mutex;
use time::OffsetDateTime;

/// A mail as the outbox keeps it.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub mail: Mail,
    pub sent_at: OffsetDateTime,
}

#[derive(Default)]
pub struct Outbox {
    sent: Mutex<Vec<SentMail>>,
    echo: bool,
    latency: std::time::Duration,
}

/// The outbox keeps at most this many mails, dropping the oldest.
const CAPACITY: usize = 10_000;

impl Outbox {
    /// `echo`: print each mail to standard output (the local server does; tests don't).
    pub fn new(echo: bool) -> Self {
        Self {
            sent: Mutex::new(Vec::new()),
            echo,
            latency: std::time::Duration::ZERO,
        }
    }

    /// Takes `latency` to send each mail, as a real mail service does: lets a person or a test
    /// see how the API behaves when mail is slow (forgot-password must not answer faster for
    /// unknown emails, for one).
    pub fn with_latency(self, latency: std::time::Duration) -> Self {
        Self { latency, ..self }
    }

    /// Mails to `to` (any case), newest first; all mails when `to` is `None`.
    pub fn to(&self, to: Option<&str>) -> Vec<SentMail> {
        let to = to.map(|t| t.trim().to_lowercase());
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.iter()
            .rev()
            .filter(|m| {
                to.as_deref()
                    .is_none_or(|t| m.mail.to.eq_ignore_ascii_case(t))
            })
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if self.echo {
            println!(
                "\n----- email to {} -----\nSubject: {}\n\n{}\n-----------------------\n",
                mail.to, mail.subject, mail.text
            );
        }
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if sent.len() >= CAPACITY {
            sent.remove(0);
        }
        sent.push(SentMail {
            mail,
            sent_at: OffsetDateTime::now_utc(),
        });
        Ok(())
    }
}
