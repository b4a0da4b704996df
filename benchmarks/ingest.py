"""Parsing the real FER2013: our reader against the first study's pandas + str.split method.

    python benchmarks/ingest.py [PATH] [--repeat N]

PATH defaults to FER2013_PATH, else ../shared/data/fer2013/fer2013.csv.gz. Each method runs in a
fresh interpreter, so its peak RSS (ru_maxrss) is its own; times cover the parse only, not imports.
Targets: ours >= 10x faster than the study's method, and our peak RSS <= 1.5 GB. Also shown: our
exact numpy parser alone (the path that reads, or names the errors of, a file the Arrow fast path
does not vouch for), with the standard library's gunzip.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import fer2013_path, run_child  # noqa: E402

SPEEDUP_TARGET = 10.0
PEAK_RSS_TARGET_GB = 1.5

_MEASURE = """
import json, resource, time
def rss_gb():
    with open("/proc/self/status") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return kb / 1024 ** 2
{imports}
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
before = rss_gb()
start, cpu_start = time.perf_counter(), cpu()
{work}
result = {{"seconds": time.perf_counter() - start, "cpu_seconds": cpu() - cpu_start, "rows": int(rows), "shape": list(shape), "dtype": str(dtype),
          "rss_before_gb": before, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2}}
{after}
print(json.dumps(result))
"""

OURS = _MEASURE.format(
    imports="from pathlib import Path\nfrom facial_emotion.data.fer_csv import read_bytes, read_fer_csv",
    work="ds, sha = read_fer_csv(__PATH__)\nrows, shape, dtype = len(ds), ds.images.shape, ds.images.dtype",
    # after the peak was taken: how much of the time is reading + gunzip (the floor for any parser)
    after="start = time.perf_counter()\nread_bytes(Path(__PATH__))\nresult['read_seconds'] = time.perf_counter() - start",
)

EXACT = _MEASURE.format(
    imports="import gzip, hashlib\nfrom pathlib import Path\nfrom facial_emotion.data.fer_csv import parse_fer_bytes",
    work=("raw = Path(__PATH__).read_bytes()\nraw = gzip.decompress(raw) if __PATH__.endswith('.gz') else raw\n"
          "sha = hashlib.sha256(raw).hexdigest()\nds = parse_fer_bytes(raw, __PATH__, fast=False)\n"
          "rows, shape, dtype = len(ds), ds.images.shape, ds.images.dtype"),
    after="",
)

STUDY = _MEASURE.format(
    imports="import numpy as np\nimport pandas as pd",
    work=("df = pd.read_csv(__PATH__)\n"
          "X = np.stack(df.pixels.apply(lambda x: np.array(x.split(' ')).reshape(48, 48, 1).astype('float32')))\n"
          "rows, shape, dtype = len(df), X.shape, X.dtype"),
    after="",
)


def measure(code: str, path: str, repeat: int) -> dict:
    """Fastest of `repeat` fresh-process runs; peak RSS is the largest seen."""
    runs = [run_child(code.replace("__PATH__", repr(path))) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "peak_rss_gb": max(r["peak_rss_gb"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help="fer2013.csv or .csv.gz (default: FER2013_PATH or ../shared/...)")
    parser.add_argument("--repeat", type=int, default=1, help="fresh-process runs per method (fastest counts)")
    args = parser.parse_args()
    path = str(fer2013_path(args.path))

    print(f"FER2013: {path}  ({args.repeat} run(s) per method, each in a fresh process)")
    ours = measure(OURS, path, args.repeat)
    exact = measure(EXACT, path, args.repeat)
    study = measure(STUDY, path, args.repeat)
    if not ours["rows"] == exact["rows"] == study["rows"]:
        sys.exit(f"row counts differ: ours {ours['rows']}, exact parser {exact['rows']}, study {study['rows']}")
    speedup = study["seconds"] / ours["seconds"]
    rss_ratio = study["peak_rss_gb"] / ours["peak_rss_gb"]

    cpu_ratio = study["cpu_seconds"] / ours["cpu_seconds"]
    print(f"{'method':<44} {'rows':>6} {'wall s':>7} {'CPU s':>7} {'peak RSS GB':>12} {'RSS before GB':>14}  output")
    rows = (("ours: read_fer_csv (uint8)", ours), ("ours, exact parser alone + gzip (uint8)", exact),
            ("first study: pandas + str.split (float32)", study))
    for name, r in rows:
        print(f"{name:<44} {r['rows']:>6} {r['seconds']:>7.2f} {r['cpu_seconds']:>7.2f} {r['peak_rss_gb']:>12.2f}"
              f" {r['rss_before_gb']:>14.2f}  {tuple(r['shape'])} {r['dtype']}")
    print(f"{'ratio (study / ours)':<44} {'':>6} {speedup:>6.1f}x {cpu_ratio:>6.1f}x {rss_ratio:>11.1f}x")
    print(f"reading + decompressing the file alone, measured apart, takes {ours['read_seconds']:.2f} s (ours overlaps it with parsing)")
    speed_ok = speedup >= SPEEDUP_TARGET
    memory_ok = ours["peak_rss_gb"] <= PEAK_RSS_TARGET_GB
    print(f"speed:  {speedup:.1f}x faster in wall time (target >= {SPEEDUP_TARGET:g}x): {'PASS' if speed_ok else 'FAIL'}"
          f"  [CPU time: {cpu_ratio:.1f}x; on a busy machine that is the steadier figure]")
    print(f"memory: our peak RSS {ours['peak_rss_gb']:.2f} GB (target <= {PEAK_RSS_TARGET_GB} GB): "
          f"{'PASS' if memory_ok else 'FAIL'}")
    if not (speed_ok and memory_ok):
        sys.exit(1)


if __name__ == "__main__":
    main()
