//! Isolation as a property: several users, a few hundred random operations (with ids taken
//! from other users too); after each step the API's view equals a model kept here, and no
//! response ever contains another user's task.

use super::client::Response;
use super::support::Server;
use super::tokens::token;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use task_api_testkit::rng::Rng;

#[derive(Clone, Debug, PartialEq)]
struct Model {
    title: String,
    completed: bool,
    priority: &'static str,
}

const PRIORITIES: [&str; 4] = ["none", "low", "medium", "high"];

const USERS: [&str; 4] = ["iso-ann", "iso-ben", "iso-cat", "iso-dan"];

fn owned_by_caller(response: &Response, user: &str) {
    let text = response.text();
    for other in USERS.iter().filter(|u| **u != user) {
        assert!(
            !text.contains(&format!("\"user_id\":\"{other}\"")),
            "{user} saw {other}'s task: {text}"
        );
    }
}

#[test]
fn random_operations_never_cross_users() {
    let server = Server::start();
    let tokens: Vec<String> = USERS.iter().map(|u| token(u)).collect();
    let mut model: BTreeMap<i64, (usize, Model)> = BTreeMap::new();
    let (mut rng, seed) = Rng::from_env("TASK_API_ISOLATION_SEED");
    for step in 0..300 {
        let who = rng.below(USERS.len());
        let (user, t) = (USERS[who], &tokens[who]);
        // Any id we ever issued (anyone's, possibly deleted) or one never issued.
        let id = match model.keys().nth(rng.below(model.len() + 1)) {
            Some(id) => *id,
            None => 1_000_000 + rng.below(1000) as i64,
        };
        let mine = model.get(&id).is_some_and(|(owner, _)| *owner == who);
        let item = format!("/api/{user}/tasks/{id}");
        let context = format!("step {step} (TASK_API_ISOLATION_SEED={seed}): {user} op on {id}");
        let response = match rng.below(6) {
            0 => {
                let title = format!("task {step}");
                let priority = *rng.pick(&PRIORITIES);
                let r = server.post(
                    &format!("/api/{user}/tasks"),
                    t,
                    json!({"title": title, "priority": priority}),
                );
                assert_eq!(r.status, 201, "{context}");
                model.insert(
                    r.json()["id"].as_i64().unwrap(),
                    (
                        who,
                        Model {
                            title,
                            completed: false,
                            priority,
                        },
                    ),
                );
                r
            }
            1 => {
                let r = server.get(&item, t);
                match model.get(&id) {
                    Some((_, m)) if mine => {
                        assert_eq!(r.status, 200, "{context}");
                        assert_eq!(
                            (
                                r.json()["title"].as_str().unwrap(),
                                r.json()["completed"].as_bool().unwrap(),
                                r.json()["priority"].as_str().unwrap()
                            ),
                            (m.title.as_str(), m.completed, m.priority)
                        );
                    }
                    _ => assert_eq!(r.status, 404, "{context}"),
                }
                r
            }
            2 => {
                let title = format!("renamed {step}");
                let priority = *rng.pick(&PRIORITIES);
                let r = server.patch(&item, t, json!({"title": title, "priority": priority}));
                if mine {
                    assert_eq!(r.status, 200, "{context}");
                    let m = &mut model.get_mut(&id).unwrap().1;
                    (m.title, m.priority) = (title, priority);
                } else {
                    assert_eq!(r.status, 404, "{context}");
                }
                r
            }
            3 => {
                let r = server.toggle(user, id, t);
                if mine {
                    assert_eq!(r.status, 200, "{context}");
                    let m = &mut model.get_mut(&id).unwrap().1;
                    m.completed = !m.completed;
                } else {
                    assert_eq!(r.status, 404, "{context}");
                }
                r
            }
            4 => {
                let r = server.delete(&item, t);
                if mine {
                    assert_eq!(r.status, 204, "{context}");
                    model.remove(&id);
                } else {
                    assert_eq!(r.status, 404, "{context}");
                }
                r
            }
            _ => {
                let status = ["all", "pending", "completed"][rng.below(3)];
                // Sometimes only some priorities: a random non-empty subset.
                let wanted: Vec<&str> = if rng.chance(50) {
                    PRIORITIES.to_vec()
                } else {
                    let subset: Vec<&str> = PRIORITIES
                        .iter()
                        .copied()
                        .filter(|_| rng.chance(50))
                        .collect();
                    if subset.is_empty() {
                        vec![*rng.pick(&PRIORITIES)]
                    } else {
                        subset
                    }
                };
                let r = server.get(
                    &format!(
                        "/api/{user}/tasks?status={status}&priority={}&limit=100&sort=created&order=asc",
                        wanted.join(",")
                    ),
                    t,
                );
                assert_eq!(r.status, 200, "{context}");
                let listed: Vec<i64> = r
                    .json()
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["id"].as_i64().unwrap())
                    .collect();
                let expected: Vec<i64> = model
                    .iter()
                    .filter(|(_, (owner, m))| {
                        *owner == who
                            && (status == "all" || (status == "completed") == m.completed)
                            && wanted.contains(&m.priority)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                assert_eq!(listed, expected, "{context}: list {status}");
                r
            }
        };
        owned_by_caller(&response, user);
        // Another user's URL with this user's token is always 403.
        let other = USERS[(who + 1) % USERS.len()];
        assert_eq!(
            server.get(&format!("/api/{other}/tasks/{id}"), t).status,
            403,
            "{context}"
        );
    }
    // Finally every user's full view equals the model.
    for (who, user) in USERS.iter().enumerate() {
        let listed: Vec<(i64, Value)> = server
            .get(
                &format!("/api/{user}/tasks?order=asc&limit=100"),
                &tokens[who],
            )
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["id"].as_i64().unwrap(), t["title"].clone()))
            .collect();
        let expected: Vec<(i64, Value)> = model
            .iter()
            .filter(|(_, (o, _))| *o == who)
            .map(|(id, (_, m))| (*id, json!(m.title)))
            .collect();
        assert_eq!(listed, expected, "{user}");
    }
}

/// The same property with what lists can now reach across rows: tags from a vocabulary all
/// users share, titles made of shared words (so one FTS index holds every user's matches),
/// and recurring tasks whose completion creates a task. After every step, each list, search,
/// tag filter and tag count equals the caller's model, and no response names another user's
/// task or tag count.
#[test]
fn random_operations_with_tags_search_and_recurrence_never_cross_users() {
    const WORDS: [&str; 5] = ["apple", "banana", "cherry", "damson", "elder"];
    const TAGS: [&str; 4] = ["Work", "home", "URGENT", "shared"];
    #[derive(Clone, Debug)]
    struct Item {
        owner: usize,
        title: String,
        tags: Vec<String>,
        completed: bool,
        recurring: bool,
        spawned: bool,
    }
    let server = Server::start();
    let tokens: Vec<String> = USERS.iter().map(|u| token(u)).collect();
    let mut model: BTreeMap<i64, Item> = BTreeMap::new();
    let (mut rng, seed) = Rng::from_env("TASK_API_ISOLATION_SEED");
    let ids = |r: &Response| -> Vec<i64> {
        r.json()
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {}", r.text()))
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    for step in 0..250 {
        let who = rng.below(USERS.len());
        let (user, t) = (USERS[who], &tokens[who]);
        let id = match model.keys().nth(rng.below(model.len() + 1)) {
            Some(id) => *id,
            None => 2_000_000 + rng.below(1000) as i64,
        };
        let mine = model.get(&id).is_some_and(|item| item.owner == who);
        let item_path = format!("/api/{user}/tasks/{id}");
        let context = format!("step {step} (TASK_API_ISOLATION_SEED={seed}): {user} op on {id}");
        let some_tags = |rng: &mut Rng| -> Vec<String> {
            TAGS.iter()
                .filter(|_| rng.chance(35))
                .map(|t| t.to_string())
                .collect()
        };
        let response = match rng.below(7) {
            0 | 1 => {
                let title = format!("{} {} {step}", rng.pick(&WORDS), rng.pick(&WORDS));
                let tags = some_tags(&mut rng);
                let recurring = rng.chance(30);
                let mut body = json!({"title": title, "tags": tags});
                if recurring {
                    body["due_at"] = json!("2026-12-01T09:00:00Z");
                    body["recurrence"] = json!("daily");
                    body["time_zone"] = json!("Europe/Berlin");
                }
                let r = server.post(&format!("/api/{user}/tasks"), t, body);
                assert_eq!(r.status, 201, "{context}: {}", r.text());
                let item = Item {
                    owner: who,
                    title,
                    tags,
                    completed: false,
                    recurring,
                    spawned: false,
                };
                model.insert(r.json()["id"].as_i64().unwrap(), item);
                r
            }
            2 => {
                let tags = some_tags(&mut rng);
                let title = format!("{} renamed {step}", rng.pick(&WORDS));
                let r = server.patch(&item_path, t, json!({"tags": tags, "title": title}));
                if mine {
                    assert_eq!(r.status, 200, "{context}");
                    let item = model.get_mut(&id).unwrap();
                    (item.tags, item.title) = (tags, title);
                } else {
                    assert_eq!(r.status, 404, "{context}");
                }
                r
            }
            3 => {
                let r = server.toggle(user, id, t);
                if mine {
                    assert_eq!(r.status, 200, "{context}: {}", r.text());
                    let item = model.get(&id).unwrap().clone();
                    let creates = !item.completed && item.recurring && !item.spawned;
                    let next = r.json()["next_task_id"].as_i64();
                    if creates {
                        let next = next.unwrap_or_else(|| panic!("{context}: no next occurrence"));
                        model.insert(
                            next,
                            Item {
                                completed: false,
                                spawned: false,
                                ..item.clone()
                            },
                        );
                    }
                    let item = model.get_mut(&id).unwrap();
                    item.completed = !item.completed;
                    item.spawned |= creates;
                    assert_eq!(r.json()["completed"], item.completed, "{context}");
                } else {
                    assert_eq!(r.status, 404, "{context}");
                }
                r
            }
            4 => {
                let r = server.delete(&item_path, t);
                if mine {
                    assert_eq!(r.status, 204, "{context}");
                    model.remove(&id);
                } else {
                    assert_eq!(r.status, 404, "{context}");
                }
                r
            }
            5 => {
                // A search, sometimes with a tag filter, in created order.
                let word = *rng.pick(&WORDS);
                let tag = rng.chance(50).then(|| *rng.pick(&TAGS));
                let tag_filter = tag
                    .map(|tag| format!("&tag={}", tag.to_lowercase()))
                    .unwrap_or_default();
                let query = format!("q={word}&sort=created&order=asc&limit=100{tag_filter}");
                let r = server.get(&format!("/api/{user}/tasks?{query}"), t);
                assert_eq!(r.status, 200, "{context}: {}", r.text());
                let expected: Vec<i64> = model
                    .iter()
                    .filter(|(_, item)| {
                        item.owner == who
                            && item.title.split(' ').any(|w| w == word)
                            && tag.is_none_or(|tag| item.tags.iter().any(|t| t == tag))
                    })
                    .map(|(id, _)| *id)
                    .collect();
                assert_eq!(ids(&r), expected, "{context}: {query}");
                // Ranked, the same set.
                let ranked = server.get(
                    &format!("/api/{user}/tasks?q={word}&limit=100{tag_filter}"),
                    t,
                );
                let mut ranked_ids = ids(&ranked);
                ranked_ids.sort();
                assert_eq!(ranked_ids, expected, "{context}: ranked q={word}");
                r
            }
            _ => {
                let r = server.get(&format!("/api/{user}/tags"), t);
                assert_eq!(r.status, 200, "{context}");
                let mut expected: BTreeMap<String, i64> = BTreeMap::new();
                for item in model.values().filter(|item| item.owner == who) {
                    for tag in &item.tags {
                        *expected.entry(tag.to_lowercase()).or_default() += 1;
                    }
                }
                let listed: BTreeMap<String, i64> = r
                    .json()
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| {
                        (
                            t["tag"].as_str().unwrap().to_lowercase(),
                            t["count"].as_i64().unwrap(),
                        )
                    })
                    .collect();
                assert_eq!(listed, expected, "{context}: tags");
                r
            }
        };
        owned_by_caller(&response, user);
    }
    // Every user's full view, once more: ids, tags and completion.
    for (who, user) in USERS.iter().enumerate() {
        let listed = server.get(
            &format!("/api/{user}/tasks?order=asc&limit=100"),
            &tokens[who],
        );
        let expected: Vec<i64> = model
            .iter()
            .filter(|(_, item)| item.owner == who)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(ids(&listed), expected, "{user}");
    }
}
