//! Service certificates, the service records they cover, and their serial counters.

use egret_runtime::ApiError;
use egret_storage::rows::{column, copy_conflict, corrupt, date_column, meta_columns, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::certificate::{Certificate, CertificateState};

const COLUMNS: &str = "c.id, c.serial_number, c.volunteer_id, c.activity_id, \
     c.issuer_org_unit_id, c.period_start, c.period_end, c.service_minutes, c.state, \
     c.revocation_reason, c.revoke_time, c.signed_payload, c.signature, c.key_id, \
     c.volunteer_display_name, c.id_type, c.id_number_masked, c.volunteer_number, \
     c.activity_display_name, c.service_content, c.issuer_display_name, c.person_in_charge, \
     c.handler, c.handler_contact, c.issue_date, c.notes, c.origin_instance, c.version, \
     c.create_time, c.update_time";

fn from_row(row: &AnyRow) -> Result<Certificate, ApiError> {
    let state: i64 = column(row, "state")?;
    let date = |name: &str| {
        date_column(row, name)?.ok_or_else(|| corrupt(format!("certificate without {name}")))
    };
    Ok(Certificate {
        id: column(row, "id")?,
        serial_number: column(row, "serial_number")?,
        volunteer_id: column(row, "volunteer_id")?,
        activity_id: column(row, "activity_id")?,
        issuer_org_unit_id: column(row, "issuer_org_unit_id")?,
        period_start: date("period_start")?,
        period_end: date("period_end")?,
        service_minutes: column(row, "service_minutes")?,
        state: CertificateState::from_number(state)
            .ok_or_else(|| corrupt(format!("certificate state {state}")))?,
        revocation_reason: column(row, "revocation_reason")?,
        revoke_time: column(row, "revoke_time")?,
        signed_payload: column(row, "signed_payload")?,
        signature: column(row, "signature")?,
        key_id: column(row, "key_id")?,
        volunteer_display_name: column(row, "volunteer_display_name")?,
        id_type: column(row, "id_type")?,
        id_number_masked: column(row, "id_number_masked")?,
        volunteer_number: column(row, "volunteer_number")?,
        activity_display_name: column(row, "activity_display_name")?,
        service_content: column(row, "service_content")?,
        issuer_display_name: column(row, "issuer_display_name")?,
        person_in_charge: column(row, "person_in_charge")?,
        handler: column(row, "handler")?,
        handler_contact: column(row, "handler_contact")?,
        issue_date: date("issue_date")?,
        notes: column(row, "notes")?,
        meta: meta_columns(row)?,
    })
}

/// The next serial number of `prefix` (`XM-2026`), counted in the caller's transaction:
/// the row stays locked until it commits, so two issues never take the same number, and
/// a rolled-back issue gives its number back, so there are no gaps.
pub async fn next_serial<'e, E>(executor: E, prefix: &str) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (number,): (i64,) = sqlx::query_as(
        "INSERT INTO certificate_serials (prefix, last_number) VALUES ($1, 1) \
         ON CONFLICT (prefix) DO UPDATE SET last_number = certificate_serials.last_number + 1 \
         RETURNING last_number",
    )
    .bind(prefix)
    .fetch_one(executor)
    .await
    .map_err(sql_error("certificate serial"))?;
    Ok(number)
}

/// Inserts a certificate.
pub async fn insert<'e, E>(executor: E, certificate: &Certificate) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(executor, certificate, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy<'e, E>(executor: E, certificate: &Certificate) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(
        executor,
        certificate,
        &copy_conflict("certificates", "id", "id, serial_number, volunteer_id, activity_id, issuer_org_unit_id, period_start, period_end, service_minutes, state, revocation_reason, revoke_time, signed_payload, signature, key_id, volunteer_display_name, id_type, id_number_masked, volunteer_number, activity_display_name, service_content, issuer_display_name, person_in_charge, handler, handler_contact, issue_date, notes, origin_instance, version, create_time, update_time"),
    )
    .await
}

async fn write_insert<'e, E>(
    executor: E,
    certificate: &Certificate,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO certificates (id, serial_number, volunteer_id, activity_id, \
         issuer_org_unit_id, period_start, period_end, service_minutes, state, \
         revocation_reason, revoke_time, signed_payload, signature, key_id, \
         volunteer_display_name, id_type, id_number_masked, volunteer_number, \
         activity_display_name, service_content, issuer_display_name, person_in_charge, \
         handler, handler_contact, issue_date, notes, origin_instance, version, create_time, \
         update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30) {on_conflict}"
    ))
    .bind(&certificate.id)
    .bind(&certificate.serial_number)
    .bind(&certificate.volunteer_id)
    .bind(&certificate.activity_id)
    .bind(&certificate.issuer_org_unit_id)
    .bind(certificate.period_start.to_iso())
    .bind(certificate.period_end.to_iso())
    .bind(certificate.service_minutes)
    .bind(certificate.state as i64)
    .bind(&certificate.revocation_reason)
    .bind(certificate.revoke_time)
    .bind(&certificate.signed_payload)
    .bind(&certificate.signature)
    .bind(&certificate.key_id)
    .bind(&certificate.volunteer_display_name)
    .bind(&certificate.id_type)
    .bind(&certificate.id_number_masked)
    .bind(&certificate.volunteer_number)
    .bind(&certificate.activity_display_name)
    .bind(&certificate.service_content)
    .bind(&certificate.issuer_display_name)
    .bind(&certificate.person_in_charge)
    .bind(&certificate.handler)
    .bind(&certificate.handler_contact)
    .bind(certificate.issue_date.to_iso())
    .bind(&certificate.notes)
    .bind(&certificate.meta.origin_instance)
    .bind(certificate.meta.version)
    .bind(certificate.meta.create_time)
    .bind(certificate.meta.update_time)
    .execute(executor)
    .await
    .map_err(|error| {
        egret_storage::convert_sqlx_err(
            error,
            &format!("certificate {}", certificate.serial_number),
        )
    })?;
    Ok(())
}

/// Records that a certificate covers `minutes` of a service record.
pub async fn insert_record<'e, E>(
    executor: E,
    certificate_id: &str,
    service_record_id: &str,
    minutes: i64,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO certificate_records (certificate_id, service_record_id, minutes) \
         VALUES ($1, $2, $3)",
    )
    .bind(certificate_id)
    .bind(service_record_id)
    .bind(minutes)
    .execute(executor)
    .await
    .map_err(sql_error("certificate record"))?;
    Ok(())
}

/// Writes a revocation if the certificate is still at `expected_version`; false when
/// someone else changed it first.
pub async fn update_state<'e, E>(
    executor: E,
    certificate: &Certificate,
    expected_version: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE certificates SET state = $2, revocation_reason = $3, revoke_time = $4, \
         version = $5, update_time = $6 WHERE id = $1 AND version = $7",
    )
    .bind(&certificate.id)
    .bind(certificate.state as i64)
    .bind(&certificate.revocation_reason)
    .bind(certificate.revoke_time)
    .bind(certificate.meta.version)
    .bind(certificate.meta.update_time)
    .bind(expected_version)
    .execute(executor)
    .await
    .map_err(sql_error("certificate"))?;
    Ok(result.rows_affected() == 1)
}

/// One certificate.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<Certificate>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM certificates c WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("certificate"))?;
    row.as_ref().map(from_row).transpose()
}

/// One certificate by its serial number.
pub async fn by_serial<'e, E>(executor: E, serial: &str) -> Result<Option<Certificate>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM certificates c WHERE c.serial_number = $1"
    ))
    .bind(serial)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("certificate"))?;
    row.as_ref().map(from_row).transpose()
}

/// The valid certificates covering a service record, each with the minutes it counted.
pub async fn valid_covering<'e, E>(
    executor: E,
    service_record_id: &str,
) -> Result<Vec<(Certificate, i64)>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, r.minutes AS covered_minutes FROM certificates c \
         JOIN certificate_records r ON r.certificate_id = c.id \
         WHERE r.service_record_id = $1 AND c.state = 1 ORDER BY c.id"
    ))
    .bind(service_record_id)
    .fetch_all(executor)
    .await
    .map_err(sql_error("certificate"))?;
    rows.iter()
        .map(|row| Ok((from_row(row)?, column(row, "covered_minutes")?)))
        .collect()
}

/// The service records a certificate covers, with the minutes counted.
pub async fn records_of<'e, E>(
    executor: E,
    certificate_id: &str,
) -> Result<Vec<(String, i64)>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query_as(
        "SELECT service_record_id, minutes FROM certificate_records \
         WHERE certificate_id = $1 ORDER BY service_record_id",
    )
    .bind(certificate_id)
    .fetch_all(executor)
    .await
    .map_err(sql_error("certificate record"))
}

/// Filters of a list.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// `[low, high)` of the issuing units' paths.
    pub bounds: (&'a str, &'a str),
    /// Only this volunteer's.
    pub volunteer_id: Option<&'a str>,
}

/// The keyset position of a certificate in a newest-first list.
pub fn list_key(certificate: &Certificate) -> String {
    format!("{}/{}", certificate.meta.create_time, certificate.id)
}

/// Certificates issued in a subtree, newest first, after `after` (a [`list_key`]).
pub async fn list<'e, E>(
    executor: E,
    filter: &Filter<'_>,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<Certificate>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (after_time, after_id) = after.unwrap_or((i64::MAX, ""));
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM certificates c JOIN org_units o ON o.id = c.issuer_org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND ($3 = '' OR c.volunteer_id = $3) \
         AND (c.create_time < $4 OR (c.create_time = $4 AND ($5 = '' OR c.id < $5))) \
         ORDER BY c.create_time DESC, c.id DESC LIMIT $6"
    ))
    .bind(filter.bounds.0)
    .bind(filter.bounds.1)
    .bind(filter.volunteer_id.unwrap_or(""))
    .bind(after_time)
    .bind(after_id)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("certificate"))?;
    rows.iter().map(from_row).collect()
}
