//! Peak RSS per invocation: the release `token`, `signup` and `reset` binaries (each hashes one
//! password with argon2id over a pooled 19 MiB block; Lambda gives them 256 MB), started as
//! Lambda starts them against the Runtime API emulator, each answering real API Gateway events
//! (the `events/` samples, made unique per invocation) against local AWS counterparts: moto's
//! server for DynamoDB, Secrets Manager and SES v2, reached through the SDK's standard
//! `AWS_ENDPOINT_URL`. After 1 and after 5 invocations the process's peak RSS (`VmHWM` in
//! `/proc/PID/status`) is read, before it is killed; hello-world is the baseline.

use crate::cold::{self, Bench, Secrets, Target};
use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// Lambda's memory for these functions, and the target: peak ≤ 80 % of it (headroom for the
/// runtime's own overhead and for a larger request).
pub const MEMORY_MB: f64 = 256.0;
pub const TARGET_MB: f64 = MEMORY_MB * 0.8;
const INVOCATIONS: usize = 5;
const TABLE: &str = "chatman-rss-bench";
const OTP_SECRET: &str = "chatman-bench-otp";
const SIGNING_SECRET: &str = "chatman-bench-jwt-signing-key";
const MAIL_FROM: &str = "no-reply@example.com";

pub struct Row {
    pub name: String,
    pub request: &'static str,
    pub status: u64,
    pub baseline: bool,
    pub after_init_kb: u64,
    pub after_1_kb: u64,
    pub after_n_kb: u64,
}

/// One `POST` to moto with a (fake) SigV4 header naming the service, which is how moto's server
/// routes a request; moto checks no signature.
fn moto_post(
    endpoint: &str,
    service: &str,
    path: &str,
    target: Option<&str>,
    content_type: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let authority = endpoint
        .strip_prefix("http://")
        .context("the moto endpoint must be http://HOST:PORT")?
        .trim_end_matches('/');
    let mut stream =
        TcpStream::connect(authority).with_context(|| format!("connecting to {endpoint}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let target_header = target
        .map(|t| format!("X-Amz-Target: {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\n{target_header}\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status from moto")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The table (the library's own schema), the two secrets in the format the functions read, and
/// the verified sender identity SES requires.
fn seed(endpoint: &str, secrets: &Secrets) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = chatman::adapters::aws::local(endpoint);
        let client = aws_sdk_dynamodb::Client::new(&config);
        chatman::adapters::dynamodb::schema::create_accounts_table(&client, TABLE).await
    })?;
    for (name, value) in [
        (OTP_SECRET, &secrets.otp_secret),
        (SIGNING_SECRET, &secrets.private_pem),
    ] {
        let body = json!({ "Name": name, "SecretString": value }).to_string();
        let (status, text) = moto_post(
            endpoint,
            "secretsmanager",
            "/",
            Some("secretsmanager.CreateSecret"),
            "application/x-amz-json-1.1",
            &body,
        )?;
        if status != 200 && !text.contains("ResourceExistsException") {
            bail!("CreateSecret {name}: {status} {text}");
        }
    }
    let body = json!({ "EmailIdentity": MAIL_FROM }).to_string();
    let (status, text) = moto_post(
        endpoint,
        "ses",
        "/v2/email/identities",
        None,
        "application/json",
        &body,
    )?;
    if status != 200 && !text.contains("AlreadyExists") {
        bail!("CreateEmailIdentity: {status} {text}");
    }
    Ok(())
}

/// The sample event of `name` with a body (and source address) unique to invocation `n`, so no
/// invocation is a duplicate or rate-limited one.
fn event(name: &str, n: usize, run: u32) -> anyhow::Result<(&'static str, u64, Vec<u8>)> {
    let (sample, request, body, expected): (&str, &'static str, Value, u64) = match name {
        "token" => (
            include_str!("../../events/token.json"),
            "POST /auth/token, unknown user (hashes; 401)",
            json!({ "login": format!("nobody_{run}_{n}"), "password": "correct horse battery staple" }),
            401,
        ),
        "signup" => (
            include_str!("../../events/signup.json"),
            "POST /auth/signup, new signup (202)",
            json!({
                "username": format!("rss_{run}_{n}"),
                "email": format!("rss-{run}-{n}@example.com"),
                "password": "correct horse battery staple",
                "first_name": "Sam",
            }),
            202,
        ),
        "reset" => (
            include_str!("../../events/reset.json"),
            "POST /auth/password/forgot, unknown email (202)",
            json!({ "email": format!("nobody-{run}-{n}@example.com") }),
            202,
        ),
        _ => (
            include_str!("../../events/token.json"),
            "any event (200)",
            json!({}),
            200,
        ),
    };
    let mut event: Value = serde_json::from_str(sample).context("sample event")?;
    event["body"] = json!(body.to_string());
    event["requestContext"]["http"]["sourceIp"] = json!(format!("198.51.100.{}", n + 1));
    event["requestContext"]["requestId"] = json!(format!("rss-{run}-{n}"));
    Ok((request, expected, serde_json::to_vec(&event)?))
}

/// `VmHWM` (peak resident set) of a live process, in kB.
fn peak_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/PID/status")
}

fn measure(bench: &Bench, target: &Target, run: u32) -> anyhow::Result<Row> {
    let (mut child, _) = bench.spawn(target)?;
    let result = (|| {
        bench
            .emulator
            .wait_first_next(cold::INIT_TIMEOUT, || cold::exited(&mut child))?;
        let pid = child.id();
        let after_init_kb = peak_kb(pid)?;
        let mut after_1_kb = 0;
        let mut request = "";
        let mut status = 0;
        for n in 0..INVOCATIONS {
            let (what, expected, event) = event(&target.name, n, run)?;
            request = what;
            status = bench.invoke(target, &mut child, format!("{run:08x}{n:024x}"), &event)?;
            if status != expected {
                bail!(
                    "invocation {}: expected statusCode {expected}, got {status}",
                    n + 1
                );
            }
            if n == 0 {
                after_1_kb = peak_kb(pid)?;
            }
        }
        Ok(Row {
            name: target.name.clone(),
            request,
            status,
            baseline: target.baseline,
            after_init_kb,
            after_1_kb,
            after_n_kb: peak_kb(pid)?,
        })
    })();
    cold::stop(&mut child);
    result.map_err(|e| bench.failure(target, e))
}

pub fn run(
    bin_dir: &Path,
    hello: &str,
    moto: &str,
    scratch: &Path,
    extra_env: &[(String, String)],
) -> anyhow::Result<Vec<Row>> {
    let secrets = Secrets::generate()?;
    seed(moto, &secrets)?;
    let emulator = crate::emulator::Emulator::start()?;
    let mut env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", moto),
        ("TABLE_NAME", TABLE),
        ("OTP_SECRET_ID", OTP_SECRET),
        ("JWT_SIGNING_KEY_SECRET_ID", SIGNING_SECRET),
        ("MAIL_FROM", MAIL_FROM),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    env.extend(extra_env.iter().cloned());
    let bench = Bench {
        emulator: &emulator,
        secrets: &secrets,
        scratch,
        extra_env: &env,
    };
    let run = std::process::id();
    [hello, "token", "signup", "reset"]
        .iter()
        .map(|name| {
            let target = Target {
                name: (*name).to_owned(),
                path: bin_dir.join(name),
                baseline: *name == hello,
            };
            measure(&bench, &target, run)
        })
        .collect()
}

pub const INVOCATIONS_PER_PROCESS: usize = INVOCATIONS;
