"""Prometheus metrics, one registry per running service (tests build many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages_captured = Counter(
            "mailqa_messages_captured", "Messages stored", ["source"], registry=self.registry
        )
        self.messages_rejected = Counter(
            "mailqa_messages_rejected",
            "Messages refused",
            ["source", "reason"],
            registry=self.registry,
        )
        self.analyses = Counter(
            "mailqa_analyses",
            "Analyses finished, by overall status",
            ["status"],
            registry=self.registry,
        )
        self.check_duration = Histogram(
            "mailqa_check_duration_seconds",
            "Time each check took",
            ["check", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )

        self.webhook_attempts = Counter(
            "mailqa_webhook_attempts",
            "Webhook delivery attempts, by outcome (delivered, retry, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_latency = Histogram(
            "mailqa_webhook_latency_seconds",
            "Time webhook receivers took to answer (or fail)",
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
