"""Telegram's webhook: an aiohttp server that receives the updates Telegram POSTs to us.

Webhook mode (``platforms.telegram.webhook`` set) replaces long polling. At start the server
listens first, then setWebhook registers ``webhook.url`` with the secret token, the update
types the desk uses and ``max_connections`` (retried with backoff on the injected clock while
it fails; :meth:`TelegramAdapter.status` says why). Each POST on ``webhook.path``:

- must carry the secret token in ``X-Telegram-Bot-Api-Secret-Token`` (compared in constant
  time): otherwise 403, logged without the header's value, and nothing reaches the desk;
- must be a JSON object with an ``update_id``: otherwise 400, logged with what was wrong,
  never the body;
- is normalised exactly like a polled update (``TelegramAdapter._normalise_all``) and handed
  to the desk's sink. The answer is 200 only after the sink returned, i.e. after the desk
  committed it. Any other outcome (the desk failed: 500; the daemon stopped mid-request: no
  answer) makes Telegram deliver the update again later, and the desk's inbound ledger
  (platform + message id) makes a repeat harmless. An update that is not for the desk, or that
  cannot be parsed, is answered 200 at once: delivering it again would not help.

Button presses are answered (answerCallbackQuery) once committed, as the poller does.

Cursor: none (the sink gets ``None``). Telegram tracks webhook delivery itself: a 2xx answer
acknowledges one update, the unacknowledged stay queued (up to 24 h). Deliveries run in
parallel (``max_connections``) and may complete out of order, so no single offset means
"everything below is committed"; saving ``update_id + 1`` could make a later switch to polling
skip an update Telegram is still retrying. So the saved polling offset is left as it was, and
the poller, finding a webhook set when it connects, starts from Telegram's queue (no offset)
instead of from that old offset: switching back to polling neither loses nor re-reads. Switching
from polling to a webhook re-delivers at most the last polled batch (Telegram learns that it is
confirmed only from the next getUpdates), which the ledger absorbs.

Stop: the server stops (requests in flight get a moment, then are cancelled: Telegram retries
them), and the webhook stays registered, so Telegram keeps queueing while the daemon is down.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram.error import InvalidToken, RetryAfter

from helpforce.adapter import InboundSink

from .adapter import _BACKOFF_MAX, _describe, _retry_after

if TYPE_CHECKING:
    from .adapter import TelegramAdapter

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: updates are a few KB; anything larger is not from Telegram
MAX_BODY = 1 << 20


class WebhookServer:
    """The HTTP side of webhook mode for one :class:`TelegramAdapter`; owned by it (started in
    ``start``, stopped in ``stop``)."""

    def __init__(self, adapter: TelegramAdapter, sink: InboundSink, secret: str, *,
                 shutdown_timeout: float = 1.0) -> None:
        hook = adapter.settings.webhook
        if hook is None:
            raise ValueError("telegram: webhook mode without webhook settings")
        if not secret:
            raise ValueError("telegram: webhook mode without a secret token")
        self.adapter = adapter
        self.settings = hook
        self._sink = sink
        self._secret = secret.encode()
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        #: the port listened on, once started (``webhook.port``, or the one picked for 0)
        self.port = 0
        #: requests refused for their secret token, refused as malformed, answered 200 (the
        #: desk committed the update, or it was not for the desk), answered 500 (desk failed)
        self.refused = 0
        self.malformed = 0
        self.received = 0
        self.failed = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        return self._runner is not None

    @property
    def url(self) -> str:
        """The URL registered with Telegram."""
        return self.settings.url.replace("{port}", str(self.port))

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self.settings.path, self._handle)
        # handler_cancellation: stop() must not wait for requests parked on a stopping desk;
        # access_log=None: our own log lines say what matters
        runner = web.AppRunner(app, handler_cancellation=True,
                               shutdown_timeout=self._shutdown_timeout, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.listen, self.settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise RuntimeError(
                f"telegram: cannot listen for the webhook on {self.settings.listen}:"
                f"{self.settings.port} ({exc.strerror or exc})"
            ) from None
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        log.info("telegram: webhook server listening on %s:%d%s",
                 self.settings.listen, self.port, self.settings.path)

    async def stop(self) -> None:
        """Stop listening; idempotent. Requests still waiting for the desk are cancelled
        after ``shutdown_timeout`` (unanswered, so Telegram delivers them again)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def register(self) -> None:
        """Retry setWebhook until it holds (``start`` tried once), backing off with jitter
        like the poller; returns at once if it holds already."""
        adapter = self.adapter
        failures = 1
        wait = _backoff(failures)
        while not adapter._connected:
            await adapter.clock.sleep(wait)
            try:
                await adapter._connect()
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                adapter._state = "failing: flood control"
                wait = _retry_after(exc)
            except Exception as exc:
                failures += 1
                why = _describe(exc)
                if isinstance(exc, InvalidToken):
                    why = f"the Bot API refused the token in {adapter.settings.token_env}"
                adapter._state = f"failing: {why}"
                wait = _backoff(failures)
                log.warning("telegram: setWebhook failed (%s); retrying in %.1fs", why, wait)

    # -- requests ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), self._secret
        ):
            self.refused += 1
            log.warning("telegram: refused a webhook request from %s: %s secret token",
                        request.remote, "no" if given is None else "a wrong")
            return web.Response(status=403)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.malformed += 1
            log.warning("telegram: refused a webhook request: body over %d bytes", MAX_BODY)
            return web.Response(status=413)
        payload, problem = _parse(body)
        if problem is not None:
            self.malformed += 1
            log.warning("telegram: refused a webhook request: %s", problem)
            return web.Response(status=400, text=problem)
        assert isinstance(payload, dict)
        update_id = payload["update_id"]
        adapter = self.adapter
        batch, presses, _ = adapter._normalise_all([payload])
        if batch:
            try:
                # returns once the desk has committed the update
                await self._sink(batch, None)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failed += 1
                log.exception("telegram: the desk could not take update %d; answering 500 "
                              "so that Telegram delivers it again", update_id)
                adapter._state = "failing: desk unavailable"
                return web.Response(status=500)
            if adapter._connected:
                adapter._state = "connected"
        self.received += 1
        for query_id in presses:
            task = asyncio.create_task(adapter._answer(query_id),
                                       name="helpforce.adapter.telegram.answer")
            adapter._answers.add(task)
            task.add_done_callback(adapter._answers.discard)
        return web.Response(status=200)


def _backoff(failures: int) -> float:
    return min(_BACKOFF_MAX, 0.5 * 2.0 ** min(failures, 10)) * random.uniform(0.5, 1.0)


def _parse(body: bytes) -> tuple[Any, str | None]:
    """The update in ``body``, or why it is not one (without the body's content)."""
    try:
        payload = json.loads(body)
    except UnicodeDecodeError:
        return None, "the body is not UTF-8"
    except json.JSONDecodeError as exc:
        return None, f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except (ValueError, RecursionError):
        return None, "the body is not JSON"
    if not isinstance(payload, dict):
        return None, f"the body is a JSON {type(payload).__name__}, not an update object"
    uid = payload.get("update_id")
    if not isinstance(uid, int) or isinstance(uid, bool):
        return None, "the update has no numeric update_id"
    return payload, None
