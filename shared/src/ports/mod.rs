//! One trait per collaborator, named by role. Services depend on these; adapters implement them.

mod accounts;
mod chat;
mod clock;
mod connection_api;
mod connections;
mod files;
mod ledger;
mod mailer;
mod outbox;
mod push;
mod sliding_window;
mod uploads;

pub use accounts::{
    AccountStore, CreateUserError, Page, RateDecision, StoreError, UpdateUserError, window_start,
};
pub use chat::{
    AddMembersError, ChatStore, CreateRoomError, MAX_MEMBERS_PER_CHANGE, Pinned, Purge, Reacted,
    RoomDeletion,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use connection_api::{ConnectionApi, PostError};
pub use connections::ConnectionStore;
pub use files::{Files, Presigned, Serve, StoredObject};
pub use ledger::{
    Claim, ClaimOutcome, IdemScope, LedgerStore, MoveError, Movement, RefundCap, StoredAnswer,
};
pub use mailer::{Mail, Mailer};
pub use outbox::{Audience, KINDS, MAX_LISTED, OutboxFeed, Outgoing};
pub use push::{Event, Push, push_or_log};
pub use sliding_window::{SlidingWindow, admit};
pub use uploads::{AttachError, UploadStore};
