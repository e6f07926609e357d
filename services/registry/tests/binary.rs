//! `egret-registry` checks its configuration before it binds a port.

use egret_storage::testing::refused_start;

#[test]
fn a_bad_value_names_its_key() {
    let stderr = refused_start(
        env!("CARGO_BIN_EXE_egret-registry"),
        &[("EGRET__SERVER__CONCURRENCY_LIMIT", "0")],
    );
    assert!(stderr.contains("server.concurrency_limit"), "{stderr}");
}
