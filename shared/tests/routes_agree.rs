//! `template.yaml`, the function binaries and the route table of the handlers (which the local
//! server serves) describe the same deployment.

use chatman::handlers::routes::ROUTES;
use std::collections::BTreeSet;

fn repo_file(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// `(function, "METHOD /path")` from the template: each `Binary:` starts a function, each
/// `Path:` and the `Method:` after it make a route of that function.
fn template_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let (mut function, mut path) = (None::<String>, None::<String>);
    for line in repo_file("template.yaml").lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("Binary:") {
            function = Some(name.trim().to_owned());
        } else if let Some(p) = line.strip_prefix("Path:") {
            path = Some(p.trim().to_owned());
        } else if let Some(m) = line.strip_prefix("Method:") {
            let f = function.clone().expect("a Method: after a Binary:");
            let p = path.take().expect("a Path: before each Method:");
            routes.insert((f, format!("{} {p}", m.trim().to_uppercase())));
        }
    }
    routes
}

fn table_routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(f, k)| (f.to_string(), k.to_string()))
        .collect()
}

#[test]
fn the_template_declares_exactly_the_routes_the_handlers_serve() {
    assert_eq!(template_routes(), table_routes());
}

#[test]
fn every_function_has_a_binary_and_every_binary_a_function() {
    let dir = format!("{}/../functions/src/bin", env!("CARGO_MANIFEST_DIR"));
    let binaries: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("functions/src/bin")
        .map(|e| {
            e.expect("entry")
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    let functions: BTreeSet<String> = ROUTES.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(binaries, functions);
}

#[test]
fn the_template_table_matches_the_schema_the_adapter_creates() {
    let template = repo_file("template.yaml");
    for needle in [
        "AttributeName: pk",
        "AttributeName: sk",
        "AttributeName: gsi1pk",
        "AttributeName: gsi1sk",
        &format!(
            "IndexName: {}",
            chatman::adapters::dynamodb::schema::USERNAME_INDEX
        ),
        "AttributeName: ttl",
        "PointInTimeRecoveryEnabled: true",
    ] {
        assert!(template.contains(needle), "template.yaml lacks `{needle}`");
    }
}

/// Which functions the template gives an environment variable.
fn functions_with_variable(template: &str, variable: &str) -> BTreeSet<String> {
    let mut holders = BTreeSet::new();
    let mut function = None::<String>;
    for line in template.lines() {
        if let Some(name) = line.trim().strip_prefix("Binary:") {
            function = Some(name.trim().to_owned());
        }
        if line.trim().starts_with(&format!("{variable}:")) {
            holders.insert(
                function
                    .clone()
                    .unwrap_or_else(|| panic!("{variable} inside a function")),
            );
        }
    }
    holders
}

#[test]
fn only_the_functions_that_need_a_secret_know_where_it_is_and_none_holds_one() {
    let template = repo_file("template.yaml");
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        functions_with_variable(&template, "JWT_SIGNING_KEY_SECRET_ID"),
        set(&["token", "verify-otp"])
    );
    assert_eq!(
        functions_with_variable(&template, "OTP_SECRET_ID"),
        set(&["signup", "verify-otp"])
    );
    // No secret value in any function's configuration: neither as a variable nor resolved from
    // Secrets Manager at deploy time.
    for leak in [
        "JWT_PRIVATE_KEY",
        "OTP_SECRET:",
        "resolve:secretsmanager",
        "JwtPrivateKey",
    ] {
        assert!(!template.contains(leak), "template.yaml contains {leak}");
    }
    // Each secret is readable only by the functions that use it, one secret per statement.
    let mut readers: BTreeSet<(String, String)> = BTreeSet::new();
    let mut function = None::<String>;
    let mut reading = false;
    for line in template.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("Binary:") {
            function = Some(name.trim().to_owned());
        }
        if line == "Action: secretsmanager:GetSecretValue" {
            reading = true;
        } else if let Some(secret) = line.strip_prefix("Resource: !Ref ").filter(|_| reading) {
            readers.insert((function.clone().expect("in a function"), secret.to_owned()));
            reading = false;
        }
    }
    let expected = [
        ("signup", "OtpSecret"),
        ("token", "JwtSigningKeySecret"),
        ("verify-otp", "JwtSigningKeySecret"),
        ("verify-otp", "OtpSecret"),
    ];
    assert_eq!(
        readers,
        expected
            .iter()
            .map(|(f, s)| (f.to_string(), s.to_string()))
            .collect()
    );
}

#[test]
fn the_template_username_index_projects_exactly_the_public_attributes() {
    let template = repo_file("template.yaml");
    let index = template
        .split_once(&format!(
            "IndexName: {}",
            chatman::adapters::dynamodb::schema::USERNAME_INDEX
        ))
        .expect("the index is declared")
        .1;
    let projection = index
        .split_once("Projection:")
        .expect("the index has a projection")
        .1;
    let mut lines = projection.lines().map(str::trim).filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some("ProjectionType: INCLUDE"));
    let expected = format!(
        "NonKeyAttributes: [{}]",
        chatman::adapters::dynamodb::schema::PUBLIC_ATTRIBUTES.join(", ")
    );
    assert_eq!(lines.next(), Some(expected.as_str()));
}

#[test]
fn no_deployed_function_is_configured_with_admin_usernames() {
    // A listed name would be admin for whoever signs up first: deployed admins exist only by
    // `chatman-admin grant`.
    let template = repo_file("template.yaml");
    for needle in ["ADMIN_USERNAMES", "AdminUsernames"] {
        assert!(!template.contains(needle), "template.yaml sets {needle}");
    }
}
