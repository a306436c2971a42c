//! A minimal HTTP/1.1 client over one keep-alive TCP connection: enough for the local server's
//! JSON answers (which always carry `content-length`), and nothing a benchmark would have to
//! pay for beyond the request itself.

use anyhow::{Context as _, bail};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Conn {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            host: addr.to_owned(),
            buf: Vec::with_capacity(8192),
        })
    }

    /// Sends one request and reads its whole response: `(status, body)`.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let (status, bytes) = self.call_raw(method, path, body, token).await?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok((status, value))
    }

    /// Like `call`, leaving the body unparsed: the timed loop pays for the request only.
    pub async fn call_raw(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let payload = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n",
            self.host,
            payload.len()
        );
        if body.is_some() {
            head.push_str("content-type: application/json\r\n");
        }
        if let Some(t) = token {
            head.push_str(&format!("authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        head.push_str(&payload);
        self.stream.write_all(head.as_bytes()).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> anyhow::Result<(u16, Vec<u8>)> {
        let header_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..header_end])
            .context("response head")?
            .to_owned();
        let status: u16 = head.split_whitespace().nth(1).context("status")?.parse()?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while self.buf.len() < header_end + length {
            self.fill().await?;
        }
        let body: Vec<u8> = self
            .buf
            .drain(..header_end + length)
            .skip(header_end)
            .collect();
        Ok((status, body))
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}
