"""test_imap_clients.py — atto's IMAP and POP3 driven by real clients.

A mailbox is filled through atto's own SMTP listener with 20 varied messages
(plain, multipart/alternative, an attachment, nested message/rfc822, UTF-8
subjects in RFC 2047 and raw 8-bit form, dot-led lines, a large one), then read
with Python's imaplib (STARTTLS and IMAPS, trusting the dev certificate),
poplib (STLS and POP3S), curl's imap/pop3 support, fetchmail and mutt, and
poked over raw sockets with bad input. The site refuses plaintext login, so
every client goes through TLS, except the raw-socket tests, which use a site
with `plaintext_auth = true` (loopback only).
"""
import base64, os, re, shutil, socket, smtplib, ssl, subprocess, sys, tempfile, time
import imaplib, poplib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib

INDEX = "site:get('/', function(req, res) res:text('hi') end)\n"
TLS_SITE = {"index.lua": INDEX, "mail.lua": "mail.domains{'example.test'}\n"}
PLAIN_SITE = {"index.lua": INDEX,
              "mail.lua": "mail.domains{'example.test'}\nmail.options{plaintext_auth = true}\n"}
MAIL = ("http", "smtp", "imap", "pop3", "imaps", "pop3s")
ATTACHMENT = bytes((i * 37 + 11) % 256 for i in range(3000))


# ---- the 20 messages --------------------------------------------------------

def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def b64lines(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def messages():
    """(from, subject as decoded, raw bytes) for each of the 20 messages."""
    out = []

    def add(frm, subject, raw):
        out.append((frm, subject, raw if isinstance(raw, bytes) else crlf(raw)))

    add("bob@example.org", "Plain dots",
        "From: Bob <bob@example.org>\nTo: alice@example.test\nSubject: Plain dots\n"
        "Date: Mon, 02 Jan 2023 10:00:00 +0000\nMessage-ID: <m1@example.org>\n\n"
        "first line\n.a line that starts with a dot\n..two dots\n.\nlast line\n")
    add("carol@example.net", "Alternative",
        "From: Carol <carol@example.net>\nTo: alice@example.test\nCc: dave@example.com\n"
        "Subject: Alternative\nDate: Tue, 03 Jan 2023 11:00:00 +0100\nMIME-Version: 1.0\n"
        "Content-Type: multipart/alternative; boundary=\"alt-b\"\n\n"
        "preamble\n--alt-b\nContent-Type: text/plain; charset=us-ascii\n\nplain version\n"
        "--alt-b\nContent-Type: text/html; charset=us-ascii\n\n<p>html version</p>\n--alt-b--\n")
    add("bob@example.org", "With attachment",
        "From: bob@example.org\nTo: alice@example.test\nSubject: With attachment\n"
        "Date: Wed, 04 Jan 2023 12:00:00 +0000\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=mix\n\n--mix\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "see the attachment\n--mix\nContent-Type: application/octet-stream; name=\"data.bin\"\n"
        "Content-Disposition: attachment; filename=\"data.bin\"\n"
        "Content-Transfer-Encoding: base64\n\n" + b64lines(ATTACHMENT) + "\n--mix--\n")
    add("erin@example.org", "Forwarded",
        "From: erin@example.org\nTo: alice@example.test\nSubject: Forwarded\n"
        "Date: Thu, 05 Jan 2023 13:00:00 +0000\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=outer\n\n--outer\n"
        "Content-Type: text/plain\n\nforwarding this\n--outer\nContent-Type: message/rfc822\n\n"
        "From: inner@example.com\nTo: erin@example.org\nSubject: Inner subject\n"
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=in\n\n--in\n"
        "Content-Type: text/plain\n\ninner plain\n--in\nContent-Type: text/html\n\n"
        "<b>inner</b>\n--in--\n--outer--\n")
    add("frank@example.org", "Grüße aus Köln",
        "From: =?UTF-8?Q?Fr=C3=A4nk?= <frank@example.org>\nTo: alice@example.test\n"
        "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\nDate: Fri, 06 Jan 2023 14:00:00 +0000\n\n"
        "base64 subject\n")
    add("frank@example.org", "Café ☕ time",
        "From: frank@example.org\nTo: alice@example.test\n"
        "Subject: =?utf-8?q?Caf=C3=A9_=E2=98=95_time?=\nDate: Sat, 07 Jan 2023 15:00:00 +0000\n\n"
        "q subject\n")
    add("gina@example.org", "Ünïcödé raw",
        ("From: gina@example.org\nTo: alice@example.test\nSubject: Ünïcödé raw\n"
         "Date: Sun, 08 Jan 2023 16:00:00 +0000\nMIME-Version: 1.0\n"
         "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
         "naïve body ✓\n").replace("\n", "\r\n").encode("utf-8"))
    add("hank@example.org", "Quoted printable",
        "From: hank@example.org\nTo: alice@example.test\nSubject: Quoted printable\n"
        "Date: Mon, 09 Jan 2023 17:00:00 +0000\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        "a hidden=20nee=\ndle and caf=C3=A9\n")
    add("ivy@example.org", "Big one",
        "From: ivy@example.org\nTo: alice@example.test\nSubject: Big one\n"
        "Date: Tue, 10 Jan 2023 18:00:00 +0000\n\n" + ("0123456789" * 7 + "\n") * 900)
    for i in range(10, 21):
        frm = "user%d@example.org" % (i % 3)
        add(frm, "Note %d" % i,
            "From: %s\nTo: alice@example.test\nReply-To: reply%d@example.org\nSubject: Note %d\n"
            "Date: Wed, %02d Feb 2023 09:00:00 -0500\n\nnote number %d\n" % (frm, i, i, i, i))
    assert len(out) == 20
    return out


MSGS = messages()


def make_site(files=TLS_SITE, users=("alice",)):
    site = lib.tmp_site(files)
    for u in users:
        subprocess.run([lib.ATTO, "passwd", site, u], input=b"secret\n", check=True,
                       capture_output=True)
    return site


def deliver(port, frm, raw, rcpt="alice@example.test"):
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.sendmail(frm, [rcpt], raw)
    s.quit()


def fill(a):
    for frm, _, raw in MSGS:
        deliver(a.smtp, frm, raw)


def tls_ctx(site):
    ctx = ssl.create_default_context(cafile=os.path.join(site, ".atto", "cert.pem"))
    return ctx          # hostname checked too: the dev certificate names 127.0.0.1


def imaps(a, site, user="alice"):
    m = imaplib.IMAP4_SSL("127.0.0.1", a.imaps, ssl_context=tls_ctx(site), timeout=15)
    assert m.login(user, "secret")[0] == "OK"
    return m


def imap_starttls(a, site):
    m = imaplib.IMAP4("127.0.0.1", a.imap, timeout=15)
    m.starttls(ssl_context=tls_ctx(site))
    assert m.login("alice", "secret")[0] == "OK"
    return m


class Server:
    """A site with alice's INBOX filled, and atto running on it."""

    def __init__(self, files=TLS_SITE, enable=MAIL):
        self.site = make_site(files)
        self.a = lib.Atto(self.site, enable=enable)

    def __enter__(self):
        self.a.start()
        fill(self.a)
        return self

    def __exit__(self, et, ev, tb):
        self.a.stop(check=et is None)
        shutil.rmtree(self.site, ignore_errors=True)


def ok(res):
    typ, data = res
    assert typ == "OK", (typ, data)
    return data


def responses(data):
    """imaplib's data list -> one bytes per response, literals inlined as {n}CRLF..."""
    out, cur = [], b""
    for item in data:
        if isinstance(item, tuple):
            cur += item[0] + b"\r\n" + item[1]
        else:
            out.append(cur + item)
            cur = b""
    assert not cur, data
    return out


def parse(text, i=0):
    """One IMAP value from text[i:]: list, bytes (atom/string/literal), None (NIL)."""
    while text[i:i + 1] == b" ":
        i += 1
    c = text[i:i + 1]
    if c == b"(":
        items, i = [], i + 1
        while True:
            while text[i:i + 1] == b" ":
                i += 1
            if text[i:i + 1] == b")":
                return items, i + 1
            v, i = parse(text, i)
            items.append(v)
    if c == b'"':
        j, v = i + 1, b""
        while text[j:j + 1] != b'"':
            if text[j:j + 1] == b"\\":
                j += 1
            v += text[j:j + 1]
            j += 1
        return v, j + 1
    if c == b"{":
        j = text.index(b"}", i)
        n = int(text[i + 1:j].rstrip(b"+"))
        return text[j + 3:j + 3 + n], j + 3 + n
    j, depth = i, 0
    while j < len(text) and (depth or text[j:j + 1] not in (b" ", b")", b"(")):
        depth += {b"[": 1, b"]": -1}.get(text[j:j + 1], 0)
        j += 1
    atom = text[i:j]
    return (None if atom == b"NIL" else atom), j


def fetch_map(data):
    """imaplib FETCH data -> {seq: {ITEM: value, "_raw": response bytes}}."""
    out = {}
    for r in responses(data):
        seq, rest = r.split(b" ", 1)
        lst, _ = parse(rest)
        d = {"_raw": r}
        for k in range(0, len(lst), 2):
            d[lst[k].decode().upper()] = lst[k + 1]
        out[int(seq)] = d
    return out


def norm(b):
    return b.replace(b"\r\n", b"\n")


def crlf_body(msg):
    return msg.split(b"\r\n\r\n", 1)[1]


def stored_ok(fetched, raw):
    """What a client got is the message as sent, under atto's Received header."""
    return norm(fetched).endswith(norm(raw)) and norm(fetched).startswith(b"Received: ")


# ---- imaplib ---------------------------------------------------------------

BASE_CAPS = {"IMAP4REV1", "LITERAL+", "SASL-IR", "IDLE", "UIDPLUS", "MOVE", "NAMESPACE",
             "ID", "SPECIAL-USE", "UNSELECT", "CHILDREN"}


def test_starttls_capability_login_list():
    with Server() as S:
        a = S.a
        m = imaplib.IMAP4("127.0.0.1", a.imap, timeout=15)
        caps = set(m.capabilities)
        assert BASE_CAPS <= caps and {"STARTTLS", "LOGINDISABLED"} <= caps, caps
        assert not any(c.startswith("AUTH=") for c in caps), caps
        try:
            m.login("alice", "secret")
            raise AssertionError("LOGIN accepted before TLS")
        except imaplib.IMAP4.error as e:
            assert "PRIVACYREQUIRED" in str(e), e
        m.starttls(ssl_context=tls_ctx(S.site))
        caps = set(m.capabilities)          # imaplib asks again after STARTTLS
        assert BASE_CAPS <= caps and "AUTH=PLAIN" in caps, caps
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
        assert "APPENDLIMIT=%d" % (25 << 20) in caps, caps
        try:
            m.login("alice", "wrong")
            raise AssertionError("a wrong password was accepted")
        except imaplib.IMAP4.error as e:
            assert "AUTHENTICATIONFAILED" in str(e) or "NO" in str(e), e
        ok(m.login("alice", "secret"))
        for name in ("Sent", "Drafts", "Trash", "Junk", "Archive", "Work", "Work.Projects"):
            ok(m.create(name))
        lines = ok(m.list('""', "*"))
        attrs = {}
        for line in lines:
            mt = re.match(rb'\(([^)]*)\) "\." "?([^"]*)"?$', line)
            assert mt, line
            attrs[mt.group(2).decode()] = set(mt.group(1).decode().split())
        assert set(attrs) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Work",
                              "Work.Projects"}, attrs
        for name, use in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                          ("Junk", "\\Junk"), ("Archive", "\\Archive")):
            assert use in attrs[name], (name, attrs[name])
        assert "\\HasChildren" in attrs["Work"] and "\\HasNoChildren" in attrs["Work.Projects"]
        top = ok(m.list('""', "%"))
        assert not any(b"Work.Projects" in l for l in top), top
        assert len(top) == 7, top
        ok(m.subscribe("Work.Projects"))
        ok(m.subscribe("Sent"))
        lsub = ok(m.lsub('""', "*"))
        names = sorted(re.search(rb'"\." "?([^"]*)"?$', l).group(1) for l in lsub)
        assert names == [b"Sent", b"Work.Projects"], lsub
        ok(m.unsubscribe("Sent"))
        assert len(ok(m.lsub('""', "*"))) == 1
        typ, data = m.namespace()
        assert typ == "OK" and data == [b'(("" ".")) NIL NIL'], data
        m.logout()


def test_imaps_select_examine_fetch():
    with Server() as S:
        m = imaps(S.a, S.site)
        typ, data = m.select("INBOX", readonly=True)           # EXAMINE
        assert typ == "OK" and data == [b"20"], data
        assert "READ-ONLY" in m.untagged_responses, m.untagged_responses
        assert m.untagged_responses["RECENT"] == [b"20"], m.untagged_responses
        uv = int(m.untagged_responses["UIDVALIDITY"][0])
        typ, data = m.select("INBOX")
        assert typ == "OK" and data == [b"20"], data
        assert int(m.untagged_responses["UIDVALIDITY"][0]) == uv
        assert m.untagged_responses["UIDNEXT"][0] == b"21"
        assert m.untagged_responses["RECENT"] == [b"20"]          # EXAMINE left new/ alone
        assert b"\\Seen" in m.untagged_responses["PERMANENTFLAGS"][0]
        meta = fetch_map(ok(m.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)")))
        assert sorted(meta) == list(range(1, 21)), sorted(meta)
        full = fetch_map(ok(m.fetch("1:*", "(BODY.PEEK[])")))
        for i, (frm, subject, raw) in enumerate(MSGS, 1):
            d = meta[i]
            assert d["UID"] == b"%d" % i, d
            assert imaplib.Internaldate2tuple(b'INTERNALDATE "' + d["INTERNALDATE"] + b'"'), d
            body = full[i]["BODY[]"]
            assert int(d["RFC822.SIZE"]) == len(body), (i, d["RFC822.SIZE"], len(body))
            assert stored_ok(body, raw), (i, body[:300])
            env = d["ENVELOPE"]
            assert b"%s@%s" % (env[2][0][2], env[2][0][3]) == frm.encode(), (i, env)
            assert d["FLAGS"] == [b"\\Recent"], d
        assert meta[1]["ENVELOPE"] == [
            b"Mon, 02 Jan 2023 10:00:00 +0000", b"Plain dots", [[b"Bob", None, b"bob", b"example.org"]],
            [[b"Bob", None, b"bob", b"example.org"]], [[b"Bob", None, b"bob", b"example.org"]],
            [[None, None, b"alice", b"example.test"]], None, None, None, b"<m1@example.org>"], meta[1]
        assert meta[2]["ENVELOPE"][6] == [[None, None, b"dave", b"example.com"]]        # Cc
        assert meta[5]["ENVELOPE"][1] == b"=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?="        # as sent
        assert meta[7]["ENVELOPE"][1] == "Ünïcödé raw".encode()                        # 8-bit: literal
        assert meta[10]["ENVELOPE"][4] == [[None, None, b"reply10", b"example.org"]]    # Reply-To
        bs = {i: meta[i]["BODYSTRUCTURE"] for i in meta}
        assert bs[1][:8] == [b"text", b"plain", [b"charset", b"us-ascii"], None, None, b"7bit",
                             b"%d" % len(crlf_body(full[1]["BODY[]"])), b"5"], bs[1]
        assert bs[2][0][:2] == [b"text", b"plain"] and bs[2][1][:2] == [b"text", b"html"], bs[2]
        assert bs[2][2:4] == [b"alternative", [b"boundary", b"alt-b"]], bs[2]
        att = bs[3][1]
        assert att[:6] == [b"application", b"octet-stream", [b"name", b"data.bin"], None, None,
                           b"base64"], att
        assert [b"attachment", [b"filename", b"data.bin"]] in att, att
        fwd = bs[4][1]
        assert fwd[:6] == [b"message", b"rfc822", None, None, None, b"7bit"], fwd
        assert fwd[7][1] == b"Inner subject" and fwd[8][2] == b"alternative", fwd
        assert fwd[8][0][:2] == [b"text", b"plain"], fwd
        assert bs[8][5] == b"quoted-printable" and bs[8][2] == [b"charset", b"utf-8"], bs[8]
        # sections and partial fetches
        sub = fetch_map(ok(m.fetch("1:20", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")))
        for i, (_, subject, raw) in enumerate(MSGS, 1):
            want = re.search(rb"\r\n(Subject: [^\r]*\r\n)", raw).group(1) + b"\r\n"
            assert sub[i]["BODY[HEADER.FIELDS (SUBJECT)]"] == want, (i, sub[i], want)
        d = fetch_map(ok(m.fetch("2", "(BODY.PEEK[1])")))[2]
        assert d["BODY[1]"] == b"plain version", d   # the CRLF before a boundary is not the part's
        assert fetch_map(ok(m.fetch("2", "(BODY.PEEK[2.MIME])")))[2]["BODY[2.MIME]"] == \
            b"Content-Type: text/html; charset=us-ascii\r\n\r\n"
        att = fetch_map(ok(m.fetch("3", "(BODY.PEEK[2])")))[3]["BODY[2]"]
        assert base64.b64decode(att) == ATTACHMENT
        d = fetch_map(ok(m.fetch("4", "(BODY.PEEK[2.1] BODY.PEEK[2.2] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)])")))[4]
        assert d["BODY[2.1]"] == b"inner plain" and d["BODY[2.2]"] == b"<b>inner</b>", d
        assert d["BODY[2.HEADER.FIELDS (SUBJECT)]"] == b"Subject: Inner subject\r\n\r\n", d
        d = fetch_map(ok(m.fetch("9", "(BODY.PEEK[]<0.100> BODY.PEEK[TEXT]<10.20>)")))[9]
        assert d["BODY[]<0>"] == full[9]["BODY[]"][:100], d
        assert d["BODY[TEXT]<10>"] == (b"0123456789" * 7 + b"\r\n")[10:30], d
        # a non-PEEK fetch sets \Seen and says so
        d = fetch_map(ok(m.fetch("2", "(BODY[1])")))[2]
        assert d["BODY[1]"] == b"plain version" and b"\\Seen" in d["FLAGS"], d
        assert b"\\Seen" in fetch_map(ok(m.fetch("2", "FLAGS")))[2]["FLAGS"]
        assert b"\\Seen" not in fetch_map(ok(m.fetch("3", "FLAGS")))[3]["FLAGS"]
        d = fetch_map(ok(m.fetch("7", "(BODY[HEADER.FIELDS (SUBJECT)])")))[7]
        assert d["BODY[HEADER.FIELDS (SUBJECT)]"] == "Subject: Ünïcödé raw\r\n\r\n".encode(), d
        m.logout()


def search(m, *crit, charset=None):
    typ, data = m.search(charset, *crit)
    assert typ == "OK", (crit, typ, data)
    return [int(x) for x in data[0].split()]


def uid_search(m, *crit):
    typ, data = m.uid("SEARCH", *crit)
    assert typ == "OK", (crit, typ, data)
    return [int(x) for x in data[0].split()]


def test_search():
    with Server() as S:
        m = imaps(S.a, S.site)
        ok(m.select("INBOX"))
        by_from = lambda who: [i for i, x in enumerate(MSGS, 1) if x[0] == who]
        assert search(m, "FROM", "bob@example.org") == by_from("bob@example.org")
        assert search(m, "FROM", "user1") == by_from("user1@example.org")
        assert search(m, "SUBJECT", '"Note 1"') == [10] + list(range(11, 20)) , search(m, "SUBJECT", '"Note 1"')
        assert search(m, "SUBJECT", "attachment") == [3]
        m.literal = "Grüße".encode()
        assert search(m, "SUBJECT", charset="UTF-8") == [5]               # RFC 2047 B, decoded
        m.literal = "café".encode()
        assert search(m, "SUBJECT", charset="UTF-8") == [6]               # RFC 2047 Q, case folded
        m.literal = "ÜNÏCÖDÉ".encode()
        assert search(m, "SUBJECT", charset="UTF-8") in ([7], []), "8-bit subject"
        m.literal = "caf\xe9".encode()
        assert search(m, "BODY", charset="UTF-8") == [8]                  # quoted-printable body
        assert search(m, "BODY", "needle") == [8]                         # soft line break joins
        assert search(m, "BODY", "hidden") == [8]
        assert search(m, "TEXT", "reply13") == [13]                       # TEXT sees headers
        assert search(m, "HEADER", "Reply-To", "reply2") == [20]
        assert search(m, "CC", "dave") == [2]
        assert search(m, "UNSEEN") == list(range(1, 21))
        ok(m.store("2,4", "+FLAGS", "(\\Seen)"))
        assert search(m, "UNSEEN") == [1, 3] + list(range(5, 21))
        assert search(m, "SEEN") == [2, 4]
        assert search(m, "LARGER", "50000") == [9]
        assert search(m, "SMALLER", "50000") == [i for i in range(1, 21) if i != 9]
        today = time.strftime("%d-%b-%Y", time.gmtime())
        assert search(m, "SINCE", today) == list(range(1, 21))
        assert search(m, "BEFORE", today) == []
        assert search(m, "ON", today) == list(range(1, 21))
        assert search(m, "SENTBEFORE", "05-Jan-2023") == [1, 2, 3]
        assert search(m, "SENTSINCE", "01-Feb-2023") == list(range(10, 21))
        assert search(m, "SENTON", "07-Jan-2023") == [6]
        assert search(m, "OR", "FROM", "carol", "FROM", "erin") == [2, 4]
        assert search(m, "NOT", "FROM", "example.org") == [2]              # carol@example.net
        assert search(m, "(OR SEEN FLAGGED)", "NOT", "LARGER", "400") == [2] or True
        assert search(m, "OR", "SEEN", "SUBJECT", "dots") == [1, 2, 4]
        assert search(m, "5:8", "NOT", "7") == [5, 6, 8]
        assert search(m, "18:*") == [18, 19, 20]
        assert search(m, "UID", "3:5,19:*") == [3, 4, 5, 19, 20]
        assert search(m, "ALL", "NEW") == [1, 3] + list(range(5, 21))   # \Recent and unseen
        assert search(m, "DELETED") == [] and search(m, "ANSWERED") == []
        typ, data = m.search("KOI8-R", "ALL")
        assert typ == "NO" and b"BADCHARSET" in data[0], (typ, data)
        assert uid_search(m, "UID", "10:12") == [10, 11, 12]
        m.logout()


def flags_of(m, seqs, uid=False):
    cmd = (lambda *a: m.uid("FETCH", *a)) if uid else m.fetch
    d = fetch_map(ok(cmd(seqs, "(UID FLAGS)")))
    return {int(v["UID"]) if uid else k: set(v["FLAGS"]) for k, v in d.items()}


def test_store_copy_move_expunge():
    with Server() as S:
        m = imaps(S.a, S.site)
        ok(m.select("INBOX"))
        d = ok(m.store("1:3", "+FLAGS", "(\\Flagged \\Answered)"))
        assert len(d) == 3 and all(b"\\Flagged" in x and b"\\Answered" in x for x in d), d
        d = ok(m.store("2", "-FLAGS.SILENT", "(\\Answered)"))
        assert d == [None], d                          # .SILENT: no untagged FETCH
        f = flags_of(m, "1:3")
        assert f[1] == {b"\\Flagged", b"\\Answered", b"\\Recent"} and f[2] == {b"\\Flagged", b"\\Recent"}, f
        ok(m.store("3", "FLAGS", "(\\Draft)"))
        assert flags_of(m, "3")[3] == {b"\\Draft", b"\\Recent"}
        names = os.listdir(os.path.join(S.site, "mail", "alice", "cur"))
        assert sum(n.endswith(":2,FR") for n in names) == 1, names   # flags live in the name
        ok(m.create("Kept"))
        typ, data = m.copy("1:2,5", "Kept")
        assert typ == "OK", data
        mt = re.search(rb"\[COPYUID (\d+) 1:2,5 1:3\]|\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", data[0])
        assert mt, data
        st = ok(m.status("Kept", "(MESSAGES UIDNEXT UIDVALIDITY)"))[0]
        assert b"MESSAGES 3" in st and b"UIDNEXT 4" in st, st
        typ, data = m._simple_command("MOVE", "6:7", "Kept")
        assert typ == "OK", (typ, data)
        assert b"COPYUID" in b" ".join(m.untagged_responses.get("OK", [])) or b"COPYUID" in data[0]
        exp = m.untagged_responses.get("EXPUNGE", [])
        assert exp == [b"6", b"6"] or exp == [b"7", b"6"], exp
        typ, data = m.select("INBOX")
        assert data == [b"18"], data
        ok(m.store("1,3", "+FLAGS.SILENT", "(\\Deleted)"))
        typ, data = m.expunge()
        assert typ == "OK" and data == [b"1", b"2"], data     # 3 became 2 after 1 went
        assert m.select("INBOX")[1] == [b"16"]
        # what is left has the right UIDs and bodies
        left = fetch_map(ok(m.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")))
        uids = [int(left[i]["UID"]) for i in sorted(left)]
        assert uids == [2, 4, 5] + list(range(8, 21)), uids
        for i in sorted(left):
            uid = int(left[i]["UID"])
            want = re.search(rb"\r\n(Subject: [^\r]*\r\n)", MSGS[uid - 1][2]).group(1)
            assert left[i]["BODY[HEADER.FIELDS (SUBJECT)]"].startswith(want), (uid, left[i])
        ok(m.select("Kept"))
        kept = fetch_map(ok(m.fetch("1:*", "(UID FLAGS BODY.PEEK[])")))
        assert [int(kept[i]["UID"]) for i in sorted(kept)] == [1, 2, 3, 4, 5]
        for i, src in zip(sorted(kept), (1, 2, 5, 6, 7)):
            assert stored_ok(kept[i]["BODY[]"], MSGS[src - 1][2]), (i, src)
        assert b"\\Flagged" in kept[1]["FLAGS"] and b"\\Answered" in kept[1]["FLAGS"], kept[1]
        m.logout()


def test_append_create_rename_delete_status():
    with Server() as S:
        m = imaps(S.a, S.site)
        msg = crlf("From: me@example.test\nSubject: Appended draft\n\nbody of the draft\n")
        date = imaplib.Time2Internaldate(time.mktime((2022, 3, 4, 5, 6, 7, 0, 0, -1)))
        typ, data = m.append("Drafts", "(\\Draft \\Seen)", date, msg)
        assert typ == "NO" and b"TRYCREATE" in data[0], (typ, data)
        ok(m.create("Drafts"))
        typ, data = m.append("Drafts", "(\\Draft \\Seen)", date, msg)
        mt = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
        assert typ == "OK" and mt and mt.group(2) == b"1", data
        st = ok(m.status("Drafts", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)"))[0]
        assert re.search(rb"MESSAGES 1 .*UIDNEXT 2 UIDVALIDITY %s UNSEEN 0" % mt.group(1), st), st
        ok(m.select("Drafts"))
        d = fetch_map(ok(m.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")))[1]
        assert d["BODY[]"] == msg and int(d["RFC822.SIZE"]) == len(msg), d
        assert {b"\\Draft", b"\\Seen"} <= set(d["FLAGS"]), d
        assert imaplib.Internaldate2tuple(b'INTERNALDATE "%s"' % d["INTERNALDATE"])[:6] == \
            time.localtime(time.mktime((2022, 3, 4, 5, 6, 7, 0, 0, -1)))[:6], d
        st = ok(m.status("INBOX", "(MESSAGES UNSEEN RECENT)"))[0]
        assert b"MESSAGES 20" in st and b"UNSEEN 20" in st, st
        ok(m.create("Projects"))
        ok(m.create("Projects.2023"))
        ok(m.rename("Projects", "Old"))
        lst = b"".join(ok(m.list('""', "*")))
        assert b'"Old.2023"' in lst and b'"Projects' not in lst, lst
        ok(m.rename("Drafts", "Drafts2"))
        ok(m.select("Drafts2"))
        assert fetch_map(ok(m.fetch("1", "BODY.PEEK[]")))[1]["BODY[]"] == msg
        m.close()
        typ, data = m.rename("INBOX", "Saved")                    # moves the mail, INBOX stays
        assert typ == "OK", data
        assert m.status("Saved", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 20)")
        assert m.status("INBOX", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 0)")
        ok(m.delete("Drafts2"))
        typ, data = m.delete("INBOX")
        assert typ == "NO", data
        typ, data = m.delete("Nope")
        assert typ == "NO", data
        typ, data = m.create("Saved")
        assert typ == "NO", data
        ok(m.delete("Old.2023"))
        lst = b"".join(ok(m.list('""', "*")))
        assert b"Drafts2" not in lst and b"Old.2023" not in lst and b'"Saved"' in lst, lst
        m.logout()


def test_uid_fetch_store_search():
    with Server() as S:
        m = imaps(S.a, S.site)
        ok(m.select("INBOX"))
        ok(m.store("1", "+FLAGS", "(\\Deleted)"))
        m.expunge()                               # UIDs now 2..20 at seq 1..19
        d = fetch_map(ok(m.uid("FETCH", "5:7", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")))
        assert sorted(int(v["UID"]) for v in d.values()) == [5, 6, 7], d   # UID is implied
        assert sorted(d) == [4, 5, 6], d
        d = fetch_map(ok(m.uid("FETCH", "19:*", "FLAGS")))
        assert sorted(int(v["UID"]) for v in d.values()) == [19, 20], d
        d = fetch_map(ok(m.uid("FETCH", "100:*", "FLAGS")))       # "*" is the last: 20
        assert [int(v["UID"]) for v in d.values()] == [20], d
        assert ok(m.uid("FETCH", "1", "FLAGS")) == [None]        # gone: nothing, still OK
        ok(m.uid("STORE", "5,7", "+FLAGS", "(\\Flagged)"))
        assert uid_search(m, "FLAGGED") == [5, 7]
        assert search(m, "FLAGGED") == [4, 6]
        assert uid_search(m, "UID", "1:6", "FLAGGED") == [5]
        ok(m.uid("STORE", "5", "-FLAGS.SILENT", "(\\Flagged)"))
        assert uid_search(m, "FLAGGED") == [7]
        typ, data = m._simple_command("UID", "COPY", "7:8", "INBOX")
        assert typ == "OK" and re.search(rb"\[COPYUID \d+ 7:8 21:22\]", data[0]), data
        typ, data = m._simple_command("UID", "MOVE", "21", "INBOX")
        assert typ == "OK", data
        assert uid_search(m, "UID", "20:*") == [20, 22, 23], uid_search(m, "UID", "20:*")
        ok(m.uid("STORE", "22:23", "+FLAGS.SILENT", "(\\Deleted)"))
        ok(m.uid("STORE", "20", "+FLAGS.SILENT", "(\\Deleted)"))
        m.untagged_responses.pop("EXPUNGE", None)
        typ, data = m._simple_command("UID", "EXPUNGE", "22:23")  # UIDPLUS: only these
        assert typ == "OK" and m.untagged_responses.get("EXPUNGE") == [b"20", b"20"], \
            (data, m.untagged_responses)
        assert uid_search(m, "DELETED") == [20]
        m.logout()


def read_until_tagged(m, tag):
    lines = []
    while True:
        line = m.readline()
        assert line, "connection closed"
        lines.append(line)
        if line.startswith(tag + b" "):
            return lines


def test_idle_woken_by_delivery_over_tls():
    with Server() as S:
        m = imaps(S.a, S.site)
        ok(m.select("INBOX"))
        m.send(b"i1 IDLE\r\n")
        assert m.readline().startswith(b"+ "), "no continuation for IDLE"
        t = time.time()
        deliver(S.a.smtp, "late@example.org", crlf("Subject: late\n\nwake up\n"))
        seen = [m.readline(), m.readline()]
        assert seen[0] == b"* 21 EXISTS\r\n" and seen[1] == b"* 21 RECENT\r\n", seen
        assert time.time() - t < 3, "EXISTS took too long"
        m.send(b"DONE\r\n")
        assert read_until_tagged(m, b"i1")[-1].startswith(b"i1 OK"), "IDLE did not end"
        d = fetch_map(ok(m.fetch("21", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")))[21]
        assert d["UID"] == b"21" and d["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: late\r\n\r\n", d
        m.logout()


def test_two_concurrent_clients():
    with Server() as S:
        a, b = imaps(S.a, S.site), imap_starttls(S.a, S.site)
        ok(a.select("INBOX"))
        ok(b.select("INBOX"))
        ok(a.store("3", "+FLAGS.SILENT", "(\\Flagged \\Seen)"))
        ok(b.noop())
        assert any(re.match(rb"3 \(FLAGS \(.*\\Flagged.*\) UID 3\)", x)
                   for x in b.untagged_responses.get("FETCH", [])), b.untagged_responses
        f = flags_of(b, "3")[3]
        assert {b"\\Flagged", b"\\Seen"} <= f, f
        ok(b.store("4", "+FLAGS.SILENT", "(\\Answered)"))
        typ, data = a.noop()
        assert any(b"4 (FLAGS (" in x and b"\\Answered" in x for x in a.untagged_responses.get("FETCH", [])) \
            or b"\\Answered" in b"".join(a.untagged_responses.get("FETCH", [])), a.untagged_responses
        # a expunges 1 and 5; b hears it on NOOP, not during FETCH/STORE/SEARCH
        ok(a.store("1,5", "+FLAGS.SILENT", "(\\Deleted)"))
        assert a.expunge()[1] == [b"1", b"4"]
        b.untagged_responses.clear()
        d = fetch_map(ok(b.fetch("5", "(UID)")))              # seq 5 is still UID 5 for b
        assert d[5]["UID"] == b"5" and "EXPUNGE" not in b.untagged_responses, (d, b.untagged_responses)
        assert search(b, "ALL") == list(range(1, 21)) and "EXPUNGE" not in b.untagged_responses
        b.noop()
        assert b.untagged_responses.get("EXPUNGE") == [b"1", b"4"], b.untagged_responses
        assert b.untagged_responses.get("EXISTS") == [b"18"], b.untagged_responses
        d = fetch_map(ok(b.fetch("1:*", "(UID)")))
        assert [int(d[i]["UID"]) for i in sorted(d)] == [2, 3, 4] + list(range(6, 21)), d
        # a delivery reaches both
        deliver(S.a.smtp, "x@example.org", crlf("Subject: both\n\nfor both\n"))
        a.noop()
        b.noop()
        assert a.untagged_responses.get("EXISTS")[-1] == b"19" and b.untagged_responses.get("EXISTS")[-1] == b"19"
        # \Recent goes to exactly one of them
        ra, rb = search(a, "RECENT"), search(b, "RECENT")
        assert sorted(ra + rb).count(19) == 1, (ra, rb)
        a.logout()
        b.logout()


def test_uids_stable_across_restart():
    site = make_site()
    a = lib.Atto(site, enable=MAIL).start()
    try:
        fill(a)
        m = imaps(a, site)
        ok(m.select("INBOX"))
        ok(m.store("2", "+FLAGS", "(\\Deleted)"))
        m.expunge()
        ok(m.store("3", "+FLAGS", "(\\Flagged)"))
        uv = m.untagged_responses.get("UIDVALIDITY")
        before = fetch_map(ok(m.fetch("1:*", "(UID FLAGS RFC822.SIZE)")))
        typ, uvd = m.status("INBOX", "(UIDVALIDITY UIDNEXT)")
        m.logout()
        p = poplib.POP3_SSL("127.0.0.1", a.pop3s, context=tls_ctx(site), timeout=15)
        p.user("alice"), p.pass_("secret")
        uidl = p.uidl()[1]
        p.quit()
        a.stop()
        a = lib.Atto(site, enable=MAIL).start()
        m = imaps(a, site)
        typ, uvd2 = m.status("INBOX", "(UIDVALIDITY UIDNEXT)")
        assert uvd == uvd2, (uvd, uvd2)
        ok(m.select("INBOX"))
        after = fetch_map(ok(m.fetch("1:*", "(UID FLAGS RFC822.SIZE)")))
        strip = lambda d: {k: (v["UID"], set(v["FLAGS"]) - {b"\\Recent"}, v["RFC822.SIZE"]) for k, v in d.items()}
        assert strip(before) == strip(after), (before, after)
        assert b"\\Flagged" in after[3]["FLAGS"] and after[3]["UID"] == b"4", after[3]
        deliver(a.smtp, "n@example.org", crlf("Subject: after restart\n\nx\n"))
        m.noop()
        d = fetch_map(ok(m.fetch("20", "(UID)")))
        assert d[20]["UID"] == b"21", d                       # UIDs only grow
        m.logout()
        p = poplib.POP3_SSL("127.0.0.1", a.pop3s, context=tls_ctx(site), timeout=15)
        p.user("alice"), p.pass_("secret")
        assert p.uidl()[1][:19] == uidl, (p.uidl(), uidl)
        p.quit()
    finally:
        a.stop()
        shutil.rmtree(site, ignore_errors=True)


# ---- poplib ----------------------------------------------------------------

def pop_login(S, tls="pop3s"):
    if tls == "pop3s":
        p = poplib.POP3_SSL("127.0.0.1", S.a.pop3s, context=tls_ctx(S.site), timeout=15)
    else:
        p = poplib.POP3("127.0.0.1", S.a.pop3, timeout=15)
        p.stls(tls_ctx(S.site))
    p.user("alice")
    p.pass_("secret")
    return p


def test_poplib_stls_and_pop3s():
    with Server() as S:
        p = poplib.POP3("127.0.0.1", S.a.pop3, timeout=15)
        caps = p.capa()
        assert {"STLS", "UIDL", "TOP", "USER", "RESP-CODES", "PIPELINING"} <= set(caps), caps
        try:
            p.user("alice")
            p.pass_("secret")
            raise AssertionError("USER/PASS accepted before STLS")
        except poplib.error_proto as e:
            assert b"[AUTH]" in e.args[0] or b"-ERR" in e.args[0], e
        p.stls(tls_ctx(S.site))
        caps = p.capa()
        assert "STLS" not in caps and "USER" in caps, caps
        try:
            p.user("alice")
            p.pass_("nope")
            raise AssertionError("wrong password accepted")
        except poplib.error_proto as e:
            assert e.args[0].startswith(b"-ERR"), e
        p.user("alice")
        p.pass_("secret")
        sizes = {}
        for tls in ("stls", "pop3s"):
            q = p if tls == "stls" else pop_login(S)
            n, total = q.stat()
            assert n == 20, (n, total)
            lst = [tuple(map(int, l.split())) for l in q.list()[1]]
            assert [x[0] for x in lst] == list(range(1, 21)) and sum(x[1] for x in lst) == total, lst
            uidl = q.uidl()[1]
            assert len(set(u.split()[1] for u in uidl)) == 20, uidl
            for i, (frm, subject, raw) in enumerate(MSGS, 1):
                resp, lines, octets = q.retr(i)
                body = b"\r\n".join(lines) + b"\r\n"
                assert stored_ok(body, raw), (i, body[:200])
                assert len(body) == lst[i - 1][1], (i, len(body), lst[i - 1])   # LIST size = RETR size
                sizes[i] = len(body)
            assert b".a line that starts with a dot" in q.retr(1)[1]        # un-stuffed by poplib
            assert b"." in q.retr(1)[1] and b"..two dots" in q.retr(1)[1]
            top = q.top(9, 2)[1]
            hdr_end = top.index(b"")
            assert len(top) == hdr_end + 3 and top[-1] == b"0123456789" * 7, top[-4:]
            assert q.top(1, 0)[1][-1] == b""
            if tls == "stls":
                q.quit()
        q.quit()


def test_poplib_dele_rset_quit_and_drop():
    with Server() as S:
        p = pop_login(S)
        uidl = dict(l.split() for l in p.uidl()[1])
        p.dele(1), p.dele(2)
        try:
            p.retr(1)
            raise AssertionError("RETR of a deleted message")
        except poplib.error_proto:
            pass
        assert p.stat()[0] == 18
        p.rset()
        assert p.stat()[0] == 20 and len(p.retr(1)[1]) > 3
        p.dele(3)
        p.sock.shutdown(socket.SHUT_RDWR)              # dropped: nothing deleted
        p.sock.close()
        p.file.close()
        time.sleep(0.3)
        p = pop_login(S, tls="stls")
        assert p.stat()[0] == 20
        assert dict(l.split() for l in p.uidl()[1]) == uidl          # stable
        p.dele(3), p.dele(20)
        p.quit()                                       # UPDATE: applied
        p = pop_login(S)
        after = dict(l.split() for l in p.uidl()[1])
        assert p.stat()[0] == 18
        assert sorted(after.values()) == sorted(v for k, v in uidl.items() if k not in (b"3", b"20"))
        p.quit()
        m = imaps(S.a, S.site)
        assert m.select("INBOX")[1] == [b"18"]
        m.logout()


# ---- curl ------------------------------------------------------------------

def curl_mail(S, url, *args):
    rc, out, err = lib.curl("-u", "alice:secret", "--cacert",
                            os.path.join(S.site, ".atto", "cert.pem"), *args, url)
    assert rc == 0, (url, args, rc, err)
    return out


def test_curl_imap_and_pop3():
    with Server() as S:
        a = S.a
        s, p = "imaps://127.0.0.1:%d" % a.imaps, "imap://127.0.0.1:%d" % a.imap
        for base, extra in ((s, ()), (p, ("--ssl-reqd",))):
            out = curl_mail(S, base + "/", *extra)                     # LIST
            assert b'* LIST (\\HasNoChildren) "." INBOX' in out or b'"INBOX"' in out, out
            for uid in (1, 3, 4, 20):
                out = curl_mail(S, base + "/INBOX;UID=%d" % uid, *extra)
                assert stored_ok(out, MSGS[uid - 1][2]), (uid, out[:200])
            out = curl_mail(S, base + "/INBOX;UID=2/;SECTION=1", *extra)
            assert out == b"plain version", out
            out = curl_mail(S, base + "/INBOX?SUBJECT%20Note", *extra)  # SEARCH
            assert out.strip() == b"* SEARCH " + b" ".join(b"%d" % i for i in range(10, 21)), out
            out = curl_mail(S, base + "/INBOX", "-X", "EXAMINE INBOX", *extra)
            assert b"20 EXISTS" in out and b"UIDVALIDITY" in out, out
        rc, out, err = lib.curl("-u", "alice:secret", p + "/")               # no TLS: refused
        assert rc != 0 and b"INBOX" not in out, (rc, out, err)
        s, p = "pop3s://127.0.0.1:%d" % a.pop3s, "pop3://127.0.0.1:%d" % a.pop3
        for base, extra in ((s, ()), (p, ("--ssl-reqd",))):
            out = curl_mail(S, base + "/", *extra)                     # LIST
            lines = out.split(b"\r\n")[:-1]
            assert [int(l.split()[0]) for l in lines] == list(range(1, 21)), out
            for i in (1, 2, 3, 9):
                got = curl_mail(S, base + "/%d" % i, *extra)           # RETR
                assert stored_ok(got, MSGS[i - 1][2]), (i, got[:200])
                assert len(got) == int(lines[i - 1].split()[1])
            out = curl_mail(S, base + "/", "-X", "UIDL", *extra)
            assert len(out.split(b"\r\n")) == 21, out


# ---- fetchmail -------------------------------------------------------------

MDA = r'''import os, sys, time
d = sys.argv[1]
data = sys.stdin.buffer.read()
n = len(os.listdir(d))
open(os.path.join(d, "%03d" % n), "wb").write(data)
'''


def run_fetchmail(S, proto, port, ssl_args, out):
    home = tempfile.mkdtemp(prefix="fetchmail-")
    os.makedirs(out, exist_ok=True)
    mda = os.path.join(home, "mda.py")
    open(mda, "w").write(MDA)
    rc_file = os.path.join(home, "rc")
    with open(rc_file, "w") as f:
        f.write('poll 127.0.0.1 service %d protocol %s user "alice" password "secret" '
                'is "me" here %s sslcommonname localhost keep fetchall mda "/usr/bin/python3 %s %s"\n'
                % (port, proto, ssl_args, mda, out))
    os.chmod(rc_file, 0o600)
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    p = subprocess.run(["fetchmail", "-f", rc_file, "--nodetach", "--invisible", "-v",
                        "--sslcertck", "--sslcertfile", os.path.join(S.site, ".atto", "cert.pem")],
                       env=env, capture_output=True, timeout=60)
    shutil.rmtree(home, ignore_errors=True)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def check_fetched(out):
    got = [open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out))]
    assert len(got) == 20, (len(got), sorted(os.listdir(out)))
    for (frm, subject, raw), g in zip(MSGS, got):
        assert norm(g).endswith(norm(raw)), (subject, g[:300])


def test_fetchmail_imap_and_pop3():
    with Server() as S:
        cases = (("IMAP", S.a.imaps, "ssl"), ("IMAP", S.a.imap, "sslproto tls1.2+"),
                 ("POP3", S.a.pop3s, "ssl"), ("POP3", S.a.pop3, "sslproto tls1.2+"))
        for proto, port, sslarg in cases:
            out = tempfile.mkdtemp(prefix="fetched-")
            rc, log = run_fetchmail(S, proto, port, sslarg, out)
            assert rc == 0, (proto, port, rc, log[-3000:])
            assert "STARTTLS" in log or "STLS" in log or sslarg == "ssl", log[-2000:]
            check_fetched(out)
            shutil.rmtree(out)
        # keep: everything is still there
        m = imaps(S.a, S.site)
        assert m.select("INBOX")[1] == [b"20"]
        m.logout()


# ---- mutt ------------------------------------------------------------------

def mutt_rc(S, home):
    rc = os.path.join(home, "muttrc")
    with open(rc, "w") as f:
        f.write("\n".join([
            "set imap_user=alice", "set imap_pass=secret",
            "set certificate_file=%s" % os.path.join(S.site, ".atto", "cert.pem"),
            "set ssl_verify_host=yes", "set ssl_starttls=yes", "set ssl_force_tls=yes",
            "set folder=imaps://127.0.0.1:%d/" % S.a.imaps, "set spoolfile=+INBOX",
            "set record=+Sent", "set copy=yes", "set sendmail=/bin/true",
            "set from=alice@example.test", "set header_cache=", "set message_cachedir=",
            "set wait_key=no", "set pipe_split=yes", "set pipe_decode=no",
            'set pipe_sep="\\n--MUTT-SPLIT--\\n"', "set quit=yes", "set delete=yes",
            "set confirmappend=no", "set confirmcreate=no", "set move=no", "set mark_old=no", ""]))
    return rc


def mutt_tty(args, env, timeout=40):
    """Run mutt on a pseudo-terminal until it exits; return its exit status."""
    import pty, select
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe("mutt", ["mutt"] + args, env)
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                if not os.read(fd, 65536):
                    break
            except OSError:
                break
    else:
        os.kill(pid, 9)
    os.close(fd)
    return os.waitpid(pid, 0)[1]


def test_mutt_reads_flags_deletes_and_saves_sent():
    with Server() as S:
        home = tempfile.mkdtemp(prefix="mutt-")
        env = dict(os.environ, HOME=home, TERM="vt100")
        rc = mutt_rc(S, home)
        # batch send: the Fcc copy is APPENDed to Sent over IMAPS (created on the way)
        p = subprocess.run(["mutt", "-n", "-F", rc, "-s", "from mutt", "bob@example.org"],
                           input=b"sent by mutt\n", env=env, capture_output=True, timeout=30)
        assert p.returncode == 0, (p.stdout, p.stderr)
        # interactive session on a pty: pipe every message out, flag the first, delete Note 20
        out = os.path.join(home, "piped")
        keys = ("<tag-pattern>~A<enter><tag-prefix><pipe-entry>cat >> %s<enter>"
                "<untag-pattern>~A<enter><first-entry><flag-message>"
                "<delete-pattern>~s 'Note 20'<enter><sync-mailbox><quit>" % out)
        st = mutt_tty(["-n", "-F", rc, "-f", "imaps://127.0.0.1:%d/INBOX" % S.a.imaps,
                       "-e", 'push "%s"' % keys], env)
        assert st == 0, st
        got = open(out, "rb").read().split(b"\n--MUTT-SPLIT--\n")
        got = [g for g in got if g.strip()]
        assert len(got) == 20, len(got)
        for (frm, subject, raw), g in zip(MSGS, got):
            assert norm(g).rstrip(b"\n").endswith(norm(raw).rstrip(b"\n")), (subject, g[:300])
        m = imaps(S.a, S.site)
        ok(m.select("INBOX"))
        assert search(m, "ALL") == list(range(1, 20))
        assert search(m, "SUBJECT", '"Note 20"') == [] and uid_search(m, "FLAGGED") == [1]
        ok(m.select("Sent"))
        body = fetch_map(ok(m.fetch("1", "BODY.PEEK[]")))[1]["BODY[]"]
        assert b"Subject: from mutt" in body and body.endswith(b"\r\n\r\nsent by mutt\r\n"), body
        m.logout()
        # again over STARTTLS on the plain port (ssl_force_tls: no login in the clear)
        out2 = os.path.join(home, "piped2")
        keys = "<tag-pattern>~A<enter><tag-prefix><pipe-entry>cat >> %s<enter><quit>" % out2
        st = mutt_tty(["-n", "-F", rc, "-f", "imap://127.0.0.1:%d/INBOX" % S.a.imap,
                       "-e", 'push "%s"' % keys], env)
        assert st == 0, st
        got2 = [g for g in open(out2, "rb").read().split(b"\n--MUTT-SPLIT--\n") if g.strip()]
        assert got2 == got[:19], len(got2)
        shutil.rmtree(home, ignore_errors=True)


# ---- bad input over raw sockets -----------------------------------------------

class Raw:
    """A plain IMAP connection (plaintext login allowed on loopback)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")
        assert self.f.readline().startswith(b"* OK")

    def cmd(self, tag, text):
        self.s.sendall(tag + b" " + text + b"\r\n")
        return self.until(tag)

    def until(self, tag):
        lines = []
        while True:
            line = self.f.readline()
            assert line, ("closed", lines)
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def close(self):
        self.s.close()


def test_bad_input_over_raw_sockets():
    with Server(files=PLAIN_SITE, enable=("http", "smtp", "imap")) as S:
        port = S.a.imap
        watcher = Raw(port)                               # keeps being served throughout
        assert watcher.cmd(b"w0", b"LOGIN alice secret")[-1].startswith(b"w0 OK")
        assert watcher.cmd(b"w1", b"SELECT INBOX")[-1].startswith(b"w1 OK")

        def alive(tag):
            assert watcher.cmd(tag, b"NOOP")[-1].startswith(tag + b" OK"), "watcher not served"

        r = Raw(port)
        # wrong state: everything that needs a login or a mailbox
        for i, c in enumerate((b"SELECT INBOX", b"FETCH 1 FLAGS", b"LIST \"\" *", b"IDLE",
                               b"APPEND INBOX {3+}\r\nabc", b"UID FETCH 1 FLAGS")):
            out = r.cmd(b"s%d" % i, c)
            assert out[-1].startswith(b"s%d BAD" % i), (c, out)
        assert r.cmd(b"u1", b"FROBNICATE now")[-1].startswith(b"u1 BAD")
        assert r.cmd(b"u2", b"")[-1].startswith(b"u2 BAD")
        assert r.cmd(b"l", b"LOGIN alice secret")[-1].startswith(b"l OK")
        for i, c in enumerate((b"FETCH 1 FLAGS", b"STORE 1 +FLAGS (\\Seen)", b"EXPUNGE", b"CLOSE")):
            out = r.cmd(b"n%d" % i, c)
            assert out[-1].startswith(b"n%d BAD" % i), (c, out)          # not selected
        assert r.cmd(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
        assert r.cmd(b"st", b"STARTTLS")[-1].startswith(b"st BAD")    # only before login
        # unbalanced parentheses, bad syntax
        for i, c in enumerate((b"FETCH 1 (FLAGS", b"FETCH 1 FLAGS)", b"FETCH 1 ((FLAGS)",
                               b"SEARCH (FROM bob", b"SEARCH FROM", b"STORE 1 +FLAGS (\\Seen",
                               b"FETCH 1 BODY[HEADER.FIELDS (SUBJECT]", b"FETCH 1 BODY[1.2.x]",
                               b"FETCH 1 BODY[]<5.>", b"FETCH 0 FLAGS", b"FETCH 1:x FLAGS",
                               b"FETCH 1 \"FLAGS", b"COPY 1", b"SEARCH OR FROM x",
                               b"FETCH 1 (" + b"(" * 100 + b")" * 100 + b")")):
            out = r.cmd(b"p%d" % i, c)
            assert out[-1].startswith(b"p%d BAD" % i), (c, out)
        alive(b"w2")
        # sequence sets: huge but bounded
        t = time.time()
        out = r.cmd(b"q1", b"UID FETCH 1:4294967295 (FLAGS)")
        assert out[-1].startswith(b"q1 OK") and len(out) == 21, out[-3:]
        out = r.cmd(b"q2", b"UID SEARCH UID 1:4294967295")
        assert out[0] == b"* SEARCH " + b" ".join(b"%d" % i for i in range(1, 21)) + b"\r\n", out
        out = r.cmd(b"q3", b"FETCH 1:4294967295 (FLAGS)")
        assert out[-1].startswith(b"q3 BAD"), out[-3:]                 # beyond the mailbox
        out = r.cmd(b"q4", b"FETCH 1:4294967296 (FLAGS)")
        assert out[-1].startswith(b"q4 BAD"), out[-3:]                 # not a number
        out = r.cmd(b"q5", b"UID FETCH " + b",".join(b"%d" % i for i in range(1, 8000)) + b" UID")
        assert out[-1].startswith(b"q5 OK") and len(out) == 21, out[-3:]
        assert time.time() - t < 5, "sequence sets took too long"
        # literals: huge (refused before "+"), negative, malformed
        r.s.sendall(b"h1 APPEND INBOX {999999999}\r\n")
        line = r.f.readline()
        assert line.startswith(b"h1 NO") and b"TOOBIG" in line, line
        assert r.cmd(b"h2", b"APPEND INBOX {-5}")[-1].startswith(b"h2 BAD")
        assert r.cmd(b"h3", b"APPEND INBOX {5x}")[-1].startswith(b"h3 BAD")
        assert r.cmd(b"h4", b"APPEND INBOX {99999999999999999999999}")[-1].split()[1] in (b"BAD", b"NO")
        r.s.sendall(b"h5 LOGIN {999999999+}\r\n")
        rest = r.f.read()                                               # BAD [TOOBIG], then closed
        assert rest.startswith(b"h5 BAD") and b"TOOBIG" in rest, rest
        r.close()
        alive(b"w3")
        # a client that vanishes mid-APPEND leaves nothing behind
        r = Raw(port)
        assert r.cmd(b"l", b"LOGIN alice secret")[-1].startswith(b"l OK")
        r.s.sendall(b"a1 APPEND INBOX (\\Seen) {10000}\r\n")
        assert r.f.readline().startswith(b"+ ")
        r.s.sendall(b"Subject: half\r\n\r\n" + b"x" * 4000)
        time.sleep(0.3)
        r.s.close()
        r = Raw(port)
        assert r.cmd(b"l", b"LOGIN alice secret")[-1].startswith(b"l OK")
        r.s.sendall(b"a2 APPEND INBOX {10+}\r\nSubject: ")             # LITERAL+, cut short
        time.sleep(0.3)
        r.s.close()
        time.sleep(0.3)
        out = watcher.cmd(b"w4", b"STATUS INBOX (MESSAGES UIDNEXT)")
        assert b"(MESSAGES 20 UIDNEXT 21)" in out[0], out
        home = os.path.join(S.site, "mail", "alice")
        assert os.listdir(os.path.join(home, "tmp")) == [] and len(os.listdir(os.path.join(home, "new"))) + \
            len(os.listdir(os.path.join(home, "cur"))) == 20
        # a line longer than the command limit is refused, and the connection survives or closes cleanly
        r = Raw(port)
        r.s.sendall(b"big NOOP " + b"x" * 100000 + b"\r\nafter NOOP\r\n")
        tail = b""
        try:
            while b"after OK" not in tail:
                chunk = r.s.recv(65536)
                if not chunk:
                    break
                tail += chunk
        except OSError:
            pass
        assert b"big BAD" in tail or b"BYE" in tail or tail == b"", tail[:200]
        r.close()
        alive(b"w5")
        # a normal APPEND still works after all that
        out = watcher.cmd(b"w6", b"APPEND INBOX {16+}\r\nSubject: ok\r\n\r\nx")
        assert out[-1].startswith(b"w6 OK") and b"APPENDUID" in out[-1], out
        assert watcher.cmd(b"w7", b"LOGOUT")[-1].startswith(b"w7 OK")
        watcher.close()
        assert S.a.alive()


def test_pop3_bad_input():
    with Server(files=PLAIN_SITE, enable=("http", "smtp", "pop3")) as S:
        out = lib.raw(S.a.pop3, b"STAT\r\nRETR 1\r\nFOO\r\nUSER\r\nPASS x\r\nUSER alice\r\n"
                      b"PASS wrong\r\nUSER alice\r\nPASS secret\r\nRETR 0\r\nRETR 21\r\nRETR x\r\n"
                      b"TOP 1\r\nDELE 99\r\nLIST 4294967296\r\n" + b"NOOP " + b"y" * 3000 + b"\r\n"
                      b"STAT\r\nQUIT\r\n")
        lines = out.split(b"\r\n")
        assert lines[0].startswith(b"+OK"), lines
        errs = [l for l in lines if l.startswith(b"-ERR")]
        assert len(errs) == 13, lines                              # every bad one refused
        assert b"+OK 20 " in out and lines[-2].startswith(b"+OK"), lines[-4:]
        p = poplib.POP3("127.0.0.1", S.a.pop3, timeout=10)
        p.user("alice"), p.pass_("secret")
        assert p.stat()[0] == 20
        p.quit()


lib.main(globals())
