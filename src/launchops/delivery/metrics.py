"""Prometheus metrics for outgoing delivery.

Defined once at import on the default registry, so `GET /metrics` exposes them without any
wiring; a module is imported once per process, which is what keeps registration single.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["DELIVERIES", "DELIVERY_SECONDS", "LAG_SECONDS"]

DELIVERIES = Counter(
    "launchops_outbox_deliveries",  # exposed as launchops_outbox_deliveries_total
    "Outbox delivery attempts by outcome (sent, retry, dead).",
    ["platform", "outcome"],
)

DELIVERY_SECONDS = Histogram(
    "launchops_outbox_delivery_seconds",
    "Time spent in a platform sender's send() call.",
    ["platform"],
)

# Lag spans retries and Retry-After waits, so the buckets reach well past a send's duration.
LAG_SECONDS = Histogram(
    "launchops_outbox_lag_seconds",
    "Time from enqueue (created_at) to a confirmed send.",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)
