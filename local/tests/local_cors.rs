//! `/_local/*` is never readable from another origin: the outbox holds every signup code and
//! reset link, so a page on any website must not be able to fetch it from a developer's machine.
//! Real HTTP against the started server, with the most permissive and a specific `--cors-origin`.

use chatman_local::{LocalConfig, start};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const PAGE: &str = "https://evil.example";

async fn headers_of(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    method: &str,
    url: &str,
    preflight: bool,
) -> (u16, hyper::HeaderMap) {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("origin", PAGE);
    if preflight {
        req = req
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "content-type");
    }
    let res = client
        .request(req.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("the server answers");
    (res.status().as_u16(), res.headers().clone())
}

fn cors_headers(headers: &hyper::HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn the_outbox_and_other_local_routes_carry_no_cors_headers_whatever_the_origin_setting() {
    for cors_origin in ["*", PAGE] {
        let config = LocalConfig {
            cors_origin: cors_origin.into(),
            ..LocalConfig::embedded()
        };
        let running = start(config).await.expect("the local server starts");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let base = running.http_url();

        // The API itself is CORS-readable as configured, so the check below can fail.
        let (_, api) = headers_of(&client, "GET", &format!("{base}/me"), false).await;
        assert_eq!(
            api.get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            Some(cors_origin)
        );
        // And its preflight allows every method a route uses (PUT for reactions, say).
        let (_, preflight) = headers_of(&client, "OPTIONS", &format!("{base}/me"), true).await;
        let methods = preflight
            .get("access-control-allow-methods")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        for (_, key) in chatman::handlers::routes::ROUTES {
            let method = key.split(' ').next().unwrap_or_default();
            assert!(methods.contains(method), "{key}: {method} not in {methods}");
        }

        for path in [
            "/_local/outbox",
            "/_local/outbox?to=a%40example.com",
            "/_local/health",
        ] {
            let url = format!("{base}{path}");
            let (status, get) = headers_of(&client, "GET", &url, false).await;
            assert_eq!(
                status, 200,
                "{path} still answers same-origin tools like curl"
            );
            assert!(
                cors_headers(&get).is_empty(),
                "GET {path} with --cors-origin {cors_origin}: {:?}",
                cors_headers(&get)
            );
            let (status, preflight) = headers_of(&client, "OPTIONS", &url, true).await;
            assert_ne!(status / 100, 2, "a preflight to {path} is not answered");
            assert!(
                cors_headers(&preflight).is_empty(),
                "OPTIONS {path} with --cors-origin {cors_origin}: {:?}",
                cors_headers(&preflight)
            );
        }
        running.stop();
    }
}
