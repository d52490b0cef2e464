"""Prometheus metrics for HTTP handling (delivery has its own in delivery/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "launchops_http_requests_total", "HTTP requests handled", ["handler", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "launchops_http_request_seconds",
    "Time to answer an HTTP request",
    ["handler"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0),
)
HTTP_ERRORS = Counter(
    "launchops_http_errors_total", "Requests that ended in an unhandled error", ["handler"]
)
CHAT_COMMANDS = Counter(
    "launchops_chat_commands_total", "Chat messages handled", ["platform", "outcome"]
)
