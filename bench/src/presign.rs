//! Presigning cost: the real `S3Files` adapter signing an upload's PUT (content type and length
//! as signed headers) and a download GET, in process. Presigning is pure computation (no
//! network), so this is what `POST /uploads` and every `avatar_url` add to a request.

use chatman::adapters::s3::S3Files;
use chatman::ports::Files;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Untimed rounds first (lazy statics, first allocation of the SDK's operation pipeline).
const WARMUP: usize = 20;

pub struct PresignTimes {
    pub put: Vec<Duration>,
    pub get: Vec<Duration>,
}

/// The `p`-th percentile (nearest rank) in milliseconds.
pub fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0 * ms.len() as f64).ceil() as usize).clamp(1, ms.len());
    ms[rank - 1]
}

pub fn run(rounds: usize) -> anyhow::Result<PresignTimes> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // A configuration shaped like Lambda's: region, static credentials, the lean HTTPS client;
    // virtual-hosted URLs as on AWS. Nothing is sent anywhere.
    let aws = chatman::adapters::aws::local_with_credentials(
        "https://s3.us-east-1.amazonaws.com",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    let files = S3Files::new(&aws, "chatman-bench-uploads");
    runtime.block_on(async {
        let mut times = PresignTimes {
            put: Vec::with_capacity(rounds),
            get: Vec::with_capacity(rounds),
        };
        for i in 0..WARMUP + rounds {
            let key = format!("uploads/0193a000-0000-7000-8000-000000000000/{i}");
            let now = OffsetDateTime::now_utc();
            let started = Instant::now();
            files
                .presign_put(&key, "image/png", 48_213, now, time::Duration::minutes(5))
                .await?;
            let put = started.elapsed();
            let started = Instant::now();
            files
                .presign_get(&key, now, time::Duration::minutes(15))
                .await?;
            let get = started.elapsed();
            if i >= WARMUP {
                times.put.push(put);
                times.get.push(get);
            }
        }
        Ok(times)
    })
}
