"""TLS to the source: `source.tls` as each driver takes it, and the URL options that set it.

One setting for both dialects, in libpq's words (`mode` is its sslmode), so a project reads the
same whatever the database; each driver gets its own form here, for the queries and the change
stream alike (libpq for psycopg and psycopg2, an `ssl.SSLContext` for PyMySQL and the binlog).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any, get_args

from pydantic import ValidationError

from relmig.errors import RelmigError
from relmig.project.model import SourceSettings, SourceTls, TlsMode

# URL options, as each dialect's own tools spell them, and the `source.tls` field each sets.
PG_URL_OPTIONS = {
    "sslmode": "mode",
    "sslrootcert": "ca_file",
    "sslcert": "cert_file",
    "sslkey": "key_file",
}
MYSQL_URL_OPTIONS = {"ssl_ca": "ca_file", "ssl_cert": "cert_file", "ssl_key": "key_file"}
# MySQL's --ssl-mode names.
MYSQL_MODES: dict[str, TlsMode] = {
    "disabled": "disable",
    "preferred": "prefer",
    "required": "require",
    "verify_ca": "verify-ca",
    "verify_identity": "verify-full",
}
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def url_options(dialect: str) -> set[str]:
    """Every TLS (and, for PostgreSQL, authentication) option a source URL may carry."""
    if dialect == "postgresql":
        return {*PG_URL_OPTIONS, "require_auth"}
    return {*MYSQL_URL_OPTIONS, "ssl_mode", "ssl_verify_identity"}


def tls_from_url(dialect: str, query: Mapping[str, str]) -> SourceTls:
    """`source.tls` from a URL's options (the caller has refused unknown ones)."""
    names = PG_URL_OPTIONS if dialect == "postgresql" else MYSQL_URL_OPTIONS
    fields: dict[str, Any] = {names[k]: v for k, v in query.items() if k in names}
    if dialect == "postgresql":
        return _settings(fields)
    mode = query.get("ssl_mode")
    identity = query.get("ssl_verify_identity")
    if mode is not None:
        if mode.lower() not in MYSQL_MODES:
            known = ", ".join(m.upper() for m in MYSQL_MODES)
            raise RelmigError(f"ssl_mode={mode} is not a MySQL ssl mode ({known})")
        fields["mode"] = MYSQL_MODES[mode.lower()]
    elif identity is not None and identity.lower() not in TRUE | FALSE:
        raise RelmigError(f"ssl_verify_identity={identity} is not true or false")
    elif "ca_file" in fields or (identity or "").lower() in TRUE:
        # A CA is given to be checked against, and a check that ignores the host name lets
        # any certificate of that CA through: the name is checked unless turned off.
        fields["mode"] = "verify-ca" if (identity or "").lower() in FALSE else "verify-full"
    elif "cert_file" in fields:
        fields["mode"] = "require"
    return _settings(fields)


def _settings(fields: dict[str, Any]) -> SourceTls:
    try:
        return SourceTls.model_validate(fields)
    except ValidationError:
        modes = ", ".join(get_args(TlsMode))
        raise RelmigError(f"sslmode={fields.get('mode')} is not a TLS mode ({modes})") from None


def check_files(tls: SourceTls) -> None:
    """Name a missing or unreadable file before a driver hides it in a handshake error."""
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(tls, name)
        if path is not None and not os.access(path, os.R_OK):
            raise RelmigError(f"source.tls.{name}: cannot read {path}")


def libpq_settings(settings: SourceSettings) -> dict[str, str]:
    """The libpq keywords of `source.tls` and `require_auth`, for every connection."""
    tls = settings.tls
    check_files(tls)
    out = {
        keyword: value
        for keyword, field in PG_URL_OPTIONS.items()
        if (value := getattr(tls, field)) is not None
    }
    if settings.require_auth is not None:
        out["require_auth"] = settings.require_auth
    elif not settings.allow_cleartext_password:
        # A server (or a look-alike at a changed address) that asks for the password in
        # clear text gets nothing.
        out["require_auth"] = "!password"
    return out


def unverified_context() -> ssl.SSLContext:
    """Encryption without a certificate check: `require`, and PyMySQL's default."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def pymysql_settings(tls: SourceTls) -> dict[str, Any]:
    """PyMySQL's TLS arguments. Its own ssl_* arguments check no host name unless told and no
    certificate without a CA, so relmig builds the context itself: one meaning per mode."""
    if tls.mode == "disable":
        return {"ssl_disabled": True}
    if tls.mode in (None, "prefer"):
        return {}  # PyMySQL's default: TLS when the server offers it, unchecked
    check_files(tls)
    if tls.mode == "require":  # encrypted, unchecked (libpq's require)
        context = unverified_context()
    else:
        context = ssl.create_default_context(cafile=tls.ca_file)
        context.check_hostname = tls.mode == "verify-full"
    if tls.cert_file is not None:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    # Given a context, PyMySQL refuses a server that does not offer TLS.
    return {"ssl": context}
