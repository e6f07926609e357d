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

/// The `ON CONFLICT` clause that writes a copy of another instance's record (at the city,
/// a district's) over the one held under `key`: every column of `columns` (a
/// comma-separated list, table prefixes allowed) but the key, the origin and the creation
/// time, and only when the copy is newer and the held row has the same origin, so that a
/// replayed or stale copy changes nothing and a row of another origin is never taken over.
pub fn copy_conflict(table: &str, key: &str, columns: &str) -> String {
    let keys: Vec<&str> = key.split(',').map(str::trim).collect();
    let assignments: Vec<String> = columns
        .split(',')
        .map(|column| {
            let column = column.trim();
            column.rsplit('.').next().unwrap_or(column)
        })
        .filter(|column| {
            !keys.contains(column) && !matches!(*column, "origin_instance" | "create_time")
        })
        .map(|column| format!("{column} = excluded.{column}"))
        .collect();
    format!(
        "ON CONFLICT ({key}) DO UPDATE SET {} WHERE {table}.version < excluded.version \
         AND {table}.origin_instance = excluded.origin_instance",
        assignments.join(", ")
    )
}

/// How many ids [`fetch_by_ids`] binds to one statement: well within both engines' limits
/// on parameters.
pub const IDS_PER_STATEMENT: usize = 500;

/// The rows `select` finds for `ids`, where `select` ends in `… IN` and the list of ids
/// follows it, a statement for each [`IDS_PER_STATEMENT`] of them.
pub async fn fetch_by_ids(
    connection: &mut sqlx::AnyConnection,
    select: &str,
    ids: &[&str],
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let sql = format!("{select} {}", value_rows(connection, 1, chunk.len()));
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        rows.extend(query.fetch_all(&mut *connection).await?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::copy_conflict;

    #[test]
    fn copy_conflict_sets_all_but_key_origin_and_creation() {
        assert_eq!(
            copy_conflict(
                "things",
                "id",
                "t.id, t.name, t.origin_instance, t.version, t.create_time, t.update_time"
            ),
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, \
             update_time = excluded.update_time WHERE things.version < excluded.version \
             AND things.origin_instance = excluded.origin_instance"
        );
    }
}
