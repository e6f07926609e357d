//! The registry's gRPC surface: conversions between wire and domain types, nothing else.
//! Every rule lives in [`crate::domain`], every use case in [`crate::app`].

mod members;
mod org;
mod records;
mod volunteers;

use egret_proto::registry::v1::{
    membership_service_server::MembershipServiceServer,
    org_unit_service_server::OrgUnitServiceServer,
    registry_records_service_server::RegistryRecordsServiceServer,
    volunteer_service_server::VolunteerServiceServer,
};
use egret_runtime::ServiceHost;

use crate::app::Registry;
use egret_runtime::wire::{
    check_request_id, date_from_wire, date_to_wire, enum_list, enum_value, mask_paths, metadata,
    optional_name, parse_name, parse_nested_name, text, timestamp, today,
};

/// Adds the registry's four gRPC services to a host, with the gates of their writes.
pub fn add_services(host: &mut ServiceHost, registry: Registry) {
    host.gate("egret.registry.v1", crate::domain::access::gate);
    host.add_service(OrgUnitServiceServer::new(org::OrgUnitApi(registry.clone())));
    host.add_service(VolunteerServiceServer::new(volunteers::VolunteerApi(
        registry.clone(),
    )));
    host.add_service(MembershipServiceServer::new(members::MembershipApi(
        registry.clone(),
    )));
    host.add_service(RegistryRecordsServiceServer::new(records::RecordsApi(
        registry,
    )));
}
