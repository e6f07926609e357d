//! `egret-activity` on its own must be told where the registry is.

use egret_storage::testing::refused_start;

#[test]
fn the_registry_address_is_required() {
    let stderr = refused_start(env!("CARGO_BIN_EXE_egret-activity"), &[]);
    assert!(stderr.contains("activity.registry_address"), "{stderr}");
}
