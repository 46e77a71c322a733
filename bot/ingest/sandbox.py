"""Parse an untrusted file in a child process with memory, CPU-time and wall-clock limits.

A YAML alias bomb, a compressed-stream PDF bomb or a pathological document must cost the bot one failed
upload, not its memory or its event loop. The child runs this module and prints the articles as JSON; the
parent turns every way the child can fail into an IngestError with a reason an admin can act on.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.ingest.records import Article, IngestError

_INGEST_FAILED = 3
_OUT_OF_MEMORY = 4


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    cpu_seconds: int = 30
    wall_seconds: float = 60.0


def load_file_limited(path: Path, limits: Limits, name: str | None = None) -> list[Article]:
    """`load_file` in a child process; raises IngestError (named after `name`) for any failure."""
    name = name or path.name
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bot.ingest.sandbox", str(path), name],
            capture_output=True,
            timeout=limits.wall_seconds,
            preexec_fn=lambda: _limit(limits),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise IngestError(name, f"解析超时（超过 {limits.wall_seconds:g} 秒），文件可能有问题") from exc
    if proc.returncode == 0:
        return [Article(**record) for record in json.loads(proc.stdout)]
    if proc.returncode == _INGEST_FAILED:
        raise IngestError(name, json.loads(proc.stdout)["reason"])
    if proc.returncode == _OUT_OF_MEMORY or b"MemoryError" in proc.stderr:
        raise IngestError(name, f"解析所需内存超过上限（{limits.memory_mb} MB），文件可能有问题")
    if proc.returncode in (-9, -24):  # SIGKILL / SIGXCPU: the CPU-time limit
        raise IngestError(name, f"解析超时（CPU 时间超过 {limits.cpu_seconds} 秒），文件可能有问题")
    raise IngestError(name, f"解析程序异常退出（代码 {proc.returncode}）")


def _limit(limits: Limits) -> None:
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))


def _child(path: str, name: str) -> int:
    from bot.ingest import load_file

    try:
        articles = load_file(Path(path))
    except IngestError as exc:
        print(json.dumps({"reason": exc.reason}, ensure_ascii=False))
        return _INGEST_FAILED
    except MemoryError:
        return _OUT_OF_MEMORY
    print(json.dumps([dataclasses.asdict(a) for a in articles], ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2]))
