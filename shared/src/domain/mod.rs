//! Values and rules with no I/O. Every type here is parsed once at the boundary and can only hold
//! a valid value afterwards, so services never re-check shapes.

mod address;
mod chat;
mod chat_records;
mod connection;
pub mod disposition;
mod email;
mod group_adds;
mod idempotency;
mod ids;
mod invalid;
mod ledger;
mod money;
mod otp;
mod outgoing;
mod password;
mod pins;
mod profile_text;
mod public_profile;
mod reactions;
mod records;
mod role;
pub mod time;
mod upload;
mod username;

pub use address::ClientAddress;
pub use chat::{ClientId, MemberRole, MessageText, Posting, RoomDescription, RoomKind, RoomName};
pub use chat_records::{
    DELETED_MEMORY, Invitation, Member, Membership, Message, PREVIEW_CHARS, REPLY_PREVIEW_CHARS,
    ReplyTo, Room,
};
pub use connection::{
    CONNECTION_LIFETIME, Connection, ConnectionId, MAX_CONNECTIONS_PER_USER, Opened,
    SUBSCRIPTION_SHARDS, SessionBinding, TICKET_LIFETIME, WsTicket, subscription_shard,
};
pub use email::Email;
pub use group_adds::GroupAdds;
pub use idempotency::IdempotencyKey;
pub use ids::{DonateLinkId, MessageId, RoomId, SessionId, SignupId, TransferId, UserId};
pub use invalid::Invalid;
pub use ledger::{Direction, DonateLink, Entry, Party, Refunded, Transfer, TransferKind, Wallet};
pub use money::{Amount, Currency, Description, MAX_AMOUNT};
pub use otp::OtpCode;
pub use outgoing::{CapDecision, SentByHour};
pub use password::Password;
pub use pins::{MAX_PINS, Pin};
pub use profile_text::{Bio, PersonName};
pub use public_profile::PublicProfile;
pub use reactions::{Emoji, MAX_REACTIONS_PER_PERSON, REACTION_EMOJI, ReactionCounts};
pub use records::{PendingSignup, RefreshRecord, ResetTicket, Session, Tally, TokenHash, User};
pub use role::Role;
pub use upload::{ContentType, FileRef, Filename, Purpose, Upload, UploadId, UploadState};
pub use username::Username;
