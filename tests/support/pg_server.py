#!/usr/bin/env python3
"""A PostgreSQL 15 server of the tests' own: initdb + pg_ctl in a temporary folder, on a free
loopback port, with its unix socket inside that folder. Nothing depends on a system cluster.

As a module: `with PostgresServer() as pg: pg.create_database()` (stopped and removed on exit).
As a script (the ctest fixture that starts one server for the whole run):
    pg_server.py start STATE_DIR   starts a server (in a temporary folder) and writes
                                   STATE_DIR/uri (the admin URI)
    pg_server.py stop STATE_DIR    stops it and removes its files and STATE_DIR

The server trusts nobody over TCP without a password (scram-sha-256): the admin URI carries the
superuser's password, and tests that need a plain role create one (`create_role`). Durability
is off (fsync, synchronous_commit): a test cluster is disposable. `PostgresServer(durable=True)`
keeps PostgreSQL's defaults (fsync and synchronous commit on), for bench/run.
"""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

PG_BIN = "/usr/lib/postgresql/15/bin"
ADMIN_PASSWORD = "dunningd-test-admin"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user():
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    if os.geteuid() != 0:
        return [], None
    return ["runuser", "-u", "postgres", "--"], pwd.getpwnam("postgres")


class PostgresServer:
    """`tls=(cert.pem, key.pem)` also turns TLS on (clients choose with sslmode)."""

    def __init__(self, root=None, tls=None, durable=False, options=""):
        self.tls = tls
        self.options = options  # more server options ("-c name=value ..."), e.g. for a profile
        self.durable = durable  # True: PostgreSQL's own defaults (bench/run), not a test's
        self.root = root or tempfile.mkdtemp(prefix="dunningd-pg-")
        self.data = os.path.join(self.root, "data")
        self.socket_dir = os.path.join(self.root, "socket")
        self.log = os.path.join(self.root, "server.log")
        self.port = None
        self._prefix, self._user = _as_server_user()

    # ---- life cycle

    def start(self, timeout=60):
        for tool in ("initdb", "pg_ctl"):
            if not os.path.exists(os.path.join(PG_BIN, tool)):
                raise AssertionError(f"{PG_BIN}/{tool} is missing: install postgresql-15 "
                                     "(scripts/install-deps)")
        os.makedirs(self.socket_dir, exist_ok=True)
        pwfile = os.path.join(self.root, "pwfile")
        with open(pwfile, "w") as f:
            f.write(ADMIN_PASSWORD + "\n")
        if self._user:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
            os.chown(self.socket_dir, self._user.pw_uid, self._user.pw_gid)
            os.chown(pwfile, self._user.pw_uid, self._user.pw_gid)
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                   "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
                   "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"], timeout=timeout)
        os.remove(pwfile)
        self.port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.socket_dir} -c max_connections=200")
        if not self.durable:
            options += (" -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                        "-c shared_buffers=32MB")
        if self.options:
            options += " " + self.options
        if self.tls:
            # The server reads its key only when it is its own and private.
            for src, name in zip(self.tls, ("server.crt", "server.key")):
                shutil.copy(src, os.path.join(self.root, name))
                os.chmod(os.path.join(self.root, name), 0o600)
                if self._user:
                    os.chown(os.path.join(self.root, name), self._user.pw_uid, self._user.pw_gid)
            options += (f" -c ssl=on -c ssl_cert_file={self.root}/server.crt"
                        f" -c ssl_key_file={self.root}/server.key")
        self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", options,
                   "-w", "-t", str(timeout), "start"], timeout=timeout + 10)
        self._wait_answering(timeout)
        with open(os.path.join(self.root, "uri"), "w") as f:
            f.write(self.admin_uri() + "\n")
        return self

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(self._prefix + [os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m",
                                           "immediate", "-w", "-t", "30", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    def _run(self, cmd, timeout):
        proc = subprocess.run(self._prefix + cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=self.root)
        if proc.returncode != 0:
            log = ""
            if os.path.exists(self.log):
                with open(self.log) as f:
                    log = f.read()
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}"
                                 f"{proc.stderr}\n{log}")

    def _wait_answering(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-h", "127.0.0.1", "-p",
                                   str(self.port), "-t", "2"], capture_output=True)
            if proc.returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"PostgreSQL on port {self.port} did not answer within {timeout}s")

    # ---- what tests use

    def admin_uri(self, database="postgres"):
        return f"postgresql://postgres:{ADMIN_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, owner=None, prefix="t"):
        """A new, empty database (named uniquely); returns its name."""
        return create_database(self.admin_uri(), owner=owner, prefix=prefix)


def _connect(uri):
    import psycopg2  # python3-psycopg2 (scripts/install-deps)
    conn = psycopg2.connect(uri)
    conn.autocommit = True
    return conn


def _admin(admin_uri, *statements):
    # Not `with conn`: psycopg2 opens a transaction block there, and CREATE DATABASE refuses one.
    conn = _connect(admin_uri)
    try:
        with conn.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
    finally:
        conn.close()


def create_database(admin_uri, owner=None, prefix="t"):
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(admin_uri, (f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""), ()))
    return name


def drop_database(admin_uri, name):
    _admin(admin_uri, (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', ()))


def create_role(admin_uri, name, password):
    """A LOGIN role with a password (no superuser), created once per server."""
    _admin(admin_uri, ("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                       f"'{name}') THEN CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'; "
                       "END IF; END $$", ()))


def uri_with_database(admin_uri, database, user=None, password=None):
    """`admin_uri` pointed at `database`, optionally as another user (password left out when None)."""
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(admin_uri)
    netloc = parts.netloc
    if user is not None:
        host = netloc.rsplit("@", 1)[-1]
        netloc = f"{user}:{password}@{host}" if password is not None else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, "/" + database, parts.query, parts.fragment))


# The ctest fixture's server, when the run has one (tests/CMakeLists.txt sets this variable to
# the file `pg_server.py start` writes).
URI_FILE_ENV = "DUNNING_TEST_PG_URI_FILE"


def shared_admin_uri():
    """The admin URI of the server the ctest fixture started, or None outside ctest."""
    path = os.environ.get(URI_FILE_ENV)
    if not path:
        return None
    with open(path) as f:
        return f.read().strip()


class TestDatabase:
    """A new database for one test: on the ctest fixture's server when the run has one, else on
    a server of its own (started here, stopped on exit). Owned by `owner` (a LOGIN role with
    `password`, created when missing) when given. `uri` is the database's URI for that owner
    without the password (pass it through dunningd's database_password_env), `admin_uri` the
    superuser's."""

    def __init__(self, owner=None, password=None, prefix="it"):
        self.owner, self.password, self.prefix = owner, password, prefix
        self.server = None
        self.name = None

    def __enter__(self):
        admin = shared_admin_uri()
        if admin is None:
            self.server = PostgresServer().__enter__()
            admin = self.server.admin_uri()
        self.admin_server_uri = admin
        if self.owner:
            create_role(admin, self.owner, self.password)
        self.name = create_database(admin, owner=self.owner, prefix=self.prefix)
        self.admin_uri = uri_with_database(admin, self.name)
        self.uri = uri_with_database(admin, self.name, user=self.owner) if self.owner else \
            self.admin_uri
        return self

    def __exit__(self, *exc):
        try:
            if self.name:
                drop_database(self.admin_server_uri, self.name)
        finally:
            if self.server:
                self.server.__exit__(*exc)

    def connect(self, as_admin=False):
        """A psycopg2 connection (autocommit) to the database, as its owner or the superuser."""
        if as_admin or not self.owner:
            return _connect(self.admin_uri)
        return _connect(uri_with_database(self.admin_server_uri, self.name, user=self.owner,
                                          password=self.password))


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        sys.exit("usage: pg_server.py start|stop STATE_DIR")
    # The server's files go to a temporary folder (the `postgres` user must reach it, which a
    # build folder under a private home may not allow); STATE_DIR holds its URI and location.
    state = os.path.abspath(argv[2])
    root_file = os.path.join(state, "root")

    def stop_recorded():
        if os.path.exists(os.path.join(state, "data")):  # a server kept in STATE_DIR itself
            PostgresServer(state).stop()
        if os.path.exists(root_file):
            with open(root_file) as f:
                PostgresServer(f.read().strip()).stop()
        shutil.rmtree(state, ignore_errors=True)

    if argv[1] == "start":
        stop_recorded()  # a server left over by an interrupted run
        os.makedirs(state)
        t0 = time.monotonic()
        server = PostgresServer()
        with open(root_file, "w") as f:
            f.write(server.root + "\n")
        try:
            server.start()
        except BaseException:
            stop_recorded()
            raise
        with open(os.path.join(state, "uri"), "w") as f:
            f.write(server.admin_uri() + "\n")
        print(f"PostgreSQL 15 on 127.0.0.1:{server.port} ({server.root}), "
              f"started in {time.monotonic() - t0:.1f}s")
    else:
        stop_recorded()
        print(f"PostgreSQL of {state} stopped")


if __name__ == "__main__":
    main(sys.argv)
