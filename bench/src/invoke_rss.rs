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
    moto_request(endpoint, "POST", service, path, target, content_type, body)
}

fn moto_request(
    endpoint: &str,
    method: &str,
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
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\n{target_header}\
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
fn seed(endpoint: &str, secrets: &Secrets, run: u32) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = chatman::adapters::aws::local(endpoint);
        let client = aws_sdk_dynamodb::Client::new(&config);
        chatman::adapters::dynamodb::schema::create_accounts_table(&client, TABLE).await
    })?;
    // Names of this run's own: the key pair is fresh per run, and moto may outlive a run.
    for (name, value) in [
        (format!("{OTP_SECRET}-{run}"), &secrets.otp_secret),
        (format!("{SIGNING_SECRET}-{run}"), &secrets.private_pem),
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
        if status != 200 {
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
fn event(
    name: &str,
    n: usize,
    run: u32,
    people: &[Person],
) -> anyhow::Result<(&'static str, u64, Vec<u8>)> {
    let person = people.get(n);
    let (sample, request, body, expected): (&str, &'static str, Value, u64) = match name {
        "token" => (
            include_str!("../../events/token.json"),
            "POST /auth/token, existing user (200)",
            json!({
                "login": person.map(|p| p.username.clone()).context("no person")?,
                "password": PASSWORD,
            }),
            200,
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
            "POST /auth/password/reset, valid ticket (204)",
            json!({
                "token": person.and_then(|p| p.reset_token.clone()).context("no ticket")?,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            }),
            204,
        ),
        _ => (
            include_str!("../../events/token.json"),
            "any event (200)",
            json!({}),
            200,
        ),
    };
    let mut event: Value = serde_json::from_str(sample).context("sample event")?;
    if name == "reset" {
        event["routeKey"] = json!("POST /auth/password/reset");
        event["rawPath"] = json!("/auth/password/reset");
        event["requestContext"]["http"]["path"] = json!("/auth/password/reset");
        event["requestContext"]["routeKey"] = json!("POST /auth/password/reset");
    }
    event["body"] = json!(body.to_string());
    event["requestContext"]["http"]["sourceIp"] = json!(format!("198.51.100.{}", n + 1));
    event["requestContext"]["requestId"] = json!(format!("rss-{run}-{n}"));
    Ok((request, expected, serde_json::to_vec(&event)?))
}

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new horse battery";

/// Somebody with an account, made through the real `signup` and `verify-otp` binaries (not
/// measured), and the reset token their forgot-password mail carried.
pub struct Person {
    username: String,
    email: String,
    reset_token: Option<String>,
}

/// The mails moto's SES holds, newest last: (recipient, subject + body).
fn mails(moto: &str) -> anyhow::Result<Vec<(String, String)>> {
    let (status, body) = moto_request(
        moto,
        "GET",
        "moto",
        "/moto-api/data.json",
        None,
        "application/json",
        "",
    )?;
    if status != 200 {
        bail!("moto-api/data.json: {status}");
    }
    let data: Value = serde_json::from_str(&body).context("moto-api/data.json")?;
    Ok(data["ses"]["Message"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|m| {
                    (
                        m["destinations"]["ToAddresses"][0]
                            .as_str()
                            .unwrap_or("")
                            .to_owned(),
                        format!(
                            "{} {}",
                            m["subject"].as_str().unwrap_or(""),
                            m["body"].as_str().unwrap_or("")
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

fn newest_mail(moto: &str, to: &str) -> anyhow::Result<String> {
    mails(moto)?
        .into_iter()
        .rev()
        .find(|(r, _)| r == to)
        .map(|(_, m)| m)
        .with_context(|| format!("no mail to {to} in moto"))
}

fn between<'a>(text: &'a str, start: &str, end: &[char]) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let rest = &text[from..];
    Some(&rest[..rest.find(end).unwrap_or(rest.len())])
}

fn sample_with(sample: &str, route: &str, body: Value, n: usize) -> anyhow::Result<Vec<u8>> {
    let mut event: Value = serde_json::from_str(sample).context("sample event")?;
    let (_, path) = route.split_once(' ').context("route")?;
    event["routeKey"] = json!(route);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["routeKey"] = json!(route);
    event["requestContext"]["http"]["sourceIp"] = json!(format!("192.0.2.{}", n + 1));
    event["body"] = json!(body.to_string());
    Ok(serde_json::to_vec(&event)?)
}

fn helper(bin_dir: &Path, name: &str) -> Target {
    Target {
        name: name.to_owned(),
        path: bin_dir.join(name),
        baseline: false,
    }
}

/// `INVOCATIONS` people signed up and verified through the real binaries.
fn prepare(bench: &Bench, moto: &str, bin_dir: &Path, run: u32) -> anyhow::Result<Vec<Person>> {
    let people: Vec<Person> = (0..INVOCATIONS)
        .map(|n| Person {
            username: format!("person_{run}_{n}"),
            email: format!("person-{run}-{n}@example.com"),
            reset_token: None,
        })
        .collect();
    let mut ids = Vec::new();
    with_process(bench, &helper(bin_dir, "signup"), |child, target| {
        for (n, p) in people.iter().enumerate() {
            let event = sample_with(
                include_str!("../../events/signup.json"),
                "POST /auth/signup",
                json!({ "username": p.username, "email": p.email, "password": PASSWORD }),
                n,
            )?;
            let (status, body) =
                bench.invoke_full(target, child, format!("prep-signup-{n}"), &event)?;
            if status != 202 {
                bail!("preparing: signup answered {status} {body}");
            }
            ids.push(
                body["signup_id"]
                    .as_str()
                    .context("no signup_id")?
                    .to_owned(),
            );
        }
        Ok(())
    })?;
    with_process(bench, &helper(bin_dir, "verify-otp"), |child, target| {
        for (n, (p, id)) in people.iter().zip(&ids).enumerate() {
            let mail = newest_mail(moto, &p.email)?;
            let code = between(&mail, "<strong>", &['<']).context("no code in the mail")?;
            let event = sample_with(
                include_str!("../../events/verify-otp.json"),
                "POST /auth/signup/verify",
                json!({ "signup_id": id, "code": code }),
                n,
            )?;
            let (status, body) =
                bench.invoke_full(target, child, format!("prep-verify-{n}"), &event)?;
            if status != 201 {
                bail!("preparing: verify-otp answered {status} {body}");
            }
        }
        Ok(())
    })?;
    Ok(people)
}

/// The forgot-password step for each person (a `reset` process of its own, not measured), and
/// the token from the mail it sends.
fn request_resets(
    bench: &Bench,
    moto: &str,
    bin_dir: &Path,
    people: &mut [Person],
) -> anyhow::Result<()> {
    with_process(bench, &helper(bin_dir, "reset"), |child, target| {
        for (n, p) in people.iter_mut().enumerate() {
            let event = sample_with(
                include_str!("../../events/reset.json"),
                "POST /auth/password/forgot",
                json!({ "email": p.email }),
                n,
            )?;
            let status = bench.invoke(target, child, format!("prep-forgot-{n}"), &event)?;
            if status != 202 {
                bail!("preparing: forgot answered {status}");
            }
            let mail = newest_mail(moto, &p.email)?;
            let token = between(&mail, "reset-password?token=", &['"', '<', ' ', '\n', '&'])
                .context("no reset token in the mail")?;
            p.reset_token = Some(token.to_owned());
        }
        Ok(())
    })
}

fn with_process(
    bench: &Bench,
    target: &Target,
    f: impl FnOnce(&mut std::process::Child, &Target) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (mut child, _) = bench.spawn(target)?;
    let result = bench
        .emulator
        .wait_first_next(cold::INIT_TIMEOUT, || cold::exited(&mut child))
        .and_then(|_| f(&mut child, target));
    cold::stop(&mut child);
    result.map_err(|e| bench.failure(target, e))
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

fn measure(bench: &Bench, target: &Target, run: u32, people: &[Person]) -> anyhow::Result<Row> {
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
            let (what, expected, event) = event(&target.name, n, run, people)?;
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
    let run = std::process::id();
    seed(moto, &secrets, run)?;
    let emulator = crate::emulator::Emulator::start()?;
    let mut env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", moto),
        ("TABLE_NAME", TABLE),
        ("OTP_SECRET_ID", &format!("{OTP_SECRET}-{run}")),
        (
            "JWT_SIGNING_KEY_SECRET_ID",
            &format!("{SIGNING_SECRET}-{run}"),
        ),
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
    let mut people = Vec::new();
    [hello, "token", "signup", "reset"]
        .iter()
        .map(|name| {
            let target = Target {
                name: (*name).to_owned(),
                path: bin_dir.join(name),
                baseline: *name == hello,
            };
            if *name == "token" {
                people = prepare(&bench, moto, bin_dir, run)?;
            }
            if *name == "reset" {
                request_resets(&bench, moto, bin_dir, &mut people)?;
            }
            measure(&bench, &target, run, &people)
        })
        .collect()
}

pub const INVOCATIONS_PER_PROCESS: usize = INVOCATIONS;
