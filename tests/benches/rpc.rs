//! The RPC benchmark: every call a client makes most, against a real instance and beside a
//! bare tonic echo server measured in the same run.
//!
//! `cargo bench -p egret-tests --bench rpc`
//!
//! The bench starts `egret up` (this binary re-executed as the instance, on SQLite under a
//! temporary data directory; again on a fresh PostgreSQL database when
//! `EGRET_TEST_POSTGRES_URL` is set) and a bare tonic echo server, each as its own process,
//! fills the instance through its API, then drives both with a closed-loop load generator
//! (tonic clients, latency histograms) in alternating rounds: echo, the RPC, echo, the RPC…
//! For each RPC it prints the p50 and p99 latency with one client calling one at a time, the
//! throughput of 32 concurrent callers over 4 connections, and both beside the echo server
//! answering a response of the same size. It also prints the instance's resident memory when
//! idle and after the load, and CreateVolunteer beside the same statements run in one raw
//! transaction on the registry's own SQLite schema.
//!
//! - `EGRET_BENCH_VOLUNTEERS` (default 500,000): volunteers registered before the reads,
//!   in teams of 1,000 (BatchCreateVolunteers), beside a small team of 20 whose subtree
//!   ListVolunteers reads. ListVolunteersByName reads the whole instance sorted by name
//!   (`order_by`), ListVolunteersByNumber finds one volunteer by number from the root.
//! - `EGRET_BENCH_ROUNDS` (default 3): alternating rounds; each figure is the median.
//! - `EGRET_BENCH_SQLITE=0`: skips SQLite (to measure PostgreSQL alone).
//! - `EGRET_BENCH_ONLY=GetVolunteer,ListVolunteers`: measures only the RPCs named (the
//!   instance's pid is printed, to attach a profiler such as `perf record -p PID`).
//!   `Gateway` names the gateway's figures: the same reads direct, through `egret up`'s
//!   gateway and through an `egret-gateway` process.
//! - `EGRET_BENCH_GATEWAY_CONNECTIONS` (default 2): the gateway process's
//!   `gateway.connections_per_service`.
//!
//! Speed is shown here, never asserted in a test.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use egret_proto::activity::v1 as activity_pb;
use egret_proto::registry::v1 as pb;
use egret_proto::reporting::v1 as reporting_pb;
use egret_runtime::{Principal, Role, TokenIssuer, keys};
use egret_storage::Database;
use egret_storage::testing::FreshPostgres;
use hdrhistogram::Histogram;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

/// The role this process plays when re-executed: `echo` or `instance`.
const ROLE_VARIABLE: &str = "EGRET_BENCH_ROLE";
/// Calls in a round with one caller, and with 32, for reads and for writes.
const READS_AT_ONE: usize = 1_000;
const READS_AT_32: usize = 10_000;
const WRITES_AT_ONE: usize = 200;
const WRITES_AT_32: usize = 2_000;
const CONCURRENCY: usize = 32;
const CONNECTIONS: usize = 4;
/// What a closed loop is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// A measured run: at most 10 s, and calls the server could not answer in time (late
    /// or shed) are a figure.
    Measured,
    /// Filling the instance: every call must succeed, however long it takes.
    Fill,
}

impl Load {
    fn limit(self) -> Duration {
        match self {
            Load::Measured => Duration::from_secs(10),
            Load::Fill => Duration::from_secs(3 * 3600),
        }
    }
}
/// Rows in one BatchCreateVolunteers call.
const BATCH_ROWS: usize = 100;
/// Volunteers in a team when filling the instance.
const TEAM_SIZE: usize = 1_000;

fn main() -> anyhow::Result<()> {
    match std::env::var(ROLE_VARIABLE).as_deref() {
        Ok("echo") => return echo::serve(),
        Ok("instance") => return serve_instance(),
        Ok("gateway") => return serve_gateway(),
        _ => {}
    }
    // `cargo test --benches` runs this with no `--bench`: nothing to measure then.
    if !std::env::args().any(|argument| argument == "--bench") {
        println!("rpc benchmark: run it with `cargo bench -p egret-tests --bench rpc`");
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

/// `egret up` in this process, for the instance's own process.
fn serve_instance() -> anyhow::Result<()> {
    use clap::Parser;
    let data_dir = std::env::var("EGRET_BENCH_DATA_DIR").context("EGRET_BENCH_DATA_DIR")?;
    let cli = egret_gateway::Cli::parse_from([
        "egret",
        "up",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data_dir,
    ]);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(egret_gateway::run(cli))
}

/// `egret-gateway` in this process, in front of the services of an instance's process.
fn serve_gateway() -> anyhow::Result<()> {
    let services = std::env::var("EGRET_BENCH_SERVICES").context("EGRET_BENCH_SERVICES")?;
    let data_dir = std::env::var("EGRET_BENCH_DATA_DIR").context("EGRET_BENCH_DATA_DIR")?;
    let mut config = egret_gateway::GatewayConfig::default();
    config.common.data_dir = data_dir.into();
    config.common.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.common.telemetry.log_filter = "error".to_string();
    config.gateway.connections_per_service = env_number("EGRET_BENCH_GATEWAY_CONNECTIONS", 2)?;
    let address = format!("http://{services}");
    config.gateway.services = egret_gateway::ServiceAddresses {
        registry: address.clone(),
        activity: address.clone(),
        recognition: address.clone(),
        reporting: address,
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            egret_gateway::serve_alone(&config, egret_runtime::shutdown_on_signals()).await
        })
}

struct Settings {
    volunteers: usize,
    rounds: usize,
}

fn env_number(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(value) => value
            .replace(['_', ','], "")
            .parse()
            .with_context(|| format!("{name} must be a number, got {value:?}")),
        Err(_) => Ok(default),
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings {
        volunteers: env_number("EGRET_BENCH_VOLUNTEERS", 500_000)?,
        rounds: env_number("EGRET_BENCH_ROUNDS", 3)?.max(1),
    };
    println!("# Egret RPC benchmark");
    println!();
    println!("machine: {}", machine());
    println!(
        "volunteers in the instance: {}, rounds: {} (medians), c=1: {READS_AT_ONE} reads / {WRITES_AT_ONE} writes a round, c={CONCURRENCY} over {CONNECTIONS} connections: {READS_AT_32} reads / {WRITES_AT_32} writes a round",
        settings.volunteers, settings.rounds
    );
    let echo = Spawned::echo()?;
    if std::env::var("EGRET_BENCH_SQLITE").as_deref() != Ok("0") {
        let data_dir = tempfile::tempdir()?;
        let instance = Spawned::instance(data_dir.path(), None)?;
        bench_engine("SQLite", &settings, &echo, &instance, data_dir.path()).await?;
        raw_sqlite_baseline(&settings).await?;
    }
    if let Ok(url) = std::env::var("EGRET_TEST_POSTGRES_URL")
        && !url.trim().is_empty()
    {
        let postgres = FreshPostgres::create("rpc bench")
            .await
            .context("a fresh PostgreSQL database")?;
        let data_dir = tempfile::tempdir()?;
        let instance = Spawned::instance(data_dir.path(), Some(postgres.url()))?;
        bench_engine("PostgreSQL", &settings, &echo, &instance, data_dir.path()).await?;
        drop(instance);
        drop(postgres);
    }
    Ok(())
}

fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".to_string());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{model}, {cores} cores")
}

/// A child process serving gRPC on an ephemeral port.
struct Spawned {
    child: Child,
    address: SocketAddr,
    /// For the instance: the services' own listener behind the gateway.
    direct: Option<SocketAddr>,
    root: String,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Spawned {
    fn echo() -> anyhow::Result<Self> {
        let command = Command::new(std::env::current_exe()?);
        Self::start(command, "echo", &[])
    }

    /// A gateway process of its own in front of `services`.
    fn gateway(data_dir: &Path, services: SocketAddr) -> anyhow::Result<Self> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .env("EGRET_BENCH_DATA_DIR", data_dir)
            .env("EGRET_BENCH_SERVICES", services.to_string());
        Self::start(command, "gateway", &[])
    }

    fn instance(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Self> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .env("EGRET_BENCH_DATA_DIR", data_dir)
            .env("EGRET__TELEMETRY__LOG_FILTER", "error");
        if let Some(url) = database_url {
            command.env("EGRET__DATABASE__URL", url);
        }
        Self::start(command, "instance", &["root org unit: "])
    }

    /// Starts the child and reads its banner: the address, and the lines starting with
    /// `wanted` before it goes on serving.
    fn start(mut command: Command, role: &str, wanted: &[&str]) -> anyhow::Result<Self> {
        use std::io::BufRead;
        let mut child = command
            .env(ROLE_VARIABLE, role)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting the {role}"))?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut address = None;
        let mut direct = None;
        let mut root = String::new();
        while address.is_none() || (!wanted.is_empty() && root.is_empty()) {
            let Some(line) = lines.next() else {
                bail!("the {role} stopped before its banner");
            };
            let line = line?;
            if let Some(rest) = line
                .strip_prefix("egret listening on ")
                .or_else(|| line.strip_prefix("echo listening on "))
                .or_else(|| line.strip_prefix("egret-gateway listening on "))
            {
                address = Some(rest.trim().parse()?);
            }
            if let Some(rest) = line.strip_prefix("services behind the gateway: ") {
                direct = Some(rest.trim().parse()?);
            }
            if let Some(rest) = line.strip_prefix("root org unit: ") {
                root = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
        }
        // Keep draining the banner so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self {
            child,
            address: address.context("no address")?,
            direct,
            root,
        })
    }

    /// Resident memory in KiB, from /proc.
    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|line| line.starts_with("VmRSS:"))
                    .and_then(|line| line.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse().ok())
            })
            .unwrap_or(0)
    }

    async fn channels(&self) -> anyhow::Result<Vec<Channel>> {
        connect(self.address).await
    }
}

/// `CONNECTIONS` channels to `address`.
async fn connect(address: SocketAddr) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        channels.push(
            Channel::from_shared(format!("http://{address}"))?
                .tcp_nodelay(true)
                .connect()
                .await?,
        );
    }
    Ok(channels)
}

impl Spawned {}

/// One closed-loop run: latencies and the throughput of the whole run.
struct Run {
    latencies: Histogram<u64>,
    per_second: f64,
    /// Calls answered DEADLINE_EXCEEDED (the server's default deadline is 30 s) or
    /// RESOURCE_EXHAUSTED (shed, or no database connection in time).
    late: usize,
}

impl Run {
    fn p50_ms(&self) -> f64 {
        self.latencies.value_at_quantile(0.50) as f64 / 1000.0
    }

    fn p99_ms(&self) -> f64 {
        self.latencies.value_at_quantile(0.99) as f64 / 1000.0
    }
}

/// Runs up to `total` calls with `concurrency` callers, each taking the next call's index
/// and calling again as soon as its answer comes (closed loop), for at most `load`'s limit
/// (10 s for a measured run, so a slow call cannot hold the bench for minutes; the figures
/// count what completed). Caller `k` uses connection `k % channels.len()`. Any other failed
/// call fails the bench: figures of errors mean nothing.
async fn closed_loop<F, Fut>(
    channels: &[Channel],
    concurrency: usize,
    total: usize,
    load: Load,
    call: F,
) -> anyhow::Result<Run>
where
    F: Fn(Channel, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let late = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut callers = Vec::with_capacity(concurrency);
    for caller in 0..concurrency {
        let channel = channels[caller % channels.len()].clone();
        let call = call.clone();
        let next = next.clone();
        let completed = completed.clone();
        let late = late.clone();
        callers.push(tokio::spawn(async move {
            let mut latencies = latency_histogram();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total || started.elapsed() > load.limit() {
                    return Ok::<_, tonic::Status>(latencies);
                }
                let begun = Instant::now();
                if let Err(status) = call(channel.clone(), index).await {
                    // A deadline or a shed call is a figure (the server could not keep
                    // up); anything else is a broken bench.
                    let overloaded = matches!(
                        status.code(),
                        tonic::Code::DeadlineExceeded | tonic::Code::ResourceExhausted
                    );
                    if !overloaded || load == Load::Fill {
                        return Err(status);
                    }
                    late.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                completed.fetch_add(1, Ordering::Relaxed);
                let micros = begun.elapsed().as_micros().max(1);
                latencies.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX));
            }
        }));
    }
    let mut latencies = latency_histogram();
    for caller in callers {
        let histogram = caller.await?.map_err(|status| {
            anyhow::anyhow!("a call failed: {:?} {}", status.code(), status.message())
        })?;
        latencies.add(&histogram)?;
    }
    let elapsed = started.elapsed();
    Ok(Run {
        latencies,
        per_second: completed.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
        late: late.load(Ordering::Relaxed),
    })
}

/// Microseconds from 1 µs to 10 minutes, three significant figures.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The medians of one RPC's rounds beside the echo server's.
struct Figures {
    rpc: &'static str,
    unit: &'static str,
    p50_ms: f64,
    p99_ms: f64,
    echo_p50_ms: f64,
    per_second: f64,
    echo_per_second: f64,
    late: usize,
}

fn print_header() {
    println!(
        "| rpc | c=1 p50 ms | c=1 p99 ms | echo c=1 p50 ms | c=32 per second | echo c=32 per second | ratio to echo |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
}

fn print_figures(figures: &Figures) {
    let late = if figures.late > 0 {
        format!(" ({} past their deadline or shed)", figures.late)
    } else {
        String::new()
    };
    println!(
        "| {}{late} | {:.2} | {:.2} | {:.2} | {:.0} {} | {:.0} | {:.2} |",
        figures.rpc,
        figures.p50_ms,
        figures.p99_ms,
        figures.echo_p50_ms,
        figures.per_second,
        figures.unit,
        figures.echo_per_second,
        figures.per_second / figures.echo_per_second,
    );
}

/// What every call of the bench needs: the instance's channels, its root, tokens and the
/// records the fill made.
struct Bench {
    root: String,
    admin: MetadataValue<Ascii>,
    small_team: String,
    big_team: String,
    volunteer: String,
    volunteer_number: String,
    sign_up_activity: String,
    sign_up_position: String,
    sign_up_volunteers: Vec<String>,
    records: Vec<String>,
    /// Where new volunteers' identities start, so none is registered twice.
    next_identity: AtomicUsize,
}

fn authed<T>(message: T, token: &MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request
}

/// A valid, distinct mainland resident ID for every `index` (GB 11643 check digit).
fn resident_id(index: usize) -> String {
    const AREAS: [&str; 6] = ["350203", "350205", "350206", "350211", "350212", "350213"];
    let area = AREAS[index % AREAS.len()];
    let sequence = (index / AREAS.len()) % 1000;
    let day = index / (AREAS.len() * 1000);
    let birth = egret_types::CivilDate::from_days(
        egret_types::CivilDate::new(1965, 1, 1)
            .expect("a date")
            .to_days()
            + i64::try_from(day).expect("days fit"),
    );
    let first17 = format!(
        "{area}{:04}{:02}{:02}{sequence:03}",
        birth.year, birth.month, birth.day
    );
    let check = egret_tests::gb11643_check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

fn volunteer_row(index: usize) -> pb::CreateVolunteerRequest {
    pb::CreateVolunteerRequest {
        org_unit: String::new(),
        volunteer: Some(pb::Volunteer {
            display_name: format!("志愿者{index}"),
            id_type: pb::IdType::ResidentId as i32,
            id_number: resident_id(index),
            phone: format!("139{:08}", index % 100_000_000),
            email: format!("v{index}@example.cn"),
            skills: vec!["急救".to_string()],
            ..Default::default()
        }),
        request_id: String::new(),
        pending_membership: false,
        validate_only: false,
    }
}

async fn bench_engine(
    engine: &str,
    settings: &Settings,
    echo: &Spawned,
    instance: &Spawned,
    data_dir: &Path,
) -> anyhow::Result<()> {
    println!();
    println!("## {engine}");
    println!();
    let issuer = TokenIssuer::new(keys::signing_key(data_dir)?, "xm");
    let admin_token = issuer.issue(
        &Principal {
            subject: "bench".to_string(),
            org_unit: instance.root.trim_start_matches("orgUnits/").to_string(),
            roles: [Role::Admin].into_iter().collect(),
            volunteer: None,
        },
        Duration::from_secs(24 * 3600),
    );
    let admin: MetadataValue<Ascii> = format!("Bearer {admin_token}").parse()?;
    let channels = instance.channels().await?;
    let echo_channels = echo.channels().await?;

    let filled = Instant::now();
    let context = Arc::new(fill(settings, &channels, &instance.root, admin).await?);
    println!(
        "filled in {:.0} s; instance pid {}, resident memory idle: {} MiB",
        filled.elapsed().as_secs_f64(),
        instance.child.id(),
        instance.rss_kib() / 1024
    );
    println!();
    print_header();
    let rpcs = [
        Rpc::GetVolunteer,
        Rpc::GetOrgUnit,
        Rpc::ListVolunteers,
        Rpc::ListVolunteersByName,
        Rpc::ListVolunteersByNumber,
        Rpc::ListOrgUnits,
        Rpc::CreateVolunteer,
        Rpc::BatchCreateVolunteers,
        Rpc::CreateSignUp,
        Rpc::ApproveServiceRecord,
        Rpc::GetOverview,
    ];
    let only = std::env::var("EGRET_BENCH_ONLY").unwrap_or_default();
    let chosen = |rpc: Rpc| {
        only.is_empty()
            || only
                .split(',')
                .any(|name| rpc.name().split(' ').next() == Some(name.trim()))
    };
    for rpc in rpcs.into_iter().filter(|rpc| chosen(*rpc)) {
        let figures = measure(rpc, settings, &context, &channels, &echo_channels).await?;
        print_figures(&figures);
    }
    if let Some(direct) = instance.direct
        && (only.is_empty() || only.split(',').any(|name| name.trim() == "Gateway"))
    {
        let gateway_process = Spawned::gateway(data_dir, direct)?;
        let links = [
            ("direct", connect(direct).await?),
            ("in-process gateway", channels.clone()),
            ("gateway process", gateway_process.channels().await?),
        ];
        println!();
        println!(
            "The gateway: the same reads straight to the services' listener (direct), through `egret up`'s gateway, which calls the services in-process, and through an `egret-gateway` process in front of the same listener. At c=1 the three are called in turn, call by call, so each p50 sees the same moments of a shared machine; at c=32 the runs alternate."
        );
        println!();
        println!(
            "| rpc | direct c=1 p50 µs | in-process gateway, added µs | gateway process, added µs | direct c=32 per second | in-process gateway, ratio | gateway process, ratio |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for rpc in [Rpc::GetVolunteer, Rpc::GetOrgUnit] {
            measure_gateway(rpc, settings, &context, &links).await?;
        }
        println!();
        println!(
            "the gateway process's resident memory after the load: {} MiB",
            gateway_process.rss_kib() / 1024
        );
    }
    println!();
    println!(
        "resident memory after the load: {} MiB",
        instance.rss_kib() / 1024
    );
    Ok(())
}

/// What the gateway adds to `rpc` (a read, so rounds may repeat its calls): p50 at one
/// caller, calling each link in turn, and throughput at 32 callers, link after link.
async fn measure_gateway(
    rpc: Rpc,
    settings: &Settings,
    context: &Arc<Bench>,
    links: &[(&str, Vec<Channel>); 3],
) -> anyhow::Result<()> {
    let (at_one, at_32) = rpc.calls();
    let mut p50s: [Vec<f64>; 3] = Default::default();
    let mut rates: [Vec<f64>; 3] = Default::default();
    for _ in 0..settings.rounds {
        let mut latencies = [
            latency_histogram(),
            latency_histogram(),
            latency_histogram(),
        ];
        for index in 0..at_one {
            for (link, (_, channels)) in links.iter().enumerate() {
                let started = Instant::now();
                rpc.call(context.clone(), channels[0].clone(), index)
                    .await
                    .map_err(|status| anyhow::anyhow!("{}: {status:?}", rpc.name()))?;
                latencies[link].record(started.elapsed().as_micros() as u64)?;
            }
        }
        for (link, (_, channels)) in links.iter().enumerate() {
            p50s[link].push(latencies[link].value_at_quantile(0.5) as f64);
            let context = context.clone();
            let run = closed_loop(
                channels,
                CONCURRENCY,
                at_32,
                Load::Measured,
                move |channel, index| {
                    let context = context.clone();
                    async move { rpc.call(context, channel, index).await.map(drop) }
                },
            )
            .await
            .with_context(|| rpc.name())?;
            rates[link].push(run.per_second);
        }
    }
    let [direct_p50, local_p50, remote_p50] = p50s.map(median);
    let [direct_rate, local_rate, remote_rate] = rates.map(median);
    println!(
        "| {} | {direct_p50:.0} | {:.0} | {:.0} | {direct_rate:.0} | {:.2} | {:.2} |",
        rpc.name(),
        local_p50 - direct_p50,
        remote_p50 - direct_p50,
        local_rate / direct_rate,
        remote_rate / direct_rate,
    );
    Ok(())
}

/// The RPCs measured.
#[derive(Debug, Clone, Copy)]
enum Rpc {
    GetVolunteer,
    GetOrgUnit,
    ListVolunteers,
    ListVolunteersByName,
    ListVolunteersByNumber,
    ListOrgUnits,
    CreateVolunteer,
    BatchCreateVolunteers,
    CreateSignUp,
    ApproveServiceRecord,
    GetOverview,
}

impl Rpc {
    fn name(self) -> &'static str {
        match self {
            Rpc::GetVolunteer => "GetVolunteer",
            Rpc::GetOrgUnit => "GetOrgUnit",
            Rpc::ListVolunteers => "ListVolunteers (small team, page of 50)",
            Rpc::ListVolunteersByName => "ListVolunteersByName (root, order_by name, page of 50)",
            Rpc::ListVolunteersByNumber => "ListVolunteersByNumber (root, one number)",
            Rpc::ListOrgUnits => "ListOrgUnits (subtree, page of 50)",
            Rpc::CreateVolunteer => "CreateVolunteer",
            Rpc::BatchCreateVolunteers => "BatchCreateVolunteers (100 rows)",
            Rpc::CreateSignUp => "CreateSignUp",
            Rpc::ApproveServiceRecord => "ApproveServiceRecord",
            Rpc::GetOverview => "GetOverview (root)",
        }
    }

    fn is_write(self) -> bool {
        matches!(
            self,
            Rpc::CreateVolunteer
                | Rpc::BatchCreateVolunteers
                | Rpc::CreateSignUp
                | Rpc::ApproveServiceRecord
        )
    }

    /// Calls made a round at concurrency 1 and 32.
    fn calls(self) -> (usize, usize) {
        match self {
            Rpc::BatchCreateVolunteers => (20, 200),
            rpc if rpc.is_write() => (WRITES_AT_ONE, WRITES_AT_32),
            _ => (READS_AT_ONE, READS_AT_32),
        }
    }

    /// One call; `index` is unique in the whole bench for writes that consume a record.
    async fn call(
        self,
        context: Arc<Bench>,
        channel: Channel,
        index: usize,
    ) -> Result<usize, tonic::Status> {
        use prost::Message;
        let admin = &context.admin;
        let size = match self {
            Rpc::GetVolunteer => pb::volunteer_service_client::VolunteerServiceClient::new(channel)
                .get_volunteer(authed(
                    pb::GetVolunteerRequest {
                        name: context.volunteer.clone(),
                        reveal_personal_data: false,
                    },
                    admin,
                ))
                .await?
                .into_inner()
                .encoded_len(),
            Rpc::GetOrgUnit => pb::org_unit_service_client::OrgUnitServiceClient::new(channel)
                .get_org_unit(authed(
                    pb::GetOrgUnitRequest {
                        name: context.small_team.clone(),
                    },
                    admin,
                ))
                .await?
                .into_inner()
                .encoded_len(),
            Rpc::ListVolunteers => {
                pb::volunteer_service_client::VolunteerServiceClient::new(channel)
                    .list_volunteers(authed(
                        pb::ListVolunteersRequest {
                            org_unit: context.small_team.clone(),
                            page_size: 50,
                            ..Default::default()
                        },
                        admin,
                    ))
                    .await?
                    .into_inner()
                    .encoded_len()
            }
            Rpc::ListVolunteersByName | Rpc::ListVolunteersByNumber => {
                let (order_by, volunteer_number) = match self {
                    Rpc::ListVolunteersByName => ("display_name", String::new()),
                    _ => ("", context.volunteer_number.clone()),
                };
                pb::volunteer_service_client::VolunteerServiceClient::new(channel)
                    .list_volunteers(authed(
                        pb::ListVolunteersRequest {
                            org_unit: context.root.clone(),
                            page_size: 50,
                            order_by: order_by.to_string(),
                            volunteer_number,
                            ..Default::default()
                        },
                        admin,
                    ))
                    .await?
                    .into_inner()
                    .encoded_len()
            }
            Rpc::ListOrgUnits => pb::org_unit_service_client::OrgUnitServiceClient::new(channel)
                .list_org_units(authed(
                    pb::ListOrgUnitsRequest {
                        ancestor: context.root.clone(),
                        page_size: 50,
                        ..Default::default()
                    },
                    admin,
                ))
                .await?
                .into_inner()
                .encoded_len(),
            Rpc::CreateVolunteer => {
                let identity = context.next_identity.fetch_add(1, Ordering::Relaxed);
                let mut row = volunteer_row(identity);
                row.org_unit = context.big_team.clone();
                pb::volunteer_service_client::VolunteerServiceClient::new(channel)
                    .create_volunteer(authed(row, admin))
                    .await?
                    .into_inner()
                    .encoded_len()
            }
            Rpc::BatchCreateVolunteers => {
                let first = context
                    .next_identity
                    .fetch_add(BATCH_ROWS, Ordering::Relaxed);
                pb::volunteer_service_client::VolunteerServiceClient::new(channel)
                    .batch_create_volunteers(authed(
                        pb::BatchCreateVolunteersRequest {
                            org_unit: context.big_team.clone(),
                            requests: (first..first + BATCH_ROWS).map(volunteer_row).collect(),
                            request_id: String::new(),
                        },
                        admin,
                    ))
                    .await?
                    .into_inner()
                    .encoded_len()
            }
            Rpc::CreateSignUp => {
                activity_pb::sign_up_service_client::SignUpServiceClient::new(channel)
                    .create_sign_up(authed(
                        activity_pb::CreateSignUpRequest {
                            parent: context.sign_up_activity.clone(),
                            sign_up: Some(activity_pb::SignUp {
                                volunteer: context.sign_up_volunteers[index].clone(),
                                position_id: context.sign_up_position.clone(),
                                ..Default::default()
                            }),
                            request_id: String::new(),
                        },
                        admin,
                    ))
                    .await?
                    .into_inner()
                    .encoded_len()
            }
            Rpc::ApproveServiceRecord => {
                activity_pb::service_record_service_client::ServiceRecordServiceClient::new(channel)
                    .approve_service_record(authed(
                        activity_pb::ApproveServiceRecordRequest {
                            name: context.records[index].clone(),
                            comment: "核实".to_string(),
                        },
                        admin,
                    ))
                    .await?
                    .into_inner()
                    .encoded_len()
            }
            Rpc::GetOverview => {
                reporting_pb::statistics_service_client::StatisticsServiceClient::new(channel)
                    .get_overview(authed(
                        reporting_pb::GetOverviewRequest {
                            org_unit: context.root.clone(),
                            ..Default::default()
                        },
                        admin,
                    ))
                    .await?
                    .into_inner()
                    .encoded_len()
            }
        };
        Ok(size)
    }
}

/// Alternating rounds of the echo server and the RPC, each at concurrency 1 and 32.
async fn measure(
    rpc: Rpc,
    settings: &Settings,
    context: &Arc<Bench>,
    channels: &[Channel],
    echo_channels: &[Channel],
) -> anyhow::Result<Figures> {
    let (at_one, at_32) = rpc.calls();
    // The echo answers as many bytes as the RPC does.
    let sample = {
        let context = context.clone();
        let index = consumed(rpc, settings.rounds).start;
        rpc.call(context, channels[0].clone(), index)
            .await
            .map_err(|status| anyhow::anyhow!("{}: {status:?}", rpc.name()))?
    };
    let echo_call = move |channel: Channel, _index: usize| echo::call(channel, sample);
    let mut runs: Vec<(Run, Run, Run, Run)> = Vec::new();
    for round in 0..settings.rounds {
        let echo_one = closed_loop(echo_channels, 1, at_one, Load::Measured, echo_call).await?;
        let offset = consumed(rpc, round);
        let context_one = context.clone();
        let rpc_one = closed_loop(
            channels,
            1,
            at_one,
            Load::Measured,
            move |channel, index| {
                let context = context_one.clone();
                async move {
                    rpc.call(context, channel, offset.start + index)
                        .await
                        .map(drop)
                }
            },
        )
        .await
        .with_context(|| rpc.name())?;
        let echo_32 =
            closed_loop(echo_channels, CONCURRENCY, at_32, Load::Measured, echo_call).await?;
        let context_32 = context.clone();
        let rpc_32 = closed_loop(
            channels,
            CONCURRENCY,
            at_32,
            Load::Measured,
            move |channel, index| {
                let context = context_32.clone();
                async move {
                    rpc.call(context, channel, offset.start + at_one + index)
                        .await
                        .map(drop)
                }
            },
        )
        .await
        .with_context(|| rpc.name())?;
        runs.push((echo_one, rpc_one, echo_32, rpc_32));
    }
    let rows = if matches!(rpc, Rpc::BatchCreateVolunteers) {
        BATCH_ROWS as f64
    } else {
        1.0
    };
    Ok(Figures {
        rpc: rpc.name(),
        unit: if rows > 1.0 { "rows" } else { "" },
        p50_ms: median(runs.iter().map(|run| run.1.p50_ms()).collect()),
        p99_ms: median(runs.iter().map(|run| run.1.p99_ms()).collect()),
        echo_p50_ms: median(runs.iter().map(|run| run.0.p50_ms()).collect()),
        per_second: median(runs.iter().map(|run| run.3.per_second * rows).collect()),
        echo_per_second: median(runs.iter().map(|run| run.2.per_second).collect()),
        late: runs.iter().map(|run| run.1.late + run.3.late).sum(),
    })
}

/// The pool indices a round of `rpc` uses (sign-ups and records are used once each); the
/// sample call before the rounds uses the last slot.
fn consumed(rpc: Rpc, round: usize) -> std::ops::Range<usize> {
    let (at_one, at_32) = rpc.calls();
    let per_round = at_one + at_32;
    round * per_round..(round + 1) * per_round
}

/// Pool sizes: every round's calls, plus the sample call.
fn pool_size(rpc: Rpc, rounds: usize) -> usize {
    let (at_one, at_32) = rpc.calls();
    (at_one + at_32) * rounds + 1
}

/// Fills the instance through its API: teams of volunteers, a small team, an activity to
/// sign up for and service records to approve.
async fn fill(
    settings: &Settings,
    channels: &[Channel],
    root: &str,
    admin: MetadataValue<Ascii>,
) -> anyhow::Result<Bench> {
    let channel = channels[0].clone();
    let mut org_units = pb::org_unit_service_client::OrgUnitServiceClient::new(channel.clone());
    let create_team = |name: String| {
        let admin = admin.clone();
        let root = root.to_string();
        let mut org_units = org_units.clone();
        async move {
            org_units
                .create_org_unit(authed(
                    pb::CreateOrgUnitRequest {
                        parent: root,
                        org_unit: Some(pb::OrgUnit {
                            tier: pb::Tier::Team as i32,
                            display_name: name,
                            level: pb::TeamLevel::District as i32,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    &admin,
                ))
                .await
                .map(|response| response.into_inner().org_unit.unwrap_or_default().name)
        }
    };
    let small_team = create_team("小型服务队".to_string()).await?;
    let big_team = create_team("大型服务队".to_string()).await?;
    let sign_up_team = create_team("报名服务队".to_string()).await?;

    // Teams of volunteers, registered in batches by 32 callers.
    let team_count = settings.volunteers.div_ceil(TEAM_SIZE);
    let mut teams = Vec::with_capacity(team_count);
    for number in 0..team_count {
        teams.push(create_team(format!("第{number}服务队")).await?);
    }
    let batches: Arc<Vec<(String, usize)>> = Arc::new(
        (0..settings.volunteers.div_ceil(BATCH_ROWS))
            .map(|batch| {
                (
                    teams[batch * BATCH_ROWS / TEAM_SIZE].clone(),
                    batch * BATCH_ROWS,
                )
            })
            .collect(),
    );
    let total = settings.volunteers;
    let registered = {
        let batches = batches.clone();
        let admin = admin.clone();
        closed_loop(
            channels,
            CONCURRENCY,
            batches.len(),
            Load::Fill,
            move |channel, index| {
                let (team, first) = batches[index].clone();
                let admin = admin.clone();
                async move {
                    let last = (first + BATCH_ROWS).min(total);
                    pb::volunteer_service_client::VolunteerServiceClient::new(channel)
                        .batch_create_volunteers(authed(
                            pb::BatchCreateVolunteersRequest {
                                org_unit: team,
                                requests: (first..last).map(volunteer_row).collect(),
                                request_id: String::new(),
                            },
                            &admin,
                        ))
                        .await
                        .map(drop)
                }
            },
        )
        .await
        .context("registering the volunteers")?
    };
    println!(
        "registered {total} volunteers in {team_count} teams: {:.0} rows a second (BatchCreateVolunteers of {BATCH_ROWS}, {CONCURRENCY} callers)",
        registered.per_second * BATCH_ROWS as f64
    );
    let mut next_identity = total;
    let mut register_into = async |team: &str, count: usize| -> anyhow::Result<Vec<String>> {
        let mut names = Vec::with_capacity(count);
        let mut volunteers =
            pb::volunteer_service_client::VolunteerServiceClient::new(channels[0].clone());
        while names.len() < count {
            let rows = (count - names.len()).min(1000);
            let first = next_identity;
            next_identity += rows;
            let created = volunteers
                .batch_create_volunteers(authed(
                    pb::BatchCreateVolunteersRequest {
                        org_unit: team.to_string(),
                        requests: (first..first + rows).map(volunteer_row).collect(),
                        request_id: String::new(),
                    },
                    &admin,
                ))
                .await?
                .into_inner()
                .volunteers;
            names.extend(created.into_iter().map(|volunteer| volunteer.name));
        }
        Ok(names)
    };
    let small = register_into(&small_team, 20).await?;
    let sign_up_volunteers =
        register_into(&sign_up_team, pool_size(Rpc::CreateSignUp, settings.rounds)).await?;

    // An activity with room for every sign-up, and a completed one with records to approve.
    let activity_of = |name: &str, start_hours: i64| activity_pb::CreateActivityRequest {
        activity: Some(activity_pb::Activity {
            org_unit: sign_up_team.clone(),
            display_name: name.to_string(),
            service_theme: egret_proto::common::v1::ServiceTheme::Care as i32,
            site: Some(activity_pb::ServiceSite {
                display_name: "社区妇女之家".to_string(),
                address: "厦门市思明区".to_string(),
                kind: activity_pb::SiteKind::Community as i32,
                check_in_fence: None,
            }),
            start_time: egret_tests::in_hours(start_hours),
            end_time: egret_tests::in_hours(start_hours + 3),
            risk_level: activity_pb::RiskLevel::Low as i32,
            positions: vec![activity_pb::Position {
                role: "志愿者".to_string(),
                headcount: 10_000,
                ..Default::default()
            }],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let mut activities =
        activity_pb::activity_service_client::ActivityServiceClient::new(channels[0].clone());
    let sign_up_activity = activities
        .create_activity(authed(activity_of("社区关爱", 48), &admin))
        .await?
        .into_inner()
        .activity
        .context("activity")?;
    activities
        .publish_activity(authed(
            activity_pb::PublishActivityRequest {
                name: sign_up_activity.name.clone(),
            },
            &admin,
        ))
        .await?;
    let served = activities
        .create_activity(authed(activity_of("巾帼关爱", 1), &admin))
        .await?
        .into_inner()
        .activity
        .context("activity")?;
    for step in ["publish", "start", "complete"] {
        let name = served.name.clone();
        match step {
            "publish" => activities
                .publish_activity(authed(activity_pb::PublishActivityRequest { name }, &admin))
                .await
                .map(drop)?,
            "start" => activities
                .start_activity(authed(activity_pb::StartActivityRequest { name }, &admin))
                .await
                .map(drop)?,
            _ => activities
                .complete_activity(authed(
                    activity_pb::CompleteActivityRequest { name },
                    &admin,
                ))
                .await
                .map(drop)?,
        }
    }
    let record_pool = pool_size(Rpc::ApproveServiceRecord, settings.rounds)
        .min(pool_size(Rpc::CreateSignUp, settings.rounds));
    let records = {
        let admin = admin.clone();
        let activity = served.name.clone();
        // One record per volunteer and activity: the sign-up pool serves here too.
        let volunteers = Arc::new(sign_up_volunteers.clone());
        let names = Arc::new(std::sync::Mutex::new(vec![String::new(); record_pool]));
        let filled = names.clone();
        closed_loop(channels, CONCURRENCY, record_pool, Load::Fill, move |channel, index| {
            let admin = admin.clone();
            let activity = activity.clone();
            let volunteer = volunteers[index].clone();
            let filled = filled.clone();
            async move {
                let record = activity_pb::service_record_service_client::ServiceRecordServiceClient::new(channel)
                    .create_back_entry(authed(
                        activity_pb::CreateBackEntryRequest {
                            activity,
                            volunteer,
                            minutes: 60,
                            description: "入户探访".to_string(),
                            reason: "纸质签到补录".to_string(),
                            request_id: String::new(),
                        },
                        &admin,
                    ))
                    .await?
                    .into_inner()
                    .service_record
                    .unwrap_or_default();
                filled.lock().expect("not poisoned")[index] = record.name;
                Ok(())
            }
        })
        .await
        .context("back-entries to approve")?;
        names.lock().expect("not poisoned").clone()
    };
    org_units
        .get_org_unit(authed(
            pb::GetOrgUnitRequest {
                name: small_team.clone(),
            },
            &admin,
        ))
        .await?;
    let volunteer_number = pb::volunteer_service_client::VolunteerServiceClient::new(channel)
        .get_volunteer(authed(
            pb::GetVolunteerRequest {
                name: small[0].clone(),
                reveal_personal_data: false,
            },
            &admin,
        ))
        .await?
        .into_inner()
        .volunteer
        .context("volunteer")?
        .volunteer_number;
    Ok(Bench {
        root: root.to_string(),
        admin,
        volunteer: small[0].clone(),
        volunteer_number,
        small_team,
        big_team,
        sign_up_activity: sign_up_activity.name,
        sign_up_position: sign_up_activity.positions[0].position_id.clone(),
        sign_up_volunteers,
        records,
        next_identity: AtomicUsize::new(next_identity),
    })
}

/// CreateVolunteer's statements in one raw transaction on the registry's own schema and
/// connection settings (WAL, synchronous=NORMAL, one writer): what the storage engine gives
/// without gRPC, authorization or the service's rules.
async fn raw_sqlite_baseline(settings: &Settings) -> anyhow::Result<()> {
    let data_dir = tempfile::tempdir()?;
    let database = Database::open(
        &egret_runtime::config::DatabaseSettings::default(),
        data_dir.path(),
        "registry",
        egret_registry::migrations(),
    )
    .await?;
    let unit_id = egret_storage::new_id();
    let now = egret_storage::now_micros();
    let mut transaction = database.begin("bench", "xm").await?;
    sqlx::query(
        "INSERT INTO org_units (id, parent_id, path, tier, display_name, level, categories_json, \
         service_fields_json, service_themes_json, status, merged_into, origin_instance, version, \
         create_time, update_time) VALUES ($1, NULL, $2, 1, '总队', 4, '[]', '[]', '[]', 1, NULL, \
         'xm', 1, $3, $3)",
    )
    .bind(&unit_id)
    .bind(format!("/{unit_id}/"))
    .bind(now)
    .execute(transaction.conn())
    .await?;
    transaction.commit().await?;
    let database = Arc::new(database);
    let unit_id = Arc::new(unit_id);
    let channels = [Channel::from_static("http://127.0.0.1:1").connect_lazy()];
    let mut rates = Vec::new();
    for round in 0..settings.rounds {
        let database = database.clone();
        let unit_id = unit_id.clone();
        let run = closed_loop(
            &channels,
            CONCURRENCY,
            WRITES_AT_32,
            Load::Measured,
            move |_channel, index| {
                let database = database.clone();
                let unit_id = unit_id.clone();
                async move {
                    raw_create_volunteer(&database, &unit_id, round * WRITES_AT_32 + index)
                        .await
                        .map_err(|error| tonic::Status::internal(format!("{error:#}")))
                }
            },
        )
        .await?;
        rates.push(run.per_second);
    }
    println!(
        "raw SQLite transaction with CreateVolunteer's statements, c=32: {:.0} per second",
        median(rates)
    );
    Ok(())
}

async fn raw_create_volunteer(
    database: &Database,
    unit_id: &str,
    index: usize,
) -> anyhow::Result<()> {
    let id = egret_storage::new_id();
    let hash = format!("{index:064x}");
    let mut transaction = database.begin("bench", "xm").await?;
    let now = transaction.now();
    sqlx::query("SELECT id, parent_id, path, tier, status FROM org_units WHERE id = $1")
        .bind(unit_id)
        .fetch_optional(transaction.conn())
        .await?;
    sqlx::query("SELECT id FROM volunteers WHERE id_number_hash = $1")
        .bind(&hash)
        .fetch_optional(transaction.conn())
        .await?;
    let number: (i64,) = sqlx::query_as(
        "INSERT INTO number_counters (prefix, last_value) VALUES ($1, 1) \
         ON CONFLICT (prefix) DO UPDATE SET last_value = number_counters.last_value + 1 \
         RETURNING last_value",
    )
    .bind("V")
    .fetch_one(transaction.conn())
    .await?;
    sqlx::query(
        "INSERT INTO volunteers (id, volunteer_number, display_name, id_type, id_number_hash, \
         id_number_encrypted, id_number_masked, birth_date, gender, phone, email, skills_json, \
         service_fields_json, service_themes_json, availability_json, emergency_name, \
         emergency_relationship, emergency_phone, status, registering_org_unit_id, \
         origin_instance, version, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
    )
    .bind(&id)
    .bind(format!("V{:08}", number.0))
    .bind(format!("志愿者{index}"))
    .bind(1_i64)
    .bind(&hash)
    .bind(vec![0_u8; 46])
    .bind("350***********1234")
    .bind("1990-01-01")
    .bind(2_i64)
    .bind("139****0000")
    .bind("v@example.cn")
    .bind("[\"急救\"]")
    .bind("[]")
    .bind("[]")
    .bind("[]")
    .bind("")
    .bind("")
    .bind("")
    .bind(1_i64)
    .bind(unit_id)
    .bind("xm")
    .bind(1_i64)
    .bind(now)
    .bind(now)
    .execute(transaction.conn())
    .await?;
    sqlx::query(
        "SELECT m.id, m.org_unit_id, m.volunteer_id, m.is_primary FROM memberships m \
         WHERE m.volunteer_id = $1",
    )
    .bind(&id)
    .fetch_all(transaction.conn())
    .await?;
    sqlx::query(
        "INSERT INTO memberships (id, org_unit_id, volunteer_id, is_primary, state, joined_on, \
         ended_on, origin_instance, version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(egret_storage::new_id())
    .bind(unit_id)
    .bind(&id)
    .bind(1_i64)
    .bind(1_i64)
    .bind("2026-12-06")
    .bind("")
    .bind("xm")
    .bind(1_i64)
    .bind(now)
    .bind(now)
    .execute(transaction.conn())
    .await?;
    for resource in [format!("volunteers/{id}"), format!("memberships/{id}")] {
        use egret_sync::RecordChanges;
        transaction.record_with_changes(
            "egret.registry.v1.Volunteer",
            resource,
            egret_storage::changelog::Operation::Create,
            serde_json::json!({ "id": id, "display_name": "志愿者" }),
            Vec::new(),
            "",
        )?;
    }
    transaction.commit().await?;
    Ok(())
}

/// A bare tonic server with one unary method answering as many bytes as asked: the
/// baseline of what a gRPC call costs on this machine, with nothing behind it.
mod echo {
    use std::convert::Infallible;
    use std::task::{Context, Poll};

    use tonic::body::Body;
    use tonic::codegen::{BoxFuture, http};
    use tonic::server::{Grpc, NamedService, UnaryService};
    use tonic::transport::Channel;

    /// `bench.Echo/Echo`'s request.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EchoRequest {
        /// The size of the payload to answer.
        #[prost(uint32, tag = "1")]
        pub response_bytes: u32,
    }

    /// `bench.Echo/Echo`'s response.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EchoResponse {
        /// `response_bytes` bytes.
        #[prost(bytes = "vec", tag = "1")]
        pub payload: Vec<u8>,
    }

    const PATH: &str = "/bench.Echo/Echo";

    #[derive(Clone)]
    struct EchoServer;

    impl NamedService for EchoServer {
        const NAME: &'static str = "bench.Echo";
    }

    struct Unary;

    impl UnaryService<EchoRequest> for Unary {
        type Response = EchoResponse;
        type Future = BoxFuture<tonic::Response<EchoResponse>, tonic::Status>;

        fn call(&mut self, request: tonic::Request<EchoRequest>) -> Self::Future {
            let size = request.into_inner().response_bytes as usize;
            Box::pin(async move {
                Ok(tonic::Response::new(EchoResponse {
                    payload: vec![7; size.min(1 << 20)],
                }))
            })
        }
    }

    impl tower::Service<http::Request<Body>> for EchoServer {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = BoxFuture<Self::Response, Self::Error>;

        fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<Body>) -> Self::Future {
            Box::pin(async move {
                if request.uri().path() != PATH {
                    return Ok(
                        tonic::Status::unimplemented(request.uri().path().to_string()).into_http(),
                    );
                }
                let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(Unary, request).await)
            })
        }
    }

    /// Serves on an ephemeral port and prints `echo listening on ADDR`.
    pub fn serve() -> anyhow::Result<()> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                println!("echo listening on {}", listener.local_addr()?);
                tonic::transport::Server::builder()
                    .add_service(EchoServer)
                    .serve_with_incoming(
                        tonic::transport::server::TcpIncoming::from(listener)
                            .with_nodelay(Some(true)),
                    )
                    .await?;
                Ok(())
            })
    }

    /// One echo call answering `response_bytes` bytes.
    pub async fn call(channel: Channel, response_bytes: usize) -> Result<(), tonic::Status> {
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready()
            .await
            .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
        grpc.unary(
            tonic::Request::new(EchoRequest {
                response_bytes: u32::try_from(response_bytes).unwrap_or(u32::MAX),
            }),
            http::uri::PathAndQuery::from_static(PATH),
            tonic_prost::ProstCodec::<EchoRequest, EchoResponse>::default(),
        )
        .await
        .map(drop)
    }
}
