"""Prometheus metrics: counters and histograms from the tail of the event log, gauges from the
outbox and the daemon's platforms; an endpoint on localhost; a clear word when the client
library is missing."""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path

import pytest
from test_report import T0, _fixture

from helpforce.store import Store, Tx

pytest.importorskip("prometheus_client")

from helpforce.metrics import Metrics, MetricsServer, MetricsUnavailable, render  # noqa: E402


def _value(text: str, sample: str) -> float:
    """The value of one sample line (``name{labels}``) in Prometheus' text format."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in:\n{text}")


async def test_metrics_count_the_event_log(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    await _fixture(db)
    metrics = Metrics(db, from_start=True, platforms=lambda: [
        ("telegram", "connected"), ("discord", "failing: LoginFailure: bad token")])
    text = render(metrics)
    # the fixture: six questions (x: #1, #3, #6; telegram #2; local #4; discord #5)
    assert _value(text, 'helpforce_questions_total{platform="x"}') == 3
    assert _value(text, 'helpforce_questions_total{platform="telegram"}') == 1
    assert _value(text, 'helpforce_claims_total{platform="telegram"}') == 2
    assert _value(text, "helpforce_duplicate_answers_total") == 1
    assert _value(text, "helpforce_leases_expired_total") == 1
    assert _value(text, 'helpforce_escalations_total{reason="first_response"}') == 1
    assert _value(text, 'helpforce_policy_verdicts_total{action="block",'
                        'rule="privacy.ask-in-public"}') == 1
    assert _value(text, "helpforce_policy_overrides_total") == 1
    # first answers after 600 s (#6), 300 s (#1), 1800 s (#2), 1200 s (#4), 4200 s (#5)
    assert _value(text, 'helpforce_first_response_seconds_count{platform="x"}') == 2
    assert _value(text, 'helpforce_first_response_seconds_sum{platform="x"}') == 900
    assert _value(text, 'helpforce_first_response_seconds_bucket{le="300.0",platform="x"}') == 1
    assert _value(text, 'helpforce_first_response_seconds_bucket{le="+Inf",platform="x"}') == 2
    assert _value(text, 'helpforce_platform_connected{platform="telegram"}') == 1
    assert _value(text, 'helpforce_platform_connected{platform="discord"}') == 0
    assert _value(text, 'helpforce_platform_state{platform="discord",state="failing"}') == 1
    assert "bad token" not in text  # a failure's reason stays out of label values

    # new events are counted at the next scrape, once
    async with Store(db) as store:
        async def step(tx: Tx) -> None:
            tx.insert("events", {"question_id": 3, "at": T0 + 3 * 86400, "kind": "claimed",
                                 "actor": "jdiaz", "platform": "x", "data": "{}"})
            tx.insert("events", {"question_id": None, "at": T0 + 3 * 86400,
                                 "kind": "delivered", "actor": None, "platform": "x",
                                 "data": json.dumps({"outbox": 1})})
            tx.insert("outbox", {"id": tx.new_id("outbox"), "key": "hf1", "platform": "x",
                                 "payload": "{}", "state": "pending", "attempts": 2,
                                 "due_at": T0, "created_at": T0})

        await store.transaction(step)
    metrics.retry("x")
    metrics.rate_limit_wait("x", 1.5)
    again = render(metrics)
    assert _value(again, 'helpforce_claims_total{platform="x"}') == \
        _value(text, 'helpforce_claims_total{platform="x"}') + 1
    assert _value(again, 'helpforce_outbox_sends_total{platform="x",result="delivered"}') == 1
    assert _value(again, 'helpforce_outbox_rows{platform="x",state="pending"}') == 1
    assert _value(again, 'helpforce_outbox_retrying{platform="x"}') == 1
    assert _value(again, 'helpforce_outbox_retries_total{platform="x"}') == 1
    assert _value(again, 'helpforce_ratelimit_wait_seconds_total{platform="x"}') == 1.5
    assert _value(render(metrics), 'helpforce_claims_total{platform="x"}') == \
        _value(again, 'helpforce_claims_total{platform="x"}')
    metrics.close()


def test_the_endpoint_serves_on_localhost_from_the_logs_end(tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "m.db"
    asyncio.run(_fixture(db))
    server = MetricsServer(Metrics(db), "127.0.0.1", 0)
    port = server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            assert resp.status == 200
            body = resp.read().decode()
    finally:
        server.stop()
    assert server.host == "127.0.0.1"
    # counting starts where the log ends: what was there before is not counted again
    assert not re.search(r'^helpforce_questions_total\{', body, flags=re.M)
    assert "helpforce_outbox_rows" in body


def test_missing_client_library_is_explained(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(MetricsUnavailable, match=r"pip install 'helpforce\[metrics\]'"):
        render(Metrics(tmp_path / "none.db"))
