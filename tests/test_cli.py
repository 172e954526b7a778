"""The command line, as users run it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE_CONFIG
from helpforce.cli import main


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpforce", *args], capture_output=True, text=True, check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = _cli("demo", "--config", str(EXAMPLE_CONFIG), "--questions", "12", "--json",
                  "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db, json.loads(result.stdout)


def test_demo_json_summary_answers_every_question(demo_db: tuple[Path, dict]) -> None:
    _, summary = demo_db
    assert summary["questions"] == 12
    assert summary["answered"] == 12
    assert summary["unanswered"] == 0
    assert isinstance(summary["policy_blocked"], int)
    by_staff = summary["by_staff"]
    assert sum(s["answered"] for s in by_staff.values()) >= 12
    roster_ids = {"jdiaz", "praman", "mellis", "sokafor", "lmoreno", "tgirard", "achen",
                  "mbell", "nkowalski", "dsantos", "cdubois", "rpatel"}
    assert by_staff and set(by_staff) <= roster_ids  # every claimer is named from the roster
    assert sum(s["claimed"] for s in by_staff.values()) == 12  # one claim per question


def test_questions_list_and_show_agree_with_the_summary(demo_db: tuple[Path, dict]) -> None:
    db, summary = demo_db
    listed = _cli("questions", "list", "--db", str(db), "--json", "--limit", "100")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == summary["questions"]
    claimed: dict[str, int] = {}
    for row in rows:
        shown = _cli("questions", "show", str(row["id"]), "--db", str(db), "--json")
        q = json.loads(shown.stdout)
        assert q["first_answer_at"] is not None
        assert len(q["claimed_by_history"]) == 1, q["events"]
        claimed[q["claimed_by_history"][0]] = claimed.get(q["claimed_by_history"][0], 0) + 1
        assert q["answered_by"], f"#{row['id']} has no named answerer"
        # the example routes post in the staff channel, except billing (direct offers only)
        assert q["offered_in"] in ([], ["local:staff"])
        assert q["offered_in"] or q["offered_to"]
    assert claimed == {k: v["claimed"] for k, v in summary["by_staff"].items()}


def test_questions_show_text_has_history(demo_db: tuple[Path, dict]) -> None:
    db, _ = demo_db
    out = _cli("questions", "show", "1", "--db", str(db))
    assert out.returncode == 0
    assert "claimed by:" in out.stdout and "Events:" in out.stdout and "received" in out.stdout


def test_unknown_question_and_missing_db_are_clear_errors(
    demo_db: tuple[Path, dict], tmp_path: Path
) -> None:
    db, _ = demo_db
    out = _cli("questions", "show", "9999", "--db", str(db))
    assert out.returncode != 0 and "no question #9999" in out.stderr
    missing = tmp_path / "nope.db"
    out = _cli("questions", "list", "--db", str(missing))
    assert out.returncode != 0 and f"{missing}: no database here" in out.stderr
    assert not missing.exists()  # a read command never creates a database


def test_database_newer_than_the_code_is_refused(
    tmp_path: Path, demo_db: tuple[Path, dict]
) -> None:
    db = tmp_path / "future.db"
    shutil.copy(demo_db[0], db)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    out = _cli("questions", "list", "--db", str(db))
    assert out.returncode != 0 and "newer than this helpforce" in out.stderr


def test_check_ok_and_errors_with_positions(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["check", str(EXAMPLE_CONFIG)])
    assert ok.exit_code == 0, ok.output
    broken = tmp_path / "cfg"
    shutil.copytree(EXAMPLE_CONFIG, broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    roster = broken / "roster.yaml"
    lines = roster.read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if "local: staff-pr" in line)
    lines[idx] = lines[idx].replace("local: staff-pr", "local: 'not valid id!'")
    roster.write_text("\n".join(lines) + "\n")
    (broken / "helpforce.yaml").write_text(
        (broken / "helpforce.yaml").read_text().replace("notify_limit: 5", "notify_limit: lots")
    )
    bad = runner.invoke(main, ["check", str(broken)])
    assert bad.exit_code == 1
    out = bad.output.splitlines()
    limit_line = next(i for i, line in enumerate(
        (broken / "helpforce.yaml").read_text().splitlines()) if "notify_limit:" in line)
    assert out == [
        f"{broken}/helpforce.yaml:{limit_line + 1}:17: desk.notify_limit: "
        "expected a whole number, got 'lots'",
        f"{broken}/roster.yaml:{idx + 1}:{lines[idx].index(chr(39)) + 1}: "
        "staff[1].accounts.local: expected a local user id (letters, digits, _.:-), "
        "got 'not valid id!'",
    ]


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    broken = tmp_path / "cfg"
    shutil.copytree(EXAMPLE_CONFIG, broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (broken / "policies.yaml").write_text("packs:\n  privacy: {\n")
    out = CliRunner().invoke(main, ["check", str(broken)])
    assert out.exit_code == 1
    assert out.output.startswith(f"{broken}/policies.yaml:3:1: YAML syntax error: "), out.output


def test_roster_json_lists_staff_by_immutable_ids() -> None:
    out = CliRunner().invoke(main, ["roster", "--config", str(EXAMPLE_CONFIG), "--json",
                                    "--db", "/nonexistent/helpforce.db"])
    # --db pointing nowhere is an error, not an empty database
    assert out.exit_code != 0
    out = CliRunner().invoke(main, ["roster", "--config", str(EXAMPLE_CONFIG), "--json"])
    assert out.exit_code == 0, out.output
    staff = json.loads(out.output)
    jd = next(s for s in staff if s["id"] == "jdiaz")
    assert jd["accounts"] == {"local": "staff-jd"} and jd["role"] == "lead"


def test_help_and_module_entry() -> None:
    out = _cli("--help")
    assert out.returncode == 0
    for command in ("run", "demo", "check", "questions", "roster"):
        assert command in out.stdout
