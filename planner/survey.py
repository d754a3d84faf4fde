"""Connectivity surveys: where each office stands, matched to the office register, with a data-quality report.

The first step to connecting every post office is to map each office's connectivity and digital capabilities.
A survey (CSV or Excel ``.xlsx``, one row per office) says whether the office is connected, by which technology,
at what measured speed, with what power, which services it offers and which security measures it has. This
module reads it beside the office register (an offices file, DESIGN §3), matches each survey row to an office,
and returns:

* ``offices``: the register with each office's surveyed state (``status``: connected / underserved /
  unconnected / **unknown** — never silently connected; ``current_mbps``, ``grid_power``, ``services``), ready
  to plan (``unknown_status`` in the scenario decides what planning does with unknown offices);
* ``matches``: which survey row matched which office, by which rule and with what score;
* ``quality``: every finding with file, row and column: unmatched rows both ways, duplicates, conflicting
  answers, implausible speeds, missing fields;
* ``status``: a summary by region (offices by status, services offered, security measures).

Matching: by ``office_id`` when the survey gives one that is in the register; else by postcode + normalised
name (case, accents, punctuation and office-type suffixes such as BO/SO/HO/"post office" removed), the best
name among the register's offices of that postcode by ``difflib`` ratio, accepted at :data:`NAME_MATCH_MIN`.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.data import check_regular_file, read_offices
from planner.errors import InputError, Issue
from planner.scenario import SERVICES

NAME_MATCH_MIN = 0.85
"""Smallest name similarity (difflib ratio of the normalised names, 0..1) accepted for a postcode + name match."""
UNDERSERVED_BELOW_MBPS = 10.0
"""A connected office measuring less than this download speed (Mbps) is underserved (planner rule)."""
MAX_PLAUSIBLE_MBPS = 10_000.0
"""Measured speeds above this (Mbps) are implausible for a post office link."""

YES = {"yes", "y", "true", "1", "connected", "oui", "si", "sí"}
NO = {"no", "n", "false", "0", "not connected", "unconnected", "non"}
UNKNOWN = {"", "unknown", "?", "n/a", "na", "dont know", "don't know", "not sure"}

# Accepted spellings of each survey column (after normalisation: lower case, non-alphanumerics -> "_").
ALIASES: dict[str, tuple[str, ...]] = {
    "office_id": ("office_id", "office", "id", "office_code", "code"),
    "postcode": ("postcode", "postal_code", "pincode", "pin_code", "zip", "post_code"),
    "name": ("name", "office_name", "post_office", "post_office_name"),
    "connected": ("connected", "internet", "is_connected", "connected_yes_no", "internet_connection"),
    "technology": ("technology", "connection_type", "link", "link_type", "technology_used"),
    "down_mbps": ("down_mbps", "download_mbps", "measured_down_mbps", "speed_down", "speed_mbps_down",
                  "measured_speed_mbps_down", "download", "down"),
    "up_mbps": ("up_mbps", "upload_mbps", "measured_up_mbps", "speed_up", "speed_mbps_up",
                "measured_speed_mbps_up", "upload", "up"),
    "power": ("power", "power_supply", "electricity", "grid_power"),
    "services": ("services", "services_offered"),
    "incident_response_plan": ("incident_response_plan", "incident_response", "irp", "security_incident_plan"),
    "post_domain": ("post_domain", "dot_post_domain", "post", "uses_post_domain"),
    "secure_dns": ("secure_dns", "dns_security", "protective_dns"),
    "backup_link": ("backup_link", "backup", "second_link", "backup_connection"),
    "survey_date": ("survey_date", "date", "surveyed_on"),
}  # fmt: skip
SECURITY = ("incident_response_plan", "post_domain", "secure_dns", "backup_link")
ANSWERS = ("connected", "technology", "down_mbps", "up_mbps", "power", "services", *SECURITY)
SUFFIXES = re.compile(r"\b(b\.?\s?o|s\.?\s?o|h\.?\s?o|p\.?\s?o|branch office|sub office|head office|post office)\b")


@dataclass
class SurveyResult:
    """The merged register and what the survey says about it (see the module docstring)."""

    offices: pd.DataFrame
    matches: pd.DataFrame
    quality: pd.DataFrame
    status: pd.DataFrame


def normalise_name(name: str) -> str:
    """A name for matching: ASCII, lower case, office-type suffixes and punctuation removed, spaces collapsed."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    text = SUFFIXES.sub(" ", text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def _column_key(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(label).strip().lower()).strip("_")


# --------------------------------------------------------------------------------------------- reading
def read_survey_table(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """The survey as text cells with canonical column names, and each row's line/row number as the user sees it."""

    def required(names: list[str]) -> list[Issue]:
        issues = []
        if not ({"office_id", "postcode"} & set(names)):
            issues.append(
                Issue(str(path), 1, None, "no office_id or postcode column: cannot match rows to the register")
            )
        if "connected" not in names:
            issues.append(Issue(str(path), 1, None, "no 'connected' column (yes / no / unknown)"))
        return issues

    return _read_aliased(path, ALIASES, required)


def _read_aliased(
    path: Path, aliases: dict[str, tuple[str, ...]], required: Callable[[list[str]], list[Issue]]
) -> tuple[pd.DataFrame, list[int]]:
    """A CSV or .xlsx table as stripped text cells under canonical names (``aliases``), with each row's number.

    A column repeating a canonical name, a missing required column (``required`` says which) or a row with
    more cells than the header is an error naming the file and row.
    """
    check_regular_file(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, rows, numbers = _read_xlsx(path)
    else:
        header, rows, numbers = _read_csv(path)
    file = str(path)
    names: list[str] = []
    issues = []
    for label in header:
        key = _column_key(label)
        canon = next((c for c, spellings in aliases.items() if key in spellings), key)
        if canon in names and canon in aliases:
            issues.append(Issue(file, 1, label, f"column '{label}' repeats '{canon}' (an earlier column)"))
        names.append(canon)
    issues += required(names)
    if issues:
        raise InputError(issues)
    width = len(names)
    cells = [(r + [""] * width)[:width] for r in rows]
    for r, n in zip(rows, numbers, strict=True):
        if len(r) > width and any(str(c).strip() for c in r[width:]):
            raise InputError(Issue(file, n, None, f"{len(r)} cells in a row of a {width}-column header"))
    frame = pd.DataFrame(cells, columns=names, dtype=object).fillna("")
    frame = frame.loc[:, ~pd.Index(names).duplicated()]
    return frame.astype(str).apply(lambda c: c.str.strip()), numbers


def _read_csv(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(Issue(str(path), line, None, "not UTF-8 text: save the survey as UTF-8 CSV")) from None
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    numbers: list[int] = []
    header: list[str] | None = None
    try:
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if header is None:
                header = row
                continue
            rows.append(row)
            numbers.append(reader.line_num)
    except csv.Error as exc:
        raise InputError(Issue(str(path), reader.line_num, None, f"not a readable CSV: {exc}")) from None
    if header is None:
        raise InputError(Issue(str(path), None, None, "empty file: expected a header and one row per office"))
    return header, rows, numbers


def _read_xlsx(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """The first sheet as text cells.

    Merged cells take their top-left value; a two-row header (merged group titles over sub-titles, e.g.
    'Measured speed (Mbps)' over 'down' / 'up') becomes one label per column.
    """
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:  # openpyxl raises many types on a damaged or foreign file
        raise InputError(
            Issue(str(path), None, None, f"not a readable .xlsx workbook ({type(exc).__name__})")
        ) from None
    sheet = book.worksheets[0]
    grid = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    header_rows = 1
    for rng in sheet.merged_cells.ranges:
        value = grid[rng.min_row - 1][rng.min_col - 1]
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                grid[r - 1][c - 1] = value
        if rng.min_row == 1 and rng.max_col > rng.min_col and len(grid) > 1:
            header_rows = 2  # a group title spanning columns: the next row names the columns under it
    if not grid:
        raise InputError(Issue(str(path), None, None, "empty sheet: expected a header and one row per office"))
    if header_rows == 2:
        top, sub = grid[0], grid[1]
        header = [t if not s or s == t else f"{t} {s}" if t else s for t, s in zip(top, sub, strict=True)]
    else:
        header = grid[0]
    rows, numbers = [], []
    for i, row in enumerate(grid[header_rows:], start=header_rows + 1):
        if any(c.strip() for c in row):
            rows.append(row)
            numbers.append(i)
    return header, rows, numbers


# --------------------------------------------------------------------------------------------- parsing
def _yes_no(text: str) -> str:
    low = text.strip().lower()
    if low in YES:
        return "yes"
    if low in NO:
        return "no"
    if low in UNKNOWN:
        return "unknown"
    return "invalid"


def _speed(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return float("nan")


# --------------------------------------------------------------------------------------------- matching
def match_rows(survey: pd.DataFrame, register: pd.DataFrame) -> pd.DataFrame:
    """Each survey row's office: ``survey_row`` (0-based), ``office_id`` ("" when unmatched), ``rule``, ``score``."""
    ids = set(register["office_id"].astype(str))
    postcode_col = next((c for c in ("postcode", "pincode", "community") if c in register), None)
    by_code: dict[str, list[tuple[str, str]]] = {}
    if postcode_col is not None:
        for office, code, name in zip(register["office_id"], register[postcode_col], register["name"], strict=True):
            by_code.setdefault(str(code).strip(), []).append((str(office), normalise_name(name)))
    out = []
    for i, row in enumerate(survey.to_dict("records")):
        given = str(row.get("office_id", "")).strip()
        if given and given in ids:
            out.append((i, given, "office_id", 1.0))
            continue
        code, name = str(row.get("postcode", "")).strip(), normalise_name(row.get("name", ""))
        candidates = by_code.get(code, [])
        best, score = "", 0.0
        for office, reg_name in candidates:
            ratio = difflib.SequenceMatcher(None, name, reg_name).ratio() if name else 0.0
            if ratio > score:
                best, score = office, ratio
        if best and score >= NAME_MATCH_MIN:
            out.append((i, best, "postcode+name", round(score, 3)))
        else:
            why = "no office with that postcode" if not candidates else f"best name match {score:.2f}"
            out.append((i, "", f"unmatched ({why})", round(score, 3)))
    return pd.DataFrame(out, columns=["survey_row", "office_id", "rule", "score"])


# --------------------------------------------------------------------------------------------- the whole job
def ingest_survey(register_path: Path, survey_path: Path) -> SurveyResult:
    """Read, match and merge a survey into the register; see the module docstring for what comes back."""
    register = read_offices(register_path)
    survey, lines = read_survey_table(survey_path)
    sfile, rfile = str(survey_path), str(register_path)
    matches = match_rows(survey, register)
    matches.insert(1, "row", [lines[i] for i in matches["survey_row"]])
    findings: list[tuple[str, int | None, str, str, str]] = []

    def find(file: str, row: int | None, column: str, kind: str, text: str) -> None:
        findings.append((file, row, column, kind, text))

    parsed: dict[int, dict[str, Any]] = {}
    for i, row in enumerate(survey.to_dict("records")):
        line = lines[i]
        answer: dict[str, Any] = {"connected": _yes_no(row.get("connected", ""))}
        if answer["connected"] == "invalid":
            find(sfile, line, "connected", "invalid answer", f"'{row.get('connected')}': expected yes, no or unknown")
            answer["connected"] = "unknown"
        for col in ("down_mbps", "up_mbps"):
            value = _speed(str(row.get(col, "")))
            if value is not None and not (0 <= value <= MAX_PLAUSIBLE_MBPS):
                text = f"'{row.get(col)}' is not a plausible speed (0 to {MAX_PLAUSIBLE_MBPS:,.0f} Mbps)"
                find(sfile, line, col, "implausible speed", text)
                value = None
            answer[col] = value
        if answer["connected"] == "no" and (answer["down_mbps"] or 0) > 0:
            text = f"says not connected but measured {answer['down_mbps']:g} Mbps down"
            find(sfile, line, "connected", "conflicting answers", text)
        if answer["connected"] == "yes" and answer["down_mbps"] is None:
            find(sfile, line, "down_mbps", "missing field", "connected, but no measured download speed")
        if (answer["up_mbps"] or 0) > (answer["down_mbps"] or np.inf) * 10:
            find(sfile, line, "up_mbps", "implausible speed", "upload more than 10x the download")
        power = str(row.get("power", "")).strip().lower()
        answer["power"] = power
        services = [
            s.strip().lower().replace("-", "_").replace(" ", "_")
            for s in re.split(r"[;,/]", str(row.get("services", "")))
            if s.strip()
        ]
        bad = [s for s in services if s not in SERVICES]
        if bad:
            find(
                sfile,
                line,
                "services",
                "invalid answer",
                f"unknown service(s) {', '.join(bad)}; known: {', '.join(SERVICES)}",
            )
        answer["services"] = ";".join(s for s in services if s in SERVICES)
        answer["technology"] = str(row.get("technology", "")).strip()
        for col in SECURITY:
            said = _yes_no(str(row.get(col, "")))
            if said == "invalid":
                find(sfile, line, col, "invalid answer", f"'{row.get(col)}': expected yes, no or unknown")
                said = "unknown"
            answer[col] = said
        answer["survey_date"] = str(row.get("survey_date", ""))
        parsed[i] = answer
    for m in matches.to_dict("records"):
        if not m["office_id"]:
            find(
                sfile,
                int(m["row"]),
                "office_id",
                "unmatched survey row",
                f"matches no office of the register: {m['rule']}",
            )
    chosen: dict[str, int] = {}
    for office, group in matches[matches["office_id"] != ""].groupby("office_id", sort=False):
        idx = list(group["survey_row"])
        if len(idx) > 1:
            answers = [{k: parsed[i][k] for k in ANSWERS} for i in idx]
            same = all(a == answers[0] for a in answers)
            rows_text = ", ".join(str(lines[i]) for i in idx)
            if same:
                find(
                    sfile,
                    lines[idx[-1]],
                    "office_id",
                    "duplicate",
                    f"office {office} surveyed again (rows {rows_text}), same answers",
                )
            else:
                diff = sorted(k for k in ANSWERS if len({str(a[k]) for a in answers}) > 1)
                text = f"office {office} surveyed in rows {rows_text} with different {', '.join(diff)}: status unknown"
                find(sfile, lines[idx[-1]], ",".join(diff), "conflicting answers", text)
                chosen[str(office)] = -1
                continue
        chosen[str(office)] = idx[-1]
    offices = register.copy()
    surveyed = offices["office_id"].map(chosen)
    for k, office in enumerate(offices["office_id"]):
        i = surveyed.iloc[k]
        if pd.isna(i):
            find(rfile, None, "office_id", "not surveyed", f"office {office} has no survey row: status unknown")
    status, mbps, grid, services = [], [], [], []
    security: dict[str, list[str]] = {c: [] for c in SECURITY}
    for k in range(len(offices)):
        i = surveyed.iloc[k]
        a = parsed.get(int(i)) if not pd.isna(i) and i >= 0 else None
        if a is None or a["connected"] == "unknown":
            status.append("unknown")
            mbps.append(0.0)
        elif a["connected"] == "no":
            status.append("unconnected")
            mbps.append(0.0)
        else:
            speed = a["down_mbps"] or 0.0
            status.append("connected" if speed >= UNDERSERVED_BELOW_MBPS else "underserved")
            mbps.append(float(speed))
        grid.append(
            offices["grid_power"].iloc[k] if a is None or not a["power"] else a["power"] in ("grid", "yes", "mains")
        )
        services.append(offices["services"].iloc[k] if a is None or not a["services"] else a["services"])
        for c in SECURITY:
            security[c].append("unknown" if a is None else a[c])
    offices["status"] = status
    offices["current_mbps"] = mbps
    offices["grid_power"] = grid
    offices["services"] = services
    for c in SECURITY:
        offices[c] = security[c]
    quality = pd.DataFrame(findings, columns=["file", "row", "column", "kind", "message"])
    quality["row"] = quality["row"].astype("Int64")
    return SurveyResult(offices, matches, quality, status_by_region(offices))


def status_by_region(offices: pd.DataFrame) -> pd.DataFrame:
    """Offices by surveyed status, services offered and security measures (``yes`` answers), per region + total."""
    frame = offices.copy()
    rows = []
    for region, g in [*frame.groupby("region", sort=True), ("all", frame)]:
        row: dict[str, Any] = {"region": region, "offices": len(g)}
        for s in ("connected", "underserved", "unconnected", "unknown"):
            row[s] = int((g["status"] == s).sum())
        for s in SERVICES:
            row[f"offers_{s}"] = int(g["services"].astype(str).str.split(";").map(lambda x, s=s: s in x).sum())
        for c in SECURITY:
            row[f"has_{c}"] = int((g[c] == "yes").sum()) if c in g else 0
        rows.append(row)
    return pd.DataFrame(rows)


def status_geojson(offices: pd.DataFrame) -> dict[str, Any]:
    """The surveyed offices as GeoJSON points with their status, speed, services and security answers."""
    props = ["office_id", "name", "region", "status", "current_mbps", "services", *SECURITY]
    features = []
    for row in offices.to_dict("records"):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]},
                "properties": {k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in props if k in row},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def write_survey(result: SurveyResult, out: Path) -> list[Path]:
    """The survey's outputs in ``out``.

    ``offices.csv`` (ready to plan), ``matches.csv``, ``quality.csv``, ``status_by_region.csv``,
    ``status.geojson`` (the connectivity map layer) and ``survey.xlsx`` (one sheet per table).
    """
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "offices.csv": result.offices,
        "matches.csv": result.matches,
        "quality.csv": result.quality,
        "status_by_region.csv": result.status,
    }
    written = []
    for name, table in files.items():
        path = out / name
        table.to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    geo = out / "status.geojson"
    geo.write_text(json.dumps(status_geojson(result.offices)) + "\n", encoding="utf-8")
    book = out / "survey.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        for name, table in (("status by region", result.status), ("offices", result.offices),
                            ("data quality", result.quality), ("matches", result.matches)):  # fmt: skip
            table.to_excel(writer, sheet_name=name, index=False)
    return [*written, geo, book]


ACTUAL_ALIASES: dict[str, tuple[str, ...]] = {
    "office_id": ("office_id", "office", "id", "office_code"),
    "technology": ("technology", "link", "connection_type"),
    "date": ("date", "connected_on", "completed", "completion_date", "survey_date"),
    "cost_usd": ("cost_usd", "cost", "spend_usd", "actual_cost_usd", "amount_usd"),
    "connected": ("connected", "is_connected"),
}


def read_actual(path: Path) -> pd.DataFrame:
    """What was actually connected: an implementation log or a later survey (CSV or .xlsx).

    One row per office: ``office_id`` (required), ``technology``, ``date`` (YYYY-MM-DD or a year), ``cost_usd``
    (money spent), ``connected`` (yes / no; default yes, so a log lists only what was built). Returns
    ``office_id, technology, year, cost_usd, row`` for the connected rows; a bad cell is an error naming its row.
    """
    file = str(path)
    no_id = Issue(file, 1, None, "no office_id column: expected office_id[,technology,date,cost_usd]")
    frame, numbers = _read_aliased(path, ACTUAL_ALIASES, lambda names: [] if "office_id" in names else [no_id])
    issues: list[Issue] = []
    out = []
    seen: dict[str, int] = {}
    for i, row in enumerate(frame.to_dict("records")):
        line = numbers[i]
        office = row["office_id"].strip()
        if not office:
            issues.append(Issue(file, line, "office_id", "empty; expected an office_id of the plan"))
            continue
        said = _yes_no(row.get("connected", "yes") or "yes")
        if said == "invalid":
            issues.append(Issue(file, line, "connected", f"'{row['connected']}': expected yes or no"))
            continue
        if said != "yes":
            continue
        if office in seen:
            issues.append(Issue(file, line, "office_id", f"office {office} listed again (first in row {seen[office]})"))
            continue
        seen[office] = line
        date = row.get("date", "").strip()
        year = None
        if date:
            match = re.match(r"^(\d{4})(?:-\d{2}(?:-\d{2})?)?$", date)
            if match is None:
                issues.append(Issue(file, line, "date", f"'{date}': expected YYYY-MM-DD or a year"))
                continue
            year = int(match.group(1))
        cost = _speed(row.get("cost_usd", ""))
        if cost is not None and not (cost >= 0 and np.isfinite(cost)):
            issues.append(Issue(file, line, "cost_usd", f"'{row['cost_usd']}': expected USD, a number >= 0"))
            continue
        out.append((office, row.get("technology", "").strip(), year, cost, line))
    if issues:
        raise InputError(issues[:20])
    return pd.DataFrame(out, columns=["office_id", "technology", "year", "cost_usd", "row"])
