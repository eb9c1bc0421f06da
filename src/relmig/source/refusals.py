"""Telling a source that refuses relmig from a link that failed.

A wrong password, a certificate that does not check out or a server without TLS when TLS is
required fails every retry the same way; retried as a lost link, it would hold a job in
"reconnecting" for the whole retry budget and then blame the network. The drivers give these
only as text (libpq and Python's ssl module alike), so the text is what is read, in one place.
"""

from __future__ import annotations

from relmig.errors import SourceRefused

# Lower-case fragments of libpq's, PyMySQL's and the ssl module's messages.
_TLS = (
    "certificate verify failed",  # libpq and ssl: wrong CA, host name or IP address mismatch
    "does not match host name",  # libpq: verify-full
    "server does not support ssl",  # libpq: sslmode require and above
    "ssl is required",  # PyMySQL: a context given, a server without TLS
    "certificate file",  # libpq: a root or client certificate it cannot read
    "private key",  # libpq and ssl: a client key it cannot use
)
_AUTH = (
    "password authentication failed",  # PostgreSQL
    "no pg_hba.conf entry",  # PostgreSQL: host, user or TLS not allowed
    "pg_hba.conf rejects",
    "client certificate",  # PostgreSQL: clientcert=verify-ca or verify-full
    "authentication method requirement",  # libpq's require_auth
    "server requested",  # libpq's require_auth: the method the server asked for
    "access denied",  # MariaDB/MySQL 1044, 1045, 1698
    "mysql_clear_password",  # relmig's refusal of a clear-text password
)
# No password was given at all (libpq; MariaDB says "using password: NO"): the variable unset.
_NO_PASSWORD = ("no password supplied", "using password: no")
_TLS_HINT = (
    " (check source.tls: ca_file must be the CA that signed the server's certificate, and "
    "source.host a name that certificate holds)"
)


def refusal(exc: BaseException, what: str, password_env: str) -> SourceRefused | None:
    """`what` failed because the source refused relmig: the error to fail with, else None.
    `password_env` is where the source's password should have come from (the next step when
    none was given)."""
    text = str(exc).strip()
    lowered = text.lower()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    if any(marker in lowered for marker in _TLS):
        return SourceRefused(f"{what}: {line}{_TLS_HINT}")
    if any(marker in lowered for marker in _NO_PASSWORD):
        return SourceRefused(
            f"{what}: {line} (no password was given: set it in the environment variable "
            f"{password_env}, the project's source.password_env)"
        )
    if any(marker in lowered for marker in _AUTH):
        return SourceRefused(f"{what}: {line}")
    return None
