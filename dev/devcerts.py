"""The dev services' TLS material: a throwaway CA (trustme) and one server certificate.

The certificate names `localhost` only, so a client that connects to 127.0.0.1 and checks the
host name fails: the tests use that as the wrong-host case. A client certificate from the same
CA is for the accounts that require one. Made once per dev directory; the files stay with the
services' data (tests read them from there).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

_MAKING = threading.Lock()  # dev/services starts the servers side by side: one CA for all
SERVER_NAME = "localhost"
CLIENT_NAME = "relmig_cert"  # also the accounts' name (RELMIG_*_CERT_USER in ports.env)


@dataclass(frozen=True)
class Certs:
    ca: Path  # the CA certificate clients trust
    cert: Path  # the server's certificate chain
    key: Path  # its private key, PKCS#8 without a password
    keystore: Path  # key and chain in one PEM file (Kafka's PEM keystore)
    client_cert: Path
    client_key: Path


def ensure_certs(folder: Path) -> Certs:
    with _MAKING:
        return _ensure(folder)


def _ensure(folder: Path) -> Certs:
    certs = Certs(
        *(folder / name for name in ("ca.pem", "server.pem", "server.key", "keystore.pem")),
        folder / "client.pem",
        folder / "client.key",
    )
    if all(p.exists() for p in vars(certs).values()):
        return certs
    try:
        import trustme
        from cryptography.hazmat.primitives import serialization
    except ImportError as e:
        raise RuntimeError("trustme is missing: run `make venv` first") from e
    folder.mkdir(parents=True, exist_ok=True)
    # RSA: every server here reads it (Kafka's PEM keystore takes PKCS#8 RSA, DSA or EC).
    ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
    leaf = ca.issue_cert(SERVER_NAME, key_type=trustme.KeyType.ECDSA)
    # Named by its common name (the account name), not as a host.
    client = ca.issue_cert(
        "relmig-client.invalid", common_name=CLIENT_NAME, key_type=trustme.KeyType.ECDSA
    )

    def pkcs8(leaf: trustme.LeafCert) -> bytes:
        key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def chain(leaf: trustme.LeafCert) -> bytes:
        return b"".join(blob.bytes() for blob in leaf.cert_chain_pems)

    ca.cert_pem.write_to_path(str(certs.ca))
    for path, data in (
        (certs.cert, chain(leaf)),
        (certs.key, pkcs8(leaf)),
        (certs.keystore, pkcs8(leaf) + chain(leaf)),
        (certs.client_cert, chain(client)),
        (certs.client_key, pkcs8(client)),
    ):
        path.write_bytes(data)
        path.chmod(0o600 if path.suffix == ".key" or path == certs.keystore else 0o644)
    return certs
