//! Exports and charts end to end: an XLSX read back gives QueryStatistics' figures; service
//! records as CSV after a correction; volunteers masked (no plaintext ID, no phone); the
//! national platform's layouts; teams in the registration-form layout; charts as SVG and
//! PNG; bad input names the field; another subtree is unknown. Every export's chunks say
//! how many rows are written of how many, and a long one says so page by page.

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use egret_proto::activity::v1 as activity_pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry_pb;
use egret_proto::reporting::v1 as pb;
use egret_runtime::Role;
use egret_runtime::wire::{date_to_wire as wire, today};
use egret_tests::{TestApp, both_backends, days_before, resident_id, violated_fields};
use prost_types::FieldMask;

/// A downloaded file: its bytes, media type and name, and the progress its chunks gave.
struct File {
    data: Vec<u8>,
    content_type: String,
    file_name: String,
    chunks: usize,
    /// Each chunk's rows written.
    progress: Vec<i64>,
    /// The rows counted at the start (the same in every chunk).
    rows_total: i64,
    /// The rows written of each chunk that carried no data.
    empty_progress: Vec<i64>,
}

impl File {
    /// The rows the last chunk says were written.
    fn rows_written(&self) -> i64 {
        self.progress.last().copied().unwrap_or_default()
    }
}

async fn collect<T>(
    mut stream: tonic::Streaming<T>,
    chunk_of: fn(T) -> Option<pb::FileChunk>,
) -> File {
    let mut file = File {
        data: Vec::new(),
        content_type: String::new(),
        file_name: String::new(),
        chunks: 0,
        progress: Vec::new(),
        rows_total: 0,
        empty_progress: Vec::new(),
    };
    while let Some(message) = stream.message().await.expect("the stream goes on") {
        let chunk = chunk_of(message).expect("a chunk");
        if file.chunks == 0 {
            file.content_type = chunk.content_type;
            file.file_name = chunk.file_name;
            file.rows_total = chunk.rows_total;
        } else {
            assert!(chunk.content_type.is_empty() && chunk.file_name.is_empty());
            assert_eq!(
                chunk.rows_total, file.rows_total,
                "the same total in every chunk"
            );
        }
        assert!(
            chunk.rows_written >= file.rows_written(),
            "progress never goes back: {:?} then {}",
            file.progress,
            chunk.rows_written
        );
        file.progress.push(chunk.rows_written);
        if chunk.data.is_empty() {
            file.empty_progress.push(chunk.rows_written);
        }
        file.data.extend_from_slice(&chunk.data);
        file.chunks += 1;
    }
    assert!(file.chunks > 0, "at least one chunk");
    assert_eq!(
        file.progress[0], 0,
        "the first chunk comes once the rows are counted"
    );
    file
}

/// On a quiet database, the count at the start is what the file holds, and the last chunk
/// says so: `rows` read back, with the header.
#[track_caller]
fn assert_counted(file: &File, rows: &[Vec<String>]) {
    let data_rows = rows.len() as i64 - 1;
    assert_eq!(file.rows_written(), data_rows, "{:?}", file.progress);
    assert_eq!(file.rows_total, data_rows);
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Float(number) if number.fract() == 0.0 => format!("{}", *number as i64),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// The rows of the first sheet of a workbook, as text.
fn xlsx_rows(file: &File) -> Vec<Vec<String>> {
    assert_eq!(
        file.content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(file.file_name.ends_with(".xlsx"), "{}", file.file_name);
    let mut workbook: Xlsx<_> =
        open_workbook_from_rs(std::io::Cursor::new(file.data.clone())).expect("a workbook");
    let range = workbook
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|row| row.iter().map(cell_text).collect())
        .collect();
    assert_counted(file, &rows);
    rows
}

/// The rows of a CSV (our exports quote nothing the tests write).
fn csv_rows(file: &File) -> Vec<Vec<String>> {
    assert_eq!(file.content_type, "text/csv; charset=utf-8");
    assert!(file.file_name.ends_with(".csv"), "{}", file.file_name);
    let text = String::from_utf8(file.data.clone()).expect("UTF-8");
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let rows: Vec<Vec<String>> = text
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect();
    assert_counted(file, &rows);
    rows
}

async fn statistics_xlsx(
    app: &TestApp,
    token: &str,
    metric: pb::Metric,
    dimensions: &[pb::Dimension],
) -> (Vec<Vec<String>>, pb::QueryStatisticsResponse) {
    let dimensions: Vec<i32> = dimensions.iter().map(|d| *d as i32).collect();
    let stream = app
        .exports(token)
        .export_statistics(pb::ExportStatisticsRequest {
            metric: metric as i32,
            dimensions: dimensions.clone(),
            catch_up: true,
            format: pb::ExportFormat::Xlsx as i32,
            ..Default::default()
        })
        .await
        .expect("exports statistics")
        .into_inner();
    let rows = xlsx_rows(&collect(stream, |message| message.chunk).await);
    let response = app
        .statistics(token)
        .query_statistics(pb::QueryStatisticsRequest {
            metric: metric as i32,
            dimensions,
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("queries")
        .into_inner();
    (rows, response)
}

async fn service_records(
    app: &TestApp,
    token: &str,
    org_unit: &str,
    format: pb::ExportFormat,
    layout: pb::Layout,
) -> File {
    let stream = app
        .exports(token)
        .export_service_records(pb::ExportServiceRecordsRequest {
            org_unit: org_unit.to_string(),
            format: format as i32,
            layout: layout as i32,
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("exports service records")
        .into_inner();
    collect(stream, |message| message.chunk).await
}

async fn volunteers(
    app: &TestApp,
    token: &str,
    format: pb::ExportFormat,
    layout: pb::Layout,
) -> File {
    let stream = app
        .exports(token)
        .export_volunteers(pb::ExportVolunteersRequest {
            format: format as i32,
            layout: layout as i32,
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("exports volunteers")
        .into_inner();
    collect(stream, |message| message.chunk).await
}

async fn exports_match_the_data(app: TestApp) {
    let admin = app.admin();
    let team_a = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "思明巾帼服务队")
        .await;
    let sub_a = app
        .create_unit(
            &admin,
            &team_a.name,
            registry_pb::Tier::SubTeam,
            "思明一分队",
        )
        .await;
    let team_b = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "湖里巾帼服务队")
        .await;
    let form = app
        .org_units(&admin)
        .update_registration_form(registry_pb::UpdateRegistrationFormRequest {
            registration_form: Some(registry_pb::RegistrationForm {
                name: format!("{}/registrationForm", team_a.name),
                leader_name: "王芳".to_string(),
                host_unit: "思明区妇联".to_string(),
                declared_member_count: 30,
                founded_on: Some(common::Date {
                    year: 2020,
                    month: 3,
                    day: 8,
                }),
                phone: "13812345678".to_string(),
                email: "team@example.cn".to_string(),
                address: "厦门市思明区".to_string(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: [
                    "leader_name",
                    "host_unit",
                    "declared_member_count",
                    "founded_on",
                    "phone",
                    "email",
                    "address",
                ]
                .iter()
                .map(|path| path.to_string())
                .collect(),
            }),
            expected_version: 0,
        })
        .await
        .expect("fills the form")
        .into_inner()
        .registration_form
        .expect("form");
    let first = app.register(&admin, &team_a.name, 81).await;
    let second = app.register(&admin, &sub_a.name, 82).await;
    let third = app.register(&admin, &team_b.name, 83).await;
    let first_records = app
        .import_hours(&admin, &team_a.name, &first.name, &[(1, 120), (2, 60)])
        .await;
    app.import_hours(&admin, &sub_a.name, &second.name, &[(1, 45)])
        .await;
    app.import_hours(&admin, &team_b.name, &third.name, &[(3, 30)])
        .await;
    // A correction: 120 become 90, approved again.
    app.service_records(&admin)
        .correct_service_record(activity_pb::CorrectServiceRecordRequest {
            name: first_records[0].name.clone(),
            minutes: 90,
            reason: "签退时间有误".to_string(),
        })
        .await
        .expect("corrects");
    app.service_records(&admin)
        .approve_service_record(activity_pb::ApproveServiceRecordRequest {
            name: first_records[0].name.clone(),
            comment: String::new(),
        })
        .await
        .expect("approves again");
    let viewer = app.token(&app.root, &[Role::Viewer]);

    // Statistics as XLSX: the figures QueryStatistics gives, in the same order.
    let (rows, response) = statistics_xlsx(
        &app,
        &viewer,
        pb::Metric::ApprovedMinutes,
        &[pb::Dimension::OrgUnit],
    )
    .await;
    assert_eq!(rows[0], ["组织", "服务时长（分钟）"]);
    assert_eq!(rows.len(), response.buckets.len() + 2, "{rows:?}");
    for (row, bucket) in rows[1..].iter().zip(&response.buckets) {
        assert_eq!(row[1], bucket.value.to_string(), "{rows:?}");
        let expected = if bucket.keys[0] == team_a.name {
            "思明巾帼服务队"
        } else {
            "湖里巾帼服务队"
        };
        assert_eq!(row[0], expected);
    }
    assert_eq!(
        rows.last().expect("total row"),
        &["合计".to_string(), response.total.to_string()]
    );
    assert_eq!(response.total, 90 + 60 + 45 + 30);
    let (rows, response) = statistics_xlsx(
        &app,
        &viewer,
        pb::Metric::Volunteers,
        &[pb::Dimension::Gender],
    )
    .await;
    let values: Vec<String> = rows[1..rows.len() - 1]
        .iter()
        .map(|row| row[1].clone())
        .collect();
    let expected: Vec<String> = response
        .buckets
        .iter()
        .map(|bucket| bucket.value.to_string())
        .collect();
    assert_eq!(values, expected);
    for (row, bucket) in rows[1..].iter().zip(&response.buckets) {
        let label = match bucket.keys[0].as_str() {
            "female" => "女",
            "male" => "男",
            other => other,
        };
        assert_eq!(row[0], label);
    }
    assert_eq!(rows.last().expect("total")[1], "3");

    // Service records as CSV: team A's subtree, three records, the corrected one at 90.
    let file = service_records(
        &app,
        &admin,
        &team_a.name,
        pb::ExportFormat::Csv,
        pb::Layout::Unspecified,
    )
    .await;
    let rows = csv_rows(&file);
    assert_eq!(
        rows[0],
        [
            "记录编号",
            "志愿者编号",
            "姓名",
            "证件号码",
            "服务日期",
            "服务时长（小时）",
            "服务时长（分钟）",
            "服务内容",
            "活动名称",
            "所属组织",
            "状态"
        ]
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    let corrected_id = first_records[0]
        .name
        .rsplit('/')
        .next()
        .expect("an id")
        .to_string();
    let corrected = rows
        .iter()
        .find(|row| row[0] == corrected_id)
        .expect("the corrected record");
    assert_eq!(corrected[2], "志愿者81");
    assert_eq!(corrected[5], "1.50");
    assert_eq!(corrected[6], "90");
    assert_eq!(corrected[9], "思明巾帼服务队");
    assert_eq!(corrected[10], "已通过");
    let today = today();
    assert_eq!(corrected[4], days_before(today, 1).to_iso());
    let minutes: i64 = rows[1..]
        .iter()
        .map(|row| row[6].parse::<i64>().expect("minutes"))
        .sum();
    assert_eq!(minutes, 90 + 60 + 45);
    for row in &rows[1..] {
        assert!(row[3].contains('*'), "masked: {row:?}");
    }
    // A viewer sees names masked.
    let rows = csv_rows(
        &service_records(
            &app,
            &viewer,
            &team_a.name,
            pb::ExportFormat::Csv,
            pb::Layout::Unspecified,
        )
        .await,
    );
    assert!(
        rows[1..]
            .iter()
            .all(|row| row[2].starts_with("志") && row[2].ends_with('*'))
    );
    // The national platform's layout, as XLSX.
    let rows = xlsx_rows(
        &service_records(
            &app,
            &admin,
            "",
            pb::ExportFormat::Xlsx,
            pb::Layout::NationalPlatform,
        )
        .await,
    );
    assert_eq!(
        rows[0],
        [
            "序号",
            "姓名",
            "证件类型",
            "证件号码",
            "志愿者编号",
            "服务日期",
            "服务时长（小时）",
            "服务内容",
            "活动名称",
            "所属组织"
        ]
    );
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(rows[1][0], "1");
    assert!(rows[1..].iter().all(|row| row[2] == "居民身份证"));

    // Volunteers: masked, never the ID number or the phone registered.
    let file = volunteers(
        &app,
        &admin,
        pb::ExportFormat::Xlsx,
        pb::Layout::Unspecified,
    )
    .await;
    let rows = xlsx_rows(&file);
    assert_eq!(rows.len(), 4, "{rows:?}");
    let all_text = rows.concat().join("|");
    for seed in [81, 82, 83] {
        let id = resident_id(seed);
        assert!(!all_text.contains(&id), "plaintext ID of {seed}");
        assert!(!all_text.contains(&id[6..14]), "birth digits of {seed}");
        assert!(
            !all_text.contains(&format!("139{seed:08}")),
            "phone of {seed}"
        );
    }
    for (row, volunteer) in rows[1..].iter().zip({
        let mut sorted = vec![&first, &second, &third];
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        sorted
    }) {
        assert_eq!(row[0], volunteer.volunteer_number);
        assert_eq!(row[1], volunteer.display_name);
        assert!(row[3].contains('*'), "{row:?}");
    }
    let rows = csv_rows(
        &volunteers(
            &app,
            &viewer,
            pb::ExportFormat::Csv,
            pb::Layout::NationalPlatform,
        )
        .await,
    );
    assert_eq!(
        rows[0],
        [
            "序号",
            "姓名",
            "证件类型",
            "证件号码",
            "性别",
            "出生日期",
            "志愿者编号",
            "所属组织",
            "注册日期",
            "服务时长（小时）"
        ]
    );
    assert_eq!(rows.len(), 4);
    assert!(
        rows[1..].iter().all(|row| row[1].ends_with('*')),
        "{rows:?}"
    );
    let hours: f64 = rows[1..]
        .iter()
        .map(|row| row[9].parse::<f64>().expect("hours"))
        .sum();
    assert!((hours - 225.0 / 60.0).abs() < 0.02, "{hours}");

    // Teams in the registration-form layout, contacts masked.
    let stream = app
        .exports(&viewer)
        .export_teams(pb::ExportTeamsRequest {
            format: pb::ExportFormat::Csv as i32,
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("exports teams")
        .into_inner();
    let file = collect(stream, |message| message.chunk).await;
    let text = String::from_utf8(file.data.clone()).expect("UTF-8");
    assert!(!text.contains("13812345678") && !text.contains("team@example.cn"));
    let rows = csv_rows(&file);
    assert_eq!(
        rows[0],
        [
            "档案编号",
            "队伍编号",
            "队伍名称",
            "负责人",
            "单位名称",
            "成员人数",
            "队伍级别",
            "成立时间",
            "联系电话",
            "邮箱",
            "联系地址",
            "队伍类别",
            "层级",
            "状态"
        ]
    );
    assert_eq!(rows.len(), 4, "team A, its sub-team and team B: {rows:?}");
    let row = rows
        .iter()
        .find(|row| row[2] == "思明巾帼服务队")
        .expect("team A");
    assert_eq!(row[0], form.archive_number);
    assert_eq!(row[1], form.team_number);
    assert_eq!(row[3], "王芳");
    assert_eq!(row[4], "思明区妇联");
    assert_eq!(row[5], "30");
    assert_eq!(row[6], "区级");
    assert_eq!(row[7], "2020-03-08");
    assert_eq!(row[8], "138****5678");
    assert!(
        row[9].contains('*') && row[9].ends_with("@example.cn"),
        "{row:?}"
    );
    assert_eq!(row[10], "厦门市思明区");
    assert_eq!(row[12], "服务队");
    assert_eq!(row[13], "正常");

    // Charts.
    let chart =
        |format: pb::ImageFormat, dimension: Option<pb::Dimension>| pb::RenderChartRequest {
            metric: pb::Metric::ApprovedMinutes as i32,
            dimension: dimension.map_or(0, |dimension| dimension as i32),
            start_date: Some(wire(days_before(today, 100))),
            format: format as i32,
            catch_up: true,
            ..Default::default()
        };
    let svg = app
        .exports(&viewer)
        .render_chart(chart(pb::ImageFormat::Svg, None))
        .await
        .expect("an SVG")
        .into_inner();
    assert_eq!(svg.content_type, "image/svg+xml");
    let text = String::from_utf8(svg.image).expect("UTF-8");
    assert!(text.contains("服务时长（分钟）按月统计"), "{text}");
    assert!(text.contains(&format!("{:04}-{:02}", today.year, today.month)));
    let bars = app
        .exports(&viewer)
        .render_chart(chart(pb::ImageFormat::Svg, Some(pb::Dimension::OrgUnit)))
        .await
        .expect("bars")
        .into_inner();
    let text = String::from_utf8(bars.image).expect("UTF-8");
    assert!(
        text.contains("思明巾帼服务队") && text.contains("<rect"),
        "{text}"
    );
    let png = app
        .exports(&viewer)
        .render_chart(chart(pb::ImageFormat::Png, None))
        .await
        .expect("a PNG")
        .into_inner();
    assert_eq!(png.content_type, "image/png");
    assert!(png.image.starts_with(b"\x89PNG\r\n\x1a\n"));

    // Bad input names the field.
    let status = app
        .exports(&viewer)
        .export_service_records(pb::ExportServiceRecordsRequest::default())
        .await
        .expect_err("no format");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["format"]);
    let status = app
        .exports(&viewer)
        .export_statistics(pb::ExportStatisticsRequest {
            format: pb::ExportFormat::Csv as i32,
            ..Default::default()
        })
        .await
        .expect_err("no metric");
    assert_eq!(violated_fields(&status), ["metric"]);
    let status = app
        .exports(&viewer)
        .render_chart(pb::RenderChartRequest {
            title: "长".repeat(101),
            ..chart(pb::ImageFormat::Svg, None)
        })
        .await
        .expect_err("a long title");
    assert_eq!(violated_fields(&status), ["title"]);
    let status = app
        .exports(&viewer)
        .render_chart(pb::RenderChartRequest {
            start_date: None,
            ..chart(pb::ImageFormat::Png, None)
        })
        .await
        .expect_err("a series needs a start");
    assert_eq!(violated_fields(&status), ["start_date"]);

    // Another district's subtree is unknown; a volunteer exports nothing.
    let leader_b = app.token(&team_b.name, &[Role::TeamLeader]);
    let status = app
        .exports(&leader_b)
        .export_volunteers(pb::ExportVolunteersRequest {
            org_unit: team_a.name.clone(),
            format: pb::ExportFormat::Csv as i32,
            ..Default::default()
        })
        .await
        .expect_err("another team");
    assert_eq!(status.code(), tonic::Code::NotFound);
    let status = app
        .exports(&leader_b)
        .render_chart(pb::RenderChartRequest {
            org_unit: team_a.name.clone(),
            ..chart(pb::ImageFormat::Svg, None)
        })
        .await
        .expect_err("another team's chart");
    assert_eq!(status.code(), tonic::Code::NotFound);
    let volunteer = app.volunteer_token(&team_a.name, &first.name);
    let status = app
        .exports(&volunteer)
        .export_teams(pb::ExportTeamsRequest {
            format: pb::ExportFormat::Csv as i32,
            ..Default::default()
        })
        .await
        .expect_err("volunteers export nothing");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    app.stop().await;
}

/// What migration 0102 does to a replica filled before it: the new columns empty, the
/// versions lowered and the registry and activity feeds followed again from the start.
const BEFORE_AND_MIGRATION: [&str; 7] = [
    "UPDATE volunteers SET display_name = '', volunteer_number = '', id_type = '', \
     id_number_masked = ''",
    "UPDATE service_records SET volunteer_id = '', description = '', minutes = 0, state = ''",
    "DELETE FROM registration_forms",
    "UPDATE volunteers SET version = -1",
    "UPDATE service_records SET version = -1",
    "UPDATE activities SET version = -1",
    "UPDATE feed_checkpoints SET last_sequence = 0 WHERE feed IN ('registry', 'activity')",
];

async fn a_replay_fills_the_new_columns(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "集美巾帼服务队")
        .await;
    let volunteer = app.register(&admin, &team.name, 91).await;
    let records = app
        .import_hours(&admin, &team.name, &volunteer.name, &[(1, 100), (2, 50)])
        .await;
    app.service_records(&admin)
        .correct_service_record(activity_pb::CorrectServiceRecordRequest {
            name: records[0].name.clone(),
            minutes: 20,
            reason: "更正".to_string(),
        })
        .await
        .expect("corrects");
    app.service_records(&admin)
        .approve_service_record(activity_pb::ApproveServiceRecordRequest {
            name: records[0].name.clone(),
            comment: String::new(),
        })
        .await
        .expect("approves");
    let (rows, response) = statistics_xlsx(&app, &admin, pb::Metric::ApprovedMinutes, &[]).await;
    assert_eq!(response.total, 70);
    assert_eq!(rows.last().expect("total")[1], "70");

    // Another reporting process on the same database plays the upgrade and catches up.
    let config = app.config().clone();
    let other = egret_reporting::Reporting::open(&config.common, &config.reporting, app.address)
        .await
        .expect("a second reporting process opens");
    let mut transaction = other
        .database()
        .begin("test", "test")
        .await
        .expect("begins");
    for statement in BEFORE_AND_MIGRATION {
        sqlx::query(statement)
            .execute(&mut *transaction.conn())
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
    transaction.commit().await.expect("commits");
    other.catch_up().await.expect("replays");
    other.database().close().await;

    // The rollup is what it was; the exports have their columns back.
    for (metric, expected) in [
        (pb::Metric::ApprovedMinutes, 70),
        (pb::Metric::ServiceRecords, 2),
    ] {
        let response = app
            .statistics(&admin)
            .query_statistics(pb::QueryStatisticsRequest {
                metric: metric as i32,
                catch_up: true,
                ..Default::default()
            })
            .await
            .expect("queries")
            .into_inner();
        assert_eq!(response.total, expected, "{metric:?}");
    }
    let rows = csv_rows(
        &service_records(
            &app,
            &admin,
            "",
            pb::ExportFormat::Csv,
            pb::Layout::Unspecified,
        )
        .await,
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    let mut minutes: Vec<&str> = rows[1..].iter().map(|row| row[6].as_str()).collect();
    minutes.sort();
    assert_eq!(minutes, ["20", "50"]);
    assert!(
        rows[1..]
            .iter()
            .all(|row| row[2] == "志愿者91" && row[10] == "已通过")
    );
    assert!(
        rows[1..]
            .iter()
            .all(|row| row[1] == volunteer.volunteer_number)
    );
    let stream = app
        .exports(&admin)
        .export_teams(pb::ExportTeamsRequest {
            format: pb::ExportFormat::Csv as i32,
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("exports teams")
        .into_inner();
    let rows = csv_rows(&collect(stream, |message| message.chunk).await);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][2], "集美巾帼服务队");
    app.stop().await;
}

/// A long export says how far it has come page by page: 2,500 records, more than two of
/// the reporting service's pages of 1,000.
async fn a_long_export_reports_its_progress(app: TestApp) {
    const RECORDS: i64 = 2_500;
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "海沧巾帼服务队")
        .await;
    let volunteer = app.register(&admin, &team.name, 71).await;
    let days: Vec<(i64, i64)> = (0..RECORDS).map(|index| (index % 300 + 1, 30)).collect();
    for batch in days.chunks(1000) {
        app.import_hours(&admin, &team.name, &volunteer.name, batch)
            .await;
    }

    // CSV: every chunk has data; the rows come at least a page at a time.
    let file = service_records(
        &app,
        &admin,
        "",
        pb::ExportFormat::Csv,
        pb::Layout::Unspecified,
    )
    .await;
    let rows = csv_rows(&file);
    assert_eq!(rows.len() as i64, RECORDS + 1);
    assert_eq!(file.rows_total, RECORDS);
    assert!(
        file.progress
            .windows(2)
            .all(|pair| pair[1] - pair[0] <= 1000),
        "{:?}",
        file.progress
    );
    assert!(
        file.progress
            .iter()
            .any(|rows| *rows > 0 && *rows < RECORDS),
        "progress on the way: {:?}",
        file.progress
    );
    // The data is the file, as before: each record once, in order, none in between.
    let ids: Vec<&str> = rows[1..].iter().map(|row| row[0].as_str()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(
        String::from_utf8(file.data.clone())
            .expect("UTF-8")
            .ends_with("\r\n")
    );

    // XLSX: nothing is sent before the workbook is finished, so its progress comes in
    // chunks with no data, a page at a time.
    let file = service_records(
        &app,
        &admin,
        "",
        pb::ExportFormat::Xlsx,
        pb::Layout::NationalPlatform,
    )
    .await;
    let rows = xlsx_rows(&file);
    assert_eq!(rows.len() as i64, RECORDS + 1);
    assert_eq!(
        rows[RECORDS as usize][0],
        RECORDS.to_string(),
        "序号 to the end"
    );
    let on_the_way: Vec<i64> = file
        .empty_progress
        .iter()
        .copied()
        .filter(|rows| *rows < RECORDS)
        .collect();
    assert_eq!(on_the_way, [0, 1000, 2000], "{:?}", file.progress);
    assert!(
        file.chunks > file.empty_progress.len(),
        "then the workbook's bytes"
    );

    // Teams and volunteers count their rows as well.
    let file = volunteers(&app, &admin, pb::ExportFormat::Csv, pb::Layout::Unspecified).await;
    assert_eq!(csv_rows(&file).len(), 2);
    assert_eq!(file.rows_total, 1);
    app.stop().await;
}

both_backends!(
    exports_match_the_data,
    a_replay_fills_the_new_columns,
    a_long_export_reports_its_progress
);
