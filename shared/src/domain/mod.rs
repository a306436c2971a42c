//! Values and rules with no I/O. Every type here is parsed once at the boundary and can only hold
//! a valid value afterwards, so services never re-check shapes.

mod chat;
mod chat_records;
mod email;
mod ids;
mod invalid;
mod otp;
mod password;
mod profile_text;
mod records;
mod role;
pub mod time;
mod username;

pub use chat::{ClientId, MemberRole, MessageText, Posting, RoomDescription, RoomKind, RoomName};
pub use chat_records::{DELETED_MEMORY, Member, Membership, Message, Room};
pub use email::Email;
pub use ids::{MessageId, RoomId, SessionId, SignupId, UserId};
pub use invalid::Invalid;
pub use otp::OtpCode;
pub use password::Password;
pub use profile_text::{Bio, PersonName};
pub use records::{
    LoginFailures, PendingSignup, RefreshRecord, ResetTicket, Session, TokenHash, User,
};
pub use role::Role;
pub use username::Username;
