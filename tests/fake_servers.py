"""Look-alike database servers that ask every client for its password in clear text and keep
whatever comes back: what an attacker at a changed address (or a man in the middle) would run.

PostgreSQL's asks with AuthenticationCleartextPassword; MariaDB's greets with the
mysql_clear_password plugin and asks again with an auth switch. Shared by the tests of
relmig.source (tests/security) and of the server's connections (tests/server).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class _Fake:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.clients = 0
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.clients += 1
                conn.settimeout(3)
                with contextlib.suppress(OSError):
                    self._ask(conn)

    def _ask(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def got(self, secret: str) -> bool:
        return any(secret.encode() in data for data in self.received)

    def close(self) -> None:
        self.listener.close()


class PostgresAsker(_Fake):
    def _ask(self, conn: socket.socket) -> None:
        startup = _pg_packet(conn)
        if startup[4:8] == struct.pack(">i", 80877103):  # SSLRequest: no TLS here
            conn.sendall(b"N")
            _pg_packet(conn)
        conn.sendall(b"R" + struct.pack(">ii", 8, 3))  # AuthenticationCleartextPassword
        self.received.append(conn.recv(65536))


class MariaDBAsker(_Fake):
    PLUGIN = b"mysql_clear_password"

    def _ask(self, conn: socket.socket) -> None:
        salt = b"12345678901234567890"
        capabilities = 0x1 | 0x8 | 0x200 | 0x8000 | 0x80000  # 4.1 protocol, plugin auth
        greeting = (
            b"\x0a5.5.5-10.11.0-fake\x00"
            + struct.pack("<I", 1)
            + salt[:8]
            + b"\x00"
            + struct.pack("<H", capabilities & 0xFFFF)
            + b"\x21"
            + struct.pack("<H", 2)
            + struct.pack("<H", capabilities >> 16)
            + bytes([len(salt) + 1])
            + b"\x00" * 10
            + salt[8:]
            + b"\x00"
            + self.PLUGIN
            + b"\x00"
        )
        conn.sendall(_my_packet(0, greeting))
        self.received.append(conn.recv(65536))  # the handshake response
        conn.sendall(_my_packet(2, b"\xfe" + self.PLUGIN + b"\x00"))  # switch: send it again
        self.received.append(conn.recv(65536))


def _pg_packet(conn: socket.socket) -> bytes:
    head = conn.recv(4)
    (length,) = struct.unpack(">i", head)
    return head + conn.recv(length - 4)


def _my_packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload
