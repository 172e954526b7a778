"""The aiohttp session tweepy's AsyncClient uses, pointed at the configured API base.

tweepy 4.17 hard-codes ``https://api.twitter.com``; its public ``session`` attribute is the
hook (see docs/platforms.md). A client middleware (aiohttp >= 3.12) rewrites every request to
``api_base`` — a proxy, or a test's loopback fake — keeping the path and the already encoded
query (tweepy percent-encodes ``:`` for the OAuth signature), and refuses any other URL.
tweepy never closes a session that was set: the adapter owns it and closes it on stop.
"""

from __future__ import annotations

import aiohttp
from yarl import URL

#: what tweepy asks for
X_API = "https://api.twitter.com"


def api_session(api_base: str, timeout: float) -> aiohttp.ClientSession:
    """A session for tweepy whose requests go to ``api_base`` (unchanged when it is X's)."""
    target = api_base.rstrip("/")
    host = URL(target).host_port_subcomponent
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    if target == X_API:
        return aiohttp.ClientSession(timeout=client_timeout)

    async def rewrite(req: aiohttp.ClientRequest,
                      handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
        url = str(req.url)
        if url != X_API and not url.startswith(X_API + "/"):
            raise aiohttp.InvalidURL(url, f"not an X API URL (only {X_API} is redirected)")
        req.url = URL(target + url[len(X_API):], encoded=True)
        if host is not None:
            req.headers["Host"] = host
        return await handler(req)

    return aiohttp.ClientSession(timeout=client_timeout, middlewares=(rewrite,))
