//! Test support: [`TestApp::spawn`] starts a whole Egret instance (`egret up` in-process) on
//! an ephemeral port over SQLite or a fresh PostgreSQL database, and hands out real gRPC
//! clients that carry bearer tokens. [`both_backends!`] runs one test body on both engines.

use std::net::SocketAddr;
use std::time::Duration;

use egret_gateway::{EgretConfig, Instance};
use egret_proto::activity::v1 as activity_pb;
use egret_proto::gateway::v1 as gateway_pb;
use egret_proto::recognition::v1 as recognition_pb;
use egret_proto::registry::v1 as pb;
use egret_proto::reporting::v1 as reporting_pb;
use egret_proto::sync::v1 as sync_pb;
use egret_runtime::keys;
use egret_runtime::{CancellationToken, Principal, Role, TokenIssuer};
use egret_storage::testing::FreshPostgres;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use egret_registry::domain::identity::gb11643_check_char;
pub use processes::Processes;
pub use tiers::{
    CityAndDistrict, Egret, Fault, FaultyLink, Storage, authed, process_token, wide_resident_id,
};

/// A change's record as text, for checking what a change log lets out.
pub fn record_text(change: &sync_pb::Change) -> String {
    format!("{:?}", change.record)
}

mod processes;
mod tiers;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite in a temporary data directory.
    Sqlite,
    /// A fresh PostgreSQL database (needs `EGRET_TEST_POSTGRES_URL`).
    Postgres,
}

/// Adds `authorization: Bearer …` to every call.
#[derive(Clone)]
pub struct Bearer {
    token: Option<MetadataValue<Ascii>>,
    // The service whose change log a `ChangeLogService` call reads.
    service: Option<&'static str>,
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.token {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        if let Some(service) = self.service {
            request.metadata_mut().insert(
                egret_sync::SERVICE_HEADER,
                MetadataValue::from_static(service),
            );
        }
        Ok(request)
    }
}

/// A channel whose calls carry a token.
pub type Authed = InterceptedService<Channel, Bearer>;

/// A running instance for one test.
pub struct TestApp {
    /// The server's address.
    pub address: SocketAddr,
    /// The root org unit's resource name.
    pub root: String,
    /// A channel to the server.
    pub channel: Channel,
    /// The engine.
    pub backend: Backend,
    issuer: TokenIssuer,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    processes: Option<Processes>,
    first_admin_password: Option<String>,
    data_dir: tempfile::TempDir,
    postgres: Option<FreshPostgres>,
    config: EgretConfig,
}

/// A fresh place for an instance's data: a temporary data directory and, for PostgreSQL,
/// a fresh database and its URL (empty for SQLite); None when PostgreSQL is not configured.
pub async fn fresh_storage(
    backend: Backend,
    test_name: &str,
) -> Option<(Option<FreshPostgres>, tempfile::TempDir, String)> {
    egret_runtime::telemetry::init_for_tests();
    let postgres = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(FreshPostgres::create(test_name).await?),
    };
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let url = postgres
        .as_ref()
        .map(|postgres| postgres.url().to_string())
        .unwrap_or_default();
    Some((postgres, data_dir, url))
}

/// The test settings: small bounds, so limits are reachable in tests.
pub fn test_config(data_dir: &std::path::Path, database_url: &str) -> EgretConfig {
    let mut config = EgretConfig::default();
    config.common.data_dir = data_dir.to_path_buf();
    config.common.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.common.database.url = database_url.to_string();
    config.common.database.max_connections = 5;
    config.common.server.drain_timeout = Duration::from_secs(2);
    config
}

/// Makes `config` a district instance `instance_id` under the city at `upstream`.
pub fn district_config(
    config: &mut EgretConfig,
    instance_id: &str,
    upstream: &str,
    credential: &str,
) {
    let instance = &mut config.common.instance;
    instance.id = instance_id.to_string();
    instance.tier = egret_runtime::config::InstanceTier::District;
    instance.upstream = upstream.to_string();
    instance.enrollment = credential.to_string();
    config.common.keys.federation_hash_key = TEST_FEDERATION_KEY.to_string();
    // Tests see a tally compared within seconds.
    config.gateway.tally_interval = Duration::from_secs(1);
}

/// The federation key every test district holds (the city holds none): 32 bytes, base64.
pub const TEST_FEDERATION_KEY: &str = "ZmVkZXJhdGlvbi1rZXktb2YtdGhlLXRlc3QtZGlzdHI=";

impl TestApp {
    /// Starts an instance, or returns None (saying so) when PostgreSQL is asked for but not
    /// configured.
    pub async fn spawn(backend: Backend, test_name: &str) -> Option<Self> {
        Self::spawn_with(backend, test_name, |_| {}).await
    }

    /// Starts an instance after `adjust` has changed the test configuration.
    pub async fn spawn_with(
        backend: Backend,
        test_name: &str,
        adjust: impl FnOnce(&mut EgretConfig),
    ) -> Option<Self> {
        let (postgres, data_dir, url) = fresh_storage(backend, test_name).await?;
        let mut config = test_config(data_dir.path(), &url);
        adjust(&mut config);
        let instance_id = config.common.instance.id.clone();
        let instance = Instance::build(config.clone())
            .await
            .expect("instance builds");
        let address = instance.local_addr();
        let first_admin_password = instance.first_admin_password().map(str::to_string);
        let root = instance
            .registry()
            .ensure_root("test corps")
            .await
            .expect("root exists");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(instance.run_until_stopped(shutdown.clone()));
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("valid uri")
            .connect()
            .await
            .expect("connects");
        wait_until_serving(&channel).await;
        let issuer = TokenIssuer::new(
            keys::signing_key(data_dir.path()).expect("signing key"),
            instance_id,
        );
        Some(Self {
            address,
            root: format!("orgUnits/{}", root.id),
            channel,
            backend,
            issuer,
            shutdown,
            server: Some(server),
            processes: None,
            first_admin_password,
            data_dir,
            postgres,
            config,
        })
    }

    /// Starts an instance as separate processes (see [`Processes`]) and connects to its
    /// gateway, or returns None when PostgreSQL is asked for but not configured.
    pub async fn spawn_processes(backend: Backend, test_name: &str) -> Option<Self> {
        let (postgres, data_dir, url) = fresh_storage(backend, test_name).await?;
        let config = test_config(data_dir.path(), &url);
        // The keys and the root unit exist before the processes start, as after a first
        // `egret up`: the test signs its tokens with the same key and names the same root.
        let issuer = TokenIssuer::new(
            keys::signing_key(data_dir.path()).expect("signing key"),
            config.common.instance.id.clone(),
        );
        let registry = egret_registry::Registry::open(&config.common, &config.registry)
            .await
            .expect("the registry database opens");
        let root = registry
            .ensure_root(&config.common.instance.root_name)
            .await
            .expect("root exists");
        registry.database().close().await;
        let processes = {
            let data_dir = data_dir.path().to_path_buf();
            tokio::task::spawn_blocking(move || Processes::start(&data_dir, &url))
                .await
                .expect("the processes start")
        };
        let address = processes.address("gateway");
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("valid uri")
            .connect()
            .await
            .expect("connects to the gateway");
        wait_until_serving(&channel).await;
        Some(Self {
            address,
            root: format!("orgUnits/{}", root.id),
            channel,
            backend,
            issuer,
            shutdown: CancellationToken::new(),
            server: None,
            processes: Some(processes),
            first_admin_password: None,
            data_dir,
            postgres,
            config,
        })
    }

    /// The processes of an instance started by [`spawn_processes`](Self::spawn_processes).
    pub fn processes(&mut self) -> &mut Processes {
        self.processes
            .as_mut()
            .expect("the instance runs as separate processes")
    }

    /// The configuration the instance was built with.
    pub fn config(&self) -> &EgretConfig {
        &self.config
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    /// A token for `org` (a resource name) with `roles`.
    pub fn token(&self, org: &str, roles: &[Role]) -> String {
        self.issuer.issue(
            &Principal {
                subject: format!(
                    "tester-{}",
                    roles
                        .iter()
                        .map(|role| role.as_str())
                        .collect::<Vec<_>>()
                        .join("+")
                ),
                org_unit: org.trim_start_matches("orgUnits/").to_string(),
                roles: roles.iter().copied().collect(),
                volunteer: None,
            },
            Duration::from_secs(600),
        )
    }

    /// A token for a volunteer acting for itself.
    pub fn volunteer_token(&self, org: &str, volunteer: &str) -> String {
        self.issuer.issue(
            &Principal {
                subject: format!("volunteer-{volunteer}"),
                org_unit: org.trim_start_matches("orgUnits/").to_string(),
                roles: [Role::Volunteer].into_iter().collect(),
                volunteer: Some(volunteer.trim_start_matches("volunteers/").to_string()),
            },
            Duration::from_secs(600),
        )
    }

    /// An admin token for the root.
    pub fn admin(&self) -> String {
        self.token(&self.root, &[Role::Admin])
    }

    fn authed(&self, token: &str) -> Authed {
        self.authed_for(token, None)
    }

    fn authed_for(&self, token: &str, service: Option<&'static str>) -> Authed {
        let token = if token.is_empty() {
            None
        } else {
            Some(format!("Bearer {token}").parse().expect("ascii token"))
        };
        InterceptedService::new(self.channel.clone(), Bearer { token, service })
    }

    /// An EnrollmentService client.
    pub fn enrollments(
        &self,
        token: &str,
    ) -> gateway_pb::enrollment_service_client::EnrollmentServiceClient<Authed> {
        gateway_pb::enrollment_service_client::EnrollmentServiceClient::new(self.authed(token))
    }

    /// Enrolls a district instance `instance_id` for `org_unit` (a resource name) as the
    /// root's admin; returns its credential.
    pub async fn enroll(&self, instance_id: &str, org_unit: &str) -> String {
        self.enrollments(&self.admin())
            .create_enrollment(gateway_pb::CreateEnrollmentRequest {
                enrollment: Some(gateway_pb::Enrollment {
                    instance_id: instance_id.to_string(),
                    org_unit: org_unit.to_string(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap_or_else(|status| panic!("enrolling {instance_id}: {status:?}"))
            .into_inner()
            .credential
    }

    /// Starts a district instance `instance_id`, on this (the city's) backend, enrolled
    /// here with `credential`; None when the backend is not configured.
    pub async fn spawn_district(
        &self,
        test_name: &str,
        instance_id: &str,
        credential: &str,
    ) -> Option<TestApp> {
        self.spawn_district_with(test_name, instance_id, credential, |_| {})
            .await
    }

    /// As [`TestApp::spawn_district`], after `adjust` has changed the district's
    /// configuration.
    pub async fn spawn_district_with(
        &self,
        test_name: &str,
        instance_id: &str,
        credential: &str,
        adjust: impl FnOnce(&mut EgretConfig),
    ) -> Option<TestApp> {
        let address = format!("http://{}", self.address);
        Self::spawn_with(self.backend, test_name, |config| {
            district_config(config, instance_id, &address, credential);
            adjust(config);
        })
        .await
    }

    /// A ChangeLogService client reading the change log of `service` (`registry`, …).
    pub fn change_log(
        &self,
        service: &'static str,
        token: &str,
    ) -> sync_pb::change_log_service_client::ChangeLogServiceClient<Authed> {
        sync_pb::change_log_service_client::ChangeLogServiceClient::new(
            self.authed_for(token, Some(service)),
        )
    }

    /// The gateway's AuthService (sign-in needs no token).
    pub fn auth(&self) -> gateway_pb::auth_service_client::AuthServiceClient<Channel> {
        gateway_pb::auth_service_client::AuthServiceClient::new(self.channel.clone())
    }

    /// The gateway's AccountService with `token`.
    pub fn accounts(
        &self,
        token: &str,
    ) -> gateway_pb::account_service_client::AccountServiceClient<Authed> {
        gateway_pb::account_service_client::AccountServiceClient::new(self.authed(token))
    }

    /// The one-time password of the first admin account, printed by the first start.
    pub fn first_admin_password(&self) -> Option<&str> {
        self.first_admin_password.as_deref()
    }

    /// An OrgUnitService client with `token` ("" for none).
    pub fn org_units(
        &self,
        token: &str,
    ) -> pb::org_unit_service_client::OrgUnitServiceClient<Authed> {
        pb::org_unit_service_client::OrgUnitServiceClient::new(self.authed(token))
    }

    /// A VolunteerService client.
    pub fn volunteers(
        &self,
        token: &str,
    ) -> pb::volunteer_service_client::VolunteerServiceClient<Authed> {
        pb::volunteer_service_client::VolunteerServiceClient::new(self.authed(token))
    }

    /// A MembershipService client.
    pub fn memberships(
        &self,
        token: &str,
    ) -> pb::membership_service_client::MembershipServiceClient<Authed> {
        pb::membership_service_client::MembershipServiceClient::new(self.authed(token))
    }

    /// A RegistryRecordsService client.
    pub fn records(
        &self,
        token: &str,
    ) -> pb::registry_records_service_client::RegistryRecordsServiceClient<Authed> {
        pb::registry_records_service_client::RegistryRecordsServiceClient::new(self.authed(token))
    }

    /// A ProjectService client.
    pub fn projects(
        &self,
        token: &str,
    ) -> activity_pb::project_service_client::ProjectServiceClient<Authed> {
        activity_pb::project_service_client::ProjectServiceClient::new(self.authed(token))
    }

    /// An ActivityService client.
    pub fn activities(
        &self,
        token: &str,
    ) -> activity_pb::activity_service_client::ActivityServiceClient<Authed> {
        activity_pb::activity_service_client::ActivityServiceClient::new(self.authed(token))
    }

    /// A SignUpService client.
    pub fn sign_ups(
        &self,
        token: &str,
    ) -> activity_pb::sign_up_service_client::SignUpServiceClient<Authed> {
        activity_pb::sign_up_service_client::SignUpServiceClient::new(self.authed(token))
    }

    /// An AttendanceService client.
    pub fn attendance(
        &self,
        token: &str,
    ) -> activity_pb::attendance_service_client::AttendanceServiceClient<Authed> {
        activity_pb::attendance_service_client::AttendanceServiceClient::new(self.authed(token))
    }

    /// A ServiceRecordService client.
    pub fn service_records(
        &self,
        token: &str,
    ) -> activity_pb::service_record_service_client::ServiceRecordServiceClient<Authed> {
        activity_pb::service_record_service_client::ServiceRecordServiceClient::new(
            self.authed(token),
        )
    }

    /// An InsuranceService client.
    pub fn insurance(
        &self,
        token: &str,
    ) -> activity_pb::insurance_service_client::InsuranceServiceClient<Authed> {
        activity_pb::insurance_service_client::InsuranceServiceClient::new(self.authed(token))
    }

    /// A TrainingService client.
    pub fn training(
        &self,
        token: &str,
    ) -> activity_pb::training_service_client::TrainingServiceClient<Authed> {
        activity_pb::training_service_client::TrainingServiceClient::new(self.authed(token))
    }

    /// An EvaluationService client.
    pub fn evaluations(
        &self,
        token: &str,
    ) -> activity_pb::evaluation_service_client::EvaluationServiceClient<Authed> {
        activity_pb::evaluation_service_client::EvaluationServiceClient::new(self.authed(token))
    }

    /// A RuleSetService client.
    pub fn rule_sets(
        &self,
        token: &str,
    ) -> recognition_pb::rule_set_service_client::RuleSetServiceClient<Authed> {
        recognition_pb::rule_set_service_client::RuleSetServiceClient::new(self.authed(token))
    }

    /// A StarRatingService client.
    pub fn star_ratings(
        &self,
        token: &str,
    ) -> recognition_pb::star_rating_service_client::StarRatingServiceClient<Authed> {
        recognition_pb::star_rating_service_client::StarRatingServiceClient::new(self.authed(token))
    }

    /// A RewardService client.
    pub fn rewards(
        &self,
        token: &str,
    ) -> recognition_pb::reward_service_client::RewardServiceClient<Authed> {
        recognition_pb::reward_service_client::RewardServiceClient::new(self.authed(token))
    }

    /// A CertificateService client ("" for none: verification is public).
    pub fn certificates(
        &self,
        token: &str,
    ) -> recognition_pb::certificate_service_client::CertificateServiceClient<Authed> {
        recognition_pb::certificate_service_client::CertificateServiceClient::new(
            self.authed(token),
        )
    }

    /// A CommendationService client.
    pub fn commendations(
        &self,
        token: &str,
    ) -> recognition_pb::commendation_service_client::CommendationServiceClient<Authed> {
        recognition_pb::commendation_service_client::CommendationServiceClient::new(
            self.authed(token),
        )
    }

    /// A StatisticsService client.
    pub fn statistics(
        &self,
        token: &str,
    ) -> reporting_pb::statistics_service_client::StatisticsServiceClient<Authed> {
        reporting_pb::statistics_service_client::StatisticsServiceClient::new(self.authed(token))
    }

    /// An ExportService client.
    pub fn exports(
        &self,
        token: &str,
    ) -> reporting_pb::export_service_client::ExportServiceClient<Authed> {
        reporting_pb::export_service_client::ExportServiceClient::new(self.authed(token))
    }

    /// An AnnualReportService client.
    pub fn annual_reports(
        &self,
        token: &str,
    ) -> reporting_pb::annual_report_service_client::AnnualReportServiceClient<Authed> {
        reporting_pb::annual_report_service_client::AnnualReportServiceClient::new(
            self.authed(token),
        )
    }

    /// A TargetService client.
    pub fn targets(
        &self,
        token: &str,
    ) -> reporting_pb::target_service_client::TargetServiceClient<Authed> {
        reporting_pb::target_service_client::TargetServiceClient::new(self.authed(token))
    }

    /// A ReportingRecordsService client.
    pub fn reporting_records(
        &self,
        token: &str,
    ) -> reporting_pb::reporting_records_service_client::ReportingRecordsServiceClient<Authed> {
        reporting_pb::reporting_records_service_client::ReportingRecordsServiceClient::new(
            self.authed(token),
        )
    }

    /// A RecognitionRecordsService client.
    pub fn recognition_records(
        &self,
        token: &str,
    ) -> recognition_pb::recognition_records_service_client::RecognitionRecordsServiceClient<Authed>
    {
        recognition_pb::recognition_records_service_client::RecognitionRecordsServiceClient::new(
            self.authed(token),
        )
    }

    /// An ActivityRecordsService client.
    pub fn activity_records(
        &self,
        token: &str,
    ) -> activity_pb::activity_records_service_client::ActivityRecordsServiceClient<Authed> {
        activity_pb::activity_records_service_client::ActivityRecordsServiceClient::new(
            self.authed(token),
        )
    }

    /// Creates a unit under `parent` as `token`'s principal.
    pub async fn create_unit(
        &self,
        token: &str,
        parent: &str,
        tier: pb::Tier,
        display_name: &str,
    ) -> pb::OrgUnit {
        self.org_units(token)
            .create_org_unit(pb::CreateOrgUnitRequest {
                parent: parent.to_string(),
                org_unit: Some(pb::OrgUnit {
                    tier: tier as i32,
                    display_name: display_name.to_string(),
                    level: pb::TeamLevel::District as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap_or_else(|status| panic!("creating {display_name}: {status:?}"))
            .into_inner()
            .org_unit
            .expect("unit in response")
    }

    /// Registers a volunteer with a valid resident ID made from `seed` under `org_unit`.
    pub async fn register(&self, token: &str, org_unit: &str, seed: u32) -> pb::Volunteer {
        self.volunteers(token)
            .create_volunteer(pb::CreateVolunteerRequest {
                org_unit: org_unit.to_string(),
                volunteer: Some(volunteer_input(seed)),
                request_id: String::new(),
                pending_membership: false,
                validate_only: false,
            })
            .await
            .unwrap_or_else(|status| panic!("registering volunteer {seed}: {status:?}"))
            .into_inner()
            .volunteer
            .expect("volunteer in response")
    }

    /// Imports approved service records for `volunteer` (a resource name) at `org_unit`:
    /// one per `(days_ago, minutes)`, each dated that many days before today (China time),
    /// so that the recognition service has approved hours to count. Returns the records.
    pub async fn import_hours(
        &self,
        token: &str,
        org_unit: &str,
        volunteer: &str,
        days: &[(i64, i64)],
    ) -> Vec<activity_pb::ServiceRecord> {
        let today = egret_runtime::wire::today();
        let rows = days
            .iter()
            .map(|&(days_ago, minutes)| {
                let date = days_before(today, days_ago);
                activity_pb::ImportServiceRecordRow {
                    volunteer: volunteer.to_string(),
                    service_date: Some(egret_runtime::wire::date_to_wire(date)),
                    minutes,
                    description: "imported for a test".to_string(),
                }
            })
            .collect();
        self.service_records(token)
            .import_service_records(activity_pb::ImportServiceRecordsRequest {
                org_unit: org_unit.to_string(),
                rows,
                request_id: uuid::Uuid::new_v4().to_string(),
            })
            .await
            .expect("imports hours")
            .into_inner()
            .service_records
    }

    /// Creates a draft activity of `org_unit` (as `leader`) starting `start_hours` from now,
    /// three hours long, with one position of three places.
    pub async fn create_activity(
        &self,
        leader: &str,
        org_unit: &str,
        display_name: &str,
        start_hours: i64,
    ) -> activity_pb::Activity {
        self.activities(leader)
            .create_activity(activity_pb::CreateActivityRequest {
                activity: Some(activity_pb::Activity {
                    org_unit: org_unit.to_string(),
                    display_name: display_name.to_string(),
                    service_theme: egret_proto::common::v1::ServiceTheme::Care as i32,
                    site: Some(activity_pb::ServiceSite {
                        display_name: "曾厝垵社区妇女之家".to_string(),
                        address: "厦门市思明区曾厝垵".to_string(),
                        kind: activity_pb::SiteKind::Community as i32,
                        check_in_fence: None,
                    }),
                    start_time: in_hours(start_hours),
                    end_time: in_hours(start_hours + 3),
                    risk_level: activity_pb::RiskLevel::Low as i32,
                    positions: vec![activity_pb::Position {
                        role: "探访员".to_string(),
                        headcount: 3,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("creates the activity")
            .into_inner()
            .activity
            .expect("activity")
    }

    /// Publishes `activity` (as `leader`) and signs `volunteer` up for its first position
    /// (as `own`, the volunteer's token), approved by `leader`.
    pub async fn publish_and_sign_up(
        &self,
        leader: &str,
        own: &str,
        activity: &activity_pb::Activity,
        volunteer: &str,
    ) -> activity_pb::SignUp {
        self.activities(leader)
            .publish_activity(activity_pb::PublishActivityRequest {
                name: activity.name.clone(),
            })
            .await
            .expect("publishes");
        let sign_up = self
            .sign_ups(own)
            .create_sign_up(activity_pb::CreateSignUpRequest {
                parent: activity.name.clone(),
                sign_up: Some(activity_pb::SignUp {
                    volunteer: volunteer.to_string(),
                    position_id: activity.positions[0].position_id.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("signs up")
            .into_inner()
            .sign_up
            .expect("sign-up");
        self.sign_ups(leader)
            .approve_sign_up(activity_pb::ApproveSignUpRequest {
                name: sign_up.name.clone(),
                comment: String::new(),
            })
            .await
            .expect("approves the sign-up")
            .into_inner()
            .sign_up
            .unwrap_or(sign_up)
    }

    /// Imports `hours` whole hours as full days of 24 hours (and one shorter day for the
    /// rest), on consecutive past days.
    pub async fn import_whole_hours(
        &self,
        token: &str,
        org_unit: &str,
        volunteer: &str,
        hours: i64,
    ) -> Vec<activity_pb::ServiceRecord> {
        let mut days = Vec::new();
        let mut left = hours * 60;
        let mut days_ago = 1;
        while left > 0 {
            let minutes = left.min(24 * 60);
            days.push((days_ago, minutes));
            left -= minutes;
            days_ago += 1;
        }
        self.import_hours(token, org_unit, volunteer, &days).await
    }

    /// Asserts that the reporting service's tallies, kept change by change by its feeds,
    /// equal a count from scratch of its replica (after the feeds catch up).
    pub async fn assert_tallies_recount(&self) {
        self.statistics(&self.admin())
            .query_statistics(reporting_pb::QueryStatisticsRequest {
                org_unit: self.root.clone(),
                metric: reporting_pb::Metric::Teams as i32,
                catch_up: true,
                ..Default::default()
            })
            .await
            .expect("catching the feeds up");
        let database = egret_storage::Database::open(
            &self.config.common.database,
            &self.config.common.data_dir,
            "reporting",
            egret_reporting::migrations(),
        )
        .await
        .expect("opening the reporting database");
        type Row = (String, i64, i64, String, String, i64);
        let read = "SELECT subtree_id, CAST(fact AS BIGINT), CAST(grain AS BIGINT), period, bucket, \
                    CAST(value AS BIGINT) FROM tallies WHERE value <> 0 \
                    ORDER BY subtree_id, fact, grain, period, bucket";
        let mut transaction = database
            .begin("test", "tallies")
            .await
            .expect("a transaction");
        let kept: Vec<Row> = sqlx::query_as(read)
            .fetch_all(transaction.conn())
            .await
            .expect("reading the tallies");
        egret_reporting::store::tallies::rebuild(
            transaction.conn(),
            egret_reporting::store::tallies::Recount::All,
        )
        .await
        .expect("counting again");
        let counted: Vec<Row> = sqlx::query_as(read)
            .fetch_all(transaction.conn())
            .await
            .expect("reading the count");
        drop(transaction);
        database.close().await;
        assert!(!counted.is_empty(), "the scenario tallies something");
        let missing: Vec<&Row> = counted.iter().filter(|row| !kept.contains(row)).collect();
        let extra: Vec<&Row> = kept.iter().filter(|row| !counted.contains(row)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "tallies kept by the feeds differ from a recount: missing {missing:#?}, extra {extra:#?}"
        );
    }

    /// Stops the server (graceful shutdown) and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
        drop(self.processes.take());
        drop(self.postgres.take());
    }

    /// The shutdown token, to stop the server from a test.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Waits until the instance's health says SERVING for the whole (the gateway has heard
/// from every service), as a readiness probe would, for at most half a minute.
pub async fn wait_until_serving(channel: &Channel) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    for _ in 0..300 {
        let mut request = tonic::Request::new(HealthCheckRequest::default());
        request.set_timeout(Duration::from_secs(5));
        let answer = HealthClient::new(channel.clone()).check(request).await;
        if matches!(answer, Ok(answer) if answer.get_ref().status == ServingStatus::Serving as i32)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the instance did not become ready within half a minute");
}

/// A timestamp `hours` from now (negative for the past).
pub fn in_hours(hours: i64) -> Option<prost_types::Timestamp> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64;
    Some(prost_types::Timestamp {
        seconds: now + hours * 3600,
        nanos: 0,
    })
}

/// A valid mainland resident ID: a Xiamen area code, a birth date derived from `seed`
/// (1960–1999), a sequence number from `seed` (even: female) and the GB 11643 check digit.
pub fn resident_id(seed: u32) -> String {
    let year = 1960 + seed % 40;
    let month = 1 + (seed / 40) % 12;
    let day = 1 + (seed / 480) % 28;
    let sequence = (seed * 2) % 1000;
    let first17 = format!("350203{year:04}{month:02}{day:02}{sequence:03}");
    let check = gb11643_check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// A valid registration for `seed`.
pub fn volunteer_input(seed: u32) -> pb::Volunteer {
    pb::Volunteer {
        display_name: format!("志愿者{seed}"),
        id_type: pb::IdType::ResidentId as i32,
        id_number: resident_id(seed),
        phone: format!("139{:08}", seed),
        email: format!("v{seed}@example.cn"),
        skills: vec!["急救".to_string()],
        ..Default::default()
    }
}

/// The field paths of an INVALID_ARGUMENT status's BadRequest details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .map(|violation| violation.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The zh-CN localized message of a status, if any.
pub fn chinese_message(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .localized_message()
        .filter(|message| message.locale == "zh-CN")
        .map(|message| message.message.clone())
}

/// Runs `async fn $name(app: TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = $crate::TestApp::spawn($crate::Backend::Sqlite, concat!(module_path!(), "::sqlite")).await {
                        super::$name(app).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::TestApp::spawn($crate::Backend::Postgres, concat!(module_path!(), "::postgres")).await {
                        super::$name(app).await;
                    }
                }
            }
        )+
    };
}

/// The day `days` days before `date`.
pub fn days_before(date: egret_types::CivilDate, days: i64) -> egret_types::CivilDate {
    date.add_days(-days)
}
