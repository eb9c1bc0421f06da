"""The cascade rig: a MariaDB schema whose foreign keys cascade, and a workload that sets them off.

InnoDB applies ON DELETE / ON UPDATE CASCADE and SET NULL without a binlog row for the child
rows. The schema chains them two levels deep (patients → visits → prescriptions, composite keys
that the cascades rewrite) and sideways (prescriptions → drugs, SET NULL on delete, CASCADE on
update). Each child table is mapped nested (under its parent, and prescriptions under drugs by
another key) and as its own collection. Patient keys are native UUIDs, a third of them ending in
zero bytes (which the binlog trims), and INET6 addresses mostly end in zeros too.

Shared by tests/cdc/test_cascades.py (embedded) and tests/kafka (Kafka mode).
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from typing import Any

import pymysql

from cdc_rig import Rig, fk, make_mysql_rig
from relmig.project.model import CollectionRule, EmbedRule, Project

TABLES = [
    "CREATE TABLE patients (patient_id UUID PRIMARY KEY, name VARCHAR(40) NOT NULL, ip INET6)",
    "CREATE TABLE drugs (drug_id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)",
    """CREATE TABLE visits (patient_id UUID NOT NULL, visit_no INT NOT NULL,
        reason VARCHAR(40), PRIMARY KEY (patient_id, visit_no),
        CONSTRAINT visits_patient FOREIGN KEY (patient_id) REFERENCES patients (patient_id)
            ON DELETE CASCADE ON UPDATE CASCADE)""",
    """CREATE TABLE prescriptions (patient_id UUID NOT NULL, visit_no INT NOT NULL,
        line INT NOT NULL, drug_id INT NULL, dose VARCHAR(20),
        PRIMARY KEY (patient_id, visit_no, line), KEY (drug_id),
        CONSTRAINT rx_visit FOREIGN KEY (patient_id, visit_no)
            REFERENCES visits (patient_id, visit_no) ON DELETE CASCADE ON UPDATE CASCADE,
        CONSTRAINT rx_drug FOREIGN KEY (drug_id) REFERENCES drugs (drug_id)
            ON DELETE SET NULL ON UPDATE CASCADE)""",
]


def patient_id(rng: random.Random) -> str:
    """A third end in zero bytes, which the binlog drops."""
    zeros = rng.randint(1, 4) if rng.random() < 1 / 3 else 0
    return str(uuid.UUID(bytes=rng.randbytes(16 - zeros) + bytes(zeros), version=4))


def ip_text(rng: random.Random) -> str:
    """INET6 addresses, most ending in zero bytes (2001:db8::)."""
    return str(ipaddress.IPv6Address(rng.randbytes(rng.choice((4, 8, 16))).ljust(16, b"\0")))


def new_patient(rng: random.Random, drugs: list[int]) -> list[tuple[str, tuple[Any, ...]]]:
    pid = patient_id(rng)
    out = [
        (
            "INSERT INTO patients VALUES (%s, %s, %s)",
            (pid, f"patient {rng.randint(0, 10**6)}", ip_text(rng)),
        )
    ]
    for visit in range(1, rng.randint(1, 3) + 1):
        out.append(("INSERT INTO visits VALUES (%s, %s, %s)", (pid, visit, f"r{visit}")))
        for line in range(1, rng.randint(0, 3) + 1):
            drug = rng.choice([*drugs, None])
            out.append(
                (
                    "INSERT INTO prescriptions VALUES (%s, %s, %s, %s, %s)",
                    (pid, visit, line, drug, f"{rng.randint(1, 9)} mg"),
                )
            )
    return out


def load(conn: pymysql.connections.Connection) -> None:
    rng = random.Random(26)
    with conn.cursor() as cur:
        for ddl in TABLES:
            cur.execute(ddl)
        drugs = list(range(1, 9))
        for d in drugs:
            cur.execute("INSERT INTO drugs VALUES (%s, %s)", (d, f"drug {d}"))
        for _ in range(25):
            for sql, params in new_patient(rng, drugs):
                cur.execute(sql, params)


def collections(p: Project) -> list[CollectionRule]:
    t = lambda name: f"{p.source.database}.{name}"  # noqa: E731 - a table id in the schema
    visits_patient = fk(p, t("visits"), ["patient_id"])
    rx_visit = fk(p, t("prescriptions"), ["patient_id", "visit_no"])
    rx_drug = fk(p, t("prescriptions"), ["drug_id"])
    drug = EmbedRule(kind="document", table=t("drugs"), foreign_key=rx_drug, field="drug")
    prescriptions = EmbedRule(
        kind="array",
        table=t("prescriptions"),
        foreign_key=rx_visit,
        field="prescriptions",
        embeds=[drug],
    )
    return [
        CollectionRule(
            name="patients",
            table=t("patients"),
            embeds=[
                EmbedRule(
                    kind="array",
                    table=t("visits"),
                    foreign_key=visits_patient,
                    field="visits",
                    embeds=[prescriptions],
                )
            ],
        ),
        CollectionRule(name="visits", table=t("visits"), embeds=[prescriptions]),
        CollectionRule(name="prescriptions", table=t("prescriptions"), embeds=[drug]),
        CollectionRule(
            name="drugs",
            table=t("drugs"),
            embeds=[
                EmbedRule(
                    kind="array", table=t("prescriptions"), foreign_key=rx_drug, field="prescribed"
                )
            ],
        ),
    ]


# --- the workload -----------------------------------------------------------------------------

Statements = list[tuple[str, tuple[Any, ...]]]


def _one(rig: Rig, sql: str, rng: random.Random) -> tuple[Any, ...] | None:
    rows = rig.query(sql)
    return rng.choice(rows) if rows else None


def op_new_patient(rig: Rig, rng: random.Random) -> Statements:
    return new_patient(rng, [r[0] for r in rig.query("SELECT drug_id FROM drugs")])


def op_delete_patient(rig: Rig, rng: random.Random) -> Statements:
    row = _one(rig, "SELECT patient_id FROM patients", rng)
    return [("DELETE FROM patients WHERE patient_id = %s", row)] if row else []


def op_rekey_patient(rig: Rig, rng: random.Random) -> Statements:
    row = _one(rig, "SELECT patient_id FROM patients", rng)
    if row is None:
        return []
    return [("UPDATE patients SET patient_id = %s WHERE patient_id = %s", (patient_id(rng), *row))]


def op_renumber_visit(rig: Rig, rng: random.Random) -> Statements:
    row = _one(rig, "SELECT patient_id, visit_no FROM visits", rng)
    if row is None:
        return []
    return [
        (
            "UPDATE visits SET visit_no = %s WHERE patient_id = %s AND visit_no = %s",
            (rng.randint(10, 10**6), *row),
        )
    ]


def op_delete_visit(rig: Rig, rng: random.Random) -> Statements:
    row = _one(rig, "SELECT patient_id, visit_no FROM visits", rng)
    if row is None:
        return []
    return [("DELETE FROM visits WHERE patient_id = %s AND visit_no = %s", row)]


def op_delete_drug(rig: Rig, rng: random.Random) -> Statements:
    """SET NULL: the drug's prescriptions stay, without a drug."""
    row = _one(rig, "SELECT drug_id FROM drugs", rng)
    return [("DELETE FROM drugs WHERE drug_id = %s", row)] if row else []


def op_rekey_drug(rig: Rig, rng: random.Random) -> Statements:
    row = _one(rig, "SELECT drug_id FROM drugs", rng)
    if row is None:
        return []
    return [("UPDATE drugs SET drug_id = %s WHERE drug_id = %s", (rng.randint(100, 10**6), *row))]


def op_new_drug(rig: Rig, rng: random.Random) -> Statements:
    drug = rng.randint(100, 10**6)
    statements: Statements = [("INSERT INTO drugs VALUES (%s, %s)", (drug, f"drug {drug}"))]
    row = _one(rig, "SELECT patient_id, visit_no FROM visits", rng)
    if row is not None:
        statements.append(
            (
                "INSERT INTO prescriptions VALUES (%s, %s, %s, %s, '1 mg')",
                (*row, rng.randint(10, 10**6), drug),
            )
        )
    return statements


def op_change_ip(rig: Rig, rng: random.Random) -> Statements:
    row = _one(rig, "SELECT patient_id FROM patients", rng)
    if row is None:
        return []
    return [("UPDATE patients SET ip = %s WHERE patient_id = %s", (ip_text(rng), *row))]


OPERATIONS = [
    op_new_patient,
    op_delete_patient,
    op_rekey_patient,
    op_renumber_visit,
    op_delete_visit,
    op_delete_drug,
    op_rekey_drug,
    op_new_drug,
    op_change_ip,
]


def make_cascade_rig(services_settings, mongo_uri: str, tmp_path) -> Rig:
    rig = make_mysql_rig(services_settings, mongo_uri, tmp_path, load, collections)
    rig.operations = list(OPERATIONS)
    return rig
