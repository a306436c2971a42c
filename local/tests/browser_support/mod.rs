//! Helpers for the browser tests: one chromedriver for the whole run (it FAILS with install
//! instructions when missing, never skips), headless Chromium sessions driven with
//! `fantoccini`, waits on the page's `data-testid`s, screenshots under `target/screenshots/`,
//! plain HTTP to the API for setup (deposits, codes from the outbox), and a TCP relay the test
//! can cut to play "the API is down".
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "correct horse battery staple";
pub const WAIT: Duration = Duration::from_secs(15);

/// The one chromedriver of this test run, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Starts chromedriver, or fails saying how to install it.
pub async fn chromedriver() -> Driver {
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "the browser tests need chromedriver and Chromium ({binary}: {e}). Install them with \
                 `scripts/browser-deps` (Debian/Ubuntu: apt-get install -y chromium chromium-driver), \
                 or point CHROMEDRIVER at a chromedriver binary. scripts/test installs them."
            )
        });
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

/// One person's browser: a headless Chromium session on a phone-sized window.
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub name: String,
}

pub fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).expect("target/screenshots");
    dir
}

impl Browser {
    pub async fn open(driver: &Driver, base: &str, name: &str) -> Browser {
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=412,915", "--no-first-run", "--disable-extensions",
                     "--disable-background-timer-throttling", "--disable-renderer-backgrounding"],
        });
        for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
            if std::path::Path::new(candidate).exists() {
                options["binary"] = json!(candidate);
                break;
            }
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session through chromedriver: {e}"));
        Browser {
            client,
            base: base.to_owned(),
            name: name.to_owned(),
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigation");
    }

    /// The element with this `data-testid` (visible or not), waiting for it to exist.
    pub async fn find(&self, testid: &str) -> Element {
        self.find_css(&format!("[data-testid=\"{testid}\"]")).await
    }

    pub async fn find_css(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(25))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no `{css}` within {WAIT:?}: {e}", self.name))
    }

    pub async fn click(&self, testid: &str) {
        self.find(testid)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: clicking {testid}: {e}", self.name));
    }

    /// Types into the field named `name` inside the element with `testid`.
    pub async fn fill(&self, testid: &str, name: &str, text: &str) {
        let field = self
            .find_css(&format!("[data-testid=\"{testid}\"] [name=\"{name}\"]"))
            .await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("typing");
    }

    /// Runs `script` (a function body) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.name))
    }

    /// Waits until the JS expression is truthy; panics with `what` after the wait.
    pub async fn until(&self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.js(&format!("return ({expression});"), vec![]).await;
            if !(value.is_null()
                || value == json!(false)
                || value == json!("")
                || value == json!(0))
            {
                return value;
            }
            if Instant::now() > deadline {
                let _ = self.shot(&format!("failed-{}", self.name)).await;
                panic!(
                    "{}: {what}: still false after {WAIT:?}: {expression}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The text of the element with `testid` (textContent: what a reader sees).
    pub async fn text(&self, testid: &str) -> String {
        self.js(
            "const el = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); return el ? el.textContent : null;",
            vec![json!(testid)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// A PNG of the page under `target/screenshots/<name>.png`.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(screenshots_dir().join(format!("{name}.png")), png).expect("saving it");
    }
}

/// Plain HTTP to the API (setup and checks the browser does not do).
pub struct Http {
    pub base: String,
    client: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new(base: &str) -> Http {
        Http {
            base: base.to_owned(),
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> (u16, Value) {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let res = self
            .client
            .request(req.body(Full::new(Bytes::from(bytes))).expect("a request"))
            .await
            .expect("the server answers");
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.expect("a body").to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    /// The newest code mailed to `email` (the subject starts with it).
    pub async fn code_for(&self, email: &str) -> String {
        let (_, outbox) = self
            .call(
                "GET",
                &format!("/_local/outbox?to={email}"),
                None,
                None,
                None,
            )
            .await;
        outbox["items"][0]["subject"]
            .as_str()
            .unwrap_or_else(|| panic!("no mail to {email}: {outbox}"))
            .split_whitespace()
            .next()
            .expect("a code")
            .to_owned()
    }

    /// The first URL in the newest mail to `email` that contains `marker`.
    pub async fn mail_link(&self, email: &str, marker: &str) -> String {
        let (_, outbox) = self
            .call(
                "GET",
                &format!("/_local/outbox?to={email}"),
                None,
                None,
                None,
            )
            .await;
        let text = outbox["items"][0]["text"].as_str().unwrap_or_default();
        text.split_whitespace()
            .find(|w| w.contains(marker))
            .unwrap_or_else(|| panic!("no {marker} link in the mail to {email}: {text}"))
            .to_owned()
    }

    /// Signs someone up over HTTP (setup only) and answers their access token.
    pub async fn person(&self, name: &str) -> String {
        let email = format!("{name}@example.com");
        let (status, started) = self
            .call(
                "POST",
                "/auth/signup",
                Some(json!({"username": name, "email": email, "password": PASSWORD})),
                None,
                None,
            )
            .await;
        assert_eq!(status, 202, "{started}");
        let code = self.code_for(&email).await;
        let (status, done) = self
            .call(
                "POST",
                "/auth/signup/verify",
                Some(json!({"signup_id": started["signup_id"], "code": code})),
                None,
                None,
            )
            .await;
        assert_eq!(status, 201, "{done}");
        done["tokens"]["access_token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    pub async fn login(&self, name: &str) -> String {
        self.login_with(name, PASSWORD).await
    }

    pub async fn login_with(&self, name: &str, password: &str) -> String {
        let (status, tokens) = self
            .call(
                "POST",
                "/auth/token",
                Some(json!({"login": name, "password": password})),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{tokens}");
        tokens["access_token"].as_str().expect("a token").to_owned()
    }

    pub async fn balance(&self, token: &str) -> i64 {
        let (status, wallet) = self.call("GET", "/wallet", None, Some(token), None).await;
        assert_eq!(status, 200, "{wallet}");
        wallet["balance"].as_i64().expect("a balance")
    }
}

/// A TCP relay in front of the local server's HTTP port: the browser reaches the app and the
/// API through it, and `cut()` drops every connection and refuses new ones (the API is down)
/// until `restore()`.
pub struct Relay {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: Option<JoinHandle<()>>,
}

impl Relay {
    pub async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a relay port");
        let addr = listener.local_addr().expect("its address");
        let mut relay = Relay {
            addr,
            upstream,
            tasks: Arc::default(),
            accept: None,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: TcpListener) {
        let (tasks, upstream) = (self.tasks.clone(), self.upstream);
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().expect("relay tasks").push(task);
            }
        }));
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn cut(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        for task in self.tasks.lock().expect("relay tasks").drain(..) {
            task.abort();
        }
    }

    pub async fn restore(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(Instant::now() < deadline, "rebinding the relay: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.serve(listener);
    }
}

/// The median of some figures.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
