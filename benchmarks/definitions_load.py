"""Time importing the code location and building its Definitions, in a fresh process.

    .venv/bin/python benchmarks/definitions_load.py

What ``dagster dev`` / the code server pay on every (re)load: importing
``flywheel_assets.definitions``, calling its lazy ``defs`` (which builds the definitions
for the active profile from the 27-table registry) and resolving the asset graph. Prints
one JSON line; the target is under 2 seconds for import + build.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

PROCESS_START = time.perf_counter()


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    started = time.perf_counter()
    import flywheel_assets.definitions as location

    defs = location.defs()  # what Dagster calls when it loads the code location
    imported = time.perf_counter()
    graph = defs.resolve_asset_graph()
    resolved = time.perf_counter()
    rebuilt = location.build_definitions()  # a second build: the factories alone
    rebuild = time.perf_counter() - resolved
    from flywheel_assets.config.registry import load_registry

    figures = {
        "tables": len(load_registry()),
        "assets": len(graph.get_all_asset_keys()),
        "asset_checks": len(graph.asset_check_keys),
        "import_and_build_s": round(imported - started, 3),
        "resolve_graph_s": round(resolved - imported, 3),
        "rebuild_s": round(rebuild, 3),
        "interpreter_to_done_s": round(time.perf_counter() - PROCESS_START, 3),
    }
    del rebuilt
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
