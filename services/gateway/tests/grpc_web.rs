//! gRPC-Web on the instance's address, called by a client written by others: Connect for
//! the web (`@connectrpc/connect-web` from npm) in Node, over HTTP/1.1 as a browser would.
//! Success, errors and a server stream must reach it as the service answered them; an error
//! must arrive as its own code, not as "unknown".

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use egret_gateway::{EgretConfig, Instance};
use egret_runtime::{CancellationToken, Principal, Role, TokenIssuer, keys};

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/grpc_web")
}

/// Installs the client's pinned packages unless `.ci/run` (or an earlier run) has.
fn ensure_client_installed() {
    let dir = client_dir();
    if dir.join("node_modules/@connectrpc/connect-web").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(&dir)
        .status()
        .expect("npm runs (Node.js and npm are needed for the gRPC-Web test)");
    assert!(status.success(), "npm ci in {}", dir.display());
}

#[derive(Debug, serde::Deserialize)]
struct Outcome {
    case: String,
    code: i32,
    message: String,
    value: serde_json::Value,
}

/// What one case of the client should report.
struct TestCase {
    case: &'static str,
    code: tonic::Code,
    message_has: &'static str,
}

#[track_caller]
fn check(expected: &TestCase, outcomes: &[Outcome]) {
    let outcome = outcomes
        .iter()
        .find(|outcome| outcome.case == expected.case)
        .unwrap_or_else(|| panic!("no outcome for {:?} in {outcomes:?}", expected.case));
    assert_eq!(
        outcome.code, expected.code as i32,
        "{}: {outcome:?}",
        expected.case
    );
    assert!(
        outcome.message.contains(expected.message_has),
        "{}: {outcome:?}",
        expected.case
    );
}

#[tokio::test]
async fn connect_web_calls_through_the_gateway() {
    ensure_client_installed();
    egret_runtime::telemetry::init_for_tests();
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut config = EgretConfig::default();
    config.common.data_dir = data_dir.path().to_path_buf();
    config.common.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let instance = Instance::build(config.clone()).await.expect("builds");
    let address = instance.local_addr();
    let root = instance
        .registry()
        .ensure_root(&config.common.instance.root_name)
        .await
        .expect("root");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(instance.run_until_stopped(shutdown.clone()));

    let descriptors = data_dir.path().join("egret.binpb");
    std::fs::write(&descriptors, egret_proto::FILE_DESCRIPTOR_SET).expect("descriptors written");
    let token = TokenIssuer::new(
        keys::signing_key(data_dir.path()).expect("key"),
        config.common.instance.id.clone(),
    )
    .issue(
        &Principal {
            subject: "web".to_string(),
            org_unit: root.id.clone(),
            roles: [Role::Admin].into_iter().collect(),
            volunteer: None,
        },
        Duration::from_secs(600),
    );

    let output = tokio::process::Command::new("node")
        .arg(client_dir().join("client.mjs"))
        .arg(address.to_string())
        .arg(&descriptors)
        .arg(&token)
        .arg(format!("orgUnits/{}", root.id))
        .current_dir(client_dir())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcomes: Vec<Outcome> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();

    for case in [
        TestCase {
            case: "get the root",
            code: tonic::Code::Ok,
            message_has: "",
        },
        TestCase {
            case: "a unit that does not exist",
            code: tonic::Code::NotFound,
            message_has: "not found",
        },
        TestCase {
            case: "no token",
            code: tonic::Code::Unauthenticated,
            message_has: "bearer token",
        },
        TestCase {
            case: "a malformed name",
            code: tonic::Code::InvalidArgument,
            message_has: "name",
        },
        TestCase {
            case: "a streamed export",
            code: tonic::Code::Ok,
            message_has: "",
        },
        TestCase {
            case: "a streamed export refused",
            code: tonic::Code::InvalidArgument,
            message_has: "format",
        },
    ] {
        check(&case, &outcomes);
    }
    let root_name = outcomes
        .iter()
        .find(|outcome| outcome.case == "get the root")
        .map(|outcome| outcome.value.clone());
    assert_eq!(
        root_name,
        Some(serde_json::Value::String(config.common.instance.root_name))
    );
    let export = &outcomes
        .iter()
        .find(|outcome| outcome.case == "a streamed export")
        .expect("export")
        .value;
    assert!(export["chunks"].as_u64() >= Some(1), "{export}");
    assert!(export["bytes"].as_u64() > Some(3), "{export}");

    shutdown.cancel();
    server.await.expect("task").expect("stops cleanly");
}
