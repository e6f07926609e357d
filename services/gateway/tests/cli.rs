//! The `egret` binary as a user runs it: `egret up` on a fresh data directory, health and
//! reflection, `egret token`, a call with that token, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use egret_proto::registry::v1 as pb;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const EGRET: &str = env!("CARGO_BIN_EXE_egret");

struct Running {
    child: Child,
    address: String,
    root: String,
    /// The first admin's one-time password, printed by the first start only.
    first_password: Option<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Starts `egret up` on a free port and reads its banner, which ends with the line that
/// tells how to get a token.
fn start(data_dir: &std::path::Path) -> Running {
    let child = Command::new(EGRET)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("EGRET__TELEMETRY__LOG_FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("egret starts");
    Running::from_banner(child)
}

impl Running {
    /// Reads the banner of a started `egret up`.
    fn from_banner(mut child: Child) -> Running {
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut address = String::new();
        let mut root = String::new();
        let mut first_password = None;
        loop {
            let line = lines.next().expect("a banner line").expect("utf-8");
            if let Some(rest) = line.strip_prefix("egret listening on ") {
                address = rest.trim().to_string();
            }
            if let Some(rest) = line.strip_prefix("root org unit: ") {
                root = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            if let Some(rest) =
                line.strip_prefix("first sign-in: username admin, one-time password ")
            {
                first_password = rest.split_whitespace().next().map(str::to_string);
            }
            if line.starts_with("a token for the root: ") {
                break;
            }
        }
        assert!(
            !address.is_empty() && root.starts_with("orgUnits/"),
            "banner: {address} {root}"
        );
        Running {
            child,
            address,
            root,
            first_password,
        }
    }
}

fn token(data_dir: &std::path::Path, role: &str) -> String {
    let output = Command::new(EGRET)
        .args(["token", "--role", role, "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("egret token runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

#[tokio::test]
async fn egret_up_serves_and_stops_cleanly() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut running = start(data_dir.path());
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", running.address))
        .expect("uri")
        .connect()
        .await
        .expect("connects");

    // The gateway reports the instance once it has heard from every service: a probe
    // waits for it.
    for service in [
        "",
        "registry",
        "egret.registry.v1.OrgUnitService",
        "egret.activity.v1.ActivityService",
        "egret.recognition.v1.StarRatingService",
        "reporting",
    ] {
        let mut status = 0;
        for _ in 0..100 {
            status = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: service.to_string(),
                })
                .await
                .expect("health")
                .into_inner()
                .status;
            if status == ServingStatus::Serving as i32 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }

    let token = token(data_dir.path(), "admin");
    let mut request = tonic::Request::new(pb::GetOrgUnitRequest {
        name: running.root.clone(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    let unit = pb::org_unit_service_client::OrgUnitServiceClient::new(channel.clone())
        .get_org_unit(request)
        .await
        .expect("the token works")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(unit.display_name, "厦门市巾帼志愿服务总队");

    // A person signs in with the printed one-time password, after changing it.
    let first_password = running
        .first_password
        .clone()
        .expect("the first start prints the admin's one-time password");
    let mut auth =
        egret_proto::gateway::v1::auth_service_client::AuthServiceClient::new(channel.clone());
    auth.change_password(egret_proto::gateway::v1::ChangePasswordRequest {
        username: "admin".to_string(),
        current_password: first_password,
        new_password: "a-password-of-my-own".to_string(),
    })
    .await
    .expect("changes the one-time password");
    let session = auth
        .sign_in(egret_proto::gateway::v1::SignInRequest {
            username: "admin".to_string(),
            password: "a-password-of-my-own".to_string(),
        })
        .await
        .expect("signs in")
        .into_inner()
        .session
        .expect("session");
    let mut request = tonic::Request::new(pb::GetOrgUnitRequest {
        name: running.root.clone(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", session.access_token)
            .parse()
            .expect("ascii"),
    );
    pb::org_unit_service_client::OrgUnitServiceClient::new(channel.clone())
        .get_org_unit(request)
        .await
        .expect("the access token works");

    let terminated = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let mut status = None;
    for _ in 0..100 {
        if let Some(exit) = running.child.try_wait().expect("wait") {
            status = Some(exit);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.expect("egret stops within ten seconds of SIGTERM");
    assert!(status.success(), "{status:?}");

    // The second start finds the same root and keys, and makes no second admin.
    let again = start(data_dir.path());
    assert_eq!(again.root, running.root);
    assert_eq!(again.first_password, None);
}

#[test]
fn bad_configuration_names_the_key() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(EGRET)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env("EGRET__SERVER__CONCURRENCY_LIMIT", "0")
        .output()
        .expect("egret runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.concurrency_limit"), "{stderr}");

    let output = Command::new(EGRET)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env("EGRET__RECOGNITION__RULE_SET", "Xia Men")
        .output()
        .expect("egret runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("recognition.rule_set"), "{stderr}");

    let output = Command::new(EGRET)
        .args(["token", "--role", "root", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .expect("egret runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown role"));

    for (flag, value) in [
        ("--org", "orgUnits/01a2249c-0000-7000-8000-000000000000"),
        (
            "--volunteer",
            "volunteers/01a2249c-0000-7000-8000-000000000000",
        ),
    ] {
        let output = Command::new(EGRET)
            .args(["token", "--role", "volunteer", flag, value, "--data-dir"])
            .arg(data_dir.path())
            .output()
            .expect("egret runs");
        assert!(!output.status.success(), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("does not exist"), "{flag}: {stderr}");
    }
}

#[test]
fn help_explains_every_flag() {
    let output = Command::new(EGRET)
        .args(["up", "--help"])
        .output()
        .expect("egret runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["--data-dir", "--listen", "--config"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    let output = Command::new(EGRET)
        .args(["token", "--help"])
        .output()
        .expect("egret runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["--org", "--role", "--volunteer", "--ttl", "--subject"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

#[test]
fn the_reference_configuration_loads() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/egret.toml");
    let config: egret_gateway::EgretConfig =
        egret_runtime::config::load(Some(&file), &[]).expect("deploy/egret.toml is valid");
    assert_eq!(config.common.instance.id, "xm");
    assert_eq!(
        config.registry.volunteer_number_scheme,
        "{instance}V{seq:8}"
    );
}

/// One TCP socket of another process: its two ends and whether `TCP_NODELAY` is set.
#[derive(Debug)]
struct SocketOfProcess {
    local: std::net::SocketAddr,
    peer: std::net::SocketAddr,
    nodelay: bool,
}

/// The connected TCP sockets of process `pid`, read through duplicates of its descriptors
/// (pidfd_getfd), so the options are the ones the process set, not ones a client sees.
fn connected_sockets(pid: u32) -> Vec<SocketOfProcess> {
    let pid_number = i32::try_from(pid).expect("pid fits");
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid_number).expect("a pid is not zero"),
        rustix::process::PidfdFlags::empty(),
    )
    .expect("pidfd_open");
    let mut sockets = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("/proc is readable") {
        let entry = entry.expect("fd entry");
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Some(target_fd) = entry.file_name().to_str().and_then(|fd| fd.parse().ok()) else {
            continue;
        };
        if !is_socket {
            continue;
        }
        let Ok(fd) = rustix::process::pidfd_getfd(
            &pidfd,
            target_fd,
            rustix::process::PidfdGetfdFlags::empty(),
        ) else {
            continue;
        };
        let local = rustix::net::getsockname(&fd)
            .ok()
            .and_then(|address| std::net::SocketAddr::try_from(address).ok());
        let peer = rustix::net::getpeername(&fd)
            .ok()
            .flatten()
            .and_then(|address| std::net::SocketAddr::try_from(address).ok());
        let (Some(local), Some(peer)) = (local, peer) else {
            continue;
        };
        let Ok(nodelay) = rustix::net::sockopt::tcp_nodelay(&fd) else {
            continue;
        };
        sockets.push(SocketOfProcess {
            local,
            peer,
            nodelay,
        });
    }
    sockets
}

/// Nagle's algorithm meeting a delayed ACK costs ~40 ms per call: every connection the
/// gateway accepts, its links to the services and the services' links to each other must
/// have `TCP_NODELAY`.
#[tokio::test]
async fn every_connection_of_egret_up_sets_tcp_nodelay() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let running = start(data_dir.path());
    let listen: std::net::SocketAddr = running.address.parse().expect("socket address");
    let channel = tonic::transport::Channel::from_shared(format!("http://{listen}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health");

    // The gateway's links to the services and the services' links to each other run
    // between loopback sockets behind the instance's address; they connect on the first
    // health check and the first poll of the registry's change log. A client socket gets
    // TCP_NODELAY just after its connect completes, so a link caught in that instant looks
    // bare: only a socket still without it a moment later fails.
    let mut sockets = Vec::new();
    for _ in 0..100 {
        sockets = connected_sockets(running.child.id());
        let accepted = sockets
            .iter()
            .filter(|socket| socket.local == listen)
            .count();
        let behind = sockets
            .iter()
            .filter(|socket| socket.local != listen && socket.peer != listen)
            .count();
        if accepted >= 1 && behind >= 4 && sockets.iter().all(|socket| socket.nodelay) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        sockets.iter().any(|socket| socket.local == listen),
        "the test's connection is accepted: {sockets:?}"
    );
    assert!(
        sockets
            .iter()
            .filter(|socket| socket.local != listen && socket.peer != listen)
            .count()
            >= 4,
        "links behind the gateway are open: {sockets:?}"
    );
    for socket in &sockets {
        assert!(socket.nodelay, "TCP_NODELAY is off on {socket:?}");
    }
    drop(channel);
}

/// Logs go to stderr, and a redirected stderr gets no colour escape codes.
#[tokio::test]
async fn logs_written_to_a_file_have_no_colour_codes() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let log_path = data_dir.path().join("egret.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let mut child = Command::new(EGRET)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path().join("data"))
        .env("EGRET__TELEMETRY__LOG_FILTER", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .expect("egret starts");
    // Kept open until egret is stopped: the banner is several lines, and a closed pipe
    // would make printing the rest of it fail before egret serves.
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let banner = stdout.next().expect("a banner line").expect("utf-8");
    assert!(banner.starts_with("egret listening on "), "{banner}");
    let mut log = String::new();
    for _ in 0..100 {
        log = std::fs::read_to_string(&log_path).expect("log readable");
        if log.contains("serving grpc") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(stdout);
    assert!(log.contains("serving grpc"), "the log is on stderr: {log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log file: {log:?}"
    );
}

fn egret(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(EGRET)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("EGRET__TELEMETRY__LOG_FILTER", "warn")
        .output()
        .expect("egret runs")
}

/// `egret account …` manages the same accounts from the shell.
#[test]
fn accounts_are_managed_from_the_shell() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let created = egret(
        data_dir.path(),
        &[
            "account",
            "create",
            "--username",
            "li.na",
            "--display-name",
            "李娜",
            "--role",
            "staff",
        ],
    );
    let stdout = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        stdout.contains("li.na (李娜)") && stdout.contains("staff active"),
        "{stdout}"
    );
    let password = stdout
        .lines()
        .find_map(|line| line.strip_prefix("one-time password: "))
        .expect("a one-time password");
    assert_eq!(password.len(), 16);

    let listed = egret(data_dir.path(), &["account", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("li.na"));

    let disabled = egret(data_dir.path(), &["account", "disable", "li.na"]);
    assert!(String::from_utf8_lossy(&disabled.stdout).ends_with("disabled\n"));
    let enabled = egret(data_dir.path(), &["account", "enable", "LI.NA"]);
    assert!(String::from_utf8_lossy(&enabled.stdout).ends_with("active\n"));
    let reset = egret(data_dir.path(), &["account", "reset-password", "li.na"]);
    let reset = String::from_utf8_lossy(&reset.stdout).to_string();
    assert!(
        reset.contains("one-time password: ") && !reset.contains(password),
        "{reset}"
    );

    for (args, says) in [
        (
            vec![
                "account",
                "create",
                "--username",
                "li.na",
                "--display-name",
                "x",
                "--role",
                "viewer",
            ],
            "already exists",
        ),
        (
            vec![
                "account",
                "create",
                "--username",
                "x",
                "--display-name",
                "x",
                "--role",
                "viewer",
            ],
            "--username",
        ),
        (
            vec![
                "account",
                "create",
                "--username",
                "bot",
                "--display-name",
                "x",
                "--role",
                "sync",
            ],
            "sync role",
        ),
        (vec!["account", "disable", "nobody"], "no account"),
    ] {
        let output = egret(data_dir.path(), &args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The README's tiers walk-through: a city, a unit for the district, `egret enrollment
/// create`, and a district `egret up` that takes the unit as its root; then revocation.
#[tokio::test]
async fn a_district_enrolls_from_the_shell() {
    let city_dir = tempfile::tempdir().expect("tempdir");
    let city = start(city_dir.path());
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", city.address))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let admin = token(city_dir.path(), "admin");
    let mut request = tonic::Request::new(pb::CreateOrgUnitRequest {
        parent: city.root.clone(),
        org_unit: Some(pb::OrgUnit {
            tier: pb::Tier::Team as i32,
            display_name: "思明区妇联".to_string(),
            level: pb::TeamLevel::District as i32,
            ..Default::default()
        }),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {admin}").parse().expect("ascii"),
    );
    let unit = pb::org_unit_service_client::OrgUnitServiceClient::new(channel)
        .create_org_unit(request)
        .await
        .expect("the district's unit")
        .into_inner()
        .org_unit
        .expect("unit")
        .name;

    for (args, says) in [
        (
            vec!["--instance-id", "xm-siming", "--org", city.root.as_str()],
            "root unit",
        ),
        (
            vec!["--instance-id", "Siming", "--org", unit.as_str()],
            "lowercase",
        ),
        (
            vec!["--instance-id", "xm-siming", "--org", "orgUnits/nope"],
            "does not exist",
        ),
    ] {
        let mut full = vec!["enrollment", "create"];
        full.extend(args);
        let refused = egret(city_dir.path(), &full);
        assert!(!refused.status.success(), "{full:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(says), "{full:?}: {stderr}");
    }
    let created = egret(
        city_dir.path(),
        &[
            "enrollment",
            "create",
            "--instance-id",
            "xm-siming",
            "--org",
            &unit,
        ],
    );
    let stdout = String::from_utf8_lossy(&created.stdout).to_string();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let credential = stdout
        .lines()
        .find(|line| line.starts_with("egret-enrollment."))
        .expect("the credential")
        .to_string();
    let listed = egret(city_dir.path(), &["enrollment", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("enrollments/xm-siming"));

    let district_dir = tempfile::tempdir().expect("tempdir");
    let district = Command::new(EGRET)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(district_dir.path())
        .env("EGRET__TELEMETRY__LOG_FILTER", "warn")
        .env("EGRET__INSTANCE__ID", "xm-siming")
        .env("EGRET__INSTANCE__TIER", "district")
        .env(
            "EGRET__INSTANCE__UPSTREAM",
            format!("http://{}", city.address),
        )
        .env("EGRET__INSTANCE__ENROLLMENT", &credential)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("egret starts");
    let mut district = Running::from_banner(district);
    assert_eq!(
        district.root, unit,
        "the district's root is the enrolled unit"
    );
    let _ = district.child.kill();
    let _ = district.child.wait();

    let revoked = egret(city_dir.path(), &["enrollment", "revoke", "xm-siming"]);
    assert!(String::from_utf8_lossy(&revoked.stdout).ends_with("revoked\n"));
    let refused = Command::new(EGRET)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(district_dir.path())
        .env("EGRET__INSTANCE__ID", "xm-siming")
        .env("EGRET__INSTANCE__TIER", "district")
        .env(
            "EGRET__INSTANCE__UPSTREAM",
            format!("http://{}", city.address),
        )
        .env("EGRET__INSTANCE__ENROLLMENT", &credential)
        .output()
        .expect("egret runs");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refused the enrollment") && stderr.contains("revoked"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&credential),
        "the credential is never printed"
    );

    // A district without its credential names the key.
    let output = Command::new(EGRET)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(district_dir.path())
        .env("EGRET__INSTANCE__ID", "xm-siming")
        .env("EGRET__INSTANCE__TIER", "district")
        .env(
            "EGRET__INSTANCE__UPSTREAM",
            format!("http://{}", city.address),
        )
        .output()
        .expect("egret runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("instance.enrollment"));
}
