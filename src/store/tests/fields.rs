//! The field table ([`fields::COLUMNS`]) against the real schema and the statements that must
//! name every column. Columns are read from SQLite itself (`PRAGMA table_info`), so a
//! migration that adds one and a definition that forgets it cannot both pass.

use super::*;
use crate::store::fields::{self, COLUMNS, Column, Next};

/// `tasks`' columns as SQLite has them after every migration: name and default (SQL text).
fn table_columns(db: &SqliteDb) -> Vec<(String, Option<String>)> {
    db.execute(
        "SELECT name, dflt_value FROM pragma_table_info('tasks')",
        &[],
    )
    .now()
    .unwrap()
    .into_iter()
    .map(|row| match row.as_slice() {
        [Value::Text(name), Value::Text(default)] => (name.clone(), Some(default.clone())),
        [Value::Text(name), Value::Null] => (name.clone(), None),
        other => panic!("table_info row {other:?}"),
    })
    .collect()
}

fn definition(name: &str) -> &'static Column {
    COLUMNS.iter().find(|c| c.name == name).unwrap_or_else(|| {
        panic!("`tasks.{name}` is not in store::fields::COLUMNS: say what it is there")
    })
}

/// One column of one row, as SQLite has it.
fn cell(db: &SqliteDb, id: TaskId, column: &str) -> Value {
    db.execute(
        &format!("SELECT {column} FROM tasks WHERE id = ?1"),
        &[id.get().into()],
    )
    .now()
    .unwrap()
    .remove(0)
    .remove(0)
}

/// The value of an SQL literal or expression (a blank, an example, a default).
fn evaluate(db: &SqliteDb, sql: &str) -> Value {
    db.execute(&format!("SELECT {sql}"), &[])
        .now()
        .unwrap()
        .remove(0)
        .remove(0)
}

/// Writes every example of the columns `pick` chooses into the row `id`.
fn fill(db: &SqliteDb, id: TaskId, pick: impl Fn(&Column) -> bool) {
    for column in COLUMNS.iter().filter(|c| pick(c)) {
        let example = column
            .example
            .unwrap_or_else(|| panic!("{} needs an example", column.name));
        db.execute(
            &format!("UPDATE tasks SET {} = {example} WHERE id = ?1", column.name),
            &[id.get().into()],
        )
        .now()
        .unwrap_or_else(|e| panic!("{}'s example {example}: {e:?}", column.name));
    }
}

#[test]
fn the_definition_lists_every_column_of_tasks_and_no_other() {
    let db = setup(&["a"]);
    let names: Vec<String> = table_columns(&db).into_iter().map(|(n, _)| n).collect();
    for name in &names {
        definition(name);
    }
    for column in COLUMNS {
        assert!(
            names.iter().any(|n| n == column.name),
            "COLUMNS lists `{}`, which `tasks` does not have",
            column.name
        );
    }
    assert_eq!(names.len(), COLUMNS.len(), "a column listed twice");
}

#[test]
fn the_literals_statements_splice_in_are_the_definition() {
    assert_eq!(fields::TASK_COLUMNS, fields::task_columns(""));
    assert_eq!(fields::TASK_COLUMNS_OF_T, fields::task_columns("t."));
    assert_eq!(fields::WIPED, fields::wiped());
}

#[test]
fn every_content_or_copied_column_has_an_example_unlike_its_default() {
    let db = setup(&["a"]);
    for (name, default) in table_columns(&db) {
        let column = definition(&name);
        if column.blank.is_none() && column.next != Next::Copied {
            continue;
        }
        let example = column
            .example
            .unwrap_or_else(|| panic!("{name} has no example"));
        let default = evaluate(&db, default.as_deref().unwrap_or("NULL"));
        assert_ne!(
            evaluate(&db, example),
            default,
            "{name}'s example is its default"
        );
        if let Some(blank) = column.blank {
            assert_ne!(evaluate(&db, example), evaluate(&db, blank), "{name}");
        }
    }
}

#[test]
fn deleting_without_retention_and_the_purge_blank_every_content_column() {
    let db = setup(&["a"]);
    let a = user("a");
    let none = TrashRetention::days(0).unwrap();
    let day = 86_400_000_000;
    let at_once = create_plain(&db, &a, &new_task("gone at once"), at(1)).unwrap();
    let later = create_plain(&db, &a, &new_task("purged later"), at(1)).unwrap();
    let kept = create_plain(&db, &a, &new_task("still restorable"), at(1)).unwrap();
    let content = |c: &Column| c.blank.is_some();
    for id in [at_once.id, later.id, kept.id] {
        fill(&db, id, content);
    }
    let one_day = TrashRetention::days(1).unwrap();
    assert!(
        delete_task(&db, &a, at_once.id, None, none, at(2))
            .now()
            .unwrap()
    );
    assert!(
        delete_task(&db, &a, later.id, None, one_day, at(2))
            .now()
            .unwrap()
    );
    assert!(
        delete_task(&db, &a, kept.id, None, one_day, at(3 * day))
            .now()
            .unwrap()
    );
    // A delete that finds some of the owner's trash past the retention purges it.
    let names: Vec<String> = table_columns(&db).into_iter().map(|(n, _)| n).collect();
    for name in &names {
        let Some(blank) = definition(name).blank else {
            continue;
        };
        let blank = evaluate(&db, blank);
        assert_eq!(
            cell(&db, at_once.id, name),
            blank,
            "{name} outlived a delete"
        );
        assert_eq!(
            cell(&db, later.id, name),
            blank,
            "{name} outlived the purge"
        );
    }
    // Within the retention the trash keeps everything: a restore gives it all back.
    let restored = restore_task(&db, &a, kept.id, one_day, at(3 * day + 1))
        .now()
        .unwrap()
        .expect("restorable");
    for column in COLUMNS.iter().filter(|c| content(c)) {
        let example = evaluate(&db, column.example.unwrap());
        assert_eq!(
            cell(&db, restored.id, column.name),
            example,
            "{}",
            column.name
        );
    }
}

#[test]
fn erasing_a_user_leaves_no_row_of_theirs() {
    let db = setup(&["a", "b"]);
    let (a, b) = (user("a"), user("b"));
    let task = create_plain(&db, &a, &new_task("erase me"), at(1)).unwrap();
    let trashed = create_plain(&db, &a, &new_task("trash me"), at(1)).unwrap();
    let other = create_plain(&db, &b, &new_task("b's"), at(1)).unwrap();
    fill(&db, task.id, |c| c.blank.is_some());
    assert!(
        delete_task(&db, &a, trashed.id, None, keep(), at(2))
            .now()
            .unwrap()
    );
    erase(&db, &a).now().unwrap();
    let left = db
        .execute(
            "SELECT count(*) FROM tasks WHERE user_id IN ('a', char(1) || 'a')",
            &[],
        )
        .now()
        .unwrap();
    assert_eq!(left, vec![vec![Value::Integer(0)]]);
    assert_eq!(
        get_task(&db, &b, other.id, at(3)).now().unwrap(),
        Some(other)
    );
}

#[test]
fn a_recurring_completion_copies_every_copied_column_and_defaults_the_rest() {
    let db = setup(&["a"]);
    let a = user("a");
    let source = create_plain(&db, &a, &new_task("repeats"), at(1)).unwrap();
    // The owner is copied too, but it cannot be an example: the row must stay the caller's.
    fill(&db, source.id, |c| {
        c.next == Next::Copied && c.name != "user_id" || matches!(c.name, "due_at" | "recurrence")
    });
    let read = get_task(&db, &a, source.id, at(2)).now().unwrap().unwrap();
    let rule = read.recurrence.clone().expect("the example is a rule");
    let next = NextOccurrence {
        due_at: at(1_800_000_000_000_000),
        remind_at: None,
        recurrence: &rule,
    };
    assert!(
        complete_recurring(&db, &a, source.id, read.updated_at, &next, at(3))
            .now()
            .unwrap()
    );
    let done = get_task(&db, &a, source.id, at(4)).now().unwrap().unwrap();
    let occurrence = done.next_task_id.expect("an occurrence");
    for (name, default) in table_columns(&db) {
        let copied = cell(&db, occurrence, &name);
        match definition(&name).next {
            Next::Copied => assert_eq!(copied, cell(&db, source.id, &name), "{name} not copied"),
            Next::Default => assert_eq!(
                copied,
                evaluate(&db, default.as_deref().unwrap_or("NULL")),
                "{name} is not its default"
            ),
            Next::Own => {}
        }
    }
}

#[test]
fn every_shown_column_is_read_exported_and_in_the_openapi_schemas() {
    let db = setup(&["a"]);
    let a = user("a");
    let plain = create_plain(&db, &a, &new_task("plain"), at(1)).unwrap();
    let filled = create_plain(&db, &a, &new_task("filled"), at(1)).unwrap();
    fill(&db, filled.id, |c| {
        c.shown && c.example.is_some() && c.name != "user_id"
    });
    let json = |id| {
        let task = get_task(&db, &a, id, at(2)).now().unwrap().unwrap();
        serde_json::to_value(&task).unwrap()
    };
    let (plain, filled) = (json(plain.id), json(filled.id));
    let export = export(&db, &a, keep(), at(3)).now().unwrap();
    let exported = serde_json::to_value(&export.tasks[0]).unwrap();
    let openapi: serde_json::Value = serde_json::from_str(crate::api::docs::OPENAPI_JSON).unwrap();
    let properties = |schema: &str| {
        openapi["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no {schema} schema"))
            .clone()
    };
    let (task_schema, trashed_schema) = (properties("Task"), properties("TrashedTask"));
    for column in COLUMNS.iter().filter(|c| c.shown) {
        let name = column.name;
        assert!(filled.get(name).is_some(), "a task's JSON lacks {name}");
        assert!(exported.get(name).is_some(), "the export lacks {name}");
        assert!(
            task_schema.contains_key(name),
            "OpenAPI's Task lacks {name}"
        );
        assert!(
            trashed_schema.contains_key(name),
            "OpenAPI's TrashedTask lacks {name}"
        );
        if column.example.is_some() && name != "user_id" {
            assert_ne!(
                filled[name], plain[name],
                "{name} is not read from its column"
            );
        }
    }
    // And the schema shows nothing the table does not hold: every property is a shown column
    // or a part of one (the rule's interval and end are in `recurrence`).
    for property in task_schema.keys() {
        let column = fields::shown_in(property);
        assert!(
            column.is_some_and(|c| c.shown),
            "OpenAPI's Task has {property}, which no shown column holds"
        );
    }
}
