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
id_type!(
    /// A chat room. Groups and channels get a fresh UUIDv7; a direct room's id is derived from
    /// its two people (`Room::direct_id`), so there is exactly one per pair and nobody can squat it.
    RoomId
);
id_type!(
    /// A message in a room.
    MessageId
);

impl RoomId {
    /// The one id of the direct room of `a` and `b`, whichever of them asks: a UUIDv8 made from
    /// a hash of the two ids in order.
    pub fn direct(a: &UserId, b: &UserId) -> Self {
        use sha2::{Digest, Sha256};
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut hash = Sha256::new();
        hash.update(b"chatman-direct-room");
        hash.update(lo.as_bytes());
        hash.update(hi.as_bytes());
        let digest = hash.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        // Version 8 ("custom") and the RFC variant, so it is a well-formed UUID like any other id.
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Self(Uuid::from_bytes(bytes))
    }
}

impl MessageId {
    /// A fresh UUIDv7 that sorts after `prev`, even when this machine's clock is behind the one
    /// that made `prev`: a room's message ids grow with its sequence, so history paged by id
    /// never skips a message that arrives meanwhile.
    pub fn after(prev: Option<&MessageId>) -> Self {
        let fresh = Self::new();
        match prev {
            Some(p) if *p >= fresh => Self(Uuid::from_u128(p.0.as_u128() + 1)),
            _ => fresh,
        }
    }
}
