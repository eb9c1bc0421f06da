"""Which environment variables a stored connection may take its password from.

A connection's `password_env` names a variable of the server's environment, and the server sends
its value to the connection's host. Any name would let whoever can edit a connection send any
secret of the server (a cloud key, the server's own token) to a host of their choosing. So the
name must start with RELMIG_ and not be one of relmig's own settings, or be one the operator
allowed with `relmig serve --allow-env NAME`.
"""

from __future__ import annotations

from collections.abc import Collection

PREFIX = "RELMIG_"
# relmig's own settings: never a source password, some of them secrets of their own.
OWN = frozenset(
    {
        "RELMIG_SERVER_TOKEN",
        "RELMIG_TARGET_URI",
        "RELMIG_STATE_URL",
        "RELMIG_HOME",
        "RELMIG_KAFKA_BOOTSTRAP",
        "RELMIG_QUERY_TIMEOUT",
        "RELMIG_STREAM_TIMEOUT",
        "RELMIG_TXN_MEMORY_CHANGES",
        "RELMIG_CRASH_AT",
        "RELMIG_CRASH_LOG",
    }
)


def env_refusal(name: str, allowed: Collection[str] = ()) -> str | None:
    """Why a connection may not read its password from `name`; None when it may."""
    if name in allowed:
        return None
    if name.startswith(PREFIX) and name not in OWN:
        return None
    return (
        f"password_env {name} is not allowed: name a variable starting with {PREFIX} "
        "(relmig's own settings excepted), or start the server with --allow-env " + name
    )
