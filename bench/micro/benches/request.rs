//! The request work that needs neither the database nor a token, natively:
//!
//! - `parse/list`: routing a list URL (path → resource → route for `GET`) and parsing its query
//!   string with every parameter set;
//! - `parse/create_body`, `parse/update_body`: a create and an update body, strict JSON to
//!   validated domain values;
//! - `encode/page_50`: a page of 50 tasks to its response, with the serializer the API answers
//!   with (`http::json`).
//!
//! Run: `cargo bench -p task-api-bench --bench request`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{Method, StatusCode};
use std::hint::black_box;
use task_api::domain::{ListQuery, NewTask, Task, TaskId, TaskPatch, TaskPriority};
use task_api::http::router::{Resource, Route, TaskAction};
use task_api::time::Timestamp;

const LIST_PATH: &str = "/api/user_2x9Kq7mZ/tasks";
const LIST_QUERY: &str = "status=pending&sort=updated&order=desc&limit=50&offset=100";
const CREATE_BODY: &[u8] =
    br#"{"title":"Buy milk and eggs","description":"From the corner shop, before 6pm","completed":false}"#;
const UPDATE_BODY: &[u8] = br#"{"title":"Buy oat milk","description":null,"completed":true}"#;

/// Fifty tasks of one user as the list returns them: titles of a few words, a description on
/// two out of three.
fn page() -> Vec<Task> {
    let base = 1_795_000_000_000_000_i64;
    (0..50)
        .map(|i| Task {
            id: TaskId::from_db(10_000 + i),
            user_id: "user_2x9Kq7mZ".to_owned(),
            title: format!("Task {i}: review the quarterly report draft"),
            description: (i % 3 != 0)
                .then(|| format!("Notes for task {i}, with enough words to be a realistic note.")),
            completed: i % 4 == 0,
            priority: TaskPriority::ALL[i as usize % 4],
            tags: Default::default(),
            due_at: None,
            remind_at: None,
            recurrence: None,
            time_zone: Default::default(),
            next_task_id: None,
            created_at: Timestamp::from_micros(base + i * 61_000_123),
            updated_at: Timestamp::from_micros(base + i * 61_000_123 + 5_000_001),
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.bench_function("list", |b| {
        b.iter(|| {
            let route = Resource::resolve(black_box(LIST_PATH))
                .unwrap()
                .route(black_box(&Method::GET))
                .unwrap();
            assert!(matches!(
                route,
                Route::Tasks {
                    action: TaskAction::List,
                    ..
                }
            ));
            let query = ListQuery::parse(black_box(LIST_QUERY)).unwrap();
            (route, query)
        })
    });
    group.bench_function("create_body", |b| {
        b.iter(|| NewTask::from_json(black_box(CREATE_BODY)).unwrap())
    });
    group.bench_function("update_body", |b| {
        b.iter(|| TaskPatch::from_json(black_box(UPDATE_BODY)).unwrap())
    });
    group.finish();

    let tasks = page();
    let encoded = task_api::http::message::json(StatusCode::OK, &tasks);
    assert_eq!(encoded.status(), StatusCode::OK);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(encoded.body().len() as u64));
    group.bench_function("page_50", |b| {
        b.iter(|| task_api::http::message::json(StatusCode::OK, black_box(&tasks)))
    });
    group.finish();
}

criterion_group!(request, benches);
criterion_main!(request);
