"""``flywheel glue package``: the artifact Glue runs.

A zip of the ``glue_jobs`` package plus each pipeline's split CSVs (as
``glue_jobs/split_csvs/<pipeline>/<source>.csv``, which the job of that pipeline reads
when ``--CSV_FILE`` is ``_NONE_``; the profile's ``<pipeline>_*_csv`` settings choose them) for
``--extra-py-files``, and the entry scripts for ``ScriptLocation``. The zip is
byte-for-byte reproducible (sorted entries, fixed timestamps) and named by its content
hash, so deploying unchanged code uploads nothing and changes no job.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import glue_jobs
from flywheel_assets.config.registry import packaged_split_csvs
from flywheel_assets.config.settings import Settings, load_settings
from flywheel_assets.deploy.jobs import ENTRY_SCRIPTS

GLUE_JOBS_DIR = Path(glue_jobs.__file__).parent
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold


@dataclass(frozen=True)
class GluePackage:
    zip_path: Path
    scripts: dict[str, Path]  # entry script name -> file
    sha256: str
    entries: tuple[str, ...]


def package_entries(settings: Settings | None = None) -> dict[str, bytes]:
    """Archive name -> content: every module of ``glue_jobs`` and each pipeline's split
    CSVs (``settings``: the profile deployed, default the active one)."""
    entries = {
        f"glue_jobs/{path.relative_to(GLUE_JOBS_DIR).as_posix()}": path.read_bytes()
        for path in sorted(GLUE_JOBS_DIR.rglob("*.py"))
        if "__pycache__" not in path.parts
    }
    for name, csv_path in packaged_split_csvs(settings or load_settings()).items():
        entries[f"glue_jobs/{name}"] = csv_path.read_bytes()
    return entries


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def build_package(out_dir: Path, settings: Settings | None = None) -> GluePackage:
    """Write ``glue_jobs-<sha12>.zip``, the entry scripts and ``package.json`` into
    ``out_dir`` (older zips there are removed)."""
    entries = package_entries(settings)
    data = zip_bytes(entries)
    sha = hashlib.sha256(data).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("glue_jobs-*.zip"):
        old.unlink()
    zip_path = out_dir / f"glue_jobs-{sha[:12]}.zip"
    zip_path.write_bytes(data)
    scripts = {}
    for script in ENTRY_SCRIPTS:
        scripts[script] = out_dir / script
        scripts[script].write_bytes((GLUE_JOBS_DIR / script).read_bytes())
    info = {"zip": zip_path.name, "sha256": sha, "entries": sorted(entries)}
    info["scripts"] = sorted(scripts)
    (out_dir / "package.json").write_text(json.dumps(info, indent=2) + "\n")
    return GluePackage(zip_path, scripts, sha, tuple(sorted(entries)))
