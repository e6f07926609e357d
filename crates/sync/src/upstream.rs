//! The district's side of the link to its upstream (the city): it always dials out, and
//! the city never dials in.
//!
//! An enrolled district exchanges its credential at the upstream's gateway for a sync
//! token of its unit's subtree (`egret.gateway.v1.EnrollmentService/IssueSyncToken`).
//! The answer also names the unit, which the district takes as its root.

use std::time::Duration;

use egret_proto::gateway::v1 as gateway_pb;
use egret_proto::registry::v1::OrgUnit;
use egret_runtime::config::InstanceSettings;
use tonic::Code;

use crate::enrollment::Credential;

/// How long one exchange may take.
const EXCHANGE_DEADLINE: Duration = Duration::from_secs(10);

/// What the upstream granted.
#[derive(Debug, Clone)]
pub struct Grant {
    /// A bearer token with the sync role for the district's subtree.
    pub access_token: String,
    /// Seconds since the epoch when it expires.
    pub expire_seconds: i64,
    /// The upstream instance's id.
    pub upstream_instance_id: String,
    /// The district's unit as the upstream holds it.
    pub org_unit: OrgUnit,
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The district's own configuration is wrong; nothing was sent.
    #[error("{key} {reason}")]
    Config {
        /// The configuration key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The upstream could not be reached (or did not answer in time): try again later.
    #[error("the upstream at {address} cannot be reached: {reason}")]
    Unreachable {
        /// Where it was dialled.
        address: String,
        /// Why.
        reason: String,
    },
    /// The upstream refused the credential (unknown or revoked).
    #[error("the upstream at {address} refused the enrollment: {reason}")]
    Refused {
        /// Where it was dialled.
        address: String,
        /// What it said.
        reason: String,
    },
}

/// The credential of a district, checked against its own instance id.
pub fn credential(instance: &InstanceSettings) -> Result<Credential, LinkError> {
    let credential =
        Credential::parse(&instance.enrollment).map_err(|reason| LinkError::Config {
            key: "instance.enrollment",
            reason,
        })?;
    if credential.instance_id() != instance.id {
        return Err(LinkError::Config {
            key: "instance.enrollment",
            reason: format!(
                "was issued for instance {:?}, but instance.id is {:?}",
                credential.instance_id(),
                instance.id
            ),
        });
    }
    Ok(credential)
}

/// Exchanges the district's credential at its upstream for a sync token.
pub async fn exchange(instance: &InstanceSettings) -> Result<Grant, LinkError> {
    let credential = credential(instance)?;
    let address = instance.upstream.trim().to_string();
    let unreachable = |reason: String| LinkError::Unreachable {
        address: address.clone(),
        reason,
    };
    let endpoint = tonic::transport::Endpoint::from_shared(address.clone()).map_err(|error| {
        LinkError::Config {
            key: "instance.upstream",
            reason: format!("is not an address: {error}"),
        }
    })?;
    let channel = egret_runtime::links::endpoint(endpoint)
        .connect()
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    let mut request = tonic::Request::new(gateway_pb::IssueSyncTokenRequest {
        credential: credential.reveal(),
    });
    request.set_timeout(EXCHANGE_DEADLINE);
    let answer = gateway_pb::enrollment_service_client::EnrollmentServiceClient::new(channel)
        .issue_sync_token(request)
        .await
        .map_err(|status| match status.code() {
            Code::Unauthenticated | Code::PermissionDenied | Code::InvalidArgument => {
                LinkError::Refused {
                    address: address.clone(),
                    reason: status.message().to_string(),
                }
            }
            _ => unreachable(format!("{:?}: {}", status.code(), status.message())),
        })?
        .into_inner();
    if answer.instance_id != instance.id {
        return Err(LinkError::Refused {
            address,
            reason: format!(
                "the upstream answered for instance {:?}, not {:?}",
                answer.instance_id, instance.id
            ),
        });
    }
    let org_unit = answer.org_unit.ok_or_else(|| LinkError::Refused {
        address: address.clone(),
        reason: "the upstream named no unit".to_string(),
    })?;
    Ok(Grant {
        access_token: answer.access_token,
        expire_seconds: answer.expire_time.map_or(0, |time| time.seconds),
        upstream_instance_id: answer.upstream_instance_id,
        org_unit,
    })
}
