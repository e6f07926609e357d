//! Compiles `proto/` with protox (pure Rust) and generates prost messages and tonic
//! services, plus a descriptor set for reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "egret/common/v1/common.proto",
        "egret/registry/v1/org_unit.proto",
        "egret/registry/v1/volunteer.proto",
        "egret/registry/v1/membership.proto",
        "egret/registry/v1/records.proto",
        "egret/activity/v1/project.proto",
        "egret/activity/v1/activity.proto",
        "egret/activity/v1/sign_up.proto",
        "egret/activity/v1/attendance.proto",
        "egret/activity/v1/service_record.proto",
        "egret/activity/v1/insurance.proto",
        "egret/activity/v1/training.proto",
        "egret/activity/v1/evaluation.proto",
        "egret/activity/v1/records.proto",
        "egret/recognition/v1/rule_set.proto",
        "egret/recognition/v1/star_rating.proto",
        "egret/recognition/v1/rewards.proto",
        "egret/recognition/v1/certificate.proto",
        "egret/recognition/v1/commendation.proto",
        "egret/recognition/v1/records.proto",
        "egret/reporting/v1/statistics.proto",
        "egret/reporting/v1/exports.proto",
        "egret/reporting/v1/annual_report.proto",
        "egret/reporting/v1/targets.proto",
        "egret/reporting/v1/records.proto",
        "egret/gateway/v1/auth.proto",
        "egret/gateway/v1/enrollment.proto",
        "egret/sync/v1/records.proto",
        "egret/sync/v1/change_log.proto",
        "egret/sync/v1/upward.proto",
        "egret/sync/v1/downward.proto",
    ];
    println!("cargo:rerun-if-changed={}", proto_root.display());
    let descriptor_set = protox::compile(files, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("egret_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptor_set),
    )?;
    std::fs::write(
        out_dir.join("message_limits.rs"),
        message_limit_impls(&descriptor_set),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptor_set)?;
    Ok(())
}

/// `MessageLimits` for the generated server of every service, so that a host applies its
/// size limit to whatever service it is given.
fn message_limit_impls(descriptor_set: &prost_types::FileDescriptorSet) -> String {
    let mut code = String::new();
    for file in &descriptor_set.file {
        let Some(package) = file.package().strip_prefix("egret.") else {
            continue;
        };
        let module = package.replace('.', "::");
        for service in &file.service {
            let name = service.name();
            let server_module = format!("{}_server", snake_case(name));
            code.push_str(&format!(
                "impl<T> MessageLimits for {module}::{server_module}::{name}Server<T> {{\n\
                 \x20   fn with_message_limit(self, bytes: usize) -> Self {{\n\
                 \x20       self.max_decoding_message_size(bytes).max_encoding_message_size(bytes)\n\
                 \x20   }}\n\
                 }}\n"
            ));
        }
    }
    code
}

/// `OrgUnitService` → `org_unit_service`, as tonic names a service's module.
fn snake_case(name: &str) -> String {
    let mut snake = String::new();
    for (index, character) in name.chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            snake.push('_');
        }
        snake.push(character.to_ascii_lowercase());
    }
    snake
}
