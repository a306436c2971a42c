//! The account store on DynamoDB: one table, keys `pk`/`sk`, a `by_username` index for prefix
//! search, TTL on `ttl`. Item layout never leaves this module:
//!
//! | pk | sk | what |
//! |---|---|---|
//! | `USER#{id}` | `PROFILE` | the account (`gsi1pk = USERNAMES#{first letter}`, `gsi1sk = username`) |
//! | `USERNAME#{name}` / `EMAIL#{email}` | `GUARD` | uniqueness claims, written in the same transaction as the account |
//! | `SIGNUP#{id}` | `SIGNUP` | a pending signup |
//! | `SESSION#{id}` | `SESSION` | a login |
//! | `REFRESH#{sha256}` | `REFRESH` | a refresh token of a session |
//! | `USER#{id}` | `RESET` | the newest password-reset ticket |
//! | `USER#{id}` | `BLOCK#{id}` | a block |
//! | `TALLY#{key}` | `TALLY` | password guesses (per account, login name, address) and their lock |
//! | `RATE#{key}#{window}` | `RATE` | a fixed-window counter |
//! | `UPLOAD#{id}` | `UPLOAD` | an upload: owner, purpose, declared type and size, state (`uploads.rs`) |
//! | `WALLET#{user}` | `WALLET` | a wallet: `balance`, `version` (bumped by every change), `updated_at` |
//! | `WALLET#{user}` | `ENTRY#{transfer id}` | one ledger entry of that wallet (UUIDv7 ids: newest first by key) |
//! | `WALLET#{user}` | `LINK#{id}` | the owner's copy of a donate link (listing is one query) |
//! | `IDEM#{user}#{sha256(key)}` | `IDEM` | an idempotency record: claim, lease, the first answer (TTL 24 h) |
//! | `LINK#{id}` | `LINK` | a donate link (public view, payment) |
//!
//! The ledger's layout and the requests behind each route: `docs/WALLET.md`.
//!
//! The chat (`DynamoChat`) shares the table with `ROOM#`, `INBOX#` and `WINDOW#` items:
//! see `docs/CHAT.md`.

mod accounts;
mod batch;
mod chat;
mod chat_edits;
mod chat_inbox;
mod chat_invitations;
mod chat_items;
mod chat_pins;
mod chat_purge;
mod chat_reactions;
mod connections;
mod file_items;
mod items;
mod ledger;
mod ledger_items;
pub mod outbox_items;
pub mod schema;
mod stream_feed;
mod tx;
mod uploads;

pub use chat::{CapacityMeter, DynamoChat};
pub use ledger::{DynamoLedger, Meter, Metered};

use aws_sdk_dynamodb::Client;

pub use connections::DynamoConnections;
pub use stream_feed::StreamFeed;

/// The account store over one DynamoDB table.
#[derive(Clone)]
pub struct DynamoAccounts {
    client: Client,
    table: String,
}

impl DynamoAccounts {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }
}
