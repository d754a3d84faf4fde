"""The run store (``planner.store``) and ``planner runs``: what is written is what is read back, the CLI lists,
shows, exports, compares and deletes runs, and the store survives a killed writer and concurrent writers.

The default scenario is solved once (module fixture); the atomicity and concurrency tests write synthetic
records from real subprocesses so they can be killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from planner.data import fingerprint
from planner.pipeline import run
from planner.results import PLAN_COLUMNS, Plan, write_outputs
from planner.scenario import catalogue_for
from planner.store import PAGE_BYTES, SCHEMA_VERSION, RunStore, StoreError, data_drift, default_store_path
from planner.ui.cli import app

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
BUDGET = SCENARIOS / "uttarakhand-budget.yaml"
TARGET = SCENARIOS / "uttarakhand-95pct.yaml"
runner = CliRunner()


def cli(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Path, list[Path]]:
    out = tmp_path_factory.mktemp("budget")
    plan = run(BUDGET)
    return plan, out, write_outputs(plan, out)


# --------------------------------------------------------------------------------------------- round trip
def test_round_trip_record_equals_what_was_written(solved, tmp_path):
    plan, out, files = solved
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.record_plan(plan, command="solve", files=files, scenario_path=BUDGET, out_dir=out)
    r = store.get(run_id)

    assert r.id == run_id and r.command == "solve" and r.scenario == "uttarakhand-budget"
    assert r.status == plan.summary["status"]
    created = datetime.fromisoformat(r.created_at.replace("Z", "+00:00"))
    assert created.utcoffset().total_seconds() == 0 and abs(time.time() - created.timestamp()) < 600
    assert r.scenario_yaml == BUDGET.read_text(encoding="utf-8")
    assert r.scenario_json == json.loads(plan.scenario.model_dump_json())
    assert r.scenario_path == str(BUDGET.resolve()) and r.out_dir == str(out.resolve())
    data = plan.scenario.data
    assert r.fingerprints == {k: fingerprint(Path(v)) for k, v in data.model_dump().items() if v is not None} and set(
        r.fingerprints
    ) >= {"offices", "fibre_nodes", "towers"}
    assert r.catalogue == catalogue_for(plan.scenario).model_dump(mode="json")
    assert r.solver == plan.scenario.solver.model_dump(mode="json")
    assert r.summary == json.loads(json.dumps(plan.summary))
    assert r.package_version == importlib.metadata.version("connect-post-planner")
    assert {"highspy", "pyomo", "pandas", "python"} <= set(r.versions)
    assert {"costing", "solve_s", "store_hash_s", "store_contents_s"} <= set(r.timings)

    # every file byte for byte, and the tables equal to the Plan in memory
    assert r.files == {f.name: f.stat().st_size for f in files}
    for f in files:
        assert store.read_file(run_id, f.name) == f.read_bytes()
    back = store.load_plan(run_id)
    assert list(back.plan.columns) == PLAN_COLUMNS
    pd.testing.assert_frame_equal(back.plan, plan.plan, check_dtype=False)
    pd.testing.assert_frame_equal(back.by_technology, plan.by_technology, check_dtype=False)
    pd.testing.assert_frame_equal(back.by_region, plan.by_region, check_dtype=False)
    assert len(back.options) == len(plan.options)
    assert back.summary == r.summary and back.scenario.name == plan.scenario.name

    assert store.list_runs()["id"].tolist() == [run_id]
    assert store.integrity_check() == "ok"
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # rollback journal: one file at rest
        assert con.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert sorted(p.name for p in store.path.parent.glob("runs.sqlite*")) == ["runs.sqlite"]


def test_store_files_generically_and_reports_damage(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    blob = os.urandom(3 * 1024 * 1024) + b"x" * (20 * 1024 * 1024)  # several chunks, part incompressible
    run_id = store.record(
        command="test",
        scenario_json={"name": "s"},
        summary={"scenario": "s", "status": "optimal"},
        files={"fibre_routes.geojson": blob, "empty.csv": b""},
    )
    assert store.read_file(run_id, "fibre_routes.geojson") == blob
    assert store.read_file(run_id, "empty.csv") == b""
    with pytest.raises(StoreError, match=r"has no file 'plan\.csv'"):
        store.read_file(run_id, "plan.csv")
    with pytest.raises(StoreError, match="no plan tables"):
        store.load_plan(run_id)
    with sqlite3.connect(store.path) as con:  # a new store: 64 KiB pages (chunks are long overflow chains)
        assert con.execute("PRAGMA page_size").fetchone()[0] == PAGE_BYTES == 65_536
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert con.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    other = os.urandom(20 * 1024 * 1024)
    big = store.record(command="test", scenario_json={"name": "t"}, summary={"scenario": "t"}, files={"x": other})
    size = store.path.stat().st_size
    store.delete(big)  # deleting a run gives its space back (incremental auto-vacuum)
    assert store.path.stat().st_size < 0.7 * size  # both blobs before, one after
    with sqlite3.connect(store.path) as con:  # damage one chunk: reading it must fail loudly, not return bad bytes
        con.execute(
            "UPDATE blob_chunks SET data = ? WHERE seq = 1 AND sha256 = "
            "(SELECT sha256 FROM run_files WHERE name = 'fibre_routes.geojson')",
            (b"x",),
        )
    with pytest.raises(StoreError, match="damaged store"):
        store.read_file(run_id, "fibre_routes.geojson")


def test_unknown_ids_and_bad_store_files(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    with pytest.raises(StoreError, match="no run 7 in the run store"):
        store.get(7)
    assert store.list_runs().empty and not store.path.exists()  # listing does not create a store
    not_a_store = tmp_path / "notes.sqlite"
    not_a_store.write_text("hello, this is not SQLite" * 100)
    with pytest.raises(StoreError, match=r"not a Connect\.Post Planner run store"):
        RunStore(not_a_store).open()
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE birds (name TEXT)")
    with pytest.raises(StoreError, match="other tables \\(birds\\)"):
        RunStore(other).open()
    with sqlite3.connect(other) as con:  # left as it was
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    newer = tmp_path / "newer.sqlite"
    RunStore(newer).open()
    with sqlite3.connect(newer) as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(
        StoreError, match=f"schema version {SCHEMA_VERSION + 1}; this planner reads version {SCHEMA_VERSION}"
    ):
        RunStore(newer).list_runs()
    with pytest.raises(StoreError, match="found a directory"):
        RunStore(tmp_path).open()


def test_default_location(monkeypatch, tmp_path):
    monkeypatch.setenv("PLANNER_STORE", str(tmp_path / "mine.sqlite"))
    assert default_store_path() == tmp_path / "mine.sqlite"
    assert RunStore().path == tmp_path / "mine.sqlite"
    assert RunStore(tmp_path / "given.sqlite").path == tmp_path / "given.sqlite"
    monkeypatch.delenv("PLANNER_STORE")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
        assert default_store_path() == tmp_path / "data" / "connect-post-planner" / "runs.sqlite"
        monkeypatch.delenv("XDG_DATA_HOME")
        assert default_store_path() == Path.home() / ".local/share/connect-post-planner/runs.sqlite"


def test_tests_never_use_the_users_store(run_store_path):
    assert os.environ["PLANNER_STORE"] == str(run_store_path)
    assert default_store_path() == run_store_path


# --------------------------------------------------------------------------------------------- CLI
def small_scenarios(tmp_path: Path, n: int = 200) -> tuple[Path, Path]:
    """The two default scenarios on the first ``n`` offices (fast solves), as YAML files in ``tmp_path``."""
    import yaml

    data = REPO / "data" / "uttarakhand"
    offices = tmp_path / "offices.csv"
    pd.read_csv(data / "offices.csv", dtype=str, keep_default_na=False).head(n).to_csv(offices, index=False)
    paths = []
    for source in (BUDGET, TARGET):
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
        raw["data"] = {k: str((source.parent / v).resolve()) for k, v in raw["data"].items()}
        raw["data"]["offices"] = str(offices)
        if raw.get("budget_usd"):
            raw["budget_usd"] = raw["budget_usd"] / 20
        path = tmp_path / source.name
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def test_cli_solve_records_and_runs_commands(tmp_path):
    budget, target = small_scenarios(tmp_path)
    db = tmp_path / "runs.sqlite"
    code, output = cli("solve", budget, "--out", tmp_path / "a", "-q", "--store", db)
    assert code == 0, output
    assert "recorded as run 1" in output
    code, output = cli("solve", target, "--out", tmp_path / "b", "-q", "--store", db)
    assert code == 0 and "recorded as run 2" in output
    code, output = cli("solve", budget, "--out", tmp_path / "c", "-q", "--store", db, "--no-store")
    assert code == 0 and "recorded" not in output
    assert RunStore(db).ids() == [1, 2]

    code, output = cli("runs", "list", "--store", db)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split()[:3] == ["id", "time", "(UTC)"] and "coverage" in lines[0] and "cost USD" in lines[0]
    assert lines[1].split()[0] == "2" and "uttarakhand-95pct" in lines[1] and "optimal" in lines[1]
    assert lines[2].split()[0] == "1" and "uttarakhand-budget" in lines[2]
    budget_cost = RunStore(db).get(1).summary["total_cost_usd"]
    assert f"{budget_cost:,.0f}" in lines[2]
    code, output = cli("runs", "list", "--store", db, "--limit", "1")
    assert code == 0 and "uttarakhand-95pct" in output and "uttarakhand-budget" not in output
    assert "the newest 1 of 2" in output
    code, output = cli("runs", "list", "--store", db, "--scenario", "uttarakhand-budget", "--json")
    assert code == 0 and [r["id"] for r in json.loads(output)] == [1]

    code, output = cli("runs", "show", 1, "--store", db)
    assert code == 0, output
    for words in (
        "run 1: solve",
        "uttarakhand-budget",
        "offices connected",
        "plan.csv",
        "versions:",
        "cost USD (budget basis)",
    ):
        assert words in output
    assert "offices: " in output and "(unchanged)" in output
    offices = Path(RunStore(db).get(1).scenario_json["data"]["offices"])
    offices.write_text(offices.read_text(encoding="utf-8").replace("\n", "\r\n"), encoding="utf-8")
    code, output = cli("runs", "show", 1, "--store", db)
    assert code == 0 and "(changed since the run)" in output  # the data no longer is what the run used
    code, output = cli("runs", "show", 1, "--store", db, "--yaml")
    assert code == 0 and output.strip() == budget.read_text(encoding="utf-8").strip()

    code, output = cli("runs", "export", 1, "--out", tmp_path / "again", "--store", db)
    assert code == 0, output
    written = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == written
    for name in written:
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name

    code, output = cli("runs", "compare", 1, 2, "--store", db)
    assert code == 0, output
    header = output.splitlines()[0]
    assert "#1 uttarakhand-budget" in header and "#2 uttarakhand-95pct" in header and "−" in header
    assert "population share" in output and "cost per community USD" in output

    for args in (("show", 9), ("export", 9, "--out", tmp_path / "x"), ("compare", 1, 9), ("delete", 2, 9)):
        code, output = cli("runs", *args, "--store", db)
        assert code == 2, (args, output)
        assert "no run 9 in the run store" in output and "Traceback" not in output
    assert RunStore(db).ids() == [1, 2]  # a bad id deletes nothing
    code, output = cli("runs", "compare", 1, "--store", db)
    assert code == 2 and "two or more run ids" in output

    code, output = cli("runs", "delete", 2, "--store", db)
    assert code == 0 and RunStore(db).ids() == [1]
    code, output = cli("solve", target, "--out", tmp_path / "d", "-q", "--store", db)
    assert "recorded as run 3" in output  # ids are never reused
    assert RunStore(db).integrity_check() == "ok"


def test_cli_empty_and_bad_stores(tmp_path):
    budget, _target = small_scenarios(tmp_path)
    code, output = cli("runs", "list", "--store", tmp_path / "none.sqlite")
    assert code == 0 and "no runs recorded in" in output
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database " * 200)
    code, output = cli("solve", budget, "--out", tmp_path / "o", "-q", "--store", bad)
    assert code == 2 and "not a Connect.Post Planner run store" in output and not (tmp_path / "o").exists()
    assert "--no-store" in output
    code, output = cli("solve", budget, "--out", tmp_path / "o", "-q", "--store", bad, "--no-store")
    assert code == 0 and "recorded" not in output
    code, output = cli("runs", "list", "--store", bad)
    assert code == 2 and "error: run store" in output and "Traceback" not in output


def test_cli_records_infeasible_runs(tmp_path):
    import yaml

    data = REPO / "data" / "uttarakhand"
    small_scenarios(tmp_path)  # writes the 200-office file
    raw = {
        "name": "unaffordable",
        "data": {k: str(data / f"{k}.csv") for k in ("fibre_nodes", "towers")}
        | {"offices": str(tmp_path / "offices.csv")},
        "objective": "min_cost",
        "coverage_target": 1.0,
        "budget_usd": 1000,
    }
    path = tmp_path / "unaffordable.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    db = tmp_path / "runs.sqlite"
    code, output = cli("solve", path, "--out", tmp_path / "o", "-q", "--store", db)
    assert code == 3, output
    assert "recorded as run 1" in output
    r = RunStore(db).get(1)
    assert r.status == "infeasible" and r.files == {} and "infeasible" in r.summary["message"]
    assert r.summary["constraint"] and r.fingerprints and r.scenario_yaml == path.read_text(encoding="utf-8")
    code, output = cli("runs", "list", "--store", db)
    assert code == 0 and "unaffordable" in output and "infeasible" in output
    code, output = cli("runs", "export", 1, "--out", tmp_path / "e", "--store", db)
    assert code == 2 and "no output files" in output


def test_cli_records_sweep_and_montecarlo_runs(tmp_path):
    budget, _target = small_scenarios(tmp_path)
    db = tmp_path / "runs.sqlite"
    args = ("--scheduler", "serial", "-q", "--store", db)
    code, output = cli("sweep", budget, "--budgets", "50000:150000:3", "--out", tmp_path / "sweep", *args)
    assert code == 0 and "recorded as run 1" in output, output
    code, output = cli("montecarlo", budget, "--samples", "3", "--out", tmp_path / "mc", *args)
    assert code == 0 and "recorded as run 2" in output, output
    store = RunStore(db)
    for run_id, command, folder in ((1, "sweep", "sweep"), (2, "montecarlo", "mc")):
        r = store.get(run_id)
        assert r.command == command and r.scenario == "uttarakhand-budget" and r.fingerprints and r.catalogue
        written = sorted(p.name for p in (tmp_path / folder).iterdir())
        assert sorted(r.files) == written
        store.export(run_id, tmp_path / f"{folder}-again")
        for name in written:
            assert (tmp_path / f"{folder}-again" / name).read_bytes() == (tmp_path / folder / name).read_bytes()
    assert store.get(1).summary["points"] == 3 and store.get(1).status == "optimal"
    assert store.get(2).status == "3/3 feasible"
    code, output = cli("runs", "list", "--store", db, "--command", "sweep")
    assert code == 0 and "sweep" in output and "montecarlo" not in output


def test_cli_compare_records_each_run(tmp_path):
    budget, target = small_scenarios(tmp_path)
    db = tmp_path / "runs.sqlite"
    code, output = cli("compare", budget, target, "-q", "--store", db)
    assert code == 0 and "recorded as run 2" in output, output
    store = RunStore(db)
    assert [store.get(i).command for i in (1, 2)] == ["compare", "compare"]
    assert [store.get(i).scenario for i in (1, 2)] == ["uttarakhand-budget", "uttarakhand-95pct"]
    assert {"plan.csv", "summary.json", "options.csv"} <= set(store.get(1).files)
    assert store.get(1).out_dir is None  # compare writes no folder; the record holds the files
    code, output = cli("runs", "show", 1, "--store", db)
    assert code == 0 and "outputs written to" not in output and "offices connected" in output


# --------------------------------------------------------------------------------------------- atomicity
WRITER = textwrap.dedent(
    """
    import os, sys, time
    from planner.store import RunStore

    store = RunStore(sys.argv[1])
    mode, label = sys.argv[2], sys.argv[3]

    def pause():
        print("in-transaction", flush=True)
        time.sleep(120)

    if mode in ("pause", "slow"):  # one large record, stopped inside its transaction (slow: for 1.5 s)
        payload = {"plan.csv": os.urandom(24 * 1024 * 1024), "summary.json": b"{}"}
        def slow():
            print("in-transaction", flush=True)
            time.sleep(1.5)
        store.record(command="test", scenario_json={"name": label}, summary={"scenario": label, "status": "optimal"},
                     files=payload, before_commit=pause if mode == "pause" else slow)
        print("done", flush=True)
    else:  # many records, as fast as possible
        for i in range(int(mode)):
            payload = {"plan.csv": os.urandom(256 * 1024 + i), "summary.json": str(i).encode()}
            store.record(command="test", scenario_json={"name": label},
                         summary={"scenario": f"{label}-{i}", "status": "optimal"}, files=payload)
            print(f"committed {i}", flush=True)
        print("done", flush=True)
    """
)


def _writer(db: Path, mode: str, label: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), mode, label],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def _assert_sound(store: RunStore) -> None:
    """Integrity ok, and every listed run has every file it lists, readable and matching its SHA-256."""
    assert store.integrity_check() == "ok"
    for run_id in store.ids():
        record = store.get(run_id)
        assert record.files, f"run {run_id} is listed without its files"
        for name in record.files:
            store.read_file(run_id, name)


def test_killed_writer_leaves_no_partial_record(tmp_path):
    db = tmp_path / "runs.sqlite"
    store = RunStore(db)
    first = [
        store.record(command="test", scenario_json={"name": n}, summary={"scenario": n}, files={"plan.csv": n.encode()})
        for n in ("earlier-1", "earlier-2")
    ]
    proc = _writer(db, "pause", "killed")
    line = proc.stdout.readline()  # the writer has inserted every row of its record but not committed
    assert line.strip() == "in-transaction", proc.stderr.read()
    # the record's pages are already in the file, and the journal that undoes them beside it
    assert (tmp_path / "runs.sqlite-journal").is_file()
    assert db.stat().st_size > 20 * 1024 * 1024  # the 24 MB record's pages spilled into the file
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert store.ids() == first  # the next reader rolls the hot journal back
    assert not (tmp_path / "runs.sqlite-journal").exists() and db.stat().st_size < 2 * 1024 * 1024
    assert "killed" not in set(store.list_runs()["scenario"])
    _assert_sound(store)
    assert store.read_file(first[1], "plan.csv") == b"earlier-2"
    with sqlite3.connect(db) as con:  # nothing of the killed record is left, not even orphan rows
        assert con.execute("SELECT count(*) FROM blob_chunks").fetchone()[0] == 2
    later = store.record(command="test", scenario_json={"name": "later"}, summary={"scenario": "later"}, files={})
    assert later == first[-1] + 1 and store.ids() == [*first, later]


def test_a_reader_waits_for_a_commit_and_then_sees_it(tmp_path):
    """Rollback journal: a reader that comes while a record is being written waits for its commit, then sees it."""
    db = tmp_path / "runs.sqlite"
    store = RunStore(db)
    first = store.record(command="test", scenario_json={"name": "a"}, summary={"scenario": "a"}, files={"x": b"1"})
    proc = _writer(db, "slow", "b")
    assert proc.stdout.readline().strip() == "in-transaction", proc.stderr.read()
    t0 = time.perf_counter()
    runs = store.list_runs()
    waited = time.perf_counter() - t0
    assert proc.stdout.readline().strip() == "done" and proc.wait(timeout=30) == 0
    assert list(runs["scenario"]) == ["b", "a"] and runs["id"].tolist()[1] == first
    assert 0.5 < waited < 30  # it waited for the writer's 1.5 s pause, not for the busy timeout
    _assert_sound(store)


def test_a_wal_store_moves_to_the_rollback_journal_when_no_one_holds_it(tmp_path):
    """A store made in WAL mode (earlier versions) keeps working, and leaves WAL at an opening it has to itself."""
    db = tmp_path / "runs.sqlite"
    store = RunStore(db)
    first = store.record(command="test", scenario_json={"name": "a"}, summary={"scenario": "a"}, files={"x": b"1"})
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    holder = sqlite3.connect(db)  # another process's connection, mid-read
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM runs").fetchone()
    second = store.record(command="test", scenario_json={"name": "b"}, summary={"scenario": "b"}, files={"x": b"2"})
    with contextlib.closing(sqlite3.connect(db)) as con:  # still WAL while held, and both runs are there
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    holder.execute("COMMIT")
    holder.close()
    assert store.ids() == [first, second]
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert store.read_file(second, "x") == b"2" and store.integrity_check() == "ok"
    assert not (tmp_path / "runs.sqlite-wal").exists()


def test_a_read_only_wal_store_is_read_and_left_in_wal(tmp_path, monkeypatch):
    """A WAL store that cannot be written (a read-only mount, another user's file) is listed and read as before."""
    import planner.store as store_module

    db = tmp_path / "runs.sqlite"
    store = RunStore(db)
    run_id = store.record(command="test", scenario_json={"name": "a"}, summary={"scenario": "a"}, files={"x": b"1"})
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    connect = sqlite3.connect

    def read_only(path, *args, **kwargs):  # the file as a read-only mount shows it
        return connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(store_module.sqlite3, "connect", read_only)
    assert store.ids() == [run_id] and store.read_file(run_id, "x") == b"1"
    monkeypatch.undo()
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # untouched by the read-only opening


def test_a_text_file_of_many_chunks_is_stored_whole(tmp_path, monkeypatch):
    """More chunks than are compressed ahead: each taken chunk starts the next, and every byte comes back."""
    import planner.store as store_module

    monkeypatch.setattr(store_module, "CHUNK_BYTES", 1024)
    text = "".join(f"PO-{i},fibre,{i * 7.25}\n" for i in range(4000)).encode()
    assert len(text) > 5 * store_module.PREFETCH_CHUNKS * 1024  # 85 chunks
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.record(command="test", scenario_json={"name": "t"}, summary={"scenario": "t"},
                          files={"plan.csv": text, "raw.parquet": b"PAR1" + os.urandom(9000)})  # fmt: skip
    assert store.read_file(run_id, "plan.csv") == text
    with contextlib.closing(sqlite3.connect(store.path)) as con:
        assert con.execute("SELECT count(*) FROM blob_chunks").fetchone()[0] > 40


def test_writers_killed_at_random_moments(tmp_path):
    db = tmp_path / "runs.sqlite"
    store = RunStore(db)
    store.open()
    committed = 0
    for delay in (0.0, 0.05, 0.13, 0.31):  # after the writer's first commit, kill it somewhere in a later record
        proc = _writer(db, "1000", f"w{delay}")
        assert proc.stdout.readline().startswith("committed 0"), proc.stderr.read()
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        out, _err = proc.communicate(timeout=30)
        committed += 1 + sum(line.startswith("committed") for line in out.splitlines())
        _assert_sound(store)
        assert len(store.ids()) >= committed  # every run the writer saw committed is there


def test_concurrent_writers_do_not_corrupt(tmp_path):
    db = tmp_path / "runs.sqlite"
    procs = [_writer(db, "12", label) for label in ("left", "right")]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.splitlines()[-1] == "done", err
    store = RunStore(db)
    runs = store.list_runs()
    assert len(runs) == 24 and len(set(runs["id"])) == 24
    assert {s.rsplit("-", 1)[0] for s in runs["scenario"]} == {"left", "right"}
    _assert_sound(store)
    for run_id in store.ids():  # each run holds its own files, not another writer's
        r = store.get(run_id)
        i = int(r.scenario.rsplit("-", 1)[1])
        assert store.read_file(run_id, "summary.json") == str(i).encode()
        assert r.files["plan.csv"] == 256 * 1024 + i


# --------------------------------------------------------------------------------------------- scale
@pytest.mark.slow
def test_store_write_and_read_time_at_100k_offices(solved, tmp_path):
    """A 100,000-office plan (the default plan tiled with new office ids), with its options table."""
    plan, _out, _files = solved
    reps = -(-100_000 // len(plan.plan))
    tiled = pd.concat([plan.plan.assign(office_id=plan.plan["office_id"] + f"-{k}") for k in range(reps)])
    tiled = tiled.head(100_000)
    options = pd.concat([plan.options.assign(office_id=plan.options["office_id"] + f"-{k}") for k in range(reps)])
    big = Plan(plan.scenario, tiled, options, plan.by_technology, plan.by_region, plan.summary)
    files = write_outputs(big, tmp_path / "out")
    store = RunStore(tmp_path / "runs.sqlite")
    t0 = time.perf_counter()
    run_id = store.record_plan(big, command="solve", files=files)
    t1 = time.perf_counter()
    back = store.load_plan(run_id)
    t2 = time.perf_counter()
    raw = sum(f.stat().st_size for f in files)
    stored = store.path.stat().st_size
    print(
        f"\n100k offices: {raw / 1e6:.0f} MB of outputs stored in {stored / 1e6:.0f} MB; "
        f"write {t1 - t0:.2f} s, reopen (load_plan) {t2 - t1:.2f} s"
    )
    assert len(back.plan) == 100_000 and len(back.options) == len(options)
    assert t1 - t0 < 60 and t2 - t1 < 60


def test_store_created_by_another_process_meanwhile_is_not_taken_for_foreign(tmp_path, monkeypatch):
    """Two writers open a new store at once: the second reads version 0, then the first creates the schema
    before the second looks for foreign tables. The second must see a run store, not "other tables" (a CI
    failure of the concurrent-writers test)."""
    db = tmp_path / "runs.sqlite"
    real = RunStore._refuse_foreign
    raced: list[bool] = []

    def racing(self, con, in_transaction=False):
        if not raced:
            raced.append(True)
            RunStore(db).open()  # the other writer wins the race
        return real(self, con, in_transaction)

    monkeypatch.setattr(RunStore, "_refuse_foreign", racing)
    store = RunStore(db)
    store.open()
    assert raced == [True]
    run_id = store.record(command="test", scenario_json={"name": "x"}, summary={"scenario": "x"},
                          files={"plan.csv": b"x"})  # fmt: skip
    assert store.ids() == [run_id]
    _assert_sound(store)


def test_data_fingerprints_cover_one_offices_file_per_country_and_drift_follows_them(tmp_path: Path) -> None:
    """A multi-country scenario with ``countries.files`` records one fingerprint per country file (the one
    fingerprint function, ``planner.data.data_fingerprints``), and ``data_drift`` finds those files again."""
    from types import SimpleNamespace

    from planner.data import data_fingerprints
    from planner.scenario import load_scenario

    pool = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "himalaya-pool.yaml")
    prints = data_fingerprints(pool)
    assert {f"offices.{iso}" for iso in pool.countries.files} <= set(prints)
    assert all(len(v) == 64 for v in prints.values())

    nodes, npl = tmp_path / "nodes.csv", tmp_path / "npl.csv"
    nodes.write_text("node_id,lat,lon\nn1,27.7,85.3\n", encoding="utf-8")
    npl.write_text("office_id,lat,lon,population\na,27.7,85.3,10\n", encoding="utf-8")
    record = SimpleNamespace(
        fingerprints={"fibre_nodes": fingerprint(nodes), "offices.NPL": fingerprint(npl)},
        scenario_json={"data": {"fibre_nodes": str(nodes)}, "countries": {"files": {"NPL": str(npl)}}},
    )
    assert {k: state for k, (_, state) in data_drift(record).items()} == {
        "fibre_nodes": "unchanged",
        "offices.NPL": "unchanged",
    }
    npl.write_text("office_id,lat,lon,population\na,27.7,85.3,11\n", encoding="utf-8")
    assert data_drift(record)["offices.NPL"][1] == "changed since the run"


# --------------------------------------------------------------------------------------------- content addressing
def test_same_contents_are_stored_once_and_parquet_as_written(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    csv = b"office_id,technology\n" + b"PO-1,fibre\n" * 200_000
    parquet = b"PAR1" + os.urandom(1024 * 1024) + b"PAR1"  # stored as written: raw, not recompressed
    first = store.record(
        command="t", scenario_json={"name": "a"}, summary={}, files={"plan.csv": csv, "o.parquet": parquet}
    )
    again = store.record(
        command="t", scenario_json={"name": "a"}, summary={}, files={"plan.csv": csv, "o.parquet": parquet}
    )
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT count(*) FROM blobs").fetchone()[0] == 2  # one copy of each, two runs
        codecs = dict(con.execute("SELECT size, codec FROM blobs").fetchall())
    assert codecs == {len(csv): "zstd", len(parquet): "raw"}
    assert store.get(again).timings["store_contents_s"] < 0.05  # nothing new to compress or write
    store.delete(first)  # the other run still holds the contents
    assert store.read_file(again, "plan.csv") == csv and store.read_file(again, "o.parquet") == parquet
    store.delete(again)
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT count(*) FROM blobs").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM blob_chunks").fetchone()[0] == 0


def test_version_1_store_is_upgraded_in_place(tmp_path):
    import hashlib
    import zlib

    db = tmp_path / "runs.sqlite"
    data = b"office_id\nPO-1\n"
    with sqlite3.connect(db) as con:  # the version 1 layout: chunks per run and file, zlib
        con.executescript(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, command TEXT NOT NULL,"
            " scenario TEXT NOT NULL, status TEXT, objective TEXT, objective_value REAL, mip_gap REAL,"
            " total_cost_usd REAL, coverage_share REAL, offices_planned INTEGER, offices_connected INTEGER,"
            " population_covered REAL, scenario_path TEXT, out_dir TEXT, scenario_yaml TEXT,"
            " scenario_json TEXT NOT NULL, fingerprints_json TEXT NOT NULL, catalogue_json TEXT,"
            " solver_json TEXT NOT NULL, summary_json TEXT NOT NULL, timings_json TEXT NOT NULL,"
            " versions_json TEXT NOT NULL, package_version TEXT NOT NULL, extra_json TEXT NOT NULL DEFAULT '{}');"
            "CREATE TABLE run_files (run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
            " name TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (run_id, name));"
            "CREATE TABLE run_chunks (run_id INTEGER NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL,"
            " data BLOB NOT NULL, PRIMARY KEY (run_id, name, seq), FOREIGN KEY (run_id, name)"
            " REFERENCES run_files (run_id, name) ON DELETE CASCADE);"
            "PRAGMA user_version = 1;"
        )
        for run_id in (1, 2):  # two runs with the same file
            con.execute(
                "INSERT INTO runs (id, created_at, command, scenario, scenario_json, fingerprints_json, solver_json,"
                " summary_json, timings_json, versions_json, package_version) VALUES (?, '', 'solve', 's', '{}',"
                " '{}', '{}', '{}', '{}', '{}', '0')",
                (run_id,),
            )
            con.execute(
                "INSERT INTO run_files VALUES (?, 'plan.csv', ?, ?)",
                (run_id, len(data), hashlib.sha256(data).hexdigest()),
            )
            con.execute("INSERT INTO run_chunks VALUES (?, 'plan.csv', 0, ?)", (run_id, zlib.compress(data)))
    store = RunStore(db)
    assert store.read_file(1, "plan.csv") == data and store.read_file(2, "plan.csv") == data
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1
        assert "run_chunks" not in {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    _assert_sound(store)
