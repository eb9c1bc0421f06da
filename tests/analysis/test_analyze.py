"""The pre-migration analysis on a schema built to trigger every finding (PostgreSQL, FerretDB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from relmig.analysis.report import MAX_DOCUMENT, analyze
from relmig.mongo.writer import MongoTarget
from relmig.project.file import save_project
from relmig.project.initial import initial_collections
from relmig.project.model import FieldRule, Project, SourceSettings
from relmig.schema.introspect import import_tables
from relmig.source.connect import open_source
from sharing import per_worker

pytestmark = pytest.mark.services

DB = per_worker("relmig_t_analysis")

SCHEMA = """
CREATE TABLE audit_log (at timestamptz, what text);                   -- no primary key
CREATE TABLE authors (id int PRIMARY KEY, full_name text, born date);
CREATE TABLE books (
    id int PRIMARY KEY,
    author_id int NOT NULL REFERENCES authors,                         -- no index
    title text,
    rating double precision,
    tags int[]
);
CREATE TABLE chapters (
    id int PRIMARY KEY,
    book_id int NOT NULL REFERENCES books,                             -- no index
    body text
);
INSERT INTO authors VALUES (1, 'Ann', '1970-01-01'), (2, 'Bob', 'infinity'), (3, 'Cy', NULL);
INSERT INTO books VALUES
    (10, 1, 'Huge', 4.5, '{1,2}'),
    (11, 2, 'Odd', 'NaN', '{{1,2},{3,4}}'),
    (12, 3, 'Long', 3, NULL);
-- Book 10: 17 chapters of 1 MiB of random hex (incompressible enough), over 16 MB in all.
INSERT INTO chapters
SELECT g, 10, (
    SELECT string_agg(md5(random()::text || g || s), '') FROM generate_series(1, 32768) s
) FROM generate_series(1, 17) g;
-- Book 12: 1500 short chapters, a large array.
INSERT INTO chapters SELECT 100 + g, 12, 'short' FROM generate_series(1, 1500) g;
ANALYZE;
"""


@pytest.fixture(scope="module")
def source_settings(services_settings) -> SourceSettings:
    s = services_settings
    login = dict(
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        user=s["RELMIG_PG_USER"],
        password=s["RELMIG_PG_PASSWORD"],
    )
    with psycopg.connect(**login, dbname=s["RELMIG_PG_DB"], autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    with psycopg.connect(**login, dbname=DB, autocommit=True) as conn:
        conn.execute(SCHEMA)
    os.environ.setdefault("RELMIG_TEST_PG_PASSWORD", s["RELMIG_PG_PASSWORD"])
    return SourceSettings(
        dialect="postgresql",
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        database=DB,
        user=s["RELMIG_PG_USER"],
        password_env="RELMIG_TEST_PG_PASSWORD",
        schemas=["public"],
    )


@pytest.fixture(scope="module")
def project(source_settings) -> Project:
    tables = import_tables(source_settings, None)
    collections = initial_collections(tables, "one-to-one", "camel")
    authors = next(c for c in collections if c.table == "public.authors")
    authors.name = "writers"
    [books] = [c for c in collections if c.table == "public.books"]
    [chapters] = [c for c in collections if c.table == "public.chapters"]
    from relmig.project.initial import new_embed

    draft = Project(name="shelf", source=source_settings, tables=tables, casing="camel")
    chapter_array = new_embed(
        draft, "array", "public.chapters", "public.books", "chapters_book_id_fkey"
    )
    book_array = new_embed(draft, "array", "public.books", "public.authors", "books_author_id_fkey")
    book_array.embeds = [chapter_array]
    authors.embeds = [book_array]
    authors.fields["born"] = FieldRule(name="bornOn")
    return Project(
        name="shelf",
        source=source_settings,
        tables=tables,
        collections=[authors, books, chapters],
        casing="camel",
    )


def test_every_finding_is_measured(project: Project, mongo_uri: str) -> None:
    target = MongoTarget(mongo_uri, DB)
    try:
        profile = target.profile
    finally:
        target.close()
    assert profile.ferretdb_v1
    with open_source(project.source) as source:
        report = analyze(project, source, profile, import_tables(project.source, None))
    kinds: dict[str, list] = {}
    for f in report.findings:
        kinds.setdefault(f.kind, []).append(f)

    [nokey] = kinds["no_primary_key"]
    assert nokey.subject == "public.audit_log" and "ADD PRIMARY KEY" in nokey.fix

    unindexed = {f.subject: f for f in kinds["unindexed_link"]}
    assert set(unindexed) == {"public.books(author_id)", "public.chapters(book_id)"}
    assert unindexed["public.chapters(book_id)"].fix.startswith(
        'CREATE INDEX "relmig_chapters_book_id"'
    )

    arrays = {a["field"]: a for a in report.arrays}
    assert arrays["writers.books.chapters"]["max"] == 1500
    assert arrays["writers.books.chapters"]["parents"] == 2
    assert arrays["writers.books"]["max"] == 1
    [large] = kinds["large_array"]
    assert large.subject == "writers.books.chapters"

    [too_big] = kinds["document_too_large"]
    assert too_big.subject == "writers 1"
    assert int(too_big.message.split(" is ")[1].split(" bytes")[0].replace(",", "")) > MAX_DOCUMENT

    unstorable = {f.subject: f.message for f in kinds["unstorable_values"]}
    assert "infinite dates" in unstorable["public.authors.born"]
    assert "NaN" in unstorable["public.books.rating"]
    assert "multi-dimensional" in unstorable["public.books.tags"]
    assert all(m.startswith("1 rows") for m in unstorable.values())

    renamed = {(f.subject, f.message) for f in kinds["renamed"]}
    assert ("public.authors", "becomes the collection writers") in renamed
    assert ("public.authors.full_name", "becomes writers.fullName") in renamed
    assert ("public.authors.born", "becomes writers.bornOn") in renamed
    assert ("public.chapters.book_id", "becomes chapters.bookId") in renamed

    sizes = {c["name"]: c for c in report.collections}
    assert sizes["writers"]["rows"] == 3 and sizes["writers"]["size_max"] > MAX_DOCUMENT
    assert sizes["chapters"]["sampled"] == 200 and sizes["chapters"]["size_p50"] < 1000
    assert report.snapshot_seconds is not None and report.snapshot_seconds > 0


def test_cli_analyze_table_and_json(project: Project, tmp_path: Path, mongo_uri: str) -> None:
    path = tmp_path / "shelf.yaml"
    save_project(project, path)
    env = {**os.environ, "COLUMNS": "80"}
    run = [sys.executable, "-m", "relmig.cli", "analyze", str(path), "--target", mongo_uri]
    as_json = subprocess.run([*run, "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert as_json.returncode == 0, as_json.stderr
    kinds = {f["kind"] for f in json.loads(as_json.stdout)["findings"]}
    assert kinds == {
        "no_primary_key",
        "unindexed_link",
        "large_array",
        "document_too_large",
        "unstorable_values",
        "renamed",
    }
    text = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert text.returncode == 0, text.stderr
    assert "Estimated snapshot time" in text.stdout and "CREATE INDEX" in text.stdout
    assert all(len(line) <= 80 for line in text.stdout.splitlines() if "fix:" not in line)
    # Issue 23 §3: checked in the database a job would write, whose name is checked first.
    named = subprocess.run([*run, "-d", "shelf/2"], capture_output=True, text=True, env=env)
    assert named.returncode != 0 and "Traceback" not in named.stderr
    assert "the target database name 'shelf/2' contains '/'" in " ".join(named.stderr.split())
