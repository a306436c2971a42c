//! `chatman-local`: the whole API on this machine with embedded defaults.

use chatman_local::{LocalConfig, LogFormat, start};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = LocalConfig::parse();
    chatman::telemetry::init_local(config.log_format == LogFormat::Json);
    let running = start(config.clone()).await?;
    println!("Chatman local server");
    println!("  HTTP API   {}", running.http_url());
    println!(
        "  Outbox     {}/_local/outbox?to=<email>",
        running.http_url()
    );
    println!(
        "  WebSocket  {}  (POST /ws/tickets for a ticket; @connections API on the same port)",
        running.ws_url()
    );
    println!("  Store      {}", running.store_label);
    println!(
        "  Files      S3 at {} (bucket {}, data in {})",
        running.s3.endpoint(),
        chatman_local::s3::BUCKET,
        running.s3.data_dir.display()
    );
    println!("  Emails are printed below as they are sent. Ctrl-C stops the server.");
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    running.stop();
    Ok(())
}
