"""Loaded by tests/schemathesis/run for every run (SCHEMATHESIS_HOOKS=hooks).

`positive_data_acceptance` (ST202) fails a request that is valid by the document when the API
answers anything but 2xx, 3xx, 401, 403, 404, 409, 429 or 5xx; schemathesis.toml adds the one
status each operation documents for a value valid in form that no schema can know (412 for a
stale If-Match, 400 for a cursor this API did not issue). 422 is in no list, so a 422 for a
value the document calls valid fails the run: the document must state every rule of form.

Two kinds of ST202 are dropped here, each shown in the summary as "dropped by
`filter_failure`", and nothing else:

- A 422 whose every error is a rule no JSON Schema can state: between fields (`remind_at` not
  after `due_at`, `until` not before it, `recurrence`/`interval`/`until` needing the field
  they depend on, on a create or on the task as a patch leaves it; `cursor` with `offset`), a
  time zone of the right form that the time zone database does not know, an `Idempotency-Key`
  already used with another body (422 by the IETF httpapi draft), or a non-ASCII `q` without a
  Unicode letter or digit (no portable regex says "Unicode letter"). A 422 naming anything
  else still fails (a HEAD's is read from the same request as a GET).
- A case schemathesis labels valid although one of its header parameters breaks that header's
  own schema: schemathesis 4.32.5's coverage phase draws no value for a header whose `pattern`
  needs a character outside A-Za-z0-9 (every If-Match / If-None-Match does: `*` or `"`), seeds
  one of its invalid values instead ("0"), and still labels the "all required and optional
  'If-Match'" case positive. The value is checked against the document here, so only such
  mislabelled cases are dropped.

Under real Spin, spin_hooks is loaded too (see there).
"""

import os
from functools import lru_cache

import jsonschema_rs
import schemathesis

if os.environ.get("ST_RUNTIME") == "spin":
    import spin_hooks  # noqa: F401  (registers its own hook)

# The rules of the API that no JSON Schema can state, as the API names them in a 422:
# (field, message); a batch prefixes the field with `operations[i].`.
RULES_NO_SCHEMA_STATES = {
    ("remind_at", "needs a due_at"),
    ("remind_at", "must not be after due_at"),
    ("recurrence", "needs a due_at"),
    ("interval", "needs a recurrence"),
    ("until", "needs a recurrence"),
    ("until", "must not be before due_at"),
    ("time_zone", "must be an IANA time zone name, e.g. Europe/Berlin or UTC"),
    ("Idempotency-Key", "was already used for a different request body"),
    # Query parameters have no way to depend on one another in OpenAPI.
    ("offset", "cannot be combined with cursor (the cursor says where the page starts)"),
    # A Unicode letter or digit: no pattern says it alike in every JSON Schema dialect
    # (`\p{…}` needs ECMA-262's `u` flag, and Python's re, which openapi-spec-validator reads
    # patterns with, rejects it), so `q`'s pattern admits any non-ASCII character (see its
    # description) and a `q` such as "¿" gets this 422.
    ("q", "must contain a word (letters or digits)"),
}


def _errors(response) -> list:
    """The 422's `errors`; for a HEAD (no body), those of the same request as a GET, which
    answers what HEAD's headers describe."""
    if response.request.method == "HEAD":
        import requests

        response = requests.get(response.request.url, headers=dict(response.request.headers), timeout=30)
    try:
        return response.json().get("errors") or []
    except Exception:
        return []


def _only_rules_no_schema_states(response) -> bool:
    if response.status_code != 422:
        return False
    errors = _errors(response)
    if not errors:
        return False
    for error in errors:
        field = str(error.get("field", ""))
        if field.startswith("operations[") and "]." in field:
            field = field.split("].", 1)[1]
        if (field, error.get("message")) not in RULES_NO_SCHEMA_STATES:
            return False
    return True


def _resolve(document: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


@lru_cache(maxsize=None)
def _validator(schema_json: str):
    import json

    return jsonschema_rs.validator_for(json.loads(schema_json))


def _breaks_a_header_schema(case) -> bool:
    import json

    document = case.operation.schema.raw_schema
    path_item = document["paths"][case.operation.path]
    operation = path_item[case.operation.method.lower()]
    headers = {name.lower(): value for name, value in (case.headers or {}).items()}
    for parameter in path_item.get("parameters", []) + operation.get("parameters", []):
        parameter = _resolve(document, parameter)
        if parameter.get("in") != "header":
            continue
        value = headers.get(parameter["name"].lower())
        if value is None or "schema" not in parameter:
            continue
        schema = json.dumps(_resolve(document, parameter["schema"]), sort_keys=True)
        if not _validator(schema).is_valid(value):
            return True
    return False


@schemathesis.hook
def filter_failure(ctx, failure, case, response) -> bool:
    if getattr(failure, "code", None) != "ST202":
        return True
    if _only_rules_no_schema_states(response):
        return False
    if _breaks_a_header_schema(case):
        return False
    return True


@schemathesis.hook
def map_query(ctx, query):
    """Waiting is not what these runs test (tests/api/live.rs does): a long-poll's `wait` and an
    event stream's `seconds` are set to 0 where a case gives them a valid value or none, so no
    case holds a connection (a stream would otherwise stay open 300 s). Invalid values are left
    as generated: they must still be 422s."""
    path = ctx.operation.path
    if path not in ("/api/{user_id}/tasks/changes", "/api/{user_id}/events"):
        return query
    name = "wait" if path.endswith("/changes") else "seconds"
    query = dict(query or {})
    value = query.get(name)
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 300):
        query[name] = 0
    return query
