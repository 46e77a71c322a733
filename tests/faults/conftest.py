"""The fault suite records what each fault did; `make reliability` writes that table into docs/reliability.md.

A test records its row only after its assertions passed, so the table lists observed outcomes, not hopes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- faults:begin -->", "<!-- faults:end -->"
ROWS: list[tuple[str, str, str]] = []


@pytest.fixture
def record(request: pytest.FixtureRequest):
    def add(fault: str, outcome: str) -> None:
        ROWS.append((fault, outcome, request.node.nodeid.split("::")[-1]))

    return add


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("RELIABILITY_DOC") or not ROWS or exitstatus != 0:
        return
    lines = ["| 故障 | 观察到的结果 | 测试 |", "| --- | --- | --- |"]
    lines += [f"| {fault} | {outcome} | `{test}` |" for fault, outcome, test in sorted(ROWS, key=lambda r: r[2])]
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n" + "\n".join(lines) + f"\n{END}{tail}", encoding="utf-8")
