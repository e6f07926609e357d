//! An instance as production runs it: the four service binaries and `egret-gateway`, each
//! an operating-system process on its own port, sharing one data directory (the keys) and
//! one database (a schema or a SQLite file per service).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The processes of an instance, in the order they start.
pub const PROCESSES: [&str; 5] = [
    "registry",
    "activity",
    "recognition",
    "reporting",
    "gateway",
];

/// Running processes, each restartable on its own port.
pub struct Processes {
    bin_dir: PathBuf,
    ports: BTreeMap<&'static str, u16>,
    common_env: Vec<(String, String)>,
    children: BTreeMap<&'static str, Child>,
    /// The lines each process printed after it said where it listens.
    printed: BTreeMap<&'static str, mpsc::Receiver<String>>,
}

/// Where cargo put the binaries: beside the `deps` directory this test runs from.
/// `cargo test --workspace` builds them first; `cargo test -p egret-tests` alone does not,
/// so run `cargo build --bins` before it after changing a service.
fn bin_dir() -> PathBuf {
    bin_dir_of(
        &PROCESSES
            .map(|name| format!("egret-{name}"))
            .each_ref()
            .map(String::as_str),
    )
}

/// The directory of the binaries `names`, checked to be there.
pub(crate) fn bin_dir_of(names: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let deps = exe.parent().expect("deps directory");
    let dir = if deps.ends_with("deps") {
        deps.parent().expect("profile directory").to_path_buf()
    } else {
        deps.to_path_buf()
    };
    for name in names {
        let binary = dir.join(name);
        assert!(
            binary.exists(),
            "{} is missing: `cargo test --workspace` builds it (or `cargo build --bins`)",
            binary.display()
        );
    }
    dir
}

/// A free loopback port. The port is picked before the processes start because services
/// name each other's addresses in their configuration.
///
/// It comes from below the kernel's ephemeral range: a port there (which is where
/// `bind(0)` picks) can be taken by any outgoing connection, a database pool's or a
/// client's, between being picked and being bound, and the process then fails to start.
/// Below the range only a listener can take it.
pub(crate) fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU32, Ordering};
    // Ports this test process handed out are not handed out again, even once they are free.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768)
        .clamp(2_048, 65_535);
    let (low, span) = (ephemeral_low / 2, ephemeral_low - ephemeral_low / 2);
    // Test processes start their walk at different places, so that two test binaries
    // rarely try the same ports.
    static START: std::sync::LazyLock<u32> =
        std::sync::LazyLock::new(|| RandomState::new().hash_one(std::process::id()) as u32);
    let start = *START;
    loop {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(step < span, "no free port below the ephemeral range");
        let port = u16::try_from(low + start.wrapping_add(step) % span).expect("a port");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Processes {
    /// Starts every process over `data_dir` and `database_url` (empty for SQLite files
    /// under the data directory), and returns once each says where it listens.
    pub fn start(data_dir: &Path, database_url: &str) -> Self {
        let ports = PROCESSES.iter().map(|name| (*name, free_port())).collect();
        let mut processes = Self {
            bin_dir: bin_dir(),
            ports,
            common_env: vec![
                ("EGRET__DATA_DIR".into(), data_dir.display().to_string()),
                ("EGRET__DATABASE__URL".into(), database_url.to_string()),
                ("EGRET__DATABASE__MAX_CONNECTIONS".into(), "4".into()),
                ("EGRET__SERVER__DRAIN_TIMEOUT".into(), "2s".into()),
                ("EGRET__TELEMETRY__LOG_FILTER".into(), "warn".into()),
                ("EGRET__GATEWAY__HEALTH_INTERVAL".into(), "200ms".into()),
            ],
            children: BTreeMap::new(),
            printed: BTreeMap::new(),
        };
        for name in PROCESSES {
            processes.launch(name);
        }
        processes
    }

    /// The address of process `name`.
    pub fn address(&self, name: &str) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[name]))
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}", self.address(name))
    }

    /// The environment that tells process `name` where the others are.
    fn peers(&self, name: &str) -> Vec<(String, String)> {
        let keys: &[(&str, &str)] = match name {
            "activity" => &[("EGRET__ACTIVITY__REGISTRY_ADDRESS", "registry")],
            "recognition" => &[
                ("EGRET__RECOGNITION__REGISTRY_ADDRESS", "registry"),
                ("EGRET__RECOGNITION__ACTIVITY_ADDRESS", "activity"),
                ("EGRET__RECOGNITION__REPORTING_ADDRESS", "reporting"),
            ],
            "reporting" => &[
                ("EGRET__REPORTING__REGISTRY_ADDRESS", "registry"),
                ("EGRET__REPORTING__ACTIVITY_ADDRESS", "activity"),
                ("EGRET__REPORTING__RECOGNITION_ADDRESS", "recognition"),
            ],
            "gateway" => &[
                ("EGRET__GATEWAY__SERVICES__REGISTRY", "registry"),
                ("EGRET__GATEWAY__SERVICES__ACTIVITY", "activity"),
                ("EGRET__GATEWAY__SERVICES__RECOGNITION", "recognition"),
                ("EGRET__GATEWAY__SERVICES__REPORTING", "reporting"),
            ],
            _ => &[],
        };
        keys.iter()
            .map(|(key, peer)| ((*key).to_string(), self.url(peer)))
            .collect()
    }

    fn launch(&mut self, name: &'static str) {
        let mut child = Command::new(self.bin_dir.join(format!("egret-{name}")))
            .envs(self.common_env.iter().cloned())
            .envs(self.peers(name))
            .env("EGRET__LISTEN", self.address(name).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("egret-{name} starts: {error}"));
        // A thread reads stdout to its end, so the pipe never fills, and hands over the line
        // that says where the process listens.
        let stdout = child.stdout.take().expect("stdout");
        let (listening, heard) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let _ = listening.send(line);
            }
        });
        match heard.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => assert!(
                line.contains(" listening on ") && line.ends_with(&self.address(name).to_string()),
                "egret-{name}: {line}"
            ),
            Err(_) => {
                let _ = child.kill();
                let exit = child.wait().ok();
                panic!("egret-{name} did not say it listens within a minute (exit: {exit:?})");
            }
        }
        self.children.insert(name, child);
        self.printed.insert(name, heard);
    }

    /// The next line process `name` prints, waiting up to `wait`.
    pub fn next_line(&self, name: &str, wait: Duration) -> Option<String> {
        self.printed.get(name)?.recv_timeout(wait).ok()
    }

    /// Kills process `name` without warning (SIGKILL), as a crash would.
    pub fn kill(&mut self, name: &str) {
        if let Some(mut child) = self.children.remove(name) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts process `name` again on its port.
    pub fn restart(&mut self, name: &'static str) {
        self.kill(name);
        self.launch(name);
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
