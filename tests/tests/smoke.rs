//! The first thing a user does: start Egret, see it healthy, register a team and a volunteer.

use egret_proto::registry::v1 as pb;
use egret_tests::{TestApp, both_backends};

both_backends!(register_team_and_volunteer);

async fn register_team_and_volunteer(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(
            &admin,
            &app.root,
            pb::Tier::Team,
            "思明区妇联巾帼志愿服务队",
        )
        .await;
    let volunteer = app.register(&admin, &team.name, 1).await;
    assert!(
        volunteer.id_number.contains('*'),
        "masked: {}",
        volunteer.id_number
    );
    assert!(
        volunteer.phone.contains("****"),
        "masked: {}",
        volunteer.phone
    );
    app.stop().await;
}
