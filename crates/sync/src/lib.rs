//! The change-log contract of Egret, `egret.sync.v1`, and everything that moves changes
//! between services: the server that reads a service's log, the follower that applies
//! another service's log with its checkpoint, and the replica of the org tree every service
//! keeps.
//!
//! Every change a service commits is appended to its change log in the same transaction
//! (the SQL lives in `egret-storage`). The record a change carries is an
//! `egret.sync.v1.Record`: one typed message per kind of resource, checked when the change
//! is written ([`record`]). Readers decode the generated types, so a field a follower relies
//! on is a field of the contract, not a key in a JSON map.

pub mod downward;
pub mod enrollment;
pub mod follower;
pub mod history;
pub mod metrics;
pub mod push;
pub mod record;
pub mod replica;
pub mod server;
pub mod tally;
pub mod upstream;
pub mod upward;
pub mod wire;

pub use follower::{ChangeSink, ChangeSource, FeedPage, Follower, FollowerStatus, ServiceLog};
pub use history::RecordChanges;
pub use server::{SERVICE_HEADER, serve_change_log};
