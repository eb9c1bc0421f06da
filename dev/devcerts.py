"""The dev services' TLS material: a throwaway CA (trustme) and one server certificate.

The certificate names `localhost` only, so a client that connects to 127.0.0.1 and checks the
host name fails: the tests use that as the wrong-host case. Made once per dev directory; the
files stay with the services' data (tests read the CA from there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SERVER_NAME = "localhost"


@dataclass(frozen=True)
class Certs:
    ca: Path  # the CA certificate clients trust
    cert: Path  # the server's certificate chain
    key: Path  # its private key, PKCS#8 without a password
    keystore: Path  # key and chain in one PEM file (Kafka's PEM keystore)


def ensure_certs(folder: Path) -> Certs:
    certs = Certs(
        folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "keystore.pem"
    )
    if all(p.exists() for p in (certs.ca, certs.cert, certs.key, certs.keystore)):
        return certs
    try:
        import trustme
        from cryptography.hazmat.primitives import serialization
    except ImportError as e:
        raise RuntimeError("trustme is missing: run `make venv` first") from e
    folder.mkdir(parents=True, exist_ok=True)
    # RSA: every server here reads it (Kafka's PEM keystore takes PKCS#8 RSA, DSA or EC).
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    leaf = ca.issue_cert(SERVER_NAME, key_type=trustme.KeyType.RSA)
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    ca.cert_pem.write_to_path(str(certs.ca))
    certs.cert.write_bytes(chain)
    certs.key.write_bytes(pkcs8)
    certs.key.chmod(0o600)
    certs.keystore.write_bytes(pkcs8 + chain)
    certs.keystore.chmod(0o600)
    return certs
