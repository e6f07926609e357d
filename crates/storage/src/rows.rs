//! Reading and writing columns the same way in every service: typed columns, JSON lists,
//! ISO dates and the bookkeeping columns every record table has.

use egret_runtime::ApiError;
use egret_types::{CivilDate, Meta};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::convert_sqlx_err;

/// A row that does not decode is a bug or a damaged database, not a user error.
pub fn corrupt(what: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("corrupt row: {what}"))
}

/// A typed column.
pub fn column<T>(row: &AnyRow, name: &str) -> Result<T, ApiError>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(name)
        .map_err(|error| corrupt(format!("column {name}: {error}")))
}

/// A column holding JSON.
pub fn json_column<T: DeserializeOwned>(row: &AnyRow, name: &str) -> Result<T, ApiError> {
    let text: String = column(row, name)?;
    serde_json::from_str(&text).map_err(|error| corrupt(format!("column {name}: {error}")))
}

/// A value as stored JSON.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("stored values serialize")
}

/// A column holding an ISO date, or '' for none.
pub fn date_column(row: &AnyRow, name: &str) -> Result<Option<CivilDate>, ApiError> {
    let text: String = column(row, name)?;
    if text.is_empty() {
        return Ok(None);
    }
    CivilDate::parse_iso(&text)
        .map(Some)
        .ok_or_else(|| corrupt(format!("column {name}: {text:?} is not a date")))
}

/// A date as stored: ISO, or '' for none.
pub fn date_text(date: Option<CivilDate>) -> String {
    date.map(|date| date.to_iso()).unwrap_or_default()
}

/// The bookkeeping columns: origin_instance, version, create_time, update_time.
pub fn meta_columns(row: &AnyRow) -> Result<Meta, ApiError> {
    Ok(Meta {
        origin_instance: column(row, "origin_instance")?,
        version: column(row, "version")?,
        create_time: column(row, "create_time")?,
        update_time: column(row, "update_time")?,
    })
}

/// Maps errors of statements on `resource` (see [`convert_sqlx_err`]).
pub fn sql_error(resource: &'static str) -> impl Fn(sqlx::Error) -> ApiError {
    move |error| convert_sqlx_err(error, resource)
}

/// The placeholders of a multi-row `VALUES` list: `rows` rows of `columns` values each.
///
/// SQLite finds a numbered parameter (`$7`) by walking the statement's parameter names, so
/// a statement with n of them costs n squared to bind; anonymous ones (`?`) cost nothing to
/// find. PostgreSQL only takes numbered ones.
pub fn value_rows(connection: &sqlx::AnyConnection, rows: usize, columns: usize) -> String {
    let anonymous = connection.backend_name() == "SQLite";
    let mut text = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        text.push('(');
        for column in 0..columns {
            if column > 0 {
                text.push_str(", ");
            }
            if anonymous {
                text.push('?');
            } else {
                text.push_str(&format!("${}", row * columns + column + 1));
            }
        }
        text.push(')');
    }
    text
}
