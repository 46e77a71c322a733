"""One Settings object, read once from the environment and `.env`, so no module reads os.environ itself."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    corpus_dir: Path = ROOT / "corpus"
    index_dir: Path = ROOT / "index"
    models_dir: Path = ROOT / "models"
    data_dir: Path = ROOT / "data"
    database_url: str = ""  # the state store; empty: the SQLite file in data_dir (postgresql://… for replicas)
    embed_model: str = "multilingual-e5-small"
    embed_batch_size: int = 32
    embed_variant: str = "fp32"  # or "int8": passages and questions through the quantised ONNX copy
    embed_workers: int = 0  # onnxruntime sessions encoding side by side; 0: one per core above two cores
    embed_device: str = "cpu"  # "cuda": sentence-transformers on the GPU (fp32)
    # passages from which FAISS searches an IVF index instead of every vector (= vector_index.DEFAULT_ANN_THRESHOLD,
    # repeated so that reading settings does not import FAISS)
    ann_threshold: int = 100_000

    telegram_bot_token: str = ""
    telegram_api_base_url: str = "https://api.telegram.org"
    admin_ids: Annotated[list[int], NoDecode] = []
    timezone: str = "Asia/Shanghai"
    daily_time: str = "08:00"
    questions_per_minute: int = 10
    max_question_chars: int = 500
    followup_minutes: float = 10.0  # how long a member's last question stays the context of the next
    max_upload_bytes: int = 10 * 1024 * 1024
    max_upload_articles: int = 2000
    parse_memory_mb: int = 1024  # an upload is parsed in a child process under these limits
    parse_cpu_seconds: int = 30
    parse_wall_seconds: float = 60.0

    webhook_url: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret: str = ""
    daily_sweep_seconds: float = 60.0  # how often each process looks for due excerpts nobody has sent
    index_poll_seconds: float = 10.0  # how often a replica checks the store for a newer published index

    crash_at: str = ""  # fault suite only: the crash point (bot/faults.py) where the process kills itself

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @property
    def encode_workers(self) -> int:
        """Two cores are one session's threads' to share; beyond that one single-threaded session per core."""
        cores = os.cpu_count() or 1
        return self.embed_workers or (cores if cores > 2 else 1)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "partybot.sqlite3"

    @property
    def store_target(self) -> str | Path:
        """What `Store()` opens: `database_url` when set, else the embedded SQLite file."""
        return self.database_url or self.db_path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
