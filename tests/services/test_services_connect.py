"""Each dev service answers through its own client library, configured as relmig expects."""

from __future__ import annotations

import psycopg
import pymongo
import pymysql
import pytest
from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.services


def test_postgres_accepts_relmig_with_logical_replication(pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.server_version // 10000 == 15
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('wal_level', 'max_replication_slots', 'max_wal_senders', 'listen_addresses')"
            ).fetchall()
        )
        role = conn.execute(
            "SELECT rolreplication, rolcreatedb, rolsuper FROM pg_roles"
            " WHERE rolname = current_user"
        ).fetchone()
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()[0]
    assert settings["wal_level"] == "logical"
    assert int(settings["max_replication_slots"]) >= 10
    assert int(settings["max_wal_senders"]) >= 10
    assert settings["listen_addresses"] == "127.0.0.1"
    assert role == (True, True, False)
    assert owner == "relmig"


def test_postgres_superuser_for_tests(pg_admin_dsn):
    with psycopg.connect(pg_admin_dsn) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        assert conn.execute("SELECT current_setting('is_superuser')").fetchone() == ("on",)


def test_mariadb_accepts_relmig_with_row_binlog_and_gtid(mysql_params):
    conn = pymysql.connect(**mysql_params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1, CURRENT_USER(), VERSION()")
            one, current_user, version = cur.fetchone()
            cur.execute(
                "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata,"
                " @@gtid_strict_mode, @@server_id"
            )
            binlog = cur.fetchone()
            cur.execute("SHOW GRANTS")
            grants = " ".join(row[0] for row in cur.fetchall())
    finally:
        conn.close()
    assert one == 1
    assert "MariaDB" in version and version.startswith("10.11")
    # Over TCP the 127.0.0.1 account must be the one used (not shadowed by another).
    assert current_user == f"{mysql_params['user']}@127.0.0.1"
    assert binlog == (1, "ROW", "FULL", "FULL", 1, 1)
    assert "GRANT ALL PRIVILEGES ON *.* TO" in grants


def test_mariadb_localhost_account_over_the_socket(mysql_params, services_dir):
    params = {k: v for k, v in mysql_params.items() if k not in ("host", "port")}
    conn = pymysql.connect(unix_socket=str(services_dir / "run" / "mariadb.sock"), **params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            assert cur.fetchone()[0] == f"{mysql_params['user']}@localhost"
    finally:
        conn.close()


def test_ferretdb_answers_ping(mongo_uri):
    client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=10_000)
    try:
        assert client.admin.command("ping")["ok"] == 1.0
        info = client.admin.command("buildInfo")
    finally:
        client.close()
    assert info["ferretdbVersion"] == "v1.24.2"


def test_mongo2_is_mongo_java_server_announcing_a_version_pymongo_accepts(services_settings):
    s = services_settings
    client = pymongo.MongoClient(
        f"mongodb://{s['RELMIG_HOST']}:{s['RELMIG_MONGO2_PORT']}/", serverSelectionTimeoutMS=10_000
    )
    try:
        assert client.admin.command("ping")["ok"] == 1.0
        info = client.admin.command("buildInfo")
        wire = client.admin.command("isMaster")["maxWireVersion"]
    finally:
        client.close()
    assert "ferretdbVersion" not in info and info["version"] == "4.4.0" and wire == 9


def test_kafka_answers_metadata(kafka_bootstrap):
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    metadata = admin.list_topics(timeout=15)
    assert len(metadata.brokers) >= 1
    assert metadata.controller_id in metadata.brokers
