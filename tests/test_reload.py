"""Live config reload with a real watcher on a temporary config directory: edits are applied
once, bad edits are reported with FILE:LINE:COL and change nothing, atomic saves and swapped
directories are seen, other files are ignored, and nothing a manager saves stops the watcher.

No fixed sleeps: each test waits for the callbacks (at most 10 s); that something did NOT
happen is shown by a later, valid edit being the only thing applied.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from helpforce.config import Config, ConfigErrors, load_config
from helpforce.reload import TASK_NAME, ConfigWatcher, describe_change, files_digest

EXAMPLE = Path(__file__).resolve().parent.parent / "config"
WAIT = 10.0

MELLIS_CLAIMS = "    max_open_claims: 3\n"  # Morgan Ellis's, in the example roster


class Calls:
    """The watcher's callbacks, recording what they were given."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.applied: list[Config] = []
        self.rejected: list[ConfigErrors] = []
        self.loads = 0
        self.fail_load = 0
        self.fail_apply = 0
        self.fail_reject = 0
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def load(self) -> Config:  # in a worker thread
        self.loads += 1
        if self.fail_load:
            self.fail_load -= 1
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._changed.set)
            raise RuntimeError("disk on fire")
        return load_config(self.config_dir, env={})

    async def apply(self, config: Config) -> None:
        self.applied.append(config)
        self._changed.set()
        if self.fail_apply:
            self.fail_apply -= 1
            raise RuntimeError("apply broke")

    async def reject(self, errors: ConfigErrors) -> None:
        self.rejected.append(errors)
        self._changed.set()
        if self.fail_reject:
            self.fail_reject -= 1
            raise RuntimeError("reporting broke")

    async def until(self, done: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not done():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), WAIT)

    def watcher(self, current: Config | None = None) -> ConfigWatcher:
        self._loop = asyncio.get_running_loop()
        return ConfigWatcher(
            self.config_dir,
            self.load,
            self.apply,
            self.reject,
            current_hash=None if current is None else current.files_hash,
            debounce_ms=100,
        )


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    target.mkdir()
    for path in EXAMPLE.glob("*.yaml"):
        shutil.copy(path, target)
    return target


@pytest.fixture
def initial(config_dir: Path) -> Config:
    return load_config(config_dir, env={})


@pytest.fixture
def calls(config_dir: Path) -> Calls:
    return Calls(config_dir)


@pytest.fixture
async def watcher(calls: Calls, initial: Config) -> AsyncIterator[ConfigWatcher]:
    w = calls.watcher(initial)
    await w.start()
    yield w
    await w.stop()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def claims(config: Config, staff_id: str = "mellis") -> int:
    member = config.roster.get(staff_id)
    assert member is not None
    return member.max_open_claims


def watch_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == TASK_NAME]


# --- the watcher -----------------------------------------------------------------------------


async def test_an_edit_is_applied_once(
    watcher: ConfigWatcher, calls: Calls, config_dir: Path, initial: Config
) -> None:
    assert calls.applied == []  # the config in use is not applied again
    roster = config_dir / "roster.yaml"
    edit(roster, MELLIS_CLAIMS, "    max_open_claims: 4\n")
    await calls.until(lambda: len(calls.applied) >= 1)
    first = calls.applied[0]
    assert first.files_hash != initial.files_hash
    assert first.files_hash == load_config(config_dir, env={}).files_hash
    assert claims(first) == 4

    # saving the same text again changes nothing (not even a load); the next real edit is the
    # only one applied
    loads = calls.loads
    roster.write_text(roster.read_text())
    await watcher.check_now()
    assert calls.loads == loads
    edit(roster, "    max_open_claims: 4\n", "    max_open_claims: 6\n")
    await calls.until(lambda: len(calls.applied) >= 2)
    assert [claims(c) for c in calls.applied] == [4, 6]
    assert calls.rejected == []


async def test_a_bad_edit_is_rejected_with_its_place_then_the_fix_is_applied(
    watcher: ConfigWatcher, calls: Calls, config_dir: Path, initial: Config
) -> None:
    roster = config_dir / "roster.yaml"
    index = [m.id for m in initial.roster.staff].index("mellis")
    lines = roster.read_text().splitlines(keepends=True)
    line = lines.index(MELLIS_CLAIMS) + 1
    edit(roster, MELLIS_CLAIMS, "    max_open_claims: lots\n")
    await calls.until(lambda: len(calls.rejected) >= 1)
    text = str(calls.rejected[0])
    col = len("    max_open_claims: ") + 1
    assert f"{roster}:{line}:{col}: staff[{index}].max_open_claims: expected a whole number" in text
    assert "'lots'" in text

    # the same bad files saved again are not reported again
    roster.write_text(roster.read_text())
    await watcher.check_now()
    assert len(calls.rejected) == 1
    edit(roster, "    max_open_claims: lots\n", "    max_open_claims: 7\n")
    await calls.until(lambda: len(calls.applied) >= 1)
    assert [claims(c) for c in calls.applied] == [7]
    assert len(calls.rejected) == 1

    # bad again after a good config: reported again
    edit(roster, "    max_open_claims: 7\n", "    max_open_claims: lots\n")
    await calls.until(lambda: len(calls.rejected) >= 2)
    assert len(calls.applied) == 1


async def test_an_atomic_rename_save_is_applied(
    watcher: ConfigWatcher, calls: Calls, config_dir: Path
) -> None:
    roster = config_dir / "roster.yaml"
    temp = config_dir / ".roster.yaml.swp"
    temp.write_text(roster.read_text().replace(MELLIS_CLAIMS, "    max_open_claims: 9\n"))
    os.replace(temp, roster)
    await calls.until(lambda: len(calls.applied) >= 1)
    assert [claims(c) for c in calls.applied] == [9]

    # an editor that moves the original aside, writes a new file, then drops the backup
    backup = config_dir / "roster.yaml~"
    os.replace(roster, backup)
    roster.write_text(backup.read_text().replace("max_open_claims: 9", "max_open_claims: 2"))
    backup.unlink()
    await calls.until(lambda: bool(calls.applied) and claims(calls.applied[-1]) == 2)


async def test_a_deleted_file_written_again_is_applied(
    watcher: ConfigWatcher, calls: Calls, config_dir: Path
) -> None:
    roster = config_dir / "roster.yaml"
    text = roster.read_text()
    roster.unlink()
    await calls.until(lambda: len(calls.rejected) >= 1)
    assert "roster.yaml:1:1: cannot read" in str(calls.rejected[0])
    roster.write_text(text.replace(MELLIS_CLAIMS, "    max_open_claims: 8\n"))
    await calls.until(lambda: len(calls.applied) >= 1)
    assert [claims(c) for c in calls.applied] == [8]


async def test_other_files_in_the_directory_do_nothing(
    watcher: ConfigWatcher, calls: Calls, config_dir: Path
) -> None:
    assert calls.loads == 1  # the check made by start()
    (config_dir / "notes.txt").write_text("remember the milk\n")
    (config_dir / "roster.yaml.bak").write_text("staff: [oops\n")
    (config_dir / "sub").mkdir()
    (config_dir / "sub" / "roster.yaml").write_text("staff: [oops\n")
    (config_dir / "notes.txt").unlink()
    edit(config_dir / "policies.yaml", "on_overflow: rewrite", "on_overflow: block")
    await calls.until(lambda: len(calls.applied) >= 1)
    assert len(calls.applied) == 1
    assert calls.applied[0].policies.packs["limits"] == {"on_overflow": "block"}
    assert calls.rejected == []
    assert calls.loads == 2


async def test_the_optional_routing_file_counts(
    watcher: ConfigWatcher, calls: Calls, config_dir: Path
) -> None:
    routing = config_dir / "routing.yaml"
    if routing.exists():
        routing.unlink()  # optional: its defaults apply
        await calls.until(lambda: len(calls.applied) >= 1)
        assert calls.applied[-1].routing.timezone == "UTC"
    routing.write_text("timezone: Asia/Tokyo\n")
    await calls.until(
        lambda: calls.applied[-1:] != [] and calls.applied[-1].routing.timezone != "UTC"
    )
    assert calls.applied[-1].routing.timezone == "Asia/Tokyo"
    assert calls.rejected == []


async def test_edits_made_before_start_are_caught_by_start(
    calls: Calls, config_dir: Path, initial: Config
) -> None:
    edit(config_dir / "roster.yaml", MELLIS_CLAIMS, "    max_open_claims: 5\n")
    w = calls.watcher(initial)
    try:
        await w.start()
        assert [claims(c) for c in calls.applied] == [5]  # done when start returns
    finally:
        await w.stop()


async def test_without_a_current_hash_start_applies_what_is_there(
    calls: Calls, initial: Config
) -> None:
    w = calls.watcher()
    try:
        await w.start()
        assert [c.files_hash for c in calls.applied] == [initial.files_hash]
        await w.check_now()  # nothing new
        assert len(calls.applied) == 1
    finally:
        await w.stop()


async def test_check_now_works_without_the_watch(calls: Calls, config_dir: Path) -> None:
    w = calls.watcher()
    await w.check_now()
    await w.check_now()
    assert len(calls.applied) == 1
    edit(config_dir / "roster.yaml", MELLIS_CLAIMS, "    max_open_claims: 4\n")
    await w.check_now()
    assert [claims(c) for c in calls.applied] == [3, 4]
    await w.stop()


async def test_stop_is_idempotent_and_prompt(calls: Calls, config_dir: Path) -> None:
    w = calls.watcher()
    await w.stop()  # never started
    await w.start()
    assert len(watch_tasks()) == 1
    assert w.running
    with pytest.raises(RuntimeError, match="already running"):
        await w.start()
    began = time.monotonic()
    await w.stop()
    assert time.monotonic() - began < 2.0
    assert watch_tasks() == []
    assert not w.running
    await w.stop()
    await asyncio.gather(w.stop(), w.stop())

    # stopped: edits are no longer applied until asked for (or started again)
    edit(config_dir / "roster.yaml", MELLIS_CLAIMS, "    max_open_claims: 4\n")
    await w.start()
    try:
        assert [claims(c) for c in calls.applied] == [3, 4]
    finally:
        await w.stop()


async def test_an_exception_from_load_is_logged_and_watching_goes_on(
    watcher: ConfigWatcher, calls: Calls, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls.fail_load = 1
    roster = config_dir / "roster.yaml"
    with caplog.at_level(logging.ERROR, logger="helpforce.reload"):
        edit(roster, MELLIS_CLAIMS, "    max_open_claims: 4\n")
        await calls.until(lambda: calls.fail_load == 0)
        # the failed load is not remembered: the next check loads the same files again
        await watcher.check_now()
    assert "loading" in caplog.text and "disk on fire" in caplog.text
    assert [claims(c) for c in calls.applied] == [4]
    edit(roster, "    max_open_claims: 4\n", "    max_open_claims: 5\n")
    await calls.until(lambda: len(calls.applied) >= 2)
    assert [claims(c) for c in calls.applied] == [4, 5]
    assert watcher.running


async def test_exceptions_from_the_callbacks_are_logged_and_watching_goes_on(
    watcher: ConfigWatcher, calls: Calls, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls.fail_apply = 1
    calls.fail_reject = 1
    roster = config_dir / "roster.yaml"
    with caplog.at_level(logging.ERROR, logger="helpforce.reload"):
        edit(roster, MELLIS_CLAIMS, "    max_open_claims: 4\n")
        await calls.until(lambda: len(calls.applied) >= 1)
        edit(roster, "    max_open_claims: 4\n", "    max_open_claims: lots\n")
        await calls.until(lambda: len(calls.rejected) >= 1)
    assert "apply broke" in caplog.text and "reporting broke" in caplog.text
    edit(roster, "    max_open_claims: lots\n", "    max_open_claims: 5\n")
    await calls.until(lambda: len(calls.applied) >= 2)
    # a config whose apply raised is not applied again
    assert [claims(c) for c in calls.applied] == [4, 5]
    assert len(calls.rejected) == 1
    assert watcher.running


async def test_a_replaced_directory_is_watched_again(
    watcher: ConfigWatcher, calls: Calls, config_dir: Path
) -> None:
    new = config_dir.with_name("config.new")
    shutil.copytree(config_dir, new)
    edit(new / "roster.yaml", MELLIS_CLAIMS, "    max_open_claims: 4\n")
    config_dir.rename(config_dir.with_name("config.old"))
    # gone: nothing to load, and the config in use stays
    await calls.until(lambda: len(calls.rejected) >= 1)
    assert "cannot read" in str(calls.rejected[0])
    new.rename(config_dir)
    await calls.until(lambda: len(calls.applied) >= 1)
    assert [claims(c) for c in calls.applied] == [4]
    # and the new directory is watched
    edit(config_dir / "roster.yaml", "    max_open_claims: 4\n", "    max_open_claims: 6\n")
    await calls.until(lambda: len(calls.applied) >= 2)
    assert [claims(c) for c in calls.applied] == [4, 6]


async def test_a_configmap_style_swap_is_applied(tmp_path: Path) -> None:
    # Kubernetes mounts each file as a link through ``..data``, swapped to a new directory
    mount = tmp_path / "mount"
    mount.mkdir()
    first = mount / "..2026_01_01"
    shutil.copytree(EXAMPLE, first)
    (mount / "..data").symlink_to(first.name)
    for path in EXAMPLE.glob("*.yaml"):
        (mount / path.name).symlink_to(f"..data/{path.name}")
    calls = Calls(mount)
    w = calls.watcher(load_config(mount, env={}))
    await w.start()
    try:
        second = mount / "..2026_01_02"
        shutil.copytree(first, second)
        edit(second / "roster.yaml", MELLIS_CLAIMS, "    max_open_claims: 4\n")
        (mount / "..data_tmp").symlink_to(second.name)
        os.replace(mount / "..data_tmp", mount / "..data")
        await calls.until(lambda: len(calls.applied) >= 1)
        assert [claims(c) for c in calls.applied] == [4]
    finally:
        await w.stop()


def test_files_digest_follows_the_bytes_of_the_config_files(config_dir: Path) -> None:
    (config_dir / "routing.yaml").unlink(missing_ok=True)
    before = files_digest(config_dir)
    (config_dir / "notes.txt").write_text("x")
    assert files_digest(config_dir) == before
    (config_dir / "routing.yaml").write_text("")
    empty_routing = files_digest(config_dir)
    assert empty_routing != before  # present but empty differs from absent
    (config_dir / "routing.yaml").unlink()
    assert files_digest(config_dir) == before
    edit(config_dir / "roster.yaml", "Jordan", "Jordán")
    assert files_digest(config_dir) != before


# --- describe_change -------------------------------------------------------------------------


NEW_MEMBER = """
  - id: zzhou
    name: Zoe Zhou
    initials: ZZ
    accounts:
      local: staff-zz
"""


def test_describe_change_of_identical_configs(config_dir: Path, initial: Config) -> None:
    again = load_config(config_dir, env={})
    assert describe_change(initial, again) == {
        "files_hash": initial.files_hash,
        "previous_hash": initial.files_hash,
        "staff_added": [],
        "staff_removed": [],
        "staff_changed": [],
        "settings_changed": False,
        "routing_changed": False,
        "policies_changed": False,
        "rules_added": [],
        "rules_removed": [],
        "rules_changed": [],
    }


def test_describe_change_of_staff(config_dir: Path, initial: Config) -> None:
    roster = config_dir / "roster.yaml"
    edit(roster, MELLIS_CLAIMS, "    max_open_claims: 4\n")
    edit(roster, "    skills: [tv, appliances]\n", "    skills: [tv]\n")  # sokafor
    text = roster.read_text()
    start = text.index("  - id: rpatel")
    roster.write_text(text[:start].rstrip("\n") + "\n" + NEW_MEMBER)
    new = load_config(config_dir, env={})
    change = describe_change(initial, new)
    assert change["files_hash"] == new.files_hash != change["previous_hash"]
    assert change["previous_hash"] == initial.files_hash
    assert change["staff_added"] == ["zzhou"]
    assert change["staff_removed"] == ["rpatel"]
    assert change["staff_changed"] == ["mellis", "sokafor"]
    assert not (change["settings_changed"] or change["routing_changed"])
    assert not change["policies_changed"]


def test_writing_a_default_out_is_no_change(config_dir: Path, initial: Config) -> None:
    edit(
        config_dir / "roster.yaml", "    role: agent\n", "    role: agent\n    max_open_claims: 5\n"
    )
    change = describe_change(initial, load_config(config_dir, env={}))
    assert change["files_hash"] != change["previous_hash"]
    assert change["staff_changed"] == []


def test_describe_change_of_settings_and_routing(config_dir: Path, initial: Config) -> None:
    edit(config_dir / "helpforce.yaml", "  brand: helpforce\n", "  brand: Acme Help\n")
    (config_dir / "routing.yaml").write_text(
        "business_hours: [{days: mon-fri, from: '9:00', to: '17:00'}]\n"
    )
    change = describe_change(initial, load_config(config_dir, env={}))
    assert change["settings_changed"] and change["routing_changed"]
    assert not change["policies_changed"]
    assert change["staff_changed"] == []


def test_describe_change_of_rules(config_dir: Path, initial: Config) -> None:
    policies = config_dir / "policies.yaml"
    text = policies.read_text()
    rule = text[text.index("  - id: acme.no-refund-promises") :]
    copy = rule.replace("acme.no-refund-promises", "acme.no-refund-promises-dm")
    changed = rule.replace("Don't promise a refund", "Never promise a refund")
    policies.write_text(text.replace(rule, changed + copy))
    grown = load_config(config_dir, env={})
    change = describe_change(initial, grown)
    assert change["policies_changed"]
    assert change["rules_added"] == ["acme.no-refund-promises-dm"]
    assert change["rules_changed"] == ["acme.no-refund-promises"]
    assert change["rules_removed"] == []

    policies.write_text(text.replace(rule, copy))
    change = describe_change(grown, load_config(config_dir, env={}))
    assert change["rules_removed"] == ["acme.no-refund-promises"]
    assert change["rules_added"] == change["rules_changed"] == []


def test_describe_change_of_packs_only(config_dir: Path, initial: Config) -> None:
    edit(config_dir / "policies.yaml", "on_overflow: rewrite", "on_overflow: block")
    change = describe_change(initial, load_config(config_dir, env={}))
    assert change["policies_changed"]
    assert change["rules_added"] == change["rules_removed"] == change["rules_changed"] == []
    assert not change["settings_changed"]


def test_describe_change_is_plain_data(initial: Config) -> None:
    other = dataclasses.replace(initial, files_hash="0" * 64)
    assert json.loads(json.dumps(describe_change(initial, other)))["previous_hash"] == (
        initial.files_hash
    )
