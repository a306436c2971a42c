//! `template.yaml`, the function binaries and the route table of the handlers (which the local
//! server serves) describe the same deployment.

use chatman::handlers::routes::{ROUTES, WS_ROUTES};
use std::collections::{BTreeMap, BTreeSet};

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

/// A browser may only call what the preflight allows: every method of a route is in the HTTP
/// API's `AllowMethods`.
#[test]
fn the_template_cors_allows_every_method_the_routes_use() {
    let template = repo_file("template.yaml");
    let allowed = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("AllowMethods:"))
        .expect("the HTTP API's CorsConfiguration has AllowMethods");
    for (_, key) in ROUTES {
        let method = key.split(' ').next().expect("a method");
        assert!(
            allowed.contains(method),
            "{key}: {method} is not in AllowMethods {allowed}"
        );
    }
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
    let functions: BTreeSet<String> = ROUTES
        .iter()
        .chain(WS_ROUTES)
        .map(|(f, _)| f.to_string())
        .chain(STREAM_FUNCTIONS.iter().map(|f| f.to_string()))
        .collect();
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
        "AttributeName: inbox_order",
        &format!(
            "IndexName: {}",
            chatman::adapters::dynamodb::schema::INBOX_INDEX
        ),
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

/// The template's resources: logical id and the lines of its block (two-space indented ids).
fn template_resources() -> Vec<(String, String)> {
    let template = repo_file("template.yaml");
    let body = template
        .split_once("\nResources:\n")
        .expect("a Resources section")
        .1
        .split("\nOutputs:")
        .next()
        .expect("resources");
    let mut resources: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        let id = line
            .strip_prefix("  ")
            .filter(|rest| !rest.starts_with(' ') && !rest.starts_with('#'))
            .and_then(|rest| rest.strip_suffix(':'));
        match (id, resources.last_mut()) {
            (Some(id), _) => resources.push((id.to_owned(), String::new())),
            (None, Some((_, text))) => {
                text.push_str(line.trim());
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    resources
}

fn field<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::trim)
}

/// The logical ids a `!Sub` value refers to (`${Logical}` or `${Logical.Arn}`), pseudo
/// parameters left out.
fn references(value: &str) -> Vec<&str> {
    value
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(inner, _)| inner.split('.').next().unwrap_or(inner))
        .filter(|id| !id.starts_with("AWS::"))
        .collect()
}

/// `(function, route key)` of the WebSocket API: each `AWS::ApiGatewayV2::Route` targets an
/// integration whose URI names a function, whose `Binary:` is the function's name.
fn template_ws_routes() -> BTreeSet<(String, String)> {
    let resources = template_resources();
    let block = |id: &str| {
        resources
            .iter()
            .find(|(r, _)| r == id)
            .map(|(_, b)| b.as_str())
            .unwrap_or_else(|| panic!("no resource {id}"))
    };
    resources
        .iter()
        .filter(|(_, b)| field(b, "Type") == Some("AWS::ApiGatewayV2::Route"))
        .map(|(id, route)| {
            let key = field(route, "RouteKey").expect("a RouteKey");
            let integration = references(field(route, "Target").expect("a Target"))[0];
            let function = *references(field(block(integration), "IntegrationUri").expect("a URI"))
                .first()
                .unwrap_or_else(|| panic!("{id}: integration without a function"));
            let binary = field(block(function), "Binary").expect("a Binary");
            (binary.to_owned(), key.to_owned())
        })
        .collect()
}

#[test]
fn the_template_declares_exactly_the_websocket_routes_the_handlers_serve() {
    let table: BTreeSet<(String, String)> = WS_ROUTES
        .iter()
        .map(|(f, k)| (f.to_string(), k.to_string()))
        .collect();
    assert_eq!(template_ws_routes(), table);
    let template = repo_file("template.yaml");
    assert!(template.contains("RouteSelectionExpression: $request.body.action"));
    assert!(template.contains("AutoDeploy: true"));
}

#[test]
fn every_websocket_function_may_be_invoked_only_by_its_own_api() {
    let resources = template_resources();
    let permitted: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, b)| field(b, "Type") == Some("AWS::Lambda::Permission"))
        .map(|(id, b)| {
            let source = field(b, "SourceArn").unwrap_or_else(|| panic!("{id} has no SourceArn"));
            assert!(source.contains("${WebSocketApi}/"), "{id}: {source}");
            // The `live` alias (AutoPublishAlias): the integrations invoke it, not $LATEST.
            field(b, "FunctionName")
                .and_then(|f| f.strip_prefix("!Ref "))
                .and_then(|f| f.strip_suffix(".Alias"))
                .unwrap_or_else(|| panic!("{id}: not a function's live alias"))
        })
        .collect();
    assert_eq!(
        permitted,
        BTreeSet::from([
            "WsConnectFunction",
            "WsDisconnectFunction",
            "WsMessageFunction"
        ])
    );
}

/// The functions that push events to WebSocket connections; only they may post to them. The
/// messages function records its events in the outbox instead; `ws-deliver` posts them.
const PUSHING_FUNCTIONS: &[&str] = &[
    "deposit",
    "donate",
    "rooms",
    "transfer",
    "ws-deliver",
    "ws-message",
];

/// Functions no route invokes: `ws-deliver` runs on the table's stream.
const STREAM_FUNCTIONS: &[&str] = &["ws-deliver"];

/// The functions that close sockets: of ended sessions (token, reset), evicted by the cap
/// (ws-connect), answered `unauthorized` (ws-message); only they may DELETE a connection.
const CLOSING_FUNCTIONS: &[&str] = &["reset", "token", "ws-connect", "ws-message"];

#[test]
fn only_the_pushing_functions_may_post_and_the_closing_ones_delete_and_only_on_this_api() {
    let resources = template_resources();
    let (mut posting, mut closing) = (BTreeSet::new(), BTreeSet::new());
    for (id, block) in &resources {
        let Some((_, after)) = block.split_once("execute-api:ManageConnections") else {
            continue;
        };
        let binary = field(block, "Binary").unwrap_or_else(|| panic!("{id} is not a function"));
        // The statement's Resource: one line, or the list under it.
        let arns: Vec<&str> = after
            .lines()
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with("- Sid:"))
            .filter(|l| l.contains("@connections"))
            .collect();
        assert!(
            !arns.is_empty(),
            "{id}: ManageConnections without a Resource"
        );
        for arn in arns {
            if arn.contains("${WebSocketApi}/live/POST/@connections/*") {
                posting.insert(binary.to_owned());
            } else if arn.contains("${WebSocketApi}/live/DELETE/@connections/*") {
                closing.insert(binary.to_owned());
            } else {
                panic!("{id}: {arn}");
            }
        }
    }
    let expected = |names: &[&str]| names.iter().map(|f| f.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(posting, expected(PUSHING_FUNCTIONS));
    assert_eq!(closing, expected(CLOSING_FUNCTIONS));
}

/// The route keys under a block's `RouteSettings:` with the parameters their throttles name.
fn route_throttles(block: &str) -> Vec<(String, String)> {
    let settings = block
        .split_once("\nRouteSettings:\n")
        .map(|(_, after)| after)
        .unwrap_or("");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in settings.lines() {
        if let Some(key) = line.strip_prefix('"').and_then(|l| l.strip_suffix("\":")) {
            out.push((key.to_owned(), String::new()));
        } else if let Some(param) = line.strip_prefix("ThrottlingRateLimit: !Ref ") {
            if let Some(last) = out.last_mut() {
                last.1 = param.to_owned();
            }
        } else if !line.starts_with("ThrottlingBurstLimit:") {
            break;
        }
    }
    out
}

#[test]
fn connects_frames_and_the_public_donate_read_have_their_own_throttles() {
    let resources = template_resources();
    let block = |id: &str| {
        resources
            .iter()
            .find(|(r, _)| r == id)
            .map(|(_, b)| b.as_str())
            .unwrap_or_else(|| panic!("no {id}"))
    };
    let ws: BTreeMap<String, String> = route_throttles(block("WebSocketStage"))
        .into_iter()
        .collect();
    for (_, key) in WS_ROUTES.iter().filter(|(_, k)| *k != "$disconnect") {
        let param = ws
            .get(*key)
            .unwrap_or_else(|| panic!("no throttle for the WebSocket route {key}"));
        let expected = if *key == "$connect" {
            "WsConnectThrottleRate"
        } else {
            "WsFrameThrottleRate"
        };
        assert_eq!(param, expected, "{key}");
    }
    let http = route_throttles(block("HttpApi"));
    assert_eq!(
        http,
        [(
            "GET /donate-links/{id}".to_owned(),
            "DonateLinkReadThrottleRate".to_owned()
        )]
    );
    // Each is its own parameter with a default below the API-wide one.
    let template = repo_file("template.yaml");
    let default_of = |param: &str| -> u64 {
        let after = template
            .split_once(&format!("\n  {param}:\n"))
            .unwrap_or_else(|| panic!("no parameter {param}"))
            .1;
        after
            .lines()
            .find_map(|l| l.trim().strip_prefix("Default: "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{param} has no number default"))
    };
    let api_wide = default_of("ThrottleRate");
    let rates: BTreeSet<u64> = [
        "WsConnectThrottleRate",
        "WsFrameThrottleRate",
        "DonateLinkReadThrottleRate",
    ]
    .into_iter()
    .map(default_of)
    .collect();
    assert_eq!(rates.len(), 3, "separate values: {rates:?}");
    assert!(
        rates.iter().all(|r| *r < api_wide),
        "{rates:?} vs {api_wide}"
    );
}

#[test]
fn the_template_outputs_the_websocket_url() {
    let template = repo_file("template.yaml");
    let outputs = template.split_once("\nOutputs:").expect("outputs").1;
    assert!(outputs.contains("WebSocketUrl:"));
    assert!(outputs.contains("wss://${WebSocketApi}.execute-api."));
}
