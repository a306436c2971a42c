//! Login cost: the `token` handler answering `POST /auth/token` (in process, memory store) versus
//! one bare argon2id hash with the same parameters. Login is one argon2id verification plus
//! everything around it (parsing, store look-ups, session, refresh token, JWT signing); the ratio
//! shows what that "everything else" costs.

use anyhow::{Context as _, bail};
use argon2::{Algorithm, Argon2, Params, Version};
use chatman::adapters::memory::MemoryAccounts;
use chatman::domain::{Email, Password, PendingSignup, SignupId, User, UserId, Username};
use chatman::handlers::{Context, Function, token::Token};
use chatman::http::apigw::{Incoming, to_event, to_request};
use chatman::ports::{AccountStore, SystemClock};
use chatman::security::jwt::{TokenScope, TokenSigner};
use chatman::security::passwords;
use chatman::settings::Settings;
use std::sync::Arc;
use std::time::{Duration, Instant};

const USERNAME: &str = "benchuser";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// Untimed rounds of each before measuring (first allocation of the 19 MiB, lazy statics).
const WARMUP: usize = 2;

/// The OWASP baseline `security::passwords` uses: m = 19 MiB, t = 2, p = 1, 32-byte output.
pub const M_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

pub struct LoginTimes {
    pub login: Vec<Duration>,
    pub hash: Vec<Duration>,
}

impl LoginTimes {
    /// Median of login/hash over adjacent pairs: less sensitive to slow drift of the machine's
    /// speed than the ratio of the two medians.
    pub fn paired_ratio(&self) -> f64 {
        let mut r: Vec<f64> = self
            .login
            .iter()
            .zip(&self.hash)
            .map(|(l, h)| l.as_secs_f64() / h.as_secs_f64())
            .collect();
        r.sort_by(f64::total_cmp);
        let n = r.len();
        if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            r[n / 2]
        } else {
            (r[n / 2 - 1] + r[n / 2]) / 2.0
        }
    }
}

fn login_request() -> anyhow::Result<chatman::http::Request> {
    let body = serde_json::to_vec(&serde_json::json!({ "login": USERNAME, "password": PASSWORD }))?;
    to_request(to_event(&Incoming {
        method: "POST",
        path: "/auth/token",
        raw_query: "",
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("user-agent".into(), "chatman-bench".into()),
            ("host".into(), "bench.local".into()),
        ],
        body: &body,
        route_key: "POST /auth/token",
        path_params: vec![],
        source_ip: "127.0.0.1".into(),
        host: "bench.local".into(),
    }))
}

/// Puts `benchuser` in the store the way verification does: a pending signup turned into a user.
async fn seed(store: &MemoryAccounts) -> anyhow::Result<()> {
    let password = Password::presented(PASSWORD)?;
    let password_hash = passwords::hash(&password).await?;
    let now = time::OffsetDateTime::now_utc();
    let signup = PendingSignup {
        id: SignupId::new(),
        username: Username::parse(USERNAME)?,
        email: Email::parse(EMAIL)?,
        password_hash: password_hash.clone(),
        first_name: "Bench".into(),
        last_name: "Mark".into(),
        bio: String::new(),
        email_taken: false,
        code_hash: [0; 32],
        code_round: 0,
        code_expires_at: now + time::Duration::minutes(10),
        failed_attempts: 0,
        resends: 0,
        last_sent_at: now,
        created_at: now,
        expires_at: now + time::Duration::days(1),
        version: 0,
    };
    store.put_signup(&signup).await?;
    let user = User {
        id: UserId::new(),
        username: signup.username.clone(),
        email: signup.email.clone(),
        password_hash,
        first_name: signup.first_name.clone(),
        last_name: signup.last_name.clone(),
        bio: String::new(),
        avatar_key: None,
        role: Default::default(),
        group_adds: Default::default(),
        created_at: now,
        session_epoch: 0,
        version: 0,
    };
    store.create_user(&user, &signup).await?;
    Ok(())
}

async fn login_once(token: &Token) -> anyhow::Result<Duration> {
    let req = login_request()?;
    let started = Instant::now();
    let res = token.handle(req).await;
    let took = started.elapsed();
    let body = String::from_utf8_lossy(res.body().as_ref()).into_owned();
    if res.status() != 200 || !body.contains("access_token") {
        bail!("login did not succeed: {} {body}", res.status());
    }
    Ok(took)
}

fn hash_once(argon: &Argon2<'_>, round: usize) -> anyhow::Result<Duration> {
    let mut salt = [0x5a; 16];
    salt[..8].copy_from_slice(&(round as u64).to_le_bytes());
    let mut out = [0u8; 32];
    let started = Instant::now();
    argon
        .hash_password_into(PASSWORD.as_bytes(), &salt, &mut out)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let took = started.elapsed();
    std::hint::black_box(&out);
    Ok(took)
}

/// `rounds` successful logins and `rounds` raw hashes, in adjacent pairs so that background load
/// and drift hit both alike. The runtime is current-thread like the functions'; the login's hash runs on
/// its blocking pool exactly as on Lambda.
pub fn run(rounds: usize) -> anyhow::Result<LoginTimes> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let scope = TokenScope {
            issuer: "chatman".into(),
            audience: "chatman-api".into(),
        };
        let store = Arc::new(MemoryAccounts::new());
        seed(&store).await.context("seeding the user")?;
        let ctx = Context {
            store,
            clock: Arc::new(SystemClock),
            settings: Arc::new(Settings::new("", "http://127.0.0.1:3000", scope.clone())),
            ledger: Arc::new(chatman::adapters::memory_ledger::MemoryLedger::new()),
        };
        // Login closes no socket: an empty connection store and an `@connections` that records.
        let sockets = chatman::services::socket_sweep::SocketSweep::new(
            Arc::new(
                chatman::adapters::memory_connections::MemoryConnections::new(ctx.store.clone()),
            ),
            Arc::new(chatman::adapters::recording_connection_api::RecordingConnectionApi::new()),
            ctx.clock.clone(),
        );
        let token = Token::new(ctx, TokenSigner::ephemeral(scope), sockets);
        let params = Params::new(M_KIB, T_COST, P_COST, Some(32))
            .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);

        for round in 0..WARMUP {
            login_once(&token).await?;
            hash_once(&argon, round)?;
        }
        let mut times = LoginTimes {
            login: Vec::with_capacity(rounds),
            hash: Vec::with_capacity(rounds),
        };
        for round in 0..rounds {
            // Alternate which goes first, so neither always follows the other's memory traffic.
            if round % 2 == 0 {
                times.login.push(login_once(&token).await?);
                times.hash.push(hash_once(&argon, WARMUP + round)?);
            } else {
                times.hash.push(hash_once(&argon, WARMUP + round)?);
                times.login.push(login_once(&token).await?);
            }
        }
        Ok(times)
    })
}
