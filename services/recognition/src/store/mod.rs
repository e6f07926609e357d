//! The recognition service's SQL, portable between SQLite and PostgreSQL.

pub mod benefits;
pub mod certificates;
pub mod commendations;
pub mod ledger;
pub mod replica;
pub mod rules;
pub mod stars;
pub mod team_stars;

/// The migrations of the recognition service's tables.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
/// The migrations of the recognition service's tables.
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
