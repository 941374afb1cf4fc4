"""Validates recorded HTTP requests against OpenAPI descriptions with openapi-core.

Reads JSON lines on stdin, each {"spec": PATH, "method": "POST", "path": "/v2/...",
"query": "", "headers": [[name, value], ...], "body": TEXT}, and writes one JSON line per
request: {"errors": [MESSAGE, ...]} (empty when the request is valid: path, method,
parameters -- headers included --, security and body). The request is checked as if sent
to the description's first server (the stand-in that received it plays that server).
"""

import json
import sys

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict
from urllib.parse import parse_qsl


class Recorded:
    """A recorded request, in the shape openapi-core reads."""

    def __init__(self, host_url, item):
        self.host_url = host_url
        self.path = item["path"]
        self.method = item["method"].lower()
        self.body = item["body"].encode("utf-8")
        headers = Headers(item["headers"])
        self.content_type = headers.get("Content-Type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(item.get("query", ""))),
            header=headers,
        )


def messages(error):
    """The error and every cause under it, as text."""
    out = [f"{type(error).__name__}: {error}"]
    for attr in ("schema_errors", "errors"):
        for inner in getattr(error, attr, None) or []:
            out.append(f"  {getattr(inner, 'message', inner)}")
    cause = error.__cause__
    while cause is not None:
        out.extend(messages(cause))
        cause = cause.__cause__
    return out


def main():
    specs = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        item = json.loads(line)
        path = item["spec"]
        if path not in specs:
            # The descriptions are kept as published; WhatsApp's carries a vendor key
            # (`parameterGroups`) the spec validator refuses, so only requests are checked.
            api = OpenAPI.from_file_path(path, config=Config(spec_validator_cls=None))
            with (api.spec / "servers" / 0 / "url").open() as url:
                specs[path] = (api, url)
        api, host = specs[path]
        result = api.unmarshal_request(Recorded(host, item))
        errors = []
        for error in result.errors:
            errors.extend(messages(error))
        print(json.dumps({"errors": errors}), flush=True)


if __name__ == "__main__":
    main()
