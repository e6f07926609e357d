//! `egret-recognition` on its own must be told where every service it follows is.

use egret_storage::testing::refused_start;

#[test]
fn the_followed_services_addresses_are_required() {
    let stderr = refused_start(
        env!("CARGO_BIN_EXE_egret-recognition"),
        &[("EGRET__RECOGNITION__REGISTRY_ADDRESS", "http://127.0.0.1:1")],
    );
    assert!(stderr.contains("recognition.activity_address"), "{stderr}");
}
