"""The bench's throwaway database: never the app's default one.

SQLite: ``bench/bench.sqlite3`` (git-ignored), deleted and re-created per size.
PostgreSQL (when ``DATABASE_URL`` points at one): a database of its own on the same
server, ``ccm_bench`` unless ``BENCH_DB_NAME`` says otherwise, created and dropped
here. The name must contain "bench", so a typo cannot drop a real database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
SQLITE_PATH = BENCH_DIR / "bench.sqlite3"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class BenchDatabase:
    vendor: str  # "sqlite" or "postgresql"
    url: str  # what the bench (and its gunicorn) connect to
    name: str
    maintenance_url: str = ""  # PostgreSQL: where CREATE/DROP DATABASE run

    @classmethod
    def sqlite(cls) -> BenchDatabase:
        """bench/bench.sqlite3, or bench/<BENCH_DB_NAME>.sqlite3 (two runs at once)."""
        name = os.environ.get("BENCH_DB_NAME", "")
        path = SQLITE_PATH.with_name(f"{name}.sqlite3") if name else SQLITE_PATH
        return cls(vendor="sqlite", url=f"sqlite:///{path}", name=str(path))

    @staticmethod
    def postgres_source() -> str:
        """The PostgreSQL server to bench on: BENCH_DATABASE_URL, else DATABASE_URL if
        it is PostgreSQL, else the local default if it answers; "" when none answers."""
        import psycopg2

        candidates = [
            os.environ.get("BENCH_DATABASE_URL", "").strip(),
            os.environ.get("DATABASE_URL", "").strip(),
            DEFAULT_POSTGRES,
        ]
        for url in candidates:
            if not url.startswith("postgres"):
                continue
            try:
                psycopg2.connect(url, connect_timeout=3).close()
            except psycopg2.Error:
                continue
            return url
        return ""

    @classmethod
    def from_env(cls) -> BenchDatabase:
        source = os.environ.get("DATABASE_URL", "").strip()
        if not source:
            return cls.sqlite()
        parts = urlsplit(source)
        if not parts.scheme.startswith("postgres"):
            raise SystemExit(
                f"bench: DATABASE_URL must be PostgreSQL (or unset), not {parts.scheme}"
            )
        name = os.environ.get("BENCH_DB_NAME", "ccm_bench")
        if "bench" not in name:
            raise SystemExit(f"bench: refusing to create and drop {name!r}: its name needs 'bench'")
        return cls(
            vendor="postgresql",
            url=urlunsplit(parts._replace(path=f"/{name}")),
            name=name,
            maintenance_url=urlunsplit(parts._replace(path="/postgres")),
        )

    def sibling(self, suffix: str) -> BenchDatabase:
        """A second throwaway database beside this one (the multi-tenant case)."""
        if self.vendor == "sqlite":
            here = Path(self.name)
            path = here.with_name(f"{here.stem}-{suffix}{here.suffix}")
            return BenchDatabase(vendor="sqlite", url=f"sqlite:///{path}", name=str(path))
        name = f"{self.name}_{suffix}"
        parts = urlsplit(self.url)
        return BenchDatabase(
            vendor="postgresql",
            url=urlunsplit(parts._replace(path=f"/{name}")),
            name=name,
            maintenance_url=self.maintenance_url,
        )

    def recreate(self) -> None:
        """An empty database. Django's connections must be closed first."""
        self.drop()
        if self.vendor == "postgresql":
            self._maintenance(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.vendor == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.name}{suffix}").unlink(missing_ok=True)
        else:
            self._maintenance(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _maintenance(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.maintenance_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()
