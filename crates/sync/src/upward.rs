//! The upward link at the upstream (the city): `egret.sync.v1.UpwardService`, applying a
//! district's batch of one service's changes.
//!
//! A batch applies in one transaction with the district's checkpoint (table
//! `upstream_checkpoints`): every record or none, and the checkpoint moves only with them,
//! so a batch delivered twice changes nothing the second time, and a batch that does not
//! follow the checkpoint is refused with the sequence expected. Only a district's own
//! records go up, and only within its unit's subtree; each service's [`RecordApplier`]
//! writes them into its own tables as read-only copies (their origin stays the district's)
//! and records them in its own change log, so the upstream's followers and statistics
//! take them in like any change.

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::upward_service_server::UpwardService;
use egret_runtime::config::{MAX_LEGAL_BASIS_CHARS, UpwardProjection};
use egret_runtime::{ApiError, Principal, Role};
use egret_storage::WriteTx;
use egret_storage::rows::sql_error;
use futures::future::BoxFuture;
use sqlx::{Any, Executor};
use tonic::{Request, Response, Status};

use crate::RecordChanges;
use crate::server::ChangeLogs;

/// The most changes one batch may carry.
pub const MAX_BATCH: usize = 500;

/// The district a batch comes from, as its sync token says.
#[derive(Debug, Clone)]
pub struct District {
    /// Its instance id, the origin of every record it pushes.
    pub instance_id: String,
    /// Its unit here: everything it pushes lies in that unit's subtree.
    pub org_unit_id: String,
    /// That unit's path here (`/root/…/unit/`), read once per batch.
    pub org_unit_path: String,
}

/// What writes another instance's records into a service's own tables: at the upstream,
/// a district's, pushed up; at a district, the upstream's, pulled down
/// (`crate::downward`), where the [`District`] given names the upstream's instance.
pub trait RecordApplier: Send + Sync + 'static {
    /// Applies one change, made at `district` and owned by it, inside `transaction`
    /// (whose origin is the district). A record kind the service does not take from
    /// districts is refused, never skipped: skipping would move the checkpoint past it.
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        district: &'a District,
        change: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Applies a batch's changes in order, as [`RecordApplier::apply`] does one by one
    /// (the default); a service may read what they refer to and write their rows a
    /// statement for many, as long as every check and the log are as one by one.
    fn apply_all<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        district: &'a District,
        changes: &'a [pb::Change],
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            for change in changes {
                self.apply(transaction, district, change).await?;
            }
            Ok(())
        })
    }

    /// The kinds of record the service takes from districts, each with its table: what a
    /// district's tally counts, and the upstream's copies of them ([`crate::tally`]). None
    /// where nothing is tallied (what comes down).
    fn tallied(&self) -> crate::tally::Tallied {
        &[]
    }

    /// Fills in the personal data of the `full/v1` upward projection in a page of the
    /// service's own log, read by `principal` (the district's upward link), auditing each
    /// record so read; refused unless this instance is configured to send full records.
    /// Services whose records carry no personal data beyond the logged form leave the
    /// page as it is.
    fn disclose<'a>(
        &'a self,
        _database: &'a egret_storage::Database,
        _principal: &'a Principal,
        _changes: &'a mut [pb::Change],
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The refusal of a record kind this instance does not take from districts.
pub fn not_taken(change: &pb::Change) -> ApiError {
    ApiError::Unimplemented(egret_runtime::Bilingual::new(
        format!(
            "this instance does not take {} records from districts; the link waits at sequence {}",
            change.resource_type, change.sequence
        ),
        format!(
            "本实例不接收区级实例的 {} 记录，同步停在序号 {}",
            change.resource_type, change.sequence
        ),
    ))
}

/// The refusal of a record outside the district's subtree.
pub fn outside(district: &District, resource: &str) -> ApiError {
    ApiError::permission_denied(
        format!(
            "{resource} lies outside the subtree of orgUnits/{}, which instance {} serves",
            district.org_unit_id, district.instance_id
        ),
        format!(
            "{resource} 不在实例 {} 所属组织 orgUnits/{} 的范围内",
            district.instance_id, district.org_unit_id
        ),
    )
}

/// The serde form of a change's record, as the owning service wrote it.
pub fn serde_form<T: serde::de::DeserializeOwned>(change: &pb::Change) -> Result<T, ApiError> {
    let record = change
        .record
        .as_ref()
        .ok_or_else(|| crate::follower::corrupt(change, "it carries no record"))?;
    crate::record::serde_form(record).map_err(|error| crate::follower::corrupt(change, error))
}

/// Whether a copy held at `held` may be replaced by one at `version` from `district`:
/// refused when the held record is someone else's, skipped (`Ok(false)`) when it is as
/// new (a batch delivered twice).
pub fn newer(
    held: Option<&egret_types::Meta>,
    version: i64,
    district: &District,
    name: &str,
) -> Result<bool, ApiError> {
    match held {
        Some(held) if held.origin_instance != district.instance_id => Err(outside(district, name)),
        Some(held) => Ok(held.version < version),
        None => Ok(true),
    }
}

/// The change-log operation of writing a copy: an update when one was held.
pub fn operation(held: bool) -> egret_storage::Operation {
    if held {
        egret_storage::Operation::Update
    } else {
        egret_storage::Operation::Create
    }
}

/// Refuses `resource` unless `unit_id` is held here (in this service's `org_units`) within
/// the district's subtree. A unit not held yet is a wait, not a refusal: units come up the
/// registry's link and reach this service through its registry feed, so a record of
/// another service may arrive first; the district resends the batch.
pub async fn require_within(
    transaction: &mut WriteTx,
    district: &District,
    unit_id: &str,
    resource: &str,
) -> Result<(), ApiError> {
    match crate::replica::unit(transaction.conn(), unit_id).await? {
        Some(unit) if unit.path.starts_with(&district.org_unit_path) => Ok(()),
        Some(_) => Err(outside(district, resource)),
        None => Err(not_yet(resource, &format!("orgUnits/{unit_id}"))),
    }
}

/// Takes a district's `change` of a record that hangs off a unit (`unit_of`): decoded,
/// refused unless the unit lies in the district's subtree here, and written as a copy
/// ([`write_copy`]).
pub async fn write_copy_within<T: CopiedRecord>(
    transaction: &mut WriteTx,
    district: &District,
    change: &pb::Change,
    unit_of: fn(&T) -> &str,
) -> Result<(), ApiError> {
    let copy: T = serde_form(change)?;
    require_within(transaction, district, unit_of(&copy), &change.resource_name).await?;
    write_copy(transaction, district, change, copy).await
}

/// Refuses `resource` unless `referent`, which it refers to, is held here (`held`, its
/// bookkeeping) and is the district's own; one not held yet is a wait (see [`not_yet`]).
pub fn require_owned(
    held: Option<&egret_types::Meta>,
    district: &District,
    resource: &str,
    referent: &str,
) -> Result<(), ApiError> {
    match held {
        Some(meta) if meta.origin_instance == district.instance_id => Ok(()),
        Some(_) => Err(outside(district, referent)),
        None => Err(not_yet(resource, referent)),
    }
}

/// The wait for `missing`, which `resource` refers to and which has not reached this
/// instance yet (it comes up another link, or later in this one).
pub fn not_yet(resource: &str, missing: &str) -> ApiError {
    ApiError::Unavailable(egret_runtime::Bilingual::new(
        format!(
            "{resource} refers to {missing}, which has not reached this instance yet; the batch is taken when it has"
        ),
        format!("{resource} 引用的 {missing} 尚未同步到本实例，待其到达后再接收本批"),
    ))
}

/// A record a service takes from districts as a read-only copy, written by
/// [`write_copy`]. Implement it with [`copied_record!`](crate::copied_record).
pub trait CopiedRecord: serde::Serialize + serde::de::DeserializeOwned + Send + Sync {
    /// Its resource type in the change log, `egret.<service>.v1.<Kind>`.
    const RESOURCE_TYPE: &'static str;
    /// Its resource name.
    fn resource_name(&self) -> String;
    /// Its bookkeeping.
    fn meta(&self) -> &egret_types::Meta;
    /// The record held here under the same key, if any.
    fn held<'a>(
        &'a self,
        connection: &'a mut sqlx::AnyConnection,
    ) -> BoxFuture<'a, Result<Option<Self>, ApiError>>
    where
        Self: Sized;
    /// Writes it as it stands over a held copy (see `egret_storage::rows::copy_conflict`).
    fn put_copy<'a>(
        &'a self,
        connection: &'a mut sqlx::AnyConnection,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
}

/// Implements [`CopiedRecord`] for a service's record type:
///
/// ```ignore
/// egret_sync::copied_record! {
///     Activity: "egret.activity.v1.Activity", |record| names::activity(&record.id),
///     held: |connection, record| store::activities::get(connection, &record.id),
///     put: store::activities::put_copy,
/// }
/// ```
#[macro_export]
macro_rules! copied_record {
    ($($type:ty: $resource_type:expr, |$named:ident| $name:expr,
        held: |$connection:ident, $record:ident| $held:expr,
        put: $put:path $(,)?);+ $(;)?) => {$(
        impl $crate::upward::CopiedRecord for $type {
            const RESOURCE_TYPE: &'static str = $resource_type;

            fn resource_name(&self) -> String {
                let $named = self;
                $name
            }

            fn meta(&self) -> &$crate::upward::reexport::Meta {
                &self.meta
            }

            fn held<'a>(
                &'a self,
                connection: &'a mut $crate::upward::reexport::AnyConnection,
            ) -> $crate::upward::reexport::BoxFuture<
                'a,
                Result<Option<Self>, $crate::upward::reexport::ApiError>,
            > {
                let $connection = connection;
                let $record = self;
                Box::pin($held)
            }

            fn put_copy<'a>(
                &'a self,
                connection: &'a mut $crate::upward::reexport::AnyConnection,
            ) -> $crate::upward::reexport::BoxFuture<
                'a,
                Result<(), $crate::upward::reexport::ApiError>,
            > {
                Box::pin($put(connection, self))
            }
        }
    )+};
}

#[doc(hidden)]
pub mod reexport {
    pub use egret_runtime::ApiError;
    pub use egret_types::Meta;
    pub use futures::future::BoxFuture;
    pub use sqlx::AnyConnection;
}

/// Writes `copy`, a district's record, over the one held here, unless that is another
/// origin's (refused) or as new (skipped: a batch delivered twice changes nothing), and
/// records it in this service's change log as the district logged it.
pub async fn write_copy<T: CopiedRecord>(
    transaction: &mut WriteTx,
    district: &District,
    change: &pb::Change,
    copy: T,
) -> Result<(), ApiError> {
    let name = copy.resource_name();
    if name != change.resource_name {
        return Err(crate::follower::corrupt(
            change,
            format!("its record is {name}"),
        ));
    }
    let held = copy.held(transaction.conn()).await?;
    if !newer(
        held.as_ref().map(CopiedRecord::meta),
        copy.meta().version,
        district,
        &name,
    )? {
        return Ok(());
    }
    copy.put_copy(transaction.conn()).await?;
    let before = held
        .as_ref()
        .map(|held| serde_json::to_value(held).map_err(|error| ApiError::Internal(error.into())))
        .transpose()?;
    let after: serde_json::Value = serde_form(change)?;
    transaction.record_diff(
        T::RESOURCE_TYPE,
        name,
        operation(held.is_some()),
        before.as_ref(),
        after,
        &change.reason,
    )
}

/// The subject of a district's sync token: `instances/{instance_id}`.
pub fn district_subject(instance_id: &str) -> String {
    format!("instances/{instance_id}")
}

/// The district instance a principal is, when it is a district's sync token (its subject
/// names the instance, its unit the district's).
pub fn district_of(principal: &Principal) -> Option<&str> {
    principal
        .subject
        .strip_prefix("instances/")
        .filter(|id| !id.is_empty() && !principal.org_unit.is_empty())
}

/// How far `origin`'s log has been applied here (0 before its first batch).
pub async fn checkpoint<'e, E>(executor: E, origin: &str) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT last_sequence FROM upstream_checkpoints WHERE origin_instance = $1")
            .bind(origin)
            .fetch_optional(executor)
            .await
            .map_err(sql_error("upstream checkpoint"))?;
    Ok(row.map_or(0, |(last,)| last))
}

/// Moves `origin`'s checkpoint from `expected` to the batch's last sequence, with the
/// batch's heartbeat; false when another batch moved it first.
async fn advance(
    connection: &mut sqlx::AnyConnection,
    origin: &str,
    expected: i64,
    batch: &pb::PushChangesRequest,
    now: i64,
) -> Result<bool, ApiError> {
    let moved = sqlx::query(
        "INSERT INTO upstream_checkpoints (origin_instance, last_sequence, update_time, \
         head_sequence, heartbeat_time, applied_time, refusal, refusal_time, projection, \
         legal_basis) \
         VALUES ($1, $2, $3, $4, $3, $3, '', 0, $6, $7) ON CONFLICT (origin_instance) DO UPDATE \
         SET last_sequence = excluded.last_sequence, update_time = excluded.update_time, \
         projection = excluded.projection, legal_basis = excluded.legal_basis, \
         head_sequence = excluded.head_sequence, heartbeat_time = excluded.heartbeat_time, \
         applied_time = CASE WHEN excluded.last_sequence > upstream_checkpoints.last_sequence \
         THEN excluded.applied_time ELSE upstream_checkpoints.applied_time END, \
         refusal = '', refusal_time = 0 \
         WHERE upstream_checkpoints.last_sequence = $5",
    )
    .bind(origin)
    .bind(batch.last_sequence)
    .bind(now)
    .bind(batch.head_sequence)
    .bind(expected)
    .bind(&batch.projection)
    .bind(batch.legal_basis.trim())
    .execute(&mut *connection)
    .await
    .map_err(sql_error("upstream checkpoint"))?;
    Ok(moved.rows_affected() == 1)
}

/// Notes a batch that was not applied: a heartbeat all the same, and why, unless it only
/// came out of sequence (the district then resends at once).
async fn note_refusal(
    database: &egret_storage::Database,
    origin: &str,
    head: i64,
    refusal: Option<&str>,
) -> Result<(), ApiError> {
    let mut transaction = database.begin(origin, origin).await?;
    let now = transaction.now();
    sqlx::query(
        "INSERT INTO upstream_checkpoints (origin_instance, last_sequence, update_time, \
         head_sequence, heartbeat_time, applied_time, refusal, refusal_time) \
         VALUES ($1, 0, $2, $3, $2, 0, $4, $5) ON CONFLICT (origin_instance) DO UPDATE \
         SET head_sequence = excluded.head_sequence, heartbeat_time = excluded.heartbeat_time, \
         refusal = CASE WHEN excluded.refusal_time > 0 THEN excluded.refusal \
         ELSE upstream_checkpoints.refusal END, \
         refusal_time = CASE WHEN excluded.refusal_time > 0 THEN excluded.refusal_time \
         ELSE upstream_checkpoints.refusal_time END",
    )
    .bind(origin)
    .bind(now)
    .bind(head)
    .bind(refusal.unwrap_or_default())
    .bind(if refusal.is_some() { now } else { 0 })
    .execute(transaction.conn())
    .await
    .map_err(sql_error("upstream checkpoint"))?;
    transaction.commit().await.map(drop)
}

/// How long a link may go without a heartbeat, or with changes waiting and none applied,
/// before it counts as stalled.
pub const STALL_AFTER: std::time::Duration = std::time::Duration::from_secs(120);

/// What the upstream knows of one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    /// The district.
    pub origin_instance: String,
    /// The checkpoint.
    pub acknowledged_sequence: i64,
    /// The district's head at its last heartbeat.
    pub head_sequence: i64,
    /// Microseconds.
    pub heartbeat_time: i64,
    /// When the checkpoint last moved forward (microseconds).
    pub applied_time: i64,
    /// Why the last batch was refused; empty after an applied one.
    pub refusal: String,
    /// The sequence at which the district's last tally agreed with the copies here.
    pub verified_sequence: i64,
    /// When a tally was last compared (microseconds), 0 before.
    pub tally_time: i64,
    /// How the last tally disagreed; empty when it agreed.
    pub mismatch: String,
    /// The projection of the last applied batch.
    pub projection: String,
    /// With full records, the legal basis the district gave.
    pub legal_basis: String,
}

/// How a link keeps up, `now` (microseconds): refused, diverged and stalled are alarms.
pub fn link_state(facts: &LinkFacts, now: i64) -> pb::LinkState {
    let stall = STALL_AFTER.as_micros() as i64;
    if !facts.refusal.is_empty() {
        return pb::LinkState::Refused;
    }
    if !facts.mismatch.is_empty() {
        return pb::LinkState::Mismatched;
    }
    if facts.head_sequence < facts.acknowledged_sequence {
        return pb::LinkState::Diverged;
    }
    if now - facts.heartbeat_time > stall {
        return pb::LinkState::Stalled;
    }
    if facts.acknowledged_sequence < facts.head_sequence {
        // A healthy link works a backlog off batch by batch, each moving the checkpoint.
        if now - facts.applied_time > stall {
            return pb::LinkState::Stalled;
        }
        return pb::LinkState::Behind;
    }
    pb::LinkState::Ok
}

/// How often [`spawn_link_watch`] looks at the links.
pub const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a link in `state` is an alarm.
pub fn is_alarm(state: pb::LinkState) -> bool {
    matches!(
        state,
        pb::LinkState::Stalled
            | pb::LinkState::Refused
            | pb::LinkState::Diverged
            | pb::LinkState::Mismatched
    )
}

/// The links whose state, at `now`, turned into an alarm or out of one since `known` (the
/// states last seen, by district; a district not seen counts as not alarmed), which it
/// updates.
pub fn alarm_changes(
    known: &mut std::collections::HashMap<String, pb::LinkState>,
    facts: &[LinkFacts],
    now: i64,
) -> Vec<(String, pb::LinkState)> {
    let mut changed = Vec::new();
    for link in facts {
        let state = link_state(link, now);
        let before = known
            .insert(link.origin_instance.clone(), state)
            .unwrap_or(pb::LinkState::Ok);
        if is_alarm(state) != is_alarm(before) {
            changed.push((link.origin_instance.clone(), state));
        }
    }
    changed
}

/// The health name of the districts' links at an upstream: SERVING while no link of any
/// service served on the host is in alarm, NOT_SERVING while one is.
pub const DISTRICTS_HEALTH: &str = "districts";

/// Watches the districts' links of every service of `logs` every [`WATCH_INTERVAL`] until
/// `shutdown`: a link that turns stalled, refused, diverged or mismatched is a warning in
/// the log (a refusal is also logged when it happens), and its recovery a note; each
/// link's state is a metric ([`crate::metrics`]), and whether any is in alarm is the
/// health of [`DISTRICTS_HEALTH`].
pub(crate) fn spawn_link_watch(
    logs: ChangeLogs,
    health: tonic_health::server::HealthReporter,
    shutdown: egret_runtime::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut known: std::collections::HashMap<&'static str, _> =
            std::collections::HashMap::new();
        let mut alarmed = None;
        loop {
            let mut any_alarm = false;
            let now = egret_types::now_micros();
            for (service, database) in logs.databases() {
                let facts = match links(database.reader(), "", 1_000).await {
                    Ok(facts) => facts,
                    Err(error) => {
                        tracing::debug!(service, %error, "reading the districts' links failed");
                        continue;
                    }
                };
                for link in &facts {
                    crate::metrics::note_link(service, link, now);
                    any_alarm |= is_alarm(link_state(link, now));
                }
                for (origin, state) in alarm_changes(known.entry(service).or_default(), &facts, now)
                {
                    if is_alarm(state) {
                        tracing::warn!(
                            service,
                            origin,
                            state = state.as_str_name(),
                            "a district's link is in alarm"
                        );
                    } else {
                        tracing::info!(
                            service,
                            origin,
                            state = state.as_str_name(),
                            "a district's link recovered"
                        );
                    }
                }
            }
            if alarmed != Some(any_alarm) {
                let status = if any_alarm {
                    tonic_health::ServingStatus::NotServing
                } else {
                    tonic_health::ServingStatus::Serving
                };
                health.set_service_status(DISTRICTS_HEALTH, status).await;
                alarmed = Some(any_alarm);
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
            }
        }
    })
}

/// The links known here, by district, after `after`.
pub async fn links<'e, E>(executor: E, after: &str, limit: i64) -> Result<Vec<LinkFacts>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(
        "SELECT origin_instance, last_sequence, head_sequence, heartbeat_time, applied_time, \
         refusal, verified_sequence, tally_time, mismatch, projection, legal_basis \
         FROM upstream_checkpoints \
         WHERE origin_instance > $1 ORDER BY origin_instance LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("upstream checkpoint"))?;
    rows.iter()
        .map(|row| {
            use egret_storage::rows::column;
            Ok(LinkFacts {
                origin_instance: column(row, "origin_instance")?,
                acknowledged_sequence: column(row, "last_sequence")?,
                head_sequence: column(row, "head_sequence")?,
                heartbeat_time: column(row, "heartbeat_time")?,
                applied_time: column(row, "applied_time")?,
                refusal: column(row, "refusal")?,
                verified_sequence: column(row, "verified_sequence")?,
                tally_time: column(row, "tally_time")?,
                mismatch: column(row, "mismatch")?,
                projection: column(row, "projection")?,
                legal_basis: column(row, "legal_basis")?,
            })
        })
        .collect()
}

fn check_batch(batch: &pb::PushChangesRequest) -> Result<(), ApiError> {
    let Some(projection) = UpwardProjection::parse(&batch.projection) else {
        return Err(ApiError::invalid(
            "projection",
            format!(
                "{:?} is not a projection this instance takes; it takes minimal/v1 or full/v1",
                batch.projection
            ),
            format!(
                "本实例不接收投影 {:?}，仅接收 minimal/v1 或 full/v1",
                batch.projection
            ),
        ));
    };
    let basis = batch.legal_basis.trim();
    match projection {
        UpwardProjection::Full
            if basis.is_empty() || basis.chars().count() > MAX_LEGAL_BASIS_CHARS =>
        {
            return Err(ApiError::invalid(
                "legal_basis",
                format!(
                    "full/v1 carries ID numbers and contacts: give the legal basis for sending them, at most {MAX_LEGAL_BASIS_CHARS} characters"
                ),
                format!(
                    "full/v1 含证件号码与联系方式：须说明上传的法律依据，不超过 {MAX_LEGAL_BASIS_CHARS} 个字符"
                ),
            ));
        }
        UpwardProjection::Minimal if !basis.is_empty() => {
            return Err(ApiError::invalid(
                "legal_basis",
                "is only sent with full/v1",
                "仅在投影为 full/v1 时填写",
            ));
        }
        _ => {}
    }
    if batch.changes.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "changes",
            format!("a batch carries at most {MAX_BATCH} changes"),
            format!("每批最多 {MAX_BATCH} 条变更"),
        ));
    }
    if batch.after_sequence < 0 || batch.last_sequence < batch.after_sequence {
        return Err(ApiError::invalid(
            "last_sequence",
            "must not be below after_sequence, and neither below 0",
            "last_sequence 不能小于 after_sequence，且均不能为负",
        ));
    }
    let mut previous = batch.after_sequence;
    for (index, change) in batch.changes.iter().enumerate() {
        if let Some(field) = outside_projection(change, projection) {
            return Err(ApiError::invalid(
                format!("changes[{index}].record.{field}"),
                format!(
                    "is outside the upward projection {}: {}",
                    projection.as_str(),
                    if field.ends_with("id_number_hash") {
                        "a lookup hash under the district's own key never goes up"
                    } else {
                        "minimal/v1 carries no plaintext ID number and only masked contacts"
                    }
                ),
                format!(
                    "超出向上投影 {} 的范围：{}",
                    projection.as_str(),
                    if field.ends_with("id_number_hash") {
                        "区级实例自身密钥下的证件号哈希不得上传"
                    } else {
                        "minimal/v1 不含证件号码明文，联系方式须脱敏"
                    }
                ),
            ));
        }
        if change.sequence <= previous || change.sequence > batch.last_sequence {
            return Err(ApiError::invalid(
                "changes",
                "must be in increasing sequence order, after after_sequence and up to last_sequence",
                "变更须按序号递增，且位于 after_sequence 与 last_sequence 之间",
            ));
        }
        previous = change.sequence;
    }
    if let Some(tally) = &batch.tally {
        let bounded = tally.kinds.len() <= crate::tally::MAX_KINDS
            && tally.kinds.iter().all(|kind| {
                kind.resource_type.len() <= 100 && kind.records >= 0 && kind.version_sum >= 0
            });
        if !bounded || tally.sequence < 0 || tally.sequence > batch.last_sequence {
            return Err(ApiError::invalid(
                "tally",
                format!(
                    "must be at a sequence up to last_sequence, with at most {} kinds of names up to 100 bytes and no negative counts",
                    crate::tally::MAX_KINDS
                ),
                format!(
                    "tally 的序号不能超过 last_sequence，至多 {} 类、类名不超过 100 字节，计数不能为负",
                    crate::tally::MAX_KINDS
                ),
            ));
        }
    }
    Ok(())
}

/// The first field of `change`'s record outside `projection`, as a path below `record`:
/// a lookup hash under the district's own key is outside both; a plaintext ID number or
/// an unmasked contact (one neither empty nor masked) is outside `minimal/v1`.
fn outside_projection(change: &pb::Change, projection: UpwardProjection) -> Option<String> {
    let minimal = projection == UpwardProjection::Minimal;
    let unmasked = |value: &str| minimal && !value.is_empty() && !value.contains('*');
    match change.record.as_ref()?.kind.as_ref()? {
        pb::record::Kind::Volunteer(volunteer) => {
            if !volunteer.id_number_hash.is_empty() {
                return Some("volunteer.id_number_hash".to_string());
            }
            if minimal && !volunteer.id_number.is_empty() {
                return Some("volunteer.id_number".to_string());
            }
            let contact = volunteer
                .emergency_contact
                .as_ref()
                .map_or("", |contact| contact.phone.as_str());
            [
                ("phone", volunteer.phone.as_str()),
                ("email", volunteer.email.as_str()),
                ("emergency_contact.phone", contact),
            ]
            .into_iter()
            .find(|(_, value)| unmasked(value))
            .map(|(field, _)| format!("volunteer.{field}"))
        }
        pb::record::Kind::RegistrationForm(form) => {
            if unmasked(&form.phone) {
                return Some("registration_form.phone".to_string());
            }
            if unmasked(&form.email) {
                return Some("registration_form.email".to_string());
            }
            form.key_members
                .iter()
                .enumerate()
                .find_map(|(index, member)| {
                    [("phone", &member.phone), ("email", &member.email)]
                        .into_iter()
                        .find(|(_, value)| unmasked(value))
                        .map(|(field, _)| format!("registration_form.key_members[{index}].{field}"))
                })
        }
        _ => None,
    }
}

/// Applies `batch` from `district` with its checkpoint, all or nothing; with a tally at
/// the batch's last sequence, compares it with the copies held here. Answers how far the
/// copies were last proven to agree, and how they disagreed.
async fn apply_batch(
    served: &crate::server::ServedLog,
    district: &District,
    batch: &pb::PushChangesRequest,
) -> Result<(i64, String), ApiError> {
    let mut transaction = served
        .database
        .begin(&district.instance_id, &district.instance_id)
        .await?;
    let link: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT last_sequence, projection, legal_basis FROM upstream_checkpoints \
         WHERE origin_instance = $1",
    )
    .bind(&district.instance_id)
    .fetch_optional(transaction.conn())
    .await
    .map_err(sql_error("upstream checkpoint"))?;
    let held = link.as_ref().map_or(0, |(last, _, _)| *last);
    if held != batch.after_sequence {
        return Err(ApiError::OutOfSequence { expected: held });
    }
    let terms = link.map(|(_, projection, basis)| (projection, basis));
    for change in &batch.changes {
        if change.origin_instance != district.instance_id {
            return Err(ApiError::permission_denied(
                format!(
                    "{} belongs to instance {:?}; instance {} pushes only its own records",
                    change.resource_name, change.origin_instance, district.instance_id
                ),
                format!(
                    "{} 属于实例 {:?}，实例 {} 只能推送自己的记录",
                    change.resource_name, change.origin_instance, district.instance_id
                ),
            ));
        }
    }
    served
        .applier
        .apply_all(&mut transaction, district, &batch.changes)
        .await?;
    let now = transaction.now();
    if !advance(transaction.conn(), &district.instance_id, held, batch, now).await? {
        // Another batch of the same district won the race; it says where to go on.
        let expected = checkpoint(served.database.reader(), &district.instance_id).await?;
        return Err(ApiError::OutOfSequence { expected });
    }
    if let Some(tally) = batch
        .tally
        .as_ref()
        .filter(|tally| tally.sequence == batch.last_sequence)
    {
        compare_tally(&mut transaction, served, district, tally).await?;
    }
    let verdict: (i64, String) = sqlx::query_as(
        "SELECT verified_sequence, mismatch FROM upstream_checkpoints WHERE origin_instance = $1",
    )
    .bind(&district.instance_id)
    .fetch_one(transaction.conn())
    .await
    .map_err(sql_error("upstream checkpoint"))?;
    transaction.commit().await?;
    let legal_basis = batch.legal_basis.trim();
    if terms
        .is_none_or(|(projection, basis)| projection != batch.projection || basis != legal_basis)
    {
        // What a district sends of personal data is a choice the city answers for.
        tracing::info!(
            origin = %district.instance_id,
            projection = %batch.projection,
            legal_basis,
            "a district's upward projection is recorded"
        );
    }
    Ok(verdict)
}

/// Counts the copies of `district`'s records held here, inside the transaction that
/// leaves its checkpoint at `tally`'s sequence, and notes whether they agree with it.
async fn compare_tally(
    transaction: &mut WriteTx,
    served: &crate::server::ServedLog,
    district: &District,
    tally: &pb::RecordTally,
) -> Result<(), ApiError> {
    let ours = crate::tally::count(
        transaction.conn(),
        served.applier.tallied(),
        &district.instance_id,
    )
    .await?;
    let mismatch = crate::tally::mismatch(&tally.kinds, &ours);
    tracing::debug!(
        origin = %district.instance_id,
        sequence = tally.sequence,
        agrees = mismatch.is_empty(),
        "compared a district's tally"
    );
    if !mismatch.is_empty() {
        tracing::warn!(
            origin = %district.instance_id,
            sequence = tally.sequence,
            %mismatch,
            "a district's records and their copies here disagree"
        );
    }
    let now = transaction.now();
    sqlx::query(
        "UPDATE upstream_checkpoints SET tally_sequence = $2, tally_time = $3, mismatch = $4, \
         verified_sequence = CASE WHEN $4 = '' THEN $2 ELSE verified_sequence END \
         WHERE origin_instance = $1",
    )
    .bind(&district.instance_id)
    .bind(tally.sequence)
    .bind(now)
    .bind(&mismatch)
    .execute(transaction.conn())
    .await
    .map_err(sql_error("upstream checkpoint"))?;
    Ok(())
}

/// The district a sync call comes from, with its unit as `served` holds it; refused
/// unless the caller holds an enrolled district's sync token (`doing`: what only such a
/// token does, in English and Chinese).
pub(crate) async fn calling_district(
    principal: &Principal,
    served: &crate::server::ServedLog,
    (doing, doing_zh): (&str, &str),
) -> Result<District, ApiError> {
    let Some(instance_id) = district_of(principal) else {
        return Err(ApiError::permission_denied(
            format!("only an enrolled district's sync token {doing}"),
            format!("只有已接入区级实例的同步令牌可以{doing_zh}"),
        ));
    };
    let unit = crate::replica::unit(served.database.reader(), &principal.org_unit)
        .await?
        // The unit reaches each service here through its registry feed, maybe after the
        // district's first call: a wait, which the district retries.
        .ok_or_else(|| {
            not_yet(
                &format!("the link of instance {instance_id}"),
                &format!("orgUnits/{}", principal.org_unit),
            )
        })?;
    Ok(District {
        instance_id: instance_id.to_string(),
        org_unit_id: unit.id,
        org_unit_path: unit.path,
    })
}

/// The server of `egret.sync.v1.UpwardService`.
pub(crate) struct UpwardApi {
    logs: ChangeLogs,
}

impl UpwardApi {
    pub(crate) fn new(logs: ChangeLogs) -> Self {
        Self { logs }
    }
}

#[tonic::async_trait]
impl UpwardService for UpwardApi {
    async fn push_changes(
        &self,
        request: Request<pb::PushChangesRequest>,
    ) -> Result<Response<pb::PushChangesResponse>, Status> {
        let principal = Principal::of(&request)?;
        principal.require_any(&[Role::Sync], "pushing changes upward")?;
        let served = self.logs.pick(&request)?;
        let district = calling_district(
            &principal,
            &served,
            ("pushes changes upward", "向上推送变更"),
        )
        .await?;
        let batch = request.into_inner();
        check_batch(&batch)?;
        let applied = apply_batch(&served, &district, &batch).await;
        if let Err(error) = &applied {
            let refusal = match error {
                // Neither is a refusal: the district resends from the sequence expected,
                // or once what the batch refers to has arrived.
                ApiError::OutOfSequence { .. } | ApiError::Unavailable(_) => None,
                ApiError::Internal(_) => {
                    Some("an internal error here (see this instance's log)".to_string())
                }
                other => Some(other.to_string()),
            };
            if let Some(refusal) = &refusal {
                tracing::warn!(
                    origin = %district.instance_id,
                    %refusal,
                    "refused a district's batch; its link waits"
                );
            }
            if let Err(noting) = note_refusal(
                &served.database,
                &district.instance_id,
                batch.head_sequence,
                refusal.as_deref(),
            )
            .await
            {
                tracing::warn!(error = %noting, "could not note a district's unapplied batch");
            }
        }
        let (verified_sequence, mismatch) = applied?;
        tracing::debug!(
            origin = %district.instance_id,
            last_sequence = batch.last_sequence,
            changes = batch.changes.len(),
            "applied a district's batch"
        );
        Ok(Response::new(pb::PushChangesResponse {
            acknowledged_sequence: batch.last_sequence,
            verified_sequence,
            mismatch,
        }))
    }

    async fn list_upstream_links(
        &self,
        request: Request<pb::ListUpstreamLinksRequest>,
    ) -> Result<Response<pb::ListUpstreamLinksResponse>, Status> {
        let principal = Principal::of(&request)?;
        principal.require_any(
            &[Role::Admin, Role::Staff, Role::Viewer],
            "reading the state of sync links",
        )?;
        let service = request
            .metadata()
            .get(crate::SERVICE_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let served = self.logs.pick(&request)?;
        let message = request.get_ref();
        let page =
            egret_runtime::PageRequest::standard(message.page_size, &message.page_token, "")?;
        let mut found = links(
            served.database.reader(),
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut found, |link| link.origin_instance.clone());
        let now = egret_types::now_micros();
        let links = found
            .iter()
            .map(|facts| {
                let state = link_state(facts, now);
                pb::UpstreamLink {
                    origin_instance: facts.origin_instance.clone(),
                    service: service.clone(),
                    acknowledged_sequence: facts.acknowledged_sequence,
                    head_sequence: facts.head_sequence,
                    heartbeat_time: (facts.heartbeat_time > 0)
                        .then(|| egret_runtime::wire::timestamp(facts.heartbeat_time)),
                    applied_time: (facts.applied_time > 0)
                        .then(|| egret_runtime::wire::timestamp(facts.applied_time)),
                    state: state as i32,
                    refusal: facts.refusal.clone(),
                    verified_sequence: facts.verified_sequence,
                    tally_time: (facts.tally_time > 0)
                        .then(|| egret_runtime::wire::timestamp(facts.tally_time)),
                    mismatch: facts.mismatch.clone(),
                    projection: facts.projection.clone(),
                    legal_basis: facts.legal_basis.clone(),
                }
            })
            .collect();
        Ok(Response::new(pb::ListUpstreamLinksResponse {
            links,
            next_page_token,
        }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn alarms_are_reported_when_they_begin_and_end() {
        let stall = super::STALL_AFTER.as_micros() as i64;
        let now = 10 * stall;
        let link = |origin: &str, heartbeat_time: i64| super::LinkFacts {
            origin_instance: origin.to_string(),
            acknowledged_sequence: 5,
            head_sequence: 5,
            heartbeat_time,
            applied_time: heartbeat_time,
            refusal: String::new(),
            verified_sequence: 0,
            tally_time: 0,
            mismatch: String::new(),
            projection: "minimal/v1".to_string(),
            legal_basis: String::new(),
        };
        let mut known = std::collections::HashMap::new();
        let stalled = [link("xm-siming", now - 2 * stall), link("xm-huli", now)];
        assert_eq!(
            super::alarm_changes(&mut known, &stalled, now),
            [("xm-siming".to_string(), pb::LinkState::Stalled)]
        );
        assert!(super::alarm_changes(&mut known, &stalled, now).is_empty());
        let recovered = [link("xm-siming", now), link("xm-huli", now)];
        assert_eq!(
            super::alarm_changes(&mut known, &recovered, now),
            [("xm-siming".to_string(), pb::LinkState::Ok)]
        );
    }

    use super::*;

    const SECOND: i64 = 1_000_000;

    fn facts(acknowledged: i64, head: i64, heartbeat: i64, applied: i64) -> LinkFacts {
        LinkFacts {
            origin_instance: "xm-siming".to_string(),
            acknowledged_sequence: acknowledged,
            head_sequence: head,
            heartbeat_time: heartbeat * SECOND,
            applied_time: applied * SECOND,
            refusal: String::new(),
            verified_sequence: 0,
            tally_time: 0,
            mismatch: String::new(),
            projection: "minimal/v1".to_string(),
            legal_basis: String::new(),
        }
    }

    #[test]
    fn a_link_is_ok_only_when_proven_caught_up_and_alive() {
        let now = 1_000 * SECOND;
        let cases = [
            (
                "caught up, heartbeat now",
                facts(10, 10, 1_000, 900),
                pb::LinkState::Ok,
            ),
            (
                "changes waiting, progress now",
                facts(5, 10, 1_000, 999),
                pb::LinkState::Behind,
            ),
            (
                "changes waiting, none applied for long",
                facts(5, 10, 1_000, 500),
                pb::LinkState::Stalled,
            ),
            (
                "heartbeats stopped",
                facts(10, 10, 800, 800),
                pb::LinkState::Stalled,
            ),
            (
                "the district's head went back",
                facts(10, 4, 1_000, 900),
                pb::LinkState::Diverged,
            ),
            (
                "refused",
                LinkFacts {
                    refusal: "unimplemented".to_string(),
                    ..facts(5, 10, 1_000, 999)
                },
                pb::LinkState::Refused,
            ),
            (
                "caught up, but the copies disagree with the district's tally",
                LinkFacts {
                    mismatch: "egret.registry.v1.Volunteer: …".to_string(),
                    ..facts(10, 10, 1_000, 900)
                },
                pb::LinkState::Mismatched,
            ),
        ];
        for (name, facts, expected) in cases {
            assert_eq!(link_state(&facts, now), expected, "{name}");
        }
    }
}
