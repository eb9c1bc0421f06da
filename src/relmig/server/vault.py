"""Source passwords at rest: Fernet-encrypted with a key file that only this user can read.

The key lives beside the state database (in the relmig home) but in its own 0600 file, so a copy
of the state database alone reveals no password.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from relmig.errors import RelmigError

KEY_FILE = "server.key"


class Vault:
    def __init__(self, home: Path) -> None:
        self._fernet = Fernet(_load_or_create_key(home / KEY_FILE))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise RelmigError(
                f"a stored password cannot be decrypted: the key file {KEY_FILE} in the relmig "
                "home changed; enter the password again"
            ) from None


def _load_or_create_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key
