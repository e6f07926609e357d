//! Rule sets: read by anyone signed in, created and revised by admins of a root unit.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Database, Operation};
use egret_sync::RecordChanges;
use egret_types::CivilDate;

use super::Recognition;
use crate::domain::access::{self, Action};
use crate::domain::names;
use crate::domain::rules::{self, BuiltIn, RuleSet, Rules};
use crate::store;

const RULE_SET_TYPE: &str = "egret.recognition.v1.RuleSet";

/// The fields of a rule set revision as a caller gives them.
#[derive(Debug, Clone)]
pub struct RuleSetFields {
    /// Display name.
    pub display_name: String,
    /// Jurisdiction.
    pub jurisdiction: String,
    /// First day in force.
    pub effective_date: CivilDate,
    /// The rules.
    pub rules: Rules,
    /// Source and remarks.
    pub notes: String,
}

/// Adds the shipped rule sets (revision 1) where they are missing; an admin's later
/// revisions are left as they are.
pub async fn seed_built_in_rule_sets(database: &Database, instance_id: &str) -> anyhow::Result<()> {
    for BuiltIn {
        id,
        display_name,
        jurisdiction,
        rules,
        notes,
    } in rules::built_in()
    {
        if store::rules::latest(database.reader(), id).await?.is_some() {
            continue;
        }
        let mut transaction = database.begin(crate::feeds::ACTOR, instance_id).await?;
        let rule_set = RuleSet {
            id: id.to_string(),
            revision: 1,
            display_name: display_name.to_string(),
            jurisdiction: jurisdiction.to_string(),
            effective_date: rules::built_in_effective_date(),
            rules,
            built_in: true,
            notes: notes.to_string(),
            meta: transaction.new_meta(),
        };
        match store::rules::insert(transaction.conn(), &rule_set).await {
            // Another process seeded it first.
            Err(ApiError::AlreadyExists { .. }) => continue,
            other => other?,
        }
        transaction.record_diff(
            RULE_SET_TYPE,
            names::rule_set(id),
            Operation::Create,
            None,
            serde_json::to_value(&rule_set).expect("rule sets serialize"),
            "shipped with Egret",
        )?;
        transaction.commit().await?;
    }
    Ok(())
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(names::rule_set(id))
}

impl Recognition {
    /// The configured rule set at the revision in force on `date`.
    pub async fn rules_in_force(&self, date: CivilDate) -> Result<RuleSet, ApiError> {
        let id = &self.settings.rule_set;
        store::rules::in_force(self.database.reader(), id, date)
            .await?
            .ok_or_else(|| {
                ApiError::failed_precondition(
                    format!(
                        "no revision of the configured rule set {id:?} (recognition.rule_set) is in force on {date}"
                    ),
                    format!("配置的星级评定规则 {id:?} 在 {date} 没有生效的版本"),
                )
            })
    }

    /// The configured rule set in force on `date`, for a caller.
    pub async fn get_rules_in_force(
        &self,
        principal: &Principal,
        date: CivilDate,
    ) -> Result<RuleSet, ApiError> {
        access::require(principal, Action::ReadRules)?;
        self.rules_in_force(date).await
    }

    /// A rule set at `revision`, or the one in force today when 0.
    pub async fn get_rule_set(
        &self,
        principal: &Principal,
        id: &str,
        revision: i64,
    ) -> Result<RuleSet, ApiError> {
        access::require(principal, Action::ReadRules)?;
        let found = if revision == 0 {
            match store::rules::in_force(self.database.reader(), id, egret_runtime::wire::today())
                .await?
            {
                Some(found) => Some(found),
                // Not in force yet: the newest revision says what is coming.
                None => store::rules::latest(self.database.reader(), id).await?,
            }
        } else {
            store::rules::get(self.database.reader(), id, revision).await?
        };
        found.ok_or_else(|| not_found(id))
    }

    /// Rule sets at their newest revision.
    pub async fn list_rule_sets(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> Result<(Vec<RuleSet>, String), ApiError> {
        access::require(principal, Action::ReadRules)?;
        let mut rows = store::rules::list_latest(
            self.database.reader(),
            page.after.as_deref().unwrap_or(""),
            page.fetch_limit(),
        )
        .await?;
        let token = page.finish(&mut rows, |rule_set| rule_set.id.clone());
        Ok((rows, token))
    }

    /// Every revision of a rule set, newest first.
    pub async fn list_rule_set_revisions(
        &self,
        principal: &Principal,
        id: &str,
        page: &PageRequest,
    ) -> Result<(Vec<RuleSet>, String), ApiError> {
        access::require(principal, Action::ReadRules)?;
        let before = match page.after.as_deref() {
            Some(after) => after
                .parse::<i64>()
                .map_err(|_| ApiError::invalid("page_token", "is not valid", "分页标记无效"))?,
            None => i64::MAX,
        };
        let mut rows =
            store::rules::list_revisions(self.database.reader(), id, before, page.fetch_limit())
                .await?;
        if rows.is_empty() && before == i64::MAX {
            return Err(not_found(id));
        }
        let token = page.finish(&mut rows, |rule_set| rule_set.revision.to_string());
        Ok((rows, token))
    }

    /// Rules are the whole instance's: only an admin of a root unit changes them.
    async fn require_rule_admin(&self, principal: &Principal) -> Result<(), ApiError> {
        access::require(principal, Action::ManageRules)?;
        if self.downward.is_some() {
            return Err(ApiError::failed_precondition(
                "a district's rule sets are the city's, and come down from it (instance.upstream); change them there",
                "区级实例的评定规则由市级实例下发，请在市级实例修改",
            ));
        }
        let scope = self.scope(principal).await?;
        if scope.root.parent_id.is_some() {
            return Err(ApiError::permission_denied(
                "rule sets apply to the whole instance: only an admin of the root unit may change them",
                "评定规则适用于整个实例，只有根组织的管理员可以修改",
            ));
        }
        Ok(())
    }

    /// Creates a rule set at revision 1.
    pub async fn create_rule_set(
        &self,
        principal: &Principal,
        id: &str,
        fields: RuleSetFields,
        request_id: &str,
    ) -> Result<RuleSet, ApiError> {
        self.require_rule_admin(principal).await?;
        fields
            .rules
            .validate()
            .map_err(|error| under(error, "rule_set"))?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateRuleSet", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.trim_start_matches("ruleSets/");
            return self.get_rule_set(principal, id, 1).await;
        }
        let rule_set = RuleSet {
            id: id.to_string(),
            revision: 1,
            display_name: fields.display_name,
            jurisdiction: fields.jurisdiction,
            effective_date: fields.effective_date,
            rules: fields.rules,
            built_in: false,
            notes: fields.notes,
            meta: transaction.new_meta(),
        };
        store::rules::insert(transaction.conn(), &rule_set).await?;
        transaction.record_diff(
            RULE_SET_TYPE,
            names::rule_set(id),
            Operation::Create,
            None,
            serde_json::to_value(&rule_set).expect("rule sets serialize"),
            "",
        )?;
        transaction
            .finish_request(request_id, &names::rule_set(id))
            .await?;
        transaction.commit().await?;
        Ok(rule_set)
    }

    /// Adds a revision; the earlier ones stay, and stars awarded under them keep them.
    pub async fn revise_rule_set(
        &self,
        principal: &Principal,
        id: &str,
        fields: RuleSetFields,
        expected_revision: i64,
        request_id: &str,
    ) -> Result<RuleSet, ApiError> {
        self.require_rule_admin(principal).await?;
        fields
            .rules
            .validate()
            .map_err(|error| under(error, "rule_set"))?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("ReviseRuleSet", request_id)
            .await?
        {
            drop(transaction);
            let revision = existing
                .rsplit_once("@")
                .and_then(|(_, revision)| revision.parse().ok())
                .unwrap_or(0);
            return self.get_rule_set(principal, id, revision).await;
        }
        let current = store::rules::latest(transaction.conn(), id)
            .await?
            .ok_or_else(|| not_found(id))?;
        egret_storage::check_version(&names::rule_set(id), expected_revision, current.revision)?;
        let mut meta = transaction.new_meta();
        meta.create_time = current.meta.create_time;
        meta.version = current.meta.version + 1;
        let rule_set = RuleSet {
            id: id.to_string(),
            revision: current.revision + 1,
            display_name: fields.display_name,
            jurisdiction: fields.jurisdiction,
            effective_date: fields.effective_date,
            rules: fields.rules,
            built_in: current.built_in,
            notes: fields.notes,
            meta,
        };
        // Two revisions at once collide on the primary key: the second is told to retry.
        store::rules::insert(transaction.conn(), &rule_set)
            .await
            .map_err(|error| match error {
                ApiError::AlreadyExists { .. } => {
                    egret_storage::changed_concurrently(&names::rule_set(id))
                }
                other => other,
            })?;
        transaction.record_diff(
            RULE_SET_TYPE,
            names::rule_set(id),
            Operation::Update,
            Some(&serde_json::to_value(&current).expect("rule sets serialize")),
            serde_json::to_value(&rule_set).expect("rule sets serialize"),
            &format!("revision {}", rule_set.revision),
        )?;
        transaction
            .finish_request(
                request_id,
                &format!("{}@{}", names::rule_set(id), rule_set.revision),
            )
            .await?;
        transaction.commit().await?;
        Ok(rule_set)
    }
}

/// Puts the fields of an INVALID_ARGUMENT under `prefix`.
fn under(error: ApiError, prefix: &str) -> ApiError {
    match error {
        ApiError::InvalidArgument(violations) => ApiError::InvalidArgument(
            violations
                .into_iter()
                .map(|violation| violation.under(prefix))
                .collect(),
        ),
        other => other,
    }
}
