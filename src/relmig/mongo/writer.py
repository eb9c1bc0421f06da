"""The MongoDB writer: idempotent bulk upserts keyed by each document's source key.

Every write is a replace-by-key with upsert, so applying a batch twice (a resumed snapshot, a
replayed change) converges on the same documents.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import bson
from pymongo import DeleteMany, MongoClient, ReplaceOne
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from pymongo.write_concern import WriteConcern

from relmig.documents.builder import Built
from relmig.documents.plan import DecimalMode, RootPlan
from relmig.errors import TargetError, TargetRefused
from relmig.failpoints import crash_point
from relmig.mongo.names import database_name_problem
from relmig.mongo.profile import TargetProfile
from relmig.timeouts import client_timeout

RETRIES = 3
DUPLICATE_KEY = 11000
NOT_IMPLEMENTED = 238
# Server answers that name a setting or a name the target will never accept: BadValue,
# FailedToParse, Unauthorized, TypeMismatch, IllegalOperation, InvalidOptions, InvalidNamespace,
# NotImplemented.
SETUP_REFUSALS = {2, 9, 13, 14, 20, 72, 73, NOT_IMPLEMENTED}


@dataclass(slots=True)
class WriteFailure:
    """A document the server refused: which one (by position in the batch) and why."""

    position: int
    reason: str


class MongoTarget:
    def __init__(self, uri: str, database: str, decimals: str = "auto") -> None:
        self.uri = uri
        if problem := database_name_problem(database):
            raise TargetRefused(problem)
        try:
            self.client: MongoClient[dict[str, Any]] = MongoClient(
                uri, **client_settings(uri), tz_aware=True
            )
        except (ConfigurationError, ValueError, TypeError) as exc:  # a malformed URI
            raise TargetError(
                f"the MongoDB target URI {display_uri(uri)} is not valid: {exc}"
            ) from None
        try:
            self.client.admin.command("ping")
            _check_database(self.client, database, uri)
            self.profile = TargetProfile.probe(self.client.get_database(database))
        except PyMongoError as exc:
            self.client.close()
            raise _refusal(exc, uri) or TargetError(
                f"cannot reach the MongoDB target {display_uri(uri)}: {exc}"
            ) from None
        # Majority before we checkpoint: an acknowledged position must survive a failover.
        self.db = self.client.get_database(database, write_concern=WriteConcern("majority"))
        if decimals == "auto":
            decimals = "decimal128" if self.profile.decimal128 else "string"
        self.decimals: DecimalMode = decimals  # type: ignore[assignment]

    @property
    def uri_for_display(self) -> str:
        return display_uri(self.uri)

    def close(self) -> None:
        self.client.close()

    def prepare(self, plans: Sequence[RootPlan], *, drop: bool) -> None:
        """Drop (if asked) and create the index that addressing ObjectId documents needs."""
        for plan in plans:
            coll = self.db[plan.collection.name]
            if drop:
                coll.drop()
            for keys, unique in _indexes(plan):
                name = "relmig_" + "_".join(k for k, _ in keys)
                coll.create_index(keys, name=name[:120], unique=unique)

    def write(
        self,
        collection: str,
        batch: Sequence[Built],
        *,
        gone: Sequence[dict[str, Any]] = (),
        recompute: bool = False,
    ) -> list[WriteFailure]:
        """Make each document of the batch the one stored under its key, and delete `gone`.

        Returns the documents the server refused; the rest are durable when this returns.
        A snapshot inserts new keys in bulk and replaces the keys already present (a resumed
        or repeated run). A CDC `recompute` expects most keys to exist, so it replaces at once,
        and removes the roots that are `gone` in the same round trip.
        """
        return self._write(collection, list(batch), 0, recompute, list(gone))

    def count(self, collection: str) -> int:
        return int(self._with_retries(lambda: self.db[collection].count_documents({})))

    def find(
        self, collection: str, query: dict[str, Any], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Documents matching `query`, with `_id` and `fields` only: which documents hold a
        row the source no longer shows (a cascade MariaDB did not log)."""
        projection = {f: 1 for f in fields}
        return list(self._with_retries(lambda: list(self.db[collection].find(query, projection))))

    def delete(self, collection: str, filters: Sequence[dict[str, Any]]) -> None:
        """Remove the documents of roots that no longer exist; durable when this returns."""
        if filters:
            query = key_query(filters)
            self._with_retries(lambda: self.db[collection].delete_many(query))

    def clear(self, collection: str) -> None:
        """Empty a collection, keeping its indexes (a TRUNCATE of its root table)."""
        self._with_retries(lambda: self.db[collection].delete_many({}))

    def collections(self) -> set[str]:
        return set(self._with_retries(self.db.list_collection_names))

    def create(self, collection: str) -> None:
        """An empty collection, so that its existence alone says it was not renamed yet."""
        if collection not in self.collections():
            self._with_retries(lambda: self.db.create_collection(collection))

    def drop(self, collection: str) -> None:
        self._with_retries(lambda: self.db.drop_collection(collection))

    def replace_collection(self, collection: str, by: str) -> None:
        """`by` becomes `collection`: at once where the server renames over a collection
        (MongoDB), else the old one is dropped first (FerretDB v1 has no dropTarget), so readers
        find no collection for a moment."""
        rename = {"renameCollection": f"{self.db.name}.{by}", "to": f"{self.db.name}.{collection}"}

        def over() -> bool:
            try:
                self.client.admin.command({**rename, "dropTarget": True})
            except OperationFailure as exc:
                if exc.code != NOT_IMPLEMENTED:
                    raise
                return False
            return True

        if self._with_retries(over):
            return
        self.drop(collection)
        crash_point("recopy-old-dropped")
        self._with_retries(lambda: self.client.admin.command(rename))

    def _write(
        self,
        collection: str,
        batch: list[Built],
        offset: int,
        recompute: bool = False,
        gone: list[dict[str, Any]] | None = None,
    ) -> list[WriteFailure]:
        gone = gone or []
        if not batch:
            self.delete(collection, gone)
            return []
        failures: list[WriteFailure] = []
        try:
            if recompute:
                failures = self._replace(collection, batch, offset, gone)
            else:
                existing, failures = self._insert(collection, batch, offset)
                if existing:
                    positions = sorted(existing)
                    again = self._replace(collection, [batch[i - offset] for i in positions], 0)
                    failures += [WriteFailure(positions[f.position], f.reason) for f in again]
        except TargetError:
            # Some servers (FerretDB v1) drop the connection on a value they cannot decode
            # instead of answering with a write error. If the server is still there, split the
            # batch until the refused documents are isolated, so one bad row fails alone.
            if not self._alive():
                raise
            self.delete(collection, gone)  # idempotent, whether or not it happened
            if len(batch) == 1:
                return [WriteFailure(offset, "the target closed the connection on this document")]
            half = len(batch) // 2
            return self._write(collection, batch[:half], offset, recompute) + self._write(
                collection, batch[half:], offset + half, recompute
            )
        return failures

    def _insert(
        self, collection: str, batch: list[Built], offset: int
    ) -> tuple[list[int], list[WriteFailure]]:
        """Insert all; return the positions whose key already exists, and the refusals."""
        docs = [dict(b.doc) for b in batch]  # insert_many adds _id to what it is given
        try:
            self._with_retries(
                lambda: self.db[collection].insert_many(docs, ordered=False),
                attempts=RETRIES if offset == 0 and len(docs) > 1 else 1,
            )
        except BulkWriteError as exc:
            failures = _refused(exc, collection, offset)
            existing = [f.position for f in failures if f.reason == _DUPLICATE]
            return existing, [f for f in failures if f.reason != _DUPLICATE]
        return [], []

    def _replace(
        self,
        collection: str,
        batch: list[Built],
        offset: int,
        gone: list[dict[str, Any]] | None = None,
    ) -> list[WriteFailure]:
        """Replace by key (upsert); the documents the server refused, by batch position."""
        coll = self.db[collection]
        gone = gone or []
        # A custom `_id` (addressed by the source key's fields) may change with its row, and
        # MongoDB refuses a replace that changes `_id`: such documents are replaced by delete
        # + insert too, so a duplicate `_id` is refused by the index, never overwritten.
        own_id = "_id" in batch[0].doc and "_id" not in batch[0].filter  # type: ignore[operator]
        if not self.profile.replace_by_delete and not own_id:
            ops: list[Any] = [ReplaceOne(b.filter, b.doc, upsert=True) for b in batch]
            if gone:
                ops.append(DeleteMany(key_query(gone)))
            try:
                self._with_retries(lambda: coll.bulk_write(ops, ordered=False))
            except BulkWriteError as exc:
                return _refused(exc, collection, offset)
            return []
        # FerretDB v1 stalls on bulk replaces that match existing documents (its connection
        # pool runs dry past a few dozen per command) and has no transactions, so replace is
        # delete + insert there: one delete for the replaced and the gone roots, since every
        # delete scans the collection there. ObjectIds are carried over.
        filters = [b.filter for b in batch]
        kept = {}
        if "_id" not in filters[0] and not own_id:
            for doc in coll.find(key_query(filters)):
                kept[_key_of(doc, filters[0])] = doc["_id"]
        docs = []
        for b in batch:
            doc = dict(b.doc)
            found = kept.get(_key_of(doc, b.filter)) if kept else None
            if found is not None:
                doc["_id"] = found
            docs.append(doc)
        self._with_retries(lambda: coll.delete_many(key_query(filters + gone)))
        crash_point("replace-deleted")
        try:
            self._with_retries(lambda: coll.insert_many(docs, ordered=False))
        except BulkWriteError as exc:
            refused = _refused(exc, collection, offset)
            return self._duplicate_ids(coll, batch, offset, refused) if own_id else refused
        return []

    def _duplicate_ids(
        self, coll: Any, batch: list[Built], offset: int, refused: list[WriteFailure]
    ) -> list[WriteFailure]:
        """Name the source key of the document that holds each refused `_id`."""
        dups = [f for f in refused if f.reason == _DUPLICATE]
        if not dups:
            return refused
        fields = {name: 1 for name in batch[0].filter}
        ids = [batch[f.position - offset].doc["_id"] for f in dups]  # type: ignore[index]
        holders = {
            bson.encode({"k": doc["_id"]}): _key_values(doc, batch[0].filter)
            for doc in coll.find({"_id": {"$in": ids}}, fields)
        }
        out = [f for f in refused if f.reason != _DUPLICATE]
        for failure, ident in zip(dups, ids, strict=True):
            holder = holders.get(bson.encode({"k": ident}))
            mine = _key_values(batch[failure.position - offset].doc, batch[0].filter)  # type: ignore[arg-type]
            other = f"the document of key {holder}" if holder else "another document"
            out.append(
                WriteFailure(
                    failure.position,
                    f"duplicate _id {ident!r}: {other} has it already (this row's key is "
                    f"{mine}); the document is not written",
                )
            )
        return out

    def ping(self) -> None:
        """A round trip to the server; TargetError if it is not answering."""
        self._with_retries(lambda: self.client.admin.command("ping"), attempts=1)

    def _alive(self) -> bool:
        try:
            self.client.admin.command("ping")
        except PyMongoError:
            return False
        return True

    def _with_retries(self, call: Any, attempts: int = RETRIES) -> Any:
        """Retry connection-level failures with backoff; upserts make the retry harmless."""
        delay = 0.2
        for attempt in range(attempts):
            try:
                return call()
            except (AutoReconnect, ConnectionFailure) as exc:
                # No server answered within the selection timeout: the job's retry of the
                # link (relmig.runtime.retry) waits between attempts, this loop would not.
                if attempt == attempts - 1 or isinstance(exc, ServerSelectionTimeoutError):
                    raise TargetError(
                        f"lost the MongoDB target {display_uri(self.uri)}: {exc}"
                    ) from None
                time.sleep(delay)
                delay *= 2
            except BulkWriteError:
                raise
            except OperationFailure as exc:
                if exc.code in SETUP_REFUSALS:  # retrying cannot help: not a lost link
                    raise TargetRefused(f"the MongoDB target refused: {exc}") from None
                raise TargetError(f"the MongoDB target refused a write: {exc}") from None
        raise AssertionError("unreachable")


def _indexes(plan: RootPlan) -> list[tuple[list[tuple[str, int]], bool]]:
    """ObjectId and custom-`_id` documents keep their source key in a field, unique, so they
    stay addressable (a custom `_id` may change with its row).

    No index on embedded keys: CDC finds the roots holding a row through the source (see
    relmig.route), so such indexes would only slow every write down.
    """
    if plan.keyed_by_fields:
        return [([(".".join(p), 1) for p in plan.key_paths], True)]
    return []


_DUPLICATE = "duplicate key"
AUTHENTICATION_FAILED = 18


def _check_database(client: MongoClient[dict[str, Any]], database: str, uri: str) -> None:
    """A database name the server refuses (FerretDB v1: any non-ASCII name) fails here, with
    the server's own words, instead of every write failing later. Listing collections is the
    one read that every server checks the name for."""
    try:
        client.get_database(database).list_collection_names()
    except OperationFailure as exc:
        said = (exc.details or {}).get("errmsg") or str(exc)
        raise TargetRefused(
            f"the MongoDB target {display_uri(uri)} refuses the database name {database!r}: "
            f"{said}; choose another (--database, or the job's target database)"
        ) from None


def _refusal(exc: PyMongoError, uri: str) -> TargetRefused | None:
    """A target that refuses relmig fails every retry alike: not a lost link."""
    if isinstance(exc, OperationFailure) and exc.code == AUTHENTICATION_FAILED:
        return TargetRefused(f"the MongoDB target {display_uri(uri)} refused the login: {exc}")
    if "certificate verify failed" in str(exc):
        reason = str(exc).split(" (configured timeouts")[0]
        return TargetRefused(
            f"the MongoDB target {display_uri(uri)} failed the TLS check: {reason} (the URI's "
            "tlsCAFile must be the CA that signed the server's certificate, and its host a "
            "name that certificate holds)"
        )
    return None


def _refused(exc: BulkWriteError, collection: str, offset: int) -> list[WriteFailure]:
    """The documents a bulk write refused, by batch position (duplicates marked as such)."""
    if exc.details.get("writeConcernErrors"):
        raise TargetError(
            f"write concern failed on {collection}: {exc.details['writeConcernErrors']}"
        ) from None
    return [
        WriteFailure(
            offset + err["index"],
            _DUPLICATE if err.get("code") == DUPLICATE_KEY else err.get("errmsg", ""),
        )
        for err in exc.details.get("writeErrors", [])
    ]


def key_query(filters: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One query for many keys: `$in` where every filter names the same single field (FerretDB
    v1 evaluates `$or` branch by branch for every stored document: 66 s against 0.8 s for 1,000
    keys on 20,000 documents), `$or` for composite keys."""
    fields = {tuple(f) for f in filters}
    if len(fields) == 1 and len(next(iter(fields))) == 1:
        (name,) = next(iter(fields))
        return {name: {"$in": [f[name] for f in filters]}}
    return {"$or": list(filters)}


def _values_at(doc: dict[str, Any], template: dict[str, Any]) -> list[Any]:
    """The values of `doc` at the filter's dotted paths."""
    values = []
    for path in template:
        node: Any = doc
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        values.append(node)
    return values


def _key_values(doc: dict[str, Any], template: dict[str, Any]) -> str:
    """The source key a document holds at the filter's paths, for a message: (1, 'a')."""
    return str(tuple(_values_at(doc, template)))


def _key_of(doc: dict[str, Any], template: dict[str, Any]) -> bytes:
    """The key values of `doc` at the filter's dotted paths, in a hashable exact form."""
    return bson.encode({"k": _values_at(doc, template)})


def client_settings(uri: str) -> dict[str, Any]:
    """Bounded waits on the target link: connect and server selection 10 s (or the client
    timeout, if shorter), and a socket
    timeout of the query timeout plus its grace (relmig.timeouts), so a write whose answer
    never comes fails and is retried. A timeout the URI sets itself wins."""
    given = {k.lower() for k in parse_qs(urlsplit(uri).query)}
    answer = int(client_timeout() * 1000)
    settings = {
        "serverSelectionTimeoutMS": min(10_000, answer),
        "connectTimeoutMS": min(10_000, answer),
        "socketTimeoutMS": answer,
    }
    return {k: v for k, v in settings.items() if k.lower() not in given}


# URI options whose values are secrets (MongoDB's connection string options, lower case), and
# words that make any option's value one.
_SECRET_OPTIONS = {"authmechanismproperties", "tlscertificatekeyfilepassword", "sslpemkeypassword"}
_SECRET_WORDS = ("password", "secret", "token", "credential")


def has_password(uri: str) -> bool:
    """Whether the URI's userinfo holds a password."""
    netloc = uri.partition("://")[2].partition("?")[0].partition("/")[0]
    return "@" in netloc and ":" in netloc.rsplit("@", 1)[0]


def display_uri(uri: str) -> str:
    """The URI without its secrets (the password, and options such as authMechanismProperties
    or tlsCertificateKeyFilePassword), for messages, logs and every answer."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, rest = "", uri
    address, mark, query = rest.partition("?")
    netloc, slash, path = address.partition("/")
    if "@" in netloc:
        creds, host = netloc.rsplit("@", 1)
        netloc = f"{creds.split(':', 1)[0]}:***@{host}"
    if query:
        query = "&".join(
            f"{k}=***" if _secret_option(k) else f"{k}={v}" if eq else k
            for k, eq, v in (part.partition("=") for part in query.split("&"))
        )
    shown = f"{netloc}{slash}{path}{mark}{query}"
    return f"{scheme}://{shown}" if sep else shown


def _secret_option(name: str) -> bool:
    key = name.lower()
    return key in _SECRET_OPTIONS or any(word in key for word in _SECRET_WORDS)
