//! Training: completing a course's session grants its qualification, and positions that
//! require a qualification take only volunteers who hold it.

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, in_hours};
use tonic::Code;

both_backends!(qualifications_gate_positions);

async fn qualifications_gate_positions(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "同安区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let trained = app.register(&admin, &team.name, 31).await;
    let untrained = app.register(&admin, &team.name, 32).await;

    let course = app
        .training(&staff)
        .create_course(pb::CreateCourseRequest {
            course: Some(pb::Course {
                org_unit: team.name.clone(),
                display_name: "红十字救护员培训".to_string(),
                kind: pb::CourseKind::ServiceSkills as i32,
                qualification: "急救员".to_string(),
                qualification_valid_days: 365 * 3,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("course")
        .into_inner()
        .course
        .expect("course");
    let session = |start: i64, end: i64| pb::CreateTrainingSessionRequest {
        parent: course.name.clone(),
        training_session: Some(pb::TrainingSession {
            start_time: in_hours(start),
            end_time: in_hours(end),
            location: "区红十字会".to_string(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let past = app
        .training(&staff)
        .create_training_session(session(-4, -1))
        .await
        .expect("session")
        .into_inner()
        .training_session
        .expect("session");
    let future = app
        .training(&staff)
        .create_training_session(session(24, 26))
        .await
        .expect("session")
        .into_inner()
        .training_session
        .expect("session");

    let status = app
        .training(&staff)
        .record_training_completion(pb::RecordTrainingCompletionRequest {
            session: future.name.clone(),
            volunteers: vec![trained.name.clone()],
        })
        .await
        .expect_err("not ended");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let granted = app
        .training(&staff)
        .record_training_completion(pb::RecordTrainingCompletionRequest {
            session: past.name.clone(),
            volunteers: vec![trained.name.clone(), trained.name.clone()],
        })
        .await
        .expect("records")
        .into_inner()
        .qualifications;
    assert_eq!(granted.len(), 1, "once per volunteer and session");
    assert_eq!(granted[0].qualification, "急救员");
    assert!(granted[0].expire_date.is_some());
    let own = app.volunteer_token(&app.root, &trained.name);
    let listed = app
        .training(&own)
        .list_qualifications(pb::ListQualificationsRequest {
            volunteer: trained.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists its own")
        .into_inner()
        .qualifications;
    assert_eq!(listed.len(), 1);

    let activity = app
        .activities(&staff)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(pb::Activity {
                org_unit: team.name.clone(),
                display_name: "马拉松医疗保障".to_string(),
                service_theme: common::ServiceTheme::Civility as i32,
                site: Some(pb::ServiceSite {
                    display_name: "环岛路".to_string(),
                    address: "思明区环岛路".to_string(),
                    kind: pb::SiteKind::Other as i32,
                    check_in_fence: None,
                }),
                start_time: in_hours(48),
                end_time: in_hours(54),
                risk_level: pb::RiskLevel::Low as i32,
                positions: vec![pb::Position {
                    role: "医疗志愿者".to_string(),
                    headcount: 10,
                    required_qualifications: vec!["急救员".to_string()],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("creates")
        .into_inner()
        .activity
        .expect("activity");
    app.activities(&staff)
        .publish_activity(pb::PublishActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .expect("publishes");
    let sign_up = |volunteer: &str| pb::CreateSignUpRequest {
        parent: activity.name.clone(),
        sign_up: Some(pb::SignUp {
            volunteer: volunteer.to_string(),
            position_id: activity.positions[0].position_id.clone(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let status = app
        .sign_ups(&staff)
        .create_sign_up(sign_up(&untrained.name))
        .await
        .expect_err("unqualified");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("急救员"), "{}", status.message());
    app.sign_ups(&staff)
        .create_sign_up(sign_up(&trained.name))
        .await
        .expect("qualified");
    app.assert_tallies_recount().await;
    app.stop().await;
}
