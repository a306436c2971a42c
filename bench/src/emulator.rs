//! A minimal Lambda Runtime API, enough for the Rust runtime client to start, poll and answer:
//!
//! - `GET  /2018-06-01/runtime/invocation/next` (held open until an invocation is queued);
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`;
//! - `POST /2018-06-01/runtime/init/error`.
//!
//! Plain HTTP/1.1 over `std::net`, one thread per connection: the benchmark needs no extra crate
//! (or crate feature) that could change how the function binaries are built. The arrival of the
//! first `/next` of a process is the moment the function is ready, which is what the cold-start
//! benchmark times.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PREFIX: &str = "/2018-06-01/runtime";
const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
/// Largest request body we accept (Lambda's own limit on a response payload is 6 MB).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// One event to hand to the function.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub function_arn: String,
    pub event: Vec<u8>,
}

/// What the function posted back.
#[derive(Debug, Clone)]
pub enum Report {
    Response {
        request_id: String,
        body: Vec<u8>,
    },
    Error {
        request_id: String,
        error_type: Option<String>,
        body: Vec<u8>,
    },
    InitError {
        error_type: Option<String>,
        body: Vec<u8>,
    },
}

#[derive(Default)]
struct State {
    /// One epoch per process under test: `reset` starts a new one, and `/next` requests held
    /// for an older epoch are dropped.
    epoch: u64,
    first_next: Option<Instant>,
    nexts: u32,
    queue: VecDeque<Invocation>,
    reports: VecDeque<Report>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The emulator, listening on 127.0.0.1 on a port of the system's choosing.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Emulator {
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let accepting = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("runtime-api".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let shared = Arc::clone(&accepting);
                    let _ = std::thread::Builder::new()
                        .name("runtime-api-conn".into())
                        .spawn(move || {
                            // A connection dies with its process (we kill it): nothing to report.
                            let _ = serve(stream, &shared);
                        });
                }
            })?;
        Ok(Self { addr, shared })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// Forgets everything about the previous process; call before spawning the next one.
    pub fn reset(&self) {
        let mut st = self.shared.lock();
        st.epoch += 1;
        st.first_next = None;
        st.nexts = 0;
        st.queue.clear();
        st.reports.clear();
        self.shared.changed.notify_all();
    }

    /// Queues an event; the pending (or next) `/next` receives it.
    pub fn enqueue(&self, invocation: Invocation) {
        self.shared.lock().queue.push_back(invocation);
        self.shared.changed.notify_all();
    }

    /// When the first `/next` of the current epoch arrived. `alive` is polled while waiting and
    /// should fail when the process has exited; an `/init/error` from the function fails too.
    pub fn wait_first_next(
        &self,
        timeout: Duration,
        alive: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Instant> {
        self.wait(timeout, alive, |st| {
            match (st.first_next, st.reports.front()) {
                (_, Some(Report::InitError { error_type, body })) => Some(Err(anyhow::anyhow!(
                    "the function reported an init error ({}): {}",
                    error_type.as_deref().unwrap_or("no type"),
                    String::from_utf8_lossy(body)
                ))),
                (Some(at), _) => Some(Ok(at)),
                _ => None,
            }
        })?
    }

    /// The next report the function posts (response, invocation error or init error).
    pub fn wait_report(
        &self,
        timeout: Duration,
        alive: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Report> {
        self.wait(timeout, alive, |st| st.reports.pop_front())
    }

    fn wait<T>(
        &self,
        timeout: Duration,
        mut alive: impl FnMut() -> anyhow::Result<()>,
        mut ready: impl FnMut(&mut State) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if let Some(found) = ready(&mut st) {
                return Ok(found);
            }
            let now = Instant::now();
            if now >= deadline {
                anyhow::bail!("the runtime API emulator timed out after {timeout:?}");
            }
            // Poll the process now and then; the condvar wakes us as soon as a request lands.
            let slice = (deadline - now).min(Duration::from_millis(20));
            st = self
                .shared
                .changed
                .wait_timeout(st, slice)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            if let Some(found) = ready(&mut st) {
                return Ok(found);
            }
            drop(st);
            alive()?;
            st = self.shared.lock();
        }
    }
}

struct HttpRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// When the request line was read.
    arrived: Instant,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader)? {
        if req.method == "GET" && req.path == NEXT {
            let mut st = shared.lock();
            st.first_next.get_or_insert(req.arrived);
            st.nexts += 1;
            let epoch = st.epoch;
            shared.changed.notify_all();
            let invocation = loop {
                if st.epoch != epoch {
                    break None;
                }
                if let Some(inv) = st.queue.pop_front() {
                    break Some(inv);
                }
                st = shared
                    .changed
                    .wait_timeout(st, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            };
            drop(st);
            let Some(inv) = invocation else { return Ok(()) };
            let deadline_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
                + 30_000;
            let headers = [
                ("Content-Type", "application/json".to_owned()),
                ("Lambda-Runtime-Aws-Request-Id", inv.request_id.clone()),
                ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    inv.function_arn.clone(),
                ),
                (
                    "Lambda-Runtime-Trace-Id",
                    format!(
                        "Root=1-00000000-{:0>24};Parent=0000000000000000;Sampled=0",
                        inv.request_id
                            .replace('-', "")
                            .chars()
                            .take(24)
                            .collect::<String>()
                    ),
                ),
            ];
            respond(&mut writer, 200, "OK", &headers, &inv.event)?;
            continue;
        }
        let report = if req.method == "POST" && req.path == INIT_ERROR {
            Some(Report::InitError {
                error_type: error_type(&req),
                body: req.body.clone(),
            })
        } else if let Some(rest) = req
            .path
            .strip_prefix(INVOCATION)
            .filter(|_| req.method == "POST")
        {
            match rest.rsplit_once('/') {
                Some((id, "response")) => Some(Report::Response {
                    request_id: id.to_owned(),
                    body: req.body.clone(),
                }),
                Some((id, "error")) => Some(Report::Error {
                    request_id: id.to_owned(),
                    error_type: error_type(&req),
                    body: req.body.clone(),
                }),
                _ => None,
            }
        } else {
            None
        };
        match report {
            Some(report) => {
                shared.lock().reports.push_back(report);
                shared.changed.notify_all();
                respond(
                    &mut writer,
                    202,
                    "Accepted",
                    &[("Content-Type", "application/json".into())],
                    br#"{"status":"OK"}"#,
                )?;
            }
            None => {
                let known = req.path.starts_with(PREFIX);
                let body = format!(
                    r#"{{"errorMessage":"not emulated: {} {}","errorType":"{}"}}"#,
                    req.method,
                    req.path,
                    if known { "NotImplemented" } else { "NotFound" }
                );
                respond(
                    &mut writer,
                    404,
                    "Not Found",
                    &[("Content-Type", "application/json".into())],
                    body.as_bytes(),
                )?;
            }
        }
    }
    Ok(())
}

fn error_type(req: &HttpRequest) -> Option<String> {
    req.header("lambda-runtime-function-error-type")
        .map(str::to_owned)
}

fn respond(
    w: &mut TcpStream,
    status: u16,
    reason: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    w.write_all(&out)?;
    w.flush()
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

/// Reads one request; `None` when the client closed the connection between requests.
fn read_request(r: &mut BufReader<TcpStream>) -> io::Result<Option<HttpRequest>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let arrived = Instant::now();
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(bad("bad request line"));
    };
    let path = target.split('?').next().unwrap_or(target).to_owned();
    let method = method.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("eof in headers"));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').ok_or_else(|| bad("bad header"))?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut req = HttpRequest {
        method,
        path,
        headers,
        body: Vec::new(),
        arrived,
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size_hex = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers (streamed responses report errors in them), then the blank line.
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            if req.body.len() + size > MAX_BODY {
                return Err(bad("body too large"));
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            r.read_exact(&mut req.body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        if len > MAX_BODY {
            return Err(bad("body too large"));
        }
        req.body.resize(len, 0);
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}
