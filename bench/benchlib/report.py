"""benchlib/report.py — what a run measured and how it is shown: the results
store (results, rounds, order, fixed_keys; record() keeps one run and prints
its line), aggregate() (a cell from the rounds: medians of req/s, p50 and
p99, max of peak RSS, ranges), the Lua ÷ static ratio cell, the table (cells,
atto/nginx and atto/h2o ratios, printed and as markdown), the per-round
spread, the notes, the machine description, and write_markdown, which writes
build/bench/results.md and build/bench/commands.txt.
"""
import os
import statistics
import subprocess
import time

from benchlib.cpu import PIN
from benchlib.config import (ATTO, DURATION, LOAD_START, NPROC, OUT, ROUNDS, WORKERS,
                             WORKLOADS, commands)
from benchlib.workloads import STATIC_13B

results = {}        # (workers, workload) -> server -> metrics (the medians, once aggregated)
rounds = {}         # (workers, workload) -> server -> [(round, metrics of that round)]
order = []

fixed_keys = set()  # (workers, label) of the fixed-rate rows, shown as p50/p99/achieved


def record(w, wl, name, r, rnd=None):
    """Keep one run's metrics: per round when rnd is given, else as the cell."""
    key = (w, wl)
    if key not in results:
        results[key] = {}
        order.append(key)
    if rnd is None:
        results[key][name] = r
    else:
        rounds.setdefault(key, {}).setdefault(name, []).append((rnd, r))
    print("  %s%-5s %dw %-44s %s" % ("r%d " % rnd if rnd else "", name, w, wl, summary(r)),
          flush=True)


def aggregate(runs):
    """One cell from a workload's rounds on one server: the median of req/s and
    of the rounds' p50 and p99 over the rounds that measured, the max of peak
    RSS, the req/s and p99 ranges, and every round's note or error tagged rN."""
    good = [r for _, r in runs if r.get("rps") is not None]
    notes = ["r%d: %s" % (n, r.get("note") or r.get("err") or r.get("na"))
             for n, r in runs if r.get("note") or r.get("err") or r.get("na")]
    if not good:
        if all("na" in r for _, r in runs):
            return {"na": runs[0][1]["na"]}
        return {"err": "; ".join(notes)}
    rps = [r["rps"] for r in good]
    agg = {"rps": statistics.median(rps), "rps_range": (min(rps), max(rps)),
           "rounds": len(good), "rss": max(r.get("rss", 0) for _, r in runs)}
    for k in ("p50", "p99"):
        v = [r[k] for r in good if r.get(k) is not None]
        agg[k] = statistics.median(v) if v else None
        agg[k + "_range"] = (min(v), max(v)) if v else None
    steal = [r["steal"] for _, r in runs if r.get("steal") is not None]
    if steal:
        agg["steal_range"] = (min(steal), max(steal))
    if notes:
        agg["note"] = "; ".join(notes)
    return agg


def ratio_cell(w, wl):
    """A Lua row's median req/s as a share of atto's median static 13 B req/s."""
    lua = results.get((w, wl.ratio_of), {}).get("atto", {})
    static = results.get((w, STATIC_13B), {}).get("atto", {})
    if lua.get("rps") and static.get("rps"):
        return {"pct": 100.0 * lua["rps"] / static["rps"]}
    return {"na": "no data"}


def summary(r):
    if "na" in r:
        return "n/a (%s)" % r["na"]
    if "err" in r:
        return "error: %s" % r["err"]
    if "kb_conn" in r:
        return "%.2f KB/conn, RSS %.1f MB %s" % (r["kb_conn"], r["rss"] / 1024, r.get("note", ""))
    return "%s req/s  p50 %s ms  p99 %s ms  peak RSS %.1f MB%s %s" % (
        fmt_num(r.get("rps")), fmt_ms(r.get("p50")), fmt_ms(r.get("p99")),
        r.get("rss", 0) / 1024, "  steal %.0f%%" % r["steal"] if r.get("steal") is not None else "",
        r.get("note", ""))


# ---- the table -------------------------------------------------------------------

def fmt_num(v):
    return "—" if v is None else "{:,.0f}".format(v)


def fmt_ms(v):
    return "—" if v is None else ("%.2f" % v if v < 10 else "%.1f" % v)


def cell(r, metric):
    if r is None:
        return "—"
    if "na" in r:
        return "n/a"
    if "err" in r:
        return "error"
    v = r.get(metric)
    if v is None:
        return "—"
    text = {"rps": fmt_num, "p50": fmt_ms, "p99": fmt_ms,
            "rss": lambda x: "%.1f" % (x / 1024), "kb_conn": lambda x: "%.2f" % x,
            "pct": lambda x: "%.0f%%" % x}[metric](v)
    return text + (" !" if r.get("note") else "")


def ratio(a, b, metric):
    if not a or not b or metric == "pct" or {"na", "err"} & (set(a) | set(b)):
        return "—"
    x, y = a.get(metric), b.get(metric)
    if x is None or y is None or y == 0:
        return "—"
    return "%.2f" % (x / y)


METRICS = [("rps", "req/s"), ("p50", "p50 ms"), ("p99", "p99 ms"), ("rss", "peak RSS MB")]
FIXED_METRICS = [("p50", "p50 ms"), ("p99", "p99 ms"), ("rps", "achieved req/s")]


def table_rows():
    rows = []
    for key in order:
        w, wl = key
        rs = results[key]
        any_r = next(iter(rs.values()))
        if "pct" in any_r or ("na" in any_r and "÷" in wl):
            metrics = [("pct", "")]
        elif key in fixed_keys:
            metrics = FIXED_METRICS
        elif any("kb_conn" in r for r in rs.values()):
            metrics = [("kb_conn", "KB/conn"), ("rss", "RSS MB")]
        else:
            metrics = METRICS
        for metric, mlabel in metrics:
            label = "%dw %s%s" % (w, wl, " — " + mlabel if mlabel else "")
            a = rs.get("atto")
            cells = [cell(rs.get(s), metric) for s in ("atto", "nginx", "h2o")]
            rat = key not in fixed_keys or metric == "p99"
            rows.append([label] + cells + [ratio(a, rs.get("nginx"), metric) if rat else "—",
                                           ratio(a, rs.get("h2o"), metric) if rat else "—"])
    return rows


HEAD = ["workload", "atto", "nginx", "h2o", "atto/nginx", "atto/h2o"]


def print_table(rows):
    widths = [max(len(r[i]) for r in rows + [HEAD]) for i in range(len(HEAD))]
    line = lambda r: "  ".join(r[0].ljust(widths[0]) if i == 0 else r[i].rjust(widths[i])
                               for i in range(len(r)))
    print()
    print(line(HEAD))
    print("  ".join("-" * x for x in widths))
    for r in rows:
        print(line(r))


CELLS = ("Cells: req/s, latency in ms, RSS in MB summed over the server's processes; "
         "with several rounds, req/s, p50 and p99 are each the median over the rounds (p50 and "
         "p99 = the median of the rounds' own p50 and p99) and peak RSS the max; idle rows are "
         "one run on a fresh server. `Nw` = N workers; `n/a` = not supported; `!` = see notes. "
         "Ratios are atto ÷ other (above 1 is better for req/s, worse for latency and memory); "
         "the Lua ÷ static rows divide the medians. The fixed-rate rows (bench/ratecli, open loop: "
         "latency counted from each request's intended send time) run every server at the same "
         "rate, 60% of the slowest server's median req/s in the matching keep-alive row, so their "
         "p50/p99 compare like for like; their ratio is p99 only (below 1 is better); `!` there "
         "means the server could not keep up with the rate or answered with errors.")
SPREAD_HEAD = ("Spread over the rounds: req/s min–max (and (max − min) ÷ median), "
               "p99 min–max in ms, and the share of the machine's CPU time the hypervisor "
               "stole during the runs (min–max; /proc/stat)")


def spread_lines():
    """Per workload, each server's req/s and p99 range over the rounds."""
    out = []
    for key in order:
        parts = []
        for name in ("atto", "nginx", "h2o"):
            r = results[key].get(name) or {}
            if r.get("rounds", 0) < 2:
                continue
            lo, hi = r["rps_range"]
            part = "%s %s–%s (%.0f%%)" % (name, fmt_num(lo), fmt_num(hi), 100.0 * (hi - lo) / r["rps"])
            if r.get("p99_range"):
                part += ", p99 %s–%s" % tuple(fmt_ms(x) for x in r["p99_range"])
            if r.get("steal_range"):
                part += ", steal %.0f–%.0f%%" % r["steal_range"]
            parts.append(part)
        if parts:
            out.append("%dw %s: %s" % (key[0], key[1], "; ".join(parts)))
    return out


def notes_text():
    out = []
    for key in order:
        for name, r in results[key].items():
            why = r.get("note") or r.get("err") or (r.get("na") if r.get("na") != "not supported" else None)
            if why:
                out.append("%s, %dw %s: %s" % (name, key[0], key[1], why))
    return out


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    def version(argv):
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
            return p.stdout.decode(errors="replace").strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return (["%d cores, %s, %d MiB RAM, %s" % (NPROC, model, mem, os.uname().release),
            "atto: %s; %s; h2o: %s" % (version([ATTO, "version"]), version(["nginx", "-v"]),
                                       version(["h2o", "--version"])),
            "duration %d s per timed workload, %d round%s (servers interleaved per workload%s); "
            "workers: %s; load average at start: %s"
            % (DURATION, ROUNDS, "" if ROUNDS == 1 else "s",
               "" if ROUNDS == 1 else ", order rotated each round, cells are medians",
               " then ".join(map(str, WORKERS)), LOAD_START),
            placement()]
            + (["workloads: only those matching %s" % ", ".join(repr(x) for x in WORKLOADS)]
               if WORKLOADS else []))


def placement():
    if not PIN or NPROC < 2:
        return "placement: none (servers and load tools share every core; PIN=1 places them)"
    return ("placement: with 1 worker, each server on core 0 and the load tools on the other "
            "core%s (one thread each); with %d workers, servers and tools share the cores"
            % ("" if NPROC == 2 else "s", NPROC))


def write_markdown(rows, mach, notes, spread, extra):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write("# atto vs nginx vs h2o — %s\n\n" % time.strftime("%Y-%m-%d %H:%M"))
        for m in mach:
            f.write("- %s\n" % m)
        f.write("\n%s\n\n" % CELLS)
        f.write("| " + " | ".join(HEAD) + " |\n")
        f.write("|" + "|".join(["---"] + ["---:"] * (len(HEAD) - 1)) + "|\n")
        for r in rows:
            f.write("| " + " | ".join(r) + " |\n")
        if spread:
            f.write("\n%s:\n\n" % SPREAD_HEAD + "".join("- %s\n" % x for x in spread))
        if notes:
            f.write("\nNotes:\n\n" + "".join("- %s\n" % n for n in notes))
        for title, text in extra:
            f.write("\n## %s\n\n```\n%s\n```\n" % (title, text.strip()))
    with open(os.path.join(OUT, "commands.txt"), "w") as f:
        f.write("\n".join(dict.fromkeys(commands)) + "\n")


