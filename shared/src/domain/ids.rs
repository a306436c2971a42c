//! Opaque identifiers. UUIDv7, so ids sort by creation time in keys and listings.

use super::Invalid;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                Uuid::try_parse(raw.trim()).map(Self).map_err(|_| Invalid::new("must be an id"))
            }

            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

id_type!(
    /// An account.
    UserId
);
id_type!(
    /// One pending signup (each signup has its own code).
    SignupId
);
id_type!(
    /// One login: the chain of refresh tokens that rotate from it.
    SessionId
);
id_type!(
    /// One money movement (deposit, transfer or donation).
    TransferId
);
id_type!(
    /// A donate link.
    DonateLinkId
);
