"""ApiUser: a FastHttpUser whose requests report request_type "HTTP", "METHOD /path" names,
deadlines and pacing in their context, and failures decided by the expected status codes."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Collection
from typing import Any

from locust.contrib.fasthttp import FastHttpUser, ResponseContextManager

from chaosbench.users.base import LoadUser
from chaosbench.users.keepalive import keep_alive_above_fd_limit
from chaosbench.users.options import LoadOptions
from chaosbench.users.targets import Target, url_target


class HttpStatusError(Exception):
    """An answer with a status code the request did not expect."""


#: A check of a response with an expected status: None if fine, else the failure message.
Check = Callable[[ResponseContextManager], "str | None"]


class ApiUser(FastHttpUser, LoadUser):
    """Abstract HTTP API user. ``self.api(method, path, ...)`` sends and reports one request.

    Class attributes (FastHttpUser's, tuned): ``network_timeout`` (s per request, so no request
    hangs), ``connection_timeout`` (s to connect). The deadline comes from ``--deadlines``.
    """

    abstract = True
    kind = "HTTP"
    network_timeout: float = 10.0
    connection_timeout: float = 5.0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        # a user's own pool keeps its connections above descriptor 1023
        # (chaosbench.users.keepalive); a pool shared through ``client_pool`` is left as given
        if self.client_pool is None:
            keep_alive_above_fd_limit(self.client)

    @classmethod
    def targets(cls, opts: LoadOptions) -> list[Target]:
        host = cls.host or opts.host
        if not host:
            from chaosbench.ground.errors import OptionError

            raise OptionError(
                f"--host: {cls.__name__} needs the HTTP address of the system under test"
            )
        return [url_target("HTTP API", host, "--host", 80)]

    def api(
        self,
        method: str,
        path: str,
        name: str | None = None,
        *,
        expect: Collection[int] = (200,),
        check: Check | None = None,
        json: Any = None,
        data: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ResponseContextManager:
        """Send one request; it succeeds when the status is in ``expect`` and ``check`` passes.

        ``name`` is the path template for the statistics (``/api/orders/[id]``); the reported
        name is ``"METHOD name"`` with request_type ``"HTTP"``.
        """
        label = f"{method} {name or path}"
        intended = self.claim_start()
        ctx = self.request_context("HTTP", label, intended)
        body: Any = data
        hdrs = headers
        if data is None and json is not None:
            body = jsonlib.dumps(json)
            hdrs = {"Content-Type": "application/json", **(headers or {})}
        with self.client.request(
            method, path, name=label, data=body, headers=hdrs, catch_response=True, context=ctx
        ) as resp:
            meta = resp.request_meta
            meta["request_type"] = "HTTP"
            if intended is not None:
                meta["response_time"] = meta["response_time"] + intended.lag_ms
                meta["start_time"] = intended.wall
            status = resp.status_code
            if status in expect:
                problem = check(resp) if check is not None else None
                if problem:
                    resp.failure(problem)
                else:
                    resp.success()
            elif not status:  # no answer: connection error or timeout
                resp.failure(resp.error or HttpStatusError("no response"))
            else:
                body = resp.content or b""
                text = body[:120].decode("utf-8", "replace").replace("\n", " ")
                resp.failure(HttpStatusError(f"HTTP {status} (expected {sorted(expect)}): {text}"))
        return resp
