//! The web app as the local server serves it, over real HTTP: every file of `web/` byte for
//! byte with its content type, the app's own paths (emailed reset links, donate links) answered
//! with index.html, `/config.json` pointing at this server (and at its WebSocket and file
//! origins), a CSP that names exactly those origins, and the API untouched: its routes,
//! `/_local/*` and unknown paths answer exactly as before (JSON and problem+json, never HTML).

use chatman_local::{LocalConfig, start};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::{Path, PathBuf};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn get(client: &HttpClient, method: &str, url: &str) -> (u16, String, String, Bytes) {
    let req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::new()))
        .expect("a request");
    let res = client.request(req).await.expect("the server answers");
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, csp) = (header("content-type"), header("content-security-policy"));
    let body = res.into_body().collect().await.expect("a body").to_bytes();
    (status, content_type, csp, body)
}

fn web_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("web/") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            web_files(&path, out);
        } else if path.extension().is_some_and(|e| e != "md") {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn the_app_is_served_beside_the_api_without_shadowing_it() {
    let running = start(LocalConfig::embedded())
        .await
        .expect("the server starts");
    let base = running.http_url();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    // Every file of web/, as it is on disk, with a content type a browser runs or renders.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web");
    let mut files = Vec::new();
    web_files(&root, &mut files);
    assert!(files.len() >= 10, "web/ has the app's files");
    for file in files {
        let path = file
            .strip_prefix(&root)
            .expect("under web/")
            .to_string_lossy()
            .replace('\\', "/");
        let (status, content_type, _, body) = get(&client, "GET", &format!("{base}/{path}")).await;
        assert_eq!(status, 200, "/{path}");
        assert_eq!(
            body,
            std::fs::read(&file).expect("the file"),
            "/{path} is served as it is"
        );
        let expected = match file.extension().and_then(|e| e.to_str()) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("html") => "text/html; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("an unexpected kind of file in web/: {other:?}"),
        };
        assert_eq!(content_type, expected, "/{path}");
    }

    // The app's entry points: index.html, with a policy that runs only the app's own scripts.
    let index = std::fs::read(root.join("index.html")).expect("index.html");
    for path in [
        "/",
        "/login",
        "/signup",
        "/forgot-password",
        "/reset-password?token=abc",
        "/donate/0193abc",
    ] {
        let (status, content_type, csp, body) = get(&client, "GET", &format!("{base}{path}")).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "text/html; charset=utf-8"),
            "{path}"
        );
        assert_eq!(body, index, "{path}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
    }
    let (status, _, _, _) = get(&client, "HEAD", &format!("{base}/")).await;
    assert_eq!(status, 200);

    // config.json: the API is this server, as the browser reached it.
    let (status, content_type, _, body) = get(&client, "GET", &format!("{base}/config.json")).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let config: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(config["api_url"], base.as_str());
    assert_eq!(config["ws_ticket_route"], "/ws/tickets");
    let ws_origin = format!("ws://{}", running.ws_addr);
    let files_origin = running.s3.endpoint();
    assert_eq!(config["ws_origin"], ws_origin.as_str());
    assert_eq!(config["files_origin"], files_origin.as_str());

    // The CSP names exactly those origins: no scheme wildcard lets the page reach anywhere else.
    let (_, _, csp, _) = get(&client, "GET", &format!("{base}/")).await;
    let directive = |name: &str| -> Vec<String> {
        csp.split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
            .unwrap_or_else(|| panic!("no {name} in {csp}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let sources = |list: &[&str]| -> Vec<String> { list.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        directive("connect-src"),
        sources(&["'self'", &base, &ws_origin, &files_origin])
    );
    assert_eq!(
        directive("img-src"),
        sources(&["'self'", "blob:", "data:", &files_origin])
    );
    assert_eq!(
        directive("media-src"),
        sources(&["'self'", "blob:", &files_origin])
    );
    for (name, only) in [
        ("default-src", "'self'"),
        ("script-src", "'self'"),
        ("style-src", "'self'"),
        ("object-src", "'none'"),
        ("frame-ancestors", "'none'"),
    ] {
        assert_eq!(directive(name), sources(&[only]), "{name}");
    }
    for wildcard in ["http:", "https:", "ws:", "wss:", "*"] {
        assert!(
            !csp.split_whitespace().any(|s| s == wildcard),
            "no {wildcard} source: {csp}"
        );
    }

    // The API as before: routes, their errors, /_local/*, unknown paths and other methods.
    for (method, path, expected_status, expected_type) in [
        ("GET", "/rooms", 401, "application/problem+json"),
        ("GET", "/me", 401, "application/problem+json"),
        (
            "GET",
            "/donate-links/0193abc",
            404,
            "application/problem+json",
        ),
        ("GET", "/_local/health", 200, "application/json"),
        ("GET", "/nope", 404, "application/problem+json"),
        ("GET", "/donate/a/b", 404, "application/problem+json"),
        ("GET", "/donate/", 404, "application/problem+json"),
        ("GET", "/js/missing.js", 404, "application/problem+json"),
        ("GET", "/reset-password/x", 404, "application/problem+json"),
        ("POST", "/", 404, "application/problem+json"),
        ("DELETE", "/index.html", 404, "application/problem+json"),
        ("POST", "/config.json", 404, "application/problem+json"),
    ] {
        let (status, content_type, _, _) = get(&client, method, &format!("{base}{path}")).await;
        assert_eq!(
            (status, content_type.as_str()),
            (expected_status, expected_type),
            "{method} {path}"
        );
    }
    running.stop();
}
