//! First-use cost of the secrets: what the first request of a cold instance pays to read the OTP
//! key and the JWT signing key from Secrets Manager, against a loopback endpoint that speaks
//! Secrets Manager's JSON protocol. Each round builds fresh handles (as init does: no client, no
//! network) and times the first `key()` / `signer()` (SDK client, signed request, HTTP round trip
//! on a new connection, JSON, key parsing) and then a cached one. In AWS the first call adds
//! DNS, TCP and TLS to the regional endpoint, which loopback cannot show.

use anyhow::Context as _;
use chatman::adapters::key_secrets::{OtpKeySecret, SigningKeySecret};
use chatman::adapters::secrets_manager::SecretOnFirstUse;
use chatman::security::jwt::{TokenScope, TokenVerifier};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const OTP_ID: &str = crate::cold::OTP_SECRET_ARN;
const JWT_ID: &str = crate::cold::SIGNING_KEY_SECRET_ARN;

pub struct FirstUseTimes {
    pub otp_first: Vec<Duration>,
    pub signer_first: Vec<Duration>,
    pub cached: Vec<Duration>,
}

/// A loopback Secrets Manager serving `secrets` (id, value), one request per connection.
fn fake_secrets_manager(secrets: Vec<(String, String)>) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::Builder::new()
        .name("fake-secrets-manager".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &secrets);
            }
        })?;
    Ok(url)
}

fn answer(stream: std::net::TcpStream, secrets: &[(String, String)]) -> anyhow::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request: serde_json::Value = serde_json::from_slice(&body)?;
    let id = request["SecretId"].as_str().unwrap_or("");
    let value = secrets
        .iter()
        .find(|(k, _)| k == id)
        .map(|(_, v)| v.as_str())
        .context("unknown secret")?;
    let reply = serde_json::json!({
        "ARN": id, "Name": "chatman", "VersionId": "v1", "SecretString": value,
        "VersionStages": ["AWSCURRENT"], "CreatedDate": 1.7e9,
    })
    .to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    Ok(())
}

pub fn run(rounds: usize, secrets: &crate::cold::Secrets) -> anyhow::Result<FirstUseTimes> {
    let url = fake_secrets_manager(vec![
        (OTP_ID.to_owned(), secrets.otp_secret.clone()),
        (JWT_ID.to_owned(), secrets.private_pem.clone()),
    ])?;
    let scope = TokenScope {
        issuer: "chatman".into(),
        audience: "chatman-api".into(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut times = FirstUseTimes {
        otp_first: Vec::new(),
        signer_first: Vec::new(),
        cached: Vec::new(),
    };
    rt.block_on(async {
        // One configuration for all rounds, as one instance has (it is built at init).
        let aws = chatman::adapters::aws::local(&url);
        for round in 0..rounds + 1 {
            let otp = OtpKeySecret::new(SecretOnFirstUse::new(&aws, OTP_ID.into()));
            let verifier = TokenVerifier::from_public_pems(&secrets.public_pem, &scope)?;
            let signing = SigningKeySecret::new(
                SecretOnFirstUse::new(&aws, JWT_ID.into()),
                verifier,
                scope.clone(),
            );
            let started = Instant::now();
            std::hint::black_box(otp.key().await?);
            let otp_first = started.elapsed();
            let started = Instant::now();
            std::hint::black_box(signing.signer().await?);
            let signer_first = started.elapsed();
            let started = Instant::now();
            std::hint::black_box(otp.key().await?);
            let cached = started.elapsed();
            // The first round warms lazy statics (TLS provider, endpoint rules): not counted.
            if round > 0 {
                times.otp_first.push(otp_first);
                times.signer_first.push(signer_first);
                times.cached.push(cached);
            }
        }
        anyhow::Ok(())
    })?;
    Ok(times)
}
