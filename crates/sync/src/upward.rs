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
use egret_runtime::{ApiError, Principal, Role};
use egret_storage::WriteTx;
use egret_storage::rows::sql_error;
use futures::future::BoxFuture;
use sqlx::{Any, Executor};
use tonic::{Request, Response, Status};

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
}

/// What writes a district's records into a service's own tables.
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
}

/// The applier of a service that takes no records from districts (yet).
pub struct TakesNothing;

impl RecordApplier for TakesNothing {
    fn apply<'a>(
        &'a self,
        _transaction: &'a mut WriteTx,
        _district: &'a District,
        change: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move { Err(not_taken(change)) })
    }
}

/// The refusal of a record kind this instance does not take from districts.
pub fn not_taken(change: &pb::Change) -> ApiError {
    ApiError::Unimplemented(egret_runtime::Bilingual::new(
        format!(
            "this instance does not take {} records from districts yet; the link waits at sequence {}",
            change.resource_type, change.sequence
        ),
        format!(
            "本实例暂不接收区级实例的 {} 记录，同步停在序号 {}",
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

/// Moves `origin`'s checkpoint from `expected` to `last`; false when another batch moved
/// it first.
async fn advance(
    connection: &mut sqlx::AnyConnection,
    origin: &str,
    expected: i64,
    last: i64,
    now: i64,
) -> Result<bool, ApiError> {
    let moved = if expected == 0 {
        sqlx::query(
            "INSERT INTO upstream_checkpoints (origin_instance, last_sequence, update_time) \
             VALUES ($1, $2, $3) ON CONFLICT (origin_instance) DO UPDATE \
             SET last_sequence = excluded.last_sequence, update_time = excluded.update_time \
             WHERE upstream_checkpoints.last_sequence = 0",
        )
        .bind(origin)
        .bind(last)
        .bind(now)
        .execute(&mut *connection)
        .await
    } else {
        sqlx::query(
            "UPDATE upstream_checkpoints SET last_sequence = $3, update_time = $4 \
             WHERE origin_instance = $1 AND last_sequence = $2",
        )
        .bind(origin)
        .bind(expected)
        .bind(last)
        .bind(now)
        .execute(&mut *connection)
        .await
    }
    .map_err(sql_error("upstream checkpoint"))?;
    Ok(moved.rows_affected() == 1)
}

fn check_batch(batch: &pb::PushChangesRequest) -> Result<(), ApiError> {
    if batch.projection != crate::push::UPWARD_PROJECTION {
        return Err(ApiError::invalid(
            "projection",
            format!(
                "{:?} is not a projection this instance takes; it takes {}",
                batch.projection,
                crate::push::UPWARD_PROJECTION
            ),
            format!(
                "本实例不接收投影 {:?}，仅接收 {}",
                batch.projection,
                crate::push::UPWARD_PROJECTION
            ),
        ));
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
        if let Some(pb::record::Kind::Volunteer(volunteer)) = change
            .record
            .as_ref()
            .and_then(|record| record.kind.as_ref())
            && !volunteer.id_number_hash.is_empty()
        {
            return Err(ApiError::invalid(
                format!("changes[{index}].record.volunteer.id_number_hash"),
                "is outside the upward projection: a lookup hash under the district's own key never goes up",
                "超出向上投影范围：区级实例自身密钥下的证件号哈希不得上传",
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
    Ok(())
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
        let Some(instance_id) = district_of(&principal) else {
            return Err(ApiError::permission_denied(
                "only an enrolled district's sync token pushes changes upward",
                "只有已接入区级实例的同步令牌可以向上推送变更",
            )
            .into());
        };
        let served = self.logs.pick(&request)?;
        let batch = request.into_inner();
        check_batch(&batch)?;
        let district = District {
            instance_id: instance_id.to_string(),
            org_unit_id: principal.org_unit.clone(),
        };
        let mut transaction = served
            .database
            .begin(&district.instance_id, &district.instance_id)
            .await?;
        let held = checkpoint(transaction.conn(), &district.instance_id).await?;
        if held != batch.after_sequence {
            return Err(ApiError::OutOfSequence { expected: held }.into());
        }
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
                )
                .into());
            }
            served
                .applier
                .apply(&mut transaction, &district, change)
                .await?;
        }
        let now = transaction.now();
        if !advance(
            transaction.conn(),
            &district.instance_id,
            held,
            batch.last_sequence,
            now,
        )
        .await?
        {
            // Another batch of the same district won the race; it says where to go on.
            let expected = checkpoint(served.database.reader(), &district.instance_id).await?;
            return Err(ApiError::OutOfSequence { expected }.into());
        }
        transaction.commit().await?;
        tracing::debug!(
            origin = %district.instance_id,
            last_sequence = batch.last_sequence,
            changes = batch.changes.len(),
            "applied a district's batch"
        );
        Ok(Response::new(pb::PushChangesResponse {
            acknowledged_sequence: batch.last_sequence,
        }))
    }
}
