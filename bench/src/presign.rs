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
    /// Signing a history page's download URLs through the chat's own path (`Links::sign`):
    /// 20 messages with one file each.
    pub page_20: Vec<Duration>,
    /// The largest page: 20 messages with 10 files each (200 URLs).
    pub page_200: Vec<Duration>,
}

/// Pages signed per size (each is many presigns already).
const PAGES: usize = 200;

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
    let uploads = chatman::services::uploads::UploadService::new(
        std::sync::Arc::new(chatman::adapters::memory_uploads::MemoryUploads::new()),
        std::sync::Arc::new(files.clone()),
    );
    runtime.block_on(async {
        let mut times = PresignTimes {
            put: Vec::with_capacity(rounds),
            get: Vec::with_capacity(rounds),
            page_20: Vec::with_capacity(PAGES),
            page_200: Vec::with_capacity(PAGES),
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
                .presign_get(
                    &key,
                    &chatman::ports::Serve::default(),
                    now,
                    time::Duration::minutes(15),
                )
                .await?;
            let get = started.elapsed();
            if i >= WARMUP {
                times.put.push(put);
                times.get.push(get);
            }
        }
        // A page of message files: each signed with its type and disposition, as history is.
        let keys = |n: usize| -> Vec<chatman::services::chat_links::Download> {
            (0..n)
                .map(|i| {
                    chatman::services::chat_links::Download::File(chatman::domain::FileRef {
                        upload_id: chatman::domain::UploadId::new(),
                        filename: format!("photo {i}.png"),
                        content_type: "image/png".into(),
                        size: 48_213,
                        key: format!(
                            "files/0193a000-0000-7000-8000-000000000000/0193a000-0000-7000-8000-{i:012}"
                        ),
                    })
                })
                .collect()
        };
        for i in 0..WARMUP + PAGES {
            for (n, samples) in [(20, &mut times.page_20), (200, &mut times.page_200)] {
                let page = keys(n);
                let now = OffsetDateTime::now_utc();
                let started = Instant::now();
                let links = chatman::services::chat_links::Links::sign(&uploads, page, now).await?;
                let took = started.elapsed();
                std::hint::black_box(links);
                if i >= WARMUP {
                    samples.push(took);
                }
            }
        }
        Ok(times)
    })
}
