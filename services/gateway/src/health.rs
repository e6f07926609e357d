//! Health of the whole instance, answered at the gateway.
//!
//! The gateway asks each service behind it for its health every `gateway.health_interval`
//! and reports the answer under the service's short name (`activity`) and under each of
//! its gRPC services (`egret.activity.v1.ActivityService`). The empty name `""`, the
//! instance as a whole, is SERVING only while every service is (a readiness probe), and
//! `gateway` while the gateway itself runs (a liveness probe). `districts` is NOT_SERVING
//! while a service reports a district's upward link in alarm. Probes and
//! `grpc-health-probe` need the instance's address alone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as WireStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::server::HealthReporter;

use crate::proxy::Upstream;

/// The name under which the gateway reports itself: SERVING while it runs, whatever the
/// services behind it do, for a liveness probe that must not restart the gateway because a
/// service is down.
pub const GATEWAY: &str = "gateway";

/// The gRPC service names of each proto package in the instance's contracts.
pub fn services_by_package() -> BTreeMap<String, Vec<String>> {
    let mut by_package: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(set) = prost_types::FileDescriptorSet::decode(egret_proto::FILE_DESCRIPTOR_SET) else {
        return by_package;
    };
    for file in set.file {
        let package = file.package().to_string();
        for service in &file.service {
            by_package
                .entry(package.clone())
                .or_default()
                .push(format!("{package}.{}", service.name()));
        }
    }
    for names in by_package.values_mut() {
        names.sort();
    }
    by_package
}

struct Watched {
    upstream: Arc<Upstream>,
    client: HealthClient<Channel>,
    names: Vec<String>,
}

/// Starts the task that keeps `reporter` current with the services' health until
/// `shutdown`. Every service counts as NOT_SERVING until it has answered once.
pub async fn spawn_watch(
    upstreams: &[Arc<Upstream>],
    reporter: HealthReporter,
    interval: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let by_package = services_by_package();
    let mut watched = Vec::new();
    for upstream in upstreams {
        let endpoint = Endpoint::from_shared(format!("http://{}", upstream.authority()))?;
        let channel = egret_runtime::links::endpoint(endpoint)
            .connect_timeout(interval)
            .connect_lazy();
        let names = by_package
            .get(upstream.service().package)
            .cloned()
            .unwrap_or_default();
        watched.push(Watched {
            upstream: upstream.clone(),
            client: HealthClient::new(channel),
            names,
        });
    }
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    reporter
        .set_service_status(GATEWAY, ServingStatus::Serving)
        .await;
    for one in &watched {
        set_all(&reporter, one, ServingStatus::NotServing).await;
    }
    Ok(tokio::spawn(async move {
        let mut last: Vec<Option<ServingStatus>> = vec![None; watched.len()];
        loop {
            let checks = watched.iter().map(|one| check(one, interval));
            let statuses = futures::future::join_all(checks).await;
            if shutdown.is_cancelled() {
                break;
            }
            for ((one, status), last) in watched.iter().zip(&statuses).zip(last.iter_mut()) {
                if *last != Some(*status) {
                    tracing::info!(
                        service = one.upstream.service().name,
                        status = ?status,
                        "service health changed"
                    );
                    set_all(&reporter, one, *status).await;
                    *last = Some(*status);
                }
            }
            let whole = if statuses
                .iter()
                .all(|status| *status == ServingStatus::Serving)
            {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter.set_service_status("", whole).await;
            reporter
                .set_service_status(
                    egret_sync::upward::DISTRICTS_HEALTH,
                    districts(&watched, interval).await,
                )
                .await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
        // A gateway that is stopping serves nothing any more, whatever is behind it.
        reporter
            .set_service_status(GATEWAY, ServingStatus::NotServing)
            .await;
        for one in &watched {
            set_all(&reporter, one, ServingStatus::NotServing).await;
        }
    }))
}

async fn set_all(reporter: &HealthReporter, one: &Watched, status: ServingStatus) {
    reporter
        .set_service_status(one.upstream.service().name, status)
        .await;
    for name in &one.names {
        reporter.set_service_status(name, status).await;
    }
}

/// Asks the service about the first of its gRPC services: a process that serves one of
/// them serves them all, and a shared listener (`egret up`) answers for each by name.
async fn check(one: &Watched, timeout: Duration) -> ServingStatus {
    let Some(name) = one.names.first() else {
        return ServingStatus::NotServing;
    };
    match check_name(one, name, timeout).await {
        Some(WireStatus::Serving) => ServingStatus::Serving,
        _ => ServingStatus::NotServing,
    }
}

/// What the service answers for `name`; None without an answer.
async fn check_name(one: &Watched, name: &str, timeout: Duration) -> Option<WireStatus> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: name.to_string(),
    });
    request.set_timeout(timeout);
    let response = one.client.clone().check(request).await.ok()?;
    Some(response.get_ref().status())
}

/// The districts' links at an upstream, as the services report them
/// ([`egret_sync::upward::DISTRICTS_HEALTH`]): NOT_SERVING while any service reports an
/// alarm; a service that does not answer leaves its own health to say so.
async fn districts(watched: &[Watched], timeout: Duration) -> ServingStatus {
    let checks = watched
        .iter()
        .map(|one| check_name(one, egret_sync::upward::DISTRICTS_HEALTH, timeout));
    let answers = futures::future::join_all(checks).await;
    if answers.contains(&Some(WireStatus::NotServing)) {
        ServingStatus::NotServing
    } else {
        ServingStatus::Serving
    }
}
