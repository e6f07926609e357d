//! Following the registry, the activity service and the recognition service: reporting
//! reads no other service's database, only their change logs, into a replica of what it
//! counts and a daily rollup of approved hours. Each page applies in one transaction with
//! its checkpoint, so a restart mid-feed neither loses nor doubles a change.

use egret_proto::sync::v1::{self as pb, Change, record::Kind};
use egret_runtime::ApiError;
use egret_storage::WriteTx;
use egret_storage::rows::sql_error;
use egret_sync::follower::{self, ChangeSink};
use egret_sync::replica;
use egret_types::{CivilDate, china_date};
use futures::future::BoxFuture;

use crate::store::replica::{self as rows, Bind, RecordShare, Table};
use crate::store::tallies::{self, Recount, Source};

/// The actor of every change the feeds make.
pub const ACTOR: &str = "egret-reporting";

fn date(entry: &Change, text: &str) -> Result<String, ApiError> {
    CivilDate::parse_iso(text)
        .map(|date| date.to_iso())
        .ok_or_else(|| follower::corrupt(entry, format!("date {text:?}")))
}

/// The China date of `micros`, or '' for 0.
fn day_of(micros: i64) -> String {
    if micros == 0 {
        return String::new();
    }
    china_date(micros).to_iso()
}

/// Applies the registry's org units, volunteers and memberships.
pub struct RegistrySink;

impl ChangeSink for RegistrySink {
    fn begin<'a>(&'a self, transaction: &'a mut WriteTx) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(tallies::lock(transaction.conn()))
    }

    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        entry: &'a Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match follower::record(entry)? {
                Kind::OrgUnit(payload) => apply_org_unit(transaction, entry, &payload).await,
                Kind::Membership(payload) => {
                    // A membership in the volunteer's registering unit (every volunteer's
                    // first) changes none of the units they count in.
                    if rows::membership_in_registering_unit(
                        transaction.conn(),
                        &payload.id,
                        &payload.volunteer_id,
                        &payload.org_unit_id,
                    )
                    .await?
                    {
                        return replica::apply_membership(transaction, &payload).await;
                    }
                    let sources = [Source::Volunteer(payload.volunteer_id.clone())];
                    let before = tallies::contributions(transaction.conn(), &sources).await?;
                    replica::apply_membership(transaction, &payload).await?;
                    tallies::settle(transaction.conn(), &sources, before).await
                }
                Kind::Volunteer(payload) => {
                    let sources = [Source::Volunteer(payload.id.clone())];
                    let before = tallies::contributions(transaction.conn(), &sources).await?;
                    apply_volunteer(transaction, entry, &payload).await?;
                    tallies::settle(transaction.conn(), &sources, before).await
                }
                Kind::RegistrationForm(payload) => {
                    apply_registration_form(transaction, entry, &payload).await
                }
                _ => Ok(()),
            }
        })
    }
}

async fn apply_org_unit(
    transaction: &mut WriteTx,
    entry: &Change,
    payload: &pb::OrgUnit,
) -> Result<(), ApiError> {
    let newer = rows::is_newer(
        transaction.conn(),
        Table::OrgUnits,
        &payload.id,
        replica::version(payload.meta.as_ref()),
    )
    .await?;
    if !newer {
        return Ok(());
    }
    let held_path = replica::unit(transaction.conn(), &payload.id)
        .await?
        .map(|unit| unit.path);
    // A unit new to the replica starts counting what was recorded at it before it arrived;
    // a moved unit carries what is recorded at it to the units above its new place (each
    // unit beneath it has a change of its own).
    let sources = if held_path.as_deref() == Some(payload.path.as_str()) {
        vec![Source::Unit(payload.id.clone())]
    } else {
        tallies::sources_at(transaction.conn(), &payload.id).await?
    };
    let before = tallies::contributions(transaction.conn(), &sources).await?;
    replica::apply_unit(transaction, entry, payload).await?;
    rows::execute(
        transaction.conn(),
        "org unit",
        "UPDATE org_units SET level = $2 WHERE id = $1",
        &[Bind::Text(&payload.id), Bind::Int(payload.level)],
    )
    .await?;
    let categories: Vec<Bind<'_>> = payload.categories.iter().map(|c| Bind::Int(*c)).collect();
    rows::replace_children(
        transaction.conn(),
        rows::Children::OrgUnitCategories,
        &payload.id,
        &categories,
    )
    .await?;
    tallies::settle(transaction.conn(), &sources, before).await
}

async fn apply_volunteer(
    transaction: &mut WriteTx,
    entry: &Change,
    payload: &pb::Volunteer,
) -> Result<(), ApiError> {
    let status = replica::volunteer_status_number(&payload.status)
        .map_err(|error| follower::corrupt(entry, error))?;
    let gender = match payload.gender.as_str() {
        "female" => 1,
        "male" => 2,
        _ => 0,
    };
    let birth_date = date(entry, &payload.birth_date)?;
    let registered_on = day_of(payload.meta.as_ref().map_or(0, |meta| meta.create_time));
    let held_person = rows::person_of(transaction.conn(), &payload.id).await?;
    rows::execute(
        transaction.conn(),
        "volunteer",
        "INSERT INTO volunteers (id, status, registering_org_unit_id, registered_on, birth_date, \
         gender, version, display_name, volunteer_number, id_type, id_number_masked, person) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO UPDATE SET \
         status = excluded.status, registering_org_unit_id = excluded.registering_org_unit_id, \
         registered_on = excluded.registered_on, birth_date = excluded.birth_date, \
         gender = excluded.gender, version = excluded.version, \
         display_name = excluded.display_name, volunteer_number = excluded.volunteer_number, \
         id_type = excluded.id_type, id_number_masked = excluded.id_number_masked, \
         person = excluded.person WHERE volunteers.version < excluded.version",
        &[
            Bind::Text(&payload.id),
            Bind::Int(status),
            Bind::Text(&payload.registering_org_unit_id),
            Bind::Text(&registered_on),
            Bind::Text(&birth_date),
            Bind::Int(gender),
            Bind::Int(replica::version(payload.meta.as_ref())),
            Bind::Text(&payload.display_name),
            Bind::Text(&payload.volunteer_number),
            Bind::Text(&payload.id_type),
            Bind::Text(&payload.id_number_masked),
            Bind::Text(&payload.id_number_federation_hash),
        ],
    )
    .await?;
    if payload.id_number_federation_hash.is_empty() && held_person.is_empty() {
        return Ok(());
    }
    // A person is shared while a second volunteer carries the same hash: marked for the
    // new hash, and for the old one when the ID number was corrected.
    for person in [
        payload.id_number_federation_hash.as_str(),
        held_person.as_str(),
    ] {
        if !person.is_empty() {
            rows::mark_shared(transaction.conn(), person).await?;
        }
    }
    Ok(())
}

/// A registration form (登记表), contacts masked as the registry wrote them.
async fn apply_registration_form(
    transaction: &mut WriteTx,
    entry: &Change,
    payload: &pb::RegistrationForm,
) -> Result<(), ApiError> {
    let founded_on = match payload.founded_on.as_deref() {
        None | Some("") => String::new(),
        Some(text) => date(entry, text)?,
    };
    rows::execute(
        transaction.conn(),
        "registration form",
        "INSERT INTO registration_forms (org_unit_id, archive_number, team_number, leader_name, \
         host_unit, declared_member_count, founded_on, phone_masked, email_masked, address, \
         version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (org_unit_id) DO UPDATE SET archive_number = excluded.archive_number, \
         team_number = excluded.team_number, leader_name = excluded.leader_name, \
         host_unit = excluded.host_unit, \
         declared_member_count = excluded.declared_member_count, \
         founded_on = excluded.founded_on, phone_masked = excluded.phone_masked, \
         email_masked = excluded.email_masked, address = excluded.address, \
         version = excluded.version WHERE registration_forms.version < excluded.version",
        &[
            Bind::Text(&payload.org_unit_id),
            Bind::Text(&payload.archive_number),
            Bind::Text(&payload.team_number),
            Bind::Text(&payload.leader_name),
            Bind::Text(&payload.host_unit),
            Bind::Int(payload.declared_member_count),
            Bind::Text(&founded_on),
            Bind::Text(&payload.phone),
            Bind::Text(&payload.email),
            Bind::Text(&payload.address),
            Bind::Int(replica::version(payload.meta.as_ref())),
        ],
    )
    .await
}

/// Applies the activity service's activities, service records, qualifications and
/// insurance policies.
pub struct ActivitySink;

impl ChangeSink for ActivitySink {
    fn begin<'a>(&'a self, transaction: &'a mut WriteTx) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(tallies::lock(transaction.conn()))
    }

    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        entry: &'a Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match follower::record(entry)? {
                Kind::Activity(payload) => apply_activity(transaction, entry, &payload).await,
                Kind::ServiceRecord(payload) => {
                    apply_service_record(transaction, entry, &payload).await
                }
                Kind::Qualification(payload) => {
                    let granted = date(entry, &payload.granted_date)?;
                    let held: Option<(String,)> =
                        sqlx::query_as("SELECT volunteer_id FROM qualifications WHERE id = $1")
                            .bind(&payload.id)
                            .fetch_optional(transaction.conn())
                            .await
                            .map_err(sql_error("qualification"))?;
                    let mut sources = vec![Source::Volunteer(payload.volunteer_id.clone())];
                    if let Some((volunteer_id,)) = held
                        && volunteer_id != payload.volunteer_id
                    {
                        sources.push(Source::Volunteer(volunteer_id));
                    }
                    let before = tallies::contributions(transaction.conn(), &sources).await?;
                    rows::execute(
                        transaction.conn(),
                        "qualification",
                        "INSERT INTO qualifications (id, volunteer_id, granted_date, version) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET \
                         volunteer_id = excluded.volunteer_id, \
                         granted_date = excluded.granted_date, version = excluded.version \
                         WHERE qualifications.version < excluded.version",
                        &[
                            Bind::Text(&payload.id),
                            Bind::Text(&payload.volunteer_id),
                            Bind::Text(&granted),
                            Bind::Int(replica::version(payload.meta.as_ref())),
                        ],
                    )
                    .await?;
                    tallies::settle(transaction.conn(), &sources, before).await
                }
                Kind::InsurancePolicy(payload) => apply_policy(transaction, entry, &payload).await,
                _ => Ok(()),
            }
        })
    }
}

async fn apply_activity(
    transaction: &mut WriteTx,
    _change: &Change,
    payload: &pb::Activity,
) -> Result<(), ApiError> {
    let newer = rows::is_newer(
        transaction.conn(),
        Table::Activities,
        &payload.id,
        replica::version(payload.meta.as_ref()),
    )
    .await?;
    if !newer {
        return Ok(());
    }
    let start_date = day_of(payload.start_time);
    let sources = [Source::Activity(payload.id.clone())];
    let before = tallies::contributions(transaction.conn(), &sources).await?;
    rows::execute(
        transaction.conn(),
        "activity",
        "INSERT INTO activities (id, org_unit_id, state, start_date, service_theme, \
         service_field, version, display_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO UPDATE \
         SET org_unit_id = excluded.org_unit_id, state = excluded.state, \
         start_date = excluded.start_date, service_theme = excluded.service_theme, \
         service_field = excluded.service_field, version = excluded.version, \
         display_name = excluded.display_name",
        &[
            Bind::Text(&payload.id),
            Bind::Text(&payload.org_unit_id),
            Bind::Text(&payload.state),
            Bind::Text(&start_date),
            Bind::Int(payload.service_theme),
            Bind::Int(payload.service_field),
            Bind::Int(replica::version(payload.meta.as_ref())),
            Bind::Text(&payload.display_name),
        ],
    )
    .await?;
    let groups: Vec<Bind<'_>> = payload
        .target_groups
        .iter()
        .map(|g| Bind::Int(*g))
        .collect();
    rows::replace_children(
        transaction.conn(),
        rows::Children::ActivityTargetGroups,
        &payload.id,
        &groups,
    )
    .await?;
    tallies::settle(transaction.conn(), &sources, before).await
}

async fn apply_service_record(
    transaction: &mut WriteTx,
    entry: &Change,
    payload: &pb::ServiceRecord,
) -> Result<(), ApiError> {
    let newer = rows::is_newer(
        transaction.conn(),
        Table::ServiceRecords,
        &payload.id,
        replica::version(payload.meta.as_ref()),
    )
    .await?;
    if !newer {
        return Ok(());
    }
    let after = RecordShare {
        org_unit_id: payload.org_unit_id.clone(),
        service_date: date(entry, &payload.service_date)?,
        approved_minutes: if payload.state == "approved" {
            payload.minutes
        } else {
            0
        },
    };
    // The rollup moves by the difference: the old share out, the new one in; the tallies
    // follow the days it moves.
    let held = rows::record_share(transaction.conn(), &payload.id).await?;
    let mut sources = vec![Source::Hours {
        org_unit_id: after.org_unit_id.clone(),
        day: after.service_date.clone(),
    }];
    if let Some(held) = &held {
        let cell = Source::Hours {
            org_unit_id: held.org_unit_id.clone(),
            day: held.service_date.clone(),
        };
        if cell != sources[0] {
            sources.push(cell);
        }
    }
    let before = tallies::contributions(transaction.conn(), &sources).await?;
    if let Some(held) = &held {
        rows::add_to_rollup(transaction.conn(), held, -1).await?;
    }
    rows::add_to_rollup(transaction.conn(), &after, 1).await?;
    tallies::settle(transaction.conn(), &sources, before).await?;
    rows::execute(
        transaction.conn(),
        "service record",
        "INSERT INTO service_records (id, org_unit_id, service_date, approved_minutes, version, \
         volunteer_id, activity_id, description, minutes, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO UPDATE SET \
         org_unit_id = excluded.org_unit_id, service_date = excluded.service_date, \
         approved_minutes = excluded.approved_minutes, version = excluded.version, \
         volunteer_id = excluded.volunteer_id, activity_id = excluded.activity_id, \
         description = excluded.description, minutes = excluded.minutes, state = excluded.state",
        &[
            Bind::Text(&payload.id),
            Bind::Text(&after.org_unit_id),
            Bind::Text(&after.service_date),
            Bind::Int(after.approved_minutes),
            Bind::Int(replica::version(payload.meta.as_ref())),
            Bind::Text(&payload.volunteer_id),
            Bind::Text(&payload.activity_id),
            Bind::Text(&payload.description),
            Bind::Int(payload.minutes),
            Bind::Text(&payload.state),
        ],
    )
    .await
}

async fn apply_policy(
    transaction: &mut WriteTx,
    entry: &Change,
    payload: &pb::InsurancePolicy,
) -> Result<(), ApiError> {
    let newer = rows::is_newer(
        transaction.conn(),
        Table::InsurancePolicies,
        &payload.id,
        replica::version(payload.meta.as_ref()),
    )
    .await?;
    if !newer {
        return Ok(());
    }
    let start = date(entry, &payload.start_date)?;
    let end = date(entry, &payload.end_date)?;
    rows::execute(
        transaction.conn(),
        "insurance policy",
        "INSERT INTO insurance_policies (id, org_unit_id, start_date, end_date, covers_subtree, \
         active, version) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
         org_unit_id = excluded.org_unit_id, start_date = excluded.start_date, \
         end_date = excluded.end_date, covers_subtree = excluded.covers_subtree, \
         active = excluded.active, version = excluded.version",
        &[
            Bind::Text(&payload.id),
            Bind::Text(&payload.org_unit_id),
            Bind::Text(&start),
            Bind::Text(&end),
            Bind::Int(i64::from(payload.covers_subtree)),
            Bind::Int(i64::from(payload.state == "active")),
            Bind::Int(replica::version(payload.meta.as_ref())),
        ],
    )
    .await?;
    let insured: Vec<Bind<'_>> = payload
        .insured_volunteers
        .iter()
        .map(|volunteer| Bind::Text(volunteer))
        .collect();
    rows::replace_children(
        transaction.conn(),
        rows::Children::PolicyVolunteers,
        &payload.id,
        &insured,
    )
    .await?;
    // A policy can cover a whole subtree: its volunteers' cover is counted again. Policies
    // change a few times a year.
    tallies::rebuild(transaction.conn(), Recount::Cover).await
}

/// Applies the recognition service's star ratings and commendations.
pub struct RecognitionSink;

impl ChangeSink for RecognitionSink {
    fn begin<'a>(&'a self, transaction: &'a mut WriteTx) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(tallies::lock(transaction.conn()))
    }

    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        entry: &'a Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match follower::record(entry)? {
                Kind::StarRating(payload) => {
                    let award_date = day_of(payload.award_time);
                    let sources = [Source::StarRating(payload.id.clone())];
                    let before = tallies::contributions(transaction.conn(), &sources).await?;
                    rows::execute(
                        transaction.conn(),
                        "star rating",
                        "INSERT INTO star_ratings (id, nominating_org_unit_id, stars, awarded, \
                         award_date, version) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (id) DO UPDATE SET stars = excluded.stars, \
                         awarded = excluded.awarded, award_date = excluded.award_date, \
                         version = excluded.version WHERE star_ratings.version < excluded.version",
                        &[
                            Bind::Text(&payload.id),
                            Bind::Text(&payload.nominating_org_unit_id),
                            Bind::Int(payload.stars),
                            Bind::Int(i64::from(payload.state == "awarded")),
                            Bind::Text(&award_date),
                            Bind::Int(replica::version(payload.meta.as_ref())),
                        ],
                    )
                    .await?;
                    tallies::settle(transaction.conn(), &sources, before).await
                }
                Kind::Commendation(payload) => {
                    let award_date = day_of(payload.award_time);
                    let sources = [Source::Commendation(payload.id.clone())];
                    let before = tallies::contributions(transaction.conn(), &sources).await?;
                    rows::execute(
                        transaction.conn(),
                        "commendation",
                        "INSERT INTO commendations (id, nominating_org_unit_id, awarded, \
                         award_date, version) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (id) DO UPDATE SET awarded = excluded.awarded, \
                         award_date = excluded.award_date, version = excluded.version \
                         WHERE commendations.version < excluded.version",
                        &[
                            Bind::Text(&payload.id),
                            Bind::Text(&payload.nominating_org_unit_id),
                            Bind::Int(i64::from(payload.state == "awarded")),
                            Bind::Text(&award_date),
                            Bind::Int(replica::version(payload.meta.as_ref())),
                        ],
                    )
                    .await?;
                    tallies::settle(transaction.conn(), &sources, before).await
                }
                _ => Ok(()),
            }
        })
    }
}
