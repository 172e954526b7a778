"""The daemon: owns the store, the desk, the outbox and the adapters, and their lifecycles.

``async with App(config) as app`` starts everything in order (store, outbox, adapters) and
stops it in reverse: adapters first (no new events), then the outbox drains what is due, then
the store finishes its queued steps. A platform that fails to start is reported with its
reason and the others keep running.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from helpforce.adapter import Adapter, discover_factories
from helpforce.clock import Clock, SystemClock
from helpforce.config import Config
from helpforce.desk import Desk, Observer
from helpforce.outbox import Outbox, OutboxPolicy
from helpforce.policy import load_engine
from helpforce.ratelimit import PlatformLimiter
from helpforce.store import Store
from helpforce.timers import TimerLoop
from helpforce.weekly import WeeklySummaryTask

if TYPE_CHECKING:
    from helpforce.config import ConfigErrors
    from helpforce.reload import ConfigWatcher

log = logging.getLogger(__name__)


class AlreadyRunning(RuntimeError):
    pass


@dataclass
class PlatformState:
    platform: str
    state: str


def resolve_db_path(config: Config, override: str | None = None) -> str:
    return override or config.settings.storage.path


class App:
    def __init__(
        self,
        config: Config,
        *,
        db_path: str | None = None,
        clock: Clock | None = None,
        adapters: dict[str, Adapter] | None = None,
        env: dict[str, str] | None = None,
        observers: list[Observer] | None = None,
        watch: bool = False,
    ) -> None:
        self.config = config
        self.db_path = resolve_db_path(config, db_path)
        self.clock = clock or SystemClock()
        self._given_adapters = adapters
        self.env = dict(os.environ) if env is None else env
        self.observers = observers or []
        self.adapters: dict[str, Adapter] = {}
        self.failed: dict[str, str] = {}
        self._lock: IO[str] | None = None
        self.store: Store | None = None
        self.desk: Desk | None = None
        self.outbox: Outbox | None = None
        self.timers: TimerLoop | None = None
        self.weekly: WeeklySummaryTask | None = None
        #: reload roster, routing and policies when their files change
        self.watch = watch
        self.watcher: ConfigWatcher | None = None

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _take_lock(self) -> None:
        lock_path = Path(self.db_path + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AlreadyRunning(
                f"{self.db_path}: another helpforce daemon is using this database"
            ) from None
        self._lock = handle

    def _build_adapters(self) -> dict[str, Adapter]:
        if self._given_adapters is not None:
            return dict(self._given_adapters)
        factories = discover_factories()
        built: dict[str, Adapter] = {}
        for platform, settings in self.config.enabled_platforms().items():
            try:
                built[platform] = factories[platform].create(
                    settings, clock=self.clock, env=self.env
                )
            except Exception as exc:  # one platform's trouble must not stop the others
                self.failed[platform] = f"{type(exc).__name__}: {exc}"
                log.error("%s: could not be set up: %s", platform, self.failed[platform])
        return built

    async def start(self) -> None:
        self._take_lock()
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        cfg = self.config
        self.store = Store(self.db_path)
        await self.store.open()
        policy = load_engine(cfg.policies.packs, cfg.policies.rules)
        self.adapters = self._build_adapters()
        caps = {p: a.capabilities for p, a in self.adapters.items()}
        self.desk = Desk(self.store, cfg, policy, self.clock, caps)
        self.desk.observers.extend(self.observers)
        await self.desk.open()
        self.timers = TimerLoop(self.clock, self.desk.next_due, self.desk.fire_due)
        self.desk.on_timer = self.timers.wake
        limiters = {}
        platforms = cfg.enabled_platforms()
        for p in self.adapters:
            rl = platforms[p].rate_limit if p in platforms else None
            limiters[p] = PlatformLimiter(
                rl.per_second if rl else 30.0, rl.burst if rl else 30,
                rl.per_chat_per_second if rl else 1.0, self.clock,
                per_group_per_minute=rl.per_group_per_minute if rl else None,
                in_flight=rl.in_flight if rl else 1,
            )
        ob = cfg.settings.outbox
        self.outbox = Outbox(
            self.store, self.adapters, limiters, self.clock,
            OutboxPolicy(ob.max_attempts, ob.backoff_base, ob.backoff_max),
            on_failure=self.desk.delivery_failed,
        )
        self.desk.on_outbox = self.outbox.wake
        self.desk.unrecorded = self.outbox.unrecorded_row
        # adapters connect first (their sinks wait for the desk), then the outbox sends what a
        # crash left behind, then the desk opens: a reply to a message sent just before a
        # crash then finds that message recorded
        for platform, adapter in list(self.adapters.items()):
            cursor = await self.store.cursor(platform)
            try:
                await adapter.start(self.desk.sink_for(platform), cursor)
            except Exception as exc:
                self.failed[platform] = f"{type(exc).__name__}: {exc}"
                log.error("%s: failed to start: %s", platform, self.failed[platform])
        await self.outbox.start()
        self.desk.ready.set()
        # deadlines that passed while the daemon was down fire now
        await self.timers.start()
        from helpforce.recognition import weekly_summary

        store, desk = self.store, self.desk
        self.weekly = WeeklySummaryTask(
            self.clock, lambda: desk.config,
            lambda now: weekly_summary(store, desk.config, now), desk.tell_leads,
        )
        self.weekly.start()
        if self.watch:
            from helpforce.reload import ConfigWatcher

            self.watcher = ConfigWatcher(
                cfg.config_dir, self._load_config, self._apply_config, self._config_rejected,
                current_hash=cfg.files_hash,
            )
            await self.watcher.start()
        # what exists now (config, roster, modules) lives as long as the daemon: keep it out
        # of the cyclic garbage collector's full passes (31 ms with a 3,000-staff roster)
        gc.freeze()
        log.info("helpforce running on %s (database %s)",
                 ", ".join(self.adapters) or "no platform", self.db_path)

    def _load_config(self) -> Config:
        from helpforce.config import load_config

        return load_config(self.config.config_dir, env=self.env)

    async def _apply_config(self, new: Config) -> None:
        """Put an edited configuration in force (roster, routing, policies, desk settings).
        Platforms, storage and the outbox are set up at start: their changes wait for a
        restart, and the log says so."""
        assert self.desk is not None
        old = self.config
        policy = None
        if new.policies != old.policies:
            policy = load_engine(new.policies.packs, new.policies.rules)
        change = await self.desk.apply_config(new, policy)
        self.config = new
        restart = [k for k in ("platforms", "storage", "outbox")
                   if getattr(new.settings, k) != getattr(old.settings, k)]
        log.info(
            "configuration %s applied: %d staff added, %d removed, %d changed%s%s",
            new.files_hash[:12], len(change["staff_added"]), len(change["staff_removed"]),
            len(change["staff_changed"]),
            ", routing changed" if change["routing_changed"] else "",
            ", policies changed" if change["policies_changed"] else "",
        )
        if restart:
            log.warning("helpforce.yaml: changes to %s take effect after a restart",
                        ", ".join(restart))

    async def _config_rejected(self, errors: ConfigErrors) -> None:
        lines = [str(e) for e in errors.errors]
        for line in lines:
            log.error("configuration edit not applied: %s", line)
        if self.desk is not None:
            await self.desk.config_rejected(lines)

    def platform_states(self) -> list[PlatformState]:
        out = [PlatformState(p, a.status()) for p, a in self.adapters.items()
               if p not in self.failed]
        out += [PlatformState(p, f"failing: {why}") for p, why in self.failed.items()]
        return out

    async def stop(self, drain: float = 5.0) -> None:
        """Take no more platform events, let the outbox send what is due, stop the adapters,
        close the store. Idempotent. Events read but not committed are read again next time
        (their cursor was not saved)."""
        if self.watcher is not None:
            await self.watcher.stop()
            self.watcher = None
        if self.desk is not None:
            self.desk.ready.clear()
        if self.weekly is not None:
            await self.weekly.stop()
            self.weekly = None
        if self.timers is not None:
            await self.timers.stop()
            self.timers = None
        if self.outbox is not None:
            await self.outbox.stop(drain)
            self.outbox = None
        for platform, adapter in self.adapters.items():
            try:
                await adapter.stop()
            except Exception:
                log.exception("%s: error while stopping", platform)
        if self.store is not None:
            await self.store.close()
            self.store = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None
