//! Secrets from Secrets Manager, on first use. The adapter is real SDK code; Secrets Manager has no
//! local counterpart, so it is pointed at a small loopback endpoint that speaks its JSON protocol
//! (`X-Amz-Target: secretsmanager.GetSecretValue`, `application/x-amz-json-1.1`), records every
//! request and answers from a table of secrets, or with scripted failures first.
//!
//! What must hold: the real request is signed and names the secret; a secret is fetched once
//! however many requests need it, also when they arrive together; a failure is not kept (the next
//! request tries again); the value never shows in logs, errors or `Debug`; the functions' handlers
//! are built on the first request with the keys from the secrets, and configuration errors name
//! the setting, not its value.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

use chatman::adapters::key_secrets::{OtpKeySecret, SigningKeySecret};
use chatman::adapters::memory::MemoryAccounts;
use chatman::adapters::secrets_manager::SecretOnFirstUse;
use chatman::config;
use chatman::first_use::OnFirstUse;
use chatman::handlers::{Context, Function, routes, token::Token};
use chatman::http::apigw::{Incoming, to_event, to_request};
use chatman::ports::{Clock, SystemClock};
use chatman::security::jwt::TokenScope;
use chatman::security::keys;
use chatman::settings::Settings;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

const OTP_ID: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:chatman-otp-AbCdEf";
const JWT_ID: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:chatman-jwt-AbCdEf";
const OTP_VALUE: &str = "otpSECRETvalue0123456789abcdefghijklmnopqrstuvwx";

#[derive(Debug, Clone)]
struct Seen {
    target: String,
    content_type: String,
    authorization: String,
    body: serde_json::Value,
}

/// The fake: secrets by id, failures to answer first, and every request seen.
#[derive(Clone, Default)]
struct FakeSecretsManager {
    secrets: Arc<Mutex<HashMap<String, String>>>,
    failures: Arc<Mutex<VecDeque<(u16, &'static str)>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeSecretsManager {
    async fn start(secrets: &[(&str, &str)]) -> (String, Self) {
        let fake = Self::default();
        for (id, value) in secrets {
            fake.secrets
                .lock()
                .unwrap()
                .insert(id.to_string(), value.to_string());
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let serving = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let fake = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let fake = fake.clone();
                        async move { Ok::<_, std::convert::Infallible>(fake.answer(req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (url, fake)
    }

    async fn answer(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let body: serde_json::Value =
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        self.seen.lock().unwrap().push(Seen {
            target: header("x-amz-target"),
            content_type: header("content-type"),
            authorization: header("authorization"),
            body: body.clone(),
        });
        let reply = |status: u16, kind: &str, json: String| {
            hyper::Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.1")
                .header("x-amzn-errortype", kind)
                .body(Full::new(Bytes::from(json)))
                .unwrap()
        };
        if let Some((status, kind)) = self.failures.lock().unwrap().pop_front() {
            let message = serde_json::json!({"__type": kind, "Message": "scripted failure"});
            return reply(status, kind, message.to_string());
        }
        let id = body["SecretId"].as_str().unwrap_or("").to_owned();
        match self.secrets.lock().unwrap().get(&id) {
            Some(value) => reply(
                200,
                "",
                serde_json::json!({
                    "ARN": id, "Name": "chatman", "VersionId": "v1",
                    "SecretString": value, "VersionStages": ["AWSCURRENT"],
                    "CreatedDate": 1.7e9,
                })
                .to_string(),
            ),
            None => reply(
                400,
                "ResourceNotFoundException",
                serde_json::json!({"__type": "ResourceNotFoundException",
                    "Message": "Secrets Manager can't find the specified secret."})
                .to_string(),
            ),
        }
    }

    fn fail_next(&self, status: u16, kind: &'static str) {
        self.failures.lock().unwrap().push_back((status, kind));
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn scope() -> TokenScope {
    TokenScope {
        issuer: "chatman-test".into(),
        audience: "chatman-api".into(),
    }
}

fn context() -> Context {
    Context {
        store: Arc::new(MemoryAccounts::new()),
        clock: Arc::new(SystemClock) as Arc<dyn Clock>,
        settings: Arc::new(Settings::new("", "https://app.example", scope())),
        ledger: Arc::new(chatman::adapters::memory_ledger::MemoryLedger::new()),
    }
}

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[tokio::test]
async fn the_adapter_sends_a_signed_getsecretvalue_request_and_reads_the_string() {
    captured_logs();
    let (url, fake) = FakeSecretsManager::start(&[(OTP_ID, OTP_VALUE)]).await;
    let secret = SecretOnFirstUse::new(&chatman::adapters::aws::local(&url), OTP_ID.into());
    assert_eq!(secret.get().await.unwrap().expose(), OTP_VALUE);

    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "secretsmanager.GetSecretValue");
    assert_eq!(seen[0].content_type, "application/x-amz-json-1.1");
    assert_eq!(seen[0].body["SecretId"], OTP_ID);
    assert!(
        seen[0]
            .authorization
            .starts_with("AWS4-HMAC-SHA256 Credential=local/"),
        "{}",
        seen[0].authorization
    );
    assert!(
        seen[0]
            .authorization
            .contains("/secretsmanager/aws4_request")
    );
}

#[tokio::test]
async fn a_secret_is_fetched_once_however_many_requests_need_it_at_once_or_later() {
    captured_logs();
    let (url, fake) = FakeSecretsManager::start(&[(OTP_ID, OTP_VALUE)]).await;
    let aws = chatman::adapters::aws::local(&url);
    let otp = OtpKeySecret::new(SecretOnFirstUse::new(&aws, OTP_ID.into()));
    let together = futures_join_all((0..50).map(|_| {
        let otp = otp.clone();
        tokio::spawn(async move { otp.key().await.map(|_| ()) })
    }))
    .await;
    assert!(together.iter().all(|r| r.is_ok()));
    for _ in 0..50 {
        otp.key().await.unwrap();
    }
    assert_eq!(fake.requests().len(), 1, "one GetSecretValue for 100 uses");
}

/// Awaits every task (the crate has no `futures` dependency to do it for us).
async fn futures_join_all<T>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<anyhow::Result<T>>>,
) -> Vec<anyhow::Result<T>> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_failed_fetch_is_not_kept_the_next_use_tries_again() {
    captured_logs();
    let (url, fake) = FakeSecretsManager::start(&[(OTP_ID, OTP_VALUE)]).await;
    // AccessDenied is not retried by the SDK: one request per failed use.
    fake.fail_next(400, "AccessDeniedException");
    fake.fail_next(400, "AccessDeniedException");
    let secret = SecretOnFirstUse::new(&chatman::adapters::aws::local(&url), OTP_ID.into());
    for _ in 0..2 {
        let error = secret.get().await.unwrap_err().to_string();
        assert!(error.contains("AccessDeniedException"), "{error}");
        assert!(
            error.contains(OTP_ID),
            "the error names the secret: {error}"
        );
    }
    assert_eq!(secret.get().await.unwrap().expose(), OTP_VALUE);
    secret.get().await.unwrap();
    assert_eq!(
        fake.requests().len(),
        3,
        "two failures, one success, then cached"
    );
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every log line of this test binary, at every level (SDK internals included), from the moment
/// the first test asks for it: one global subscriber, as a thread-scoped one misses events that
/// other threads' callsite caches already filtered.
fn captured_logs() -> Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
    .clone()
}

#[tokio::test]
async fn secret_values_never_reach_logs_errors_or_debug_output() {
    let logs = captured_logs();

    let seed = [42u8; 32];
    let (private_pem, public_pem) = keys::pems_of(&seed);
    let private_body = private_pem.lines().nth(1).unwrap().to_owned();
    let bad_pem =
        "-----BEGIN PRIVATE KEY-----\nBADkeyMATERIALthatISsecret\n-----END PRIVATE KEY-----";
    let (url, _fake) =
        FakeSecretsManager::start(&[(OTP_ID, OTP_VALUE), (JWT_ID, &private_pem)]).await;
    let aws = chatman::adapters::aws::local(&url);
    let ctx = context();
    let env = vars(&[
        ("OTP_SECRET_ID", OTP_ID),
        ("JWT_SIGNING_KEY_SECRET_ID", JWT_ID),
        ("JWT_PUBLIC_KEYS", &public_pem),
    ]);
    let otp = config::otp_key_in(&aws, &env).unwrap();
    let signing = config::signer_in(&aws, &ctx, &env).unwrap();
    let (key, signer) = (otp.key().await.unwrap(), signing.signer().await.unwrap());
    let raw = SecretOnFirstUse::new(&aws, OTP_ID.into());
    let text = raw.get().await.unwrap();
    let debug = format!("{otp:?} {signing:?} {key:?} {signer:?} {raw:?} {text:?}");

    // A malformed key is refused without being quoted.
    let (bad_url, _bad) = FakeSecretsManager::start(&[(JWT_ID, bad_pem)]).await;
    let bad = config::signer_in(&chatman::adapters::aws::local(&bad_url), &ctx, &env).unwrap();
    let error = format!("{:#}", bad.signer().await.unwrap_err());
    assert!(
        error.contains(JWT_ID),
        "the error names the secret: {error}"
    );

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("secret fetched"),
        "fetches are logged: {logs}"
    );
    for (name, text) in [("Debug output", &debug), ("logs", &logs), ("error", &error)] {
        for secret in [OTP_VALUE, &private_body, "BADkeyMATERIAL", "-----BEGIN"] {
            assert!(!text.contains(secret), "{name} show a secret: {text}");
        }
    }
}

#[tokio::test]
async fn a_request_for_a_route_the_function_does_not_serve_reads_no_secret() {
    captured_logs();
    let (private_pem, public_pem) = keys::pems_of(&[6; 32]);
    let (url, fake) = FakeSecretsManager::start(&[(JWT_ID, &private_pem)]).await;
    let function = token_function(&url, &public_pem);
    let (route_key, path_params) = routes::match_route("GET", "/me").unwrap();
    let elsewhere = to_request(to_event(&Incoming {
        method: "GET",
        path: "/me",
        raw_query: "",
        headers: vec![("host".into(), "api.test".into())],
        body: b"",
        route_key,
        path_params,
        source_ip: "203.0.113.7".into(),
        host: "api.test".into(),
    }))
    .unwrap();
    assert_eq!(function.handle(elsewhere).await.status(), 404);
    assert!(!function.is_built());
    assert!(fake.requests().is_empty());
    assert_eq!(function.handle(login_request(0)).await.status(), 401);
    assert_eq!(fake.requests().len(), 1);
}

/// A login for an unknown account (each its own name, so no lockout answers instead).
fn login_request(n: usize) -> lambda_http::Request {
    let (route_key, path_params) = routes::match_route("POST", "/auth/token").unwrap();
    let body = format!(r#"{{"login":"nobody{n}","password":"not the password"}}"#);
    let body = body.as_bytes();
    to_request(to_event(&Incoming {
        method: "POST",
        path: "/auth/token",
        raw_query: "",
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("host".into(), "api.test".into()),
        ],
        body,
        route_key,
        path_params,
        source_ip: "203.0.113.7".into(),
        host: "api.test".into(),
    }))
    .unwrap()
}

/// The `token` function as its binary wires it, against the fake.
fn token_function(url: &str, public_pem: &str) -> Arc<OnFirstUse<Token>> {
    let aws = chatman::adapters::aws::local(url);
    let ctx = context();
    let env = vars(&[
        ("JWT_SIGNING_KEY_SECRET_ID", JWT_ID),
        ("JWT_PUBLIC_KEYS", public_pem),
    ]);
    let signer: SigningKeySecret = config::signer_in(&aws, &ctx, &env).unwrap();
    // No WebSockets here: the sockets of ended sessions are looked up in memory, closed nowhere.
    let sockets = chatman::services::socket_sweep::SocketSweep::new(
        Arc::new(chatman::adapters::memory_connections::MemoryConnections::new(ctx.store.clone())),
        Arc::new(chatman::adapters::recording_connection_api::RecordingConnectionApi::new()),
        ctx.clock.clone(),
    );
    Arc::new(OnFirstUse::new("token", move || {
        let (ctx, signer, sockets) = (ctx.clone(), signer.clone(), sockets.clone());
        async move { Ok(Token::new(ctx, signer.signer().await?, sockets)) }
    }))
}

#[tokio::test]
async fn the_token_function_reads_its_signing_key_on_the_first_request_only() {
    captured_logs();
    let (private_pem, public_pem) = keys::pems_of(&[7; 32]);
    let (url, fake) = FakeSecretsManager::start(&[(JWT_ID, &private_pem)]).await;
    let function = token_function(&url, &public_pem);
    assert!(!function.is_built());
    assert!(fake.requests().is_empty(), "nothing is fetched at init");

    let mut tasks = Vec::new();
    for n in 0..20 {
        let function = function.clone();
        tasks.push(tokio::spawn(async move {
            function.handle(login_request(n)).await.status().as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 401, "an unknown login, answered");
    }
    for n in 20..30 {
        assert_eq!(function.handle(login_request(n)).await.status(), 401);
    }
    assert!(function.is_built());
    assert_eq!(fake.requests().len(), 1, "one fetch for 30 requests");
}

#[tokio::test]
async fn when_the_key_cannot_be_read_the_request_fails_and_the_next_one_succeeds() {
    captured_logs();
    let (private_pem, public_pem) = keys::pems_of(&[8; 32]);
    let (url, fake) = FakeSecretsManager::start(&[(JWT_ID, &private_pem)]).await;
    fake.fail_next(400, "AccessDeniedException");
    let function = token_function(&url, &public_pem);
    let first = function.handle(login_request(0)).await;
    assert_eq!(first.status(), 500);
    assert!(!function.is_built());
    assert_eq!(function.handle(login_request(1)).await.status(), 401);
    assert_eq!(function.handle(login_request(2)).await.status(), 401);
    assert_eq!(
        fake.requests().len(),
        2,
        "the failure was retried once, then kept"
    );
}

#[tokio::test]
async fn a_signing_key_the_verifiers_do_not_trust_is_never_used() {
    captured_logs();
    let (private_pem, _) = keys::pems_of(&[1; 32]);
    let (_, other_public) = keys::pems_of(&[2; 32]);
    let (url, _fake) = FakeSecretsManager::start(&[(JWT_ID, &private_pem)]).await;
    let function = token_function(&url, &other_public);
    assert_eq!(function.handle(login_request(0)).await.status(), 500);
    assert!(!function.is_built());
}

#[test]
fn configuration_errors_name_the_setting_never_its_value() {
    captured_logs();
    let aws = chatman::adapters::aws::local("http://127.0.0.1:9");
    let ctx = context();
    let (_, public_pem) = keys::pems_of(&[3; 32]);
    let cases = [
        (
            vars(&[("JWT_PUBLIC_KEYS", &public_pem)]),
            "JWT_SIGNING_KEY_SECRET_ID",
        ),
        (
            vars(&[("JWT_SIGNING_KEY_SECRET_ID", JWT_ID)]),
            "JWT_PUBLIC_KEYS",
        ),
        (
            vars(&[
                ("JWT_SIGNING_KEY_SECRET_ID", JWT_ID),
                (
                    "JWT_PUBLIC_KEYS",
                    "-----BEGIN PUBLIC KEY-----\nVALUEthatMUSTnotSHOW\n-----END PUBLIC KEY-----",
                ),
            ]),
            "JWT_PUBLIC_KEYS",
        ),
    ];
    for (env, setting) in cases {
        let error = format!("{:#}", config::signer_in(&aws, &ctx, &env).unwrap_err());
        assert!(error.contains(setting), "{error}");
        assert!(
            !error.contains("VALUEthat") && !error.contains("MCow"),
            "{error}"
        );
    }
    let error = format!("{:#}", config::otp_key_in(&aws, &vars(&[])).unwrap_err());
    assert!(error.contains("OTP_SECRET_ID"), "{error}");
}
