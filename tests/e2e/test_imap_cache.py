"""test_imap_cache.py — the IMAP metadata cache (mail/mcache*, DIR/atto-cache)
never changes an answer.

A mailbox is filled with varied messages (through atto's SMTP, plus files
written straight into the Maildir: bare LF line ends, a header block over the
cache's 64 KiB bound, no body at all), and one fixed list of FETCH and SEARCH
commands is run over a raw socket in each state of the cache: fresh (no
file; entries built while answering), warm (the worker's memory), read back
from the file by a restarted server (the file must not be rewritten: the
answers came from it), a file corrupted on disk (flipped bytes, truncated,
garbage, an empty file: ignored and rebuilt byte for byte), and after a new
SMTP delivery plus STORE \\Deleted + EXPUNGE (the same answers as a server
starting from no cache at all; the expunged message's entry leaves the file),
and with two server processes on one Maildir (each reads what the other
wrote, a new entry built by one is merged by the other).
Every answer must be byte-identical to the fresh one. With ATTO_REF=path to
another atto binary (say, one built before the cache existed), the fresh
answers are also compared with that binary's.
"""
import os, re, shutil, smtplib, socket, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib

SITE = {"index.lua": "site:get('/', function(req, res) res:text('hi') end)\n",
        "mail.lua": "mail.domains{'example.test'}\nmail.options{plaintext_auth = true}\n"}
MAIL = ("http", "smtp", "imap")


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def messages():
    out = [
        "From: Bob <bob@example.org>\nTo: alice@example.test\nSubject: Plain dots\n"
        "Date: Mon, 02 Jan 2023 10:00:00 +0000\nMessage-ID: <m1@example.org>\n\n"
        "first line\n.a dot line\nneedle here\n",
        "From: Carol <carol@example.net>\nTo: alice@example.test, Zed <zed@example.test>\n"
        "Cc: dave@example.com\nBcc: hidden@example.com\nSender: list@example.net\n"
        "In-Reply-To: <m1@example.org>\nSubject: Alternative\n"
        "Date: Tue, 03 Jan 2023 11:00:00 +0100\nMIME-Version: 1.0\n"
        "Content-Type: multipart/alternative; boundary=\"alt-b\"\n\n"
        "--alt-b\nContent-Type: text/plain; charset=us-ascii\n\nplain version\n"
        "--alt-b\nContent-Type: text/html; charset=us-ascii\n\n<p>html</p>\n--alt-b--\n",
        "From: bob@example.org\nTo: alice@example.test\nSubject: With attachment\n"
        "Date: Wed, 04 Jan 2023 12:00:00 +0000\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=mix\n\n--mix\nContent-Type: text/plain\n\n"
        "see it\n--mix\nContent-Type: application/octet-stream; name=\"d.bin\"\n"
        "Content-Disposition: attachment; filename=\"d.bin\"\nContent-Transfer-Encoding: base64\n\n"
        + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n" * 40 + "--mix--\n",
        "From: erin@example.org\nTo: alice@example.test\nSubject: Forwarded\n"
        "Date: Thu, 05 Jan 2023 13:00:00 +0000\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: text/plain\n\n"
        "fwd\n--outer\nContent-Type: message/rfc822\n\nFrom: inner@example.com\n"
        "Subject: Inner subject\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=in\n\n"
        "--in\nContent-Type: text/plain\n\ninner plain\n--in\nContent-Type: text/html\n\n<b>inner</b>\n"
        "--in--\n--outer--\n",
        "From: =?UTF-8?Q?Fr=C3=A4nk?= <frank@example.org>\nTo: alice@example.test\n"
        "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\nDate: Fri, 06 Jan 2023 14:00:00 +0000\n\nb64\n",
        "From: hank@example.org\nTo: alice@example.test\nSubject: Quoted printable\n"
        "Date: Mon, 09 Jan 2023 17:00:00 +0000\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        "a hidden=20nee=\ndle and caf=C3=A9\n",
        "From: ivy@example.org\nTo: alice@example.test\nSubject: Big one\n"
        "Date: Tue, 10 Jan 2023 18:00:00 +0000\n\n" + ("0123456789" * 7 + "\n") * 300,
        "From: nodate@example.org\nTo: alice@example.test\nSubject: No date, folded\n"
        "X-Long: a folded\n  header value\n\tover lines\n\nbody\n",
    ]
    for i in range(10, 16):
        out.append("From: user%d@example.org\nTo: alice@example.test\nReply-To: reply%d@example.org\n"
                   "Subject: Note %d\nDate: Wed, %02d Feb 2023 09:00:00 -0500\n\nnote %d\n"
                   % (i % 3, i, i, i, i))
    return [crlf(m) for m in out]


# Written straight into the Maildir (SMTP would add lines or refuse them).
DIRECT = {
    "1600000001.lf.host": b"From: lf@example.org\nSubject: bare LF\nDate: Sat, 07 Jan 2023 15:00:00 +0000\n\n"
                          b"line one\nline two\n",
    "1600000002.huge.host": b"".join(b"Received: from relay%d.example.org by mx; hop %d\r\n" % (i, i)
                                     for i in range(1600)) +
                            b"From: huge@example.org\r\nSubject: huge header\r\n\r\nsmall body\r\n",
    "1600000003.nobody.host": b"From: nobody@example.org\r\nSubject: header only\r\n",
}

COMMANDS = [
    b"FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)",
    b"FETCH 1:* (BODY BODYSTRUCTURE)",
    b"FETCH 1:* (BODY.PEEK[HEADER] RFC822.HEADER)",
    b"FETCH 1:* (BODY.PEEK[HEADER.FIELDS (From Subject Message-ID)] "
    b"BODY.PEEK[HEADER.FIELDS.NOT (Received To)]<0.200>)",
    b"UID FETCH 1:* (RFC822.SIZE BODY.PEEK[1] ENVELOPE)",
    b"FETCH 2:6 (BODY.PEEK[TEXT]<0.60> BODY.PEEK[1.MIME] FLAGS RFC822.SIZE)",
    b"SEARCH FROM user1",
    b"SEARCH TO zed",
    b"SEARCH CC dave",
    b"SEARCH BCC hidden",
    b"SEARCH SUBJECT note",
    b"SEARCH CHARSET UTF-8 SUBJECT {5+}\r\nK\xc3\xb6ln",
    b"SEARCH HEADER Message-ID m1@",
    b"SEARCH HEADER Received relay1599",
    b"SEARCH HEADER X-Long \"header value\"",
    b"SEARCH LARGER 3000",
    b"SEARCH SMALLER 200",
    b"SEARCH SENTBEFORE 1-Feb-2023",
    b"SEARCH SENTON 2-Jan-2023",
    b"SEARCH SENTSINCE 5-Jan-2023",
    b"SEARCH OR FROM bob SUBJECT Note NOT LARGER 1000",
    b"SEARCH BODY needle",
    b"SEARCH TEXT inner",
    b"UID SEARCH HEADER Reply-To reply1",
]
NONEMPTY = [b"SEARCH FROM user1", b"SEARCH TO zed", b"SEARCH CC dave", b"SEARCH BCC hidden",
            b"SEARCH HEADER Received relay1599", b"SEARCH SENTON 2-Jan-2023", b"SEARCH LARGER 3000"]


def session(a, commands=COMMANDS):
    c = lib.ImapRaw(a.imap)
    c.cmd(b"LOGIN alice secret")
    c.cmd(b"SELECT INBOX")
    got = [c.cmd(q) for q in commands]
    c.close()
    return got


def make_site():
    site = lib.tmp_site(SITE)
    subprocess.run([lib.ATTO, "passwd", site, "alice"], input=b"secret\n", check=True,
                   capture_output=True)
    return site


def deliver(port, raw):
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.sendmail("x@example.org", ["alice@example.test"], raw)
    s.quit()


def fill(site):
    """Deliver the messages, write the direct ones, and SELECT once so every
    later session sees the same flags (no \\Recent)."""
    with lib.Atto(site, enable=MAIL) as a:
        for raw in messages():
            deliver(a.smtp, raw)
        box = os.path.join(site, "mail", "alice")
        for name, data in DIRECT.items():
            with open(os.path.join(box, "new", name), "wb") as f:
                f.write(data)
        c = lib.ImapRaw(a.imap)
        c.cmd(b"LOGIN alice secret")
        c.cmd(b"SELECT INBOX")
        c.close()
    return os.path.join(site, "mail", "alice")


def diff(ref, got, what):
    for q, r, g in zip(COMMANDS, ref, got):
        assert r == g, "%s: %r differs:\n fresh %r\n   got %r" % (what, q, r[:400], g[:400])


def cache_file(box):
    return os.path.join(box, "atto-cache")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_nonempty(ref):
    for q, r in zip(COMMANDS, ref):
        if q in NONEMPTY:
            assert re.match(rb"\* SEARCH( \d+)+\r\n$", r), (q, r)


def test_fresh_warm_file_and_reference():
    site = make_site()
    box = fill(site)
    assert not os.path.exists(cache_file(box))
    with lib.Atto(site, enable=MAIL) as a:
        ref = session(a)
        assert os.path.exists(cache_file(box)), "no cache file after the first FETCH"
        check_nonempty(ref)
        assert ref[1].count(b" FETCH (") == 17 and b"relay1599" in ref[2], ref[2][:200]
        diff(ref, session(a), "warm")
    st = os.stat(cache_file(box))
    with lib.Atto(site, enable=MAIL) as a:                 # a new process: from the file
        diff(ref, session(a), "from the file")
    st2 = os.stat(cache_file(box))
    assert (st.st_ino, st.st_mtime_ns) == (st2.st_ino, st2.st_mtime_ns), "file rewritten: not used"
    refbin = os.environ.get("ATTO_REF")
    if refbin:
        os.remove(cache_file(box))
        b = lib.Atto(site, enable=MAIL)
        b.args[0] = refbin
        with b:
            diff(ref, session(b), "reference binary " + refbin)


def test_damaged_file_is_rebuilt():
    site = make_site()
    box = fill(site)
    with lib.Atto(site, enable=MAIL) as a:
        ref = session(a)
    good = read(cache_file(box))
    n = len(good)
    damages = {
        "flipped": good[:n // 2] + bytes([good[n // 2] ^ 0x41]) + good[n // 2 + 1:],
        "truncated": good[:n - 17],
        "garbage": bytes((i * 7919 + 13) % 256 for i in range(n)),
        "empty": b"",
        "header only": good[:32],
    }
    for what, data in damages.items():
        with open(cache_file(box), "wb") as f:
            f.write(data)
        with lib.Atto(site, enable=MAIL) as a:
            diff(ref, session(a), what)
        assert read(cache_file(box)) == good, "%s: not rebuilt to the same file" % what


def test_delivery_and_expunge():
    site = make_site()
    box = fill(site)
    with lib.Atto(site, enable=MAIL) as a:
        session(a)                                          # build the cache
        before = read(cache_file(box))
        c = lib.ImapRaw(a.imap)
        c.cmd(b"LOGIN alice secret")
        c.cmd(b"SELECT INBOX")
        seq = c.cmd(b"SEARCH SUBJECT Alternative").split()[2]
        assert b"\"Alternative\"" in c.cmd(b"FETCH %s ENVELOPE" % seq)
        deliver(a.smtp, crlf("From: late@example.org\nTo: alice@example.test\nCc: dave@example.com\n"
                             "Subject: Late note\nDate: Thu, 09 Feb 2023 09:00:00 +0000\n\nlate\n"))
        c.cmd(b"NOOP")
        c.cmd(b"STORE %s +FLAGS.SILENT (\\Deleted)" % seq)
        assert b"* %s EXPUNGE" % seq in c.cmd(b"EXPUNGE")
        c.close()
        got = session(a)                                    # new session, warm memory
        end = time.time() + 5                               # saved when the session ends
        while read(cache_file(box)) == before and time.time() < end:
            time.sleep(0.05)
        after = read(cache_file(box))
        assert after != before, "cache file not updated"
    base = [n for n in os.listdir(os.path.join(box, "cur"))]
    assert not any(b"Alternative" in read(os.path.join(box, "cur", n)) for n in base)
    assert b"Alternative" not in after and b"Late note" in after
    os.remove(cache_file(box))
    with lib.Atto(site, enable=MAIL) as a:                  # from no cache at all
        diff(session(a), got, "after delivery + expunge")
    assert b"Late note" in got[0] and b"Alternative" not in got[0]
    assert got[8].startswith(b"* SEARCH ") and got[8].count(b" ") == 2   # CC dave: only the new one


def test_two_processes_share_the_file():
    """Two servers on one Maildir (as separate worker processes will be):
    each reads what the other wrote, and a delivery seen by one is merged
    into the file the other keeps using."""
    site = make_site()
    box = fill(site)
    with lib.Atto(site, enable=MAIL) as a, lib.Atto(site, enable=MAIL) as b:
        ref = session(a)
        st = os.stat(cache_file(box))
        diff(ref, session(b), "second process")
        assert os.stat(cache_file(box)).st_ino == st.st_ino, "b rebuilt instead of reading a's file"
        deliver(a.smtp, crlf("From: late@example.org\nTo: alice@example.test\nSubject: Late one\n\nx\n"))
        session(b, [])                                      # takes \\Recent (new/ -> cur/)
        got_b = session(b)                                  # b builds the new entry and saves
        end = time.time() + 5
        while b"Late one" not in read(cache_file(box)) and time.time() < end:
            time.sleep(0.05)
        assert b"Late one" in read(cache_file(box))
        st = os.stat(cache_file(box))
        got_a = session(a)                                  # a merges it from the file
        assert got_a == got_b and b"Late one" in got_a[0]
        time.sleep(0.3)
        assert os.stat(cache_file(box)).st_ino == st.st_ino, "a rewrote the file: did not merge"


lib.main(globals())
