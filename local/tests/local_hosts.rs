//! DNS rebinding and the open `@connections` API, over real HTTP against the local server: a
//! request whose `Host` names anything but the listener's own address (as a page on
//! `evil.example` rebound to 127.0.0.1 sends) gets 421 on the HTTP port — `/_local/outbox`
//! included — and on the WebSocket port, handshake and `@connections` alike; the names the
//! server does listen on still work; a browser page (an `Origin` header) cannot use
//! `@connections` even with a right `Host`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chatman_local::{LocalConfig, start};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;

/// One raw request to `addr` with exactly these headers (`Host` included when given): the
/// status and the body.
async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client
        .request(req.body(Full::new(Bytes::from_static(body))).unwrap())
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn another_host_is_misdirected_on_both_ports() {
    let running = start(LocalConfig::embedded()).await.unwrap();
    let (http, ws) = (running.http_addr, running.ws_addr);
    let evil = |port: u16| format!("evil.example:{port}");

    // The outbox, the API and the web app: 421 for a rebound name, whatever the path.
    for path in [
        "/_local/outbox",
        "/_local/health",
        "/me",
        "/",
        "/config.json",
    ] {
        let (status, body) = raw(http, "GET", path, &[("host", &evil(http.port()))], b"").await;
        assert_eq!(status, 421, "{path}: {body}");
        assert!(!body.contains("items"), "nothing of the outbox: {body}");
    }
    let (status, _) = raw(
        http,
        "GET",
        "/_local/outbox",
        &[("host", "evil.example")],
        b"",
    )
    .await;
    assert_eq!(status, 421, "no port at all");
    // A name that merely starts or ends like one of this machine's is another host.
    for sly in ["localhost.evil.example", "127.0.0.1.evil.example"] {
        let host = format!("{sly}:{}", http.port());
        let (status, _) = raw(http, "GET", "/_local/outbox", &[("host", &host)], b"").await;
        assert_eq!(status, 421, "{host}");
    }

    // Its own names answer.
    for name in ["localhost", "127.0.0.1", "[::1]"] {
        let host = format!("{name}:{}", http.port());
        let (status, body) = raw(http, "GET", "/_local/outbox", &[("host", &host)], b"").await;
        assert_eq!(status, 200, "{host}: {body}");
    }

    // The WebSocket port: the handshake and @connections.
    let upgrade = [
        ("host", evil(ws.port())),
        ("connection", "Upgrade".into()),
        ("upgrade", "websocket".into()),
        ("sec-websocket-version", "13".into()),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==".into()),
    ];
    let upgrade: Vec<(&str, &str)> = upgrade.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(raw(ws, "GET", "/?ticket=x", &upgrade, b"").await.0, 421);
    for method in ["POST", "GET", "DELETE"] {
        let (status, _) = raw(
            ws,
            method,
            "/@connections/AAAAAAAAAAAAAA%3D%3D",
            &[("host", &evil(ws.port()))],
            b"{}",
        )
        .await;
        assert_eq!(status, 421, "{method} @connections");
    }
    let own = format!("127.0.0.1:{}", ws.port());
    let (status, _) = raw(
        ws,
        "GET",
        "/@connections/AAAAAAAAAAAAAA%3D%3D",
        &[("host", &own)],
        b"",
    )
    .await;
    assert_eq!(
        status, 410,
        "its own name reaches the API (an unknown id is gone)"
    );
    running.stop();
}

#[tokio::test]
async fn a_browser_page_cannot_use_connections() {
    let running = start(LocalConfig::embedded()).await.unwrap();
    let ws = running.ws_addr;
    let own = format!("127.0.0.1:{}", ws.port());
    for method in ["POST", "GET", "DELETE"] {
        let (status, body) = raw(
            ws,
            method,
            "/@connections/AAAAAAAAAAAAAA%3D%3D",
            &[("host", &own), ("origin", "https://evil.example")],
            b"{\"type\":\"forged\"}",
        )
        .await;
        assert_eq!(status, 403, "{method}: {body}");
        assert!(body.contains("this machine"), "{body}");
    }
    running.stop();
}
