"""benchlib/config.py — what a bench run is configured with: the paths (the
bench site, build/bench/ and its raw/), the environment knobs bench/run reads
(QUICK, DURATION, ROUNDS, WORKLOADS, WORKERS, SERVERS, IDLE, FIXED_RATE, ATTO;
OTHERS is read by bench/run itself), the fixed constants of the workloads,
the list of every command line run (written to commands.txt) and BenchError,
the one exception that ends a run with a message.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = os.path.join(ROOT, "bench", "sites", "bench")
PUBLIC = os.path.join(SITE, "public")
OUT = os.path.join(ROOT, "build", "bench")
RAW = os.path.join(OUT, "raw")
ATTO = os.path.abspath(os.path.join(ROOT, os.environ.get("ATTO", "atto")))
QUICK = os.environ.get("QUICK", "") not in ("", "0")
DURATION = int(os.environ.get("DURATION", "2" if QUICK else "3"))
ROUNDS = int(os.environ.get("ROUNDS", "1" if QUICK else "3"))
WORKLOADS = [x.strip() for x in os.environ.get("WORKLOADS", "").split(",") if x.strip()]
NPROC = os.cpu_count() or 1
WORKERS = [int(w) for w in os.environ.get(
    "WORKERS", str(NPROC) if QUICK else "1 %d" % NPROC).split()]
SERVERS = os.environ.get("SERVERS", "atto nginx h2o").split()
IDLE_COUNTS = [int(n) for n in os.environ.get("IDLE", "1000 10000").split()]
RATECLI = os.path.join(OUT, "ratecli")
FIXED_SHARE = 0.6          # a fixed-rate row runs at 60% of the slowest server's req/s
FIXED_RATE = os.environ.get("FIXED_RATE", "")
SEED_REQS = 53.63          # the PHP server's `ab -n 1000 -c 10` over TLS 1.2
BIG = 100 * 1024
HELLO = b"Hello World!\n"

commands = []           # every command line run, in order, for commands.txt
LOAD_START = " ".join("%.2f" % x for x in os.getloadavg())


class BenchError(Exception):
    pass


def big_content():
    return bytes((i * 131 + (i >> 8)) & 0xFF for i in range(BIG))

