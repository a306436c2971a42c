//! One trait per collaborator, named by role. Services depend on these; adapters implement them.

mod accounts;
mod clock;
mod mailer;

pub use accounts::{
    AccountStore, CreateUserError, Page, RateDecision, StoreError, UpdateUserError, window_start,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use mailer::{Mail, Mailer};
