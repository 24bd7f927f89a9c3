"""Services of a test's own (Redis, PostgreSQL) on spare loopback ports, that a fault test may
stop and restart."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from sqlalchemy.engine import make_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A redis-server process of the test's own (with `options` added to its command line);
    `stop()` and `start()` keep the port, `kill()` is SIGKILL."""

    def __init__(self, *options: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._options = options
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self, binary: str) -> list[str]:
        listen = ["--port", str(self.port), "--bind", "127.0.0.1"]
        return [binary, *listen, "--save", "", "--appendonly", "no", *self._options]

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed"
        self._process = subprocess.Popen(self._command(binary), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


class OwnSentinel(OwnRedis):
    """A Redis Sentinel watching the primary at `primary_port` as `service`, with a configuration
    file of its own (a sentinel rewrites it as it learns), failing over after 1 s of silence."""

    def __init__(self, folder: Path, primary_port: int, service: str, quorum: int) -> None:
        super().__init__()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.config = folder / f"sentinel-{self.port}.conf"
        self.config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {service} 127.0.0.1 {primary_port} {quorum}\n"
            f"sentinel down-after-milliseconds {service} 1000\n"
            f"sentinel failover-timeout {service} 5000\n"
            f"sentinel parallel-syncs {service} 1\n"
        )

    def _command(self, binary: str) -> list[str]:
        return [binary, str(self.config), "--sentinel"]


class OwnSentinelGroup:
    """A primary, a replica of it, and `count` sentinels watching them as `service`; `url` is the
    sidecar's `redis+sentinel://` REDIS_URL for them."""

    def __init__(self, count: int = 3, service: str = "mymaster") -> None:
        self.service = service
        self.folder = Path(tempfile.mkdtemp(prefix="metrics-sentinel-"))
        # Their folder, not the working directory, holds the copy the replica loads from the primary.
        self.primary = OwnRedis("--dir", str(self.folder))
        self.replica = OwnRedis("--dir", str(self.folder), "--replicaof", "127.0.0.1", str(self.primary.port))
        self.sentinels = [OwnSentinel(self.folder, self.primary.port, service, count // 2 + 1) for _ in range(count)]
        hosts = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        self.url = f"redis+sentinel://{hosts}/{service}/0"

    def start(self) -> None:
        """Start them all; return once the replica is in sync and every sentinel knows the replica
        and the other sentinels, so that a failover can happen."""
        self.primary.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        deadline = time.monotonic() + 20
        while not self._ready():
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinels did not find the replica and each other within 20 s")
            time.sleep(0.1)

    def _ready(self) -> bool:
        if self.replica.client().info("replication").get("master_link_status") != "up":
            return False
        for sentinel in self.sentinels:
            client = sentinel.client()
            replicas = client.sentinel_slaves(self.service)
            if len(replicas) != 1 or replicas[0]["is_sdown"] or replicas[0]["is_odown"]:
                return False
            if len(client.sentinel_sentinels(self.service)) != len(self.sentinels) - 1:
                return False
        return True

    def primary_port(self) -> int:
        """The primary's port, as the first sentinel says."""
        _host, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(self.service)
        return int(port)

    def stop(self) -> None:
        for server in (*self.sentinels, self.replica, self.primary):
            server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def own_sentinel_group(count: int = 3) -> Iterator[OwnSentinelGroup]:
    group = OwnSentinelGroup(count)
    try:
        group.start()
        yield group
    finally:
        group.stop()


@contextmanager
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def postgres_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian layout), if any."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


class OwnPostgres:
    """A PostgreSQL cluster of the test's own in a temporary folder, run as the `postgres` user
    (the server refuses to run as root); `stop()` and `start()` keep its port and data."""

    def __init__(self) -> None:
        binaries = postgres_binaries()
        assert binaries is not None, "PostgreSQL is not installed"
        self.bin = binaries
        # Under /tmp itself: the postgres user cannot enter pytest's private temporary folders.
        self.folder = folder = Path(tempfile.mkdtemp(prefix="metrics-pg-"))
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(folder, user="postgres")
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def _as_postgres(self, *command: str) -> None:
        prefix = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-o", options,
            "-l", str(self.folder / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


PGBOUNCER = Path("/usr/sbin/pgbouncer")


class OwnPgBouncer:
    """Debian's PgBouncer of the test's own, in transaction pooling mode with a small pool, in
    front of the PostgreSQL database at `database_url`; `url` reaches it through PgBouncer. Run as
    `postgres` when the test is root (PgBouncer refuses to run as root). As in PgBouncer's default
    transaction mode, a server connection is not reset between clients: what one client leaves
    there, the next finds."""

    def __init__(self, database_url: str, pool_size: int = 2) -> None:
        assert PGBOUNCER.exists(), f"{PGBOUNCER} is not installed"
        self.direct_url = database_url
        server = make_url(database_url)
        database = server.database
        self.port = free_port()
        self.url = f"postgresql://{server.username}@127.0.0.1:{self.port}/{database}?pgbouncer=true"
        # Under /tmp itself, readable by the user PgBouncer runs as.
        self.folder = folder = Path(tempfile.mkdtemp(prefix="metrics-pgbouncer-"))
        (folder / "userlist.txt").write_text(f'"{server.username}" ""\n')
        (folder / "pgbouncer.ini").write_text(
            f"[databases]\n{database} = host={server.host} port={server.port or 5432} dbname={database}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
            "max_client_conn = 200\n"
            f"logfile = {folder / 'pgbouncer.log'}\n"
        )
        if os.geteuid() == 0:
            for path in (folder, *folder.iterdir()):
                shutil.chown(path, user="postgres")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        as_postgres = {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 else {}
        self._process = subprocess.Popen(
            [str(PGBOUNCER), str(self.folder / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **as_postgres,  # type: ignore[call-overload]
        )
        deadline = time.monotonic() + 10
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited at start: {self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not listen: {self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def own_pgbouncer(database_url: str, pool_size: int = 2) -> Iterator[OwnPgBouncer]:
    bouncer = OwnPgBouncer(database_url, pool_size)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(bouncer.folder, ignore_errors=True)
