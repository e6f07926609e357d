//! Reward points (回馈, time bank): points follow approved hours (capped per day, reversed
//! with corrections), volunteers give them to each other and redeem them for benefits; the
//! ledger always balances, and retries post nothing twice.

use egret_proto::activity::v1 as activity;
use egret_proto::recognition::v1 as pb;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, chinese_message, violated_fields};
use tonic::Code;

both_backends!(
    points_follow_approved_hours,
    gifts_post_once_and_need_a_balance,
    redemptions_check_stock_and_balance,
    concurrent_spending_never_overdraws,
    access_and_validation
);

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn balance(app: &TestApp, token: &str, volunteer: &str) -> pb::GetBalanceResponse {
    app.rewards(token)
        .get_balance(pb::GetBalanceRequest {
            volunteer: volunteer.to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("balance of {volunteer}: {status:?}"))
        .into_inner()
}

/// The trial balance, checked: it sums to zero and every issued point is in a volunteer's
/// account or was redeemed.
async fn balanced_summary(app: &TestApp) -> pb::GetLedgerSummaryResponse {
    let summary = app
        .rewards(&app.admin())
        .get_ledger_summary(pb::GetLedgerSummaryRequest {})
        .await
        .expect("summary")
        .into_inner();
    assert_eq!(summary.total, 0, "{summary:?}");
    assert_eq!(
        summary.issued,
        summary.volunteer_balances + summary.redeemed,
        "{summary:?}"
    );
    summary
}

async fn statement(app: &TestApp, token: &str, account: &str) -> Vec<pb::Posting> {
    app.rewards(token)
        .list_postings(pb::ListPostingsRequest {
            account: account.to_string(),
            ..Default::default()
        })
        .await
        .expect("statement")
        .into_inner()
        .postings
}

fn assert_balanced(posting: &pb::Posting) {
    assert!(posting.lines.len() >= 2, "{posting:?}");
    assert_eq!(
        posting.lines.iter().map(|line| line.points).sum::<i64>(),
        0,
        "{posting:?}"
    );
}

async fn points_follow_approved_hours(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let volunteer = app.register(&admin, &team.name, 21).await;
    let own = app.volunteer_token(&team.name, &volunteer.name);

    // 10 points an hour, at most 80 a day (the defaults): a full day earns the cap; two
    // records of one day share the day's points (45 + 45 minutes earn 15, not 7 + 7).
    let records = app
        .import_hours(
            &admin,
            &team.name,
            &volunteer.name,
            &[(2, 24 * 60), (3, 90), (4, 45), (4, 45)],
        )
        .await;
    assert_eq!(records.len(), 4);
    let found = balance(&app, &own, &volunteer.name).await;
    assert_eq!(
        (found.balance, found.earned, found.redeemed, found.gifted),
        (110, 110, 0, 0)
    );
    assert_eq!(balance(&app, &staff, &volunteer.name).await.balance, 110);
    let summary = balanced_summary(&app).await;
    assert_eq!(summary.issued, 110);
    assert_eq!(summary.posting_count, 4);

    // The statement: newest first, every posting balanced, the newest line's balance is the
    // balance now.
    let postings = statement(&app, &own, &volunteer.name).await;
    assert_eq!(postings.len(), 4);
    for posting in &postings {
        assert_balanced(posting);
        assert_eq!(posting.kind, pb::PostingKind::Earn as i32);
        assert_eq!(posting.actor, "egret-recognition");
        assert!(posting.source.starts_with("serviceRecords/"), "{posting:?}");
    }
    let own_line = |posting: &pb::Posting| {
        posting
            .lines
            .iter()
            .find(|line| line.account == volunteer.name)
            .cloned()
            .expect("the volunteer's line")
    };
    assert_eq!(own_line(&postings[0]).balance_after, 110);
    assert_eq!(
        postings
            .iter()
            .map(|posting| own_line(posting).points)
            .sum::<i64>(),
        110
    );
    // Pages chain.
    let first = app
        .rewards(&own)
        .list_postings(pb::ListPostingsRequest {
            account: volunteer.name.clone(),
            page_size: 3,
            page_token: String::new(),
        })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.postings.len(), 3);
    assert!(!first.next_page_token.is_empty());
    let second = app
        .rewards(&own)
        .list_postings(pb::ListPostingsRequest {
            account: volunteer.name.clone(),
            page_size: 3,
            page_token: first.next_page_token,
        })
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second.postings.len(), 1);
    assert_eq!(second.postings[0].name, postings[3].name);
    assert!(second.next_page_token.is_empty());
    // The issuance account mirrors every volunteer's earnings (admins only).
    let issuance = statement(&app, &admin, "accounts/issuance").await;
    assert_eq!(issuance.len(), 4);
    assert_eq!(
        issuance[0]
            .lines
            .iter()
            .find(|line| line.account == "accounts/issuance")
            .expect("issuance line")
            .balance_after,
        -110
    );

    // A downward correction sends the full day back to review: its 80 points are reversed
    // at once, and the corrected 2 h earn 20 when approved again.
    let full_day = &records[0];
    app.service_records(&admin)
        .correct_service_record(activity::CorrectServiceRecordRequest {
            name: full_day.name.clone(),
            minutes: 120,
            reason: "核减".to_string(),
        })
        .await
        .expect("corrects");
    assert_eq!(balance(&app, &own, &volunteer.name).await.balance, 30);
    let reversed = &statement(&app, &own, &volunteer.name).await[0];
    assert_eq!(reversed.kind, pb::PostingKind::Reverse as i32);
    assert_eq!(reversed.source, full_day.name);
    assert_eq!(own_line(reversed).points, -80);
    assert_eq!(own_line(reversed).balance_after, 30);
    balanced_summary(&app).await;
    app.service_records(&admin)
        .approve_service_record(activity::ApproveServiceRecordRequest {
            name: full_day.name.clone(),
            comment: String::new(),
        })
        .await
        .expect("approves again");
    let found = balance(&app, &own, &volunteer.name).await;
    assert_eq!((found.balance, found.earned), (50, 50));
    let summary = balanced_summary(&app).await;
    assert_eq!(summary.issued, 50);
    assert_eq!(summary.posting_count, 6);

    // Rejected hours earn nothing, and the statement shows why points moved.
    let kinds: Vec<i32> = statement(&app, &own, &volunteer.name)
        .await
        .iter()
        .map(|posting| posting.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            pb::PostingKind::Earn as i32,
            pb::PostingKind::Reverse as i32,
            pb::PostingKind::Earn as i32,
            pb::PostingKind::Earn as i32,
            pb::PostingKind::Earn as i32,
            pb::PostingKind::Earn as i32,
        ]
    );
}

async fn gifts_post_once_and_need_a_balance(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let giver = app.register(&admin, &team.name, 31).await;
    let receiver = app.register(&admin, &team.name, 32).await;
    let giver_token = app.volunteer_token(&team.name, &giver.name);
    app.import_hours(&admin, &team.name, &giver.name, &[(1, 120)])
        .await;

    let gift = |points: i64, request_id: &str| pb::GiftPointsRequest {
        from_volunteer: giver.name.clone(),
        to_volunteer: receiver.name.clone(),
        points,
        memo: "谢谢帮忙".to_string(),
        request_id: request_id.to_string(),
    };
    let request_id = new_request_id();
    let posting = app
        .rewards(&giver_token)
        .gift_points(gift(5, &request_id))
        .await
        .expect("gives")
        .into_inner()
        .posting
        .expect("posting");
    assert_eq!(posting.kind, pb::PostingKind::Gift as i32);
    assert_balanced(&posting);
    let lines: Vec<(String, i64, i64)> = posting
        .lines
        .iter()
        .map(|line| (line.account.clone(), line.points, line.balance_after))
        .collect();
    assert_eq!(
        lines,
        [(giver.name.clone(), -5, 15), (receiver.name.clone(), 5, 5)]
    );
    // The retry answers with the same posting and moves nothing.
    let again = app
        .rewards(&giver_token)
        .gift_points(gift(5, &request_id))
        .await
        .expect("retry")
        .into_inner()
        .posting
        .expect("posting");
    assert_eq!(again.name, posting.name);
    let found = balance(&app, &giver_token, &giver.name).await;
    assert_eq!((found.balance, found.earned, found.gifted), (15, 20, 5));
    let found = balance(&app, &admin, &receiver.name).await;
    assert_eq!((found.balance, found.earned, found.gifted), (5, 0, -5));
    let summary = balanced_summary(&app).await;
    assert_eq!((summary.issued, summary.posting_count), (20, 2));

    // More than the balance is refused, and nothing moves.
    let status = app
        .rewards(&giver_token)
        .gift_points(gift(16, &new_request_id()))
        .await
        .expect_err("too much");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(chinese_message(&status).is_some());
    assert_eq!(balance(&app, &giver_token, &giver.name).await.balance, 15);
    // Only the giver gives its points.
    let status = app
        .rewards(&app.token(&team.name, &[Role::Staff]))
        .gift_points(gift(1, &new_request_id()))
        .await
        .expect_err("staff");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = app
        .rewards(&app.volunteer_token(&team.name, &receiver.name))
        .gift_points(gift(1, &new_request_id()))
        .await
        .expect_err("someone else's points");
    assert_eq!(status.code(), Code::PermissionDenied);
    // The receiver must exist.
    let status = app
        .rewards(&giver_token)
        .gift_points(pb::GiftPointsRequest {
            to_volunteer: format!("volunteers/{}", uuid::Uuid::new_v4()),
            ..gift(1, &new_request_id())
        })
        .await
        .expect_err("nobody");
    assert_eq!(status.code(), Code::NotFound);

    // Bad input names the fields.
    let status = app
        .rewards(&giver_token)
        .gift_points(gift(0, ""))
        .await
        .expect_err("bad");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["points", "request_id"]);
    assert!(chinese_message(&status).is_some());
    let status = app
        .rewards(&giver_token)
        .gift_points(pb::GiftPointsRequest {
            to_volunteer: giver.name.clone(),
            ..gift(1, "not-a-uuid")
        })
        .await
        .expect_err("to itself");
    assert_eq!(violated_fields(&status), ["to_volunteer", "request_id"]);
    assert_eq!(balanced_summary(&app).await.posting_count, 2);
}

fn benefit(org_unit: &str, display_name: &str, points_cost: i64, stock: i64) -> pb::Benefit {
    pb::Benefit {
        org_unit: org_unit.to_string(),
        display_name: display_name.to_string(),
        description: "到服务站领取".to_string(),
        points_cost,
        stock,
        active: true,
        ..Default::default()
    }
}

async fn create_benefit(app: &TestApp, token: &str, benefit: pb::Benefit) -> pb::Benefit {
    app.rewards(token)
        .create_benefit(pb::CreateBenefitRequest {
            benefit: Some(benefit),
            request_id: new_request_id(),
        })
        .await
        .expect("creates a benefit")
        .into_inner()
        .benefit
        .expect("benefit")
}

async fn benefits(app: &TestApp, token: &str) -> Vec<pb::Benefit> {
    app.rewards(token)
        .list_benefits(pb::ListBenefitsRequest::default())
        .await
        .expect("lists benefits")
        .into_inner()
        .benefits
}

async fn redemptions_check_stock_and_balance(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "集美区")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "海沧区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let volunteer = app.register(&admin, &team.name, 51).await;
    let own = app.volunteer_token(&team.name, &volunteer.name);
    app.import_hours(
        &admin,
        &team.name,
        &volunteer.name,
        &[(1, 24 * 60), (2, 60)],
    )
    .await;
    assert_eq!(balance(&app, &own, &volunteer.name).await.balance, 90);

    // The city offers a blanket, the team a cup, another district a towel: the volunteer
    // sees what its unit and the units above it offer.
    let blanket = create_benefit(&app, &admin, benefit("", "毛毯", 100, 5)).await;
    assert_eq!(blanket.org_unit, app.root);
    let cup = create_benefit(&app, &staff, benefit("", "保温杯", 30, 2)).await;
    assert_eq!(cup.org_unit, team.name);
    let towel = create_benefit(&app, &admin, benefit(&other.name, "毛巾", 10, 9)).await;
    let mut seen: Vec<String> = benefits(&app, &own)
        .await
        .into_iter()
        .map(|benefit| benefit.display_name)
        .collect();
    seen.sort();
    assert_eq!(seen, ["保温杯", "毛毯"]);
    // Staff see their subtree's and their ancestors'; another district's stays hidden.
    assert_eq!(benefits(&app, &staff).await.len(), 2);
    assert_eq!(benefits(&app, &admin).await.len(), 3);

    let redeem = |benefit: &str, quantity: i64, request_id: &str| pb::RedeemBenefitRequest {
        benefit: benefit.to_string(),
        volunteer: volunteer.name.clone(),
        quantity,
        request_id: request_id.to_string(),
    };
    let request_id = new_request_id();
    let first = app
        .rewards(&own)
        .redeem_benefit(redeem(&cup.name, 1, &request_id))
        .await
        .expect("redeems")
        .into_inner()
        .redemption
        .expect("redemption");
    assert_eq!(first.state, pb::RedemptionState::Redeemed as i32);
    assert_eq!((first.points, first.quantity), (30, 1));
    assert_eq!(first.benefit_display_name, "保温杯");
    // The retry answers with the same redemption and takes nothing more.
    let again = app
        .rewards(&own)
        .redeem_benefit(redeem(&cup.name, 1, &request_id))
        .await
        .expect("retry")
        .into_inner()
        .redemption
        .expect("redemption");
    assert_eq!(again.name, first.name);
    let found = balance(&app, &own, &volunteer.name).await;
    assert_eq!((found.balance, found.redeemed), (60, 30));
    let stock = |benefits: Vec<pb::Benefit>, name: &str| {
        benefits
            .into_iter()
            .find(|benefit| benefit.name == name)
            .expect("listed")
            .stock
    };
    assert_eq!(stock(benefits(&app, &own).await, &cup.name), 1);
    let paid_by = statement(&app, &own, &volunteer.name).await;
    assert_eq!(paid_by[0].name, first.posting);
    assert_eq!(paid_by[0].kind, pb::PostingKind::Redeem as i32);
    assert_eq!(paid_by[0].source, first.name);
    assert_balanced(&paid_by[0]);

    // Stock: two asked, one left.
    let status = app
        .rewards(&own)
        .redeem_benefit(redeem(&cup.name, 2, &new_request_id()))
        .await
        .expect_err("one left");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(chinese_message(&status).is_some());
    // Staff redeem for a volunteer of their team.
    let second = app
        .rewards(&staff)
        .redeem_benefit(redeem(&cup.name, 1, &new_request_id()))
        .await
        .expect("the last cup")
        .into_inner()
        .redemption
        .expect("redemption");
    let status = app
        .rewards(&own)
        .redeem_benefit(redeem(&cup.name, 1, &new_request_id()))
        .await
        .expect_err("none left");
    assert_eq!(status.code(), Code::FailedPrecondition);
    // Balance: 30 left, the blanket costs 100; its stock stays.
    assert_eq!(balance(&app, &own, &volunteer.name).await.balance, 30);
    let status = app
        .rewards(&own)
        .redeem_benefit(redeem(&blanket.name, 1, &new_request_id()))
        .await
        .expect_err("too dear");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(stock(benefits(&app, &own).await, &blanket.name), 5);
    // Another district's benefit cannot be redeemed here: it does not exist for the caller.
    let status = app
        .rewards(&own)
        .redeem_benefit(redeem(&towel.name, 1, &new_request_id()))
        .await
        .expect_err("hidden");
    assert_eq!(status.code(), Code::NotFound);

    // Cancelling refunds the points and restores the stock, once.
    let cancel_id = new_request_id();
    let cancel = |request_id: &str| pb::CancelRedemptionRequest {
        name: first.name.clone(),
        request_id: request_id.to_string(),
    };
    let cancelled = app
        .rewards(&own)
        .cancel_redemption(cancel(&cancel_id))
        .await
        .expect("cancels")
        .into_inner()
        .redemption
        .expect("redemption");
    assert_eq!(cancelled.state, pb::RedemptionState::Cancelled as i32);
    app.rewards(&own)
        .cancel_redemption(cancel(&cancel_id))
        .await
        .expect("retry answers the same");
    let status = app
        .rewards(&own)
        .cancel_redemption(cancel(""))
        .await
        .expect_err("cancelled already");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let found = balance(&app, &own, &volunteer.name).await;
    assert_eq!((found.balance, found.redeemed), (60, 30));
    assert_eq!(stock(benefits(&app, &own).await, &cup.name), 1);
    let refund = &statement(&app, &own, &volunteer.name).await[0];
    assert_eq!(refund.kind, pb::PostingKind::Refund as i32);
    assert_eq!(refund.source, first.name);

    // Handed over: no longer cancellable.
    let fulfilled = app
        .rewards(&staff)
        .fulfill_redemption(pb::FulfillRedemptionRequest {
            name: second.name.clone(),
        })
        .await
        .expect("hands over")
        .into_inner()
        .redemption
        .expect("redemption");
    assert_eq!(fulfilled.state, pb::RedemptionState::Fulfilled as i32);
    let status = app
        .rewards(&own)
        .cancel_redemption(pb::CancelRedemptionRequest {
            name: second.name.clone(),
            request_id: String::new(),
        })
        .await
        .expect_err("handed over");
    assert_eq!(status.code(), Code::FailedPrecondition);
    // A volunteer hands nothing over.
    let status = app
        .rewards(&own)
        .fulfill_redemption(pb::FulfillRedemptionRequest {
            name: first.name.clone(),
        })
        .await
        .expect_err("volunteer");
    assert_eq!(status.code(), Code::PermissionDenied);

    // Lists, newest first.
    let listed = |token: String, volunteer: String| {
        let app = &app;
        async move {
            app.rewards(&token)
                .list_redemptions(pb::ListRedemptionsRequest {
                    volunteer,
                    ..Default::default()
                })
                .await
                .expect("lists redemptions")
                .into_inner()
                .redemptions
                .into_iter()
                .map(|redemption| redemption.name)
                .collect::<Vec<_>>()
        }
    };
    let expected = vec![second.name.clone(), first.name.clone()];
    assert_eq!(listed(own.clone(), volunteer.name.clone()).await, expected);
    assert_eq!(listed(staff.clone(), String::new()).await, expected);
    let outsider = app.token(&other.name, &[Role::Staff]);
    assert!(listed(outsider.clone(), String::new()).await.is_empty());

    // A benefit taken off the catalogue cannot be redeemed; the change is in its history.
    let updated = app
        .rewards(&staff)
        .update_benefit(pb::UpdateBenefitRequest {
            benefit: Some(pb::Benefit {
                name: cup.name.clone(),
                active: false,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["active".to_string()],
            }),
            expected_version: 0,
        })
        .await
        .expect("takes off")
        .into_inner()
        .benefit
        .expect("benefit");
    assert!(!updated.active);
    assert_eq!(updated.stock, 1);
    let status = app
        .rewards(&own)
        .redeem_benefit(redeem(&cup.name, 1, &new_request_id()))
        .await
        .expect_err("inactive");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let history = app
        .recognition_records(&admin)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: cup.name.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .change_records;
    // Created, two redemptions, one cancellation, taken off.
    assert_eq!(history.len(), 5, "{history:?}");
    let history = app
        .recognition_records(&admin)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: first.name.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .change_records;
    assert_eq!(history.len(), 2, "{history:?}");
    // Staff of another district cannot change the team's benefit.
    let status = app
        .rewards(&outsider)
        .update_benefit(pb::UpdateBenefitRequest {
            benefit: Some(pb::Benefit {
                name: cup.name.clone(),
                stock: 10,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["stock".to_string()],
            }),
            expected_version: 0,
        })
        .await
        .expect_err("another district");
    assert_eq!(status.code(), Code::NotFound);

    let summary = balanced_summary(&app).await;
    assert_eq!(
        (summary.issued, summary.redeemed, summary.volunteer_balances),
        (90, 30, 60)
    );
}

async fn concurrent_spending_never_overdraws(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let spender = app.register(&admin, &team.name, 81).await;
    let friend = app.register(&admin, &team.name, 82).await;
    let own = app.volunteer_token(&team.name, &spender.name);
    app.import_hours(&admin, &team.name, &spender.name, &[(1, 24 * 60)])
        .await;
    assert_eq!(balance(&app, &own, &spender.name).await.balance, 80);
    let tea = create_benefit(&app, &staff, benefit("", "茶叶", 10, 5)).await;

    // 16 requests of 10 points each race for 80 points and 5 units of stock: exactly 8
    // succeed, whatever the interleaving, and every refusal is FAILED_PRECONDITION.
    let mut calls: Vec<futures::future::BoxFuture<'_, Result<(), tonic::Status>>> = Vec::new();
    for _ in 0..8 {
        let mut client = app.rewards(&own);
        let request = pb::RedeemBenefitRequest {
            benefit: tea.name.clone(),
            volunteer: spender.name.clone(),
            quantity: 1,
            request_id: new_request_id(),
        };
        calls.push(Box::pin(async move {
            client.redeem_benefit(request).await.map(drop)
        }));
        let mut client = app.rewards(&own);
        let request = pb::GiftPointsRequest {
            from_volunteer: spender.name.clone(),
            to_volunteer: friend.name.clone(),
            points: 10,
            memo: String::new(),
            request_id: new_request_id(),
        };
        calls.push(Box::pin(async move {
            client.gift_points(request).await.map(drop)
        }));
    }
    let results = futures::future::join_all(calls).await;
    let succeeded = results.iter().filter(|result| result.is_ok()).count();
    for status in results.iter().filter_map(|result| result.as_ref().err()) {
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    }
    assert_eq!(succeeded, 8, "{results:?}");
    assert_eq!(balance(&app, &own, &spender.name).await.balance, 0);

    // Every line's balance follows from the one before it: no two postings saw the same
    // balance.
    let mut postings = statement(&app, &own, &spender.name).await;
    postings.reverse();
    let mut running = 0;
    for posting in &postings {
        assert_balanced(posting);
        let line = posting
            .lines
            .iter()
            .find(|line| line.account == spender.name)
            .expect("the spender's line");
        running += line.points;
        assert_eq!(line.balance_after, running, "{postings:?}");
    }
    assert_eq!(running, 0);
    let redeemed = postings
        .iter()
        .filter(|posting| posting.kind == pb::PostingKind::Redeem as i32)
        .count() as i64;
    let left = benefits(&app, &own)
        .await
        .into_iter()
        .find(|benefit| benefit.name == tea.name)
        .expect("listed")
        .stock;
    assert_eq!(left, 5 - redeemed);
    let summary = balanced_summary(&app).await;
    assert_eq!(
        (summary.issued, summary.redeemed, summary.volunteer_balances),
        (80, redeemed * 10, 80 - redeemed * 10)
    );
}

async fn access_and_validation(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "同安区")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "翔安区")
        .await;
    let volunteer = app.register(&admin, &team.name, 61).await;
    let neighbour = app.register(&admin, &team.name, 62).await;
    let own = app.volunteer_token(&team.name, &volunteer.name);
    let outsider = app.token(&other.name, &[Role::Staff]);
    let leader = app.token(&team.name, &[Role::TeamLeader]);

    // Another district's staff cannot tell the volunteer exists.
    for request in [
        volunteer.name.clone(),
        format!("volunteers/{}", uuid::Uuid::new_v4()),
    ] {
        let status = app
            .rewards(&outsider)
            .get_balance(pb::GetBalanceRequest { volunteer: request })
            .await
            .expect_err("another district");
        assert_eq!(status.code(), Code::NotFound);
    }
    let status = app
        .rewards(&outsider)
        .list_postings(pb::ListPostingsRequest {
            account: volunteer.name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another district");
    assert_eq!(status.code(), Code::NotFound);
    let status = app
        .rewards(&outsider)
        .list_redemptions(pb::ListRedemptionsRequest {
            volunteer: volunteer.name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another district");
    assert_eq!(status.code(), Code::NotFound);
    // A volunteer reads only its own points; the team leader reads its team's.
    let status = app
        .rewards(&own)
        .get_balance(pb::GetBalanceRequest {
            volunteer: neighbour.name.clone(),
        })
        .await
        .expect_err("someone else's");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(balance(&app, &leader, &volunteer.name).await.balance, 0);
    // The system accounts and the summary are not for volunteers or team leaders.
    let status = app
        .rewards(&app.token(&app.root, &[Role::Staff]))
        .list_postings(pb::ListPostingsRequest {
            account: "accounts/redemption".to_string(),
            ..Default::default()
        })
        .await
        .expect_err("staff");
    assert_eq!(status.code(), Code::PermissionDenied);
    for token in [&own, &leader] {
        let status = app
            .rewards(token)
            .get_ledger_summary(pb::GetLedgerSummaryRequest {})
            .await
            .expect_err("summary");
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    // Only staff run the catalogue.
    let status = app
        .rewards(&own)
        .create_benefit(pb::CreateBenefitRequest {
            benefit: Some(benefit("", "雨伞", 10, 1)),
            request_id: String::new(),
        })
        .await
        .expect_err("volunteer");
    assert_eq!(status.code(), Code::PermissionDenied);

    // Bad input: INVALID_ARGUMENT naming each field, in English and Chinese.
    let invalid = |status: tonic::Status| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(chinese_message(&status).is_some(), "{status:?}");
        violated_fields(&status)
    };
    let status = app
        .rewards(&own)
        .get_balance(pb::GetBalanceRequest {
            volunteer: "volunteers/not-an-id".to_string(),
        })
        .await
        .expect_err("bad name");
    assert_eq!(invalid(status), ["volunteer"]);
    let status = app
        .rewards(&admin)
        .list_postings(pb::ListPostingsRequest {
            account: "accounts/petty-cash".to_string(),
            ..Default::default()
        })
        .await
        .expect_err("no such account");
    assert_eq!(invalid(status), ["account"]);
    let status = app
        .rewards(&admin)
        .list_postings(pb::ListPostingsRequest {
            account: "accounts/issuance".to_string(),
            page_size: -1,
            ..Default::default()
        })
        .await
        .expect_err("bad page size");
    assert_eq!(invalid(status), ["page_size"]);
    let status = app
        .rewards(&admin)
        .create_benefit(pb::CreateBenefitRequest {
            benefit: Some(pb::Benefit {
                org_unit: "teams/1".to_string(),
                display_name: " ".to_string(),
                points_cost: 0,
                stock: -1,
                ..Default::default()
            }),
            request_id: "twice".to_string(),
        })
        .await
        .expect_err("bad benefit");
    assert_eq!(
        invalid(status),
        [
            "benefit.org_unit",
            "benefit.display_name",
            "benefit.points_cost",
            "benefit.stock",
            "request_id"
        ]
    );
    let status = app
        .rewards(&admin)
        .create_benefit(pb::CreateBenefitRequest::default())
        .await
        .expect_err("no benefit");
    assert_eq!(invalid(status), ["benefit"]);
    let created = create_benefit(&app, &admin, benefit("", "雨伞", 10, 1)).await;
    let status = app
        .rewards(&admin)
        .update_benefit(pb::UpdateBenefitRequest {
            benefit: Some(pb::Benefit {
                name: created.name.clone(),
                ..Default::default()
            }),
            update_mask: None,
            expected_version: 0,
        })
        .await
        .expect_err("no mask");
    assert_eq!(invalid(status), ["update_mask"]);
    let status = app
        .rewards(&admin)
        .update_benefit(pb::UpdateBenefitRequest {
            benefit: Some(pb::Benefit {
                name: created.name.clone(),
                points_cost: -5,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["org_unit".to_string(), "points_cost".to_string()],
            }),
            expected_version: 0,
        })
        .await
        .expect_err("bad mask");
    assert_eq!(invalid(status), ["update_mask.paths[0]"]);
    let status = app
        .rewards(&admin)
        .update_benefit(pb::UpdateBenefitRequest {
            benefit: Some(pb::Benefit {
                name: created.name.clone(),
                points_cost: -5,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["points_cost".to_string()],
            }),
            expected_version: 0,
        })
        .await
        .expect_err("bad cost");
    assert_eq!(invalid(status), ["benefit.points_cost"]);
    // A stale version is refused.
    let status = app
        .rewards(&admin)
        .update_benefit(pb::UpdateBenefitRequest {
            benefit: Some(pb::Benefit {
                name: created.name.clone(),
                stock: 3,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["stock".to_string()],
            }),
            expected_version: 7,
        })
        .await
        .expect_err("stale");
    assert_eq!(status.code(), Code::Aborted);
    let status = app
        .rewards(&own)
        .redeem_benefit(pb::RedeemBenefitRequest {
            benefit: "benefits/umbrella".to_string(),
            volunteer: volunteer.name.clone(),
            quantity: 0,
            request_id: String::new(),
        })
        .await
        .expect_err("bad redemption");
    assert_eq!(invalid(status), ["benefit", "quantity", "request_id"]);
    let status = app
        .rewards(&own)
        .cancel_redemption(pb::CancelRedemptionRequest {
            name: "redemptions/1".to_string(),
            request_id: String::new(),
        })
        .await
        .expect_err("bad name");
    assert_eq!(invalid(status), ["name"]);
    let status = app
        .rewards(&admin)
        .list_redemptions(pb::ListRedemptionsRequest {
            volunteer: "people/1".to_string(),
            ..Default::default()
        })
        .await
        .expect_err("bad volunteer");
    assert_eq!(invalid(status), ["volunteer"]);
    // No posting came of any of it.
    assert_eq!(balanced_summary(&app).await.posting_count, 0);
}

/// The rate comes from the configuration.
async fn the_configured_rate_applies(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "鼓浪屿")
        .await;
    let volunteer = app.register(&admin, &team.name, 71).await;
    app.import_hours(
        &admin,
        &team.name,
        &volunteer.name,
        &[(1, 24 * 60), (2, 150)],
    )
    .await;
    // 6 an hour, at most 30 a day: 30 + 15.
    let found = balance(&app, &admin, &volunteer.name).await;
    assert_eq!((found.balance, found.earned), (45, 45));
    assert_eq!(balanced_summary(&app).await.issued, 45);
}

mod the_configured_rate {
    use egret_tests::{Backend, TestApp};

    async fn spawn(backend: Backend, name: &str) -> Option<TestApp> {
        TestApp::spawn_with(backend, name, |config| {
            config.recognition.points_per_hour = 6;
            config.recognition.max_points_per_day = 30;
        })
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(app) = spawn(Backend::Sqlite, concat!(module_path!(), "::sqlite")).await {
            super::the_configured_rate_applies(app).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = spawn(Backend::Postgres, concat!(module_path!(), "::postgres")).await {
            super::the_configured_rate_applies(app).await;
        }
    }
}
