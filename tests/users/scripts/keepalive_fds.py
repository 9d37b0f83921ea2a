"""An ApiUser and a plain FastHttpUser, each with its socket numbered above 1023 (over a
thousand descriptors opened first), send sequential GETs to nginx; prints how many TCP
connections each made (the connections this process closed to nginx's port: TIME_WAIT)."""

from _common import emit, make_env, wait_for  # isort: skip

import os
import resource
import sys

from geventhttpclient.client import HTTPClientPool
from locust.contrib.fasthttp import FastHttpUser

from chaosbench.users import ApiUser

URL = sys.argv[1]
PORT = int(URL.rsplit(":", 1)[1])
REQUESTS = 30


def closed_connections() -> int:
    """This host's TIME_WAIT sockets whose peer is nginx's port (the client closed them)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "06" and int(fields[2].rsplit(":", 1)[1], 16) == PORT:
                count += 1
    return count


class Api(ApiUser):
    host = URL


class Plain(FastHttpUser):
    host = URL


class Shared(ApiUser):
    host = URL
    client_pool = HTTPClientPool(concurrency=4)


def shared_pool_kept() -> bool:
    """A pool shared through ``client_pool`` stays the one pool of every user."""
    env, _ = make_env([Shared])
    users = [Shared(env), Shared(env)]
    return all(u.client.client.clientpool is Shared.client_pool for u in users)


def connections_for(user_class: type, env_users: list[type]) -> dict[str, object]:
    env, _ = make_env(env_users)
    user = user_class(env)
    before = closed_connections()
    statuses = []
    for _ in range(REQUESTS):
        if user_class is Api:
            statuses.append(user.api("GET", "/").status_code)
        else:
            statuses.append(user.client.get("/").status_code)
    pool = next(iter(user.client.client.clientpool.clients.values()))._connection_pool
    fds = [s.fileno() for s in list(pool._socket_queue.queue)]
    open_before = closed_connections()
    user.client.client.clientpool.close()  # the last connection closed here: one TIME_WAIT
    # gevent closes the descriptor on the loop's next turn: wait for its TIME_WAIT
    wait_for(lambda: closed_connections() > open_before, 5.0, "the pooled connection to close")
    return {
        "statuses": sorted(set(statuses)),
        "connections": closed_connections() - before,
        "fds": fds,
    }


soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 2048
if hard != resource.RLIM_INFINITY and hard < want:
    emit({"skip": f"the open-files hard limit is {hard}: no descriptor above 1023 to test"})
    sys.exit(0)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
filler = [os.open("/dev/null", os.O_RDONLY) for _ in range(1100)]
emit(
    {
        "lowest_free": os.dup(0),
        "api": connections_for(Api, [Api]),
        "plain": connections_for(Plain, [Plain]),
        "shared_pool_kept": shared_pool_kept(),
    }
)
