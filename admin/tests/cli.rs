//! `chatman-admin` as an operator runs it: the built binary against DynamoDB Local, through both
//! ways it reaches a table (`--dynamodb-endpoint`, and the standard AWS credential chain from a
//! profile file with `AWS_ENDPOINT_URL_DYNAMODB`), with its messages and exit codes.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

use chatman::adapters::dynamodb::{DynamoAccounts, schema::create_accounts_table};
use chatman::domain::{Email, PendingSignup, Role, SignupId, User, UserId, Username};
use chatman::ports::AccountStore;
use std::path::PathBuf;
use std::process::Command;
use time::{Duration, OffsetDateTime};

fn endpoint() -> String {
    std::env::var("CHATMAN_TEST_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "CHATMAN_TEST_DYNAMODB is not set: start DynamoDB Local (scripts/test does) and set \
             CHATMAN_TEST_DYNAMODB=http://127.0.0.1:PORT"
        )
    })
}

/// Runs the binary with a clean environment (no AWS settings of the machine leak in) plus `env`.
fn admin(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let home = empty_home();
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatman-admin"));
    command
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("the binary runs");
    std::fs::remove_dir_all(&home).unwrap();
    (
        out.status.code().expect("an exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn empty_home() -> PathBuf {
    let home = std::env::temp_dir().join(format!("chatman-admin-home-{}", UserId::new()));
    std::fs::create_dir_all(&home).unwrap();
    home
}

/// A table in DynamoDB Local holding one account, `alice`.
async fn table_with_alice() -> (DynamoAccounts, String) {
    let aws = chatman::adapters::aws::local(&endpoint());
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("admin-cli-{}", UserId::new());
    create_accounts_table(&client, &table).await.unwrap();
    let store = DynamoAccounts::new(client, &table);
    let now = OffsetDateTime::now_utc();
    let signup = PendingSignup {
        id: SignupId::new(),
        username: Username::parse("alice").unwrap(),
        email: Email::parse("alice@example.com").unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        first_name: String::new(),
        last_name: String::new(),
        bio: String::new(),
        email_taken: false,
        code_hash: [0; 32],
        code_round: 0,
        code_expires_at: now + Duration::minutes(10),
        failed_attempts: 0,
        resends: 0,
        last_sent_at: now,
        created_at: now,
        expires_at: now + Duration::hours(24),
        version: 0,
    };
    store.put_signup(&signup).await.unwrap();
    let user = User {
        id: UserId::new(),
        username: signup.username.clone(),
        email: signup.email.clone(),
        password_hash: signup.password_hash.clone(),
        first_name: String::new(),
        last_name: String::new(),
        bio: String::new(),
        avatar_key: None,
        role: Role::User,
        group_adds: Default::default(),
        created_at: now,
        session_epoch: 0,
        version: 0,
    };
    store.create_user(&user, &signup).await.unwrap();
    (store, table)
}

async fn stored_role(store: &DynamoAccounts) -> Role {
    let alice = Username::parse("alice").unwrap();
    store.user_by_username(&alice).await.unwrap().unwrap().role
}

#[test]
fn help_names_the_commands_options_and_exit_codes() {
    let (code, out, _) = admin(&["--help"], &[]);
    assert_eq!(code, 0);
    for word in [
        "grant",
        "revoke",
        "show",
        "--table",
        "TABLE_NAME",
        "--region",
        "--dynamodb-endpoint",
        "Exit codes",
    ] {
        assert!(out.contains(word), "--help lacks {word}: {out}");
    }
    let (code, _, err) = admin(&["promote", "alice"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[tokio::test]
async fn grant_show_and_revoke_write_the_table_through_a_local_endpoint() {
    let (store, table) = table_with_alice().await;
    let endpoint = endpoint();
    let local = ["--table", &table, "--dynamodb-endpoint", &endpoint];
    let with = |args: &[&'static str]| [args, &local[..]].concat();

    let (code, out, err) = admin(&with(&["show", "alice"]), &[]);
    assert_eq!((code, out.trim()), (0, "alice: user"), "{err}");

    let (code, out, err) = admin(&with(&["grant", "alice"]), &[]);
    assert_eq!(
        (code, out.trim()),
        (0, "alice is now admin (was user)"),
        "{err}"
    );
    assert_eq!(stored_role(&store).await, Role::Admin);

    let (code, out, _) = admin(&with(&["grant", "ALICE"]), &[]);
    assert_eq!(code, 0);
    assert!(out.contains("already admin"), "{out}");

    // The table may come from TABLE_NAME, as in the functions' environment.
    let (code, out, err) = admin(
        &["revoke", "alice", "--dynamodb-endpoint", &endpoint],
        &[("TABLE_NAME", &table)],
    );
    assert_eq!(
        (code, out.trim()),
        (0, "alice is now user (was admin)"),
        "{err}"
    );
    assert_eq!(stored_role(&store).await, Role::User);
}

#[tokio::test]
async fn unknown_accounts_bad_names_and_missing_tables_fail_clearly_and_write_nothing() {
    let (store, table) = table_with_alice().await;
    let endpoint = endpoint();

    let (code, out, err) = admin(
        &[
            "grant",
            "bob",
            "--table",
            &table,
            "--dynamodb-endpoint",
            &endpoint,
        ],
        &[],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("no account named \"bob\""), "{err}");
    let bob = Username::parse("bob").unwrap();
    assert!(store.user_by_username(&bob).await.unwrap().is_none());

    let (code, _, err) = admin(
        &[
            "grant",
            "not a name!",
            "--table",
            &table,
            "--dynamodb-endpoint",
            &endpoint,
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a valid username"), "{err}");

    let (code, _, err) = admin(&["grant", "alice", "--dynamodb-endpoint", &endpoint], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("TABLE_NAME"), "{err}");

    let (code, _, err) = admin(
        &[
            "grant",
            "alice",
            "--table",
            "no-such-table",
            "--dynamodb-endpoint",
            &endpoint,
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("non-existent table") && err.contains("--table"),
        "{err}"
    );
    assert!(!err.contains("ServiceError("), "no raw SDK dump: {err}");
    assert_eq!(stored_role(&store).await, Role::User);
}

#[tokio::test]
async fn real_aws_mode_uses_the_standard_credential_chain_and_says_when_it_has_none() {
    let (store, table) = table_with_alice().await;

    // No credentials anywhere: refused before any request, naming what to set.
    let (code, _, err) = admin(
        &["grant", "alice", "--table", &table, "--region", "eu-west-1"],
        &[],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("no AWS credentials") && err.contains("AWS_PROFILE"),
        "{err}"
    );
    let (code, _, err) = admin(&["grant", "alice", "--table", &table], &[]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no AWS region"), "{err}");
    assert_eq!(stored_role(&store).await, Role::User);

    // A deployer's profile (credentials file and region), as `aws configure` writes them; the
    // standard endpoint override points the SDK at DynamoDB Local instead of AWS. DynamoDB Local
    // keeps one database per access key and region: these are the ones the table was made with.
    let home = empty_home();
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "[deployer]\naws_access_key_id = local\naws_secret_access_key = local\n",
    )
    .unwrap();
    std::fs::write(
        home.join(".aws/config"),
        "[profile deployer]\nregion = us-east-1\n",
    )
    .unwrap();
    let endpoint = endpoint();
    let home = home.to_string_lossy().into_owned();
    let env = [
        ("HOME", home.as_str()),
        ("AWS_PROFILE", "deployer"),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
    ];
    let (code, out, err) = admin(&["grant", "alice", "--table", &table], &env);
    std::fs::remove_dir_all(&home).unwrap();
    assert_eq!(
        (code, out.trim()),
        (0, "alice is now admin (was user)"),
        "{err}"
    );
    assert_eq!(stored_role(&store).await, Role::Admin);
}
