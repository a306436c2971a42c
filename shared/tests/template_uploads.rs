//! The uploads bucket in `template.yaml` is private and keeps attached files, and S3 rights go
//! only where they are needed: `PutObject` on `uploads/` only for `upload-url`; reads only for
//! the functions that HEAD objects or sign downloads; `DeleteObject` on `files/` only for those
//! that delete messages, rooms or replace avatars (the same four that attach). The web site's CSP
//! names only this stack's API, WebSocket API and uploads bucket.

use std::collections::{BTreeMap, BTreeSet};

fn template() -> String {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `function -> {(s3 action, resource)}` from each function's policy statements.
fn s3_rights() -> BTreeMap<String, BTreeSet<(String, String)>> {
    let mut rights: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let (mut function, mut actions) = (None::<String>, Vec::<String>::new());
    for line in template().lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("Binary:") {
            function = Some(name.trim().to_owned());
        } else if line.starts_with("- Sid:") {
            actions.clear();
        } else if let Some(action) = line.strip_prefix("Action:").map(str::trim) {
            if action.starts_with("s3:") {
                actions = vec![action.to_owned()];
            }
        } else if let Some(action) = line.strip_prefix("- s3:") {
            actions.push(format!("s3:{action}"));
        } else if line.contains("${UploadsBucket.Arn}/")
            && let Some(f) = &function
        {
            let resource = line
                .split("${UploadsBucket.Arn}/")
                .nth(1)
                .unwrap_or_default()
                .trim_end_matches('"')
                .to_owned();
            for a in &actions {
                rights
                    .entry(f.clone())
                    .or_default()
                    .insert((a.clone(), resource.clone()));
            }
        } else if line.starts_with("Events:") {
            actions.clear();
        } else if line.starts_with("UploadsBucketPolicy:") {
            function = None;
        }
    }
    rights
}

#[test]
fn only_upload_url_puts_into_uploads_and_only_file_readers_get_objects() {
    let rights = s3_rights();
    let pair = |a: &str, r: &str| (a.to_owned(), r.to_owned());
    assert_eq!(
        rights.get("upload-url"),
        Some(&BTreeSet::from([pair("s3:PutObject", "uploads/*")]))
    );
    assert_eq!(
        rights.get("profile"),
        Some(&BTreeSet::from([
            pair("s3:GetObject", "uploads/*"),
            pair("s3:GetObject", "files/*"),
            pair("s3:PutObject", "files/*"),
            pair("s3:DeleteObject", "files/*"),
        ]))
    );
    // Attaching files to messages and room avatars, over HTTP and WebSocket: the same rights.
    for function in ["rooms", "messages", "ws-message"] {
        assert_eq!(rights.get(function), rights.get("profile"), "{function}");
    }
    for (function, set) in &rights {
        for (action, resource) in set {
            assert!(
                !(action == "s3:PutObject" && resource == "uploads/*") || function == "upload-url",
                "{function} may put into uploads/"
            );
            assert_ne!(resource, "*", "{function} has rights on the whole bucket");
        }
    }
}

#[test]
fn the_bucket_is_private_encrypted_and_expires_only_unattached_uploads() {
    let template = template();
    let bucket = template
        .split_once("  UploadsBucket:\n")
        .expect("the bucket is declared")
        .1
        .split("\n\n")
        .next()
        .unwrap_or_default();
    for needle in [
        "BlockPublicAcls: true",
        "BlockPublicPolicy: true",
        "IgnorePublicAcls: true",
        "RestrictPublicBuckets: true",
        "ObjectOwnership: BucketOwnerEnforced",
        "SSEAlgorithm: AES256",
        "AllowedMethods: [PUT, GET, HEAD]",
        "AllowedOrigins: !Ref CorsAllowedOrigins",
        "Prefix: uploads/",
        "ExpirationInDays: 1",
    ] {
        assert!(bucket.contains(needle), "UploadsBucket lacks `{needle}`");
    }
    assert_eq!(
        bucket.matches("Prefix:").count(),
        1,
        "one lifecycle rule, on uploads/ only"
    );
    assert!(!bucket.contains("files/"), "no rule touches attached files");
    assert!(
        template.contains("aws:SecureTransport: false"),
        "HTTPS only"
    );
}

/// The web site's CloudFront CSP names this stack's API, WebSocket API and uploads bucket and
/// nothing wider: no `https:`/`wss:` scheme wildcard, so the page can reach no other host.
#[test]
fn the_web_sites_csp_names_only_this_stacks_origins() {
    let template = template();
    let line = template
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("ContentSecurityPolicy: !Sub "))
        .expect("the CSP is built from the stack's resources (!Sub)")
        .trim_matches('"')
        .to_owned();
    let directive = |name: &str| -> Vec<&str> {
        line.split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            .split_whitespace()
            .collect()
    };
    let bucket = "https://${UploadsBucket}.s3.${AWS::Region}.${AWS::URLSuffix}";
    assert_eq!(
        directive("connect-src"),
        [
            "'self'",
            "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
            "wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
            bucket,
        ]
    );
    assert_eq!(directive("img-src"), ["'self'", "blob:", "data:", bucket]);
    assert_eq!(directive("media-src"), ["'self'", "blob:", bucket]);
    assert_eq!(directive("script-src"), ["'self'"]);
    for wildcard in ["http:", "https:", "ws:", "wss:", "*"] {
        assert!(
            !line.split_whitespace().any(|s| s == wildcard),
            "no {wildcard} source: {line}"
        );
    }
}
