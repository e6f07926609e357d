//! Rules of the org tree: where a unit may sit, and how its status may change.

use egret_runtime::{ApiError, Violation};

use super::{OrgStatus, OrgUnit, Tier};

pub use egret_types::tree::{child_path, in_subtree, subtree_bounds};

/// Checks that a unit of `tier` may sit under `parent` (tier rule: the corps holds teams,
/// teams hold sub-teams, sub-teams hold squads). `field` is the request field to blame.
pub fn check_placement(tier: Tier, parent: &OrgUnit, field: &str) -> Result<(), ApiError> {
    let Some(wanted) = tier.parent_tier() else {
        return Err(ApiError::invalid(
            field,
            "the corps is the root and cannot be placed under another unit",
            "总队是根组织，不能隶属于其他组织",
        ));
    };
    if parent.tier != wanted {
        return Err(ApiError::InvalidArgument(vec![Violation::new(
            field,
            format!(
                "a {} belongs under a {}, not under a {}",
                tier.name_en(),
                wanted.name_en(),
                parent.tier.name_en()
            ),
            format!(
                "{}应隶属于{}，不能隶属于{}",
                tier.name_zh(),
                wanted.name_zh(),
                parent.tier.name_zh()
            ),
        )]));
    }
    if parent.status != OrgStatus::Active {
        return Err(ApiError::failed_precondition(
            format!(
                "{} is {}; units can only be added under an active unit",
                parent.display_name,
                parent.status.name_en()
            ),
            format!(
                "{} 处于{}状态，只能在正常状态的组织下添加或移入组织",
                parent.display_name,
                parent.status.name_zh()
            ),
        ));
    }
    Ok(())
}

/// Checks a move of `unit` under `new_parent`: not under itself or its own descendants,
/// and the tier rule.
pub fn check_move(unit: &OrgUnit, new_parent: &OrgUnit) -> Result<(), ApiError> {
    if unit.parent_id.is_none() {
        return Err(ApiError::failed_precondition(
            "the root unit cannot be moved",
            "根组织不能移动",
        ));
    }
    if in_subtree(&new_parent.path, &unit.path) {
        return Err(ApiError::invalid(
            "new_parent",
            "a unit cannot move under itself or one of its own descendants",
            "组织不能移动到自身或其下级组织之下",
        ));
    }
    if unit.status.is_final() {
        return Err(ApiError::failed_precondition(
            format!(
                "{} is {} and cannot move",
                unit.display_name,
                unit.status.name_en()
            ),
            format!(
                "{} 已{}，不能移动",
                unit.display_name,
                unit.status.name_zh()
            ),
        ));
    }
    check_placement(unit.tier, new_parent, "new_parent")
}

/// Checks a status change of `unit` to `target`.
pub fn check_transition(unit: &OrgUnit, target: OrgStatus) -> Result<(), ApiError> {
    if unit.parent_id.is_none() {
        return Err(ApiError::failed_precondition(
            "the root unit's status cannot change",
            "根组织的状态不能变更",
        ));
    }
    let allowed = matches!(
        (unit.status, target),
        (OrgStatus::Active, OrgStatus::Suspended)
            | (OrgStatus::Suspended, OrgStatus::Active)
            | (
                OrgStatus::Active | OrgStatus::Suspended,
                OrgStatus::Dissolved
            )
            | (OrgStatus::Active | OrgStatus::Suspended, OrgStatus::Merged)
    );
    if allowed {
        return Ok(());
    }
    Err(ApiError::failed_precondition(
        format!(
            "{} is {} and cannot become {}",
            unit.display_name,
            unit.status.name_en(),
            target.name_en()
        ),
        format!(
            "{} 当前为{}状态，不能变更为{}",
            unit.display_name,
            unit.status.name_zh(),
            target.name_zh()
        ),
    ))
}

/// Checks that `unit` may merge into `target`.
pub fn check_merge(unit: &OrgUnit, target: &OrgUnit) -> Result<(), ApiError> {
    check_transition(unit, OrgStatus::Merged)?;
    if unit.id == target.id {
        return Err(ApiError::invalid(
            "into",
            "a unit cannot merge into itself",
            "组织不能合并到自身",
        ));
    }
    if unit.tier != target.tier {
        return Err(ApiError::invalid(
            "into",
            format!(
                "a {} can only merge into another {}, not a {}",
                unit.tier.name_en(),
                unit.tier.name_en(),
                target.tier.name_en()
            ),
            format!(
                "{}只能合并到另一个{}",
                unit.tier.name_zh(),
                unit.tier.name_zh()
            ),
        ));
    }
    if target.status != OrgStatus::Active {
        return Err(ApiError::failed_precondition(
            format!(
                "{} is {}; merge into an active unit",
                target.display_name,
                target.status.name_en()
            ),
            format!(
                "{} 处于{}状态，只能合并到正常状态的组织",
                target.display_name,
                target.status.name_zh()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Meta;

    fn unit(id: &str, tier: Tier, path: &str, parent: Option<&str>) -> OrgUnit {
        OrgUnit {
            id: id.to_string(),
            parent_id: parent.map(str::to_string),
            path: path.to_string(),
            tier,
            display_name: id.to_string(),
            level: 0,
            categories: vec![],
            service_fields: vec![],
            service_themes: vec![],
            status: OrgStatus::Active,
            merged_into: None,
            meta: Meta {
                origin_instance: "xm".to_string(),
                version: 1,
                create_time: 0,
                update_time: 0,
            },
        }
    }

    #[test]
    fn tiers_nest_one_level_at_a_time() {
        let corps = unit("c", Tier::Corps, "/c/", None);
        let team = unit("t", Tier::Team, "/c/t/", Some("c"));
        let sub_team = unit("s", Tier::SubTeam, "/c/t/s/", Some("t"));
        assert!(check_placement(Tier::Team, &corps, "f").is_ok());
        assert!(check_placement(Tier::SubTeam, &team, "f").is_ok());
        assert!(check_placement(Tier::Squad, &sub_team, "f").is_ok());
        assert!(check_placement(Tier::Squad, &corps, "f").is_err());
        assert!(check_placement(Tier::Squad, &team, "f").is_err());
        assert!(check_placement(Tier::Corps, &corps, "f").is_err());
    }

    #[test]
    fn moves_refuse_cycles_and_the_root() {
        let corps = unit("c", Tier::Corps, "/c/", None);
        let team = unit("t", Tier::Team, "/c/t/", Some("c"));
        let sub_team = unit("s", Tier::SubTeam, "/c/t/s/", Some("t"));
        assert!(check_move(&team, &sub_team).is_err());
        assert!(check_move(&team, &team).is_err());
        assert!(check_move(&corps, &team).is_err());
        let other_team = unit("u", Tier::Team, "/c/u/", Some("c"));
        assert!(check_move(&sub_team, &other_team).is_ok());
    }

    #[test]
    fn status_lifecycle() {
        let mut team = unit("t", Tier::Team, "/c/t/", Some("c"));
        assert!(check_transition(&team, OrgStatus::Suspended).is_ok());
        assert!(check_transition(&team, OrgStatus::Active).is_err());
        team.status = OrgStatus::Dissolved;
        assert!(check_transition(&team, OrgStatus::Active).is_err());
        let corps = unit("c", Tier::Corps, "/c/", None);
        assert!(check_transition(&corps, OrgStatus::Suspended).is_err());
    }
}
