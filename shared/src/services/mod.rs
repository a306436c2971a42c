//! Use cases, one module per family. Rules live here, written once, over the ports; handlers only
//! parse and map.

pub mod admin;
pub mod auth;
pub mod chat;
pub mod chat_links;
pub mod chat_transfers;
pub mod chat_views;
pub mod delivery;
pub mod invitations;
pub mod lockout;
mod mails;
pub mod message_edits;
pub mod message_files;
pub mod message_replies;
pub mod messages;
pub mod password;
pub mod pins;
pub mod profile;
pub mod reactions;
pub mod realtime;
pub mod refunds;
pub mod room_index;
pub mod room_purge;
pub mod rooms;
pub mod send_limit;
pub mod sessions;
pub mod signup;
pub mod socket_sweep;
pub mod throttle;
pub mod uploads;
pub mod wallet;

/// How often a version-checked write is retried after losing a race before giving up.
pub(crate) const CONFLICT_RETRIES: usize = 4;
