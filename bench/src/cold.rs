//! Cold start: spawn a function binary against the runtime API emulator, with the environment
//! Lambda gives it plus our own settings, and time spawn → first `GET /invocation/next`.
//! Nothing is ever invoked during a timed run; the smoke check before them sends one event that
//! no function routes (so no handler reaches DynamoDB or SES) to prove the emulator really
//! drives the runtime.

use crate::emulator::{Emulator, Invocation, Report};
use anyhow::{Context as _, bail};
use chatman::http::apigw::{Incoming, to_event};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a process may take to reach `/next` before the run counts as failed.
pub(crate) const INIT_TIMEOUT: Duration = Duration::from_secs(15);

/// The secret ids the functions are configured with (what the template passes).
pub const OTP_SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:000000000000:secret:chatman-otp-AbCdEf";
pub const SIGNING_KEY_SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:000000000000:secret:chatman-jwt-signing-key-AbCdEf";

/// A binary to start: the hello-world baseline or one of our functions.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub path: PathBuf,
    pub baseline: bool,
}

/// Test-only secrets for the functions' init: fresh per benchmark run, never stored.
pub struct Secrets {
    pub private_pem: String,
    pub public_pem: String,
    pub otp_secret: String,
}

fn openssl(args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running openssl (needed to make the functions' Ed25519 keys)")?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

impl Secrets {
    /// An Ed25519 key pair from `openssl genpkey` and a random 48-character OTP secret.
    pub fn generate() -> anyhow::Result<Self> {
        let private_pem = openssl(&["genpkey", "-algorithm", "ed25519"], None)?;
        let public_pem = openssl(&["pkey", "-pubout"], Some(&private_pem))?;
        let otp_secret =
            chatman::security::secrets::encode(&chatman::security::secrets::random_bytes::<36>());
        Ok(Self {
            private_pem,
            public_pem,
            otp_secret,
        })
    }
}

/// Where the runs happen: the emulator, the secrets, and a scratch directory for logs and `HOME`.
pub struct Bench<'a> {
    pub emulator: &'a Emulator,
    pub secrets: &'a Secrets,
    pub scratch: &'a Path,
    /// `--env` settings, applied last (they may override the ones above), for what-if runs.
    pub extra_env: &'a [(String, String)],
}

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:000000000000:function:{name}")
}

impl Bench<'_> {
    /// The environment of a Lambda `provided.al2023` function (what the runtime client reads),
    /// plus the settings our functions require at init. Nothing of the host leaks in.
    fn command(&self, target: &Target, log: &File) -> anyhow::Result<Command> {
        let home = self.scratch.join("home");
        std::fs::create_dir_all(&home)?;
        let mut cmd = Command::new(&target.path);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            // No ~/.aws here, as on Lambda: the SDK finds no profile files.
            .env("HOME", &home)
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
            .env("AWS_LAMBDA_RUNTIME_API", self.emulator.runtime_api())
            .env("AWS_LAMBDA_FUNCTION_NAME", &target.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", target.name),
            )
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/01/[$LATEST]00000000000000000000000000000000",
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            )
            .env("AWS_SESSION_TOKEN", "benchmark-session-token")
            .env("TABLE_NAME", "chatman-bench")
            .env("BUCKET_NAME", "chatman-bench-uploads")
            .env("MAIL_FROM", "no-reply@example.com")
            // The chat functions build the `@connections` client at init; nothing is posted.
            .env(
                "WS_MANAGEMENT_URL",
                "https://bench.execute-api.us-east-1.amazonaws.com/live",
            )
            // Secret ids only: the secrets are read by the first request, never at init.
            .env("OTP_SECRET_ID", OTP_SECRET_ARN)
            .env("JWT_SIGNING_KEY_SECRET_ID", SIGNING_KEY_SECRET_ARN)
            .env("JWT_PUBLIC_KEYS", &self.secrets.public_pem)
            .env("RUST_LOG", "warn")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?);
        Ok(cmd)
    }

    fn log_path(&self, target: &Target) -> PathBuf {
        self.scratch.join(format!("{}.log", target.name))
    }

    pub(crate) fn failure(&self, target: &Target, e: anyhow::Error) -> anyhow::Error {
        let log = std::fs::read_to_string(self.log_path(target)).unwrap_or_default();
        let tail: String = log
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        e.context(format!(
            "{} ({}); its output:\n{tail}",
            target.name,
            target.path.display()
        ))
    }

    pub(crate) fn spawn(&self, target: &Target) -> anyhow::Result<(Child, Instant)> {
        self.emulator.reset();
        let log = File::create(self.log_path(target))?;
        let mut cmd = self.command(target, &log)?;
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", target.path.display()))?;
        Ok((child, started))
    }

    /// One cold start: spawn → first `/next`, then kill. Nothing is invoked.
    pub fn init_once(&self, target: &Target) -> anyhow::Result<Duration> {
        let (mut child, started) = self.spawn(target)?;
        let ready = self
            .emulator
            .wait_first_next(INIT_TIMEOUT, || exited(&mut child));
        stop(&mut child);
        ready
            .map(|at| at.duration_since(started))
            .map_err(|e| self.failure(target, e))
    }

    /// Runs `init-probe` (which exits by itself after the init steps) and returns its stage
    /// timings in milliseconds, in order.
    pub fn probe(&self, target: &Target) -> anyhow::Result<Vec<(String, f64)>> {
        let (mut child, _) = self.spawn(target)?;
        let status = child.wait();
        let run = || -> anyhow::Result<Vec<(String, f64)>> {
            let status = status?;
            if !status.success() {
                bail!("init-probe failed ({status})");
            }
            let out = std::fs::read_to_string(self.log_path(target))?;
            let line = out
                .lines()
                .rev()
                .find(|l| l.starts_with('['))
                .context("init-probe printed no timings")?;
            Ok(serde_json::from_str(line)?)
        };
        run().map_err(|e| self.failure(target, e))
    }

    /// Starts the binary, sends it one event for a route no function serves and checks the
    /// answer came back through `/response`: 200 from hello-world, 404 (no route) from ours.
    pub fn smoke(&self, target: &Target) -> anyhow::Result<String> {
        let (mut child, _) = self.spawn(target)?;
        let result = self.smoke_invoke(target, &mut child);
        stop(&mut child);
        result.map_err(|e| self.failure(target, e))
    }

    fn smoke_invoke(&self, target: &Target, child: &mut Child) -> anyhow::Result<String> {
        self.emulator
            .wait_first_next(INIT_TIMEOUT, || exited(child))?;
        let request_id = format!("{:032x}", std::process::id() as u128 ^ 0x5eed_cafe);
        let event = to_event(&Incoming {
            method: "GET",
            path: "/bench/unrouted",
            raw_query: "",
            headers: vec![
                ("user-agent".into(), "chatman-bench".into()),
                ("host".into(), "bench.local".into()),
            ],
            body: b"",
            route_key: "GET /bench/unrouted",
            path_params: vec![],
            source_ip: "127.0.0.1".into(),
            host: "bench.local".into(),
        });
        let expected = if target.baseline { 200 } else { 404 };
        let status = self.invoke(target, child, request_id, &serde_json::to_vec(&event)?)?;
        if status != expected {
            bail!("smoke: expected statusCode {expected}, got {status}");
        }
        Ok(format!("ok ({expected})"))
    }

    /// Sends one event to the running process (already at `/next`) and returns the response's
    /// `statusCode`, once the runtime posted it to `/response`.
    pub(crate) fn invoke(
        &self,
        target: &Target,
        child: &mut Child,
        request_id: String,
        event: &[u8],
    ) -> anyhow::Result<u64> {
        Ok(self.invoke_full(target, child, request_id, event)?.0)
    }

    /// As `invoke`, with the response's JSON body (`Null` when it has none or it is not JSON).
    pub(crate) fn invoke_full(
        &self,
        target: &Target,
        child: &mut Child,
        request_id: String,
        event: &[u8],
    ) -> anyhow::Result<(u64, serde_json::Value)> {
        self.emulator.enqueue(Invocation {
            request_id: request_id.clone(),
            function_arn: function_arn(&target.name),
            event: event.to_vec(),
        });
        match self
            .emulator
            .wait_report(Duration::from_secs(30), || exited(child))?
        {
            Report::Response {
                request_id: id,
                body,
            } if id == request_id => {
                let v: serde_json::Value =
                    serde_json::from_slice(&body).context("response payload")?;
                let status = v
                    .get("statusCode")
                    .and_then(serde_json::Value::as_u64)
                    .with_context(|| {
                        format!("no statusCode in {}", String::from_utf8_lossy(&body))
                    })?;
                let json = v
                    .get("body")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(serde_json::Value::Null);
                Ok((status, json))
            }
            Report::Error {
                request_id,
                error_type,
                body,
            } => bail!(
                "invocation {request_id} failed ({}): {}",
                error_type.as_deref().unwrap_or("no type"),
                String::from_utf8_lossy(&body)
            ),
            other => bail!("unexpected report {other:?}"),
        }
    }
}

pub(crate) fn exited(child: &mut Child) -> anyhow::Result<()> {
    match child.try_wait()? {
        Some(status) => bail!("the process exited before it was ready ({status})"),
        None => Ok(()),
    }
}

pub(crate) fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
