//! Rotating the JWT signing key logs nobody out (docs/KEYS.md), over the `profile` function's
//! `GET /me`: while the verifiers trust the previous and the new public key, tokens of both
//! work; once the previous key is dropped, its tokens are refused. Whatever the trusted set, a
//! token must name a trusted key in its `kid` and be signed by exactly that key with EdDSA:
//! a missing or unknown `kid`, `alg: none`, HS256 and a foreign key claiming a trusted `kid` are
//! all 401.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chatman::handlers::{Context, Function, profile::Profile, routes};
use chatman::http::apigw::{Incoming, to_event, to_request};
use chatman::ports::Clock;
use chatman::security::jwt::{AccessClaims, TokenSigner, TokenVerifier};
use chatman::security::keys;
use chatman::settings::Settings;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{TestApp, scope};

struct Keys {
    previous: TokenSigner,
    new: TokenSigner,
    previous_public: String,
    new_public: String,
}

fn keys() -> Keys {
    let (previous_private, previous_public) = keys::pems_of(&[11; 32]);
    let (new_private, new_public) = keys::pems_of(&[22; 32]);
    let both = format!("{new_public}{previous_public}");
    Keys {
        previous: TokenSigner::from_pems(&previous_private, &both, scope()).unwrap(),
        new: TokenSigner::from_pems(&new_private, &both, scope()).unwrap(),
        previous_public,
        new_public,
    }
}

/// The profile function of the same deployment, trusting `public_pems`.
fn profile(app: &TestApp, public_pems: &str) -> Profile {
    let ctx = Context {
        store: app.store.clone(),
        clock: app.clock.clone() as Arc<dyn Clock>,
        settings: Arc::new(Settings::new("", "https://app.example", scope())),
        ledger: app.ledger.clone(),
    };
    let uploads = chatman::services::uploads::UploadService::new(
        Arc::new(chatman::adapters::memory_uploads::MemoryUploads::new()),
        Arc::new(chatman::adapters::memory_files::MemoryFiles::new()),
    );
    Profile::new(
        ctx,
        TokenVerifier::from_public_pems(public_pems, &scope()).unwrap(),
        uploads,
    )
}

async fn get_me(profile: &Profile, token: &str) -> u16 {
    let (route_key, path_params) = routes::match_route("GET", "/me").unwrap();
    let bearer = format!("Bearer {token}");
    let request = to_request(to_event(&Incoming {
        method: "GET",
        path: "/me",
        raw_query: "",
        headers: vec![
            ("authorization".into(), bearer),
            ("host".into(), "api.test".into()),
        ],
        body: b"",
        route_key,
        path_params,
        source_ip: "203.0.113.7".into(),
        host: "api.test".into(),
    }))
    .unwrap();
    profile.handle(request).await.status().as_u16()
}

/// Alice's session, as the claims of a token the deployment issued.
async fn alice(app: &TestApp) -> AccessClaims {
    let account = app.register("alice").await;
    app.signer
        .verifier()
        .verify(&account.access, app.clock_now())
        .unwrap()
}

fn token(signer: &TokenSigner, app: &TestApp, claims: &AccessClaims) -> String {
    signer
        .access_token(
            &claims.user_id,
            &claims.session_id,
            claims.epoch,
            app.clock_now(),
        )
        .unwrap()
        .0
}

#[tokio::test]
async fn rotating_the_signing_key_logs_nobody_out_and_dropping_the_old_key_ends_its_tokens() {
    let app = TestApp::new();
    let session = alice(&app).await;
    let k = keys();
    let old_token = token(&k.previous, &app, &session);

    // 1. The verifiers trust both keys; the signers still sign with the previous one.
    let both = profile(&app, &format!("{}{}", k.previous_public, k.new_public));
    assert_eq!(get_me(&both, &old_token).await, 200);
    // 2. The secret is switched: new tokens carry the new kid; old ones still work.
    let new_token = token(&k.new, &app, &session);
    assert_ne!(k.new.kid(), k.previous.kid());
    assert_eq!(get_me(&both, &new_token).await, 200);
    assert_eq!(get_me(&both, &old_token).await, 200);
    // 3. The previous key is dropped (after 15 minutes, when its tokens have expired anyway):
    //    a token it signed is refused from then on.
    let new_only = profile(&app, &k.new_public);
    assert_eq!(get_me(&new_only, &new_token).await, 200);
    assert_eq!(get_me(&new_only, &old_token).await, 401);
}

fn with_header(token: &str, header: Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[0] = URL_SAFE_NO_PAD.encode(header.to_string());
    parts.join(".")
}

#[tokio::test]
async fn a_token_must_name_a_trusted_key_and_be_signed_by_it_with_eddsa() {
    let app = TestApp::new();
    let session = alice(&app).await;
    let k = keys();
    let verifiers = profile(&app, &format!("{}{}", k.previous_public, k.new_public));
    let good = token(&k.new, &app, &session);
    let kid = k.new.kid().to_owned();
    assert_eq!(get_me(&verifiers, &good).await, 200);

    let payload = good.split('.').nth(1).unwrap().to_owned();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload).unwrap()).unwrap();
    // HS256 keyed with the public key's bytes: the classic algorithm-confusion forgery.
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    let hs_key = jsonwebtoken::EncodingKey::from_secret(&keys::public_of(&[22; 32]).bytes);
    let hs256 = jsonwebtoken::encode(&hs_header, &claims, &hs_key).unwrap();
    // A key nobody trusts, signing under a trusted key's kid.
    let (foreign_private, _) = keys::pems_of(&[33; 32]);
    let mut eddsa = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    eddsa.kid = Some(kid.clone());
    let foreign_key = jsonwebtoken::EncodingKey::from_ed_pem(foreign_private.as_bytes()).unwrap();
    let foreign_claiming_trusted_kid = jsonwebtoken::encode(&eddsa, &claims, &foreign_key).unwrap();
    let (foreign_private, foreign_public) = keys::pems_of(&[33; 32]);
    let foreign = TokenSigner::from_pems(&foreign_private, &foreign_public, scope()).unwrap();

    let cases = [
        (
            "no kid",
            with_header(&good, json!({"alg": "EdDSA", "typ": "JWT"})),
        ),
        (
            "unknown kid",
            with_header(
                &good,
                json!({"alg": "EdDSA", "typ": "JWT", "kid": "someone-else"}),
            ),
        ),
        (
            "alg none with a trusted kid",
            format!(
                "{}.{payload}.",
                URL_SAFE_NO_PAD
                    .encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string())
            ),
        ),
        ("HS256 with a trusted kid", hs256),
        (
            "a foreign key under a trusted kid",
            foreign_claiming_trusted_kid,
        ),
        (
            "a foreign key under its own kid",
            token(&foreign, &app, &session),
        ),
        (
            "the previous key's token under the new key's kid",
            with_header(
                &token(&k.previous, &app, &session),
                json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}),
            ),
        ),
    ];
    for (why, forged) in cases {
        assert_eq!(get_me(&verifiers, &forged).await, 401, "{why}");
    }
}
