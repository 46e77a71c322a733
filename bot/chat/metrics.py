"""What /metrics exports (Prometheus text format): questions, refusals, answer latency, the index served,
daily deliveries that failed, and webhook updates taken or dropped as repeats. Process-wide, like the
default registry they live in; each replica is scraped on its own."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, Info, generate_latest

QUESTIONS = Counter("partybot_questions", "Questions answered or refused")
REFUSALS = Counter("partybot_refusals", "Questions refused: nothing in the corpus answers them")
LATENCY = Histogram(
    "partybot_answer_seconds",
    "Time to find an answer (retrieval and composition, not Telegram)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
DELIVERY_FAILURES = Counter("partybot_delivery_failures", "Daily excerpts that could not be delivered")
UPDATES = Counter("partybot_webhook_updates", "Webhook updates received", ["result"])
INDEX = Info("partybot_index", "The index build being served")


def exposition(index_version: str) -> tuple[bytes, str]:
    INDEX.info({"version": index_version})
    return generate_latest(), CONTENT_TYPE_LATEST
