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
def run(config_dir: str | None, db: str | None, watch: bool) -> None:
    """Run the daemon until SIGINT or SIGTERM."""
    from helpforce.app import AlreadyRunning, App

    config = _load(config_dir)
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
                await stop.wait()
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


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
