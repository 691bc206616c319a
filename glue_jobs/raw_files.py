"""A raw snapshot checked file by file from its parquet footers, before Spark reads it.

Spark takes a parquet folder's schema from one file: a later file that lacks a column
reads as nulls, an integer key is split like a string one, and a column typed otherwise
in another file fails mid-write in ~280 lines of JVM frames. A file's footer (its row
count and schema) is a few KB at its end, so two small reads per file (ranged GETs on
S3), never the data, let the run fail first, naming the file, the column and what was
found. When Spark fails all the same (data pages corrupt behind a sound footer),
:func:`reading_raw` turns its error into one line and keeps the trace in the debug log.

pyarrow parses the footers. AWS Glue 5.0 ships pyarrow 17.0.0 among the "Python modules
already provided in AWS Glue" (docs.aws.amazon.com/glue/latest/dg/
aws-glue-programming-python-libraries.html#glue-modules-provided; Glue 4.0 had 10.0.0),
and every call used here is older than that (``make test-glue-runtime`` runs these
checks on 17.0.0). It is imported lazily all the same, so a job run without it fails
with a sentence saying so.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glue_jobs.registry import KEY_COLUMN, TableSpec, normalize_column
from glue_jobs.transforms import RawInputError

MAGIC = b"PAR1"
ENCRYPTED_MAGIC = b"PARE"  # a footer encrypted with parquet modular encryption
TAIL = 8  # footer length (4 bytes, little-endian) + magic
MAX_PROBLEMS = 10  # lines one error lists; the rest are counted
MAX_LISTED = 8  # columns or files one line names
MAX_SPARK_DETAIL = 400  # characters of a Spark message kept in the one-line error
STRING = "string"
# Arrow types Spark reads as the same column type (pyarrow keeps its own variants in the
# footer's ARROW:schema, so a large_string file and a string file are one type to Spark)
TYPE_ALIASES = {
    "large_string": STRING,
    "string_view": STRING,
    "large_binary": "binary",
    "binary_view": "binary",
}
# Exceptions of a failed Spark call, matched by name: pyspark 3.5 and 4.x define them in
# different modules (py4j's Py4JJavaError, pyspark's CapturedException/PySparkException
# family, Spark Connect's own classes, all PySparkException subclasses).
SPARK_ERRORS = frozenset({"Py4JError", "PySparkException", "CapturedException"})

RangeReader = Callable[[int, int], bytes]  # (start, length) -> those bytes of one file


@dataclass(frozen=True)
class RawFile:
    """A file Spark will read: its URI (for messages), size and a ranged reader."""

    uri: str
    size: int
    read: RangeReader


@dataclass(frozen=True)
class FileFooter:
    uri: str
    rows: int
    fields: tuple[tuple[str, str], ...]  # (raw column name, Arrow type), in file order


@dataclass(frozen=True)
class RawSummary:
    files: int
    rows: int
    bytes: int
    footers: tuple[FileFooter, ...] = ()  # every file's, in listing order


@dataclass(frozen=True)
class SnapshotSchema:
    """The columns of a snapshot's files together (``snapshot_schema``)."""

    columns: tuple[tuple[str, str], ...]  # (normalised column, Arrow type), first seen first
    missing: dict[str, tuple[str, ...]]  # column -> the files that lack it
    problems: tuple[str, ...]  # a column with two types, or two raw names, across files


# ---- which files, and reading their footers ---------------------------------------------


def is_data_file(relative_key: str) -> bool:
    """Whether Spark reads this file of a snapshot folder: every file but hidden ones (a
    path part starting with ``_`` or ``.``, like ``_SUCCESS``), ``._COPYING_`` leftovers and
    S3 "folder" keys ending in ``/``. Spark does not look at the extension: neither does
    this check, so a stray ``notes.txt`` fails here in one line, not in Spark."""
    parts = relative_key.split("/")
    return (
        bool(relative_key)
        and not relative_key.endswith(("/", "._COPYING_"))
        and not any(p.startswith(("_", ".")) for p in parts)
    )


def data_files(prefix: str, listing: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The ``(key, size)`` pairs of a listing under ``prefix`` that Spark reads."""
    return [(key, size) for key, size in listing if is_data_file(key[len(prefix) :])]


def read_file_range(path: str | Path, start: int, length: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(start)
        return handle.read(length)


def read_s3_range(client: Any, bucket: str, key: str, start: int, length: int) -> bytes:
    """One ranged GET through a boto3 S3 client: ``length`` bytes, never the object."""
    byte_range = f"bytes={start}-{start + length - 1}"
    return client.get_object(Bucket=bucket, Key=key, Range=byte_range)["Body"].read()


def local_file(path: str | Path) -> RawFile:
    path = Path(path)
    return RawFile(str(path), path.stat().st_size, lambda s, n: read_file_range(path, s, n))


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError(
            "checking raw parquet footers needs pyarrow (AWS Glue 5.0 provides 17.0.0; "
            "elsewhere install it, on Glue add it to --additional-python-modules)"
        ) from exc
    return pa, pq


def _unreadable(uri: str, problem: str) -> RawInputError:
    return RawInputError(f"{uri}: {problem}")


def _read_exact(file: RawFile, start: int, length: int) -> bytes:
    data = file.read(start, length)
    if len(data) != length:
        raise _unreadable(file.uri, f"read {len(data)} of {length} bytes at offset {start}")
    return data


def read_footer(file: RawFile) -> FileFooter:
    """Row count and schema from the footer alone: the last 8 bytes (footer length and
    magic), then the footer. Any damage is one ``RawInputError`` line naming the file."""
    if file.size < len(MAGIC) + TAIL:
        raise _unreadable(file.uri, f"{file.size} bytes, too small for a parquet file")
    tail = _read_exact(file, file.size - TAIL, TAIL)
    magic = tail[4:]
    if magic == ENCRYPTED_MAGIC:
        raise _unreadable(file.uri, "encrypted parquet footer, cannot be checked")
    if magic != MAGIC:
        raise _unreadable(
            file.uri, f"not a parquet file or truncated: ends with {magic!r}, not {MAGIC!r}"
        )
    length = int.from_bytes(tail[:4], "little")
    if not 0 < length <= file.size - len(MAGIC) - TAIL:
        raise _unreadable(
            file.uri,
            f"footer length {length} does not fit a {file.size}-byte file (truncated or corrupt)",
        )
    footer = _read_exact(file, file.size - TAIL - length, length)
    return parse_footer(file.uri, MAGIC + footer + tail)


def parse_footer(uri: str, data: bytes) -> FileFooter:
    """Parse ``PAR1 + footer + length + PAR1``: the smallest buffer pyarrow reads as a
    file (the column chunks it points to are never touched)."""
    pa, pq = _pyarrow()
    try:
        metadata = pq.read_metadata(pa.BufferReader(data))
        schema = metadata.schema.to_arrow_schema()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable(uri, f"unreadable parquet footer ({_first_line(exc)})") from None
    fields = tuple((f.name, _type_name(f.type, pa)) for f in schema)
    return FileFooter(uri, metadata.num_rows, fields)


def _type_name(arrow_type: Any, pa: Any) -> str:
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    name = str(arrow_type)
    return TYPE_ALIASES.get(name, name)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# ---- the checks -------------------------------------------------------------------------


def validate_raw_files(
    origin: str, files: Sequence[RawFile], tables: Iterable[TableSpec], same_schema: bool = False
) -> RawSummary:
    """Read every footer and check them together; one ``RawInputError`` lists every
    problem (bounded), so a delivery is fixed in one round, not one file at a time.

    ``same_schema``: every file must also hold every column, with one type and one raw
    name (compaction rewrites all columns; Spark would take one file's schema and drop or
    null-fill what the others differ in)."""
    footers: list[FileFooter] = []
    problems: list[str] = []
    for file in files:
        try:
            footers.append(read_footer(file))
        except RawInputError as exc:
            problems.append(str(exc))
    problems += footer_problems(footers, tables)
    if same_schema:
        schema = snapshot_schema(footers)
        problems += [p for p in schema.problems if p not in problems]  # needed ones: said
        problems += [
            f"column {column} is missing from {listed(uris)}"
            for column, uris in schema.missing.items()
        ]
    rows = sum(f.rows for f in footers)
    if rows == 0 and len(footers) == len(files):  # an unreadable file's rows are unknown
        problems.append(f"{origin}: 0 rows in {len(files)} file(s), an empty delivery")
    if problems:
        raise RawInputError(describe_problems(origin, problems))
    return RawSummary(
        files=len(files), rows=rows, bytes=sum(f.size for f in files), footers=tuple(footers)
    )


def snapshot_schema(footers: Sequence[FileFooter]) -> SnapshotSchema:
    """Every column of the files (normalised names, first seen first), which files lack
    each, and the columns the files disagree on (type or raw name): the schema a table
    over the snapshot declares."""
    types, names = column_sightings(footers)
    problems = [clash for footer in footers for clash in normalised_fields(footer)[1]]
    for column in types:
        problems += column_disagreements(column, types, names)
    everyone = [f.uri for f in footers]
    missing = {}
    for column, found in types.items():
        present = {uri for uris in found.values() for uri in uris}
        lacking = tuple(uri for uri in everyone if uri not in present)
        if lacking:
            missing[column] = lacking
    columns = tuple((column, next(iter(found))) for column, found in types.items())
    return SnapshotSchema(columns=columns, missing=missing, problems=tuple(problems))


Sightings = dict[str, dict[str, list[str]]]  # column -> type (or raw name) -> files


def column_sightings(footers: Sequence[FileFooter]) -> tuple[Sightings, Sightings]:
    """Per normalised column: the files seen with each type, and with each raw name
    (lower-cased: Spark matches names up to case)."""
    types: Sightings = defaultdict(lambda: defaultdict(list))
    names: Sightings = defaultdict(lambda: defaultdict(list))
    for footer in footers:
        for column, (raw_name, type_name) in normalised_fields(footer)[0].items():
            types[column][type_name].append(footer.uri)
            names[column][raw_name.lower()].append(footer.uri)
    return types, names


def column_disagreements(
    column: str, types: Sightings, names: Sightings, typed: bool = True
) -> list[str]:
    problems = []
    if typed and len(types.get(column, {})) > 1:
        problems.append(disagreement(column, "has different types", types[column]))
    if len(names.get(column, {})) > 1:
        problems.append(
            disagreement(column, "is named differently (Spark reads nulls)", names[column])
        )
    return problems


def footer_problems(footers: Sequence[FileFooter], tables: Iterable[TableSpec]) -> list[str]:
    """Every file holds the key as a string and every column the ``tables`` read; each of
    those columns has one type and one raw name (up to case) across files. Columns no
    table reads are not Spark's concern (it reads only the selected columns)."""
    needed = needed_columns(tables)
    problems: list[str] = []
    for footer in footers:
        columns, clashes = normalised_fields(footer)
        problems += clashes + file_problems(footer.uri, columns, needed)
    types, names = column_sightings(footers)
    for column in needed:  # the key's type is file_problems' (it must be a string)
        problems += column_disagreements(column, types, names, typed=column != KEY_COLUMN)
    return problems


def needed_columns(tables: Iterable[TableSpec]) -> dict[str, list[str]]:
    """Column -> the tables that read it; the key first, read by every table."""
    needed: dict[str, list[str]] = {KEY_COLUMN: []}
    for table in tables:
        for column in table.columns:
            needed.setdefault(column, []).append(table.name)
    return needed


def normalised_fields(footer: FileFooter) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Normalised column -> (raw name, type), and the file's clashes: two raw names that
    normalise alike (Spark would refuse the duplicate column)."""
    columns: dict[str, tuple[str, str]] = {}
    clashes: list[str] = []
    for raw_name, type_name in footer.fields:
        column = normalize_column(raw_name)
        if column in columns:
            clashes.append(
                f"{footer.uri}: columns {columns[column][0]!r} and {raw_name!r} "
                f"both normalise to {column!r}"
            )
        else:
            columns[column] = (raw_name, type_name)
    return columns, clashes


def file_problems(
    uri: str, columns: dict[str, tuple[str, str]], needed: dict[str, list[str]]
) -> list[str]:
    problems = []
    if KEY_COLUMN not in columns:
        problems.append(f"{uri}: no {KEY_COLUMN} column (columns: {listed(sorted(columns))})")
    elif columns[KEY_COLUMN][1] != STRING:
        problems.append(f"{uri}: {KEY_COLUMN} is {columns[KEY_COLUMN][1]}, expected a string")
    missing = [
        f"{c} ({', '.join(t)})" for c, t in needed.items() if c != KEY_COLUMN and c not in columns
    ]
    if missing:
        problems.append(f"{uri}: lacks registry column(s) {listed(missing)}")
    return problems


def disagreement(column: str, what: str, found: dict[str, list[str]]) -> str:
    """``column x has different types: int64 in f1 (+2 more files), string in f3``."""
    parts = []
    for value, uris in sorted(found.items()):
        more = f" (+{len(uris) - 1} more file(s))" if len(uris) > 1 else ""
        parts.append(f"{value} in {uris[0]}{more}")
    return f"column {column} {what}: {', '.join(parts)}"


def listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def describe_problems(origin: str, problems: Sequence[str]) -> str:
    """A heading and one line per problem, the first ``MAX_PROBLEMS`` of them."""
    lines = [f"raw snapshot {origin} cannot be split ({len(problems)} problem(s)):"]
    lines += [f"  {p}" for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS} more")
    return "\n".join(lines)


# ---- Spark's failures in one line -------------------------------------------------------

_SKIPPED = re.compile(
    r"^\s*(at |\.\.\. \d+ more|Driver stacktrace:|JVM stacktrace:|An error occurred while)"
)
_STAGE = re.compile(r"Job aborted due to stage failure: .*?most recent failure: .*?\): ")
_JAVA_CLASS = re.compile(r"^(?:[A-Za-z_$][\w$]*\.)+[\w$]*(?:Exception|Error)(?::\s*|$)")
_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+\.?")


def is_spark_error(exc: BaseException) -> bool:
    return any(cls.__name__ in SPARK_ERRORS for cls in type(exc).__mro__)


def spark_problem(exc: BaseException) -> str:
    """The first meaningful line of a Spark error and, when it adds something, its root
    cause, without frames, Java class names or the py4j call (``o35.count``)."""
    lines: list[str] = []
    causes: list[str] = []
    for raw in str(exc).splitlines():
        if not raw.strip() or _SKIPPED.match(raw):
            continue
        cause = raw.startswith("Caused by: ")
        line = _clean(raw.removeprefix("Caused by: "))
        if line:
            (causes if cause else lines).append(line)
    first = (lines or causes or [type(exc).__name__])[0]
    root = causes[-1] if causes else first
    text = first if root in first else f"{first} (cause: {root})"
    return text if len(text) <= MAX_SPARK_DETAIL else text[: MAX_SPARK_DETAIL - 3] + "..."


def _clean(line: str) -> str:
    line = line.strip().removeprefix(": ")
    line = _JAVA_CLASS.sub("", _STAGE.sub("", _JAVA_CLASS.sub("", line)))
    return " ".join(_SQLSTATE.sub("", line).split())


def spark_read_error(exc: BaseException, location: str, log: logging.Logger) -> RawInputError:
    """One line naming ``location`` and the problem; the whole trace goes to DEBUG."""
    log.debug(f"Spark failed reading the raw snapshot {location}", exc_info=exc)
    return RawInputError(f"Spark cannot read the raw snapshot {location}: {spark_problem(exc)}")


@contextmanager
def reading_raw(location: str, log: logging.Logger) -> Iterator[None]:
    """Around Spark calls over a raw snapshot: a Spark failure becomes
    :func:`spark_read_error` (its chain suppressed, so the user sees one line); any other
    exception passes unchanged."""
    try:
        yield
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise spark_read_error(exc, location, log) from None
