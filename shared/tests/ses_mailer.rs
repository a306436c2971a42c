//! The SES adapter is real SDK code. SES has no local counterpart, so it is pointed at a small
//! HTTP endpoint on loopback that records what arrives and answers like SES v2 would: the test
//! checks the request the SDK really sends (route, SigV4 signature, sender, recipient, bodies).

mod support;

use chatman::adapters::ses::SesMailer;
use chatman::ports::{Mail, Mailer};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: String,
    body: serde_json::Value,
}

/// Serves one kind of answer on a free port and records every request.
async fn fake_ses(status: u16, answer: &'static str) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let record = record.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let bytes = body.collect().await.expect("body").to_bytes();
                        record.lock().expect("lock").push(Seen {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_owned(),
                            authorization: parts
                                .headers
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned(),
                            body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
                        });
                        let response = hyper::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .header(
                                "x-amzn-errortype",
                                if status == 200 { "" } else { "MessageRejected" },
                            )
                            .body(Full::new(Bytes::from_static(answer.as_bytes())))
                            .expect("response");
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, seen)
}

fn mail() -> Mail {
    Mail {
        to: "alice@example.com".into(),
        subject: "123456 is your Chatman code".into(),
        text: "Your code is 123456.".into(),
        html: "<p>Your code is <b>123456</b>.</p>".into(),
    }
}

#[tokio::test]
async fn the_ses_adapter_sends_a_signed_sendemail_request() {
    let (url, seen) = fake_ses(200, r#"{"MessageId":"m-1"}"#).await;
    let aws = chatman::adapters::aws::local(&url);
    let mailer = SesMailer::new(&aws, "no-reply@chatman.example".into());
    mailer.send(mail()).await.expect("sent");

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v2/email/outbound-emails")
    );
    assert!(
        request
            .authorization
            .starts_with("AWS4-HMAC-SHA256 Credential=local/"),
        "{}",
        request.authorization
    );
    assert!(request.authorization.contains("/ses/aws4_request"));
    let body = &request.body;
    assert_eq!(body["FromEmailAddress"], "no-reply@chatman.example");
    assert_eq!(body["Destination"]["ToAddresses"][0], "alice@example.com");
    let simple = &body["Content"]["Simple"];
    assert_eq!(simple["Subject"]["Data"], "123456 is your Chatman code");
    assert_eq!(simple["Body"]["Text"]["Data"], "Your code is 123456.");
    assert_eq!(simple["Body"]["Html"]["Charset"], "UTF-8");
}

#[tokio::test]
async fn an_ses_refusal_is_an_error_that_names_no_content() {
    let (url, _) = fake_ses(400, r#"{"message":"Email address is not verified."}"#).await;
    let aws = chatman::adapters::aws::local(&url);
    let mailer = SesMailer::new(&aws, "no-reply@chatman.example".into());
    let error = mailer.send(mail()).await.expect_err("refused").to_string();
    assert!(error.contains("SES SendEmail failed"), "{error}");
    assert!(
        !error.contains("123456"),
        "the code must not travel into errors or logs: {error}"
    );
}

#[tokio::test]
async fn when_ses_refuses_signup_answers_503_mail_unavailable() {
    let (url, _) = fake_ses(400, r#"{"message":"Throttling"}"#).await;
    let aws = chatman::adapters::aws::local(&url);
    let mailer = Arc::new(SesMailer::new(&aws, "no-reply@chatman.example".into()));
    let store = Arc::new(chatman::adapters::memory::MemoryAccounts::new());
    let app = support::TestApp::build_with_mailer(store, "", Some(mailer));
    let reply = app.start_signup("alice", "alice@example.com").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.code(), "mail_unavailable");
}
