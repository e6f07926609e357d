//! Service certificates (志愿服务证明): issued free for the approved hours of a period or an
//! activity, signed with the instance's certificate key, checked by anyone without a
//! login, and revoked when the hours behind them are corrected downward.

use egret_sync::RecordChanges;
use std::collections::BTreeSet;

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, WriteTx};
use egret_sync::replica;
use egret_types::CivilDate;

use super::Recognition;
use crate::domain::access::{self, Action};
use crate::domain::certificate::{self, Certificate, CertificateState};
use crate::domain::{HoursChange, OrgUnit, ServiceRecord, names};
use crate::store;

const CERTIFICATE_TYPE: &str = "egret.recognition.v1.Certificate";

/// The longest 服务内容 a certificate prints.
pub const MAX_SERVICE_CONTENT: usize = 200;

/// What IssueCertificate asks for, checked at the edge.
#[derive(Debug, Clone, Default)]
pub struct IssueRequest {
    /// The volunteer.
    pub volunteer_id: String,
    /// For a period: its first and last day.
    pub period: Option<(CivilDate, CivilDate)>,
    /// For an activity instead.
    pub activity_id: Option<String>,
    /// The issuing unit; None for the caller's own (a volunteer's registering unit).
    pub issuer_org_unit_id: Option<String>,
    /// 负责人.
    pub person_in_charge: String,
    /// 经办人.
    pub handler: String,
    /// 联系方式.
    pub handler_contact: String,
    /// 备注.
    pub notes: String,
    /// 服务内容; '' to list what the covered records were.
    pub service_content: String,
    /// Makes a retry safe.
    pub request_id: String,
}

/// The answer of VerifyCertificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Signed by this instance, known with exactly this text, and not revoked.
    pub valid: bool,
    /// Why not.
    pub reason: String,
    /// The certificate's state, when it was found.
    pub state: Option<CertificateState>,
    /// Its serial number, when it was found.
    pub serial_number: String,
    /// Its signed payload, when it was found.
    pub signed_payload: String,
}

/// The instance's public certificate key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationKey {
    /// The instance.
    pub instance: String,
    /// The key's id, as certificates name it.
    pub key_id: String,
    /// The 32 bytes, base64.
    pub public_key: String,
    /// The same as PEM.
    pub public_key_pem: String,
}

fn to_json(certificate: &Certificate) -> serde_json::Value {
    serde_json::to_value(certificate).expect("certificates serialize")
}

fn no_hours() -> ApiError {
    ApiError::failed_precondition(
        "the volunteer has no approved service hours in what the certificate would cover",
        "该志愿者在所选范围内没有已审核通过的服务时长，无法出具证明",
    )
}

/// What the covered records were, when the issuer does not say: the activities' titles and
/// the imported records' descriptions, each once, cut to fit the page.
fn describe_service(records: &[ServiceRecord], activity_titles: &[(String, String)]) -> String {
    let mut seen = BTreeSet::new();
    let mut parts = Vec::new();
    for record in records {
        let title = activity_titles
            .iter()
            .find(|(id, _)| *id == record.activity_id)
            .map(|(_, title)| title.as_str())
            .unwrap_or(record.description.as_str())
            .trim();
        if !title.is_empty() && seen.insert(title.to_string()) {
            parts.push(title.to_string());
        }
    }
    let joined = parts.join("、");
    if joined.chars().count() <= MAX_SERVICE_CONTENT {
        return joined;
    }
    let mut cut: String = joined.chars().take(MAX_SERVICE_CONTENT - 1).collect();
    cut.push('等');
    cut
}

impl Recognition {
    /// The issuing unit: the one asked for or the caller's own; for a volunteer acting for
    /// itself, the unit that registered it or a unit it serves in.
    async fn issuer_unit(
        &self,
        principal: &Principal,
        scope: &super::Scope,
        volunteer: &crate::domain::Volunteer,
        requested: Option<&str>,
    ) -> Result<OrgUnit, ApiError> {
        let own = access::is_self(principal, &volunteer.id)
            && !principal.has_any(Action::IssueCertificates.roles());
        let unit = match (own, requested) {
            (true, None) => self
                .unit(&volunteer.registering_org_unit_id)
                .await?
                .ok_or_else(|| {
                    ApiError::failed_precondition(
                        "the unit that registered you is not known here; name the issuing unit",
                        "未找到你的注册单位，请指定出具单位",
                    )
                })?,
            (true, Some(id)) => self
                .unit(id)
                .await?
                .ok_or_else(|| ApiError::not_found(names::org_unit(id)))?,
            (false, requested) => self.unit_or_own(scope, requested).await?,
        };
        let is_registering_unit = unit.id == volunteer.registering_org_unit_id;
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        if !is_registering_unit
            && !replica::serves_in(self.database.reader(), &volunteer.id, (&low, &high)).await?
        {
            if own {
                // A volunteer learns nothing about units it has no part in.
                return Err(ApiError::not_found(names::org_unit(&unit.id)));
            }
            return Err(ApiError::failed_precondition(
                format!(
                    "{} does not serve in {}: a unit certifies the service of its own volunteers",
                    names::volunteer(&volunteer.id),
                    names::org_unit(&unit.id)
                ),
                "出具单位只能为本单位的志愿者出具证明",
            ));
        }
        Ok(unit)
    }

    /// Issues a certificate for the approved hours of a period or an activity.
    pub async fn issue_certificate(
        &self,
        principal: &Principal,
        request: &IssueRequest,
    ) -> Result<Certificate, ApiError> {
        access::require_unless_self(principal, Action::IssueCertificates, &request.volunteer_id)?;
        let scope = self.scope(principal).await?;
        // Hours approved a moment ago count, and hours reversed a moment ago do not.
        self.catch_up().await?;
        // Resolved before the transaction: these may catch up with the registry, which
        // writes, and SQLite has one writer.
        let volunteer = self
            .volunteer_for(principal, &scope, &request.volunteer_id)
            .await?;
        let issuer = self
            .issuer_unit(
                principal,
                &scope,
                &volunteer,
                request.issuer_org_unit_id.as_deref(),
            )
            .await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("IssueCertificate", &request.request_id)
            .await?
        {
            drop(transaction);
            return self
                .get_certificate(principal, existing.trim_start_matches("certificates/"))
                .await;
        }
        let (records, activity) = match &request.activity_id {
            Some(activity_id) => {
                let activity = store::replica::activity(transaction.conn(), activity_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(names::activity(activity_id)))?;
                let all_days = (
                    CivilDate::new(1900, 1, 1).expect("a real date"),
                    CivilDate::new(9999, 12, 31).expect("a real date"),
                );
                let records = store::replica::approved_records(
                    transaction.conn(),
                    &volunteer.id,
                    all_days,
                    Some(activity_id),
                )
                .await?;
                (records, Some(activity))
            }
            None => {
                let Some(period) = request.period else {
                    return Err(ApiError::invalid(
                        "period_start",
                        "is required, with period_end, unless an activity is given",
                        "请指定服务期间或活动",
                    ));
                };
                let records = store::replica::approved_records(
                    transaction.conn(),
                    &volunteer.id,
                    period,
                    None,
                )
                .await?;
                (records, None)
            }
        };
        let service_minutes: i64 = records.iter().map(|record| record.approved_minutes).sum();
        if records.is_empty() || service_minutes <= 0 {
            return Err(no_hours());
        }
        let (period_start, period_end) = match (&activity, request.period) {
            (None, Some(period)) => period,
            _ => (
                records
                    .iter()
                    .map(|record| record.service_date)
                    .min()
                    .expect("records"),
                records
                    .iter()
                    .map(|record| record.service_date)
                    .max()
                    .expect("records"),
            ),
        };
        let service_content = if request.service_content.is_empty() {
            let mut titles = Vec::new();
            for id in records
                .iter()
                .map(|record| record.activity_id.clone())
                .filter(|id| !id.is_empty())
                .collect::<BTreeSet<_>>()
            {
                if let Some(found) = store::replica::activity(transaction.conn(), &id).await? {
                    titles.push((id, found.display_name));
                }
            }
            describe_service(&records, &titles)
        } else {
            request.service_content.clone()
        };
        let issue_date = egret_runtime::wire::today();
        let prefix = format!("{}-{}", self.instance_id.to_uppercase(), issue_date.year);
        let number = store::certificates::next_serial(transaction.conn(), &prefix).await?;
        let mut issued = Certificate {
            id: egret_storage::new_id(),
            serial_number: format!("{prefix}-{number:06}"),
            volunteer_id: volunteer.id.clone(),
            activity_id: request.activity_id.clone().unwrap_or_default(),
            issuer_org_unit_id: issuer.id.clone(),
            period_start,
            period_end,
            service_minutes,
            state: CertificateState::Valid,
            revocation_reason: String::new(),
            revoke_time: 0,
            signed_payload: String::new(),
            signature: String::new(),
            key_id: String::new(),
            volunteer_display_name: volunteer.display_name.clone(),
            id_type: volunteer.id_type.clone(),
            id_number_masked: volunteer.id_number_masked.clone(),
            volunteer_number: volunteer.volunteer_number.clone(),
            activity_display_name: activity
                .map(|activity| activity.display_name)
                .unwrap_or_default(),
            service_content,
            issuer_display_name: issuer.display_name.clone(),
            person_in_charge: request.person_in_charge.clone(),
            handler: request.handler.clone(),
            handler_contact: request.handler_contact.clone(),
            issue_date,
            notes: request.notes.clone(),
            meta: transaction.new_meta(),
        };
        issued.sign(&self.certificate_key);
        store::certificates::insert(transaction.conn(), &issued).await?;
        for record in &records {
            store::certificates::insert_record(
                transaction.conn(),
                &issued.id,
                &record.id,
                record.approved_minutes,
            )
            .await?;
        }
        transaction.record_diff(
            CERTIFICATE_TYPE,
            names::certificate(&issued.id),
            Operation::Create,
            None,
            to_json(&issued),
            "issued",
        )?;
        transaction
            .finish_request(&request.request_id, &names::certificate(&issued.id))
            .await?;
        transaction.commit().await?;
        Ok(issued)
    }

    /// A certificate the caller may see: its own, or one issued in its subtree. NOT_FOUND
    /// otherwise, exactly as for one that does not exist.
    pub async fn get_certificate(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Certificate, ApiError> {
        let not_found = || ApiError::not_found(names::certificate(id));
        let found = store::certificates::get(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        if access::is_self(principal, &found.volunteer_id) {
            return Ok(found);
        }
        if !principal.has_any(Action::ReadCertificates.roles()) {
            return Err(not_found());
        }
        let scope = self.scope(principal).await?;
        self.visible_unit(&scope, &found.issuer_org_unit_id)
            .await
            .map_err(|_| not_found())?;
        Ok(found)
    }

    /// The service records a certificate covers and the minutes it counted of each.
    pub async fn certificate_records(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Vec<(String, i64)>, ApiError> {
        let found = self.get_certificate(principal, id).await?;
        store::certificates::records_of(self.database.reader(), &found.id).await
    }

    /// Certificates of a volunteer (its own, wherever issued), or issued in the caller's
    /// subtree, newest first.
    pub async fn list_certificates(
        &self,
        principal: &Principal,
        volunteer_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<(Vec<Certificate>, String), ApiError> {
        let own = volunteer_id.is_some_and(|volunteer| access::is_self(principal, volunteer));
        let (low, high) = if own {
            (String::new(), "\u{7f}".to_string())
        } else {
            access::require(principal, Action::ReadCertificates)?;
            self.scope(principal).await?.bounds()
        };
        let after = match page.after.as_deref() {
            None => None,
            Some(key) => Some(
                key.split_once('/')
                    .and_then(|(time, id)| Some((time.parse::<i64>().ok()?, id)))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "page_token",
                            "is not a token this list issued",
                            "分页令牌无效",
                        )
                    })?,
            ),
        };
        let filter = store::certificates::Filter {
            bounds: (&low, &high),
            volunteer_id,
        };
        let mut rows =
            store::certificates::list(self.database.reader(), &filter, after, page.fetch_limit())
                .await?;
        let token = page.finish(&mut rows, store::certificates::list_key);
        Ok((rows, token))
    }

    /// Revokes a certificate issued in the caller's subtree.
    pub async fn revoke_certificate(
        &self,
        principal: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<Certificate, ApiError> {
        access::require(principal, Action::RevokeCertificates)?;
        let before = self.get_certificate(principal, id).await?;
        let scope = self.scope(principal).await?;
        if self
            .visible_unit(&scope, &before.issuer_org_unit_id)
            .await
            .is_err()
        {
            return Err(ApiError::permission_denied(
                "only the issuing unit or a unit above it revokes a certificate",
                "只有出具单位或其上级单位可以撤销证明",
            ));
        }
        egret_storage::ensure_origin(&before.meta, &self.instance_id, &names::certificate(id))?;
        if before.state == CertificateState::Revoked {
            return Err(ApiError::failed_precondition(
                "the certificate is already revoked",
                "该证明已撤销",
            ));
        }
        let mut transaction = self.begin(principal).await?;
        let after = revoke(&mut transaction, &before, reason.to_string()).await?;
        transaction.commit().await?;
        Ok(after)
    }

    /// The printable page of a certificate the caller may see, with a QR code of the
    /// verification page's link when `verification_url` (checked at the edge) is given.
    pub async fn render_certificate(
        &self,
        principal: &Principal,
        id: &str,
        verification_url: Option<&str>,
    ) -> Result<String, ApiError> {
        let found = self.get_certificate(principal, id).await?;
        Ok(certificate::render_svg(
            &self.settings.certificate_heading,
            &found,
            verification_url,
        ))
    }

    /// Looks a printed certificate up by its serial number and its verification code
    /// (normalized at the edge). Public, like [`Self::verify_certificate`]: an unknown
    /// serial number and a wrong code get the same NOT_FOUND, so that the sequential
    /// serial numbers cannot be enumerated.
    pub async fn lookup_certificate(
        &self,
        serial_number: &str,
        verification_code: &str,
    ) -> Result<Verification, ApiError> {
        let not_found = || ApiError::not_found(LOOKUP_NOT_FOUND);
        let found = store::certificates::by_serial(self.database.reader(), serial_number)
            .await?
            .ok_or_else(not_found)?;
        if !found.has_verification_code(verification_code) {
            return Err(not_found());
        }
        Ok(verification_of(&found))
    }

    /// Checks a printed certificate: that this instance signed exactly this text, that it
    /// issued it, and that it has not been revoked. Public: it answers only with what the
    /// certificate prints, and it does not catch up with upstream services (anyone may
    /// call it; the followers apply revocations within a poll interval).
    pub async fn verify_certificate(
        &self,
        signed_payload: &str,
        signature: &str,
    ) -> Result<Verification, ApiError> {
        let refuse = |reason: &str| Verification {
            reason: reason.to_string(),
            ..Verification::default()
        };
        if let Err(problem) = certificate::verify(
            &self.certificate_key.verifying_key(),
            signed_payload,
            signature,
        ) && !self.holds_district_copy(signed_payload, signature).await?
        {
            return Ok(refuse(problem.describe()));
        }
        let Some(printed) = certificate::parse_payload(signed_payload) else {
            return Ok(refuse(
                "the signed text is not a certificate payload (不是证明内容)",
            ));
        };
        let Some(found) =
            store::certificates::by_serial(self.database.reader(), &printed.serial_number).await?
        else {
            return Ok(refuse(
                "this instance has no certificate with this serial number (未找到该编号的证明)",
            ));
        };
        if found.signed_payload != signed_payload {
            return Ok(refuse(
                "the text differs from the certificate issued under this serial number (内容与存档不符)",
            ));
        }
        Ok(verification_of(&found))
    }

    /// Whether this is a certificate a district issued under its own key, held here (at the
    /// city) as the copy the district pushed over its enrolled link: the same text and the
    /// same signature. The link vouches for the copy as the district's key would.
    async fn holds_district_copy(
        &self,
        signed_payload: &str,
        signature: &str,
    ) -> Result<bool, ApiError> {
        let Some(printed) = certificate::parse_payload(signed_payload) else {
            return Ok(false);
        };
        Ok(
            store::certificates::by_serial(self.database.reader(), &printed.serial_number)
                .await?
                .is_some_and(|found| {
                    found.meta.origin_instance != self.instance_id
                        && found.signed_payload == signed_payload
                        && found.signature == signature
                }),
        )
    }

    /// The public key that checks this instance's certificates.
    pub fn verification_key(&self) -> VerificationKey {
        let key = self.certificate_key.verifying_key();
        VerificationKey {
            instance: self.instance_id.clone(),
            key_id: certificate::key_id(&key),
            public_key: certificate::public_key_base64(&key),
            public_key_pem: certificate::public_key_pem(&key),
        }
    }
}

/// What LookupCertificate's NOT_FOUND names, the same whether the serial number is unknown
/// or the code is wrong: `… not found` / `未找到 …`.
pub const LOOKUP_NOT_FOUND: &str =
    "a certificate with this serial number and verification code (该编号与验证码对应的证明)";

/// The answer about a certificate that was found: valid unless revoked, and what it prints.
fn verification_of(found: &Certificate) -> Verification {
    let mut verification = Verification {
        valid: found.state == CertificateState::Valid,
        reason: String::new(),
        state: Some(found.state),
        serial_number: found.serial_number.clone(),
        signed_payload: found.signed_payload.clone(),
    };
    if found.state == CertificateState::Revoked {
        // The revocation's reason stays internal: it can name records and people.
        verification.reason = format!(
            "the certificate was revoked on {} (该证明已于 {} 撤销)",
            egret_types::china_date(found.revoke_time),
            egret_types::china_date(found.revoke_time)
        );
    }
    verification
}

/// Marks a certificate revoked in `transaction` and records the change.
async fn revoke(
    transaction: &mut WriteTx,
    before: &Certificate,
    reason: String,
) -> Result<Certificate, ApiError> {
    let mut after = before.clone();
    after.state = CertificateState::Revoked;
    after.revocation_reason = reason;
    after.revoke_time = transaction.now();
    after.meta.version = before.meta.version + 1;
    after.meta.update_time = transaction.now();
    if !store::certificates::update_state(transaction.conn(), &after, before.meta.version).await? {
        return Err(egret_storage::changed_concurrently(&names::certificate(
            &after.id,
        )));
    }
    let log_reason = format!("revoked: {}", after.revocation_reason);
    transaction.record_diff(
        CERTIFICATE_TYPE,
        names::certificate(&after.id),
        Operation::Update,
        Some(&to_json(before)),
        to_json(&after),
        &log_reason,
    )?;
    Ok(after)
}

/// Revokes the valid certificates built on a record whose approved minutes went down (or
/// whose day left the certificate's period): what they print is no longer true. Runs in
/// the activity feed's transaction, so the revocation and the change it follows commit
/// together.
pub async fn follow_hours(transaction: &mut WriteTx, change: &HoursChange) -> Result<(), ApiError> {
    let Some((before_day, _)) = change.before else {
        // A new record: no certificate covers it yet.
        return Ok(());
    };
    let (day, minutes) = change.after;
    if !change.decreased() && before_day == day {
        return Ok(());
    }
    for (before, covered) in
        store::certificates::valid_covering(transaction.conn(), &change.record_id).await?
    {
        let outside = day < before.period_start || day > before.period_end;
        if minutes >= covered && !outside {
            continue;
        }
        let reason = format!(
            "{} changed to {minutes} approved minutes on {day} after the certificate counted {covered}; 所依据的服务记录时长已被更正",
            names::service_record(&change.record_id)
        );
        revoke(transaction, &before, reason).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, activity: &str, description: &str) -> ServiceRecord {
        ServiceRecord {
            id: id.to_string(),
            volunteer_id: "v".to_string(),
            activity_id: activity.to_string(),
            org_unit_id: "u".to_string(),
            description: description.to_string(),
            service_date: CivilDate::new(2026, 1, 1).unwrap(),
            approved_minutes: 60,
            version: 1,
        }
    }

    #[test]
    fn service_content_names_each_activity_once() {
        let records = [
            record("1", "a", ""),
            record("2", "a", ""),
            record("3", "", "社区清洁"),
            record("4", "", "社区清洁"),
        ];
        let titles = [("a".to_string(), "图书馆导读".to_string())];
        assert_eq!(describe_service(&records, &titles), "图书馆导读、社区清洁");
        let long: Vec<ServiceRecord> = (0..100)
            .map(|index| record(&index.to_string(), "", &format!("服务项目{index}")))
            .collect();
        let text = describe_service(&long, &[]);
        assert_eq!(text.chars().count(), MAX_SERVICE_CONTENT);
        assert!(text.ends_with('等'));
    }
}
