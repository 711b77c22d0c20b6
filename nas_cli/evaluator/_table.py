"""The table evaluator: a trial is a look-up in a table of results measured beforehand (a
tabular benchmark, such as NAS-Bench-201 or bench/data/digits_table.csv), so a search costs
seconds and can be repeated over many seeds.

A table has one row per architecture and these columns (CSV; JSON and SQLite take the same):

| column            | holds                                                             |
|-------------------|-------------------------------------------------------------------|
| one per label     | the label's value as `nas export --format dict` shows it: `64`,   |
|                   | `0.5`, `relu` or `'relu'`, `[0, 2]`; empty where the label is     |
|                   | inactive in that row (a nested decision its parent did not pick)  |
| one per metric    | a number (the objective's metric among them); empty: the          |
|                   | architecture failed when the table was built                      |
| `seconds`         | optional: the training time, >= 0 (the simulated backend's clock) |
| `curve`           | optional: a JSON list of the objective's metric after each epoch  |
|                   | (reported as intermediate results, so early stopping works)       |

Formats by extension: `.csv`; `.json` (a list of row objects, or `{"rows": [...]}`);
`.sqlite`, `.sqlite3`, `.db` (the file's one table, or the one `evaluator.sqlite_table` names).
A table is checked against the space when the experiment starts: a missing column, a value
that is not a candidate, a duplicate architecture or a negative time is refused in one line.
"""

from __future__ import annotations

import ast
import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas_cli.errors import SpecError, TrialError

SECONDS = "seconds"
CURVE = "curve"
SUFFIXES = {".csv": "csv", ".json": "json", ".sqlite": "sqlite", ".sqlite3": "sqlite",
            ".db": "sqlite"}


@dataclass(frozen=True)
class TableRow:
    """One architecture's measured results."""

    arch: dict[str, Any]
    metrics: dict[str, float]           # empty when the architecture failed
    seconds: float | None = None
    curve: tuple[float, ...] = ()


def _key(arch: Mapping[str, Any]) -> str:
    return json.dumps(arch, sort_keys=True)


class Table:
    """Rows of a table by architecture; `lookup(arch)` is the trial."""

    def __init__(self, path: Path, rows: Iterable[TableRow], metrics: list[str]):
        self.path = path
        self.metrics = metrics
        self.rows: dict[str, TableRow] = {_key(row.arch): row for row in rows}

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, arch: Mapping[str, Any]) -> TableRow | None:
        return self.rows.get(_key(arch))

    def values(self, metric: str) -> list[float]:
        """The metric of every architecture that has it."""
        return [row.metrics[metric] for row in self.rows.values() if metric in row.metrics]

    @property
    def has_seconds(self) -> bool:
        return any(row.seconds is not None for row in self.rows.values())


def read_table(path: Path, space: Any, metric: str, sqlite_table: str | None = None) -> Table:
    """Read and check a table against `space` and the objective's `metric`; a problem is one
    SpecError line naming the file, the row and the column."""
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise SpecError(f"evaluator.path: {path} is not a table: use a .csv, .json, .sqlite or "
                        ".db file")
    if not path.is_file():
        raise SpecError(f"evaluator.path: file not found: {path}")
    try:
        columns, raw_rows = _READERS[kind](path, sqlite_table)
    except SpecError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise SpecError(f"evaluator.path: cannot read {path} as {kind}: {exc}") from None
    return _check(path, columns, raw_rows, space, metric)


# --- the formats: each gives (columns, rows as {column: raw value}) -----------------------------


def _read_csv(path: Path, _: str | None) -> tuple[list[str], Iterable[dict[str, Any]]]:
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        columns = [c.strip() for c in reader.fieldnames or []]
        rows: list[dict[str, Any]] = []
        for raw in reader:
            if None in raw:  # more cells than columns
                raise SpecError(f"evaluator.path: {path} row {len(rows) + 1}: more cells than "
                                f"the header has columns ({len(columns)})")
            rows.append({k.strip(): v for k, v in raw.items()})
    return columns, rows


def _read_json(path: Path, _: str | None) -> tuple[list[str], Iterable[dict[str, Any]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SpecError(f"evaluator.path: {path} must hold a list of row objects (or "
                        '{"rows": [...]}), one per architecture')
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns), rows


def _read_sqlite(path: Path, name: str | None) -> tuple[list[str], Iterable[dict[str, Any]]]:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            if name is None:
                if len(tables) != 1:
                    listed = ", ".join(tables) or "none"
                    raise SpecError(f"evaluator.sqlite_table: {path} has {len(tables)} tables "
                                    f"({listed}); name the one to read")
                name = tables[0]
            elif name not in tables:
                raise SpecError(f"evaluator.sqlite_table: {path} has no table {name!r} "
                                f"(tables: {', '.join(tables) or 'none'})")
            cursor = conn.execute(f'SELECT * FROM "{name}"')
            columns = [d[0] for d in cursor.description]
            rows = [dict(zip(columns, values)) for values in cursor]
    except sqlite3.Error as exc:
        raise SpecError(f"evaluator.path: cannot read {path} as SQLite: {exc}") from None
    return columns, rows


_READERS: dict[str, Callable[[Path, str | None], tuple[list[str], Iterable[dict[str, Any]]]]] = {
    "csv": _read_csv, "json": _read_json, "sqlite": _read_sqlite}


# --- checking --------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _label_reader(decision: Any) -> Callable[[Any], Any]:
    """Cell -> the candidate it stands for (ValueError if none). Text cells match a
    candidate's repr, its str (bare strings) or its JSON, else their Python literal."""
    texts: dict[str, Any] = {}
    for candidate in decision.candidates:
        for text in (repr(candidate), json.dumps(candidate), str(candidate)):
            texts.setdefault(text, candidate)

    def read(value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text in texts:
                return texts[text]
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise ValueError(value) from None
        return decision.candidates[decision.index_of(value)]

    return read


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _check(path: Path, columns: list[str], raw_rows: Iterable[dict[str, Any]], space: Any,
           metric: str) -> Table:
    from nas_cli.errors import ArchError

    labels = list(space.decisions)
    missing = [label for label in labels if label not in columns]
    if missing:
        raise SpecError(f"evaluator.path: {path} has no column for label(s) "
                        f"{', '.join(missing)}: a table needs one column per label of the space "
                        f"({', '.join(labels)}), one per metric, optional seconds and curve")
    metrics = [c for c in columns if c not in space.decisions and c not in (SECONDS, CURVE)]
    if metric not in metrics:
        raise SpecError(f"evaluator.path: {path} has no column '{metric}' (the objective's "
                        f"metric); its metric columns: {', '.join(metrics) or 'none'}")
    readers = {label: _label_reader(d) for label, d in space.decisions.items()}
    rows: list[TableRow] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(raw_rows, 1):
        where = f"evaluator.path: {path} row {number}"
        given = {}
        for label in labels:
            value = raw.get(label)
            if _empty(value):
                continue
            try:
                given[label] = readers[label](value)
            except ValueError:
                choices = ", ".join(str(c) for c in space.decisions[label].candidates)
                raise SpecError(f"{where}: label '{label}': {value!r} is not one of its "
                                f"candidates ({choices})") from None
        try:
            arch = space.validate({k: v for k, v in given.items() if space.is_active(k, given)})
        except ArchError as exc:
            raise SpecError(f"{where}: {exc.message} (an architecture the space does not "
                            "have)") from None
        values: dict[str, float] = {}
        for column in metrics:
            if _empty(raw.get(column)):
                continue
            try:
                values[column] = _number(raw[column])
            except (TypeError, ValueError):
                raise SpecError(f"{where}: column '{column}' must be a number (or empty), "
                                f"got {raw[column]!r}; columns that are neither labels nor "
                                "seconds/curve are metrics") from None
        if metric not in values:
            values = {}  # the architecture failed when the table was built
        seconds = None
        if not _empty(raw.get(SECONDS)):
            try:
                seconds = _number(raw[SECONDS])
            except (TypeError, ValueError):
                seconds = math.nan
            if not seconds >= 0:  # negative or not a number
                raise SpecError(f"{where}: seconds must be a number >= 0, got {raw[SECONDS]!r}")
        curve: tuple[float, ...] = ()
        if not _empty(raw.get(CURVE)):
            curve = _curve(raw[CURVE], where)
        key = _key(arch)
        if key in seen:
            raise SpecError(f"{where}: the same architecture as row {seen[key]} ({arch})")
        seen[key] = number
        rows.append(TableRow(arch, values, seconds, curve))
    if not rows:
        raise SpecError(f"evaluator.path: {path} has no rows")
    return Table(path, rows, metrics)


def _curve(value: Any, where: str) -> tuple[float, ...]:
    try:
        points = json.loads(value) if isinstance(value, str) else value
        if not isinstance(points, list):
            raise ValueError(value)
        return tuple(_number(v) for v in points)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: curve must be a JSON list of numbers (the metric after each "
                        f"epoch), got {str(value)[:60]!r}") from None


# --- the evaluator ---------------------------------------------------------------------------


class TableEvaluator:
    """Looks the architecture up; reports its curve, returns its metrics. An architecture the
    table lacks (or that failed when the table was built) fails its trial."""

    needs_model = False  # a look-up: trials do not build the model

    def __init__(self, table: Table):
        self.table = table

    def evaluate(self, model: Any, arch: dict[str, Any], *, metric: str,
                 report: Callable[[int, dict[str, float]], None] | None = None,
                 trial_dir: Path | None = None, device: str = "cpu") -> dict[str, float]:
        row = self.row(arch, metric)
        if report is not None:
            for step, value in enumerate(row.curve):
                report(step, {metric: value})
        return dict(row.metrics)

    def row(self, arch: Mapping[str, Any], metric: str) -> TableRow:
        """The architecture's row; a TrialError when the table cannot answer."""
        row = self.table.lookup(arch)
        if row is None:
            raise TrialError(f"architecture not in the table {self.table.path.name}: {dict(arch)}")
        if metric not in row.metrics:
            raise TrialError(f"the table {self.table.path.name} has no {metric} for this "
                             "architecture (it failed when the table was built)")
        return row
