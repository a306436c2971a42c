//! `chatman-bench`: what a deployed Chatman function costs, measured on this machine.
//!
//! 1. Package size: each function's release binary and the zip Lambda deploys (`bootstrap`).
//! 2. Cold start: spawn → first `GET /runtime/invocation/next`, against a Runtime API emulator,
//!    for each function and for a hello-world `lambda_http` binary.
//! 3. Login: the `token` handler's `POST /auth/token` versus one bare argon2id hash.
//! 4. Presign: the S3 adapter signing an upload's PUT and a download's GET (p50/p99).
//! 6. Peak RSS per invocation of `token`, `signup` and `reset` (release binaries against moto's
//!    server; `--only rss --moto URL`, which `scripts/bench --only rss` starts).
//!
//! Run it through `scripts/bench`, which builds the release binaries first.

mod cold;
mod emulator;
mod first_use;
mod invoke_rss;
mod login;
mod presign;
mod stats;

use anyhow::{Context as _, bail};
use cold::{Bench, Secrets, Target};
use serde_json::{Value, json};
use stats::Summary;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Every Lambda function's package is measured against the size budget.
const PACKAGES: [&str; 17] = [
    "signup",
    "verify-otp",
    "token",
    "reset",
    "profile",
    "rooms",
    "messages",
    "upload-url",
    "wallet",
    "transfer",
    "deposit",
    "donate",
    "ws-ticket",
    "ws-connect",
    "ws-disconnect",
    "ws-message",
    "ws-deliver",
];
/// The functions whose init is timed (HTTP API functions: the smoke check sends an HTTP event);
/// every one that signs S3 URLs is among them.
const FUNCTIONS: [&str; 8] = [
    "signup",
    "verify-otp",
    "token",
    "reset",
    "profile",
    "rooms",
    "messages",
    "upload-url",
];
/// Presigned PUT + GET pairs timed (part 5).
const PRESIGNS: usize = 2000;
const HELLO: &str = "hello-lambda";
const PROBE: &str = "init-probe";

/// Targets. Sizes are decimal megabytes (1 MB = 1,000,000 bytes), the stricter reading.
const ZIP_LIMIT_BYTES: u64 = 4_000_000;
/// Init: a function's median may exceed hello-world's by this much (issue 18: hello-world + 1 ms).
const INIT_LIMIT_EXTRA_MS: f64 = 1.0;
const LOGIN_LIMIT_RATIO: f64 = 1.2;

const USAGE: &str = "\
usage: chatman-bench [--runs N] [--logins M] [--bin-dir DIR] [--only sizes,init,login,secrets,presign,rss] [--moto URL] [--env K=V]... [--json] [--check]

  --runs N      cold starts per binary (default 20)
  --logins M    timed logins and timed raw hashes (default 30)
  --bin-dir DIR where the release binaries are (default: this binary's directory)
  --only LIST   run only some parts: sizes, init, login, secrets, presign, rss (comma-separated)
  --moto URL    moto server (DynamoDB, Secrets Manager, SES v2) for rss; given, rss runs too
  --env K=V     extra environment for the binaries under test (repeatable), for what-if runs
  --json        print the results as JSON instead of tables
  --check       exit with status 1 if a target is missed";

struct Args {
    runs: usize,
    logins: usize,
    bin_dir: PathBuf,
    sizes: bool,
    init: bool,
    login: bool,
    secrets: bool,
    presign: bool,
    rss: bool,
    moto: Option<String>,
    json: bool,
    check: bool,
    env: Vec<(String, String)>,
}

fn parse_args() -> anyhow::Result<Args> {
    let exe = std::env::current_exe()?;
    let mut args = Args {
        runs: 20,
        logins: 30,
        bin_dir: exe.parent().map(Path::to_path_buf).unwrap_or_default(),
        sizes: true,
        init: true,
        login: true,
        secrets: true,
        presign: true,
        rss: false,
        moto: None,
        json: false,
        check: false,
        env: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--runs" => args.runs = value()?.parse().context("--runs")?,
            "--logins" => args.logins = value()?.parse().context("--logins")?,
            "--bin-dir" => args.bin_dir = PathBuf::from(value()?),
            "--only" => {
                let only = value()?;
                let parts: Vec<&str> = only.split(',').map(str::trim).collect();
                if let Some(bad) = parts
                    .iter()
                    .find(|p| !["sizes", "init", "login", "secrets", "presign", "rss"].contains(p))
                {
                    bail!("--only: unknown part {bad:?}\n{USAGE}");
                }
                args.sizes = parts.contains(&"sizes");
                args.init = parts.contains(&"init");
                args.login = parts.contains(&"login");
                args.secrets = parts.contains(&"secrets");
                args.presign = parts.contains(&"presign");
                args.rss = parts.contains(&"rss");
            }
            "--moto" => args.moto = Some(value()?),
            "--json" => args.json = true,
            "--check" => args.check = true,
            "--env" => {
                let pair = value()?;
                let (k, v) = pair
                    .split_once('=')
                    .with_context(|| format!("--env wants KEY=VALUE, got {pair:?}"))?;
                args.env.push((k.to_owned(), v.to_owned()));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if args.moto.is_some() {
        args.rss = true;
    } else if args.rss {
        bail!("rss needs --moto http://127.0.0.1:PORT (scripts/bench --only rss starts one)");
    }
    if args.runs == 0 || args.logins == 0 {
        bail!("--runs and --logins must be at least 1");
    }
    Ok(args)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

// --- machine ---

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let rustc = Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": cpu,
        "arch": std::env::consts::ARCH,
        "rustc": rustc,
        "loadavg_start": loadavg(),
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// --- 1. sizes ---

struct Size {
    name: String,
    binary: u64,
    zipped: u64,
}

fn zipped_size(binary: &Path, scratch: &Path, name: &str) -> anyhow::Result<u64> {
    let dir = scratch.join(format!("zip-{name}"));
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(binary, dir.join("bootstrap"))?;
    let zip = dir.join("function.zip");
    // `zip` at its default level (deflate -6), keeping the executable bit, no extra attributes:
    // what `zip function.zip bootstrap` produces for a `provided.al2023` deployment.
    let status = Command::new("zip")
        .args(["-q", "-X", "function.zip", "bootstrap"])
        .current_dir(&dir)
        .status()
        .context("running zip (apt-get install -y zip)")?;
    if !status.success() {
        bail!("zip failed for {name}: {status}");
    }
    Ok(std::fs::metadata(zip)?.len())
}

fn sizes(args: &Args, scratch: &Path) -> anyhow::Result<Vec<Size>> {
    PACKAGES
        .iter()
        .chain([HELLO].iter())
        .map(|name| {
            let path = args.bin_dir.join(name);
            let binary = std::fs::metadata(&path)
                .with_context(|| format!("{} (build it first: scripts/bench)", path.display()))?
                .len();
            Ok(Size {
                name: (*name).to_owned(),
                binary,
                zipped: zipped_size(&path, scratch, name)?,
            })
        })
        .collect()
}

// --- 2. cold start ---

struct Probe {
    /// Stage name and its durations, in the order the stages run.
    stages: Vec<(String, Vec<Duration>)>,
}

struct Init {
    name: String,
    baseline: bool,
    smoke: String,
    summary: Summary,
}

fn cold_starts(args: &Args, scratch: &Path) -> anyhow::Result<(Vec<Init>, Probe)> {
    let emulator = emulator::Emulator::start()?;
    let secrets = Secrets::generate()?;
    let bench = Bench {
        emulator: &emulator,
        secrets: &secrets,
        scratch,
        extra_env: &args.env,
    };
    let targets: Vec<Target> = [HELLO]
        .iter()
        .chain(FUNCTIONS.iter())
        .map(|name| Target {
            name: (*name).to_owned(),
            path: args.bin_dir.join(name),
            baseline: *name == HELLO,
        })
        .collect();
    for t in &targets {
        if !t.path.is_file() {
            bail!(
                "{} is missing (build it first: scripts/bench)",
                t.path.display()
            );
        }
    }
    // The smoke check doubles as the warm-up: every binary is in the page cache afterwards.
    let smoke: Vec<String> = targets
        .iter()
        .map(|t| bench.smoke(t))
        .collect::<anyhow::Result<_>>()?;
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(args.runs); targets.len()];
    // Interleaved, starting from a different binary each round, so background load and drift
    // spread over all binaries alike.
    for round in 0..args.runs {
        for k in 0..targets.len() {
            let i = (round + k) % targets.len();
            samples[i].push(bench.init_once(&targets[i])?);
        }
        if !args.json {
            eprint!("\r  cold starts: round {}/{}", round + 1, args.runs);
        }
    }
    if !args.json {
        eprintln!();
    }
    // The breakdown: init-probe repeats our functions' init steps with the same environment.
    let probe_target = Target {
        name: PROBE.to_owned(),
        path: args.bin_dir.join(PROBE),
        baseline: false,
    };
    let mut probe = Probe { stages: Vec::new() };
    for _ in 0..args.runs {
        for (k, (name, ms)) in bench.probe(&probe_target)?.into_iter().enumerate() {
            if probe.stages.len() <= k {
                probe.stages.push((name, Vec::new()));
            }
            probe.stages[k].1.push(Duration::from_secs_f64(ms / 1e3));
        }
    }
    let inits = targets
        .into_iter()
        .zip(smoke)
        .zip(samples)
        .map(|((t, smoke), s)| Init {
            name: t.name,
            baseline: t.baseline,
            smoke,
            summary: Summary::of(&s),
        })
        .collect();
    Ok((inits, probe))
}

// --- report ---

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let scratch = std::env::temp_dir().join(format!("chatman-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let result = run(&args, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let all_met = result?;
    if args.check && !all_met {
        std::process::exit(1);
    }
    Ok(())
}

fn run(args: &Args, scratch: &Path) -> anyhow::Result<bool> {
    let mut report = json!({ "machine": machine() });
    let mut all_met = true;

    let sizes = if args.sizes {
        Some(sizes(args, scratch)?)
    } else {
        None
    };
    let inits = if args.init {
        Some(cold_starts(args, scratch)?)
    } else {
        None
    };
    let logins = if args.login {
        if !args.json {
            eprintln!(
                "  logins: {} timed rounds (each ~ one argon2id hash + one login)...",
                args.logins
            );
        }
        Some(login::run(args.logins)?)
    } else {
        None
    };
    let first_use = if args.secrets {
        Some(first_use::run(args.runs, &cold::Secrets::generate()?)?)
    } else {
        None
    };
    let presigns = if args.presign {
        Some(presign::run(PRESIGNS)?)
    } else {
        None
    };
    let rss = match (&args.moto, args.rss) {
        (Some(moto), true) => {
            if !args.json {
                eprintln!(
                    "  peak RSS: hello-world, token, signup, reset against moto at {moto}..."
                );
            }
            Some(invoke_rss::run(
                &args.bin_dir,
                HELLO,
                moto,
                scratch,
                &args.env,
            )?)
        }
        _ => None,
    };
    report["machine"]["loadavg_end"] = json!(loadavg());

    let mut out = String::new();
    let m = &report["machine"];
    out += &format!(
        "Chatman benchmark: {} x {} ({} CPUs), {}, load average {} -> {}\n",
        m["arch"].as_str().unwrap_or(""),
        m["cpu_model"].as_str().unwrap_or(""),
        m["cpus"],
        m["rustc"].as_str().unwrap_or(""),
        m["loadavg_start"].as_str().unwrap_or(""),
        m["loadavg_end"].as_str().unwrap_or(""),
    );
    if !args.env.is_empty() {
        let pairs: Vec<String> = args.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out += &format!("What-if run, extra environment: {}\n", pairs.join(" "));
        report["extra_env"] = json!(pairs);
    }

    if let Some(sizes) = &sizes {
        out += &format!(
            "\n1. Package size (release binary; zip of `bootstrap`, deflate -6). Target: <= {:.1} MB zipped (1 MB = 10^6 bytes)\n",
            mb(ZIP_LIMIT_BYTES)
        );
        out += &format!(
            "   {:<14}{:>12}{:>12}   {}\n",
            "binary", "size MB", "zipped MB", "target"
        );
        let mut rows = Vec::new();
        for s in sizes {
            let baseline = s.name == HELLO;
            let ok = s.zipped <= ZIP_LIMIT_BYTES;
            if !baseline {
                all_met &= ok;
            }
            out += &format!(
                "   {:<14}{:>12.2}{:>12.2}   {}\n",
                s.name,
                mb(s.binary),
                mb(s.zipped),
                if baseline { "(baseline)" } else { verdict(ok) }
            );
            rows.push(json!({ "name": s.name, "binary_bytes": s.binary, "zipped_bytes": s.zipped, "baseline": baseline, "target_met": baseline || ok }));
        }
        report["sizes"] = json!({ "target_zipped_bytes_max": ZIP_LIMIT_BYTES, "rows": rows });
    }

    if let Some((inits, probe)) = &inits {
        let hello = inits
            .iter()
            .find(|i| i.baseline)
            .map(|i| i.summary.clone())
            .context("no baseline")?;
        out += &format!(
            "\n2. Init to ready (spawn -> first GET /runtime/invocation/next), {} runs each, interleaved. Target: median <= hello-world + {INIT_LIMIT_EXTRA_MS} ms\n",
            args.runs
        );
        out += &format!(
            "   {:<14}{:>10}{:>10}{:>10}{:>10}{:>12}{:>11}   {}\n",
            "binary", "median ms", "p90 ms", "min ms", "max ms", "x hello", "smoke", "target"
        );
        let mut rows = Vec::new();
        for i in inits {
            let ratio = i.summary.median_ms / hello.median_ms;
            let p90_ratio = i.summary.p90_ms / hello.p90_ms;
            let ok = i.summary.median_ms <= hello.median_ms + INIT_LIMIT_EXTRA_MS;
            if !i.baseline {
                all_met &= ok;
            }
            out += &format!(
                "   {:<14}{:>10.2}{:>10.2}{:>10.2}{:>10.2}{:>11.2}x{:>11}   {}\n",
                i.name,
                i.summary.median_ms,
                i.summary.p90_ms,
                i.summary.min_ms,
                i.summary.max_ms,
                ratio,
                i.smoke,
                if i.baseline {
                    "(baseline)"
                } else {
                    verdict(ok)
                }
            );
            rows.push(json!({
                "name": i.name, "baseline": i.baseline, "smoke": i.smoke,
                "median_ms": i.summary.median_ms, "p90_ms": i.summary.p90_ms,
                "min_ms": i.summary.min_ms, "max_ms": i.summary.max_ms,
                "ratio_median_vs_hello": ratio, "ratio_p90_vs_hello": p90_ratio,
                "target_met": i.baseline || ok,
            }));
        }
        out += &format!(
            "\n   Where our init goes ({PROBE}: the functions' init steps timed in process, {} runs; \
             hello-world has none of them):\n",
            args.runs
        );
        out += &format!("   {:<40}{:>10}{:>10}\n", "stage", "median ms", "p90 ms");
        let mut stages = Vec::new();
        for (name, samples) in &probe.stages {
            let s = Summary::of(samples);
            out += &format!("   {:<40}{:>10.3}{:>10.3}\n", name, s.median_ms, s.p90_ms);
            stages.push(json!({ "stage": name, "median_ms": s.median_ms, "p90_ms": s.p90_ms }));
        }
        report["init"] = json!({
            "runs": args.runs,
            "target_extra_ms_max": INIT_LIMIT_EXTRA_MS,
            "rows": rows,
            "breakdown": stages,
        });
    }

    if let Some(l) = &logins {
        let login = Summary::of(&l.login);
        let hash = Summary::of(&l.hash);
        let ratio = login.median_ms / hash.median_ms;
        let ok = ratio <= LOGIN_LIMIT_RATIO;
        all_met &= ok;
        out += &format!(
            "\n3. Login (token handler, POST /auth/token, memory store) vs one argon2id hash (m={} KiB, t={}, p={}), {} rounds each. Target: <= {LOGIN_LIMIT_RATIO}x\n",
            login::M_KIB,
            login::T_COST,
            login::P_COST,
            args.logins
        );
        out += &format!(
            "   {:<26}{:>10}{:>10}{:>10}{:>10}\n",
            "", "median ms", "p90 ms", "min ms", "max ms"
        );
        for (name, s) in [
            ("login (Function::handle)", &login),
            ("argon2id hash (raw)", &hash),
        ] {
            out += &format!(
                "   {:<26}{:>10.2}{:>10.2}{:>10.2}{:>10.2}\n",
                name, s.median_ms, s.p90_ms, s.min_ms, s.max_ms
            );
        }
        let paired = l.paired_ratio();
        out += &format!(
            "   login / hash, ratio of medians: {ratio:.3}x   {}\n   \
             (median of paired ratios: {paired:.3}x; login minus hash, medians: {:+.2} ms)\n",
            verdict(ok),
            login.median_ms - hash.median_ms,
        );
        report["login"] = json!({
            "rounds": args.logins,
            "argon2": { "m_kib": login::M_KIB, "t": login::T_COST, "p": login::P_COST },
            "login": login.to_json(), "hash": hash.to_json(),
            "ratio_median": ratio, "ratio_paired_median": paired,
            "target_ratio_max": LOGIN_LIMIT_RATIO, "target_met": ok,
        });
    }

    if let Some(f) = &first_use {
        out += &format!(
            "\n4. First use of the secrets (no target): what the first request of an instance adds, against a loopback Secrets Manager, {} rounds\n",
            args.runs
        );
        out += &format!(
            "   {:<44}{:>10}{:>10}{:>10}{:>10}\n",
            "", "median ms", "p90 ms", "min ms", "max ms"
        );
        let rows = [
            (
                "OTP key, first use (GetSecretValue)",
                Summary::of(&f.otp_first),
            ),
            (
                "JWT signer, first use (GetSecretValue + PEM)",
                Summary::of(&f.signer_first),
            ),
            (
                "either, cached (every later request)",
                Summary::of(&f.cached),
            ),
        ];
        for (name, s) in &rows {
            out += &format!(
                "   {:<44}{:>10.3}{:>10.3}{:>10.3}{:>10.3}\n",
                name, s.median_ms, s.p90_ms, s.min_ms, s.max_ms
            );
        }
        report["first_use"] = json!({
            "rounds": args.runs,
            "otp_key_first": rows[0].1.to_json(),
            "signer_first": rows[1].1.to_json(),
            "cached": rows[2].1.to_json(),
        });
    }
    if let Some(p) = &presigns {
        out += &format!(
            "\n5. Presign (S3Files, in process, no network), {PRESIGNS} of each after warm-up\n   {:<30}{:>10}{:>10}{:>10}\n",
            "", "p50 ms", "p99 ms", "max ms"
        );
        let mut rows = Vec::new();
        for (name, samples) in [
            ("PUT (type + length signed)", &p.put),
            ("GET (download URL)", &p.get),
            ("history page, 20 file URLs", &p.page_20),
            ("history page, 200 file URLs", &p.page_200),
        ] {
            let (p50, p99, max) = (
                presign::percentile_ms(samples, 50.0),
                presign::percentile_ms(samples, 99.0),
                presign::percentile_ms(samples, 100.0),
            );
            out += &format!("   {name:<30}{p50:>10.3}{p99:>10.3}{max:>10.3}\n");
            rows.push(json!({ "name": name, "p50_ms": p50, "p99_ms": p99, "max_ms": max }));
        }
        report["presign"] = json!({ "count": PRESIGNS, "rows": rows });
    }

    if let Some(rows) = &rss {
        let mb = |kb: u64| kb as f64 / 1024.0;
        out += &format!(
            "\n6. Peak RSS (VmHWM) per process, release binaries against moto (DynamoDB, Secrets Manager, SES v2), after init, 1 and {} invocations. Target: <= {:.0} MB of Lambda's {:.0} MB\n",
            invoke_rss::INVOCATIONS_PER_PROCESS,
            invoke_rss::TARGET_MB,
            invoke_rss::MEMORY_MB
        );
        out += &format!(
            "   {:<14}{:<48}{:>9}{:>9}{:>9}   {}\n",
            "binary", "request", "init MB", "1 inv", "5 inv", "target"
        );
        let mut json_rows = Vec::new();
        for r in rows {
            let ok = mb(r.after_n_kb) <= invoke_rss::TARGET_MB;
            if !r.baseline {
                all_met &= ok;
            }
            out += &format!(
                "   {:<14}{:<48}{:>9.1}{:>9.1}{:>9.1}   {}\n",
                r.name,
                if r.baseline {
                    "the token sample event (200)"
                } else {
                    r.request
                },
                mb(r.after_init_kb),
                mb(r.after_1_kb),
                mb(r.after_n_kb),
                if r.baseline {
                    "(baseline)"
                } else {
                    verdict(ok)
                }
            );
            json_rows.push(json!({
                "name": r.name, "baseline": r.baseline, "request": r.request, "status": r.status,
                "peak_kb_after_init": r.after_init_kb, "peak_kb_after_1": r.after_1_kb,
                "peak_kb_after_n": r.after_n_kb, "target_met": r.baseline || ok,
            }));
        }
        report["rss"] = json!({
            "invocations": invoke_rss::INVOCATIONS_PER_PROCESS,
            "memory_mb": invoke_rss::MEMORY_MB,
            "target_peak_mb_max": invoke_rss::TARGET_MB,
            "counterpart": "moto server (DynamoDB, Secrets Manager, SES v2)",
            "rows": json_rows,
        });
    }

    report["all_targets_met"] = json!(all_met);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out += &format!(
            "\nAll targets met: {}\n",
            if all_met { "yes" } else { "NO" }
        );
        print!("{out}");
    }
    Ok(all_met)
}
