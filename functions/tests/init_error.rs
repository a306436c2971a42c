//! A function with a missing or invalid setting reports it to the Lambda Runtime API's init-error
//! endpoint, naming the setting but never its value, and exits; a function with a valid
//! configuration goes straight to polling for events, without reading any secret at init.
//!
//! The real binaries run against a small Runtime API on loopback (plain `std`, like the
//! benchmark's emulator) that records the first request each process makes.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What the process sent first.
#[derive(Debug)]
struct FirstRequest {
    method: String,
    path: String,
    error_type: Option<String>,
    body: String,
}

/// Serves one request on a free port, answers it (202 for an init error; for `/next`, nothing:
/// the test kills the process) and hands it over.
fn runtime_api() -> (String, mpsc::Receiver<FirstRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let (mut length, mut error_type) = (0usize, None);
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "lambda-runtime-function-error-type" => error_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let answer_now = method == "POST";
        send.send(FirstRequest {
            method,
            path,
            error_type,
            body: String::from_utf8(body).unwrap(),
        })
        .unwrap();
        if answer_now {
            let reply = "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n";
            let _ = stream.write_all(reply.as_bytes());
        } else {
            std::thread::sleep(Duration::from_secs(30));
        }
    });
    (addr, receive)
}

/// The environment Lambda gives every function, plus `settings`.
fn run(
    binary: &str,
    settings: &[(&str, &str)],
) -> (FirstRequest, Option<std::process::ExitStatus>) {
    let (api, first) = runtime_api();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("RUST_LOG", "error")
        .envs(settings.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let request = first.recv_timeout(Duration::from_secs(20)).unwrap();
    // After an init error the process exits by itself; after /next it would wait forever.
    let mut status = None;
    let tries = if request.method == "POST" { 100 } else { 10 };
    for _ in 0..tries {
        if let Some(done) = child.try_wait().unwrap() {
            status = Some(done);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if status.is_none() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    (request, status)
}

const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAD0uJuNTpke+hB3ZdweIsLHOs279YCzwd0ya/DNsuqHc=\n-----END PUBLIC KEY-----\n";
const OTP_ID: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:chatman-otp-AbCdEf";
const JWT_ID: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:chatman-jwt-AbCdEf";

fn assert_init_error(binary: &str, settings: &[(&str, &str)], setting: &str, hidden: &str) {
    let (request, status) = run(binary, settings);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/2018-06-01/runtime/init/error"),
        "{binary}: {request:?}"
    );
    assert_eq!(
        request.error_type.as_deref(),
        Some("Runtime.InvalidConfiguration")
    );
    assert!(
        request
            .body
            .contains("\"errorType\":\"Runtime.InvalidConfiguration\""),
        "{}",
        request.body
    );
    assert!(
        request.body.contains(setting),
        "names {setting}: {}",
        request.body
    );
    assert!(
        !request.body.contains(hidden),
        "shows a value: {}",
        request.body
    );
    let status = status.unwrap_or_else(|| panic!("{binary} did not exit after its init error"));
    assert!(!status.success(), "{binary} exits with a failure");
}

#[test]
fn a_missing_table_name_is_reported_as_an_init_error_and_the_function_exits() {
    assert_init_error(
        env!("CARGO_BIN_EXE_token"),
        &[
            ("JWT_SIGNING_KEY_SECRET_ID", JWT_ID),
            ("JWT_PUBLIC_KEYS", PUBLIC_KEY),
        ],
        "TABLE_NAME",
        "MCow",
    );
}

#[test]
fn an_invalid_public_key_is_named_but_not_shown() {
    let bad = "-----BEGIN PUBLIC KEY-----\nSHOULDnotAPPEARanywhere\n-----END PUBLIC KEY-----";
    assert_init_error(
        env!("CARGO_BIN_EXE_profile"),
        &[("TABLE_NAME", "accounts"), ("JWT_PUBLIC_KEYS", bad)],
        "JWT_PUBLIC_KEYS",
        "SHOULDnot",
    );
}

#[test]
fn a_missing_secret_id_is_named() {
    assert_init_error(
        env!("CARGO_BIN_EXE_verify-otp"),
        &[
            ("TABLE_NAME", "accounts"),
            ("MAIL_FROM", "no-reply@example.com"),
            ("OTP_SECRET_ID", OTP_ID),
            ("JWT_PUBLIC_KEYS", PUBLIC_KEY),
        ],
        "JWT_SIGNING_KEY_SECRET_ID",
        "MCow",
    );
    assert_init_error(
        env!("CARGO_BIN_EXE_signup"),
        &[
            ("TABLE_NAME", "accounts"),
            ("MAIL_FROM", "no-reply@example.com"),
        ],
        "OTP_SECRET_ID",
        "no-reply",
    );
}

#[test]
fn a_valid_configuration_polls_for_events_without_reading_a_secret_at_init() {
    // No Secrets Manager is reachable here: a fetch at init would fail and post an init error.
    let (request, status) = run(
        env!("CARGO_BIN_EXE_verify-otp"),
        &[
            ("TABLE_NAME", "accounts"),
            ("MAIL_FROM", "no-reply@example.com"),
            ("OTP_SECRET_ID", OTP_ID),
            ("JWT_SIGNING_KEY_SECRET_ID", JWT_ID),
            ("JWT_PUBLIC_KEYS", PUBLIC_KEY),
        ],
    );
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/2018-06-01/runtime/invocation/next")
    );
    assert!(status.is_none(), "it kept waiting for an event");
}
