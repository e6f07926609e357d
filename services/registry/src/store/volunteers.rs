//! Volunteers.

use egret_runtime::ApiError;
use egret_storage::rows::value_rows;
use egret_storage::{Ordering, SortField};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor};

use super::{column, json_column, meta_columns, sql_error, to_json};
use crate::domain::{CivilDate, EmergencyContact, Gender, IdType, Volunteer, VolunteerStatus};

const COLUMNS: &str = "v.id, v.volunteer_number, v.display_name, v.id_type, v.id_number_hash, \
     v.id_number_federation_hash, \
     v.id_number_masked, v.birth_date, v.gender, v.phone, v.email, v.skills_json, \
     v.service_fields_json, v.service_themes_json, v.availability_json, v.emergency_name, \
     v.emergency_relationship, v.emergency_phone, v.status, v.registering_org_unit_id, \
     v.origin_instance, v.version, v.create_time, v.update_time";

/// The condition that volunteer `v` is visible from the subtree `[$1, $2)`: an active
/// membership there, or registered by a unit there.
pub const VISIBLE_IN_SUBTREE: &str = "(EXISTS (SELECT 1 FROM memberships m \
     JOIN org_units o ON o.id = m.org_unit_id \
     WHERE m.volunteer_id = v.id AND m.state = 1 AND o.path >= $1 AND o.path < $2) \
     OR EXISTS (SELECT 1 FROM org_units r WHERE r.id = v.registering_org_unit_id \
     AND r.path >= $1 AND r.path < $2))";

/// The stored number of an ID type.
pub fn id_type_number(id_type: IdType) -> i64 {
    match id_type {
        IdType::ResidentId => 1,
        IdType::HkMacaoPermit => 2,
        IdType::TaiwanPermit => 3,
        IdType::HmtResidencePermit => 4,
        IdType::Passport => 5,
    }
}

/// The ID type of a stored or wire number.
pub fn id_type_from_number(number: i64) -> Option<IdType> {
    match number {
        1 => Some(IdType::ResidentId),
        2 => Some(IdType::HkMacaoPermit),
        3 => Some(IdType::TaiwanPermit),
        4 => Some(IdType::HmtResidencePermit),
        5 => Some(IdType::Passport),
        _ => None,
    }
}

/// The stored number of a gender.
pub fn gender_number(gender: Gender) -> i64 {
    match gender {
        Gender::Female => 1,
        Gender::Male => 2,
    }
}

fn from_row(row: &AnyRow) -> Result<Volunteer, ApiError> {
    let id_type: i64 = column(row, "id_type")?;
    let gender: i64 = column(row, "gender")?;
    let status: i64 = column(row, "status")?;
    let birth_date: String = column(row, "birth_date")?;
    Ok(Volunteer {
        id: column(row, "id")?,
        volunteer_number: column(row, "volunteer_number")?,
        display_name: column(row, "display_name")?,
        id_type: id_type_from_number(id_type)
            .ok_or_else(|| super::corrupt(format!("id type {id_type}")))?,
        id_number_hash: column(row, "id_number_hash")?,
        id_number_federation_hash: column(row, "id_number_federation_hash")?,
        id_number_masked: column(row, "id_number_masked")?,
        birth_date: CivilDate::parse_iso(&birth_date)
            .ok_or_else(|| super::corrupt(format!("birth date {birth_date:?}")))?,
        gender: match gender {
            1 => Gender::Female,
            2 => Gender::Male,
            other => return Err(super::corrupt(format!("gender {other}"))),
        },
        phone: column(row, "phone")?,
        email: column(row, "email")?,
        skills: json_column(row, "skills_json")?,
        service_fields: json_column(row, "service_fields_json")?,
        service_themes: json_column(row, "service_themes_json")?,
        availability: json_column(row, "availability_json")?,
        emergency_contact: EmergencyContact {
            name: column(row, "emergency_name")?,
            relationship: column(row, "emergency_relationship")?,
            phone: column(row, "emergency_phone")?,
        },
        status: VolunteerStatus::from_number(status)
            .ok_or_else(|| super::corrupt(format!("volunteer status {status}")))?,
        registering_org_unit_id: column(row, "registering_org_unit_id")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts new volunteers (each with its sealed ID number), many rows to a statement.
pub async fn insert_many(
    connection: &mut AnyConnection,
    volunteers: &[(Volunteer, Vec<u8>)],
) -> Result<(), ApiError> {
    let rows: Vec<_> = volunteers
        .iter()
        .map(|(volunteer, sealed)| {
            (
                volunteer,
                volunteer.id_number_hash.clone(),
                sealed.as_slice(),
            )
        })
        .collect();
    write_many(connection, &rows, "").await
}

/// Writes volunteers, each with its lookup hash and sealed number, many rows to a
/// statement, with `on_conflict` after the rows.
async fn write_many(
    connection: &mut AnyConnection,
    rows: &[(&Volunteer, String, &[u8])],
    on_conflict: &str,
) -> Result<(), ApiError> {
    for chunk in rows.chunks(40) {
        let sql = format!(
            "INSERT INTO volunteers (id, volunteer_number, display_name, id_type, id_number_hash, \
             id_number_encrypted, id_number_masked, birth_date, gender, phone, email, skills_json, \
             service_fields_json, service_themes_json, availability_json, emergency_name, \
             emergency_relationship, emergency_phone, status, registering_org_unit_id, \
             origin_instance, version, create_time, update_time, id_number_federation_hash) \
             VALUES {} {on_conflict}",
            value_rows(connection, chunk.len(), 25)
        );
        let mut query = sqlx::query(&sql);
        for (volunteer, id_number_hash, sealed_id_number) in chunk {
            query = query
                .bind(volunteer.id.as_str())
                .bind(volunteer.volunteer_number.as_str())
                .bind(volunteer.display_name.as_str())
                .bind(id_type_number(volunteer.id_type))
                .bind(id_number_hash.as_str())
                .bind(*sealed_id_number)
                .bind(volunteer.id_number_masked.as_str())
                .bind(volunteer.birth_date.to_iso())
                .bind(gender_number(volunteer.gender))
                .bind(volunteer.phone.as_str())
                .bind(volunteer.email.as_str())
                .bind(to_json(&volunteer.skills))
                .bind(to_json(&volunteer.service_fields))
                .bind(to_json(&volunteer.service_themes))
                .bind(to_json(&volunteer.availability))
                .bind(volunteer.emergency_contact.name.as_str())
                .bind(volunteer.emergency_contact.relationship.as_str())
                .bind(volunteer.emergency_contact.phone.as_str())
                .bind(volunteer.status as i64)
                .bind(volunteer.registering_org_unit_id.as_str())
                .bind(volunteer.meta.origin_instance.as_str())
                .bind(volunteer.meta.version)
                .bind(volunteer.meta.create_time)
                .bind(volunteer.meta.update_time)
                .bind(volunteer.id_number_federation_hash.as_str());
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(sql_error("volunteer"))?;
    }
    Ok(())
}

/// One volunteer by id.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<Volunteer>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM volunteers v WHERE v.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("volunteer"))?;
    row.as_ref().map(from_row).transpose()
}

/// The volunteers among `ids` (in no order; those not held are missing).
pub async fn get_many(
    connection: &mut AnyConnection,
    ids: &[&str],
) -> Result<Vec<Volunteer>, ApiError> {
    let select = format!("SELECT {COLUMNS} FROM volunteers v WHERE v.id IN");
    egret_storage::rows::fetch_by_ids(connection, &select, ids)
        .await
        .map_err(sql_error("volunteer"))?
        .iter()
        .map(from_row)
        .collect()
}

/// The id of the volunteer with this ID-number hash.
pub async fn find_by_hash<'e, E>(
    executor: E,
    id_number_hash: &str,
) -> Result<Option<String>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM volunteers WHERE id_number_hash = $1")
            .bind(id_number_hash)
            .fetch_optional(executor)
            .await
            .map_err(sql_error("volunteer"))?;
    Ok(row.map(|(id,)| id))
}

/// Which of `hashes` are registered already.
pub async fn existing_hashes<'e, E>(executor: E, hashes: &[String]) -> Result<Vec<String>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    // Any has no array binding; the hashes are hex we made ourselves, but they are still
    // bound as parameters, one placeholder each.
    let placeholders = (1..=hashes.len())
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql =
        format!("SELECT id_number_hash FROM volunteers WHERE id_number_hash IN ({placeholders})");
    let mut query = sqlx::query_as::<_, (String,)>(&sql);
    for hash in hashes {
        query = query.bind(hash);
    }
    let rows = query
        .fetch_all(executor)
        .await
        .map_err(sql_error("volunteer"))?;
    Ok(rows.into_iter().map(|(hash,)| hash).collect())
}

/// The sealed ID number of a volunteer.
pub async fn sealed_id_number<'e, E>(executor: E, id: &str) -> Result<Vec<u8>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (sealed,): (Vec<u8>,) =
        sqlx::query_as("SELECT id_number_encrypted FROM volunteers WHERE id = $1")
            .bind(id)
            .fetch_one(executor)
            .await
            .map_err(sql_error("volunteer"))?;
    Ok(sealed)
}

/// The sealed ID numbers of the volunteers among `ids`, by id.
pub async fn sealed_id_numbers(
    connection: &mut AnyConnection,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<u8>>, ApiError> {
    egret_storage::rows::fetch_by_ids(
        connection,
        "SELECT id, id_number_encrypted FROM volunteers WHERE id IN",
        ids,
    )
    .await
    .map_err(sql_error("volunteer"))?
    .iter()
    .map(|row| Ok((column(row, "id")?, column(row, "id_number_encrypted")?)))
    .collect()
}

/// Writes a volunteer's changeable fields if still at `volunteer.meta.version - 1`.
pub async fn update<'e, E>(executor: E, volunteer: &Volunteer) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE volunteers SET display_name = $2, phone = $3, email = $4, skills_json = $5, \
         service_fields_json = $6, service_themes_json = $7, availability_json = $8, \
         emergency_name = $9, emergency_relationship = $10, emergency_phone = $11, status = $12, \
         version = $13, update_time = $14 WHERE id = $1 AND version = $15",
    )
    .bind(&volunteer.id)
    .bind(&volunteer.display_name)
    .bind(&volunteer.phone)
    .bind(&volunteer.email)
    .bind(to_json(&volunteer.skills))
    .bind(to_json(&volunteer.service_fields))
    .bind(to_json(&volunteer.service_themes))
    .bind(to_json(&volunteer.availability))
    .bind(&volunteer.emergency_contact.name)
    .bind(&volunteer.emergency_contact.relationship)
    .bind(&volunteer.emergency_contact.phone)
    .bind(volunteer.status as i64)
    .bind(volunteer.meta.version)
    .bind(volunteer.meta.update_time)
    .bind(volunteer.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("volunteer"))?;
    Ok(result.rows_affected() == 1)
}

/// Whether the volunteer is visible from the subtree `[low, high)`.
pub async fn visible_in<'e, E>(
    executor: E,
    id: &str,
    (low, high): (&str, &str),
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    // Not VISIBLE_IN_SUBTREE: with the volunteer's id bound in the membership check, that
    // check is one index lookup on every engine. Correlated with `v.id`, PostgreSQL may
    // hash all the subtree's memberships first (at 100,000 volunteers, 54 ms per call).
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM volunteers v JOIN org_units r ON r.id = v.registering_org_unit_id \
         WHERE v.id = $3 AND ((r.path >= $1 AND r.path < $2) \
         OR EXISTS (SELECT 1 FROM memberships m JOIN org_units o ON o.id = m.org_unit_id \
         WHERE m.volunteer_id = $3 AND m.state = 1 AND o.path >= $1 AND o.path < $2))",
    )
    .bind(low)
    .bind(high)
    .bind(id)
    .fetch_one(executor)
    .await
    .map_err(sql_error("volunteer"))?;
    Ok(count > 0)
}

/// Filters of a volunteer listing.
#[derive(Debug, Clone, Default)]
pub struct VolunteerFilter {
    /// Subtree bounds `[low, high)`.
    pub bounds: (String, String),
    /// Status number (0: any).
    pub status: i64,
    /// Exact skill ('': any).
    pub skill: String,
    /// Name substring ('': any).
    pub name_contains: String,
    /// Exact volunteer number ('': any).
    pub volunteer_number: String,
}

/// The fields a volunteer listing sorts by.
pub static SORT_FIELDS: [SortField; 3] = [
    SortField::text("display_name", "v.display_name"),
    SortField::text("volunteer_number", "v.volunteer_number"),
    SortField::integer("create_time", "v.create_time"),
];

/// The default `registry.list_probe_limit`: a listing whose subtree has fewer candidate rows
/// (active memberships plus registrations) than this starts from the subtree's units, a
/// larger one walks all volunteers in the listing's order (by id, or by the sort field's
/// index). The walk stops after a page of matches, so it suits a subtree holding much of
/// the instance (a city's root: a page of 50 in under a millisecond), but it reads about
/// `page × volunteers ÷ subtree` rows to fill a page, and every row when the subtree's
/// volunteers are the newest (a team of 20 among 500,000: 1.4 s on SQLite). Starting from
/// the subtree reads each candidate once, whatever the instance holds: 4,000 candidate
/// rows take 8 ms on SQLite and 12 ms on PostgreSQL at 500,000 volunteers, where a walk for
/// a subtree that size reads over 10,000 rows even when its volunteers are spread evenly.
/// The probe stops counting at the limit, so it costs a millisecond or two for any subtree.
pub const LIST_PROBE_LIMIT: i64 = 5_000;

/// The volunteer ids of the subtree `[$1, $2)`: every active membership in one of its units
/// and every volunteer one of its units registered. An id can appear twice (a volunteer
/// registered by the team they are a member of); `IN` and the probe's count allow that.
const SUBTREE_CANDIDATES: &str = "SELECT m.volunteer_id FROM org_units o \
     JOIN memberships m ON m.org_unit_id = o.id \
     WHERE m.state = 1 AND o.path >= $1 AND o.path < $2 \
     UNION ALL SELECT r.id FROM org_units o \
     JOIN volunteers r ON r.registering_org_unit_id = o.id \
     WHERE o.path >= $1 AND o.path < $2";

/// The listing's filters on `v`: status `$3`, skill `$4`, name `$5`.
const LIST_FILTERS: &str = "($3 = 0 OR v.status = $3) \
     AND ($4 = '' OR replace(v.skills_json, $4, '') <> v.skills_json) \
     AND ($5 = '' OR replace(v.display_name, $5, '') <> v.display_name)";

/// How many candidate rows the subtree `[low, high)` has, counting no further than `limit`.
async fn count_candidates<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    limit: i64,
) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (count,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM ({SUBTREE_CANDIDATES} LIMIT $3) candidates"
    ))
    .bind(low)
    .bind(high)
    .bind(limit)
    .fetch_one(executor)
    .await
    .map_err(sql_error("volunteers"))?;
    Ok(count)
}

/// Volunteers visible in the subtree, matching the filter, in `ordering` after the key
/// `after`, each with its page-token key: a subtree with fewer than `probe_limit` candidate
/// rows is listed from its units, a larger one by the walk (see [`LIST_PROBE_LIMIT`]). Both
/// plans give the same rows, so the probe and the listing need not see the same snapshot.
/// A number filter is an equality on a unique column, so either plan finds it by index.
pub async fn list<'e, E>(
    executor: E,
    filter: &VolunteerFilter,
    ordering: Ordering,
    after: Option<&str>,
    limit: i64,
    probe_limit: i64,
) -> Result<Vec<(Volunteer, String)>, ApiError>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let bounds = (filter.bounds.0.as_str(), filter.bounds.1.as_str());
    let from_subtree =
        probe_limit > 0 && count_candidates(executor, bounds, probe_limit).await? < probe_limit;
    // Spelled out only when asked for, so that no plan has to allow for an empty one.
    let number = if filter.volunteer_number.is_empty() {
        "$6 = ''"
    } else {
        "v.volunteer_number = $6"
    };
    let keyset = ordering.tail("v", after, 7)?;
    let sql = if from_subtree {
        // Materialized so that PostgreSQL looks up the few candidates by primary key and
        // sorts them: otherwise, under the LIMIT, it merges them with a walk of the whole
        // primary key, expecting (from average team sizes) to meet a page of them early.
        format!(
            "WITH v AS MATERIALIZED (SELECT {COLUMNS} FROM volunteers v \
             WHERE v.id IN ({SUBTREE_CANDIDATES}) AND {LIST_FILTERS} AND {number}) \
             SELECT * FROM v WHERE 1 = 1 {}",
            keyset.sql
        )
    } else {
        format!(
            "SELECT {COLUMNS} FROM volunteers v WHERE {VISIBLE_IN_SUBTREE} \
             AND {LIST_FILTERS} AND {number} {}",
            keyset.sql
        )
    };
    let query = sqlx::query(&sql)
        .bind(bounds.0)
        .bind(bounds.1)
        .bind(filter.status)
        .bind(if filter.skill.is_empty() {
            String::new()
        } else {
            to_json(&filter.skill)
        })
        .bind(&filter.name_contains)
        .bind(&filter.volunteer_number);
    let rows = keyset
        .bind(query, limit)
        .fetch_all(executor)
        .await
        .map_err(sql_error("volunteers"))?;
    rows.iter()
        .map(|row| Ok((from_row(row)?, ordering.key_of(row)?)))
        .collect()
}

/// Writes copies of another instance's volunteers (a district's, at the city) as they
/// stand, each with its sealed number, many rows to a statement; a copy is skipped where
/// a version as new is held already. A sealed number is empty unless the district sends
/// full records, and emptied again by a later minimal copy. The lookup hash is a
/// placeholder naming the record, so it never matches a real hash (the city cannot look
/// a district's volunteer up by ID number). One id appears at most once.
pub async fn put_copies(
    connection: &mut AnyConnection,
    copies: &[(Volunteer, Vec<u8>)],
) -> Result<(), ApiError> {
    let rows: Vec<_> = copies
        .iter()
        .map(|(volunteer, sealed)| {
            let placeholder = format!(
                "instances/{}/volunteers/{}",
                volunteer.meta.origin_instance, volunteer.id
            );
            (volunteer, placeholder, sealed.as_slice())
        })
        .collect();
    write_many(
        connection,
        &rows,
        "ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, \
         id_number_masked = excluded.id_number_masked, \
         id_number_encrypted = excluded.id_number_encrypted, birth_date = excluded.birth_date, \
         gender = excluded.gender, phone = excluded.phone, email = excluded.email, \
         skills_json = excluded.skills_json, service_fields_json = excluded.service_fields_json, \
         service_themes_json = excluded.service_themes_json, \
         availability_json = excluded.availability_json, emergency_name = excluded.emergency_name, \
         emergency_relationship = excluded.emergency_relationship, \
         emergency_phone = excluded.emergency_phone, status = excluded.status, \
         registering_org_unit_id = excluded.registering_org_unit_id, version = excluded.version, \
         update_time = excluded.update_time, \
         id_number_federation_hash = excluded.id_number_federation_hash \
         WHERE volunteers.version < excluded.version \
         AND volunteers.origin_instance = excluded.origin_instance",
    )
    .await
}

/// Federation hashes after `after` that volunteers of more than one instance visible in
/// the subtree `[low, high)` share, in order, at most `limit`.
pub async fn shared_federation_hashes<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    after: &str,
    limit: i64,
) -> Result<Vec<String>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT v.id_number_federation_hash FROM volunteers v \
         WHERE v.id_number_federation_hash > $3 AND {VISIBLE_IN_SUBTREE} \
         GROUP BY v.id_number_federation_hash HAVING COUNT(DISTINCT v.origin_instance) > 1 \
         ORDER BY v.id_number_federation_hash LIMIT $4"
    ))
    .bind(low)
    .bind(high)
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("volunteer"))?;
    Ok(rows.into_iter().map(|(hash,)| hash).collect())
}

/// The volunteers with federation hash `hash` visible in the subtree `[low, high)`.
pub async fn by_federation_hash<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    hash: &str,
) -> Result<Vec<Volunteer>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM volunteers v \
         WHERE v.id_number_federation_hash = $3 AND {VISIBLE_IN_SUBTREE} \
         ORDER BY v.origin_instance, v.id"
    ))
    .bind(low)
    .bind(high)
    .bind(hash)
    .fetch_all(executor)
    .await
    .map_err(sql_error("volunteer"))?;
    rows.iter().map(from_row).collect()
}
