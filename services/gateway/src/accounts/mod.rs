//! People's accounts and sign-in (账号与登录), owned by the gateway: accounts with argon2id
//! passwords, short-lived access tokens in the format every service verifies, rotating
//! refresh tokens, admin RPCs within the admin's subtree, the change history and an audit
//! log. Org units and volunteers are looked up in the registry with the caller's own token,
//! so the registry decides what the caller may see.
//!
//! Layers as in the services: [`grpc`] converts, [`app`] holds the use cases, [`domain`] the
//! rules without I/O, [`store`] the SQL; [`password`] hashes.

pub mod app;
pub mod domain;
pub mod grpc;
pub mod password;
pub mod store;

pub use app::Accounts;
