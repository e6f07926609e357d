//! Mapping database errors onto the closed error table.

use egret_runtime::{ApiError, Bilingual};

/// Maps a sqlx error: a unique violation means the resource exists already, a foreign-key
/// violation that something it refers to does not exist, an exhausted pool that the
/// service is overloaded; everything else is internal (logged, never shown).
pub fn convert_sqlx_err(error: sqlx::Error, resource: &str) -> ApiError {
    match &error {
        sqlx::Error::Database(database_error) => match database_error.kind() {
            sqlx::error::ErrorKind::UniqueViolation => ApiError::AlreadyExists {
                resource: resource.to_string(),
                reason: Bilingual::new(
                    "a record with the same unique key exists",
                    "已存在相同唯一标识的记录",
                ),
            },
            sqlx::error::ErrorKind::ForeignKeyViolation => {
                ApiError::NotFound(format!("a record that {resource} refers to"))
            }
            _ => {
                ApiError::Internal(anyhow::Error::new(error).context(format!("writing {resource}")))
            }
        },
        sqlx::Error::RowNotFound => ApiError::NotFound(resource.to_string()),
        sqlx::Error::PoolTimedOut => ApiError::ResourceExhausted(Bilingual::new(
            "the database is busy; retry with backoff",
            "数据库繁忙，请稍后重试",
        )),
        sqlx::Error::PoolClosed => ApiError::Unavailable(Bilingual::new(
            "the database is shutting down",
            "数据库正在关闭",
        )),
        _ => ApiError::Internal(anyhow::Error::new(error).context(format!("accessing {resource}"))),
    }
}
