//! A tiny WebSocket client for trying the local server by hand: every line typed is sent as a
//! text frame, every frame received is printed.
//!
//!   cargo run -p chatman-local --example ws-client -- 'ws://127.0.0.1:3001/?ticket=...'

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: ws-client <url from POST /ws/tickets>"))?;
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    eprintln!("connected; type JSON frames, e.g. {{\"action\":\"ping\"}}");
    let (mut sink, mut stream) = socket.split();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line? {
                Some(line) if !line.trim().is_empty() => sink.send(Message::text(line)).await?,
                Some(_) => {}
                None => break,
            },
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => println!("{text}"),
                Some(Ok(Message::Close(frame))) => {
                    eprintln!("closed: {frame:?}");
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
        }
    }
    Ok(())
}
