//! One trait per collaborator, named by role. Services depend on these; adapters implement them.

mod accounts;
mod clock;
mod files;
mod mailer;
mod push;
mod uploads;

pub use accounts::{
    AccountStore, CreateUserError, Page, RateDecision, StoreError, UpdateUserError, window_start,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use files::{Files, Presigned, StoredObject};
pub use mailer::{Mail, Mailer};
pub use push::{Event, Push, push_or_log};
pub use uploads::{AttachError, UploadStore};
