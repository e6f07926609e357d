//! The sync links' Prometheus metrics (served by `egret_runtime::metrics`). Labels are
//! services and instance ids, never a record.
//!
//! At an upstream, per district and service: whether the link is in alarm, how many
//! changes the district reported that are not applied yet, and the age of its last
//! heartbeat, refreshed by the link watch. At a district, per service: the same for its
//! push, and for its feed from the upstream.

use std::sync::LazyLock;

use prometheus::{IntGaugeVec, register_int_gauge_vec};

/// Declares gauge families, each registered in the default registry on first use.
macro_rules! gauges {
    ($($family:ident: $name:literal, $help:literal, [$($label:literal),+];)+) => {$(
        static $family: LazyLock<IntGaugeVec> = LazyLock::new(|| {
            register_int_gauge_vec!($name, $help, &[$($label),+])
                .expect("each metric registers once")
        });
    )+};
}

gauges! {
    LINK_ALARM: "egret_sync_link_alarm",
        "At the upstream: 1 while a district's link is stalled, refused, diverged or mismatched",
        ["service", "origin"];
    LINK_BEHIND: "egret_sync_link_behind_changes",
        "At the upstream: sequences of a district's log its last heartbeat reported and not yet applied",
        ["service", "origin"];
    LINK_HEARTBEAT_AGE: "egret_sync_link_heartbeat_age_seconds",
        "At the upstream: seconds since a district's last heartbeat",
        ["service", "origin"];
    PUSH_ALARM: "egret_sync_push_alarm",
        "At a district: 1 while pushing a service's log upward fails, or the upstream's copies disagree with its tally",
        ["service"];
    PUSH_BEHIND: "egret_sync_push_behind_changes",
        "At a district: sequences of a service's log the upstream has not acknowledged",
        ["service"];
    PULL_ALARM: "egret_sync_pull_alarm",
        "At a district: 1 while pulling what comes down from the upstream fails",
        ["service"];
    PULL_BEHIND: "egret_sync_pull_behind_changes",
        "At a district: sequences of the upstream's log read and not yet applied",
        ["service"];
}

/// Notes a district's link of `service` as the upstream sees it at `now` (microseconds).
pub fn note_link(service: &str, facts: &crate::upward::LinkFacts, now: i64) {
    let labels = [service, facts.origin_instance.as_str()];
    let state = crate::upward::link_state(facts, now);
    LINK_ALARM
        .with_label_values(&labels)
        .set(i64::from(crate::upward::is_alarm(state)));
    LINK_BEHIND
        .with_label_values(&labels)
        .set((facts.head_sequence - facts.acknowledged_sequence).max(0));
    LINK_HEARTBEAT_AGE
        .with_label_values(&labels)
        .set((now - facts.heartbeat_time).max(0) / 1_000_000);
}

/// Notes a district's push of `service`.
pub fn note_push(service: &str, alarm: bool, behind: i64) {
    PUSH_ALARM
        .with_label_values(&[service])
        .set(i64::from(alarm));
    PUSH_BEHIND.with_label_values(&[service]).set(behind.max(0));
}

/// Notes a district's feed of `service` from the upstream.
pub fn note_pull(service: &str, alarm: bool, behind: i64) {
    PULL_ALARM
        .with_label_values(&[service])
        .set(i64::from(alarm));
    PULL_BEHIND.with_label_values(&[service]).set(behind.max(0));
}
