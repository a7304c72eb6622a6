"""Loaded by hooks.py when schemathesis runs against real Spin (tests/schemathesis/run).

Spin 4.0.2 answers an empty 500, before the component runs, to any request with a header value
that is not valid UTF-8 (tests/api/runtimes.rs pins it; README "Deploying" says what to put in
front of Spin). Schemathesis sends a generated non-ASCII header value as Latin-1 bytes, which
are never valid UTF-8 past ASCII. Here the same characters go out UTF-8-encoded instead: the
value is unchanged (still not visible ASCII, so still as valid or invalid as generated), only
its bytes are ones Spin can read. Everything else about the case and every check stay as they
are under the host.
"""

import schemathesis


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if not case.headers:
        return
    for name, value in list(case.headers.items()):
        if isinstance(value, str) and not value.isascii():
            # requests sends a str header as Latin-1: this str's Latin-1 bytes are the
            # original's UTF-8 bytes.
            case.headers[name] = value.encode("utf-8").decode("latin-1")
