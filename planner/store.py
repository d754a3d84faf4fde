"""Run store: every run in one embedded SQLite file, to list, reopen, export and compare later (CLI and app).

A run is its scenario, data fingerprints, catalogue, solver settings, outputs, timings and versions.

Why SQLite (stdlib ``sqlite3``) rather than DuckDB: the store is one file with no server and no extra dependency,
its transactions are atomic and durable across a killed process and a power cut (rollback journal,
``synchronous = FULL``), several processes may use it at once (writers queue on a lock; a reader waits while a
run's contents are written, under a second for a world-scale run), and its on-disk format is stable for decades. The
workload is a few rows per run plus compressed output files, not analytics, so a column store buys nothing.

Location: ``--store PATH`` (CLI), else the ``PLANNER_STORE`` environment variable, else ``runs.sqlite`` in the
user's data directory (``$XDG_DATA_HOME/connect-post-planner`` or ``~/.local/share/connect-post-planner`` on
Linux, ``~/Library/Application Support/connect-post-planner`` on macOS, ``%LOCALAPPDATA%`` on Windows).

Schema (``PRAGMA user_version`` = ``SCHEMA_VERSION``):

* ``runs`` — one row per run: id (never reused), ``created_at`` (UTC, ISO 8601), command, scenario name, status,
  headline KPIs (for listing without decoding JSON), the scenario YAML text and the resolved scenario JSON, data
  file fingerprints (SHA-256), the resolved catalogue JSON, solver settings, the summary JSON, timings (s), and
  the package / Python / solver versions.
* ``run_files`` — one row per output file: name, size (bytes), SHA-256 (the key of its contents in ``blobs``).
* ``blobs`` — file contents, content-addressed: one row per distinct SHA-256 with its size and codec, so a
  re-run that writes the same bytes stores no second copy (and compresses nothing).
* ``blob_chunks`` — the contents in chunks of ``CHUNK_BYTES`` (so a 650,000-office plan never hits SQLite's 1 GB
  value limit and is read back chunk by chunk). Codec ``zstd`` (level 1, pyarrow's) for text, ``raw`` for
  Parquet (already compressed: stored as written), ``zlib`` for contents stored by schema version 1.

A run and all its files are written in one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): a process killed at
any point leaves either the whole record or nothing. Hashing and compression happen before the transaction, so
the write lock is held only for the inserts. A version 1 store is upgraded in place, in one transaction, when
first opened (its chunks become blobs, duplicates stored once). A store with a newer schema version is refused
(never rewritten); an SQLite file with other tables is left untouched. Deleting a run gives back the pages of
the contents no other run shares (incremental auto-vacuum).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import itertools
import json
import os
import platform
import sqlite3
import sys
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.errors import PlannerError

if TYPE_CHECKING:  # pandas (and what imports it) is imported where tables are built, so `planner --help` stays fast
    import pandas as pd

SCHEMA_VERSION = 2
APP_NAME = "connect-post-planner"
STORE_FILE = "runs.sqlite"
ENV_VAR = "PLANNER_STORE"
CHUNK_BYTES = 8 * 1024 * 1024  # uncompressed bytes per stored chunk
PAGE_BYTES = 65_536  # SQLite page size of a new store (SQLite's largest; an existing store keeps its own)
WORKERS = 2  # threads that hash and compress the files of a run being recorded
PREFETCH_CHUNKS = 8  # chunks of each new text file being compressed ahead of the transaction's writing
COMPRESS_LEVEL = 1  # zstd level: CSV compresses ~6x at level 1, at ~500 MB/s here (zlib level 1: ~150 MB/s)
BUSY_TIMEOUT_S = 120.0  # how long a writer waits for another process's transaction
# Columns of the CSV outputs that are text even when every value looks like a number.
_TEXT_COLUMNS = {"office_id", "name", "region", "community", "technology", "country", "scenario"}

_SCHEMA = """
CREATE TABLE runs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at         TEXT NOT NULL,
    command            TEXT NOT NULL,
    scenario           TEXT NOT NULL,
    status             TEXT,
    objective          TEXT,
    objective_value    REAL,
    mip_gap            REAL,
    total_cost_usd     REAL,
    coverage_share     REAL,
    offices_planned    INTEGER,
    offices_connected  INTEGER,
    population_covered REAL,
    scenario_path      TEXT,
    out_dir            TEXT,
    scenario_yaml      TEXT,
    scenario_json      TEXT NOT NULL,
    fingerprints_json  TEXT NOT NULL,
    catalogue_json     TEXT,
    solver_json        TEXT NOT NULL,
    summary_json       TEXT NOT NULL,
    timings_json       TEXT NOT NULL,
    versions_json      TEXT NOT NULL,
    package_version    TEXT NOT NULL,
    extra_json         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_scenario ON runs (scenario, created_at);
CREATE TABLE run_files (
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    size    INTEGER NOT NULL,
    sha256  TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX run_files_sha256 ON run_files (sha256);
"""
_BLOBS = """
CREATE TABLE blobs (
    sha256  TEXT PRIMARY KEY,
    size    INTEGER NOT NULL,
    codec   TEXT NOT NULL
);
CREATE TABLE blob_chunks (
    sha256  TEXT NOT NULL REFERENCES blobs (sha256) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (sha256, seq)
);
"""
_UPGRADE_1_TO_2 = """
INSERT OR IGNORE INTO blobs SELECT sha256, size, 'zlib' FROM run_files;
INSERT OR IGNORE INTO blob_chunks
    SELECT f.sha256, c.seq, c.data FROM run_chunks c JOIN run_files f ON f.run_id = c.run_id AND f.name = c.name;
DROP TABLE run_chunks;
CREATE INDEX run_files_sha256 ON run_files (sha256);
"""
# Columns shown by ``list_runs`` (headline KPIs; the full record is in ``get``).
LIST_COLUMNS = [
    "id", "created_at", "command", "scenario", "status", "objective", "total_cost_usd", "coverage_share",
    "offices_connected", "offices_planned", "mip_gap",
]  # fmt: skip


class StoreError(PlannerError):
    """The run store cannot be used (not a store, newer schema, unknown run id). Exit code 2."""

    exit_code = 2


@dataclass
class RunRecord:
    """One stored run: its metadata row with the JSON columns decoded, and its output files (name → bytes)."""

    id: int
    created_at: str
    command: str
    scenario: str
    status: str | None
    scenario_path: str | None
    out_dir: str | None
    scenario_yaml: str | None
    scenario_json: dict[str, Any]
    fingerprints: dict[str, str]
    catalogue: dict[str, Any] | None
    solver: dict[str, Any]
    summary: dict[str, Any]
    timings: dict[str, float]
    versions: dict[str, str]
    package_version: str
    extra: dict[str, Any]
    files: dict[str, int] = field(default_factory=dict)  # name → size in bytes


# --------------------------------------------------------------------------------------------- location
def default_store_path() -> Path:
    """``$PLANNER_STORE``, else ``runs.sqlite`` in the user's data directory (per platform)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_NAME / STORE_FILE


def resolve_store_path(path: str | Path | None = None) -> Path:
    """The store file to use: ``path`` if given, else ``default_store_path()``."""
    return Path(path).expanduser() if path not in (None, "") else default_store_path()


# --------------------------------------------------------------------------------------------- versions
def package_versions() -> dict[str, str]:
    """Versions of this package, Python and the libraries that decide a plan."""
    out = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for dist in (APP_NAME, "pyomo", "highspy", "pandas", "numpy", "pydantic"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str) if value is not None else "null"


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if x == x and abs(x) != float("inf") else None


def _int(value: Any) -> int | None:
    x = _num(value)
    return int(x) if x is not None else None


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value, default=str)


# --------------------------------------------------------------------------------------------- the store
@contextlib.contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception (a kill leaves the whole record or none)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")
        raise


def _leave_wal(con: sqlite3.Connection) -> None:
    """A store created in WAL mode by an earlier version moves to the rollback journal when no one else has it open.

    Leaving WAL needs the file to itself, and to be writable: while another process holds it, or when it is read
    only (a read-only mount, another user's file), the store stays in WAL (it reads and works the same, its
    commits write their bytes twice) and moves at a later opening.
    """
    if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return
    con.execute("PRAGMA busy_timeout = 0")
    try:
        con.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.OperationalError:
        pass  # in use or read only: stays in WAL
    finally:
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")


class RunStore:
    """An SQLite run store. Each call opens its own connection, so one object is safe across threads."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = resolve_store_path(path)

    # ------------------------------------------------------------------ connections and schema
    def exists(self) -> bool:
        """True when the store file exists (listing a store that was never written shows no runs)."""
        return self.path.is_file()

    @contextlib.contextmanager
    def _connect(self, create: bool = True) -> Iterator[sqlite3.Connection]:
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"run store {self.path}: expected an SQLite file, found a directory")
        if not create and not self.path.is_file():
            raise StoreError(f"run store {self.path} does not exist: no runs have been recorded there")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"run store {self.path}: cannot create its folder ({exc.strerror})") from None
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"run store {self.path}: cannot open ({exc})") from None
        try:
            self._prepare(con)
            yield con
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise StoreError(
                    f"run store {self.path}: not a Connect.Post Planner run store (expected an SQLite file): {exc}"
                ) from None
            if "malformed" in str(exc):
                raise StoreError(
                    f"run store {self.path} is damaged ({exc}); `sqlite3 {self.path} .recover` may rescue its runs"
                ) from None
            raise
        finally:
            con.close()

    def _refuse_foreign(self, con: sqlite3.Connection, in_transaction: bool = False) -> bool:
        """An SQLite file without the run store's schema version but with tables is someone else's: leave it.

        The version and the tables are read in one snapshot (a read transaction unless the caller holds one):
        another process may create the store between two separate reads, and its fresh tables must not be taken
        for a foreign file. Returns True when the file is a run store after all.
        """
        if not in_transaction:
            con.execute("BEGIN")
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            tables = con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            if not in_transaction:
                con.execute("COMMIT")
        if version == SCHEMA_VERSION:
            return True
        if tables:
            raise StoreError(
                f"run store {self.path}: an SQLite file with other tables ({', '.join(t[0] for t in tables)}), "
                "not a run store; choose another path"
            )
        return False

    def _prepare(self, con: sqlite3.Connection) -> None:
        con.execute("PRAGMA foreign_keys = ON")
        # Rollback journal with synchronous=FULL: a commit is atomic and survives a killed process, a power cut and
        # an OS crash. A run's new contents are pages appended to the file, which the journal need not copy: a
        # 650,000-office record (150 MB) commits in 0.06 s with both fsyncs. In WAL mode the same bytes were
        # written twice (to the WAL, then checkpointed into the file): 0.47 s at synchronous=NORMAL. The price: a
        # reader waits while a record writes its contents (the writer holds the file once its cache spills).
        con.execute("PRAGMA synchronous = FULL")
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            _leave_wal(con)
            return
        if version == 1:
            self._upgrade(con)
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"run store {self.path} has schema version {version}; this planner reads version {SCHEMA_VERSION}: "
                "upgrade connect-post-planner, or use another store (--store / PLANNER_STORE)"
            )
        if self._refuse_foreign(con):
            return  # another process has just created it
        # Incremental auto-vacuum (settable only before the first table) lets ``delete`` give space back. A killed
        # writer leaves a hot journal, which the next connection rolls back before it reads. Pages of 64 KiB (also
        # settable only then): the contents are chunks of 8 MiB, each a chain of overflow pages, and a
        # 650,000-office run's 150 MB commit in half the time of 4 KiB pages (measured on this machine's disk).
        con.execute(f"PRAGMA page_size = {PAGE_BYTES}")
        con.execute("PRAGMA auto_vacuum = INCREMENTAL")
        with _transaction(con):
            version = con.execute("PRAGMA user_version").fetchone()[0]  # another process may have created it
            if version == 0:
                self._refuse_foreign(con, in_transaction=True)
                for statement in (_SCHEMA + _BLOBS).split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _upgrade(self, con: sqlite3.Connection) -> None:
        """Schema version 1 → 2 in one transaction: chunks per run become content-addressed blobs."""
        with _transaction(con):
            if con.execute("PRAGMA user_version").fetchone()[0] == 1:  # another process may have upgraded it
                for statement in (_BLOBS + _UPGRADE_1_TO_2).split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def open(self) -> None:
        """Create the store if it does not exist and check that it is a run store this version can read."""
        with self._connect():
            pass

    # ------------------------------------------------------------------ writing
    def record(
        self,
        *,
        command: str,
        scenario_json: Mapping[str, Any],
        summary: Mapping[str, Any],
        files: Mapping[str, bytes | Path] | Iterable[Path] = (),
        scenario_yaml: str | None = None,
        scenario_path: str | Path | None = None,
        out_dir: str | Path | None = None,
        fingerprints: Mapping[str, str] | None = None,
        catalogue: Mapping[str, Any] | None = None,
        timings: Mapping[str, float] | None = None,
        extra: Mapping[str, Any] | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> int:
        """Record one run and its output files in one transaction; return its id.

        ``files`` maps a file name to its bytes or its path, or is a list of paths (stored by file name).
        ``before_commit`` is called inside the transaction after every row is written (tests use it to kill
        the process at the worst moment).
        """
        t0 = time.perf_counter()
        items: list[tuple[str, bytes | Path]] = (
            list(files.items()) if isinstance(files, Mapping) else [(Path(p).name, Path(p)) for p in files]
        )
        # Files are read chunk by chunk (a 650,000-office run writes hundreds of MB): hashed first, then only the
        # contents the store lacks are compressed (text) or copied as written (Parquet). Both run on two threads
        # (hashlib and zstd release the GIL): files hashed side by side, then the chunks of each new text file
        # compressed side by side while the transaction copies the Parquet files, so the write lock is held for
        # the copying (and what compression is left), not for the hashing.
        versions = package_versions()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            digests = [(name, *d) for (name, _), d in zip(items, pool.map(_digest, [c for _, c in items]), strict=True)]
            hash_s = time.perf_counter() - t0
            stored = self._stored({d for _, _, d in digests})
            packed: dict[str, tuple[int, str, Callable[[], Iterator[Any]]]] = {}  # sha256 -> size, codec, chunks
            for (name, content), (_, size, digest) in zip(items, digests, strict=True):
                if digest not in stored and digest not in packed:
                    packed[digest] = (size, *_pack(name, content, digest, pool))
            with self._connect() as con, _transaction(con):
                # contents first, as written before compressed (compression goes on meanwhile), then the run's rows
                for digest, (size, codec, chunks) in sorted(packed.items(), key=lambda kv: kv[1][1] != "raw"):
                    new = con.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?)", (digest, size, codec)).rowcount
                    if new:  # not stored by another process since _stored looked
                        con.executemany(
                            "INSERT INTO blob_chunks VALUES (?, ?, ?)",
                            ((digest, seq, chunk) for seq, chunk in enumerate(chunks())),
                        )
                pack_s = time.perf_counter() - t0 - hash_s
                all_timings = {
                    **(timings or {}),
                    "store_hash_s": round(hash_s, 4),
                    "store_contents_s": round(pack_s, 4),
                }
                row = _run_row(
                    command=command,
                    scenario_json=scenario_json,
                    summary=summary,
                    scenario_yaml=scenario_yaml,
                    scenario_path=scenario_path,
                    out_dir=out_dir,
                    fingerprints=fingerprints,
                    catalogue=catalogue,
                    timings=all_timings,
                    versions=versions,
                    extra=extra,
                )
                cur = con.execute(
                    f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
                )
                assert cur.lastrowid is not None  # set by the INSERT above
                run_id = int(cur.lastrowid)
                con.executemany("INSERT INTO run_files VALUES (?, ?, ?, ?)", ((run_id, *d) for d in digests))
                if before_commit is not None:
                    before_commit()
        return run_id

    def _stored(self, digests: set[str]) -> set[str]:
        """Which of these contents (SHA-256) the store already holds."""
        if not digests:
            return set()
        with self._connect() as con:
            marks = ", ".join("?" * len(digests))
            rows = con.execute(f"SELECT sha256 FROM blobs WHERE sha256 IN ({marks})", sorted(digests)).fetchall()
        return {r[0] for r in rows}

    def record_plan(
        self,
        plan: Any,
        *,
        command: str,
        files: Mapping[str, bytes | Path] | Iterable[Path],
        scenario_path: str | Path | None = None,
        scenario_yaml: str | None = None,
        out_dir: str | Path | None = None,
        timings: Mapping[str, float] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """Record a solved ``planner.results.Plan`` with its inputs and output files.

        Stores its scenario (the YAML text given, else read from ``scenario_path``; and the resolved JSON), data
        fingerprints, resolved catalogue, summary and output files.
        """
        scenario = plan.scenario
        if scenario_yaml is None and scenario_path is not None:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                scenario_yaml = Path(scenario_path).read_text(encoding="utf-8")
        all_timings = dict(plan.summary.get("timings_seconds") or {})
        all_timings.update(
            build_s=plan.summary.get("build_seconds"), solve_s=plan.summary.get("solve_seconds"), **(timings or {})
        )
        return self.record(
            command=command,
            scenario_json=scenario.model_dump(mode="json"),
            summary=plan.summary,
            files=files,
            scenario_yaml=scenario_yaml,
            scenario_path=scenario_path,
            out_dir=out_dir,
            fingerprints=data_fingerprints(scenario),
            catalogue=resolved_catalogue(scenario),
            timings=all_timings,
            extra=extra,
        )

    # ------------------------------------------------------------------ reading
    def list_runs(
        self, scenario: str | None = None, command: str | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Headline row per run (``LIST_COLUMNS``), newest first; empty when the store does not exist."""
        import pandas as pd

        if not self.exists():
            return pd.DataFrame(columns=LIST_COLUMNS)
        where, args = [], []
        if scenario:
            where.append("scenario = ?")
            args.append(scenario)
        if command:
            where.append("command = ?")
            args.append(command)
        sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM runs"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._connect(create=False) as con:
            rows = con.execute(sql, args).fetchall()
        return pd.DataFrame(rows, columns=LIST_COLUMNS)

    def ids(self) -> list[int]:
        """Every run id, oldest first."""
        if not self.exists():
            return []
        with self._connect(create=False) as con:
            return [r[0] for r in con.execute("SELECT id FROM runs ORDER BY id")]

    def _unknown(self, run_id: int) -> StoreError:
        return StoreError(f"no run {run_id} in the run store {self.path}; `planner runs list` shows the recorded ids")

    def get(self, run_id: int) -> RunRecord:
        """The full record of one run (without file contents). Unknown id → StoreError."""
        if not self.exists():
            raise self._unknown(run_id)
        with self._connect(create=False) as con:
            con.row_factory = sqlite3.Row
            row = con.execute("SELECT * FROM runs WHERE id = ?", (int(run_id),)).fetchone()
            if row is None:
                raise self._unknown(run_id)
            files = {
                r["name"]: r["size"]
                for r in con.execute("SELECT name, size FROM run_files WHERE run_id = ? ORDER BY name", (run_id,))
            }
        return RunRecord(
            id=row["id"],
            created_at=row["created_at"],
            command=row["command"],
            scenario=row["scenario"],
            status=row["status"],
            scenario_path=row["scenario_path"],
            out_dir=row["out_dir"],
            scenario_yaml=row["scenario_yaml"],
            scenario_json=json.loads(row["scenario_json"]),
            fingerprints=json.loads(row["fingerprints_json"]),
            catalogue=json.loads(row["catalogue_json"]) if row["catalogue_json"] else None,
            solver=json.loads(row["solver_json"]),
            summary=json.loads(row["summary_json"]),
            timings=json.loads(row["timings_json"]),
            versions=json.loads(row["versions_json"]),
            package_version=row["package_version"],
            extra=json.loads(row["extra_json"]),
            files=files,
        )

    def read_file(self, run_id: int, name: str) -> bytes:
        """The bytes of one stored output file, checked against its SHA-256."""
        if not self.exists():
            raise self._unknown(run_id)
        with self._connect(create=False) as con:
            meta = con.execute("SELECT size, sha256 FROM run_files WHERE run_id = ? AND name = ?", (run_id, name))
            meta = meta.fetchone()
            if meta is None:
                if con.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                    raise self._unknown(run_id)
                names = [r[0] for r in con.execute("SELECT name FROM run_files WHERE run_id = ?", (run_id,))]
                raise StoreError(f"run {run_id} has no file '{name}'; it has {', '.join(sorted(names)) or 'none'}")
            codec = con.execute("SELECT codec FROM blobs WHERE sha256 = ?", (meta[1],)).fetchone()
            buf = io.BytesIO()
            try:
                if codec is None:
                    raise ValueError("its contents are missing")
                rows = con.execute("SELECT seq, data FROM blob_chunks WHERE sha256 = ? ORDER BY seq", (meta[1],))
                for seq, chunk in rows:
                    buf.write(_unpack(codec[0], chunk, min(CHUNK_BYTES, meta[0] - seq * CHUNK_BYTES)))
            except (zlib.error, ValueError, OSError) as exc:
                raise StoreError(f"run {run_id}, file '{name}': cannot decompress ({exc}; damaged store)") from None
        data = buf.getvalue()
        if len(data) != meta[0] or hashlib.sha256(data).hexdigest() != meta[1]:
            raise StoreError(f"run {run_id}, file '{name}': stored contents do not match their SHA-256 (damaged store)")
        return data

    def read_table(self, run_id: int, name: str) -> pd.DataFrame:
        """A stored CSV output as a DataFrame: numbers and booleans as such, text as written.

        Empty cells of a text column stay '' as in the plan tables; empty cells of a number column are missing.
        """
        data = self.read_file(run_id, name)
        if name.endswith(".parquet"):
            import pandas as pd

            return pd.read_parquet(io.BytesIO(data))
        return _parse_csv(data)

    def export(self, run_id: int, out_dir: Path) -> list[Path]:
        """Write the run's output files to ``out_dir`` byte for byte as the run wrote them."""
        record = self.get(run_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name in record.files:
            path = out_dir / name
            tmp = path.with_name(f".{name}.partial")
            tmp.write_bytes(self.read_file(run_id, name))
            tmp.replace(path)
            written.append(path)
        return written

    def load_plan(self, run_id: int, options: bool = True) -> Any:
        """Reopen a stored run as a ``planner.results.Plan`` (tables from its stored CSV files).

        With ``options=False`` the (office × technology) options table, by far the largest, is left empty.
        """
        import pandas as pd

        from planner.results import Plan
        from planner.scenario import Scenario

        record = self.get(run_id)

        def stored(stem: str) -> str | None:  # the Parquet copy when the run wrote one (typed, faster), else CSV
            return next((n for n in (f"{stem}.parquet", f"{stem}.csv") if n in record.files), None)

        missing = [f"{n}.csv" for n in ("plan", "by_technology", "by_region") if stored(n) is None]
        if missing:
            raise StoreError(f"run {run_id} ({record.command}) has no plan tables ({', '.join(missing)} missing)")
        scenario = Scenario.model_validate(record.scenario_json)
        empty = pd.DataFrame()
        names = {stem: stored(stem) for stem in ("plan", "by_technology", "by_region", "options", "roadmap")}
        plan = self.read_table(run_id, str(names["plan"]))
        if "why" in plan.columns:  # a Categorical, as the solve made it (each sentence held once)
            plan["why"] = pd.Categorical(plan["why"], categories=pd.unique(plan["why"]))
        return Plan(
            scenario=scenario,
            plan=plan,
            options=self.read_table(run_id, names["options"]) if options and names["options"] else empty,
            by_technology=self.read_table(run_id, str(names["by_technology"])),
            by_region=self.read_table(run_id, str(names["by_region"])),
            summary=record.summary,
            roadmap=self.read_table(run_id, names["roadmap"]) if names["roadmap"] else None,
        )

    def labels(self) -> dict[int, str]:
        """The label of each run that has one (``extra["label"]``: the app's name for the plan), by run id."""
        if not self.exists():
            return {}
        with self._connect(create=False) as con:
            rows = con.execute("SELECT id, extra_json FROM runs ORDER BY id").fetchall()
        out = {}
        for run_id, text in rows:
            label = json.loads(text or "{}").get("label")
            if isinstance(label, str) and label:
                out[int(run_id)] = label
        return out

    def set_label(self, run_id: int, label: str) -> None:
        """Name a run (``extra["label"]``; the rest of the record is unchanged). Unknown id → StoreError."""
        if not self.exists():
            raise self._unknown(run_id)
        with self._connect(create=False) as con, _transaction(con):
            row = con.execute("SELECT extra_json FROM runs WHERE id = ?", (int(run_id),)).fetchone()
            if row is None:
                raise self._unknown(run_id)
            extra = {**json.loads(row[0] or "{}"), "label": str(label)}
            con.execute("UPDATE runs SET extra_json = ? WHERE id = ?", (_json(extra), int(run_id)))

    def delete(self, run_id: int) -> None:
        """Delete a run and its files (one transaction). Unknown id → StoreError."""
        if not self.exists():
            raise self._unknown(run_id)
        with self._connect(create=False) as con:
            with _transaction(con):
                gone = con.execute("DELETE FROM runs WHERE id = ?", (int(run_id),)).rowcount
                con.execute("DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM run_files)")
            con.executescript("PRAGMA incremental_vacuum;")  # runs to completion (execute() frees one page)
        if not gone:
            raise self._unknown(run_id)

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` plus a foreign-key check: 'ok' when the store is sound."""
        with self._connect(create=False) as con:
            result = "; ".join(r[0] for r in con.execute("PRAGMA integrity_check"))
            orphans = con.execute("PRAGMA foreign_key_check").fetchall()
        return result if not orphans else f"{result}; {len(orphans)} rows without their run"


def _run_row(
    *,
    command: str,
    scenario_json: Mapping[str, Any],
    summary: Mapping[str, Any],
    scenario_yaml: str | None,
    scenario_path: str | Path | None,
    out_dir: str | Path | None,
    fingerprints: Mapping[str, str] | None,
    catalogue: Mapping[str, Any] | None,
    timings: Mapping[str, float],
    versions: Mapping[str, str],
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ``runs`` row of a run: its headline KPIs as columns, the rest as JSON."""
    solver = scenario_json.get("solver") or {}
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "command": command,
        "scenario": str(summary.get("scenario") or scenario_json.get("name") or "?"),
        "status": _text(summary.get("status")),
        "objective": _text(summary.get("objective") or scenario_json.get("objective")),
        "objective_value": _num(summary.get("objective_value")),
        "mip_gap": _num(summary.get("mip_gap")),
        "total_cost_usd": _num(summary.get("total_cost_usd")),
        "coverage_share": _num(summary.get("coverage_share_population", summary.get("coverage_share"))),
        "offices_planned": _int(summary.get("offices_planned")),
        "offices_connected": _int(summary.get("offices_connected")),
        "population_covered": _num(summary.get("population_covered")),
        "scenario_path": str(Path(scenario_path).resolve()) if scenario_path else None,
        "out_dir": str(Path(out_dir).resolve()) if out_dir else None,
        "scenario_yaml": scenario_yaml,
        "scenario_json": _json(dict(scenario_json)),
        "fingerprints_json": _json(dict(fingerprints or {})),
        "catalogue_json": _json(dict(catalogue)) if catalogue is not None else None,
        "solver_json": _json(dict(solver)),
        "summary_json": json.dumps(dict(summary), sort_keys=False, default=str),
        "timings_json": _json(dict(timings)),
        "versions_json": _json(dict(versions)),
        "package_version": versions[APP_NAME],
        "extra_json": _json(dict(extra or {})),
    }


def _chunks_of(content: bytes | Path) -> Iterator[Any]:
    """A file's bytes in pieces of ``CHUNK_BYTES`` (read from disk one piece at a time)."""
    if isinstance(content, Path):
        with content.open("rb") as f:
            while piece := f.read(CHUNK_BYTES):
                yield piece
        return
    view = memoryview(bytes(content) if not isinstance(content, bytes) else content)
    for i in range(0, len(view), CHUNK_BYTES):
        yield view[i : i + CHUNK_BYTES]


def _digest(content: bytes | Path) -> tuple[int, str]:
    """(size in bytes, SHA-256) of a file's contents, read chunk by chunk."""
    h, size = hashlib.sha256(), 0
    for piece in _chunks_of(content):
        h.update(piece)
        size += len(piece)
    return size, h.hexdigest()


def _is_parquet(name: str, content: bytes | Path) -> bool:
    if not name.endswith(".parquet"):
        return False
    head = next(_chunks_of(content), b"")
    return bytes(head[:4]) == b"PAR1"


def _pack(
    name: str, content: bytes | Path, digest: str, pool: ThreadPoolExecutor
) -> tuple[str, Callable[[], Iterator[Any]]]:
    """(codec, its stored chunks): Parquet as written (``raw``: already compressed), the rest zstd level 1.

    zstd chunks are compressed from now on, on ``pool`` (taken as they are inserted, each once it is ready); raw
    chunks are read when inserted, and a file that changed since it was hashed fails the record (StoreError)
    rather than store other bytes under its hash.
    """
    if _is_parquet(name, content):

        def raw() -> Iterator[Any]:
            h = hashlib.sha256()
            for piece in _chunks_of(content):
                h.update(piece)
                yield piece
            if h.hexdigest() != digest:
                raise StoreError(f"{name} changed while the run was being recorded; record it again")

        return "raw", raw
    import pyarrow as pa

    codec = pa.Codec("zstd", compression_level=COMPRESS_LEVEL)

    def squeeze(piece: Any) -> bytes:
        return codec.compress(piece, asbytes=True)

    pieces = _chunks_of(content)
    # A few pieces compress from now on (while the transaction copies the Parquet files); each one taken starts
    # the next, so a text file is never whole in memory (options.csv is 430 MB at 650,000 offices).
    window = deque(pool.submit(squeeze, piece) for piece in itertools.islice(pieces, PREFETCH_CHUNKS))

    def compressed() -> Iterator[Any]:
        while window:
            done = window.popleft()
            piece = next(pieces, None)
            if piece is not None:
                window.append(pool.submit(squeeze, piece))
            yield done.result()

    return "zstd", compressed


def _unpack(codec: str, chunk: bytes, size: int) -> bytes:
    """One stored chunk's bytes (``size``: its uncompressed length)."""
    if codec == "raw":
        return chunk
    if codec == "zlib":
        return zlib.decompress(chunk)
    if codec == "zstd":
        import pyarrow as pa

        try:
            return pa.Codec("zstd").decompress(chunk, decompressed_size=size, asbytes=True)
        except pa.ArrowException as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"unknown codec {codec!r}")


def _parse_csv(data: bytes) -> pd.DataFrame:
    """Read a stored CSV output with the column types of the plan tables.

    Identifier columns as text, numbers and booleans as pandas infers them, empty cells of text columns as '' (as in the
    plan tables), ``year`` as a nullable integer.
    """
    import pandas as pd

    head = pd.read_csv(io.BytesIO(data), nrows=0).columns
    text = {c: str for c in _TEXT_COLUMNS if c in head}
    table = pd.read_csv(io.BytesIO(data), dtype=text, keep_default_na=False, na_values=[""])
    for col in table.columns:
        values = table[col]
        if col == "year":
            table[col] = values.astype("Int64")
        elif col in text or not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            table[col] = values.fillna("")
        elif values.isna().all():  # every cell empty: a text column with nothing in it
            table[col] = pd.Series("", index=table.index, dtype=object)
    return table


def data_fingerprints(scenario: Any) -> dict[str, str]:
    """SHA-256 of each data file the scenario names (a file no longer readable is recorded as 'missing')."""
    from planner.data import data_fingerprints as fingerprints_of

    return fingerprints_of(scenario, missing="missing")


def data_drift(record: RunRecord) -> dict[str, tuple[str, str]]:
    """Per data file of a run: its recorded SHA-256 and 'unchanged', 'changed since the run' or 'missing: PATH'."""
    from planner.data import fingerprint

    out = {}
    files = dict(record.scenario_json.get("data") or {})  # offices.ISO3 keys: one offices file per country
    files.update(
        {f"offices.{k}": v for k, v in ((record.scenario_json.get("countries") or {}).get("files") or {}).items()}
    )
    for key, digest in record.fingerprints.items():
        path = files.get(key)
        try:
            state = "unchanged" if path and fingerprint(Path(path)) == digest else "changed since the run"
        except OSError:
            state = f"missing: {path}"
        out[key] = (digest, state)
    return out


def resolved_catalogue(scenario: Any) -> dict[str, Any] | None:
    """The technology catalogue the scenario resolves to (default + overrides), as JSON-ready data."""
    from planner.scenario import catalogue_for

    try:
        return catalogue_for(scenario).model_dump(mode="json")
    except PlannerError:
        return None


def compare_summaries(store: RunStore, run_ids: list[int]) -> pd.DataFrame:
    """KPI table (``planner.results.compare.kpi_table``) of stored runs; columns are named '#id scenario'."""
    from planner.results.compare import kpi_table

    summaries = []
    for run_id in run_ids:
        record = store.get(run_id)
        summaries.append({**record.summary, "scenario": f"#{record.id} {record.scenario}"})
    return kpi_table(summaries)
