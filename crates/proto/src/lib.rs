//! Generated gRPC contracts of every Egret service, compiled from `proto/` by protox so that
//! no system `protoc` is needed.

#![allow(missing_docs, clippy::all)]

/// `egret.common.v1`: types shared by every service.
pub mod common {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("egret.common.v1");
    }
}

/// `egret.registry.v1`: the org tree, registration forms, volunteers and memberships.
pub mod registry {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("egret.registry.v1");
    }
}

/// `egret.activity.v1`: projects, activities, recruitment, attendance and service hours.
pub mod activity {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("egret.activity.v1");
    }
}

/// `egret.recognition.v1`: star ratings, commendations, reward points and certificates.
pub mod recognition {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("egret.recognition.v1");
    }
}

/// `egret.reporting.v1`: statistics, targets, the annual report and exports.
pub mod reporting {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("egret.reporting.v1");
    }
}

/// `egret.gateway.v1`: people's accounts and sign-in.
pub mod gateway {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("egret.gateway.v1");
    }
}

/// `egret.sync.v1`: the change log every service keeps, with its records typed.
pub mod sync {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("egret.sync.v1");
    }
}

/// The encoded `FileDescriptorSet` of every Egret proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("egret_descriptor");

/// A generated gRPC server whose decoded and encoded messages can be bounded; implemented
/// for every Egret service's server, so a host applies one limit to all of them.
pub trait MessageLimits {
    /// The server, refusing and never sending a message over `bytes`.
    fn with_message_limit(self, bytes: usize) -> Self;
}

include!(concat!(env!("OUT_DIR"), "/message_limits.rs"));
