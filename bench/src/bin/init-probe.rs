//! Where a function's init time goes: the same steps the function binaries take before
//! `lambda_http::run`, each timed, printed as one JSON line of `[stage, ms]` pairs. `chatman-bench` runs it with the
//! functions' environment; it needs no runtime API (it stops before polling for events).

use chatman::{adapters, config, telemetry};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut stages: Vec<(&str, f64)> = Vec::new();
    let mut last = Instant::now();
    let mut lap = |name: &'static str, stages: &mut Vec<(&str, f64)>| {
        let now = Instant::now();
        stages.push((name, now.duration_since(last).as_secs_f64() * 1e3));
        last = now;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    lap("tokio runtime", &mut stages);
    rt.block_on(async {
        telemetry::init_lambda();
        lap("telemetry::init_lambda", &mut stages);
        let aws = adapters::aws::lambda_environment()?;
        lap("aws::lambda_environment", &mut stages);
        let ctx = config::context(&aws)?;
        lap("config::context (DynamoDB client)", &mut stages);
        let mailer = config::mailer(&aws)?;
        lap("config::mailer (SES client)", &mut stages);
        let otp = config::otp_key(&aws)?;
        lap("config::otp_key (secret id only)", &mut stages);
        let signer = config::signer(&aws, &ctx)?;
        lap("config::signer (public keys, secret id)", &mut stages);
        let verifier = config::verifier(&ctx)?;
        lap("config::verifier", &mut stages);
        let uploads = config::uploads(&aws)?;
        lap("config::uploads (S3 signer, no client)", &mut stages);
        std::hint::black_box((&ctx.settings, &mailer, &otp, &signer, &verifier, &uploads));
        anyhow::Ok(())
    })?;
    // [["stage", ms], ...], in order.
    println!("{}", serde_json::to_string(&stages)?);
    Ok(())
}
