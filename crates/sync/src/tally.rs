//! Tallies of the records an instance owns: per kind, how many and the sum of their
//! versions, at one sequence of its change log.
//!
//! Sequences prove that every change of a district reached the city; a tally proves that
//! the city holds what those changes made. A district that is caught up sends one in a
//! heartbeat now and then; the city counts its copies of that district's records in the
//! transaction that leaves its checkpoint at the tally's sequence, and a disagreement is an
//! alarm (`LINK_STATE_MISMATCHED`). Counting reads every record of the tallied kinds, so a
//! service takes at most one tally a second ([`TallyCache`]) and a district asks for one
//! only every `gateway.tally_interval`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use egret_proto::sync::v1 as pb;
use egret_runtime::ApiError;
use egret_storage::rows::sql_error;
use sqlx::AnyConnection;

/// The kinds of record a service tallies, each with the table that holds them: the kinds
/// its records go upward as.
pub type Tallied = &'static [(&'static str, &'static str)];

/// Counts `origin`'s records of each kind in `tallied`.
pub async fn count(
    connection: &mut AnyConnection,
    tallied: Tallied,
    origin: &str,
) -> Result<Vec<pb::KindTally>, ApiError> {
    let mut kinds = Vec::with_capacity(tallied.len());
    for (resource_type, table) in tallied {
        // The table name is one of the service's own constants, never input.
        let (records, version_sum): (i64, i64) = sqlx::query_as(&format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM {table} \
             WHERE origin_instance = $1"
        ))
        .bind(origin)
        .fetch_one(&mut *connection)
        .await
        .map_err(sql_error("record tally"))?;
        kinds.push(pb::KindTally {
            resource_type: (*resource_type).to_string(),
            records,
            version_sum,
        });
    }
    Ok(kinds)
}

/// How many times [`own_tally`] tries for a head that stands still.
const ATTEMPTS: usize = 5;

/// The tally of `origin`'s own records in `database` at the head of its log, or None when
/// writes kept moving the head. Each writing transaction moves the head as its last
/// statement, so counts read between two reads of the same head saw no commit between them
/// and hold exactly the changes up to it, on either engine, without a snapshot.
pub async fn own_tally(
    database: &egret_storage::Database,
    tallied: Tallied,
    origin: &str,
) -> Result<Option<pb::RecordTally>, ApiError> {
    let mut connection = database
        .reader()
        .acquire()
        .await
        .map_err(sql_error("record tally"))?;
    for _ in 0..ATTEMPTS {
        let before = head(&mut connection).await?;
        let kinds = count(&mut connection, tallied, origin).await?;
        if head(&mut connection).await? == before {
            return Ok(Some(pb::RecordTally {
                sequence: before,
                kinds,
            }));
        }
    }
    Ok(None)
}

async fn head(connection: &mut AnyConnection) -> Result<i64, ApiError> {
    let (head,): (i64,) = sqlx::query_as("SELECT last_sequence FROM change_log_head WHERE id = 1")
        .fetch_one(&mut *connection)
        .await
        .map_err(sql_error("change log head"))?;
    Ok(head)
}

/// How `theirs` (a district's tally) and `ours` (the copies held here) disagree, kind by
/// kind; empty when they agree.
pub fn mismatch(theirs: &[pb::KindTally], ours: &[pb::KindTally]) -> String {
    let by_kind = |tally: &[pb::KindTally]| {
        tally
            .iter()
            .map(|kind| (kind.resource_type.clone(), (kind.records, kind.version_sum)))
            .collect::<BTreeMap<_, _>>()
    };
    let (theirs, ours) = (by_kind(theirs), by_kind(ours));
    let mut kinds: Vec<&String> = theirs.keys().chain(ours.keys()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .filter_map(|kind| {
            let district = theirs.get(kind).copied().unwrap_or_default();
            let held = ours.get(kind).copied().unwrap_or_default();
            (district != held).then(|| {
                format!(
                    "{kind}: the district has {} (versions {}), here {} (versions {})",
                    district.0, district.1, held.0, held.1
                )
            })
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The most kinds a tally may name.
pub const MAX_KINDS: usize = 64;

/// The last tally a service took, handed out again to calls within [`TallyCache::REUSE`].
#[derive(Clone, Default)]
pub(crate) struct TallyCache {
    last: std::sync::Arc<std::sync::Mutex<Option<(Instant, pb::RecordTally)>>>,
}

impl TallyCache {
    /// How long a tally is handed out again instead of counting anew.
    pub(crate) const REUSE: Duration = Duration::from_secs(1);

    /// The last tally, when taken within [`Self::REUSE`].
    pub(crate) fn fresh(&self) -> Option<pb::RecordTally> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .filter(|(taken, _)| taken.elapsed() < Self::REUSE)
            .map(|(_, tally)| tally.clone())
    }

    pub(crate) fn keep(&self, tally: &pb::RecordTally) {
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), tally.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(resource_type: &str, records: i64, version_sum: i64) -> pb::KindTally {
        pb::KindTally {
            resource_type: resource_type.to_string(),
            records,
            version_sum,
        }
    }

    #[test]
    fn a_mismatch_names_each_kind_that_differs() {
        let unit = "egret.registry.v1.OrgUnit";
        let volunteer = "egret.registry.v1.Volunteer";
        let cases = [
            (
                "the same",
                vec![kind(unit, 3, 5)],
                vec![kind(unit, 3, 5)],
                "",
            ),
            (
                "one missing here",
                vec![kind(unit, 3, 5), kind(volunteer, 2, 2)],
                vec![kind(unit, 3, 5), kind(volunteer, 1, 1)],
                "egret.registry.v1.Volunteer: the district has 2 (versions 2), here 1 (versions 1)",
            ),
            (
                "an older version here",
                vec![kind(unit, 3, 6)],
                vec![kind(unit, 3, 5)],
                "egret.registry.v1.OrgUnit: the district has 3 (versions 6), here 3 (versions 5)",
            ),
            (
                "a kind the district does not name",
                vec![],
                vec![kind(unit, 1, 1)],
                "egret.registry.v1.OrgUnit: the district has 0 (versions 0), here 1 (versions 1)",
            ),
            (
                "a kind with none on either side",
                vec![kind(unit, 0, 0)],
                vec![],
                "",
            ),
        ];
        for (name, theirs, ours, expected) in cases {
            assert_eq!(mismatch(&theirs, &ours), expected, "{name}");
        }
    }
}
