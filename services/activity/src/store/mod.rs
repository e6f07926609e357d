//! The activity service's SQL, portable between SQLite and PostgreSQL.

pub mod activities;
pub mod attendance;
pub mod evaluations;
pub mod insurance;
pub mod projects;
pub mod sign_ups;
pub mod training;
pub mod volunteers;

/// The migrations of the activity service's tables.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
/// The migrations of the activity service's tables.
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
