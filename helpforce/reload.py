"""Live configuration reload: watch the config directory, apply each valid new config, report
each bad one, and keep running whatever a manager saves.

The directory is watched rather than the files, so that editors which save by writing a
temporary file and renaming it over the original, and files deleted and written again, are
seen. Only the configuration files (:data:`helpforce.config.FILES`) count; a Kubernetes
ConfigMap's ``..data`` link, swapped on each update, counts too. Files that are symbolic
links to somewhere outside the directory are not followed: an edit to the target is only
seen with the next change in the directory (or :meth:`ConfigWatcher.check_now`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import watchfiles

from helpforce.config import FILES, Config, ConfigErrors

__all__ = ["TASK_NAME", "ConfigWatcher", "describe_change", "files_digest"]

log = logging.getLogger(__name__)

#: the name of the watcher's task
TASK_NAME = "helpforce.config.watch"
#: also a change: the link a Kubernetes ConfigMap volume swaps to update every file at once
_CONFIGMAP_LINK = "..data"
#: how often the watch thread hands back control with nothing seen (ms)
_RUST_TIMEOUT_MS = 1_000
#: a stop waits this long for a reload in progress before cancelling it (s)
_STOP_GRACE = 5.0
#: start() waits at most this long for the watch to be running (s)
_START_WAIT = 10.0
#: after the watch fails, retry after 1 s, doubling up to this (s)
_MAX_BACKOFF = 30.0
#: reads of the files while they keep changing under a load, before taking what was loaded
_READ_ATTEMPTS = 3


def files_digest(config_dir: Path) -> str:
    """sha256 over the raw bytes of the configuration files in ``config_dir`` (a missing or
    unreadable file counts as such): equal digests mean nothing a load reads has changed."""
    digest = hashlib.sha256()
    for name in FILES:
        try:
            raw = (config_dir / name).read_bytes()
        except FileNotFoundError:
            digest.update(f"{name}\0missing\0".encode())
            continue
        except OSError as exc:
            digest.update(f"{name}\0unreadable {type(exc).__name__} {exc.errno}\0".encode())
            continue
        digest.update(f"{name}\0{len(raw)}\0".encode())
        digest.update(raw)
    return digest.hexdigest()


class _StopEvent(asyncio.Event):
    """The stop flag handed to watchfiles. Its watch thread polls ``is_set`` every ``step``
    ms once the directory is watched: the first poll of a run calls the armed callback (from
    that thread)."""

    def __init__(self) -> None:
        super().__init__()
        self._on_poll: Callable[[], None] | None = None

    def arm(self, on_poll: Callable[[], None]) -> None:
        self._on_poll = on_poll

    def is_set(self) -> bool:
        on_poll, self._on_poll = self._on_poll, None
        if on_poll is not None:
            on_poll()
        return self.stopping()

    def stopping(self) -> bool:
        """``is_set`` without the callback, for the event loop's side."""
        return super().is_set()


class ConfigWatcher:
    """Watches a config directory and calls ``apply`` with each valid new Config.

    * ``load`` reads the directory (it runs in a worker thread: it parses YAML);
    * ``apply`` gets each loaded config whose ``files_hash`` differs from the last one applied
      (``current_hash`` is the one in use at the start, if any): never the same one twice;
    * ``on_rejected`` gets the :class:`ConfigErrors` of a bad edit, once while those files
      stay the same (a bad edit made again after a good one is reported again); the previous
      config stays in use.

    A config is taken as applied once ``apply`` has been called with it, even if it raised:
    it is not retried until the files change again. Exceptions from ``load``, ``apply`` and
    ``on_rejected`` are logged and the watcher keeps going.
    """

    def __init__(
        self,
        config_dir: Path,
        load: Callable[[], Config],
        apply: Callable[[Config], Awaitable[None]],
        on_rejected: Callable[[ConfigErrors], Awaitable[None]],
        *,
        debounce_ms: int = 200,
        current_hash: str | None = None,
    ) -> None:
        self._dir = Path(config_dir)
        self._load = load
        self._apply = apply
        self._on_rejected = on_rejected
        self._debounce_ms = debounce_ms
        #: files_hash of the config last applied (or in use at the start)
        self._applied = current_hash
        #: raw digest of the files as last loaded, good or bad: the same files are not loaded
        #: again
        self._seen: str | None = None
        self._lock = asyncio.Lock()
        #: the directory as watched (resolved when each watch starts)
        self._watched = str(self._dir)
        self._task: asyncio.Task[None] | None = None
        self._stop = _StopEvent()
        self._watching = asyncio.Event()
        #: start() went on before the watch was known to run: check at its first report
        self._late = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start watching. Returns once the directory is watched (so any later edit is seen),
        after a :meth:`check_now` that catches edits made before."""
        if self.running:
            raise RuntimeError("the config watcher is already running")
        self._stop = _StopEvent()
        self._watching = asyncio.Event()
        self._late = False
        self._task = asyncio.create_task(self._run(), name=TASK_NAME)
        watching = asyncio.create_task(self._watching.wait())
        try:
            await asyncio.wait(
                {watching, self._task}, timeout=_START_WAIT, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            watching.cancel()
        if not self._watching.is_set():
            # not known to be watched yet: check again when it is
            self._late = True
            log.warning("config watch: %s is not watched yet; edits may be seen late", self._dir)
        await self.check_now()

    async def stop(self) -> None:
        """Stop watching; waits for a reload in progress (cancelling it after a grace period).
        Safe to call more than once, or without start."""
        task = self._task
        if task is None:
            return
        self._stop.set()
        try:
            done, _ = await asyncio.wait({task}, timeout=_STOP_GRACE)
            if not done:
                log.warning(
                    "config watch: a reload did not finish within %ss; cancelled", _STOP_GRACE
                )
                task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        finally:
            if self._task is task and task.done():
                self._task = None

    async def check_now(self) -> None:
        """Load the directory once and apply or reject what it holds (nothing if its files
        are the same as when last loaded, or it holds the config already applied)."""
        async with self._lock:
            try:
                digest, result = await asyncio.to_thread(self._read, self._seen)
            except Exception:
                log.exception("config reload: loading %s failed", self._dir)
                return
            if result is None:
                return
            self._seen = digest
            if isinstance(result, ConfigErrors):
                log.warning(
                    "config reload: rejected an edit of %s, the previous config stays:\n%s",
                    self._dir,
                    result,
                )
                try:
                    await self._on_rejected(result)
                except Exception:
                    log.exception("config reload: reporting the rejected edit failed")
                return
            if result.files_hash == self._applied:
                return
            previous, self._applied = self._applied, result.files_hash
            log.info(
                "config reload: applying %s (files %s, was %s)",
                self._dir,
                result.files_hash[:12],
                (previous or "none")[:12],
            )
            try:
                await self._apply(result)
            except Exception:
                log.exception("config reload: applying files %s failed", result.files_hash[:12])

    # -- in the worker thread ----------------------------------------------------------------

    def _read(self, seen: str | None) -> tuple[str | None, Config | ConfigErrors | None]:
        """(digest of the files loaded, what loading them gave), or (``seen``, None) when the
        files are as last loaded. The digest is None when the files kept changing under every
        load: what was loaded is then not known exactly, and the next check loads again."""
        digest = files_digest(self._dir)
        result: Config | ConfigErrors | None = None
        for _ in range(_READ_ATTEMPTS):
            if digest == seen:
                return digest, None
            try:
                result = self._load()
            except ConfigErrors as exc:
                result = exc
            after = files_digest(self._dir)
            if after == digest:
                return digest, result
            digest = after  # changed while loading: load again what is there now
        return None, result

    # -- the task ----------------------------------------------------------------------------

    def _relevant(self, _change: watchfiles.Change, path: str) -> bool:
        parent, name = os.path.split(path)
        if path == self._watched:
            return True  # the directory itself went: watch again
        return parent == self._watched and (name in FILES or name == _CONFIGMAP_LINK)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 1.0
        polling = False

        def watching() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._watching.set)

        restarted = False
        while not self._stop.stopping():
            self._watched = str(self._dir.resolve())
            self._stop.arm(watching)
            # start() checked once the first watch ran; a later watch must check again, as
            # edits made while nothing was watched were not seen
            check = restarted
            restarted = True
            yielded = False
            try:
                async for changes in watchfiles.awatch(
                    self._watched,
                    watch_filter=self._relevant,
                    debounce=self._debounce_ms,
                    stop_event=self._stop,
                    rust_timeout=_RUST_TIMEOUT_MS,
                    yield_on_timeout=True,
                    recursive=False,
                    force_polling=polling or None,
                ):
                    yielded = True
                    backoff = 1.0
                    if changes or check or self._late:
                        check = self._late = False
                        await self.check_now()
                    if any(path == self._watched for _, path in changes):
                        log.warning(
                            "config watch: %s was moved or deleted; watching again", self._dir
                        )
                        break
            except Exception as exc:
                self._watching.set()  # start() need not wait for a watch that failed
                if not yielded and not polling and not isinstance(exc, FileNotFoundError):
                    polling = True
                    log.warning(
                        "config watch: cannot watch %s (%s); polling it instead", self._dir, exc
                    )
                else:
                    log.warning(
                        "config watch: watching %s failed (%s); retrying in %.0fs",
                        self._dir,
                        exc,
                        backoff,
                        exc_info=True,
                    )
                    await self._pause(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake for a stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


def _rule_ids(rules: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rule in rules:
        out.setdefault(str(rule.get("id")), rule)
    return out


def describe_change(old: Config, new: Config) -> dict[str, Any]:
    """What a reload changes, for logs and the audit trail (plain JSON types; ids sorted)."""
    old_staff = {m.id: m for m in old.roster.staff}
    new_staff = {m.id: m for m in new.roster.staff}
    old_rules = _rule_ids(old.policies.rules)
    new_rules = _rule_ids(new.policies.rules)
    return {
        "files_hash": new.files_hash,
        "previous_hash": old.files_hash,
        "staff_added": sorted(new_staff.keys() - old_staff.keys()),
        "staff_removed": sorted(old_staff.keys() - new_staff.keys()),
        "staff_changed": sorted(
            i for i in new_staff.keys() & old_staff.keys() if new_staff[i] != old_staff[i]
        ),
        "settings_changed": old.settings != new.settings,
        "routing_changed": old.routing != new.routing,
        "policies_changed": old.policies != new.policies,
        "rules_added": sorted(new_rules.keys() - old_rules.keys()),
        "rules_removed": sorted(old_rules.keys() - new_rules.keys()),
        "rules_changed": sorted(
            i for i in new_rules.keys() & old_rules.keys() if new_rules[i] != old_rules[i]
        ),
    }
