"""Schemathesis hooks for the `reach serve` schema test (tests/it/serve_schema.rs).

Loaded through SCHEMATHESIS_HOOKS. They run just before every request, whatever the
phase or generation mode, and keep the run from doing what a test must not:

- A broadcast never leaves this machine and never writes outside the server's folders:
  a `webhook:URL` or `jsonl:PATH` sink becomes `discard`, and a `channels` file is
  never named (the data directory has none, so the platform sink has no account to send
  with). The server also runs with its proxy set to a closed port on 127.0.0.1.
- `GET /membership` never names a saved segment that exists, so that it is answered
  with an error, never with an endless stream (the stream is tested in serve.rs).
"""

import json

import schemathesis

UNSAVED = "unsaved-"


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    method = case.operation.method.upper()
    if method == "POST" and path == "/broadcasts" and isinstance(case.body, dict):
        case.body.pop("channels", None)
        sink = case.body.get("sink")
        if isinstance(sink, str) and sink not in ("discard", "platform"):
            case.body["sink"] = "discard"
    if method == "GET" and path == "/membership" and isinstance(case.query, dict):
        names = case.query.get("segments")
        if names is not None:
            values = names if isinstance(names, list) else [names]
            case.query["segments"] = [
                ",".join(UNSAVED + part for part in str(value).split(",")) for value in values
            ]
    if method == "PUT" and path == "/segments/{name}" and isinstance(case.path_parameters, dict):
        name = case.path_parameters.get("name")
        if str(name).startswith(UNSAVED):
            case.path_parameters["name"] = "saved-" + str(name)


@schemathesis.serializer("application/x-ndjson")
def json_lines(context, value):
    """`POST /changes` takes JSON Lines: a string goes as it is, anything else as one line."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return (json.dumps(value) + "\n").encode("utf-8")
