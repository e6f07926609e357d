//! Tiers as production runs them: a city and a district, each an `egret up` process that
//! can be killed with SIGKILL and restarted on its own port and data, and a TCP proxy
//! between them that drops, delays and replays the district's connections.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use egret_proto::gateway::v1 as gateway_pb;
use egret_proto::registry::v1 as pb;
use egret_runtime::{Principal, Role, TokenIssuer, keys};

use crate::TEST_FEDERATION_KEY;
use crate::processes::{bin_dir_of, free_port};

/// One `egret up` process on a fixed port, restartable over the same data.
pub struct Egret {
    binary: PathBuf,
    data_dir: PathBuf,
    port: u16,
    metrics_port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// The root org unit's resource name, from the banner.
    pub root: String,
    /// The first admin's one-time password, when the banner showed one (a first start).
    pub first_admin_password: Option<String>,
}

impl Egret {
    /// Starts `egret up` over `data_dir` on a free port with `env`; returns once it serves.
    pub fn start(data_dir: &Path, env: Vec<(String, String)>) -> Self {
        let mut egret = Self {
            binary: bin_dir_of(&["egret"]).join("egret"),
            data_dir: data_dir.to_path_buf(),
            port: free_port(),
            metrics_port: free_port(),
            env,
            child: None,
            root: String::new(),
            first_admin_password: None,
        };
        egret.launch();
        egret
    }

    fn launch(&mut self) {
        let mut child = Command::new(&self.binary)
            .args(["up", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("EGRET__TELEMETRY__LOG_FILTER", "error")
            .env("EGRET__SERVER__DRAIN_TIMEOUT", "1s")
            .env(
                "EGRET__METRICS__ADDRESS",
                format!("127.0.0.1:{}", self.metrics_port),
            )
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("egret starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        loop {
            let Some(Ok(line)) = lines.next() else {
                // Its error went to this test's standard error, just above.
                let exit = child.wait().ok();
                panic!(
                    "egret up on port {} ended before its banner (exit: {exit:?})",
                    self.port
                );
            };
            if let Some(rest) = line.strip_prefix("root org unit: ") {
                self.root = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            if let Some(rest) =
                line.strip_prefix("first sign-in: username admin, one-time password ")
            {
                self.first_admin_password = rest.split_whitespace().next().map(str::to_string);
            }
            if line.starts_with("a token for the root: ") {
                break;
            }
        }
        // The rest of its output is not read: drain it so that the process never blocks.
        std::thread::spawn(move || for _ in lines {});
        self.child = Some(child);
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A channel to it.
    pub fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(format!("http://{}", self.address()))
            .expect("uri")
            .connect_lazy()
    }

    /// The value of the metric `name` whose labels include `labels`, as its metrics
    /// endpoint serves it now; None when it is not served (yet).
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.metrics_port))
            .await
            .ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: egret\r\n\r\n")
            .await
            .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.ok()?;
        answer.lines().find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(label, value)| rest.contains(&format!("{label}=\"{value}\""))))
            .then(|| value.parse().ok())
            .flatten()
        })
    }

    /// Kills it with SIGKILL: no drain, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again over the same data on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for Egret {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the proxy does to the district's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards faithfully.
    Pass,
    /// Closes each connection once it has carried this many bytes towards the city, so
    /// that batches are cut mid-way.
    CutAfter(usize),
    /// Holds every chunk this long in each direction.
    Delay(Duration),
}

struct ProxyState {
    target: SocketAddr,
    fault: Fault,
    /// What the district sent on its connections that closed, in order.
    recorded: Vec<Vec<u8>>,
}

/// A TCP proxy between a district and the city.
#[derive(Clone)]
pub struct FaultyLink {
    address: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
}

impl FaultyLink {
    /// Listens on a free port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let link = Self {
            address: listener.local_addr().expect("address"),
            state: Arc::new(Mutex::new(ProxyState {
                target,
                fault: Fault::Pass,
                recorded: Vec::new(),
            })),
        };
        let accepting = link.clone();
        tokio::spawn(async move {
            while let Ok((district, _)) = listener.accept().await {
                let link = accepting.clone();
                tokio::spawn(async move { link.carry(district).await });
            }
        });
        link
    }

    /// Where the district dials.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// From now on, `fault`.
    pub fn set(&self, fault: Fault) {
        self.lock().fault = fault;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProxyState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn carry(&self, district: TcpStream) {
        let target = self.lock().target;
        let Ok(city) = TcpStream::connect(target).await else {
            return;
        };
        let _ = district.set_nodelay(true);
        let _ = city.set_nodelay(true);
        let (mut from_district, mut to_district) = district.into_split();
        let (mut from_city, mut to_city) = city.into_split();
        let upward = {
            let link = self.clone();
            async move {
                let mut sent = Vec::new();
                let mut buffer = vec![0u8; 16 * 1024];
                loop {
                    let read = match from_district.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => read,
                    };
                    let fault = link.lock().fault;
                    if let Fault::Delay(delay) = fault {
                        tokio::time::sleep(delay).await;
                    }
                    if let Fault::CutAfter(limit) = fault
                        && sent.len() + read > limit
                    {
                        let keep = limit.saturating_sub(sent.len());
                        let _ = to_city.write_all(&buffer[..keep]).await;
                        sent.extend_from_slice(&buffer[..keep]);
                        break;
                    }
                    if to_city.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                    sent.extend_from_slice(&buffer[..read]);
                }
                link.lock().recorded.push(sent);
            }
        };
        let downward = {
            let link = self.clone();
            async move {
                let mut buffer = vec![0u8; 16 * 1024];
                loop {
                    let read = match from_city.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => read,
                    };
                    let fault = link.lock().fault;
                    if let Fault::Delay(delay) = fault {
                        tokio::time::sleep(delay).await;
                    }
                    if to_district.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                }
            }
        };
        // Either direction ending ends the connection, as a cut cable would.
        tokio::select! {
            () = upward => {}
            () = downward => {}
        }
    }

    /// Cuts every open connection now (they end when their next chunk passes).
    pub fn cut_now(&self) {
        self.set(Fault::CutAfter(0));
    }

    /// Sends the city again, on a new connection, everything the district sent on its
    /// connections that closed since the last replay: the same HTTP/2 sessions, with the
    /// same batches and tokens, delivered twice. Returns how many were replayed.
    pub async fn replay_recorded(&self) -> usize {
        let (target, recorded) = {
            let mut state = self.lock();
            (state.target, std::mem::take(&mut state.recorded))
        };
        let mut replayed = 0;
        for bytes in recorded.into_iter().filter(|bytes| !bytes.is_empty()) {
            let Ok(mut city) = TcpStream::connect(target).await else {
                continue;
            };
            if city.write_all(&bytes).await.is_err() {
                continue;
            }
            replayed += 1;
            // Read the answers until the city closes or goes quiet.
            let mut sink = vec![0u8; 16 * 1024];
            while let Ok(Ok(read)) =
                tokio::time::timeout(Duration::from_millis(300), city.read(&mut sink)).await
            {
                if read == 0 {
                    break;
                }
            }
        }
        replayed
    }
}

/// A bearer token of the instance whose keys are under `data_dir`, for `role` at `org_unit`.
pub fn process_token(
    data_dir: &std::path::Path,
    instance: &str,
    org_unit: &str,
    role: Role,
) -> String {
    TokenIssuer::new(
        keys::signing_key(data_dir).expect("the instance's key"),
        instance.to_string(),
    )
    .issue(
        &Principal {
            subject: "tier-test".to_string(),
            org_unit: org_unit.trim_start_matches("orgUnits/").to_string(),
            roles: [role].into_iter().collect(),
            volunteer: None,
        },
        Duration::from_secs(3600),
    )
}

/// `message` with `token` as its bearer and a deadline of 10 s.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request.set_timeout(Duration::from_secs(10));
    request
}

/// A city and an enrolled district (`xm-siming`), each an `egret up` process, the district
/// dialling the city through a [`FaultyLink`].
pub struct CityAndDistrict {
    /// The city.
    pub city: Egret,
    /// The district.
    pub district: Egret,
    /// The proxy the district dials the city through.
    pub link: FaultyLink,
    /// The district's unit (the district's root, a team of the city's corps).
    pub unit: String,
    /// An admin's token at the city's root.
    pub city_admin: String,
    /// An admin's token at the district's root.
    pub district_admin: String,
    /// The data directories, removed when dropped.
    pub dirs: Vec<tempfile::TempDir>,
    /// The PostgreSQL databases, dropped when dropped.
    pub databases: Vec<Option<egret_storage::testing::FreshPostgres>>,
}

/// Where an instance keeps its data: a data directory, a database URL ('' for SQLite in
/// the directory) and the PostgreSQL database to drop afterwards, if any.
pub type Storage = (
    tempfile::TempDir,
    String,
    Option<egret_storage::testing::FreshPostgres>,
);

impl CityAndDistrict {
    /// Starts both over `city_storage` and `district_storage`, the district pushing every
    /// `push_interval` (`gateway.push_interval`, such as `1s`), and enrolls the district.
    pub async fn start(
        city_storage: Storage,
        district_storage: Storage,
        push_interval: &str,
    ) -> Self {
        let (city_dir, city_url, city_db) = city_storage;
        let (district_dir, district_url, district_db) = district_storage;
        let city = Egret::start(
            city_dir.path(),
            vec![("EGRET__DATABASE__URL".into(), city_url.clone())],
        );
        let city_admin = process_token(city_dir.path(), "xm", &city.root, Role::Admin);
        let unit = pb::org_unit_service_client::OrgUnitServiceClient::new(city.channel())
            .create_org_unit(authed(
                pb::CreateOrgUnitRequest {
                    parent: city.root.clone(),
                    org_unit: Some(pb::OrgUnit {
                        tier: pb::Tier::Team as i32,
                        display_name: "思明区妇联".to_string(),
                        level: pb::TeamLevel::District as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &city_admin,
            ))
            .await
            .expect("the district's unit")
            .into_inner()
            .org_unit
            .expect("unit")
            .name;
        let credential =
            gateway_pb::enrollment_service_client::EnrollmentServiceClient::new(city.channel())
                .create_enrollment(authed(
                    gateway_pb::CreateEnrollmentRequest {
                        enrollment: Some(gateway_pb::Enrollment {
                            instance_id: "xm-siming".to_string(),
                            org_unit: unit.clone(),
                            ..Default::default()
                        }),
                    },
                    &city_admin,
                ))
                .await
                .expect("enrolls")
                .into_inner()
                .credential;

        let link = FaultyLink::start(city.address()).await;
        let district = Egret::start(
            district_dir.path(),
            vec![
                ("EGRET__DATABASE__URL".into(), district_url.clone()),
                ("EGRET__INSTANCE__ID".into(), "xm-siming".into()),
                ("EGRET__INSTANCE__TIER".into(), "district".into()),
                (
                    "EGRET__INSTANCE__UPSTREAM".into(),
                    format!("http://{}", link.address()),
                ),
                ("EGRET__INSTANCE__ENROLLMENT".into(), credential),
                (
                    "EGRET__KEYS__FEDERATION_HASH_KEY".into(),
                    TEST_FEDERATION_KEY.into(),
                ),
                ("EGRET__GATEWAY__PUSH_INTERVAL".into(), push_interval.into()),
                ("EGRET__GATEWAY__TALLY_INTERVAL".into(), "1s".into()),
            ],
        );
        assert_eq!(district.root, unit);
        let district_admin = process_token(
            district_dir.path(),
            "xm-siming",
            &district.root,
            Role::Admin,
        );

        Self {
            city,
            district,
            link,
            unit,
            city_admin,
            district_admin,
            dirs: vec![city_dir, district_dir],
            databases: vec![city_db, district_db],
        }
    }
}

impl CityAndDistrict {
    /// Registers a volunteer at the district's root for each of `seeds`, in one call.
    pub async fn register(&self, seeds: std::ops::Range<u32>) -> Vec<pb::Volunteer> {
        let requests = seeds
            .map(|seed| pb::CreateVolunteerRequest {
                volunteer: Some(pb::Volunteer {
                    display_name: format!("志愿者{seed}"),
                    id_type: pb::IdType::ResidentId as i32,
                    id_number: wide_resident_id(seed),
                    phone: format!("139{seed:08}"),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let mut request = authed(
            pb::BatchCreateVolunteersRequest {
                org_unit: self.district.root.clone(),
                requests,
                request_id: String::new(),
            },
            &self.district_admin,
        );
        request.set_timeout(Duration::from_secs(60));
        pb::volunteer_service_client::VolunteerServiceClient::new(self.district.channel())
            .batch_create_volunteers(request)
            .await
            .expect("the district registers")
            .into_inner()
            .volunteers
    }

    /// Registers `volunteers` volunteers at the district's root, 1,000 a call (two changes
    /// each in the registry's log: the volunteer and the membership).
    pub async fn register_volunteers(&self, volunteers: u32) {
        let mut seed = 0;
        while seed < volunteers {
            let rows = (volunteers - seed).min(1000);
            self.register(seed..seed + rows).await;
            seed += rows;
        }
    }

    /// The registry link's (acknowledged, head) at the city, once it has one.
    pub async fn registry_link(&self) -> Option<(i64, i64)> {
        let mut request = authed(
            egret_proto::sync::v1::ListUpstreamLinksRequest::default(),
            &self.city_admin,
        );
        request
            .metadata_mut()
            .insert("egret-service", "registry".parse().expect("ascii"));
        let links = egret_proto::sync::v1::upward_service_client::UpwardServiceClient::new(
            self.city.channel(),
        )
        .list_upstream_links(request)
        .await
        .ok()?
        .into_inner()
        .links;
        links
            .first()
            .map(|link| (link.acknowledged_sequence, link.head_sequence))
    }
}

/// A distinct valid resident ID for every `seed` below ten million.
pub fn wide_resident_id(seed: u32) -> String {
    let birth = egret_types::CivilDate::new(1950, 1, 1)
        .expect("a date")
        .add_days(i64::from(seed % 18_000));
    let first17 = format!(
        "350203{:04}{:02}{:02}{:03}",
        birth.year,
        birth.month,
        birth.day,
        seed / 18_000
    );
    let check = crate::gb11643_check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}
