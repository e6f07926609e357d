//! The web console in a real browser: `egret up` as a process of its own, and the
//! journeys of `tests/browser/console_journeys.py` (Playwright from PyPI driving Debian's
//! Chromium) against it, on both engines.
//!
//! Without Playwright or Chromium on the machine the journeys are skipped with a message,
//! unless `EGRET_REQUIRE_BROWSER` is set (as `.ci/run` sets it), when that is a failure.
//! A failing journey leaves its screenshots under `target/console-screenshots/`.

use std::path::PathBuf;
use std::process::Command;

use egret_proto::gateway::v1 as gateway_pb;
use egret_proto::registry::v1 as pb;
use egret_runtime::Role;
use egret_tests::{Backend, Egret, authed, fresh_storage, process_token};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether the browser and Playwright are here; when they are not, says so and fails if
/// they are required.
fn browser_available() -> bool {
    let chromium = std::env::var("EGRET_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_string());
    let playwright = Command::new("python3")
        .args(["-c", "import playwright, axe_playwright_python"])
        .status()
        .is_ok_and(|status| status.success());
    let available = playwright && std::path::Path::new(&chromium).exists();
    if !available {
        let missing = "the console's browser journeys need Chromium (apt-get install chromium) \
                       and Playwright (pip install playwright axe-playwright-python)";
        assert!(
            std::env::var_os("EGRET_REQUIRE_BROWSER").is_none(),
            "{missing}, and EGRET_REQUIRE_BROWSER is set"
        );
        eprintln!("skipped: {missing}");
    }
    available
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

async fn journeys(backend: Backend, name: &str) {
    if !browser_available() {
        return;
    }
    let Some((database, data_dir, url)) = fresh_storage(backend, name).await else {
        return;
    };
    let egret = Egret::start(data_dir.path(), vec![("EGRET__DATABASE__URL".into(), url)]);
    let admin_password = egret
        .first_admin_password
        .clone()
        .expect("a first start shows the first admin's one-time password");

    // Another district, with a staff account of its own, who must see none of the first.
    let token = process_token(data_dir.path(), "xm", &egret.root, Role::Admin);
    let other_district = pb::org_unit_service_client::OrgUnitServiceClient::new(egret.channel())
        .create_org_unit(authed(
            pb::CreateOrgUnitRequest {
                parent: egret.root.clone(),
                org_unit: Some(pb::OrgUnit {
                    tier: pb::Tier::Team as i32,
                    display_name: "湖里区妇联巾帼志愿服务队".to_string(),
                    level: pb::TeamLevel::District as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("the other district's unit")
        .into_inner()
        .org_unit
        .expect("unit")
        .name;
    let other_staff =
        gateway_pb::account_service_client::AccountServiceClient::new(egret.channel())
            .create_account(authed(
                gateway_pb::CreateAccountRequest {
                    account: Some(gateway_pb::Account {
                        username: "huli.staff".to_string(),
                        display_name: "湖里工作人员".to_string(),
                        org_unit: other_district,
                        roles: vec![gateway_pb::AccountRole::Staff as i32],
                        ..Default::default()
                    }),
                },
                &token,
            ))
            .await
            .expect("the other district's staff account")
            .into_inner();

    let screenshots = workspace_root()
        .join("target")
        .join("console-screenshots")
        .join(name.replace("::", "-"));
    let _ = std::fs::remove_dir_all(&screenshots);
    let status = tokio::task::spawn_blocking({
        let address = format!("http://{}", egret.address());
        move || {
            Command::new("python3")
                .arg(workspace_root().join("tests/browser/console_journeys.py"))
                .env("EGRET_CONSOLE_URL", address)
                .env("EGRET_ADMIN_PASSWORD", admin_password)
                .env("EGRET_OTHER_USERNAME", "huli.staff")
                .env("EGRET_OTHER_PASSWORD", other_staff.one_time_password)
                .env("EGRET_SCREENSHOTS", &screenshots)
                .status()
                .expect("python3 runs")
        }
    })
    .await
    .expect("the journeys ran");
    drop(egret);
    drop(database);
    assert!(
        status.success(),
        "a console journey failed ({status}); its screenshots are under target/console-screenshots/"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn journeys_sqlite() {
    journeys(Backend::Sqlite, "console::sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn journeys_postgres() {
    journeys(Backend::Postgres, "console::postgres").await;
}
