"""``helpforce export``: questions and events for archives, as JSON Lines or CSV.

Writes into a directory: ``questions.<fmt>`` (every column of every question; ``tags`` as JSON
text in CSV), ``events.<fmt>`` (every event in id order, with its hash, seal and salt, so
the archive's chain can be checked again) and ``manifest.json`` (when, what, how many, the
chain's head at the time, and each file's SHA-256). Records a purge removed stay removed:
an export holds what the database holds. Read-only.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO, Any

from helpforce.store import SCHEMA_VERSION, Store

FORMATS = ("jsonl", "csv")
EVENT_COLUMNS = ("id", "question_id", "at", "kind", "actor", "platform", "data", "hash",
                 "seal", "salt")
_CHUNK = 5000


class ExportError(Exception):
    pass


def _utc(t: Any) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(float(t), dt.UTC).isoformat(timespec="milliseconds")


async def _chunks(
    store: Store, table: str, columns: str, up_to: int | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """``table``'s rows in id order (up to id ``up_to``), a chunk at a time (an archive can
    be large)."""
    last: int | None = None  # no lower bound: a row with id 0 or below is exported too
    limit = "" if up_to is None else f" AND id <= {int(up_to)}"
    while True:
        rows = [dict(r) for r in await store.fetchall(
            f"SELECT {columns} FROM {table} WHERE (? IS NULL OR id > ?){limit} "
            "ORDER BY id LIMIT ?", (last, last, _CHUNK))]
        if rows:
            yield rows
        if len(rows) < _CHUNK:
            return
        last = int(rows[-1]["id"])


class _Writer:
    def __init__(self, path: Path, fmt: str, columns: Sequence[str]) -> None:
        self.path = path
        self.fmt = fmt
        self.columns = list(columns)
        self.count = 0
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._csv = None
        if fmt == "csv":
            self._csv = csv.DictWriter(self._file, fieldnames=self.columns,
                                       extrasaction="ignore")
            self._csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        self.count += 1
        if self._csv is not None:
            self._csv.writerow({k: _cell(v) for k, v in row.items()})
        else:
            self._file.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")

    def close(self) -> None:
        self._file.close()


#: what makes a spreadsheet read a cell as a formula
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell: a text a spreadsheet would run as a formula (a customer's handle can be
    ``=HYPERLINK(...)``) starts with ``'``, so it stays text."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


async def export(store: Store, out_dir: Path, fmt: str, *, now: float,
                 force: bool = False) -> dict[str, Any]:
    """Write the export; returns the manifest."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: out_dir / f"{name}.{fmt}" for name in ("questions", "events")}
    manifest_path = out_dir / "manifest.json"
    existing = [str(p) for p in (*files.values(), manifest_path) if p.exists()]
    if existing and not force:
        raise ExportError(f"{existing[0]}: already exists (use another --out directory, or "
                          "--force to overwrite)")
    head = await store.fetchone("SELECT event_id, hash FROM audit_head WHERE one = 1")
    qcols = [str(r[1]) for r in await store.fetchall("PRAGMA table_info(questions)")]
    questions = _Writer(files["questions"], fmt,
                        [*qcols, "created_at_utc", "first_answer_at_utc", "resolved_at_utc"])
    try:
        async for chunk in _chunks(store, "questions", "*"):
            for q in chunk:
                if fmt == "jsonl":
                    try:
                        q["tags"] = json.loads(q.get("tags") or "[]")
                    except ValueError:
                        pass
                for key in ("created_at", "first_answer_at", "resolved_at"):
                    q[f"{key}_utc"] = _utc(q.get(key))
                questions.write(q)
    finally:
        questions.close()
    events = _Writer(files["events"], fmt, [*EVENT_COLUMNS, "at_utc"])
    try:
        # up to the head read first: a daemon may append meanwhile, and the archive's chain
        # must end at the head its manifest names
        async for chunk in _chunks(store, "events", ", ".join(EVENT_COLUMNS),
                                   int(head[0]) if head else None):
            for e in chunk:
                e["at_utc"] = _utc(e["at"])
                events.write(e)
    finally:
        events.close()
    manifest = {
        "format": fmt,
        "exported_at": now,
        "exported_at_utc": _utc(now),
        "schema_version": SCHEMA_VERSION,
        "database": store.path,
        "questions": questions.count,
        "events": events.count,
        "audit_head": {"id": int(head[0]), "hash": str(head[1])} if head else None,
        "files": {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
                  for p in files.values()},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                             encoding="utf-8")
    return manifest
