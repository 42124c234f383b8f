"""Settings read from the environment, once, by :func:`engine.bootstrap.bootstrap`."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROCESSES_DIR = PROJECT_ROOT / "processes"
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "instance" / "zjtx.sqlite3"


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    timezone: str = "Asia/Shanghai"
    processes_dir: Path = PROCESSES_DIR
    secret_key: str = field(default="dev-only-secret", repr=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("DATABASE_URL") or cls.database_url,
            timezone=env.get("ZJTX_TIMEZONE") or cls.timezone,
            processes_dir=Path(env.get("ZJTX_PROCESSES_DIR") or PROCESSES_DIR),
            secret_key=env.get("ZJTX_SECRET_KEY") or cls.secret_key,
        )
