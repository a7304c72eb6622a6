//! Stateless replicas over one database: three server processes on their own ports and state
//! directories share one SQLite file through `--runtime-config-file`, the local stand-in for
//! SpinKube replicas over one libSQL/Turso database. Under this run's runtime
//! (`TASK_API_RUNTIME`): three `task-api-host` processes, or three real `spin up`s. A client
//! spreads each user's requests over all three. Checked: racing migrations on a fresh file,
//! concurrent creates (and the changes feed read through every replica), forty concurrent toggles, an `Idempotency-Key` retried on every
//! replica, a long-poll and an event stream woken by commits through other replicas, the per-user
//! rate limit counted across replicas, and a replica killed with SIGKILL
//! under write load.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use task_api_testkit::database::sqld_for;
use task_api_testkit::events::EventStream;
use task_api_testkit::process::{ProcessOptions, ServerProcess};
use task_api_testkit::{
    Backend, Request, Runtime, StoredDatabase, TempDir, build_component_once, root, tokens,
};

const SECRET: &str = "replicas-test-secret-0123456789abcdef-XYZ";
const REPLICAS: usize = 3;

/// Six server processes at once would fight over two cores; one scenario at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn now_secs() -> u64 {
    tokens::now()
}

fn bearer(sub: &str) -> String {
    format!("Bearer {}", tokens::token_with(SECRET, sub))
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{} body is not JSON ({e}): {}", self.status, self.body))
    }
}

/// One request on its own connection; `Ok(None)` when the connection died before a complete
/// response (a killed replica), `Err` when nothing listened.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<Option<Response>> {
    Ok(Request::with(method, path, headers, body)
        .send_or_lost(addr)?
        .map(|r| Response {
            status: r.status,
            body: r.text(),
            headers: r.headers,
        }))
}

/// A request that must get a complete response.
fn call(addr: SocketAddr, method: &str, path: &str, auth: &str, body: Option<&str>) -> Response {
    send(addr, method, path, &[("Authorization", auth)], body)
        .unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
        .unwrap_or_else(|| panic!("{method} {path} on {addr}: no complete response"))
}

/// Three replicas over one database (a file, or one sqld with `TASK_API_DATABASE=sqld`),
/// killed when dropped.
struct Cluster {
    dir: TempDir,
    db: StoredDatabase,
    replicas: Vec<ServerProcess>,
    addrs: Vec<SocketAddr>,
}

impl Cluster {
    /// Starts every replica at once and waits until each listens, without sending the
    /// component a request: the database file does not exist yet when this returns.
    fn start(label: &str, variables: &[(&str, &str)]) -> Cluster {
        build_component_once();
        let dir = TempDir::new(label);
        let config = dir.path().join("runtime-config.toml");
        let db = match Backend::current() {
            Backend::File => {
                // Relative, so it exercises Spin's rule: resolved against the working directory.
                std::fs::write(
                    &config,
                    "[sqlite_database.default]\ntype = \"spin\"\npath = \"db/shared.db\"\n",
                )
                .unwrap();
                StoredDatabase::File(dir.path().join("db/shared.db"))
            }
            Backend::Sqld => {
                let sqld = sqld_for(&dir.path().join("sqld"));
                task_api_testkit::database::lock(&sqld).write_runtime_config(&config);
                StoredDatabase::Sqld(sqld)
            }
        };
        let mut variables: Vec<(String, String)> = variables
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        variables.push(("better_auth_secret".into(), SECRET.into()));
        let mut replicas: Vec<ServerProcess> = (0..REPLICAS)
            .map(|i| {
                let mut options = ProcessOptions::new(
                    &root().join("spin.toml"),
                    &dir.path().join(format!("state-{i}")),
                    dir.path(),
                );
                options.runtime_config = Some(PathBuf::from("runtime-config.toml"));
                options.variables = variables.clone();
                options.log_stem = dir.path().join(format!("replica-{i}-first"));
                spawn(options)
            })
            .collect();
        for (i, replica) in replicas.iter_mut().enumerate() {
            replica
                .wait_ready(Duration::from_secs(90))
                .unwrap_or_else(|e| panic!("replica {i}: {e}"));
        }
        Cluster {
            db,
            addrs: replicas.iter().map(|r| r.addr).collect(),
            replicas,
            dir,
        }
    }

    fn kill(&mut self, i: usize) {
        self.replicas[i].kill(); // SIGKILL, to the process group
    }

    fn restart(&mut self, i: usize) {
        self.kill(i);
        let mut options = self.replicas[i].options.clone();
        options.log_stem = self.dir.path().join(format!("replica-{i}-second"));
        self.replicas[i] = spawn(options);
        self.replicas[i]
            .wait_ready(Duration::from_secs(90))
            .unwrap_or_else(|e| panic!("replica {i} after restart: {e}"));
        // Its old port may have been taken meanwhile (see `ServerProcess::wait_ready`).
        self.addrs[i] = self.replicas[i].addr;
    }

    fn sqlite(&self) -> &StoredDatabase {
        &self.db
    }

    /// Every replica's component stderr: a panic or a failed SQLite call shows up here.
    fn component_errors(&self) -> String {
        let mut out = String::new();
        for i in 0..REPLICAS {
            let file = self
                .dir
                .path()
                .join(format!("state-{i}/logs/task-api_stderr.txt"));
            out.push_str(&std::fs::read_to_string(file).unwrap_or_default());
        }
        out
    }
}

fn spawn(options: ProcessOptions) -> ServerProcess {
    ServerProcess::spawn(
        Runtime::current(),
        Path::new(env!("CARGO_BIN_EXE_task-api-host")),
        options,
    )
}

/// Runs `n` requests at the same instant from `n` threads; request `k` goes to replica
/// `k % 3`.
fn burst<T: Send + 'static>(
    cluster: &Cluster,
    n: usize,
    request: impl Fn(usize, SocketAddr) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let request = Arc::new(request);
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|k| {
            let (request, barrier, addr) = (
                request.clone(),
                barrier.clone(),
                cluster.addrs[k % REPLICAS],
            );
            std::thread::spawn(move || {
                barrier.wait();
                request(k, addr)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn migration_count() -> i64 {
    std::fs::read_dir(root().join("migrations"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.ends_with(".sql") && name.as_bytes()[0].is_ascii_digit()
        })
        .count() as i64
}

/// The first requests a fresh database sees arrive on all replicas at once, so every replica
/// runs the migrations concurrently with the others.
fn race_migrations(cluster: &Cluster, started: u64) -> usize {
    assert!(
        cluster.db.is_empty(),
        "the database must be fresh when the race starts"
    );
    let statuses = burst(cluster, 12, |k, addr| {
        if k < REPLICAS {
            let r = send(addr, "GET", "/health", &[], None).unwrap().unwrap();
            (r.status, r.body)
        } else {
            let user = format!("migrate-{k}");
            let r = call(
                addr,
                "POST",
                &format!("/api/{user}/tasks"),
                &bearer(&user),
                Some(r#"{"title":"first"}"#),
            );
            (r.status, r.body)
        }
    });
    for (k, (status, body)) in statuses.iter().enumerate() {
        let expected = if k < REPLICAS { 200 } else { 201 };
        assert_eq!(*status, expected, "first request {k}: {body}");
    }
    assert!(
        !cluster.db.is_empty(),
        "the runtime config's database was used"
    );
    for i in 0..REPLICAS {
        assert!(
            !cluster
                .dir
                .path()
                .join(format!("state-{i}/sqlite_db.db"))
                .exists(),
            "replica {i} used its state directory instead of the shared file"
        );
    }
    let db = cluster.sqlite();
    let versions: Vec<(i64, i64)> = db
        .query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[1].as_i64().unwrap()))
        .collect();
    let expected: Vec<i64> = (1..=migration_count()).collect();
    assert_eq!(
        versions.iter().map(|v| v.0).collect::<Vec<_>>(),
        expected,
        "every migration recorded exactly once"
    );
    let (from, to) = (
        started as i64 * 1_000_000,
        (now_secs() as i64 + 1) * 1_000_000,
    );
    for (version, applied_at) in &versions {
        assert!(
            (from..=to).contains(applied_at),
            "migration {version} applied at {applied_at}, outside this test's run"
        );
    }
    let tasks = db.integer("SELECT count(*) FROM tasks");
    assert_eq!(tasks, 12 - REPLICAS as i64);
    let journal = db.query("PRAGMA journal_mode")[0][0].clone();
    println!(
        "migrations: {} versions recorded once each after {} racing first requests; journal_mode {journal}",
        versions.len(),
        statuses.len()
    );
    statuses.len()
}

/// Every task of `user`, read page by page through `addr`.
fn list_all(addr: SocketAddr, user: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let r = call(
            addr,
            "GET",
            &format!("/api/{user}/tasks?limit=100&offset={}", all.len()),
            &bearer(user),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.json().as_array().unwrap().clone();
        let done = page.len() < 100;
        all.extend(page);
        if done {
            return all;
        }
    }
}

fn concurrent_creates(cluster: &Cluster) -> usize {
    const USERS: usize = 4;
    const PER_THREAD: usize = 8;
    // One thread per (user, replica): every user's creates land on all three replicas at once.
    let created = burst(cluster, USERS * REPLICAS, |k, addr| {
        let user = format!("create-user-{}", k / REPLICAS);
        let auth = bearer(&user);
        (0..PER_THREAD)
            .map(|n| {
                let title = format!("task {k}-{n}");
                let body = json!({ "title": title }).to_string();
                let r = call(
                    addr,
                    "POST",
                    &format!("/api/{user}/tasks"),
                    &auth,
                    Some(&body),
                );
                assert_eq!(r.status, 201, "create {k}-{n} on {addr}: {}", r.body);
                let task = r.json();
                assert_eq!(task["title"], title.as_str());
                (user.clone(), task["id"].as_i64().unwrap(), title)
            })
            .collect::<Vec<_>>()
    });
    let created: Vec<_> = created.into_iter().flatten().collect();
    assert_eq!(created.len(), USERS * REPLICAS * PER_THREAD);
    let ids: BTreeSet<i64> = created.iter().map(|c| c.1).collect();
    assert_eq!(ids.len(), created.len(), "duplicate ids handed out");

    for u in 0..USERS {
        let user = format!("create-user-{u}");
        let expected: BTreeMap<i64, &str> = created
            .iter()
            .filter(|c| c.0 == user)
            .map(|c| (c.1, c.2.as_str()))
            .collect();
        // Each user's list read back through a different replica than most of its writes.
        let listed: BTreeMap<i64, String> = list_all(cluster.addrs[u % REPLICAS], &user)
            .iter()
            .map(|t| {
                (
                    t["id"].as_i64().unwrap(),
                    t["title"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            expected
                .iter()
                .map(|(id, t)| (*id, t.to_string()))
                .collect::<BTreeMap<_, _>>(),
            "{user}: created and listed tasks differ"
        );
    }
    created.len() + USERS + feed_across_replicas(cluster, &created)
}

/// The changes feed of one user, paged one change at a time through the replicas in turn:
/// every token is larger than the one before, whichever replica handed it out, and the feed
/// holds exactly the tasks created; a write through one replica shows up after the last token
/// through another. Tokens are numbers the writes stamped in the shared database.
fn feed_across_replicas(cluster: &Cluster, created: &[(String, i64, String)]) -> usize {
    let user = "create-user-0";
    let auth = bearer(user);
    let number = |token: &str| -> i64 {
        token
            .strip_prefix('s')
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| panic!("token {token:?}"))
    };
    let read = |since: &str, replica: usize| -> Value {
        let path = format!("/api/{user}/tasks/changes?limit=1&since={since}");
        let r = call(cluster.addrs[replica % REPLICAS], "GET", &path, &auth, None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.json()
    };
    let mut since = "s0".to_owned();
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    for page in 0.. {
        pages += 1;
        let body = read(&since, page);
        let next = body["next"].as_str().unwrap().to_owned();
        if body["changes"].as_array().unwrap().is_empty() {
            assert_eq!(next, since, "an empty page keeps the token");
            break;
        }
        assert!(number(&next) > number(&since), "{next} after {since}");
        seen.insert(body["changes"][0]["id"].as_i64().unwrap());
        since = next;
    }
    let expected: BTreeSet<i64> = created
        .iter()
        .filter(|c| c.0 == user)
        .map(|c| c.1)
        .collect();
    assert_eq!(
        seen, expected,
        "the feed through all replicas holds the user's tasks"
    );
    let body = json!({ "title": "after the sync" }).to_string();
    let made = call(
        cluster.addrs[2],
        "POST",
        &format!("/api/{user}/tasks"),
        &auth,
        Some(&body),
    );
    assert_eq!(made.status, 201);
    let after = read(&since, 1);
    assert_eq!(after["changes"][0]["id"], made.json()["id"]);
    assert!(number(after["next"].as_str().unwrap()) > number(&since));
    pages + 2
}

fn concurrent_toggles(cluster: &Cluster) -> usize {
    const TOGGLES: usize = 40;
    let user = "toggle-user";
    let auth = bearer(user);
    let created = call(
        cluster.addrs[0],
        "POST",
        &format!("/api/{user}/tasks"),
        &auth,
        Some(r#"{"title":"flip me","completed":true}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let task = created.json();
    let id = task["id"].as_i64().unwrap();
    let initial = task["completed"].as_bool().unwrap();
    let created_at = task["updated_at"].as_str().unwrap().to_string();

    let path = format!("/api/{user}/tasks/{id}/complete");
    let flips = burst(cluster, TOGGLES, move |_, addr| {
        let r = call(addr, "PATCH", &path, &bearer(user), None);
        assert_eq!(r.status, 200, "toggle on {addr}: {}", r.body);
        let t = r.json();
        (
            t["updated_at"].as_str().unwrap().to_string(),
            t["completed"].as_bool().unwrap(),
        )
    });
    // Each toggle answered a distinct version, and in commit order (updated_at only moves
    // forward) the answers alternate: the n-th flip of `initial` answered `initial` iff n is
    // even. A lost or doubled flip breaks the alternation.
    let ordered: BTreeMap<String, bool> = flips.iter().cloned().collect();
    assert_eq!(
        ordered.len(),
        TOGGLES,
        "two toggles answered the same version"
    );
    for (n, (at, completed)) in ordered.iter().enumerate() {
        assert!(at.as_str() > created_at.as_str());
        assert_eq!(
            *completed,
            if n % 2 == 0 { !initial } else { initial },
            "flip {} (at {at}) answered the wrong value",
            n + 1
        );
    }
    for addr in &cluster.addrs {
        let r = call(
            *addr,
            "GET",
            &format!("/api/{user}/tasks/{id}"),
            &auth,
            None,
        );
        assert_eq!(r.status, 200);
        let t = r.json();
        assert_eq!(t["completed"].as_bool().unwrap(), initial, "on {addr}");
        assert_eq!(
            t["updated_at"].as_str().unwrap(),
            ordered.keys().last().unwrap(),
            "the last version answered is the stored one"
        );
    }
    TOGGLES + 1 + REPLICAS
}

fn idempotent_retries(cluster: &Cluster) -> usize {
    let user = "idem-user";
    let key = format!("order-{}", std::process::id());
    let body = r#"{"title":"pay rent","description":"once","completed":false}"#;
    let retries = 12;
    let keyed = key.clone();
    let ids = burst(cluster, retries, move |_, addr| {
        // The same task spelled differently: the key, not the bytes, decides.
        let body = if addr.port() % 2 == 0 {
            body.to_string()
        } else {
            r#"{ "completed": false, "description": "once", "title": "pay rent" }"#.to_string()
        };
        let r = send(
            addr,
            "POST",
            &format!("/api/{user}/tasks"),
            &[
                ("Authorization", &bearer(user)),
                ("Idempotency-Key", &keyed),
            ],
            Some(&body),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.status, 201, "keyed create on {addr}: {}", r.body);
        r.json()["id"].as_i64().unwrap()
    });
    let first = ids[0];
    assert!(
        ids.iter().all(|id| *id == first),
        "one key, many tasks: {ids:?}"
    );
    let auth = bearer(user);
    for addr in &cluster.addrs {
        let r = send(
            *addr,
            "POST",
            &format!("/api/{user}/tasks"),
            &[("Authorization", &auth), ("Idempotency-Key", &key)],
            Some(body),
        )
        .unwrap()
        .unwrap();
        assert_eq!((r.status, r.json()["id"].as_i64()), (201, Some(first)));
        let r = send(
            *addr,
            "POST",
            &format!("/api/{user}/tasks"),
            &[("Authorization", &auth), ("Idempotency-Key", &key)],
            Some(r#"{"title":"pay rent twice"}"#),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.status, 422, "same key, other task, on {addr}: {}", r.body);
    }
    let listed = list_all(cluster.addrs[2], user);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"].as_i64(), Some(first));
    retries + 2 * REPLICAS + 1
}

struct Ack {
    replica: usize,
    id: i64,
    title: String,
    description: String,
    at: Instant,
}

/// SIGKILL replica 0 under write load on all three; the other two keep answering, and every
/// write any replica acknowledged is in the shared file.
fn kill_one_replica_mid_load(cluster: &mut Cluster) -> (usize, usize, usize) {
    let user = "crash-user";
    let acks = Arc::new(Mutex::new(Vec::<Ack>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..3 * REPLICAS)
        .map(|w| {
            let (acks, stop, sent) = (acks.clone(), stop.clone(), sent.clone());
            let refused = refused.clone();
            let logs = cluster.dir.path().to_owned();
            let replica = w % REPLICAS;
            let addr = cluster.addrs[replica];
            let auth = bearer(user);
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let title = format!("crash {w}-{i}");
                    let description = format!("{}{title}", "d".repeat(400));
                    let body = json!({ "title": title, "description": description }).to_string();
                    sent.fetch_add(1, Ordering::Relaxed);
                    match send(
                        addr,
                        "POST",
                        &format!("/api/{user}/tasks"),
                        &[("Authorization", &auth)],
                        Some(&body),
                    ) {
                        // Over sqld a survivor may answer 503 + Retry-After for a moment after
                        // the kill (the cause is in its log, printed below): a client retries.
                        Ok(Some(r))
                            if r.status == 503
                                && Backend::current() == Backend::Sqld
                                && r.header("retry-after").is_some() =>
                        {
                            refused.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(20))
                        }
                        Ok(Some(r)) if r.status == 201 => acks.lock().unwrap().push(Ack {
                            replica,
                            id: r.json()["id"].as_i64().unwrap(),
                            title,
                            description,
                            at: Instant::now(),
                        }),
                        Ok(Some(r)) => {
                            // The runtime writes the component's log a moment later.
                            std::thread::sleep(Duration::from_millis(500));
                            let log = std::fs::read_to_string(
                                logs.join(format!("state-{replica}/logs/task-api_stderr.txt")),
                            )
                            .unwrap_or_default();
                            let tail: Vec<&str> = log.lines().rev().take(3).collect();
                            panic!(
                                "replica {replica} answered {}: {} (its log ends: {tail:?})",
                                r.status, r.body
                            )
                        }
                        // The killed replica: unacknowledged, may or may not be stored.
                        Ok(None) | Err(_) if replica == 0 => {
                            std::thread::sleep(Duration::from_millis(20))
                        }
                        Ok(None) => {
                            std::thread::sleep(Duration::from_millis(500));
                            let tail = |file: String| -> Vec<String> {
                                let text =
                                    std::fs::read_to_string(logs.join(file)).unwrap_or_default();
                                let lines: Vec<String> =
                                    text.lines().rev().take(4).map(str::to_owned).collect();
                                lines
                            };
                            panic!(
                                "replica {replica} dropped a request; its component log ends \
                                 {:?}, its runtime's stderr ends {:?}",
                                tail(format!("state-{replica}/logs/task-api_stderr.txt")),
                                tail(format!("replica-{replica}-first.err"))
                            )
                        }
                        Err(e) => panic!("replica {replica}: {e}"),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    cluster.kill(0);
    let killed_at = Instant::now();
    // sqld 0.24.33 can stall every writer for its 5 s transaction timeout, twice in a row: its
    // write queue wakes a stale entry of a connection that met SQLITE_BUSY, and the waiter it
    // meant sleeps until its deadline (docs/storage.md, "What holds sqld's write lock"). The
    // survivors must still serve; over sqld they get the time to show it.
    let after = match Backend::current() {
        Backend::File => Duration::from_millis(1500),
        Backend::Sqld => Duration::from_secs(12),
    };
    std::thread::sleep(after);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    // A response read just before the kill may be timestamped just after it.
    let cut = killed_at + Duration::from_millis(100);
    let count = |replica: usize, after: bool| {
        acks.iter()
            .filter(|a| a.replica == replica && (a.at > cut) == after)
            .count()
    };
    for replica in 0..REPLICAS {
        assert!(
            count(replica, false) >= 5,
            "replica {replica}: too little load before the kill to mean anything ({})",
            count(replica, false)
        );
    }
    assert_eq!(
        count(0, true),
        0,
        "the killed replica answered after SIGKILL"
    );
    let mut longest = Duration::ZERO;
    for replica in 1..REPLICAS {
        let mut times: Vec<Instant> = acks
            .iter()
            .filter(|a| a.replica == replica)
            .map(|a| a.at)
            .collect();
        times.sort();
        for pair in times.windows(2) {
            longest = longest.max(pair[1] - pair[0]);
        }
    }
    println!("sigkill: longest wait between two acknowledged writes of a survivor: {longest:?}");
    for replica in 1..REPLICAS {
        assert!(
            count(replica, true) >= 5,
            "replica {replica} stopped serving when replica 0 was killed ({} after)",
            count(replica, true)
        );
    }

    // Read back through the survivors, then through the restarted replica.
    cluster.restart(0);
    let auth = bearer(user);
    let mut lost = 0;
    for (n, ack) in acks.iter().enumerate() {
        let addr = cluster.addrs[n % REPLICAS];
        let r = call(
            addr,
            "GET",
            &format!("/api/{user}/tasks/{}", ack.id),
            &auth,
            None,
        );
        if r.status != 200 {
            lost += 1;
            eprintln!(
                "acknowledged task {} (replica {}) lost: {}",
                ack.id, ack.replica, r.status
            );
            continue;
        }
        let t = r.json();
        assert_eq!(
            (
                t["title"].as_str().unwrap(),
                t["description"].as_str().unwrap()
            ),
            (ack.title.as_str(), ack.description.as_str())
        );
    }
    let db = cluster.sqlite();
    let integrity = db.query("PRAGMA integrity_check");
    assert_eq!(integrity, vec![vec![json!("ok")]]);
    let malformed = db.integer(
        "SELECT count(*) FROM tasks WHERE user_id = 'crash-user' AND (title NOT LIKE 'crash %' \
         OR length(description) <> 400 + length(title) OR substr(description, 401) <> title)",
    );
    let stored = db.integer("SELECT count(*) FROM tasks WHERE user_id = 'crash-user'");
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "sigkill: {sent} creates sent to {REPLICAS} replicas, {} acknowledged ({} by replica 0 \
         before its SIGKILL, {} by the others after it), {stored} stored, {lost} acknowledged \
         but lost, {} answered 503 by a survivor and sent again",
        acks.len(),
        count(0, false),
        count(1, true) + count(2, true),
        refused.load(Ordering::Relaxed)
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
    assert_eq!(malformed, 0, "half-written rows");
    assert!(stored as usize >= acks.len());
    (sent + acks.len(), acks.len(), lost)
}

#[test]
fn three_replicas_over_one_database_file() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let started = now_secs();
    let t = Instant::now();
    let mut cluster = Cluster::start("shared", &[]);
    println!(
        "replicas under {} over {}",
        Runtime::current().name(),
        Backend::current().name()
    );
    let up = t.elapsed();
    let mut requests = race_migrations(&cluster, started);
    requests += concurrent_creates(&cluster);
    requests += concurrent_toggles(&cluster);
    requests += idempotent_retries(&cluster);
    requests += live_across_replicas(&cluster);
    let (crash_requests, acknowledged, lost) = kill_one_replica_mid_load(&mut cluster);
    requests += crash_requests;
    let errors = cluster.component_errors();
    let unavailable: Vec<&str> = errors
        .lines()
        .filter(|line| line.starts_with("unavailable"))
        .take(5)
        .collect();
    println!("replicas: the component logged as unavailable: {unavailable:?}");
    assert!(
        !errors.contains("panicked") && !errors.contains("database is locked"),
        "component errors: {errors}"
    );
    println!(
        "replicas: {REPLICAS} processes over one file, {requests} requests, started in {up:?}, \
         ran in {:?}; migrations raced and recorded once; 40 toggles consistent; \
         {acknowledged} acknowledged writes under SIGKILL, {lost} lost",
        t.elapsed()
    );
}

/// Live updates across replicas: a long-poll on one replica wakes on a commit made through
/// another, and an event stream on a third carries the changes written through the other two,
/// each once, in feed order (the database is all the replicas share).
fn live_across_replicas(cluster: &Cluster) -> usize {
    let user = "live-x";
    let auth = bearer(user);
    let feed = call(
        cluster.addrs[0],
        "GET",
        &format!("/api/{user}/tasks/changes"),
        &auth,
        None,
    );
    assert_eq!(feed.status, 200, "{}", feed.body);
    let since = feed.json()["next"].as_str().unwrap().to_owned();
    let mut stream = EventStream::open(
        cluster.addrs[2],
        &Request::new("GET", &format!("/api/{user}/events?since={since}"))
            .header("authorization", &auth),
    )
    .unwrap();
    assert_eq!(stream.status, 200);
    let poll = {
        let (addr, auth, since) = (cluster.addrs[0], auth.clone(), since.clone());
        std::thread::spawn(move || {
            let path = format!("/api/{user}/tasks/changes?since={since}&wait=20");
            let started = Instant::now();
            let response = call(addr, "GET", &path, &auth, None);
            (response, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(600));
    let create_through = |replica: usize| {
        let body = format!(r#"{{"title":"written through replica {replica}"}}"#);
        let path = format!("/api/{user}/tasks");
        let created = call(cluster.addrs[replica], "POST", &path, &auth, Some(&body));
        assert_eq!(created.status, 201, "{}", created.body);
        created.json()["id"].as_i64().unwrap()
    };
    let id = create_through(1);
    let (woken, waited) = poll.join().unwrap();
    assert_eq!(woken.status, 200, "{}", woken.body);
    assert_eq!(woken.json()["changes"][0]["id"], id, "{}", woken.body);
    assert!(
        waited < Duration::from_secs(10),
        "the long-poll on replica 0 waited {waited:?} for a commit through replica 1"
    );
    let second = create_through(0);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < 2 {
        let Some(event) = stream.next_event(deadline.saturating_duration_since(Instant::now()))
        else {
            break;
        };
        assert_eq!(event.event, "change", "{event:?}");
        let position: i64 = event.id.as_deref().unwrap()[1..].parse().unwrap();
        seen.push((position, event.json()["id"].as_i64().unwrap()));
    }
    let ids: Vec<i64> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        ids,
        vec![id, second],
        "the stream on replica 2 carries both writes, once, in order"
    );
    assert!(seen[0].0 < seen[1].0);
    println!("replicas: a long-poll woke {waited:?} after it started (the write came at 600 ms)");
    4
}

/// The minute window the rate limiter counts in (Unix minutes), and seconds left in it.
fn minute() -> (u64, u64) {
    let now = now_secs();
    (now / 60, 60 - now % 60)
}

#[test]
fn rate_limit_is_shared_by_all_replicas() {
    const LIMIT: usize = 30;
    const REQUESTS: usize = 2 * LIMIT;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let started = now_secs();
    let limit = LIMIT.to_string();
    let cluster = Cluster::start("ratelimit", &[("rate_limit_per_minute", &limit)]);
    race_migrations(&cluster, started);

    // The limiter counts per user in fixed one-minute windows: a burst that straddles a
    // minute boundary may rightly get more than LIMIT through, so such a round is retried.
    for attempt in 0..3 {
        let (_, left) = minute();
        if left < 10 {
            std::thread::sleep(Duration::from_secs(left) + Duration::from_millis(200));
        }
        let (window, _) = minute();
        let user = format!("limited-{attempt}");
        let answers = burst(&cluster, REQUESTS, move |_, addr| {
            let r = call(
                addr,
                "GET",
                &format!("/api/{user}/tasks"),
                &bearer(&user),
                None,
            );
            let retry_after = r.header("retry-after").map(str::to_string);
            (addr, r.status, retry_after, r.body)
        });
        if minute().0 != window {
            eprintln!("burst straddled a minute boundary; again");
            continue;
        }
        let ok = answers.iter().filter(|a| a.1 == 200).count();
        let limited: Vec<_> = answers.iter().filter(|a| a.1 == 429).collect();
        let others: Vec<_> = answers
            .iter()
            .filter(|a| a.1 != 200 && a.1 != 429)
            .collect();
        assert!(others.is_empty(), "unexpected answers: {others:?}");
        assert_eq!(ok, LIMIT, "successes across {REPLICAS} replicas");
        assert_eq!(limited.len(), REQUESTS - LIMIT);
        for (addr, _, retry_after, _) in &limited {
            let seconds: u64 = retry_after
                .as_deref()
                .unwrap_or_else(|| panic!("429 from {addr} without Retry-After"))
                .parse()
                .unwrap();
            assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
        }
        let mut per_replica: HashMap<SocketAddr, usize> = HashMap::new();
        for a in answers.iter().filter(|a| a.1 == 200) {
            *per_replica.entry(a.0).or_default() += 1;
        }
        let per_replica: Vec<usize> = cluster
            .addrs
            .iter()
            .map(|addr| per_replica.get(addr).copied().unwrap_or(0))
            .collect();
        // Another user is not limited by this one's requests.
        let r = call(
            cluster.addrs[1],
            "GET",
            "/api/unlimited/tasks",
            &bearer("unlimited"),
            None,
        );
        assert_eq!(r.status, 200);
        println!(
            "rate limit: {REQUESTS} requests by one user over {REPLICAS} replicas with \
             rate_limit_per_minute={LIMIT}: {ok} served (per replica {:?}), {} answered 429 \
             with Retry-After",
            per_replica,
            limited.len()
        );
        return;
    }
    panic!("three bursts in a row straddled a minute boundary");
}
