"""test_pop3_cache.py — POP3 sizes from the metadata cache (mail/mcache*,
DIR/atto-cache) with Python's poplib.

RFC 1939 sizes are the octets RETR sends before dot-stuffing. For a mix of
messages (delivered over SMTP, and written straight into the Maildir: bare
LF line ends, lines starting with dots, a last line without a line end, a
file ending in a lone CR, a header without a body or a line end, an empty
file) the login's total, STAT and LIST must equal what RETR returns:
before the cache exists, once this server built it, from the file in a new
process (which must not rewrite it), after message files are replaced under
the same name (other size; same size but another mtime), and while IMAP
sessions work on the same mailbox, in one process and in two worker
processes at once (the file must stay sound: a new server takes every size
from it without rewriting it). IMAP's RFC822.SIZE equals POP3's size but
for the CRLF RETR adds after a last line that has none, and IMAP's answers
are the same whether POP3 or IMAP built the cache entries.
"""
import os, re, shutil, smtplib, struct, subprocess, sys, threading, time, poplib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib

SITE = {"index.lua": "site:get('/', function(req, res) res:text('hi') end)\n",
        "mail.lua": "mail.domains{'example.test'}\nmail.options{plaintext_auth = true}\n"}
MAIL = ("http", "smtp", "imap", "pop3")

SMTP_MSGS = [
    b"From: bob@example.org\r\nTo: alice@example.test\r\nSubject: dots\r\n\r\n"
    b".starts with a dot\r\n..two dots\r\nend\r\n",
    b"From: carol@example.net\r\nTo: alice@example.test\r\nSubject: alt\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
    b"plain\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b1--\r\n",
    b"From: dave@example.com\r\nTo: alice@example.test\r\nSubject: big\r\n\r\n"
    + b"".join(b"line %05d of a longer message, 0123456789abcdef\r\n" % i for i in range(2000)),
]
DIRECT = {   # written into new/ as they are
    "1600000001.lf.host": b"From: lf@example.org\nSubject: bare LF\n\n.dot\nline two\n",
    "1600000002.noeol.host": b"From: cut@example.org\nSubject: no line end\n\nthe last line",
    "1600000003.cr.host": b"From: cr@example.org\r\nSubject: lone CR\r\n\r\nends in CR\r",
    "1600000004.hdronly.host": b"From: hdr@example.org\r\nSubject: header only",
    "1600000005.empty.host": b"",
    "1600000006.mixed.host": b"Subject: mixed\r\nX-A: b\n\r\n.\nx\r\n.\r\n",
}


def make_site():
    site = lib.tmp_site(SITE)
    subprocess.run([lib.ATTO, "passwd", site, "alice"], input=b"secret\n", check=True,
                   capture_output=True)
    return site


def box_of(site):
    return os.path.join(site, "mail", "alice")


def cache_file(site):
    return os.path.join(box_of(site), "atto-cache")


def deliver(port, data):
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.sendmail("x@example.org", ["alice@example.test"], data)
    s.quit()


def fill(site):
    with lib.Atto(site, enable=MAIL) as a:
        for m in SMTP_MSGS:
            deliver(a.smtp, m)
    for name, data in DIRECT.items():
        with open(os.path.join(box_of(site), "new", name), "wb") as f:
            f.write(data)


def pop_login(a):
    p = poplib.POP3("127.0.0.1", a.pop3, timeout=20)
    p.user("alice")
    greeting = p.pass_("secret")
    return p, greeting


def pop_sizes(a, retr=True):
    """Sizes as the login, STAT and LIST give them, each checked against the
    others and (retr) against what RETR returns. Returns {uidl: size}."""
    p, greeting = pop_login(a)
    m = re.match(rb"\+OK (\d+) messages \((\d+) octets\)", greeting)
    assert m, greeting
    count, total = p.stat()
    assert (count, total) == (int(m.group(1)), int(m.group(2))), (greeting, count, total)
    sizes = [int(line.split()[1]) for line in p.list()[1]]
    assert len(sizes) == count and sum(sizes) == total, (sizes, total)
    uidl = [line.split()[1] for line in p.uidl()[1]]
    for i, size in enumerate(sizes, 1):
        assert int(p.list(i).split()[2]) == size
        if retr:
            _, lines, octets = p.retr(i)
            got = len(b"".join(line + b"\r\n" for line in lines))
            assert size == octets == got, "message %d: LIST %d, RETR %d octets (%d)" % (i, size, octets, got)
    p.quit()
    return dict(zip(uidl, sizes))


M64 = (1 << 64) - 1


def mc_sum(p):
    """mcache_fmt.c's checksum."""
    n = len(p)
    h = 0x9e3779b97f4a7c15 ^ n
    full = n - n % 8
    for (w,) in struct.iter_unpack("<Q", p[:full]):
        h = ((h ^ w) * 0x100000001b3) & M64
        h ^= h >> 29
    for b in p[full:]:
        h = ((h ^ b) * 0x100000001b3) & M64
    h ^= h >> 32
    return ((h * 0xff51afd7ed558ccd) & M64) ^ (h >> 31)


def read_cache(site):
    """The cache file, checked as mcache_decode checks it (version 2):
    {uid: (base, fsize, mtime, size, no_eol)}; AssertionError if unsound."""
    with open(cache_file(site), "rb") as f:
        data = f.read()
    magic, version, uv, count, zero, cksum = struct.unpack_from("<8sIIIIQ", data)
    assert magic == b"atto-mc\n" and version == 2 and zero == 0, (magic, version)
    assert cksum == mc_sum(data[32:]), "checksum mismatch: a torn or mixed file"
    at, out = 32, {}
    for _ in range(count):
        baselen, present, no_eol, uid, fsize, mtime, size, *lens = struct.unpack_from("<HBBIqqqIIII", data, at)
        assert present <= 15 and no_eol in (0, 1) and fsize >= 0 and size >= 0
        at += 48
        base = data[at:at + baselen].decode()
        at += baselen + sum(lens)
        assert uid not in out and at <= len(data), (uid, base)
        out[uid] = (base, fsize, mtime, size, no_eol)
    assert at == len(data), "bytes after the last entry"
    return out


def check_entries(site, pop):
    """Every entry of a message POP3 listed agrees with its size."""
    uv = next(iter(pop)).split(b".")[0]
    ents = read_cache(site)
    for uidl, size in pop.items():
        e = ents.get(int(uidl.split(b".")[1]))
        if e:
            assert e[3] + 2 * e[4] == size, (uidl, e, size)
    return ents


def stamp(path):
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


def wait_file(path):
    end = time.time() + 5
    while not os.path.exists(path) and time.time() < end:
        time.sleep(0.05)
    return os.path.exists(path)


def imap_view(a, items=b"(UID RFC822.SIZE BODY.PEEK[])"):
    c = lib.ImapRaw(a.imap)
    c.cmd(b"LOGIN alice secret")
    c.cmd(b"SELECT INBOX")
    out = c.cmd(b"FETCH 1:* " + items)
    c.close()
    return out


def imap_sizes(a):
    """{uid: (RFC822.SIZE, the message's bytes)} from one FETCH."""
    out, res = imap_view(a), {}
    for m in re.finditer(rb"\* \d+ FETCH \(UID (\d+) RFC822.SIZE (\d+) BODY\[\] \{(\d+)\}\r\n", out):
        n = int(m.group(3))
        res[int(m.group(1))] = (int(m.group(2)), out[m.end():m.end() + n])
    return res


def test_sizes_equal_retr_cold_warm_and_from_the_file():
    site = make_site()
    fill(site)
    assert not os.path.exists(cache_file(site))
    with lib.Atto(site, enable=MAIL) as a:
        cold = pop_sizes(a)
        assert len(cold) == len(SMTP_MSGS) + len(DIRECT)
        assert wait_file(cache_file(site)), "no cache file after a POP3 session"
        assert pop_sizes(a) == cold
    ents = check_entries(site, cold)
    assert len(ents) == len(cold) and sum(e[4] for e in ents.values()) == 3, ents
    st = stamp(cache_file(site))
    with lib.Atto(site, enable=MAIL) as a:                  # a new process: from the file
        assert pop_sizes(a) == cold
        assert pop_sizes(a, retr=False) == cold
    assert stamp(cache_file(site)) == st, "the file was rewritten: its sizes were not used"
    assert not os.path.exists(cache_file(site) + ".tmp")
    shutil.rmtree(site)


def test_imap_agrees_and_answers_the_same_whoever_built_the_cache():
    site = make_site()
    fill(site)
    twin = site + "-twin"
    shutil.copytree(site, twin)
    items = b"(UID RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE BODY.PEEK[HEADER])"   # no FLAGS: \Recent differs
    with lib.Atto(site, enable=MAIL) as a:                  # POP3 builds the entries ...
        pop = pop_sizes(a)
    with lib.Atto(site, enable=MAIL) as a:
        assert wait_file(cache_file(site))
        st = stamp(cache_file(site))
        by_pop = imap_view(a, items)
        sizes = imap_sizes(a)
    assert stamp(cache_file(site)) == st, "IMAP rewrote the entries POP3 built"
    with lib.Atto(twin, enable=MAIL) as a:                  # ... or IMAP does
        by_imap = imap_view(a, items)
        assert list(pop_sizes(a).values()) == list(pop.values())   # its own UIDVALIDITY
    assert by_pop == by_imap, "IMAP answers differ with entries built by POP3"
    uv = next(iter(pop)).split(b".")[0]
    for uid, (rfc822, data) in sizes.items():
        assert rfc822 == len(data)
        extra = 2 if data and not data.endswith(b"\n") else 0
        assert pop[b"%s.%d" % (uv, uid)] == rfc822 + extra, (uid, rfc822, pop)
    assert sum(1 for _, d in sizes.values() if d and not d.endswith(b"\n")) == 3
    shutil.rmtree(site)
    shutil.rmtree(twin)


def test_replaced_files_are_not_served_from_the_cache():
    site = make_site()
    fill(site)
    with lib.Atto(site, enable=MAIL) as a:
        before = pop_sizes(a)
        assert wait_file(cache_file(site))
        cur = os.path.join(box_of(site), "cur")
        names = {n.split(":")[0]: n for n in os.listdir(cur)}
        longer = os.path.join(cur, names["1600000001.lf.host"])
        st = os.stat(longer)
        with open(longer, "wb") as f:                       # another size
            f.write(b"Subject: replaced\n\nnow a good deal longer than it was before, by far\n")
        os.utime(longer, (st.st_mtime + 3, st.st_mtime + 3))
        same = os.path.join(cur, names["1600000006.mixed.host"])
        old = open(same, "rb").read()
        st = os.stat(same)
        with open(same, "wb") as f:     # same file size, another mtime; its CRLF form is 2 longer
            f.write(old.replace(b"mixed", b"MIXED").replace(b"x\r\n", b"x\n\n"))
        os.utime(same, (st.st_mtime + 5, st.st_mtime + 5))
        assert os.path.getsize(same) == len(old)
        after = pop_sizes(a)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert len(changed) == 2 and min(b - a for a, b in changed.values()) == 2, changed
    check_entries(site, after)
    with lib.Atto(site, enable=MAIL) as a:
        assert pop_sizes(a) == after
        c = lib.ImapRaw(a.imap)
        c.cmd(b"LOGIN alice secret")
        c.cmd(b"SELECT INBOX")
        assert b"MIXED" in c.cmd(b"FETCH 1:* (ENVELOPE)")
        c.close()
    shutil.rmtree(site)


def test_with_an_imap_session_open_on_the_mailbox():
    site = make_site()
    fill(site)
    with lib.Atto(site, enable=MAIL, args=("--workers", "1")) as a:
        c = lib.ImapRaw(a.imap)
        c.cmd(b"LOGIN alice secret")
        c.cmd(b"SELECT INBOX")
        c.cmd(b"FETCH 1:3 (RFC822.SIZE ENVELOPE)")         # IMAP first builds a few entries
        p, _ = pop_login(a)
        sizes = [int(x.split()[1]) for x in p.list()[1]]
        meta = c.cmd(b"FETCH 1:* (RFC822.SIZE ENVELOPE)")   # then reads the ones POP3 built
        for i in range(1, len(sizes) + 1):
            _, lines, octets = p.retr(i)
            assert octets == sizes[i - 1]
        deliver(a.smtp, b"Subject: late\r\n\r\ncame in during the POP3 session\r\n")
        c.cmd(b"NOOP")
        meta2 = c.cmd(b"FETCH 1:* (RFC822.SIZE ENVELOPE)")
        p.quit()
        assert meta2.startswith(meta) and meta2.count(b" FETCH (") == len(sizes) + 1, meta2[-300:]
        after = pop_sizes(a)                                 # the late one too
        assert len(after) == len(sizes) + 1
        c.close()
    st = stamp(cache_file(site))
    with lib.Atto(site, enable=MAIL) as a:
        assert pop_sizes(a, retr=False) == after
    assert stamp(cache_file(site)) == st, "the file lacked entries or did not decode"
    shutil.rmtree(site)


def test_two_workers_imap_and_pop3_at_once():
    """Two worker processes; POP3 logins, IMAP FETCHes and SMTP deliveries
    race for a few seconds, with the cache file removed now and then. The
    file must stay sound: afterwards a new server takes every size from it."""
    site = make_site()
    fill(site)
    errors, stop = [], time.time() + 4

    def guard(fn):
        def run():
            try:
                while time.time() < stop:
                    fn()
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                errors.append("%s: %r" % (fn.__name__, e))
        return run

    with lib.Atto(site, enable=MAIL, args=("--workers", "2")) as a:
        def pop3_loop():
            try:
                pop_sizes(a)
            except poplib.error_proto as e:                 # the other worker holds the maildrop
                assert b"[IN-USE]" in str(e).encode(), e
                time.sleep(0.01)

        def imap_loop():
            for uid, (rfc822, data) in imap_sizes(a).items():
                assert rfc822 == len(data), uid

        def smtp_loop():
            deliver(a.smtp, b"Subject: during\r\n\r\n" + b"x" * int(time.time() * 1000 % 997) + b"\r\n")
            if int(time.time() * 10) % 7 == 0:
                try:
                    os.remove(cache_file(site))
                except FileNotFoundError:
                    pass
            time.sleep(0.05)

        threads = [threading.Thread(target=guard(f)) for f in (pop3_loop, pop3_loop, imap_loop, smtp_loop)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        final = pop_sizes(a)
        imap_sizes(a)
    assert not os.path.exists(cache_file(site) + ".tmp")
    check_entries(site, final)                              # sound, and right where it speaks
    with lib.Atto(site, enable=MAIL) as a:                  # whatever it lacked is added ...
        assert pop_sizes(a) == final
    st = stamp(cache_file(site))
    with lib.Atto(site, enable=MAIL) as a:                  # ... and then it serves every size
        assert pop_sizes(a, retr=False) == final
    assert stamp(cache_file(site)) == st, "the file lacked entries or did not decode"
    assert len(check_entries(site, final)) >= len(final)
    shutil.rmtree(site)


if __name__ == "__main__":
    sys.exit(1 if lib.main(globals()) else 0)
