//! WebSocket connections and the single-use tickets that open them.
//!
//! A ticket is 256 random bits given to an authenticated caller by `POST /ws/tickets`; only its
//! hash is stored, for 60 s. `$connect` spends it (once) and records the connection under its
//! owner, so pushes find a user's connections by key and the owner of a frame is known from its
//! connection id alone, never from the frame.
//!
//! Both carry the session that asked for the ticket (its id and the user's session epoch at
//! that moment): a socket lives no longer than its session, so logout, logout-all and a password
//! change or reset end it too.

use super::{Invalid, SessionId, TokenHash, UserId};
use time::{Duration, OffsetDateTime};

/// How long a ticket may wait for its `$connect`.
pub const TICKET_LIFETIME: Duration = Duration::seconds(60);

/// API Gateway ends every WebSocket connection after 2 hours; a record outlives that a little so
/// a late `$disconnect` still finds it, then expires by TTL if `$disconnect` never came.
pub const CONNECTION_LIFETIME: Duration = Duration::minutes(130);

/// Open connections one user may hold: a connect beyond it evicts the oldest, so no single
/// account multiplies every event it is sent (or the connection table) without bound.
pub const MAX_CONNECTIONS_PER_USER: usize = 10;

/// Shards of a room's subscription index (`ROOMSUB#{room}#{shard}`): a send to a large room
/// reads them as parallel tasks, and no one partition takes a whole room's connections.
pub const SUBSCRIPTION_SHARDS: u16 = 16;

/// The shard of the subscription index a connection sits in, the same in every process (FNV-1a
/// of the id: API Gateway's ids are random, so connections spread evenly).
pub fn subscription_shard(id: &ConnectionId) -> u16 {
    let hash = id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % u64::from(SUBSCRIPTION_SHARDS)) as u16
}

/// API Gateway's connection id (e.g. `L0SM9cOFvHcCIhw=`): opaque, printable, short.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok = (1..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=+/_-".contains(&b));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new("must be a connection id"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The session a ticket or a connection belongs to: valid while that session is not revoked
/// and the user's session epoch is still the one it was issued under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionBinding {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub epoch: u64,
}

/// A stored ticket: the hash of the secret, whose session it is, and until when it opens a
/// connection.
#[derive(Debug, Clone, PartialEq)]
pub struct WsTicket {
    pub hash: TokenHash,
    pub session: SessionBinding,
    pub expires_at: OffsetDateTime,
}

/// An open connection, its owner and the session it was opened under.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub id: ConnectionId,
    pub user_id: UserId,
    pub session_id: SessionId,
    /// The user's session epoch when the ticket was issued.
    pub epoch: u64,
    pub connected_at: OffsetDateTime,
    /// When the record lapses if `$disconnect` never removes it (TTL on DynamoDB).
    pub expires_at: OffsetDateTime,
}

impl Connection {
    /// A connection of the session `session` opened at `now`.
    pub fn opened(id: ConnectionId, session: SessionBinding, now: OffsetDateTime) -> Self {
        Self {
            id,
            user_id: session.user_id,
            session_id: session.session_id,
            epoch: session.epoch,
            connected_at: now,
            expires_at: now + CONNECTION_LIFETIME,
        }
    }

    pub fn session(&self) -> SessionBinding {
        SessionBinding {
            user_id: self.user_id,
            session_id: self.session_id,
            epoch: self.epoch,
        }
    }
}

/// A connection just recorded, and the oldest ones of the same user it pushed out (their
/// records are gone; the caller closes their sockets).
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub connection: Connection,
    pub evicted: Vec<ConnectionId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_are_short_printable_tokens() {
        assert!(ConnectionId::parse("L0SM9cOFvHcCIhw=").is_ok());
        assert!(ConnectionId::parse("").is_err());
        assert!(ConnectionId::parse("a b").is_err());
        assert!(ConnectionId::parse("../x").is_err());
        assert!(ConnectionId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn connections_spread_over_every_shard() {
        let mut counts = [0u32; SUBSCRIPTION_SHARDS as usize];
        for i in 0..1_600 {
            let id = ConnectionId::parse(&format!("Conn{i:05}x=")).unwrap();
            let shard = subscription_shard(&id);
            assert_eq!(shard, subscription_shard(&id), "stable");
            counts[usize::from(shard)] += 1;
        }
        // 100 expected per shard; none empty, none hot.
        assert!(
            counts.iter().all(|&c| (50..=150).contains(&c)),
            "{counts:?}"
        );
    }
}
