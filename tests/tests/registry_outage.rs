//! A registry that accepts connections but never answers: the activity service gives up at
//! its registry deadline with DEADLINE_EXCEEDED (or UNAVAILABLE), quickly, and writes
//! nothing.

use std::time::{Duration, Instant};

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::sync::v1 as sync_pb;
use egret_tests::{Backend, TestApp};
use tonic::Code;

/// A listener that accepts connections and holds them open without a byte in reply.
async fn black_hole() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    (address, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_registry_times_out_and_nothing_is_written() {
    let (address, black_hole) = black_hole().await;
    let app = TestApp::spawn_with(Backend::Sqlite, "registry_outage", |config| {
        config.activity.registry_address = format!("http://{address}");
        config.activity.registry_deadline = Duration::from_millis(500);
    })
    .await
    .expect("sqlite");
    let admin = app.admin();
    let started = Instant::now();
    let status = app
        .projects(&admin)
        .create_project(pb::CreateProjectRequest {
            project: Some(pb::Project {
                org_unit: app.root.clone(),
                display_name: "项目".to_string(),
                start_date: Some(common::Date {
                    year: 2027,
                    month: 1,
                    day: 1,
                }),
                end_date: Some(common::Date {
                    year: 2027,
                    month: 2,
                    day: 1,
                }),
                funding_source: pb::FundingSource::Federation as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("the registry does not answer");
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Unavailable),
        "{status:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let change_log = app
        .change_log(
            "activity",
            &app.token(&app.root, &[egret_runtime::Role::Sync]),
        )
        .list_changes(sync_pb::ListChangesRequest {
            after_sequence: 0,
            page_size: 10,
            ..Default::default()
        })
        .await
        .expect("reads")
        .into_inner();
    assert_eq!(change_log.head_sequence, 0, "nothing written");
    app.stop().await;
    black_hole.abort();
}
