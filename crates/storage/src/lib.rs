//! Shared storage of Egret services.
//!
//! One code path for both databases: sqlx's `Any` driver with `$1` placeholders, which
//! SQLite and PostgreSQL both accept, and only portable column types (TEXT, BIGINT, BLOB/
//! BYTEA; times as microseconds since the epoch; flags as 0/1).
//!
//! Each service owns its tables: on SQLite a file of its own under the data directory, on
//! PostgreSQL a schema of its own. Every write goes through a [`WriteTx`], which appends the
//! change log as the transaction's last statement, so data and log commit together.

pub mod changelog;
mod error;
pub mod ordering;
pub mod rows;
pub mod testing;

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;

use anyhow::Context;
use egret_runtime::config::DatabaseSettings;
use egret_runtime::{ApiError, Bilingual};
use egret_types::Meta;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use changelog::{ChangeDraft, FieldChange, Operation, StoredChange};
pub use error::convert_sqlx_err;
pub use ordering::{Ordering, SortField, SortKind};

/// Migrations of the tables every service has (change log, idempotency keys). Versions
/// below 100; each service numbers its own from 100 up.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database engine is behind the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (the default).
    Sqlite,
    /// PostgreSQL (production).
    Postgres,
}

/// A service's pair of migrators, one per engine.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    /// For SQLite.
    pub sqlite: &'static Migrator,
    /// For PostgreSQL.
    pub postgres: &'static Migrator,
}

/// A service's database: a pool for reads and one for writes.
///
/// On SQLite the write pool has one connection: SQLite allows one writer at a time, and
/// queueing writers in the pool (instead of in SQLite's busy handler) means a transaction
/// never fails half-way because another one upgraded its lock first.
#[derive(Debug, Clone)]
pub struct Database {
    reader: AnyPool,
    writer: AnyPool,
    backend: Backend,
}

pub use egret_types::now_micros;

/// A fresh globally unique, time-ordered id (UUIDv7): keyset pagination by id lists records
/// in creation order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn install_drivers() {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

fn is_valid_schema_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Database {
    /// Connects `service` (a short lowercase name such as `registry`) to its database and
    /// runs the shared and the service's migrations.
    pub async fn open(
        settings: &DatabaseSettings,
        data_dir: &Path,
        service: &str,
        migrations: Migrations,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            is_valid_schema_name(service),
            "service name {service:?} is not a valid schema name"
        );
        install_drivers();
        let url = settings.url.trim();
        let database = if url.is_empty() || url.starts_with("sqlite:") {
            Self::open_sqlite(settings, data_dir, service).await?
        } else {
            Self::open_postgres(settings, url, service).await?
        };
        database.migrate(migrations).await?;
        Ok(database)
    }

    async fn open_sqlite(
        settings: &DatabaseSettings,
        data_dir: &Path,
        service: &str,
    ) -> anyhow::Result<Self> {
        let url = settings.url.trim();
        let path = if url.is_empty() {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating data directory {}", data_dir.display()))?;
            data_dir.join(format!("{service}.db"))
        } else {
            // `sqlite://DIR` names a directory that holds one file per service.
            let directory = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            std::fs::create_dir_all(directory)
                .with_context(|| format!("creating sqlite directory {directory}"))?;
            Path::new(directory).join(format!("{service}.db"))
        };
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("parsing sqlite path {}", path.display()))?;
        let pool_options = || {
            AnyPoolOptions::new()
                .acquire_timeout(settings.acquire_timeout)
                .after_connect(|connection, _meta| {
                    Box::pin(async move {
                        // Reads map the file instead of a read(2) per page (a lookup
                        // touching pages outside the connection's cache was mostly system
                        // time); temporary sorts stay in memory.
                        connection
                            .execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                                 PRAGMA mmap_size = 268435456; PRAGMA temp_store = MEMORY;",
                            )
                            .await?;
                        Ok(())
                    })
                })
        };
        let writer = pool_options()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let reader = pool_options()
            .max_connections(settings.max_connections)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Self {
            reader,
            writer,
            backend: Backend::Sqlite,
        })
    }

    async fn open_postgres(
        settings: &DatabaseSettings,
        url: &str,
        service: &str,
    ) -> anyhow::Result<Self> {
        let options = AnyConnectOptions::from_str(url).context("parsing database.url")?;
        let bootstrap = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.clone())
            .await
            .context("connecting to PostgreSQL (database.url)")?;
        // Two services starting at once may race to create their schemas; IF NOT EXISTS
        // can still fail on that race, so a second look decides.
        let create = format!("CREATE SCHEMA IF NOT EXISTS {service}");
        if let Err(error) = bootstrap.execute(create.as_str()).await {
            let exists: Option<(String,)> = sqlx::query_as(
                "SELECT schema_name::text FROM information_schema.schemata WHERE schema_name = $1",
            )
            .bind(service)
            .fetch_optional(&bootstrap)
            .await?;
            if exists.is_none() {
                return Err(error).context("creating the service's schema");
            }
        }
        bootstrap.close().await;
        let search_path = format!("SET search_path TO {service}");
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |connection, _meta| {
                let search_path = search_path.clone();
                Box::pin(async move {
                    connection.execute(search_path.as_str()).await?;
                    // Egret's queries are short or read rollups: LLVM compilation cost more
                    // than it saved (the reporting benchmark's insured-volunteers query spent
                    // 357 of 465 ms compiling).
                    connection.execute("SET jit = off").await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL (database.url)")?;
        Ok(Self {
            reader: pool.clone(),
            writer: pool,
            backend: Backend::Postgres,
        })
    }

    async fn migrate(&self, migrations: Migrations) -> anyhow::Result<()> {
        let (shared, own) = match self.backend {
            Backend::Sqlite => (&SQLITE_MIGRATIONS, migrations.sqlite),
            Backend::Postgres => (&POSTGRES_MIGRATIONS, migrations.postgres),
        };
        for migrator in [shared, own] {
            let mut migrator = Migrator {
                migrations: migrator.migrations.clone(),
                ..Migrator::DEFAULT
            };
            // The shared and the service's migrations live in one history table with
            // disjoint version ranges; each run must tolerate the other's entries.
            migrator.set_ignore_missing(true);
            migrator
                .run(&self.writer)
                .await
                .context("running database migrations")?;
        }
        Ok(())
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// Starts a writing transaction. Its changes reach the change log on
    /// [`WriteTx::commit`].
    pub async fn begin(&self, actor: &str, origin: &str) -> Result<WriteTx, ApiError> {
        let transaction = self
            .writer
            .begin()
            .await
            .map_err(|error| convert_sqlx_err(error, "transaction"))?;
        Ok(WriteTx {
            transaction,
            changes: Vec::new(),
            actor: actor.to_string(),
            origin: origin.to_string(),
            now: now_micros(),
        })
    }

    /// Closes both pools, waiting for connections to be returned.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// A writing transaction that records what it changes and appends those changes to the
/// change log in the same commit.
pub struct WriteTx {
    transaction: Transaction<'static, Any>,
    changes: Vec<ChangeDraft>,
    actor: String,
    origin: String,
    now: i64,
}

impl WriteTx {
    /// The connection, for the service's own statements.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.transaction
    }

    /// The transaction's timestamp (microseconds), the same for every row it writes.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The principal making the change.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The instance the change is made on.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Makes the changes this transaction records carry `origin`: a copy of another
    /// instance's record is logged as its owner logged it.
    pub fn set_origin(&mut self, origin: &str) {
        origin.clone_into(&mut self.origin);
    }

    /// Records a change, appended to the change log on commit.
    pub fn record(&mut self, change: ChangeDraft) {
        self.changes.push(change);
    }

    /// Bookkeeping for a record this transaction creates: made here, version 1, now.
    pub fn new_meta(&self) -> Meta {
        Meta {
            origin_instance: self.origin.clone(),
            version: 1,
            create_time: self.now,
            update_time: self.now,
        }
    }

    /// Claims a request id for `method`. Returns the resource name the first request made
    /// when the id was used before (the caller then answers with that resource), or None
    /// when this request is the first; call [`finish_request`](Self::finish_request) with
    /// the created resource's name before committing.
    pub async fn claim_request(
        &mut self,
        method: &str,
        request_id: &str,
    ) -> Result<Option<String>, ApiError> {
        if request_id.is_empty() {
            return Ok(None);
        }
        // ON CONFLICT DO NOTHING, not a plain insert: on PostgreSQL a concurrent request
        // with the same id makes this statement wait until that request commits; it then
        // inserts nothing, and the read below (a new statement, so a new snapshot under READ
        // COMMITTED) sees what the first request made.
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (request_id, method, resource_name, create_time) \
             VALUES ($1, $2, '', $3) ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(request_id)
        .bind(method)
        .bind(self.now)
        .execute(&mut *self.transaction)
        .await
        .map_err(|error| convert_sqlx_err(error, "request"))?;
        if inserted.rows_affected() == 1 {
            return Ok(None);
        }
        let (used_by, resource_name): (String, String) = sqlx::query_as(
            "SELECT method, resource_name FROM idempotency_keys WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_one(&mut *self.transaction)
        .await
        .map_err(|error| convert_sqlx_err(error, "request"))?;
        if used_by != method {
            return Err(ApiError::invalid(
                "request_id",
                format!("was already used for {used_by}; use a fresh id for each request"),
                format!("该请求编号已用于 {used_by}，每个请求请使用新的编号"),
            ));
        }
        Ok(Some(resource_name))
    }

    /// Remembers what a claimed request created.
    pub async fn finish_request(
        &mut self,
        request_id: &str,
        resource_name: &str,
    ) -> Result<(), ApiError> {
        if request_id.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE idempotency_keys SET resource_name = $2 WHERE request_id = $1")
            .bind(request_id)
            .bind(resource_name)
            .execute(&mut *self.transaction)
            .await
            .map_err(|error| convert_sqlx_err(error, "request"))?;
        Ok(())
    }

    /// Appends the recorded changes to the change log and commits. Returns the last
    /// sequence number written (0 when nothing was recorded).
    pub async fn commit(mut self) -> Result<i64, ApiError> {
        let last_sequence = changelog::append(
            &mut self.transaction,
            &self.actor,
            &self.origin,
            self.now,
            &self.changes,
        )
        .await?;
        self.transaction
            .commit()
            .await
            .map_err(|error| convert_sqlx_err(error, "transaction"))?;
        Ok(last_sequence)
    }
}

/// Checks an optimistic version: 0 means the caller does not care.
pub fn check_version(resource: &str, expected: i64, actual: i64) -> Result<(), ApiError> {
    if expected != 0 && expected != actual {
        return Err(ApiError::version_conflict(resource, expected, actual));
    }
    Ok(())
}

/// Marks a record's version and time for an update.
pub fn touch(meta: &mut Meta, now: i64) {
    meta.version += 1;
    meta.update_time = now;
}

/// Refuses changes to a record made on another instance: only the origin
/// changes a record; above it the record is read-only.
pub fn ensure_origin(meta: &Meta, instance_id: &str, resource: &str) -> Result<(), ApiError> {
    if meta.origin_instance == instance_id {
        return Ok(());
    }
    Err(ApiError::failed_precondition(
        format!(
            "{resource} belongs to instance {}; change it there",
            meta.origin_instance
        ),
        format!(
            "{resource} 属于实例 {}，只能在该实例修改",
            meta.origin_instance
        ),
    ))
}

/// The answer when a conditional update found the record changed under it.
pub fn changed_concurrently(resource: &str) -> ApiError {
    ApiError::Aborted(Bilingual::new(
        format!("{resource} was changed by someone else at the same time; read it again and retry"),
        format!("{resource} 已被他人同时修改，请刷新后重试"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered() {
        let first = new_id();
        let second = new_id();
        assert!(first < second, "{first} < {second}");
    }

    #[test]
    fn schema_names_are_checked() {
        assert!(is_valid_schema_name("registry"));
        assert!(!is_valid_schema_name("registry; drop"));
        assert!(!is_valid_schema_name(""));
    }
}
