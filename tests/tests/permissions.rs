//! A caller without the right to a write method is refused with PERMISSION_DENIED before the
//! request is looked at: whatever it sends, it learns nothing of the method's rules (which
//! fields it wants, which values it takes). Checked for every write method the protos
//! declare, so that a new one cannot be added without its gate.

use egret_proto::activity::v1 as activity_pb;
use egret_proto::recognition::v1 as recognition_pb;
use egret_runtime::Role;
use egret_tests::{Backend, TestApp};
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_prost::prost::Message;

/// Methods named so only read; every other method writes.
const READ_PREFIXES: [&str; 8] = [
    "Get", "List", "Export", "Render", "Verify", "Lookup", "Query", "Evaluate",
];

/// Reads whose names do not say so.
const READS_BY_NAME: [&str; 2] = ["CheckCoverage", "TallyRecords"];

/// The write methods the protos declared when the gates were written (29 activity, 22
/// recognition, 18 registry, 6 reporting): fewer found means the classification broke.
const WRITE_METHODS_AT_LEAST: usize = 75;

fn is_write(method: &str) -> bool {
    !READ_PREFIXES
        .iter()
        .any(|prefix| method.starts_with(prefix))
        && !READS_BY_NAME.contains(&method)
}

/// Services whose methods anyone may call: their credential is in the request (a password
/// or a refresh token), not in a role.
const CREDENTIAL_SERVICES: [&str; 1] = ["AuthService"];

/// Methods anyone may call for the same reason (a district's enrollment credential).
const CREDENTIAL_METHODS: [&str; 1] = ["IssueSyncToken"];

/// Every write method of every Egret service, as a path `/egret.x.v1.Service/Method`.
fn write_method_paths() -> Vec<String> {
    let descriptors = prost_types::FileDescriptorSet::decode(egret_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let mut paths: Vec<String> = descriptors
        .file
        .iter()
        .filter(|file| file.package().starts_with("egret."))
        .flat_map(|file| {
            file.service
                .iter()
                .filter(|service| !CREDENTIAL_SERVICES.contains(&service.name()))
                .flat_map(move |service| {
                    service
                        .method
                        .iter()
                        .filter(|method| is_write(method.name()))
                        .filter(|method| !CREDENTIAL_METHODS.contains(&method.name()))
                        .map(move |method| {
                            format!("/{}.{}/{}", file.package(), service.name(), method.name())
                        })
                })
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Calls the method at `path` with an empty request and `token`; the answer's code.
async fn call_empty(app: &TestApp, token: &str, path: &str) -> Code {
    let mut grpc = tonic::client::Grpc::new(app.channel.clone());
    grpc.ready().await.expect("the channel is ready");
    let mut request = tonic::Request::new(());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    // The shared sync contract is addressed by path and by the service it names.
    if path.starts_with("/egret.sync.v1.") {
        request.metadata_mut().insert(
            egret_sync::SERVICE_HEADER,
            "registry".parse().expect("ascii"),
        );
    }
    let path: PathAndQuery = path.parse().expect("a valid method path");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    match grpc.unary(request, path, codec).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_refuses_viewers_and_sync_before_decoding() {
    let app = TestApp::spawn(Backend::Sqlite, "permissions::every_write")
        .await
        .expect("SQLite always starts");
    let paths = write_method_paths();
    assert!(
        paths.len() >= WRITE_METHODS_AT_LEAST,
        "found {} write methods, expected at least {WRITE_METHODS_AT_LEAST}: {paths:#?}",
        paths.len()
    );
    let callers = [
        ("viewer", app.token(&app.root, &[Role::Viewer])),
        ("sync", app.token(&app.root, &[Role::Sync])),
    ];
    let mut failures = Vec::new();
    for (caller, token) in &callers {
        for path in &paths {
            let code = call_empty(&app, token, path).await;
            if code != Code::PermissionDenied {
                failures.push(format!("{caller} {path}: {code:?}"));
            }
        }
    }
    app.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {} calls were not refused with PERMISSION_DENIED:\n{}",
        failures.len(),
        paths.len() * callers.len(),
        failures.join("\n")
    );
}

#[track_caller]
fn assert_answer<T>(case: &str, answer: Result<T, tonic::Status>, expected: Code) {
    let code = match answer {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    };
    assert_eq!(code, expected, "{case}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_writes_tell_only_those_with_the_right() {
    let app = TestApp::spawn(Backend::Sqlite, "permissions::incomplete_writes")
        .await
        .expect("SQLite always starts");
    let viewer = app.token(&app.root, &[Role::Viewer]);
    let volunteer = app.volunteer_token(&app.root, &format!("volunteers/{}", uuid::Uuid::new_v4()));
    let request_id = || uuid::Uuid::new_v4().to_string();
    let incomplete_activity = || activity_pb::CreateActivityRequest {
        activity: Some(activity_pb::Activity {
            org_unit: app.root.clone(),
            ..Default::default()
        }),
        request_id: request_id(),
    };
    let cases = [
        (
            "a viewer's CreateActivity without a name or times",
            app.activities(&viewer)
                .create_activity(incomplete_activity())
                .await
                .map(drop),
            Code::PermissionDenied,
        ),
        (
            "a viewer's CreateInsurancePolicy without an insurer or period",
            app.insurance(&viewer)
                .create_insurance_policy(activity_pb::CreateInsurancePolicyRequest {
                    insurance_policy: Some(activity_pb::InsurancePolicy {
                        org_unit: app.root.clone(),
                        ..Default::default()
                    }),
                    request_id: request_id(),
                })
                .await
                .map(drop),
            Code::PermissionDenied,
        ),
        (
            "a viewer's CreateHonour without a name or category",
            app.commendations(&viewer)
                .create_honour(recognition_pb::CreateHonourRequest {
                    honour: Some(recognition_pb::Honour::default()),
                    request_id: request_id(),
                })
                .await
                .map(drop),
            Code::PermissionDenied,
        ),
        (
            "a volunteer's empty CreateActivity",
            app.activities(&volunteer)
                .create_activity(activity_pb::CreateActivityRequest::default())
                .await
                .map(drop),
            Code::PermissionDenied,
        ),
        // A volunteer signs itself up, so it may learn what a sign-up needs.
        (
            "a volunteer's empty CreateSignUp",
            app.sign_ups(&volunteer)
                .create_sign_up(activity_pb::CreateSignUpRequest::default())
                .await
                .map(drop),
            Code::InvalidArgument,
        ),
    ];
    app.stop().await;
    for (case, answer, expected) in cases {
        assert_answer(case, answer, expected);
    }
}
