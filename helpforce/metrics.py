"""Prometheus metrics for operators: ``helpforce run --metrics-port 9464`` (off by default;
bound to 127.0.0.1 unless ``--metrics-host`` says otherwise).

Counters and histograms are read from the tail of the event log at scrape time, so they
count exactly what the log records (nothing is double-counted by a second bookkeeping, and
an idle endpoint costs nothing): each scrape reads the events written since the last one,
on its own read-only SQLite connection in the exporter's thread. Counters start at zero
when the exporter starts, as Prometheus expects (``rate()`` handles restarts).

* ``helpforce_questions_total{platform}``, ``helpforce_followups_total{platform}``,
  ``helpforce_offers_total{platform}`` (offer waves) and ``helpforce_offered_staff_total``,
  ``helpforce_claims_total{platform}``, ``helpforce_claims_refused_total``,
  ``helpforce_answers_total{platform}``, ``helpforce_duplicate_answers_total``,
  ``helpforce_resolved_total``, ``helpforce_escalations_total{reason}``,
  ``helpforce_leases_expired_total``, ``helpforce_moved_to_dm_total``,
  ``helpforce_policy_verdicts_total{rule,action}``, ``helpforce_policy_overrides_total``,
  ``helpforce_outbox_sends_total{platform,result}`` (delivered, failed, uncertain);
* histograms ``helpforce_first_response_seconds{platform}`` (asked to first answer) and
  ``helpforce_claim_seconds{platform}`` (asked to each claim);
* gauges from the outbox at scrape time: ``helpforce_outbox_rows{platform,state}``
  (pending, sending, held, failed, uncertain), ``helpforce_outbox_retrying{platform}``,
  ``helpforce_outbox_oldest_waiting_seconds{platform}``; from the daemon:
  ``helpforce_platform_connected{platform}`` and ``helpforce_platform_state{platform,state}``;
* ``helpforce_outbox_retries_total{platform}``, ``helpforce_ratelimit_waits_total{platform}``
  and ``helpforce_ratelimit_wait_seconds_total{platform}``: fed by :meth:`Metrics.retry`
  and :meth:`Metrics.rate_limit_wait`, hooks for the outbox and its rate limiters.

prometheus_client (the official client) is an optional extra
(``pip install 'helpforce[metrics]'``); :class:`MetricsUnavailable` says so when missing.
No customer data is exported: labels are platforms, states, rule ids and actions.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

INSTALL_HINT = ("metrics need the Prometheus client library, which is not installed: "
                "pip install 'helpforce[metrics]'")
#: histogram buckets, seconds (30 s to a day)
BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
           43200.0, 86400.0)
_OUTBOX_STATES = ("pending", "sending", "held", "failed", "uncertain")
#: events read per query while catching up
_CHUNK = 5000

Labels = tuple[tuple[str, str], ...]


class MetricsUnavailable(RuntimeError):
    pass


def _client(name: str = "prometheus_client") -> Any:
    # imported by name: an optional extra, so the core type-checks without it
    try:
        return importlib.import_module(name)
    except ImportError:
        raise MetricsUnavailable(INSTALL_HINT) from None


class _Histogram:
    def __init__(self) -> None:
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.total += value
        for i, edge in enumerate(BUCKETS):
            if value <= edge:
                self.buckets[i] += 1


class Metrics:
    """The collector: register it with a prometheus_client registry (or use :func:`serve`).

    ``db_path``: the daemon's database (read-only here). ``platforms``: the daemon's
    platform states, ``[(platform, state)]``. ``from_start``: count the whole log rather than
    what is written from now on (tests, one-off exports).
    """

    def __init__(self, db_path: str | Path, *,
                 platforms: Callable[[], list[tuple[str, str]]] | None = None,
                 from_start: bool = False) -> None:
        self.db_path = str(db_path)
        self.platforms = platforms
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._last_id: int | None = 0 if from_start else None
        self.counters: dict[str, Counter[Labels]] = defaultdict(Counter)
        self.histograms: dict[str, dict[Labels, _Histogram]] = defaultdict(dict)
        self._hooks: dict[str, Counter[Labels]] = defaultdict(Counter)
        self._hook_sums: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))

    # -- hooks for the outbox and its limiters (thread-safe, cheap) --------------------------

    def retry(self, platform: str) -> None:
        """An outbox send will be tried again (a transient failure)."""
        with self._lock:
            self._hooks["outbox_retries"][(("platform", platform),)] += 1

    def rate_limit_wait(self, platform: str, seconds: float) -> None:
        """A send waited ``seconds`` for a platform's rate limit."""
        with self._lock:
            key = (("platform", platform),)
            self._hooks["ratelimit_waits"][key] += 1
            self._hook_sums["ratelimit_wait_seconds"][key] += seconds

    # -- reading the log -----------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            path = Path(self.db_path).resolve()
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                         check_same_thread=False)
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def update(self) -> None:
        """Count the events written since the last call."""
        with self._lock:
            self._update()

    def _update(self) -> None:
        conn = self._connection()
        if self._last_id is None:
            row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
            self._last_id = int(row[0])
            return
        while True:
            rows = conn.execute(
                "SELECT e.id, e.kind, e.actor, e.platform, e.data, e.at, q.created_at, "
                "q.platform FROM events e LEFT JOIN questions q ON q.id = e.question_id "
                "WHERE e.id > ? ORDER BY e.id LIMIT ?", (self._last_id, _CHUNK)).fetchall()
            for row in rows:
                self._count(*row)
            if rows:
                self._last_id = int(rows[-1][0])
            if len(rows) < _CHUNK:
                return

    def _count(self, _id: int, kind: str, actor: str | None, platform: str | None,
               data_text: str | None, at: float, created_at: float | None,
               q_platform: str | None) -> None:
        c = self.counters
        try:
            data = json.loads(data_text or "{}")
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        p = (("platform", str(q_platform or platform or "")),)
        if kind == "received":
            c["questions"][p] += 1
        elif kind == "followup":
            c["followups"][p] += 1
        elif kind == "offered":
            c["offers"][p] += 1
            c["offered_staff"][()] += len(data.get("staff") or [])
        elif kind == "claimed":
            c["claims"][p] += 1
            if created_at is not None:
                self._observe("claim_seconds", p, at - created_at)
        elif kind == "claim_refused":
            c["claims_refused"][()] += 1
        elif kind == "answered":
            if data.get("duplicate"):
                c["duplicate_answers"][()] += 1
            else:
                c["answers"][p] += 1
                if data.get("first") and created_at is not None:
                    self._observe("first_response_seconds", p, at - created_at)
        elif kind == "resolved":
            c["resolved"][()] += 1
        elif kind == "escalated":
            c["escalations"][(("reason", str(data.get("sla") or "other")),)] += 1
        elif kind == "lease_expired":
            c["leases_expired"][()] += 1
        elif kind == "moved_to_dm":
            c["moved_to_dm"][()] += 1
        elif kind == "policy_verdict":
            c["policy_verdicts"][(("rule", str(data.get("rule") or "")),
                                  ("action", str(data.get("action") or "")))] += 1
        elif kind == "policy_override":
            c["policy_overrides"][()] += 1
        elif kind in ("delivered", "delivery_failed", "delivery_uncertain"):
            result = {"delivered": "delivered", "delivery_failed": "failed"}.get(
                kind, "uncertain")
            c["outbox_sends"][(("platform", str(platform or "")), ("result", result))] += 1

    def _observe(self, name: str, labels: Labels, value: float) -> None:
        hist = self.histograms[name].get(labels)
        if hist is None:
            hist = self.histograms[name][labels] = _Histogram()
        hist.observe(max(0.0, value))

    # -- the collector protocol ----------------------------------------------------------------

    def describe(self) -> list[Any]:
        return []  # families vary with what the log holds: collected at scrape time

    def collect(self) -> Iterator[Any]:
        core = _client("prometheus_client.core")
        with self._lock:
            self._update()
            families = list(self._families(core))
        yield from families

    def _families(self, core: Any) -> Iterator[Any]:
        helps = {
            "questions": "Questions received", "followups": "Customer follow-ups",
            "offers": "Offer waves (staff channel posts and direct notifications)",
            "offered_staff": "Staff members offered questions directly",
            "claims": "Successful claims", "claims_refused": "Claims refused (taken)",
            "answers": "Answers sent (not duplicates)",
            "duplicate_answers": "Answers refused: someone else held the question",
            "resolved": "Questions resolved", "escalations": "Escalations to leads",
            "leases_expired": "Claims released when their lease ran out",
            "moved_to_dm": "Conversations moved to a private channel",
            "policy_verdicts": "Policy verdicts on texts", "policy_overrides": "Overrides",
            "outbox_sends": "Outbox sends by result",
        }
        for name, help_text in helps.items():
            yield from self._counter(core, name, help_text, self.counters.get(name, Counter()))
        for name, help_text in (("outbox_retries", "Outbox sends tried again"),
                                ("ratelimit_waits", "Sends that waited for a rate limit")):
            yield from self._counter(core, name, help_text, self._hooks.get(name, Counter()))
        waited = self._hook_sums.get("ratelimit_wait_seconds", {})
        yield from self._counter(core, "ratelimit_wait_seconds",
                                 "Seconds sends waited for rate limits", waited)
        for name, help_text in (
            ("first_response_seconds", "Time from a question to its first answer"),
            ("claim_seconds", "Time from a question to each claim"),
        ):
            fam = core.HistogramMetricFamily(f"helpforce_{name}", help_text,
                                             labels=["platform"])
            for labels, h in sorted(self.histograms.get(name, {}).items()):
                fam.add_metric([v for _, v in labels],
                               [(_le(edge), n) for edge, n in zip(BUCKETS, h.buckets,
                                                                  strict=True)]
                               + [("+Inf", h.count)], h.total)
            yield fam
        yield from self._gauges(core)

    @staticmethod
    def _counter(core: Any, name: str, help_text: str,
                 values: Mapping[Labels, float]) -> Iterator[Any]:
        label_names = sorted({k for labels in values for k, _ in labels})
        fam = core.CounterMetricFamily(f"helpforce_{name}", help_text, labels=label_names)
        if not values and not label_names:
            fam.add_metric([], 0)
        for labels, n in sorted(values.items()):
            d = dict(labels)
            fam.add_metric([d.get(k, "") for k in label_names], n)
        yield fam

    def _gauges(self, core: Any) -> Iterator[Any]:
        conn = self._connection()
        now = time.time()
        rows = core.GaugeMetricFamily("helpforce_outbox_rows", "Outbox rows by state",
                                      labels=["platform", "state"])
        marks = ",".join("?" * len(_OUTBOX_STATES))
        for platform, state, n in conn.execute(
                f"SELECT platform, state, COUNT(*) FROM outbox WHERE state IN ({marks}) "
                "GROUP BY platform, state", _OUTBOX_STATES):
            rows.add_metric([str(platform), str(state)], int(n))
        yield rows
        retrying = core.GaugeMetricFamily("helpforce_outbox_retrying",
                                          "Outbox rows waiting to be tried again",
                                          labels=["platform"])
        oldest = core.GaugeMetricFamily("helpforce_outbox_oldest_waiting_seconds",
                                        "Age of the oldest row waiting to be sent",
                                        labels=["platform"])
        for platform, n, first in conn.execute(
                "SELECT platform, SUM(attempts > 0), MIN(created_at) FROM outbox "
                "WHERE state IN ('pending', 'sending') GROUP BY platform"):
            retrying.add_metric([str(platform)], int(n or 0))
            oldest.add_metric([str(platform)], max(0.0, now - float(first)))
        yield retrying
        yield oldest
        connected = core.GaugeMetricFamily("helpforce_platform_connected",
                                           "1 if the platform's adapter is connected",
                                           labels=["platform"])
        state = core.GaugeMetricFamily("helpforce_platform_state",
                                       "The adapter's state (1 for the current one)",
                                       labels=["platform", "state"])
        for platform, s in (self.platforms() if self.platforms else []):
            connected.add_metric([platform], 1 if s == "connected" else 0)
            # a failure's reason can be long and varied: the label keeps only its kind
            state.add_metric([platform, s.split(":", 1)[0]], 1)
        yield connected
        yield state


def _le(edge: float) -> str:
    return f"{edge:g}" if edge != int(edge) else f"{int(edge)}.0"


class MetricsServer:
    """The HTTP endpoint (``/metrics``) in a thread, for ``helpforce run``."""

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 9464) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Start listening; returns the port (useful with port 0)."""
        client = _client()
        registry = client.CollectorRegistry(auto_describe=False)
        registry.register(self.metrics)
        self.metrics.update()  # counters start from the log's current end
        self._server, self._thread = client.start_http_server(
            self.port, addr=self.host, registry=registry)
        self.port = int(self._server.server_port)
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.metrics.close()


def render(metrics: Metrics) -> str:
    """The metrics in Prometheus' text format (what ``/metrics`` returns)."""
    client = _client()
    registry = client.CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    return str(client.generate_latest(registry).decode("utf-8"))
