"""`make bench`: every benchmark on one PostgreSQL, each figure beside its baseline, into bench/RESULTS.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench               # 100,000 contacts
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench SIZE=1000000  # the full run

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


def steps(size: int) -> list[tuple[str, list[str]]]:
    """(name, script and arguments) for a shop of `size` contacts; baselines run on samples."""
    return [
        (
            "segments, preview, admin pages, demo seed",
            ["segments.py", "--contacts", str(size), "--seed-baseline-contacts", str(min(size, 50_000))],
        ),
        ("CSV import", ["imports.py", "--contacts", str(size), "--baseline-rows", "5000", "--bulk"]),
        (
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
            "journey tick and delivery",
            ["journeys.py", "--contacts", str(size // 5), "--naive-contacts", "1000"],
        ),
        ("scoring (bench/scoring.py)", ["scoring.py", "--contacts", str(size)]),
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
    started = datetime.now(UTC)
    machine = _machine()
    rows, quoted, problems, memory = [], [], [], []
    for name, script_args in steps(size):
        print(f"\n=== {name}: {' '.join(script_args)}", flush=True)
        code, output, seconds, peak_mb = _run(script_args)
        memory.append((name, seconds, peak_mb, code))
        for line in output.splitlines():
            if line.startswith("BENCH "):
                rows.append(json.loads(line[len("BENCH ") :]))
        if script_args[0] == "scoring.py":
            quoted.append(output)
        if code != 0:
            problems.append(
                f"{name}: exit code {code} (see its output above; the last lines are quoted below)"
            )
            quoted.append(f"{name} (exit {code}):\n" + "\n".join(output.splitlines()[-15:]))
    server = ""
    try:
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
            server = conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - only for the header
        server = "?"
    lines = [
        "# Winback benchmark results",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; SIZE={size:,} contacts",
        f"- Machine: {machine}",
        f"- PostgreSQL {server}; every script in its own throw-away database on that server",
        "- Command: `make bench" + (f" SIZE={size}" if size != 100_000 else "") + "`",
        "",
        "Ratios: above 1 means Winback is better than the baseline (rates: Winback / baseline; times:",
        "baseline / Winback). Where the baseline is a limit (COPY into a bare table, the SMTP sink alone)",
        "the ratio is the share of the limit reached. Admin pages compare their p95 with the 300 ms goal.",
        "",
        "| figure | Winback | baseline | ratio | note |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") is not None else "—"
        lines.append(
            f"| {row['figure']} | {_number(row['winback'], row['unit'])} | "
            f"{_number(row['baseline'], row['unit'])} | {ratio} | {row.get('note', '')} |"
        )
    lines += [
        "",
        "## Time and peak memory per step",
        "",
        "| step | seconds | peak memory | exit |",
        "|---|---|---|---|",
    ]
    for name, seconds, peak_mb, code in memory:
        lines.append(f"| {name} | {seconds:,.0f} s | {peak_mb:,.0f} MB | {code} |")
    if problems:
        lines += ["", "## Problems", "", *[f"- {p}" for p in problems]]
    for text in quoted:
        lines += ["", "## Quoted output", "", "```", text.strip(), "```"]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nWritten to {HERE / 'RESULTS.md'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
