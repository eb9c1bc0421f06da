"""TLS on every link (issue 29 §7), against the dev services' TLS listeners.

The source side uses accounts that refuse any connection without TLS and a client certificate
from the dev CA (pg_hba `hostssl … clientcert=verify-ca` and `hostnossl … reject`; MariaDB
`REQUIRE X509`): a job that works through them proves that the settings reach every connection
it opens (catalog, queries, the replication stream or the binlog dump), not just the first. A
wrong CA and a wrong host name (the certificate names `localhost` only, so 127.0.0.1 is wrong)
fail at once with a message that says so, never retried as a lost link.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
import yaml
from typer.testing import CliRunner

from cdc_rig import Rig, cleanup_rig, make_rig
from kafka_job import KafkaJob
from relmig.cli.app import app
from relmig.errors import TargetRefused
from relmig.mongo.writer import MongoTarget
from relmig.project.model import SourceSettings, SourceTls

pytestmark = pytest.mark.services

CERT_PASSWORD_ENV = "RELMIG_TEST_CERT_PASSWORD"


@pytest.fixture(scope="module")
def tls_dir(services_dir: Path) -> Path:
    return services_dir / "tls"


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A CA that signed nothing the services present."""
    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


def client_tls(tls_dir: Path, **changes: str) -> SourceTls:
    return SourceTls(
        mode="verify-full",
        ca_file=str(tls_dir / "ca.pem"),
        cert_file=str(tls_dir / "client.pem"),
        key_file=str(tls_dir / "client.key"),
    ).model_copy(update=changes)


def cert_account(dialect: str, settings: dict[str, str]) -> tuple[str, str, int]:
    prefix = "RELMIG_PG" if dialect == "postgresql" else "RELMIG_MYSQL"
    return (
        settings[f"{prefix}_CERT_USER"],
        settings[f"{prefix}_CERT_PASSWORD"],
        int(settings[f"{prefix}_PORT"]),
    )


def tls_target(settings: dict[str, str], ca_file: Path | str) -> str:
    return f"mongodb://localhost:{settings['RELMIG_MONGO_TLS_PORT']}/?tls=true&tlsCAFile={ca_file}"


@pytest.fixture(params=["postgresql", "mysql"])
def tls_rig(request, services_settings, tls_dir, tmp_path, monkeypatch) -> Iterator[Rig]:
    """The sample; the job reaches the source as the certificate account, and the target on
    FerretDB's TLS listener (the rig's own workload connects as usual)."""
    dialect = request.param
    user, password, _ = cert_account(dialect, services_settings)
    monkeypatch.setenv(CERT_PASSWORD_ENV, password)
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    monkeypatch.setenv("RELMIG_TEST_MYSQL_PASSWORD", services_settings["RELMIG_MYSQL_PASSWORD"])

    def route(s: SourceSettings) -> SourceSettings:
        return s.model_copy(
            update={
                "host": "localhost",
                "user": user,
                "password_env": CERT_PASSWORD_ENV,
                "tls": client_tls(tls_dir),
            }
        )

    target = tls_target(services_settings, tls_dir / "ca.pem")
    r = make_rig(dialect, services_settings, target, tmp_path, scale=0.3, route=route)
    yield r
    cleanup_rig(r)


def test_a_continuous_job_runs_with_tls_on_the_source_and_the_target(tls_rig: Rig) -> None:
    job_id = tls_rig.start("continuous")
    tls_rig.streaming(job_id)
    tls_rig.workload(random.Random(7), 15)
    tls_rig.caught_up(job_id)
    tls_rig.verify()  # through the TLS target too


@pytest.mark.xdist_group("kafka")
@pytest.mark.parametrize("tls_rig", ["postgresql"], indirect=True)
def test_a_kafka_mode_job_runs_over_sasl_ssl(
    tls_rig: Rig, services_settings, tls_dir, monkeypatch
) -> None:
    monkeypatch.setenv("RELMIG_TEST_KAFKA_PASSWORD", services_settings["RELMIG_KAFKA_PASSWORD"])
    nodes = int((tls_dir.parent / "kafka" / "nodes").read_text())
    port = int(services_settings["RELMIG_KAFKA_SASL_SSL_PORT"])
    bootstrap = ",".join(f"localhost:{port + i}" for i in range(nodes))
    job = KafkaJob.start(
        tls_rig,
        bootstrap,
        kafka_security="sasl_ssl",
        kafka_ca_file=str(tls_dir / "ca.pem"),
        kafka_user=services_settings["RELMIG_KAFKA_USER"],
        kafka_password_env="RELMIG_TEST_KAFKA_PASSWORD",
    )
    tls_rig.workload(random.Random(8), 15)
    job.applied()
    tls_rig.verify()
    # The password went to the processes through their environment, never to the store.
    assert services_settings["RELMIG_KAFKA_PASSWORD"] not in str(tls_rig.store.job(job.id))


@pytest.mark.xdist_group("kafka")
@pytest.mark.parametrize("tls_rig", ["mysql"], indirect=True)
def test_a_kafka_ca_that_signed_nothing_fails_the_job_at_once(
    tls_rig: Rig, services_settings, other_ca
) -> None:
    bootstrap = f"localhost:{services_settings['RELMIG_KAFKA_SSL_PORT']}"
    started = time.monotonic()
    job_id = tls_rig.start(
        "continuous",
        engine="kafka",
        kafka_bootstrap=bootstrap,
        kafka_security="ssl",
        kafka_ca_file=other_ca,
    )
    tls_rig.manager.wait(job_id, 120)
    job = tls_rig.store.job(job_id)
    assert job["status"] == "FAILED", job
    assert "refused relmig" in job["failure"] and "certificate verify failed" in job["failure"]
    assert "--kafka-ca-file" in job["failure"]
    assert time.monotonic() - started < 60  # not the retry budget of a lost link


def _import(url: str, tmp_path: Path, password: str) -> tuple[int, str, Path]:
    out_file = tmp_path / "p.yaml"
    result = CliRunner().invoke(
        app,
        ["import", url, "-o", str(out_file), "--mapping", "empty", "--force"],
        env={"RELMIG_SOURCE_PASSWORD": password},
    )
    return result.exit_code, " ".join(result.output.split()), out_file


def _url(dialect: str, settings: dict[str, str], host: str, options: dict[str, Path | str]) -> str:
    user, _, port = cert_account(dialect, settings)
    # Databases with tables on any server: PostgreSQL's information_schema has a few.
    database = settings["RELMIG_PG_DB"] if dialect == "postgresql" else "mysql"
    schema = {"schema": "information_schema"} if dialect == "postgresql" else {}
    query = "&".join(f"{k}={v}" for k, v in {**schema, **options}.items())
    return f"{dialect}://{user}@{host}:{port}/{database}?{query}"


def _options(dialect: str, ca: Path | str, tls_dir: Path) -> dict[str, Path | str]:
    if dialect == "postgresql":
        return {
            "sslmode": "verify-full",
            "sslrootcert": ca,
            "sslcert": tls_dir / "client.pem",
            "sslkey": tls_dir / "client.key",
        }
    return {"ssl_ca": ca, "ssl_cert": tls_dir / "client.pem", "ssl_key": tls_dir / "client.key"}


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_an_import_url_carries_tls_into_the_project(
    dialect: str, services_settings, tls_dir, tmp_path
) -> None:
    url = _url(
        dialect, services_settings, "localhost", _options(dialect, tls_dir / "ca.pem", tls_dir)
    )
    _, password, _ = cert_account(dialect, services_settings)
    code, said, out_file = _import(url, tmp_path, password)
    assert code == 0, said
    tls = yaml.safe_load(out_file.read_text())["source"]["tls"]
    assert tls == {
        "mode": "verify-full",
        "ca_file": str(tls_dir / "ca.pem"),
        "cert_file": str(tls_dir / "client.pem"),
        "key_file": str(tls_dir / "client.key"),
    }


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
@pytest.mark.parametrize("wrong", ["ca", "host"])
def test_a_wrong_ca_or_host_name_is_refused_with_the_reason(
    dialect: str, wrong: str, services_settings, tls_dir, other_ca, tmp_path
) -> None:
    ca = other_ca if wrong == "ca" else tls_dir / "ca.pem"
    host = "localhost" if wrong == "ca" else "127.0.0.1"
    url = _url(dialect, services_settings, host, _options(dialect, ca, tls_dir))
    _, password, _ = cert_account(dialect, services_settings)
    code, said, out_file = _import(url, tmp_path, password)
    assert code == 2 and "Traceback" not in said
    reason = {
        ("postgresql", "ca"): "certificate verify failed",
        ("postgresql", "host"): 'server certificate for "localhost" does not match host name',
        ("mysql", "ca"): "certificate verify failed",
        ("mysql", "host"): "certificate is not valid for '127.0.0.1'",
    }[dialect, wrong]
    assert reason in said
    assert "check source.tls" in said
    assert not out_file.exists()


@pytest.mark.parametrize("tls_rig", ["postgresql"], indirect=True)
def test_the_replication_connection_checks_the_certificate_too(tls_rig: Rig) -> None:
    """The queries go to localhost (the certificate's name), the stream to 127.0.0.1: the
    stream alone fails the check, so its connection carries the same TLS settings."""
    source = tls_rig.project.source.model_copy(update={"replication_host": "127.0.0.1"})
    tls_rig.project = tls_rig.project.model_copy(update={"source": source})
    started = time.monotonic()
    job_id = tls_rig.start("cdc-only")
    tls_rig.manager.wait(job_id, 120)
    job = tls_rig.store.job(job_id)
    assert job["status"] == "FAILED", job
    assert "replication connection" in job["failure"]
    assert "does not match host name" in job["failure"]
    assert time.monotonic() - started < 60  # not the retry budget of a lost link


def test_a_target_whose_certificate_does_not_check_out_is_refused(
    services_settings, tls_dir, other_ca
) -> None:
    for uri in (
        tls_target(services_settings, other_ca),
        tls_target(services_settings, tls_dir / "ca.pem").replace("localhost", "127.0.0.1"),
    ):
        with pytest.raises(TargetRefused, match="certificate verify failed") as caught:
            MongoTarget(uri + "&serverSelectionTimeoutMS=1500", "relmig_tls_refused")
        assert caught.value.link is None  # not retried as a lost link
        assert "tlsCAFile must be the CA" in str(caught.value)
