"""Prometheus metrics for HTTP handling and incidents (delivery: delivery/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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

# Incidents. Counted after the transaction that made the change commits, so a rolled-back
# declaration or a lost compare-and-set race is never counted.
INCIDENTS_DECLARED = Counter(
    "launchops_incidents_declared_total", "Incidents declared", ["severity"]
)
INCIDENTS_ACKNOWLEDGED = Counter(
    "launchops_incidents_acknowledged_total", "Incidents acknowledged", ["severity"]
)
INCIDENTS_RESOLVED = Counter(
    "launchops_incidents_resolved_total", "Incidents resolved", ["severity"]
)
ESCALATION_STEPS = Counter(
    "launchops_incident_escalation_steps_total",
    "Escalation steps fired (by the sweep, by hand, or skipped because they reached nobody)",
    ["severity", "trigger"],
)
PAGES_FAILED = Counter(
    "launchops_incident_pages_failed_total",
    "Pages the chat platform refused for good",
    ["platform", "reason"],
)

# Leadership among replicas (leader.py): exactly one replica of a cluster should read 1.
LEADER = Gauge("launchops_leader", "1 while this replica holds the leader lock and runs the jobs")
LEADER_LAST_CHECK = Gauge(
    "launchops_leader_last_check_timestamp_seconds",
    "Unix time this replica last took, tried or verified the leader lock",
)
