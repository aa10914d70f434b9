#!/bin/sh
# bench/imap.sh — atto's IMAP and POP3 beside Dovecot on the same Maildir.
#
# It writes a 1,000-message Maildir (plain, multipart/alternative, small
# attachments; 1–30 KB each), gives one copy to atto (SITE/mail/alice) and an
# identical copy to Dovecot (a throwaway config in a temp folder:
# `dovecot -F -c CONF`, maildir, passwd-file users with the same yescrypt
# password hashes as atto's users.passwd, so every login costs both the same
# hash, 127.0.0.1 only, free ports, ssl = no; the system's dovecot service is
# never touched), then times one Python client on a raw socket (plaintext
# login on loopback) doing:
#
#   fetch-meta   FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)
#   fetch-body   FETCH 1:* BODY.PEEK[]
#   search-hdr   SEARCH FROM user7 (a header search)
#   search-body  SEARCH BODY needle (a full-text scan of every body)
#   pop3-retr    POP3 login + RETR of all 1,000 messages + QUIT
#   pop3-stat    POP3 login + STAT + QUIT, warm: the sizes are in the
#                servers' caches (atto's atto-cache, Dovecot's index)
#   pop3-stat-cold  the same as the first login on a mailbox: no cache yet
#                (REPEAT users cold1.., each with its own Maildir whose files
#                are hard links to one copy of alice's, so the page cache is
#                warm alike and evicting them leaves alice's files alone)
#   pop3-stat-evicted  pop3-stat with the message files dropped from the page
#                cache before each login (posix_fadvise DONTNEED on each file:
#                a mailbox not read lately; the servers' own caches stay)
#   pop3-login   the same on an empty Maildir: the login's own cost (the
#                password hash), which the pop3-stat rows include
#
# Each workload runs once to warm up (Dovecot builds its index and cache on
# the first SELECT and FETCH; atto its uidlist and metadata cache, atto-cache)
# and then REPEAT times; the best time counts. The first fetch-meta (the one
# that builds both caches) is printed too. Prints seconds and MB/s for both
# and the ratio dovecot/atto (above 1: atto is faster). The pop3-stat rows
# run first, on their own users, so they leave alice's Maildir (and the IMAP
# rows) as they were.
#
#   ATTO=./atto N=1000 REPEAT=5 bench/imap.sh
#   ROWS=pop3 bench/imap.sh       only the rows whose names start with pop3
#
# Needs dovecot-imapd and dovecot-pop3d (tools/deps.sh bench). Runs as root
# (Dovecot drops to the mail user `nobody`); everything lives in a temporary
# folder removed at the end, and every server it starts is stopped on exit.
cd "$(dirname "$0")/.." || exit 1
ATTO=${ATTO:-./atto} N=${N:-1000} REPEAT=${REPEAT:-5} ROWS=${ROWS:-} exec /usr/bin/python3 - "$@" <<'PYEOF'
import atexit, os, random, shutil, signal, socket, subprocess, sys, tempfile, time
sys.path.insert(0, "tests/e2e")   # the raw IMAP client shared with the tests
from lib import ImapRaw

ATTO = os.path.abspath(os.environ["ATTO"])
N = int(os.environ["N"])
REPEAT = int(os.environ["REPEAT"])
ROWS = [r for r in os.environ["ROWS"].split(",") if r]
WORKLOADS = ["fetch-meta", "fetch-body", "search-hdr", "search-body", "pop3-retr", "pop3-stat",
             "pop3-stat-cold", "pop3-stat-evicted", "pop3-login"]
COLD = ["cold%d" % k for k in range(1, REPEAT + 1)]


def wanted(name):
    return not ROWS or any(name.startswith(r) for r in ROWS)


POPSTAT = any(wanted(k) for k in ("pop3-stat", "pop3-stat-cold", "pop3-stat-evicted", "pop3-login"))


DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
for tool in (ATTO, DOVECOT):
    if not os.access(tool, os.X_OK):
        sys.exit("bench/imap.sh: %s not found (make atto; tools/deps.sh bench)" % tool)
if os.geteuid() != 0:
    sys.exit("bench/imap.sh: run as root (Dovecot switches to the mail user)")

tmp = tempfile.mkdtemp(prefix="atto-bench-imap.")
os.chmod(tmp, 0o755)
procs = []


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what):
    end = time.time() + 20
    while time.time() < end:
        if proc.poll() is not None:
            sys.exit("bench/imap.sh: %s exited at start" % what)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("bench/imap.sh: %s did not listen on %d" % (what, port))


# ---- the mailbox ----------------------------------------------------------------

def message(i, rnd):
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    para = lambda n: "\r\n".join(" ".join(rnd.choice(words) for _ in range(12)) for _ in range(n))
    hdr = ("From: User %d <user%d@example.org>\r\nTo: alice@example.test\r\n"
           "Subject: Message %d about %s\r\nDate: Mon, %02d Jan 2024 10:%02d:00 +0000\r\n"
           "Message-ID: <%d@bench.example>\r\n" % (i % 50, i % 50, i, rnd.choice(words),
                                                    1 + i % 28, i % 60, i))
    body = para(rnd.randint(10, 300)) + ("\r\nneedle\r\n" if i % 10 == 0 else "\r\n")
    kind = i % 4
    if kind == 0:
        return hdr + "\r\n" + body
    if kind == 1:
        return (hdr + "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b%d\r\n"
                "\r\n--b%d\r\nContent-Type: text/plain\r\n\r\n%s\r\n--b%d\r\n"
                "Content-Type: text/html\r\n\r\n<p>%s</p>\r\n--b%d--\r\n" % (i, i, body, i, body, i))
    if kind == 2:
        att = "\r\n".join("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo" * 2 for _ in range(rnd.randint(5, 60)))
        return (hdr + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m%d\r\n"
                "\r\n--m%d\r\nContent-Type: text/plain\r\n\r\n%s\r\n--m%d\r\n"
                "Content-Type: application/octet-stream; name=a.bin\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--m%d--\r\n" % (i, i, body, i, att, i))
    return hdr + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body


def make_maildir(path):
    rnd = random.Random(42)
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, d))
    t0 = 1700000000
    total = 0
    for i in range(1, N + 1):
        data = message(i, rnd).encode()
        total += len(data)
        name = "%d.M%dP1.bench:2,%s" % (t0 + i, i, "S" if i % 3 == 0 else "")
        p = os.path.join(path, "cur", name)
        with open(p, "wb") as f:
            f.write(data)
        os.utime(p, (t0 + i, t0 + i))
    return total


site = os.path.join(tmp, "site")
os.makedirs(site)
with open(os.path.join(site, "index.lua"), "w") as f:
    f.write("site:get('/', function(req, res) res:text('hi') end)\n")
with open(os.path.join(site, "mail.lua"), "w") as f:
    f.write("mail.domains{'example.test'}\nmail.options{plaintext_auth = true}\n")
subprocess.run([ATTO, "passwd", site, "alice"], input=b"secret\n", check=True, capture_output=True)
total = make_maildir(os.path.join(site, "mail", "alice"))
dmail = os.path.join(tmp, "dovecot-mail")
os.makedirs(dmail)
shutil.copytree(os.path.join(site, "mail", "alice"), os.path.join(dmail, "alice"))
if POPSTAT:                             # one fresh Maildir per cold login, files linked
    for user in ["empty"]:
        subprocess.run([ATTO, "passwd", site, user], input=b"secret\n", check=True, capture_output=True)
        for root in (os.path.join(site, "mail"), dmail):
            for d in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(root, user, d))
    for root, pool in ((os.path.join(site, "mail"), "pool-atto"), (dmail, "pool-dovecot")):
        pool = os.path.join(tmp, pool)          # not alice's inodes: evicting them leaves her alone
        shutil.copytree(os.path.join(root, "alice"), pool)
        for user in COLD:
            shutil.copytree(pool, os.path.join(root, user), copy_function=os.link)
    for user in COLD:
        subprocess.run([ATTO, "passwd", site, user], input=b"secret\n", check=True, capture_output=True)
subprocess.run(["chown", "-R", "nobody:nogroup", dmail], check=True)

# ---- the servers -------------------------------------------------------------------

ports = {k: free_port() for k in ("http", "imap", "pop3", "dimap", "dpop3")}
atto = subprocess.Popen([ATTO, site, "--http", str(ports["http"]), "--https", "0", "--smtp", "0",
                         "--submission", "0", "--imap", str(ports["imap"]), "--pop3",
                         str(ports["pop3"]), "--gopher", "0", "--bind", "127.0.0.1"],
                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "atto.log"), "wb"))
procs.append(atto)
conf = os.path.join(tmp, "dovecot.conf")
hashes = dict(line.strip().split(":", 1) for line in open(os.path.join(site, "users.passwd")))
with open(os.path.join(tmp, "users"), "w") as f:      # the same yescrypt hashes as atto's
    for user in ["alice"] + (["empty"] + COLD if POPSTAT else []):
        f.write("%s:{CRYPT}%s:65534:65534::%s/%s::\n" % (user, hashes[user], dmail, user))
with open(conf, "w") as f:
    f.write("""base_dir = {t}/run
state_dir = {t}/state
log_path = {t}/dovecot.log
instance_name = atto-bench
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{m}/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {t}/users
}}
userdb {{
  driver = passwd-file
  args = {t}/users
}}
service imap-login {{
  inet_listener imap {{
    port = {ip}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pp}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""".format(t=tmp, m=dmail, ip=ports["dimap"], pp=ports["dpop3"]))
dove = subprocess.Popen([DOVECOT, "-F", "-c", conf], stdout=subprocess.DEVNULL,
                        stderr=open(os.path.join(tmp, "dovecot.err"), "wb"))
procs.append(dove)
wait_port(ports["imap"], atto, "atto")
wait_port(ports["dimap"], dove, "dovecot")
wait_port(ports["dpop3"], dove, "dovecot")

# ---- the client --------------------------------------------------------------------


def pop3_retr_all(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    f = s.makefile("rb")
    f.readline()
    for c in (b"USER alice", b"PASS secret", b"STAT"):
        s.sendall(c + b"\r\n")
        line = f.readline()
        assert line.startswith(b"+OK"), line
    n = int(line.split()[1])
    got = 0
    for i in range(1, n + 1):
        s.sendall(b"RETR %d\r\n" % i)
        assert f.readline().startswith(b"+OK")
        while True:
            line = f.readline()
            if line == b".\r\n":
                break
            got += len(line)
    s.sendall(b"QUIT\r\n")
    f.readline()
    s.close()
    return n, got


def pop3_stat(port, user=b"alice", n_want=N):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    f = s.makefile("rb")
    f.readline()
    for c in (b"USER " + user, b"PASS secret", b"STAT"):
        s.sendall(c + b"\r\n")
        line = f.readline()
        assert line.startswith(b"+OK"), line
    s.sendall(b"QUIT\r\n")
    f.readline()
    s.close()
    n, octets = map(int, line.split()[1:3])
    assert n == n_want, line
    return octets


def evict(maildir):
    """Drop the message files' pages from the page cache (only theirs)."""
    for sub in ("cur", "new"):
        d = os.path.join(maildir, sub)
        for name in os.listdir(d):
            fd = os.open(os.path.join(d, name), os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def evicted(port, maildir):
    os.sync()                           # dirty pages (files just written) cannot be dropped
    times = []
    for _ in range(REPEAT):
        evict(maildir)
        t = time.perf_counter()
        size = pop3_stat(port, COLD[0].encode())
        times.append(time.perf_counter() - t)
    return min(times), size


def cold_and_warm(port):
    """pop3-stat-cold: the best first login of REPEAT fresh users;
    pop3-stat: the best of REPEAT more logins of the first of them."""
    times, sizes = [], set()
    for user in COLD:
        t = time.perf_counter()
        sizes.add(pop3_stat(port, user.encode()))
        times.append(time.perf_counter() - t)
    cold = (min(times), sizes.pop())
    assert not sizes, "the users' sizes differ"
    return cold, best(lambda: pop3_stat(port, COLD[0].encode()))


first = {}


def best(fn, name=None):
    t = time.perf_counter()
    fn()                                            # warm-up (builds caches)
    if name:
        first[name] = time.perf_counter() - t
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - t)
    return min(times), size


results = {}
for name, (iport, pport, mroot) in (("atto", (ports["imap"], ports["pop3"], os.path.join(site, "mail"))),
                                     ("dovecot", (ports["dimap"], ports["dpop3"], dmail))):
    r = results[name] = {"hits": {}}
    if POPSTAT:
        r["pop3-stat-cold"], r["pop3-stat"] = cold_and_warm(pport)
        r["pop3-stat-evicted"] = evicted(pport, os.path.join(mroot, COLD[0]))
        r["pop3-login"] = best(lambda: pop3_stat(pport, b"empty", 0))
    if any(wanted(k) for k in WORKLOADS[:4]):
        c = ImapRaw(iport, timeout=120)
        c.cmd(b"LOGIN alice secret")
        sel = c.cmd(b"SELECT INBOX")
        assert b"* %d EXISTS" % N in sel, sel[:300]
        r["fetch-meta"] = best(lambda: len(c.cmd(b"FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)")), name)
        r["fetch-body"] = best(lambda: len(c.cmd(b"FETCH 1:* BODY.PEEK[]")))
        for key, q in (("search-hdr", b"SEARCH FROM user7@"), ("search-body", b"SEARCH BODY needle")):
            r[key] = best(lambda: len(c.cmd(q)))
            r["hits"][key] = c.cmd(q).split(b"\r\n")[0].split()[2:]
        c.cmd(b"LOGOUT")
    if wanted("pop3-retr"):
        r["pop3-retr"] = best(lambda: pop3_retr_all(pport)[1])

for key in ("search-hdr", "search-body"):
    a, d = results["atto"]["hits"].get(key), results["dovecot"]["hits"].get(key)
    if a != d:
        print("warning: %s found %d messages in atto, %d in dovecot" % (key, len(a), len(d)))
if POPSTAT and results["atto"]["pop3-stat"][1] != results["dovecot"]["pop3-stat"][1]:
    print("note: STAT octets differ: atto %d, dovecot %d" % (results["atto"]["pop3-stat"][1],
                                                         results["dovecot"]["pop3-stat"][1]))

print("IMAP/POP3, %d messages (%.1f MB) in one Maildir, best of %d, one client on loopback"
      % (N, total / 1e6, REPEAT))
print("%-17s %10s %10s %9s %9s  %s" % ("workload", "atto s", "dovecot s", "atto MB/s",
                                      "dove MB/s", "dovecot/atto"))
for key in WORKLOADS:
    if key not in results["atto"] or not wanted(key):
        continue
    (ta, sa), (td, sd) = results["atto"][key], results["dovecot"][key]
    shows_mb = key in ("fetch-meta", "fetch-body", "pop3-retr")
    rate = lambda n, t: "%9.1f" % (n / t / 1e6) if shows_mb else "%9s" % "-"
    print("%-17s %10.4f %10.4f %s %s  %6.2f" % (key, ta, td, rate(sa, ta), rate(sd, td), td / ta))
print("(dovecot/atto above 1: atto is faster; MB/s is what the client received)")
if first:
    print("first fetch-meta after SELECT (both build their caches): atto %.4f s, dovecot %.4f s, "
          "dovecot/atto %.2f" % (first["atto"], first["dovecot"], first["dovecot"] / first["atto"]))
PYEOF
