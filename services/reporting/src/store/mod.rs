//! The reporting service's SQL, portable between SQLite and PostgreSQL.

pub mod annual;
pub mod exports;
pub mod replica;
pub mod stats;
pub mod tallies;
pub mod targets;

/// The migrations of the reporting service's tables.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
/// The migrations of the reporting service's tables.
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
