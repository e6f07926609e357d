//! Enrollments of district instances (接入登记), owned by the city's gateway: the city
//! registers a district federation as a unit of its tree and enrolls an instance id for it;
//! the district's instance exchanges the credential for short-lived sync tokens of that
//! unit's subtree, which the city's services verify like any token. Revoking an enrollment
//! stops new tokens at once; a token already handed out expires within
//! [`app::SYNC_TOKEN_TTL`].
//!
//! Layers as in the services: [`grpc`] converts, [`app`] holds the use cases and rules,
//! [`store`] the SQL.

pub mod app;
pub mod grpc;
pub mod store;

pub use app::Enrollments;
