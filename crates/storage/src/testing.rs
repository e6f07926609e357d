//! Test support: a fresh PostgreSQL database per test, when `EGRET_TEST_POSTGRES_URL` is set.

use std::io::Write;
use std::str::FromStr;

use sqlx::Executor;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

/// The variable that switches PostgreSQL tests on, for example
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VARIABLE: &str = "EGRET_TEST_POSTGRES_URL";

/// A PostgreSQL database created for one test and dropped when this is dropped.
#[derive(Debug)]
pub struct FreshPostgres {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshPostgres {
    /// Creates a fresh database, or returns None (after saying so on stderr, so a skipped
    /// test never passes silently) when the variable is not set.
    pub async fn create(test_name: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VARIABLE) else {
            // Written to the real stderr, past the test harness's output capture, so that a
            // skipped PostgreSQL test is always seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (PostgreSQL): {test_name}: set {POSTGRES_URL_VARIABLE} to run it"
            );
            return None;
        };
        super::install_drivers();
        let name = format!("egret_test_{}", uuid::Uuid::new_v4().simple());
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect_with(
                AnyConnectOptions::from_str(&admin_url).expect("EGRET_TEST_POSTGRES_URL parses"),
            )
            .await
            .expect("EGRET_TEST_POSTGRES_URL connects");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("creating a test database");
        admin.close().await;
        let url = replace_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    /// The URL of the fresh database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Replaces the database part of a PostgreSQL URL.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

impl Drop for FreshPostgres {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside async context; a short-lived runtime on its own thread drops
        // the database so test runs do not pile up databases.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(options) = AnyConnectOptions::from_str(&admin_url) else {
                    return;
                };
                if let Ok(admin) = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Runs a service binary (`env!("CARGO_BIN_EXE_…")`) over a fresh data directory with
/// `environment`, expects it to refuse to start, and returns what it wrote to stderr.
pub fn refused_start(binary: &str, environment: &[(&str, &str)]) -> String {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let output = std::process::Command::new(binary)
        .env("EGRET__DATA_DIR", data_dir.path())
        .env("EGRET__LISTEN", "127.0.0.1:0")
        .envs(environment.iter().copied())
        .output()
        .expect("the binary runs");
    assert!(
        !output.status.success(),
        "{binary} started with {environment:?}"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "x"), "postgres://h/x");
    }
}
