"""`make bench`: every benchmark on one PostgreSQL, each figure beside its baseline, into bench/RESULTS.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench               # 100,000 contacts
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench SIZE=1000000  # the full run
    DATABASE_URL=... make bench SIZE=1000000 STEPS=scoring,journeys               # some steps only

STEPS (comma-separated keys: segments, imports, coupons, journeys, scoring) runs only those steps. Each
step's figures are kept in bench/results/<SIZE>/<step>.json with its own date, load and peak memory,
and RESULTS.md is written from every step file of that SIZE, so a long full run can be done (or redone)
one step at a time and each figure still says when and under which load it was measured.

Each script runs as its own process in its own throw-away database (`test_<name>`); the peak memory of
each step is that process's maximum resident set. The scripts print `BENCH {json}` lines (see
bench/_common.py `figure`); bench/scoring.py prints its own report, quoted as it is.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable


def steps(size: int) -> list[tuple[str, str, list[str]]]:
    """(key, name, script and arguments) for a shop of `size` contacts; baselines run on samples."""
    return [
        (
            "segments",
            "segments, preview, admin pages, demo seed",
            ["segments.py", "--contacts", str(size), "--seed-baseline-contacts", str(min(size, 50_000))],
        ),
        (
            "imports",
            "CSV import",
            ["imports.py", "--contacts", str(size), "--baseline-rows", "5000", "--bulk"],
        ),
        (
            "coupons",
            "coupons",
            [
                "coupons.py",
                "--codes",
                str(size),
                "--contacts",
                str(size // 2),
                "--naive-codes",
                "5000",
                "--naive-contacts",
                "1000",
            ],
        ),
        (
            "journeys",
            "journey tick and delivery",
            [
                "journeys.py",
                "--contacts",
                str(min(size // 5, 50_000)),
                "--worker-contacts",
                str(min(size // 5, 20_000)),
                "--naive-contacts",
                "1000",
            ],
        ),
        ("scoring", "scoring (bench/scoring.py)", ["scoring.py", "--contacts", str(size)]),
    ]


def _run(script_args: list[str]) -> tuple[int, str, float, float]:
    """Run one script; returns (exit code, output, seconds, peak memory in MB)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [PYTHON, str(HERE / script_args[0]), *script_args[1:]],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    for line in process.stdout:  # stream, so a long run shows progress
        print(line, end="", flush=True)
        output.append(line)
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    return process.returncode, "".join(output), time.monotonic() - started, peak_mb


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:,.1f} s"
    return f"{value:,.0f} {unit}"


def _machine() -> str:
    cores = os.cpu_count()
    memory = ""
    try:
        with open("/proc/meminfo") as meminfo:
            kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    load = f", load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    return f"{platform.machine()}, {cores} cores{memory}, Python {platform.python_version()}{load}"


def _server_version(url: str) -> str:
    try:
        import psycopg

        # The maintenance database: the one named in the URL need not exist (scripts use test_<name>).
        params = psycopg.conninfo.conninfo_to_dict(url.replace("postgres://", "postgresql://", 1))
        params["dbname"] = "postgres"
        with psycopg.connect(**params) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - only for the header
        return "?"


def step_run(key: str, name: str, script_args: list[str], size: int, url: str) -> dict:
    """Run one step and keep its figures in bench/results/<size>/<key>.json."""
    started = datetime.now(UTC)
    machine = _machine()
    print(f"\n=== {name}: {' '.join(script_args)}", flush=True)
    code, output, seconds, peak_mb = _run(script_args)
    rows = [json.loads(line[len("BENCH ") :]) for line in output.splitlines() if line.startswith("BENCH ")]
    quoted = []
    if script_args[0] == "scoring.py":
        quoted.append(output)
    if code != 0:
        quoted.append(f"{name} (exit {code}):\n" + "\n".join(output.splitlines()[-15:]))
    record = {
        "key": key,
        "name": name,
        "size": size,
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "machine": machine,
        "server": _server_version(url),
        "command": " ".join(["bench/" + script_args[0], *script_args[1:]]),
        "seconds": seconds,
        "peak_mb": peak_mb,
        "exit": code,
        "rows": rows,
        "quoted": quoted,
    }
    folder = HERE / "results" / str(size)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def results_write(size: int, order: list[str]) -> tuple[str, bool]:
    """RESULTS.md from every kept step of this size; returns (text, whether a step failed)."""
    folder = HERE / "results" / str(size)
    records = [
        json.loads((folder / f"{key}.json").read_text()) for key in order if (folder / f"{key}.json").exists()
    ]
    command = "make bench" + (f" SIZE={size}" if size != 100_000 else "")
    dates = sorted(r["started"] for r in records)
    lines = [
        "# Winback benchmark results",
        "",
        f"- SIZE={size:,} contacts; command `{command}` (steps may be run one at a time with STEPS=...)",
        f"- Steps measured between {dates[0]} and {dates[-1]} UTC" if dates else "- No step measured yet",
        f"- PostgreSQL {records[0]['server'] if records else '?'}; each script in its own throw-away db",
        "",
        "Ratios: above 1 means Winback is better than the baseline (rates: Winback / baseline; times:",
        "baseline / Winback). Where the baseline is a limit (COPY into a bare table, the SMTP sink alone)",
        "the ratio is the share of the limit reached. Admin pages compare their p95 with the 300 ms goal.",
        "",
        "| figure | Winback | baseline | ratio | note |",
        "|---|---|---|---|---|",
    ]
    for record in records:
        for row in record["rows"]:
            ratio = f"{row['ratio']:.2f}" if row.get("ratio") is not None else "—"
            lines.append(
                f"| {row['figure']} | {_number(row['winback'], row['unit'])} | "
                f"{_number(row['baseline'], row['unit'])} | {ratio} | {row.get('note', '')} |"
            )
    lines += [
        "",
        "## Each step: when, where, time and peak memory",
        "",
        "| step | started (UTC) | machine | seconds | peak memory | exit |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['name']} | {r['started']} | {r['machine']} | {r['seconds']:,.0f} s | "
            f"{r['peak_mb']:,.0f} MB | {r['exit']} |"
        )
    failed = [r for r in records if r["exit"] != 0]
    if failed:
        lines += ["", "## Problems", ""]
        lines += [f"- {r['name']}: exit code {r['exit']} (its last lines are quoted below)" for r in failed]
    for r in records:
        for text in r["quoted"]:
            lines += ["", f"## Quoted output: {r['name']}", "", "```", text.strip(), "```"]
    return "\n".join(lines) + "\n", bool(failed)


def main() -> int:
    size = int(os.environ.get("SIZE") or (sys.argv[1] if len(sys.argv) > 1 else 100_000))
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print(
            "make bench measures Winback on PostgreSQL. Set DATABASE_URL to a server where this user may\n"
            "create databases (each benchmark makes and drops its own test_<name> database), e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench SIZE=1000000",
            file=sys.stderr,
        )
        return 2
    all_steps = steps(size)
    keys = [key for key, _name, _args in all_steps]
    wanted = [k.strip() for k in os.environ.get("STEPS", "").split(",") if k.strip()] or keys
    unknown = sorted(set(wanted) - set(keys))
    if unknown:
        print(f"Unknown STEPS {', '.join(unknown)}; the steps are: {', '.join(keys)}", file=sys.stderr)
        return 2
    failed_now = False
    for key, name, script_args in all_steps:
        if key in wanted:
            failed_now |= step_run(key, name, script_args, size, url)["exit"] != 0
    text, failed = results_write(size, keys)
    (HERE / "RESULTS.md").write_text(text)
    print(text)
    print(f"\nWritten to {HERE / 'RESULTS.md'} (steps kept in {HERE / 'results' / str(size)})")
    return 1 if (failed or failed_now) else 0


if __name__ == "__main__":
    sys.exit(main())
