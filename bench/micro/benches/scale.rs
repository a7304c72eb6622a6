//! How a list request's latency depends on how many tasks there are: one user with 10, 1,000 or
//! 100,000 tasks, among 10,000 users who have a few tasks each, so the table is large whatever
//! the user's own count. Natively over rusqlite, with the real migrations, `store::list_tasks`
//! and its SQL; every combination of sort (created/updated/title, each in its default order) and
//! status filter (all/pending/completed), first page, the default page size (50).
//!
//! With the indexes the list needs (`tests/query_plans.rs`), a page is an index range read in
//! order and its cost should hardly depend on the user's task count: the target is at most 1.5×
//! from 10 to 100,000 tasks. At the end the bench prints, per combination, the medians and the
//! ratios 100k/10 and 100k/1k (the 10-task user's pages hold at most 10 rows, the others 50, so
//! 100k/1k compares equal pages). `list_limit10/created_all` reads pages of 10 at every size, so
//! that the three read the same rows' worth and only the table differs.
//!
//! `offset/…` reads deeper pages of the 100,000-task user: SQLite steps over `OFFSET` rows one
//! by one, so those grow with the offset by design of offset paging.
//!
//! The databases are built once (bulk inserts in one transaction, in creation-time order so that
//! the user's rows are interleaved with everyone else's, as in real life) and cached in the
//! temporary directory under a name that changes with the migrations.
//!
//! `search/…` and `tag/…` (issue 16) list the same users with `q=` and `tag=`: a keyword
//! ranked by relevance (every match of the user is scored and sorted: no index can hold that
//! order), the same keyword in created order (index order, the FTS match as a filter), a rare
//! keyword, and a tag filter. Every task has zero to two of eight tags.
//!
//! `cursor/…` (issue 17) reads the 100,000-task user's first page and the page after row
//! 50,000 by cursor, and the first page with `count=true`.
//!
//! Run: `cargo bench -p task-api-bench --bench scale` (only some groups:
//! `… --bench scale -- 'search|tag'`, `… -- cursor`).

use criterion::{BenchmarkId, Criterion};
use std::hash::{Hash, Hasher};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;
use task_api::db::Now;
use task_api::db::migrations::{self, MIGRATIONS};
use task_api::db::sqlite::SqliteDb as Sqlite;
use task_api::domain::cursor;
use task_api::domain::{AuthenticatedUser, Identity, UserSource};
use task_api::domain::{Cursor, ListQuery, SearchQuery, SortKey, StatusFilter, Tag};
use task_api::store;
use task_api::store::Account;
use task_api_testkit::rng::Rng;

const USERS: usize = 10_000;
/// Tasks of each user other than the measured one.
const OTHERS_TASKS: usize = 5;
const SIZES: [usize; 3] = [10, 1_000, 100_000];
const TARGET: &str = "user-target";
/// Bump when the generated data changes, so cached databases are rebuilt.
const DATA_VERSION: u32 = 2;

const STATUSES: [(StatusFilter, &str); 3] = [
    (StatusFilter::All, "all"),
    (StatusFilter::Pending, "pending"),
    (StatusFilter::Completed, "completed"),
];
const SORTS: [(SortKey, &str); 3] = [
    (SortKey::Created, "created"),
    (SortKey::Updated, "updated"),
    (SortKey::Title, "title"),
];

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let databases: Vec<(usize, Sqlite)> = SIZES
        .iter()
        .map(|&size| {
            (
                size,
                Sqlite::open(&database(size)).expect("open the database"),
            )
        })
        .collect();
    let owner = AuthenticatedUser::for_tests(TARGET);
    let identity = Identity::for_tests(TARGET);
    let user = Account {
        user: &owner,
        identity: &identity,
        source: UserSource::Auto,
    };
    let now = task_api::time::Timestamp::now();

    let mut group = criterion.benchmark_group("list");
    for (sort, sort_name) in SORTS {
        for (status, status_name) in STATUSES {
            let query = ListQuery {
                status,
                sort,
                order: sort.default_order(),
                ..ListQuery::default()
            };
            for (size, db) in &databases {
                let rows = store::list_tasks(db, &user, &query, now)
                    .now()
                    .unwrap()
                    .tasks
                    .len();
                assert!((1..=50).contains(&rows), "{rows} rows");
                group.bench_with_input(
                    BenchmarkId::new(format!("{sort_name}_{status_name}"), size),
                    &query,
                    |b, query| {
                        b.iter(|| {
                            store::list_tasks(db, &user, black_box(query), now)
                                .now()
                                .unwrap()
                                .tasks
                        })
                    },
                );
            }
        }
    }
    group.finish();

    // The 10-task user's pages hold at most 10 rows and the others' 50: with a page of 10 all
    // three read and copy the same number of rows, so this isolates the table's size.
    let mut group = criterion.benchmark_group("list_limit10");
    let query = ListQuery {
        limit: 10,
        ..ListQuery::default()
    };
    for (size, db) in &databases {
        group.bench_with_input(BenchmarkId::new("created_all", size), &query, |b, query| {
            b.iter(|| {
                store::list_tasks(db, &user, black_box(query), now)
                    .now()
                    .unwrap()
                    .tasks
            })
        });
    }
    group.finish();

    let search = |q: &str, sort: SortKey| ListQuery {
        search: Some(SearchQuery::parse(q).unwrap()),
        sort,
        order: sort.default_order(),
        ..ListQuery::default()
    };
    let filters = [
        ("search", "ranked_milk", search("milk", SortKey::Relevance)),
        ("search", "created_milk", search("milk", SortKey::Created)),
        ("search", "created_rare", search("zebra", SortKey::Created)),
        (
            "tag",
            "created_errands",
            ListQuery {
                tags: vec![Tag::parse("errands").unwrap()],
                ..ListQuery::default()
            },
        ),
    ];
    for (group_name, name, query) in &filters {
        let mut group = criterion.benchmark_group(*group_name);
        for (size, db) in &databases {
            let rows = store::list_tasks(db, &user, query, now)
                .now()
                .unwrap()
                .tasks
                .len();
            assert!(rows <= 50, "{rows} rows");
            group.bench_with_input(BenchmarkId::new(*name, size), query, |b, query| {
                b.iter(|| {
                    store::list_tasks(db, &user, black_box(query), now)
                        .now()
                        .unwrap()
                        .tasks
                })
            });
        }
        group.finish();
    }

    let (_, largest) = databases.last().unwrap();
    let mut group = criterion.benchmark_group("offset");
    for offset in [0_u64, 1_000, 50_000] {
        let query = ListQuery {
            offset,
            ..ListQuery::default()
        };
        group.bench_with_input(
            BenchmarkId::new("created_all_100000", offset),
            &query,
            |b, query| {
                b.iter(|| {
                    store::list_tasks(largest, &user, black_box(query), now)
                        .now()
                        .unwrap()
                        .tasks
                })
            },
        );
    }
    group.finish();

    // Keyset pages (issue 17) of the 100,000-task user: the first page, and the page after
    // row 50,000 by the cursor the page before hands out; sort=created (the default) and
    // sort=title, the one whose key is text. The target: depth 50,000 ≤ 1.5× the first page.
    // Then the same list with `count=true` (an exact count of all 100,000 on each request).
    let mut group = criterion.benchmark_group("cursor");
    for (sort, sort_name) in [(SortKey::Created, "created"), (SortKey::Title, "title")] {
        let base = ListQuery {
            sort,
            order: sort.default_order(),
            ..ListQuery::default()
        };
        let before = ListQuery {
            offset: 50_000 - 50,
            ..base.clone()
        };
        let page = store::list_tasks(largest, &user, &before, now)
            .now()
            .unwrap();
        let (next, key) = (page.next.unwrap(), page.cursor_key.unwrap());
        let sealed = cursor::seal(&next, &base.binding(TARGET), &key);
        let deep = ListQuery {
            cursor: Some(Cursor::parse(&sealed).unwrap()),
            ..base.clone()
        };
        let deep_page = store::list_tasks(largest, &user, &deep, now).now().unwrap();
        assert_eq!(deep_page.tasks.len(), 50);
        let by_offset = ListQuery {
            offset: 50_000,
            ..base.clone()
        };
        assert_eq!(
            deep_page.tasks,
            store::list_tasks(largest, &user, &by_offset, now)
                .now()
                .unwrap()
                .tasks,
            "the cursor's page is the 50,000-offset page"
        );
        for (depth, query) in [(0_u64, &base), (50_000, &deep)] {
            group.bench_with_input(
                BenchmarkId::new(format!("{sort_name}_100000"), depth),
                query,
                |b, query| {
                    b.iter(|| {
                        store::list_tasks(largest, &user, black_box(query), now)
                            .now()
                            .unwrap()
                    })
                },
            );
        }
    }
    let counted = ListQuery {
        count: true,
        ..ListQuery::default()
    };
    assert_eq!(
        store::list_tasks(largest, &user, &counted, now)
            .now()
            .unwrap()
            .total,
        Some(100_000)
    );
    group.bench_with_input(
        BenchmarkId::new("count_created_100000", 0),
        &counted,
        |b, query| {
            b.iter(|| {
                store::list_tasks(largest, &user, black_box(query), now)
                    .now()
                    .unwrap()
            })
        },
    );
    group.finish();

    criterion.final_summary();
    // `--test` runs each benchmark once and saves no estimates.
    if !std::env::args().any(|arg| arg == "--test") {
        print_ratios();
    }
}

/// The cached database with `size` tasks for [`TARGET`], built if missing.
fn database(size: usize) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for migration in MIGRATIONS {
        migration.sql.hash(&mut hasher);
    }
    (DATA_VERSION, USERS, OTHERS_TASKS).hash(&mut hasher);
    let dir = std::env::temp_dir().join("task-api-scale");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("tasks-{size}-{:016x}.sqlite", hasher.finish()));
    if path.exists() {
        return path;
    }
    let started = Instant::now();
    // Built under another name and renamed when complete, so an interrupted build is never
    // taken for a finished one.
    let partial = dir.join(format!("partial-{size}-{}.sqlite", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    build(&partial, size);
    std::fs::rename(&partial, &path).unwrap();
    eprintln!(
        "built {} ({size} tasks for the measured user) in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    path
}

fn build(path: &Path, size: usize) {
    let db = Sqlite::open(path).expect("open the database");
    migrations::apply(&db, 0).now().unwrap();
    // Seeded by the size, so every build makes the same data.
    let mut random = Rng::new(size as u64);
    // (created_at, user index) for every task; USERS - 1 is the measured user.
    let mut tasks: Vec<(i64, usize)> = Vec::with_capacity((USERS - 1) * OTHERS_TASKS + size);
    let start = 1_750_000_000_000_000_i64;
    let year = 365 * 24 * 3600 * 1_000_000_i64;
    for user in 0..USERS - 1 {
        for _ in 0..OTHERS_TASKS {
            tasks.push((start + random.below(year as usize) as i64, user));
        }
    }
    for _ in 0..size {
        tasks.push((start + random.below(year as usize) as i64, USERS - 1));
    }
    tasks.sort_unstable();
    let user_id = |index: usize| {
        if index == USERS - 1 {
            TARGET.to_owned()
        } else {
            format!("user-{index:05}")
        }
    };
    let mut connection = db.connection();
    let tx = connection.transaction().unwrap();
    {
        let mut insert = tx
            .prepare("INSERT INTO users (id, email, name, created_at) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        for index in 0..USERS {
            let id = user_id(index);
            insert
                .execute(rusqlite::params![
                    id,
                    format!("{id}@example.com"),
                    id,
                    start
                ])
                .unwrap();
        }
        let mut insert = tx
            .prepare(
                "INSERT INTO tasks (user_id, title, description, completed, created_at, \
                 updated_at, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .unwrap();
        for (created_at, user) in tasks {
            // Half the tasks were edited some time after their creation.
            let updated_at = if random.below(2) == 0 {
                created_at
            } else {
                created_at + random.below(30 * 24 * 3600 * 1_000_000) as i64
            };
            let mut description = (random.below(3) != 0).then(|| words(&mut random, 8, 16));
            // One task in a hundred mentions a rare word.
            if random.below(100) == 0 {
                description = Some(format!("{} zebra", description.unwrap_or_default()));
            }
            let tags: std::collections::BTreeMap<&str, &str> = (0..random.below(3))
                .map(|_| *random.pick(&TAGS))
                .map(|tag| (tag, tag))
                .collect();
            insert
                .execute(rusqlite::params![
                    user_id(user),
                    title(&mut random),
                    description,
                    random.below(10) < 4,
                    created_at,
                    updated_at,
                    serde_json::to_string(&tags).unwrap()
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

const TAGS: [&str; 8] = [
    "work", "home", "errands", "urgent", "health", "finance", "travel", "later",
];

const WORDS: [&str; 24] = [
    "buy", "milk", "review", "report", "call", "dentist", "plan", "trip", "fix", "bike", "write",
    "draft", "book", "flights", "pay", "rent", "clean", "garage", "water", "plants", "email",
    "team", "read", "paper",
];

/// `min` to `max` words.
fn words(random: &mut Rng, min: usize, max: usize) -> String {
    let count = min + random.below(max - min + 1);
    (0..count)
        .map(|_| *random.pick(&WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Two to five words, capitalised or not, so that `COLLATE NOCASE` has work to do.
fn title(random: &mut Rng) -> String {
    let title = words(random, 2, 5);
    if random.below(2) == 0 {
        let mut chars = title.chars();
        let first = chars.next().unwrap().to_ascii_uppercase();
        std::iter::once(first).chain(chars).collect()
    } else {
        title
    }
}

/// Criterion's medians of this run, read back from where it saved them, as the table of ratios
/// the scale study is about.
fn print_ratios() {
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|dir| PathBuf::from(dir).join("criterion"))
        })
        // The workspace's target directory, two levels above this crate.
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion"));
    let median_us_in = |group: &str, name: &str, size: usize| -> Option<f64> {
        let file = home.join(format!("{group}/{name}/{size}/new/estimates.json"));
        let estimates: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
        Some(estimates["median"]["point_estimate"].as_f64()? / 1e3)
    };
    let median_us = |name: &str, size: usize| median_us_in("list", name, size);
    println!("\nkeyset pages of the 100,000-task user, median µs (limit 50)");
    for sort in ["created", "title"] {
        let name = format!("{sort}_100000");
        if let (Some(first), Some(deep)) = (
            median_us_in("cursor", &name, 0),
            median_us_in("cursor", &name, 50_000),
        ) {
            println!(
                "{sort:<8} first page {first:>8.1}   after row 50,000 {deep:>8.1}   ratio {:.2}x",
                deep / first
            );
        }
    }
    if let (Some(plain), Some(counted)) = (
        median_us_in("list", "created_all", 100_000),
        median_us_in("cursor", "count_created_100000", 0),
    ) {
        println!("count=true on 100,000 tasks: {counted:.1} µs per page (without: {plain:.1} µs)");
    }
    println!("\nq= and tag= latency, median µs (first page, limit 50)");
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9}",
        "filter", "10", "1k", "100k", "100k/10"
    );
    for (group, name) in [
        ("search", "ranked_milk"),
        ("search", "created_milk"),
        ("search", "created_rare"),
        ("tag", "created_errands"),
    ] {
        if let [Some(small), Some(mid), Some(large)] =
            SIZES.map(|size| median_us_in(group, name, size))
        {
            println!(
                "{:<24} {small:>9.1} {mid:>9.1} {large:>9.1} {:>8.1}x",
                format!("{group}/{name}"),
                large / small
            );
        }
    }
    println!(
        "\nlist latency, median µs (first page, limit 50; {USERS} users, {OTHERS_TASKS} tasks each besides the measured one)"
    );
    println!(
        "{:<20} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "sort_status", "10", "1k", "100k", "100k/10", "100k/1k"
    );
    let limit10: Vec<Option<f64>> = SIZES
        .iter()
        .map(|&size| median_us_in("list_limit10", "created_all", size))
        .collect();
    if let [Some(small), Some(mid), Some(large)] = limit10[..] {
        println!(
            "{:<20} {small:>9.2} {mid:>9.2} {large:>9.2} {:>8.2}x {:>8.2}x",
            "created_all limit=10",
            large / small,
            large / mid
        );
    }
    for (_, sort) in SORTS {
        for (_, status) in STATUSES {
            let name = format!("{sort}_{status}");
            let [Some(small), Some(mid), Some(large)] = SIZES.map(|size| median_us(&name, size))
            else {
                println!("{name:<20} (no saved estimates: was it filtered out?)");
                continue;
            };
            println!(
                "{name:<20} {small:>9.2} {mid:>9.2} {large:>9.2} {:>8.2}x {:>8.2}x",
                large / small,
                large / mid
            );
        }
    }
}
