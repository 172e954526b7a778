"""The ``helpforce`` command.

Read commands print tables for people and, with ``--json``, JSON for programs. Every command
that opens the database takes ``--db`` (default: ``storage.path`` in helpforce.yaml).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from helpforce import __version__
from helpforce.config import Config, ConfigErrors, check_config, default_config_dir, load_config
from helpforce.store import Store, StoreError

T = TypeVar("T")

CONFIG_HELP = (
    "Directory with helpforce.yaml, roster.yaml and policies.yaml "
    "[default: ./config if present, else the built-in example]."
)
DB_HELP = "SQLite database [default: storage.path from helpforce.yaml]."


def _config_dir(value: str | None) -> Path:
    return Path(value) if value else default_config_dir()


def _load(config_dir: str | None) -> Config:
    directory = _config_dir(config_dir)
    try:
        return load_config(directory)
    except ConfigErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        raise SystemExit(1) from None


def _run(coro: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await coro

    try:
        return asyncio.run(wrapper())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="helpforce")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="How much the daemon logs (to stderr). Customer texts are never logged.")
def main(log_level: str) -> None:
    """helpforce: a crowd-staffed helpdesk. Customers ask on X, Discord, Telegram or the local
    platform; staff from the roster claim and answer from their own accounts; every reply is
    checked against the guideline policies; who claimed and answered what is recorded."""
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.argument("config_dir", required=False, type=click.Path(file_okay=False))
def check(config_dir: str | None) -> None:
    """Validate CONFIG_DIR (helpforce.yaml, roster.yaml, policies.yaml).

    Prints each problem as FILE:LINE:COL: field: message and exits 1 if there is any.
    """
    directory = _config_dir(config_dir)
    errors = check_config(directory)
    for error in errors:
        click.echo(str(error))
    if errors:
        raise SystemExit(1)
    click.echo(f"{directory}: OK")


@main.command()
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--db", help=DB_HELP)
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Apply edits of roster.yaml, routing.yaml and policies.yaml (and desk "
                   "settings) while running; an invalid edit is reported and ignored.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics on this port (/metrics) [default: off]; needs "
                   "pip install 'helpforce[metrics]'.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address the metrics endpoint listens on (keep it local unless a "
                   "firewall or proxy guards it).")
def run(config_dir: str | None, db: str | None, watch: bool, metrics_port: int | None,
        metrics_host: str) -> None:
    """Run the daemon until SIGINT or SIGTERM."""
    from helpforce.app import AlreadyRunning, App
    from helpforce.status import StatusWriter

    config = _load(config_dir)
    if metrics_port is not None:
        from helpforce.metrics import MetricsUnavailable, _client

        try:
            _client()
        except MetricsUnavailable as exc:
            raise click.ClickException(str(exc)) from None
    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger("helpforce").setLevel(logging.INFO)

    async def daemon() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            async with App(config, db_path=db, watch=watch) as app:
                for state in app.platform_states():
                    logging.getLogger("helpforce").info("%s: %s", state.platform, state.state)
                # what `helpforce status` reads of the running daemon
                status = StatusWriter(app.db_path, lambda: [
                    (s.platform, s.state) for s in app.platform_states()])
                status.start()
                exporter = None
                if metrics_port is not None:
                    from helpforce.metrics import Metrics, MetricsServer

                    metrics = Metrics(app.db_path, platforms=lambda: [
                        (s.platform, s.state) for s in app.platform_states()])
                    if app.outbox is not None:
                        # what the event log does not hold: retries and rate-limit waits
                        app.outbox.on_retry = metrics.retry
                        app.outbox.on_wait = metrics.rate_limit_wait
                    exporter = MetricsServer(metrics, metrics_host, metrics_port)
                    try:
                        port = exporter.start()
                    except OSError as exc:
                        raise click.ClickException(
                            f"metrics: cannot listen on {metrics_host}:{metrics_port}: "
                            f"{exc.strerror or exc}") from None
                    logging.getLogger("helpforce").info(
                        "metrics on http://%s:%d/metrics", metrics_host, port)
                try:
                    await stop.wait()
                finally:
                    if exporter is not None:
                        exporter.stop()
                    await status.stop()
        except AlreadyRunning as exc:
            raise click.ClickException(str(exc)) from None

    _run(daemon())


@main.command()
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--questions", "-n", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="How many simulated customer questions.")
@click.option("--json", "as_json", is_flag=True, help="Print only the summary, as one JSON object.")
@click.option("--db", help="Database to write [default: a new temporary file, kept afterwards].")
@click.option("--seed", default=7, show_default=True, help="Seed for the simulated people.")
@click.option("--timeout", default=60.0, show_default=True, help="Give up after this many seconds.")
def demo(config_dir: str | None, questions: int, as_json: bool, db: str | None, seed: int,
         timeout: float) -> None:
    """Run the real daemon on the local platform with simulated customers and staff.

    Shows live what happens and ends with a summary. The demo never writes to the deployment's
    database unless you pass --db.
    """
    config = _load(config_dir)
    demo_mod = importlib.import_module("helpforce.adapters.local.demo")
    opts = demo_mod.DemoOptions(questions=questions, seed=seed, as_json=as_json, timeout=timeout,
                                db=db)
    result: dict[str, Any] = _run(demo_mod.run_demo(config, opts))
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    if result["unanswered"]:
        raise SystemExit(2)


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: every question and the summary.")
@click.option("--db", help="Keep the simulated day's database in this new file, for `helpforce "
              "questions show` [default: a temporary file, deleted afterwards].")
@click.option("--timeline", default=200, show_default=True, type=click.IntRange(0, None),
              help="Timeline lines to show without --json (0: the summary only).")
@click.option("--channel-claimers", default=3, show_default=True, type=click.IntRange(0, 50),
              help="For each staff-channel post, how many of the quickest available matching "
                   "staff try to claim it.")
@click.option("--racers", default=2, show_default=True, type=click.IntRange(1, 50),
              help="At most this many staff claim one question at the same instant (one "
                   "wins; the others would only be told who has it).")
def simulate(scenario: str, config_dir: str | None, as_json: bool, db: str | None,
             timeline: int, channel_claimers: int, racers: int) -> None:
    """Play SCENARIO (a YAML file: staff behaviour, questions, roster changes) through the real
    desk, routing, store, timers and outbox on a virtual clock, and show how the roster copes.

    Questions appear to come from X, Telegram, Discord or the local platform; each is played
    by a local platform with that platform's limits (X: 280 characters, 100 posts per 15
    minutes; Telegram: 30 messages/s, 1/s per chat; Discord: 50/s). Staff claim, answer and
    resolve from their roster accounts after the delays the scenario gives them. A day takes
    seconds. Prints a timeline and a summary, or with --json one object with `questions` and
    `summary`. Scenario mistakes are reported as FILE:LINE:COL: field: message (exit 1).
    """
    sim_mod = importlib.import_module("helpforce.adapters.local.simulate")
    scenario_mod = importlib.import_module("helpforce.adapters.local.scenario")
    path = Path(scenario)
    if not path.is_file():
        raise click.ClickException(f"{scenario}: no such scenario file")
    if db is not None and Path(db).exists():
        raise click.ClickException(f"{db}: already exists; give --db a new file (a simulated "
                                   "day never writes into an existing database)")
    try:
        config = sim_mod.load_sim_config(_config_dir(config_dir))
        loaded = scenario_mod.load_scenario(path, roster=config.roster,
                                            factories=sim_mod.factories())
    except ConfigErrors as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        raise SystemExit(1) from None
    opts = sim_mod.SimOptions(db=db, channel_claimers=channel_claimers, racers=racers,
                              timeline=0 if as_json else timeline)
    sim, report = _run(sim_mod.simulate(loaded, config, opts))
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
    else:
        sim_mod.print_report(sim, report, sys.stdout)


async def _with_store(path: str, fn: Callable[[Store], Awaitable[T]]) -> T:
    store = Store(path, readonly=True)
    await store.open()
    try:
        return await fn(store)
    finally:
        await store.close()


def _db_path(config_dir: str | None, db: str | None) -> str:
    if db:
        return db
    return _load(config_dir).settings.storage.path


@main.group()
def questions() -> None:
    """Look at questions: who was offered, who claimed, who answered, and when."""


@questions.command("list")
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--db", help=DB_HELP)
@click.option("--state", help="Only questions in this state (new, offered, claimed, answered, "
              "awaiting_customer, moved_to_dm, escalated, resolved).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def questions_list(config_dir: str | None, db: str | None, state: str | None, limit: int,
                   as_json: bool) -> None:
    """The newest questions."""
    from helpforce.models import State
    from helpforce.queries import list_questions

    if state is not None and state not in {s.value for s in State}:
        raise click.BadParameter(f"unknown state {state!r}", param_hint="--state")
    rows = _run(_with_store(_db_path(config_dir, db),
                            lambda s: list_questions(s, state=state, limit=limit)))
    if as_json:
        _json(rows)
        return
    from helpforce.texts import preview

    click.echo(_table(
        ["id", "platform", "customer", "state", "claimed by", "asked", "first answer", "text"],
        [[r["id"], r["platform"], "@" + r["customer_handle"], r["state"], r["claimed_by"] or "-",
          _time(r["created_at"]), _time(r["first_answer_at"]), preview(r["text"] or "", 50)]
         for r in rows],
    ))


@questions.command("show")
@click.argument("question_id", type=int)
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--db", help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def questions_show(question_id: int, config_dir: str | None, db: str | None,
                   as_json: bool) -> None:
    """One question: its conversation and full event history."""
    from helpforce.queries import show_question

    q = _run(_with_store(_db_path(config_dir, db), lambda s: show_question(s, question_id)))
    if q is None:
        raise click.ClickException(f"no question #{question_id}")
    if as_json:
        _json(q)
        return
    click.echo(f"#{q['id']} · {q['platform']} · @{q['customer_handle']} · {q['state']}")
    click.echo(f"  offered in:   {', '.join(q['offered_in']) or '-'}")
    click.echo(f"  offered to:   {', '.join(q['offered_to']) or '-'}")
    click.echo(f"  claimed by:   {', '.join(q['claimed_by_history']) or '-'}"
               f" (now: {q['claimed_by'] or 'nobody'})")
    click.echo(f"  answered by:  {', '.join(q['answered_by']) or '-'}")
    click.echo(f"  asked {_time(q['created_at'])}, first answer {_time(q['first_answer_at'])}, "
               f"resolved {_time(q['resolved_at'])}")
    click.echo("\nConversation:")
    for m in q["messages"]:
        if m["kind"] in ("question", "followup", "answer", "dm", "moved_public"):
            who = "customer" if m["direction"] == "in" else (m["staff_id"] or "bot")
            click.echo(f"  {_time(m['at'])}  {who:<10} {m['visibility']:<7} {m['text']}")
    click.echo("\nEvents:")
    click.echo(_table(
        ["time", "event", "actor", "platform", "details"],
        [[_time(e["at"]), e["kind"], e["actor"] or "", e["platform"] or "",
          json.dumps(e["data"], sort_keys=True)] for e in q["events"]],
    ))


@main.command()
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--db", help="Also show open claims from this database "
              "[default: storage.path, if it exists].")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def roster(config_dir: str | None, db: str | None, as_json: bool) -> None:
    """The staff on the roster, their accounts and open claims, and accounts the desk cannot
    reach privately (e.g. a Telegram account that never started the bot)."""
    from helpforce.queries import open_claims, unreachable

    config = _load(config_dir)
    path = db or config.settings.storage.path
    claims: dict[str, int] = {}
    refused: dict[tuple[str, str], str] = {}
    if db or os.path.isfile(path):
        claims = _run(_with_store(path, open_claims))
        refused = _run(_with_store(path, unreachable))
    staff: list[dict[str, Any]] = [
        {"id": s.id, "name": s.name, "initials": s.initials, "role": s.role.value,
         "skills": list(s.skills), "languages": list(s.languages),
         "accounts": dict(s.accounts), "notify": list(s.notify),
         "max_open_claims": s.max_open_claims, "open_claims": claims.get(s.id, 0),
         "unreachable": {p: refused[(p, u)] for p, u in s.accounts.items() if (p, u) in refused}}
        for s in config.roster.staff
    ]
    if as_json:
        _json(staff)
        return
    click.echo(_table(
        ["id", "name", "role", "skills", "accounts", "notify", "claims"],
        [[s["id"], f"{s['name']} (^{s['initials']})", s["role"], ",".join(s["skills"]) or "-",
          " ".join(f"{p}:{u}" + (" (unreachable)" if p in s["unreachable"] else "")
                   for p, u in s["accounts"].items()),
          ",".join(s["notify"]) or "-",
          f"{s['open_claims']}/{s['max_open_claims']}"] for s in staff],
    ))
    cut_off = [(s, p, why) for s in staff for p, why in s["unreachable"].items()]
    if cut_off:
        click.echo("\nCannot be messaged privately (they must write to the bot first):")
        for s, p, why in cut_off:
            hint = " (has not started the bot, or blocked it)" if p == "telegram" else ""
            click.echo(f"  {s['id']} on {p}{hint}: {why}")


@main.group()
def policy() -> None:
    """Check texts against the guideline policies, run the rules' examples, measure them."""


def _engine(config_dir: str | None, all_packs: bool = False) -> Any:
    from helpforce.policy import PolicyError, load_engine

    config = _load(config_dir)
    packs: dict[str, Any] = dict(config.policies.packs)
    if all_packs:
        available = importlib.import_module("helpforce.policies").available_packs()
        packs = {name: packs.get(name, {}) for name in available}
    try:
        return load_engine(packs, config.policies.rules)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None


@policy.command("check")
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--direction", type=click.Choice(["out", "in"]), default="out", show_default=True)
@click.option("--visibility", type=click.Choice(["public", "private"]), default="public",
              show_default=True)
@click.option("--platform", default="local", show_default=True)
@click.option("--role", type=click.Choice(["agent", "lead", "manager", "customer", "bot"]),
              help="Who writes [default: agent for out, customer for in].")
def policy_check(config_dir: str | None, direction: str, visibility: str, platform: str,
                 role: str | None) -> None:
    """Check each line of stdin: plain text, or a JSON object with "text" and optional
    "direction", "visibility", "platform". Writes one JSON verdict per line: "action",
    "allowed" (false for block and move_to_dm), "rules", "reasons", and "suggestion"."""
    from helpforce.policytools import parse_line

    engine = _engine(config_dir)
    for line in sys.stdin:
        if not line.strip():
            continue
        text, ctx = parse_line(line, direction=direction, visibility=visibility,
                               platform=platform, role=role)
        click.echo(json.dumps(engine.check(text, ctx).to_json(), ensure_ascii=False))


@policy.command("test")
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--all-packs", is_flag=True,
              help="Test every shipped pack, not only those policies.yaml enables.")
@click.option("--verbose", "-v", is_flag=True, help="List every example.")
def policy_test(config_dir: str | None, all_packs: bool, verbose: bool) -> None:
    """Run every rule's examples (the packs' and the managers' own); exit 1 on any miss."""
    from helpforce.policytools import run_examples

    results = run_examples(_engine(config_dir, all_packs))
    failed = [r for r in results if not r.ok]
    for r in results:
        if verbose or not r.ok:
            what = "should trigger" if r.expected == "trigger" else "should not trigger"
            click.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.rule_id}: {what}: {r.text!r}")
    rules = len({r.rule_id for r in results})
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed "
               f"({len(results)} examples of {rules} rules)")
    if failed:
        raise SystemExit(1)


@policy.command("eval")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@click.option("--misses", is_flag=True, help="Also list the texts it got wrong.")
def policy_eval(labelled: str, config_dir: str | None, as_json: bool, misses: bool) -> None:
    """Precision and recall per label on LABELLED, a TSV of LABEL<TAB>TEXT lines.

    Labels: public_ask, dm_ask, secret_ask, data_exposed, harmless (replies staff write) and
    customer_data, customer_clean (customers' public posts)."""
    from helpforce.policytools import evaluate, read_labelled

    engine = _engine(config_dir)
    try:
        report = evaluate(engine, list(read_labelled(Path(labelled))))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _json(report if misses else {k: v for k, v in report.items() if k != "misses"})
        return
    click.echo(_table(
        ["label", "n", "recall"],
        [[k, v["n"], f"{v['recall']:.1%}"] for k, v in report["labels"].items()],
    ))
    click.echo("")
    click.echo(_table(
        ["predicted", "n", "precision"],
        [[k, v["predicted"], f"{v['precision']:.1%}"] for k, v in report["outcomes"].items()],
    ))
    for key in ("public_asks_caught", "dm_asks_and_harmless_allowed"):
        if report[key] is not None:
            click.echo(f"{key.replace('_', ' ')}: {report[key]:.1%}")
    if misses:
        for m in report["misses"]:
            click.echo(f"MISS {m['label']} -> {m['predicted']}: {m['text']}")


# -- what managers and operators see: reports, status, audit, export, retention -------------


def _duration(value: str, option: str) -> float:
    from helpforce.config import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError:
        raise click.BadParameter(f"expected a duration like 90d, 24h or 30m, got {value!r}",
                                 param_hint=option) from None
    if seconds <= 0:
        raise click.BadParameter("must be longer than 0s", param_hint=option)
    return seconds


def _period(config: Config, since: str | None, date_from: str | None, date_to: str | None,
            now: float) -> Any:
    from helpforce.report import Period, parse_when

    tz = config.routing.timezone
    if since is not None and (date_from or date_to):
        raise click.UsageError("give --since, or --from/--to, not both")
    try:
        if date_from or date_to:
            end = parse_when(date_to, tz, end=True) if date_to else now
            start = parse_when(date_from, tz) if date_from else end - 7 * 86400
        else:
            end = now
            start = now - _duration(since or "7d", "--since")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from/--to") from None
    if start >= end:
        raise click.BadParameter(f"the period ends before it starts ({date_from} – {date_to})",
                                 param_hint="--from/--to")
    return Period(start, end, tz)


@main.command()
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--db", help=DB_HELP)
@click.option("--since", metavar="DURATION",
              help="Questions asked in the last DURATION (24h, 7d, 30d) [default: 7d].")
@click.option("--from", "date_from", metavar="DATE",
              help="Questions asked from DATE (2026-11-01, or 2026-11-01T09:00; in "
                   "routing.yaml's timezone unless an offset is given).")
@click.option("--to", "date_to", metavar="DATE",
              help="…up to DATE (a date: that whole day included) [default: now].")
@click.option("--platform", help="Only questions asked on this platform.")
@click.option("--tag", help="Only questions with this tag.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False),
              help="Also write the report with charts as one self-contained HTML file "
                   "(needs matplotlib: pip install 'helpforce[reports]').")
def report(config_dir: str | None, db: str | None, since: str | None, date_from: str | None,
           date_to: str | None, platform: str | None, tag: str | None, as_json: bool,
           html_file: str | None) -> None:
    """Who claimed and answered what, and how fast: volume by platform and tag, time to first
    response and to resolution (p50, p90, max) against the SLA targets, unanswered and
    escalated questions, per-staff figures, policy verdicts by rule, moves to DM.

    Counts the questions asked in the period from their events, as `questions show` shows
    them. Read-only; works while the daemon runs.
    """
    import time

    from helpforce import report as report_mod

    config = _load(config_dir)
    now = time.time()
    period = _period(config, since, date_from, date_to, now)
    if html_file is not None:
        from helpforce.charts import ChartsUnavailable, require

        try:
            require()
        except ChartsUnavailable as exc:
            raise click.ClickException(str(exc)) from None
    path = db or config.settings.storage.path
    data: dict[str, Any] = _run(_with_store(path, lambda s: report_mod.build(
        s, config, period, now, platform=platform, tag=tag)))
    if html_file is not None:
        from helpforce.report_html import render

        try:
            Path(html_file).write_text(render(data), encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"{html_file}: cannot write: {exc.strerror}") from None
    if as_json:
        _json(data)
    else:
        for part in report_mod.render_text(data):
            if isinstance(part, str):
                click.echo(part)
            else:
                title, headers, rows = part
                click.echo(f"\n{title}:")
                click.echo(_table(headers, rows) if rows else "  none")
    if html_file is not None:
        click.echo(f"wrote {html_file}", err=as_json)


@main.command()
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--db", help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.option("--watch", is_flag=True, help="Keep the view on screen, refreshed (Ctrl-C ends).")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.2, 3600),
              help="Seconds between refreshes with --watch.")
def status(config_dir: str | None, db: str | None, as_json: bool, watch: bool,
           interval: float) -> None:
    """The desk now: the daemon and its platforms (connected, or failing and why), questions
    by state, the oldest unclaimed question and its age, staff available now, the outbox's
    backlog and failures. Read-only; works whether the daemon runs or not."""
    import time

    from helpforce import status as status_mod

    config = _load(config_dir)
    path = db or config.settings.storage.path

    async def once() -> dict[str, Any]:
        return await _with_store(path, lambda s: status_mod.collect(s, config, path,
                                                                     time.time()))

    if not watch:
        data = _run(once())
        if as_json:
            _json(data)
        else:
            click.echo(status_mod.render(data))
        return

    async def loop() -> None:
        while True:
            data = await once()
            text = json.dumps(data, sort_keys=True) if as_json else status_mod.render(data)
            if as_json:
                click.echo(text)
            else:
                click.clear()
                stamp = dt.datetime.now().strftime("%H:%M:%S")
                click.echo(f"helpforce status · {stamp} · every {interval:g}s (Ctrl-C ends)\n")
                click.echo(text)
            await asyncio.sleep(interval)

    try:
        _run(loop())
    except KeyboardInterrupt:
        pass


@main.group()
def audit() -> None:
    """The tamper-evident event log: every event carries the hash of the one before."""


@audit.command("verify")
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--db", help=DB_HELP)
@click.option("--expect", "expect", multiple=True, metavar="ID:HASH",
              help="A head recorded earlier (as this command prints it): the event must "
                   "still have that hash. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def audit_verify(config_dir: str | None, db: str | None, expect: tuple[str, ...],
                 as_json: bool) -> None:
    """Check every event against its hash and the one before it. Names each event that was
    edited, deleted (also from the end) or inserted, and exits 1; prints the chain's head
    (keep it somewhere else: with --expect it proves the log was not rewritten since)."""
    from helpforce.audit import parse_head, verify

    try:
        heads = [parse_head(e) for e in expect]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect") from None
    path = _db_path(config_dir, db)
    verdict = _run(_with_store(path, lambda s: verify(s, heads)))
    if as_json:
        _json(verdict.to_json())
    else:
        for problem in verdict.problems:
            click.echo(f"{path}: {problem}")
        what = (f"{verdict.events} events ({verdict.sealed} sealed, {verdict.redacted} "
                f"redacted by {verdict.purges} purges)")
        if verdict.ok:
            click.echo(f"OK: {what}; the chain is intact")
        else:
            click.echo(f"FAILED: {len(verdict.problems)} problems in {what}")
        click.echo(f"head: {verdict.head_id}:{verdict.head_hash}")
    if not verdict.ok:
        raise SystemExit(1)


@main.command("export")
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--db", help=DB_HELP)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), required=True,
              help="JSON Lines or CSV.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory to write questions.FORMAT, events.FORMAT and manifest.json to.")
@click.option("--force", is_flag=True, help="Overwrite an earlier export in --out.")
def export_cmd(config_dir: str | None, db: str | None, fmt: str, out_dir: str,
               force: bool) -> None:
    """Write every question and event for archives, with a manifest (counts, the audit
    chain's head, each file's SHA-256). Read-only; works while the daemon runs."""
    import time

    from helpforce.export import ExportError, export

    path = _db_path(config_dir, db)
    try:
        manifest = _run(_with_store(path, lambda s: export(s, Path(out_dir), fmt,
                                                             now=time.time(), force=force)))
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{out_dir}: {exc.strerror or exc}") from None
    head = manifest["audit_head"]
    click.echo(f"wrote {manifest['questions']} questions and {manifest['events']} events to "
               f"{out_dir}" + (f" (audit head {head['id']}:{head['hash']})" if head else ""))


@main.command()
@click.option("--config", "config_dir", help=CONFIG_HELP)
@click.option("--db", help=DB_HELP)
@click.option("--older-than", "older_than", required=True, metavar="DURATION",
              help="Purge questions resolved longer ago than this (e.g. 90d).")
@click.option("--dry-run", is_flag=True, help="Only say what would be purged.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def purge(config_dir: str | None, db: str | None, older_than: str, dry_run: bool, yes: bool,
          as_json: bool) -> None:
    """Retention: remove customers' texts, handles and ids from questions resolved longer
    ago than --older-than (their messages, outbox payloads, and the customer part of their
    events), keeping every figure: states, times, staff, tags, verdicts. The audit chain
    stays verifiable; the purge itself is recorded in it. Stop the daemon first."""
    import time

    from helpforce.purge import PurgeLocked, preview, writer_lock
    from helpforce.purge import purge as do_purge

    seconds = _duration(older_than, "--older-than")
    path = _db_path(config_dir, db)
    now = time.time()
    if not os.path.isfile(path):
        raise click.ClickException(f"{path}: no database here (pass --db)")
    plan = _run(_with_store(path, lambda s: preview(s, older_than=seconds, now=now)))
    cutoff = _time(plan.cutoff)
    if dry_run or not (plan.questions or plan.events or plan.messages or plan.outbox):
        if as_json:
            _json(plan.to_json())
        else:
            click.echo(f"{'would purge' if dry_run else 'nothing to purge:'} "
                       f"{len(plan.questions)} questions resolved before {cutoff}, "
                       f"{plan.messages} message texts, {plan.outbox} outbox payloads, "
                       f"{plan.events} events' customer parts")
        return
    if not yes:
        click.confirm(f"Purge {len(plan.questions)} questions resolved before {cutoff} "
                      f"({plan.messages} message texts, {plan.outbox} outbox payloads, "
                      f"{plan.events} events' customer parts)? This cannot be undone",
                      abort=True)

    async def run_purge() -> Any:
        async with Store(path) as store:
            return await do_purge(store, older_than=seconds, now=now)

    try:
        with writer_lock(path):
            result = _run(run_purge())
    except PurgeLocked as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _json(result.to_json())
    else:
        click.echo(f"purged {len(result.questions)} questions resolved before {cutoff}: "
                   f"{result.messages} message texts, {result.outbox} outbox payloads, "
                   f"{result.events} events' customer parts; recorded as event "
                   f"#{result.event_id}")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
