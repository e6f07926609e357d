//! The rows of the exports, read page by page with a keyset (the last id of a page), so
//! that an export of any size holds one page at a time. Parameters appear in the text in
//! the order they are bound (SQLite numbers `$n` by first appearance).

use std::collections::HashMap;

use egret_runtime::ApiError;
use egret_storage::rows::sql_error;
use sqlx::AnyPool;

/// The subtree an export reads: `[low, high)` of the units' paths.
#[derive(Debug, Clone)]
pub struct Subtree {
    /// Paths at or after this…
    pub low: String,
    /// …and before this.
    pub high: String,
}

/// A service record with its volunteer's masked identity.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServiceRecordRow {
    /// Id, the keyset.
    pub id: String,
    /// 志愿者编号.
    pub volunteer_number: String,
    /// 姓名.
    pub volunteer_name: String,
    /// 证件类型, snake_case.
    pub id_type: String,
    /// The masked ID number.
    pub id_number_masked: String,
    /// `YYYY-MM-DD`.
    pub service_date: String,
    /// Minutes of service.
    pub minutes: i64,
    /// 服务内容.
    pub description: String,
    /// The activity's title ('' for imported records).
    pub activity_name: String,
    /// The unit the service counts for.
    pub org_unit_name: String,
    /// `submitted`, `approved` or `rejected`.
    pub state: String,
}

/// How many of the subtree's service records are dated in `[start, end]`: the rows
/// [`service_records_page`] reads, counted with the same filter.
pub async fn count_service_records(
    pool: &AnyPool,
    subtree: &Subtree,
    (start, end): (&str, &str),
    approved_only: bool,
) -> Result<i64, ApiError> {
    let approved = if approved_only {
        " AND r.state = 'approved'"
    } else {
        ""
    };
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) \
         FROM service_records r JOIN org_units o ON o.id = r.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND r.service_date >= $3 AND r.service_date <= $4\
         {approved}"
    );
    let (count,): (i64,) = sqlx::query_as(&sql)
        .bind(&subtree.low)
        .bind(&subtree.high)
        .bind(start)
        .bind(end)
        .fetch_one(pool)
        .await
        .map_err(sql_error("service records count"))?;
    Ok(count)
}

/// One page of the subtree's service records dated in `[start, end]`, after `after`.
pub async fn service_records_page(
    pool: &AnyPool,
    subtree: &Subtree,
    (start, end): (&str, &str),
    approved_only: bool,
    after: &str,
    limit: i64,
) -> Result<Vec<ServiceRecordRow>, ApiError> {
    let approved = if approved_only {
        " AND r.state = 'approved'"
    } else {
        ""
    };
    let sql = format!(
        "SELECT r.id AS id, COALESCE(v.volunteer_number, '') AS volunteer_number, \
         COALESCE(v.display_name, '') AS volunteer_name, COALESCE(v.id_type, '') AS id_type, \
         COALESCE(v.id_number_masked, '') AS id_number_masked, r.service_date AS service_date, \
         CAST(r.minutes AS BIGINT) AS minutes, r.description AS description, \
         COALESCE(a.display_name, '') AS activity_name, o.display_name AS org_unit_name, \
         r.state AS state \
         FROM service_records r JOIN org_units o ON o.id = r.org_unit_id \
         LEFT JOIN volunteers v ON v.id = r.volunteer_id \
         LEFT JOIN activities a ON a.id = r.activity_id \
         WHERE o.path >= $1 AND o.path < $2 AND r.service_date >= $3 AND r.service_date <= $4 \
         AND r.id > $5{approved} ORDER BY r.id LIMIT $6"
    );
    sqlx::query_as(&sql)
        .bind(&subtree.low)
        .bind(&subtree.high)
        .bind(start)
        .bind(end)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(sql_error("service records export"))
}

/// A volunteer as exported: masked identity and hours.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VolunteerRow {
    /// Id, the keyset.
    pub id: String,
    /// 志愿者编号.
    pub volunteer_number: String,
    /// 姓名.
    pub display_name: String,
    /// 证件类型, snake_case.
    pub id_type: String,
    /// The masked ID number.
    pub id_number_masked: String,
    /// 0 unknown, 1 female, 2 male.
    pub gender: i64,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// `YYYY-MM-DD`.
    pub registered_on: String,
    /// The registering unit's name.
    pub org_unit_name: String,
    /// Approved minutes known to this instance.
    pub minutes: i64,
}

/// How many active volunteers serve in the subtree: the rows [`volunteers_page`] reads,
/// counted with the same filter.
pub async fn count_volunteers(pool: &AnyPool, subtree: &Subtree) -> Result<i64, ApiError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM volunteers v \
         WHERE v.status = 1 AND EXISTS (SELECT 1 FROM volunteer_units vu \
               JOIN org_units o ON o.id = vu.org_unit_id \
               WHERE vu.volunteer_id = v.id AND o.path >= $1 AND o.path < $2)",
    )
    .bind(&subtree.low)
    .bind(&subtree.high)
    .fetch_one(pool)
    .await
    .map_err(sql_error("volunteers count"))?;
    Ok(count)
}

/// One page of the active volunteers serving in the subtree, after `after`.
pub async fn volunteers_page(
    pool: &AnyPool,
    subtree: &Subtree,
    after: &str,
    limit: i64,
) -> Result<Vec<VolunteerRow>, ApiError> {
    sqlx::query_as(
        "SELECT v.id AS id, v.volunteer_number AS volunteer_number, \
         v.display_name AS display_name, v.id_type AS id_type, \
         v.id_number_masked AS id_number_masked, CAST(v.gender AS BIGINT) AS gender, \
         v.birth_date AS birth_date, v.registered_on AS registered_on, \
         COALESCE(ru.display_name, '') AS org_unit_name, \
         CAST((SELECT COALESCE(SUM(sr.minutes), 0) FROM service_records sr \
               WHERE sr.volunteer_id = v.id AND sr.state = 'approved') AS BIGINT) AS minutes \
         FROM volunteers v LEFT JOIN org_units ru ON ru.id = v.registering_org_unit_id \
         WHERE v.status = 1 AND EXISTS (SELECT 1 FROM volunteer_units vu \
               JOIN org_units o ON o.id = vu.org_unit_id \
               WHERE vu.volunteer_id = v.id AND o.path >= $1 AND o.path < $2) \
         AND v.id > $3 ORDER BY v.id LIMIT $4",
    )
    .bind(&subtree.low)
    .bind(&subtree.high)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(sql_error("volunteers export"))
}

/// A team's registration form (contacts masked) with its unit's fields.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TeamRow {
    /// The unit's id, the keyset.
    pub id: String,
    /// 档案编号.
    pub archive_number: String,
    /// 队伍编号.
    pub team_number: String,
    /// 队伍名称.
    pub display_name: String,
    /// 负责人.
    pub leader_name: String,
    /// 单位名称.
    pub host_unit: String,
    /// 成员人数 as declared.
    pub declared_member_count: i64,
    /// 队伍级别 (wire number).
    pub level: i64,
    /// `YYYY-MM-DD` or ''.
    pub founded_on: String,
    /// Masked.
    pub phone_masked: String,
    /// Masked.
    pub email_masked: String,
    /// 联系地址.
    pub address: String,
    /// Tier number.
    pub tier: i64,
    /// Status number.
    pub status: i64,
}

/// How many registration forms the subtree holds: the rows [`teams_page`] reads, counted
/// with the same filter.
pub async fn count_teams(pool: &AnyPool, subtree: &Subtree) -> Result<i64, ApiError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT) \
         FROM registration_forms f JOIN org_units o ON o.id = f.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2",
    )
    .bind(&subtree.low)
    .bind(&subtree.high)
    .fetch_one(pool)
    .await
    .map_err(sql_error("teams count"))?;
    Ok(count)
}

/// One page of the subtree's registration forms, after `after` (a unit id).
pub async fn teams_page(
    pool: &AnyPool,
    subtree: &Subtree,
    after: &str,
    limit: i64,
) -> Result<Vec<TeamRow>, ApiError> {
    sqlx::query_as(
        "SELECT o.id AS id, f.archive_number AS archive_number, f.team_number AS team_number, \
         o.display_name AS display_name, f.leader_name AS leader_name, \
         f.host_unit AS host_unit, CAST(f.declared_member_count AS BIGINT) AS declared_member_count, \
         CAST(o.level AS BIGINT) AS level, f.founded_on AS founded_on, \
         f.phone_masked AS phone_masked, f.email_masked AS email_masked, f.address AS address, \
         CAST(o.tier AS BIGINT) AS tier, CAST(o.status AS BIGINT) AS status \
         FROM registration_forms f JOIN org_units o ON o.id = f.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND o.id > $3 ORDER BY o.id LIMIT $4",
    )
    .bind(&subtree.low)
    .bind(&subtree.high)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(sql_error("teams export"))
}

/// The categories of the units with ids in `(after, last]`, by unit.
pub async fn categories_between(
    pool: &AnyPool,
    after: &str,
    last: &str,
) -> Result<HashMap<String, Vec<i64>>, ApiError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT org_unit_id, CAST(category AS BIGINT) FROM org_unit_categories \
         WHERE org_unit_id > $1 AND org_unit_id <= $2 ORDER BY org_unit_id, category",
    )
    .bind(after)
    .bind(last)
    .fetch_all(pool)
    .await
    .map_err(sql_error("team categories"))?;
    let mut categories: HashMap<String, Vec<i64>> = HashMap::new();
    for (unit, category) in rows {
        categories.entry(unit).or_default().push(category);
    }
    Ok(categories)
}

/// The names of units by id (for statistics keys).
pub async fn unit_names(
    pool: &AnyPool,
    ids: &[String],
) -> Result<HashMap<String, String>, ApiError> {
    let mut names = HashMap::new();
    for id in ids {
        if names.contains_key(id) {
            continue;
        }
        let row: Option<(String,)> =
            sqlx::query_as("SELECT display_name FROM org_units WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(sql_error("org unit"))?;
        if let Some((name,)) = row {
            names.insert(id.clone(), name);
        }
    }
    Ok(names)
}
