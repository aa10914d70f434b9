"""benchlib/cpu.py — where the servers and the load tools run, and how much
of the machine the hypervisor took while they ran.

Placement (PIN=1; off by default): with one server worker on a machine of
two or more cores, every server (its whole process tree, threads included)
is started on core 0 and the load tools run on the other cores, one tool
thread per core. It keeps a server and the tool's threads from taking turns
on the same core, but with two cores the one tool thread then limits the
faster servers (h2load -t1 cannot keep atto or h2o busy), so the default is
the shared placement the numbers in docs/performance.md were taken with.
With one worker per core nothing is ever placed.

Steal: on a virtual machine the hypervisor may run other guests on our
cores; /proc/stat's `steal` column counts that time. StealMeter measures
the share of the machine's time stolen during one run, kept with the run's
metrics so a table built on a contended host says so.
"""
import os

from benchlib.config import NPROC

PIN = os.environ.get("PIN", "0") not in ("", "0")


def pinned(workers):
    """Whether a run with this many server workers is placed (see above)."""
    return PIN and workers == 1 and NPROC >= 2


def server_prefix(workers):
    """What a server's command line starts with: taskset onto core 0 when placed."""
    return ["taskset", "-c", "0"] if pinned(workers) else []


def tool_prefix(workers):
    """What a load tool's command line starts with: the cores left to the tools."""
    if not pinned(workers):
        return []
    return ["taskset", "-c", "1" if NPROC == 2 else "1-%d" % (NPROC - 1)]


def tool_threads(workers):
    """Threads for a load tool: one per core it runs on (2 when not placed)."""
    return max(1, NPROC - 1) if pinned(workers) else 2


def cpu_times():
    """(steal, total) jiffies of the whole machine, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            cols = f.readline().split()
    except OSError:
        return 0, 0
    if not cols or cols[0] != "cpu":
        return 0, 0
    vals = [int(x) for x in cols[1:9]]   # user nice system idle iowait irq softirq steal
    return (vals[7] if len(vals) > 7 else 0), sum(vals)


class StealMeter:
    """with StealMeter() as m: ...   then m.pct: % of the machine's time stolen."""

    def __enter__(self):
        self.start = cpu_times()
        self.pct = None
        return self

    def __exit__(self, *exc):
        steal, total = cpu_times()
        dt = total - self.start[1]
        if dt > 0:
            self.pct = 100.0 * (steal - self.start[0]) / dt
        return False
