"""Reading a slash command's answer from its ack body, where DESIGN.md §5 puts it.

The answer used to arrive at the fake's `response_url`; now it is the HTTP response itself.
`ack_answer` returns it as a `RecordedCall`, so tests read it exactly as they read a Web API
call, after the same checks the fake applies to every `response_url` POST: ephemeral, some
text, and Block Kit that round-trips through slack_sdk.
"""

from __future__ import annotations

import json
import time

import httpx

from tests.fakes.slack_api import RecordedCall, block_problems

ACK = "ack"  # the pseudo-method of an answer read from an ack body


def ack_answer(response: httpx.Response) -> RecordedCall:
    """The answer in a slash command's ack body; fails when there is none or it is malformed."""
    assert response.status_code == 200, response.text
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"no answer in the ack: {response.headers.get('content-type')!r} {response.text!r}"
    )
    params = json.loads(response.content)
    assert isinstance(params, dict), response.text
    assert params.get("response_type") == "ephemeral", params
    assert params.get("text") or params.get("blocks"), params
    problems = block_problems(params["blocks"], "ack blocks") if "blocks" in params else []
    assert not problems, problems
    return RecordedCall(ACK, params, dict(response.headers), time.time())
