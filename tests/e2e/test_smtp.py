"""SMTP end to end (SPEC §4, issue 7): real clients — swaks, Python's smtplib,
curl — against a running atto; bad input on raw sockets; durability with a
client leaving mid-DATA, kill -9 under 20 concurrent senders and a queue that
outlives a restart; relay through a smarthost (a small SMTP sink in this
file); and the rules of the sites/mailsite example, run on a copy of it."""
import email, glob, os, random, re, shutil, signal, smtplib, socket, ssl
import subprocess, sys, tempfile, threading, time, base64, imaplib
import lib

DOMAIN = "example.test"
MAX_SIZE = 200000


class Sink:
    """A minimal SMTP server on 127.0.0.1 (a smarthost stand-in). Every
    message it accepts is kept as (mail_from, [rcpt], data bytes)."""

    def __init__(self, port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.messages = []
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(20)
        f = c.makefile("rb")
        try:
            c.sendall(b"220 sink ESMTP\r\n")
            frm, rcpts = None, []
            for line in f:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    c.sendall(b"250-sink\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n")
                elif verb == b"HELO" or verb == b"NOOP":
                    c.sendall(b"250 ok\r\n")
                elif verb == b"MAIL":
                    frm, rcpts = re.search(rb"<(.*?)>", line).group(1).decode(), []
                    c.sendall(b"250 2.1.0 ok\r\n")
                elif verb == b"RCPT":
                    rcpts.append(re.search(rb"<(.*?)>", line).group(1).decode())
                    c.sendall(b"250 2.1.5 ok\r\n")
                elif verb == b"DATA":
                    c.sendall(b"354 go on\r\n")
                    body = []
                    for dl in f:
                        if dl == b".\r\n":
                            break
                        body.append(dl[1:] if dl.startswith(b".") else dl)
                    with self.cond:
                        self.messages.append((frm, rcpts, b"".join(body)))
                        self.cond.notify_all()
                    c.sendall(b"250 2.0.0 queued\r\n")
                elif verb == b"RSET":
                    frm, rcpts = None, []
                    c.sendall(b"250 ok\r\n")
                elif verb == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"500 what\r\n")
        except OSError:
            pass
        finally:
            c.close()

    def wait_for(self, pred, timeout=20.0):
        end = time.time() + timeout
        with self.cond:
            while True:
                hit = [m for m in self.messages if pred(m)]
                if hit or time.time() >= end:
                    return hit
                self.cond.wait(max(0.05, end - time.time()))

    def close(self):
        self.closed = True
        self.sock.close()


def mail_lua(smarthost_port, plaintext_auth=False, max_size=MAX_SIZE):
    return ('mail.domains{ "%s" }\n'
            'mail.smarthost{ host = "127.0.0.1", port = %d }\n'
            'mail.options{ max_message_size = %d, plaintext_auth = %s }\n'
            % (DOMAIN, smarthost_port, max_size, "true" if plaintext_auth else "false"))


def make_site(smarthost_port, **kw):
    d = lib.tmp_site({"mail.lua": mail_lua(smarthost_port, **kw)})
    for user, pw in (("alice", "secret"), ("bob", "secret-bob")):
        p = subprocess.run([lib.ATTO, "passwd", d, user], input=pw.encode() + b"\n",
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
    return d


SINK = Sink()
SITE = make_site(SINK.port)
ENV = {"ATTO_QUEUE_FAST": "1"}
atto = None


# ---- helpers -----------------------------------------------------------

def maildir(user, folder="", site=None, sub=("new", "cur")):
    base = os.path.join(site or SITE, "mail", user, ("." + folder) if folder else "")
    out = []
    for s in sub:
        out += glob.glob(os.path.join(base, s, "*"))
    return sorted(out)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def wait_new(user, before, n=1, site=None, timeout=10.0):
    """Files in user's INBOX that were not in `before`, once there are n."""
    end = time.time() + timeout
    while True:
        got = [p for p in maildir(user, site=site) if p not in before]
        if len(got) >= n or time.time() >= end:
            return got
        time.sleep(0.05)


def tls_context(site=None):
    ctx = ssl.create_default_context(cafile=os.path.join(site or SITE, ".atto", "cert.pem"))
    return ctx


def swaks(*args, port=None, timeout=60):
    p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port or atto.smtp)] + list(args),
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


class Raw:
    """A line-oriented raw SMTP client for the cases real clients avoid."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.s.makefile("rb")
        self.greeting = self.reply()

    def reply(self):
        """One complete (possibly multi-line) reply as (code, text)."""
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                return (None, b"".join(lines))
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return (int(line[:3]), b"".join(lines))

    def cmd(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())
        return self.reply()

    def close(self):
        try:
            self.f.close()
            self.s.close()
        except OSError:
            pass


def message(subject, body="Hello.\r\n", frm="carol@other.test", to="alice@example.test", extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@test>\r\n%s\r\n%s"
            % (frm, to, subject, subject.replace(" ", "-"), extra, body))


# ---- capabilities, TLS, AUTH -------------------------------------------

def test_ehlo_capabilities():
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=10) as s:
        code, _ = s.ehlo("client.test")
        assert code == 250
        f = s.esmtp_features
        assert f.get("size") == str(MAX_SIZE), f
        for ext in ("8bitmime", "pipelining", "enhancedstatuscodes", "smtputf8", "starttls", "help"):
            assert ext in f, (ext, f)
        assert "auth" not in f, "AUTH advertised before TLS with plaintext_auth off: %r" % f
        s.starttls(context=tls_context())
        s.ehlo("client.test")
        f = s.esmtp_features
        assert "starttls" not in f, f
        assert f.get("auth", "").split() == ["PLAIN", "LOGIN"], f


def test_swaks_plain_delivery():
    before = maildir("alice")
    rc, out = swaks("--from", "dave@other.test", "--to", "alice@example.test",
                    "--header", "Subject: swaks plain", "--body", "plain body")
    assert rc == 0, out[-1500:]
    got = wait_new("alice", before)
    assert len(got) == 1, got
    data = read(got[0])
    assert data.startswith(b"Received: from "), data[:300]
    assert b"with ESMTP id" in data and b"for <alice@example.test>" in data, data[:300]
    assert b"Subject: swaks plain" in data and b"plain body" in data


def swaks_submission(mech, subject):
    before = maildir("bob")
    rc, out = swaks("--tls", "--tls-verify", "--tls-ca-path", os.path.join(SITE, ".atto", "cert.pem"),
                    "-a", mech, "-au", "alice", "-ap", "secret",
                    "--from", "alice@example.test", "--to", "bob@example.test",
                    "--header", "Subject: " + subject, port=atto.submission)
    assert rc == 0, out[-2000:]
    assert "235 2.7.0" in out, out[-2000:]
    got = wait_new("bob", before)
    assert len(got) == 1, got
    data = read(got[0])
    assert b"with ESMTPSA id" in data, data[:300]   # TLS and AUTH both noted
    assert ("Subject: " + subject).encode() in data


def test_swaks_starttls_auth_plain():
    swaks_submission("PLAIN", "swaks plain auth")


def test_swaks_starttls_auth_login():
    swaks_submission("LOGIN", "swaks login auth")


def test_swaks_auth_refused_before_tls():
    # swaks sees no AUTH advertised without TLS and gives up; nothing is sent.
    before = maildir("bob")
    rc, out = swaks("-a", "PLAIN", "-au", "alice", "-ap", "secret",
                    "--from", "alice@example.test", "--to", "bob@example.test", port=atto.submission)
    assert rc != 0, out[-1500:]
    assert maildir("bob") == before
    # A client that tries anyway gets 538, for both mechanisms.
    r = Raw(atto.submission)
    try:
        assert r.cmd("EHLO c\r\n")[0] == 250
        code, text = r.cmd("AUTH PLAIN %s\r\n" % base64.b64encode(b"\0alice\0secret").decode())
        assert code == 538 and b"5.7.11" in text, (code, text)
        code, text = r.cmd("AUTH LOGIN\r\n")
        assert code == 538, (code, text)
        code, text = r.cmd("MAIL FROM:<alice@example.test>\r\n")
        assert code == 530 and b"5.7.0" in text, (code, text)
    finally:
        r.close()


def test_starttls_drops_pipelined_commands():
    # RFC 3207 4.2: a command sent in the same packet as STARTTLS must not be
    # run after the handshake (the classic STARTTLS command injection).
    r = Raw(atto.smtp)
    try:
        r.cmd("EHLO c\r\n")
        code, _ = r.cmd("STARTTLS\r\nHELP\r\n")
        assert code == 220
        t = tls_context().wrap_socket(r.s, server_hostname="localhost")
        tf = t.makefile("rb")
        t.sendall(b"NOOP\r\n")
        line = tf.readline()
        assert line.startswith(b"250 "), line      # the HELP did not survive the handshake
        t.sendall(b"EHLO c\r\n")
        lines = []
        while not lines or lines[-1][3:4] == b"-":
            lines.append(tf.readline())
        assert b"AUTH PLAIN LOGIN" in b"".join(lines) and b"STARTTLS" not in b"".join(lines), lines
        tf.close()
        t.close()
    finally:
        r.close()


def test_failed_auth_is_delayed_and_limited():
    r = Raw(atto.submission)
    try:
        r.cmd("EHLO c\r\n")
        code, _ = r.cmd("STARTTLS\r\n")
        assert code == 220
        t = tls_context().wrap_socket(r.s, server_hostname="localhost")
        tf = t.makefile("rb")
        bad = base64.b64encode(b"\0alice\0wrong").decode()
        t.sendall(("EHLO c\r\nAUTH PLAIN %s\r\nNOOP\r\n" % bad).encode())
        t0 = time.time()
        lines = []
        while len([l for l in lines if l[3:4] == b" "]) < 3:
            lines.append(tf.readline())
        finals = [l for l in lines if l[3:4] == b" "]
        assert finals[1].startswith(b"535 5.7.8") and finals[2].startswith(b"250"), finals
        assert time.time() - t0 >= 0.8, "the 535 came without a delay"
        for _ in range(2):
            t.sendall(("AUTH PLAIN %s\r\n" % bad).encode())
            assert tf.readline().startswith(b"535")
        assert tf.readline().startswith(b"421 4.7.0"), "three failures did not close"
        tf.close()
        t.close()
    finally:
        r.close()


def test_smtps_implicit_tls_login():
    with smtplib.SMTP_SSL("127.0.0.1", atto.smtps, timeout=10, context=tls_context()) as s:
        s.ehlo()
        assert "starttls" not in s.esmtp_features and "auth" in s.esmtp_features
        s.login("bob", "secret-bob")
        before = maildir("alice")
        s.sendmail("bob@example.test", ["alice@example.test"], message("over smtps", frm="bob@example.test"))
    got = wait_new("alice", before)
    assert len(got) == 1 and b"ESMTPSA" in read(got[0])[:300]


def test_delivery_failure_rolls_back_every_copy():
    # carl's Maildir cannot be made (a plain file is in the way): the client
    # gets 451 and alice's copy, already durable, is taken back.
    p = subprocess.run([lib.ATTO, "passwd", SITE, "carl"], input=b"pw\n", capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    os.makedirs(os.path.join(SITE, "mail"), exist_ok=True)
    with open(os.path.join(SITE, "mail", "carl"), "w") as f:
        f.write("not a folder")
    before = maildir("alice")
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=10) as s:
        try:
            s.sendmail("x@other.test", ["alice@example.test", "carl@example.test"], message("rollback"))
            raise AssertionError("accepted although a copy failed")
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 451 and b"4.3.0" in e.smtp_error, e
    assert maildir("alice") == before
    assert maildir("alice", sub=("tmp",)) == []
    assert "delivery failed" in atto.output()


def test_swaks_pipeline():
    before = maildir("alice")
    rc, out = swaks("--pipeline", "--from", "erin@other.test", "--to", "alice@example.test",
                    "--header", "Subject: swaks pipelined")
    assert rc == 0, out[-1500:]
    assert "PIPELINING" in out
    got = wait_new("alice", before)
    assert len(got) == 1 and b"Subject: swaks pipelined" in read(got[0])


def test_pipelined_commands_answered_in_order():
    r = Raw(atto.smtp)
    try:
        r.s.sendall(b"EHLO c\r\nMAIL FROM:<a@other.test>\r\nRCPT TO:<alice@example.test>\r\n"
                    b"RCPT TO:<nobody@example.test>\r\nDATA\r\n")
        codes = [r.reply()[0] for _ in range(5)]
        assert codes == [250, 250, 250, 550, 354], codes
        code, text = r.cmd("Subject: pipelined raw\r\n\r\nx\r\n.\r\nQUIT\r\n")
        assert code == 250 and b"queued as" in text, text
        assert r.reply()[0] == 221
    finally:
        r.close()


def test_8bitmime_utf8_body():
    body = "Grüße aus Köln — 東京 ✓\r\n".encode("utf-8")
    msg = (b"From: f@other.test\r\nTo: alice@example.test\r\nSubject: eight bit\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
    before = maildir("alice")
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=10) as s:
        s.ehlo()
        assert s.has_extn("8bitmime")
        s.sendmail("f@other.test", ["alice@example.test"], msg, mail_options=["BODY=8BITMIME"])
    got = wait_new("alice", before)
    assert len(got) == 1 and body in read(got[0]), got
    # swaks with a non-ASCII body: the bytes arrive untouched.
    before = maildir("alice")
    rc, out = swaks("--from", "g@other.test", "--to", "alice@example.test",
                    "--header", "Subject: swaks utf8", "--body", "naïve café ☕")
    assert rc == 0, out[-1500:]
    got = wait_new("alice", before)
    assert len(got) == 1 and "naïve café ☕".encode() in read(got[0])


def test_smtputf8_address():
    msg = "From: jürgen@other.test\r\nTo: alice@example.test\r\nSubject: utf8 sender\r\n\r\nHallo\r\n".encode()
    before = maildir("alice")
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=10) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        s.sendmail("jürgen@other.test", ["alice@example.test"], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    got = wait_new("alice", before)
    assert len(got) == 1 and "jürgen@other.test".encode() in read(got[0])
    r = Raw(atto.smtp)   # without the SMTPUTF8 parameter the address is refused
    try:
        r.cmd("EHLO c\r\n")
        code, text = r.cmd("MAIL FROM:<jürgen@other.test>\r\n".encode())
        assert code == 553 and b"5.6.7" in text, (code, text)
    finally:
        r.close()


def test_smtplib_starttls_login_submission():
    before = maildir("bob")
    with smtplib.SMTP("127.0.0.1", atto.submission, timeout=10) as s:
        s.ehlo()
        s.starttls(context=tls_context())
        s.ehlo()
        try:
            s.login("alice", "wrong password")
            raise AssertionError("a wrong password logged in")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e
        s.login("alice", "secret")
        s.sendmail("alice@example.test", ["bob@example.test"], message("smtplib submission", to="bob@example.test"))
    got = wait_new("bob", before)
    assert len(got) == 1 and b"Subject: smtplib submission" in read(got[0])


def test_postmaster_always_accepted():
    # RFC 5321 4.5.1: <postmaster> and postmaster@<local domain>, with no such user.
    r = Raw(atto.smtp)
    try:
        r.cmd("EHLO c\r\n")
        assert r.cmd("MAIL FROM:<>\r\n")[0] == 250
        assert r.cmd("RCPT TO:<Postmaster>\r\n")[0] == 250
        assert r.cmd("RCPT TO:<PostMaster@Example.Test>\r\n")[0] == 250
        assert r.cmd("RCPT TO:<nobody@example.test>\r\n")[0] == 550
        assert r.cmd("DATA\r\n")[0] == 354
        assert r.cmd("Subject: to the postmaster\r\n\r\nhi\r\n.\r\n")[0] == 250
    finally:
        r.close()
    got = maildir("postmaster")   # two names of one mailbox: one copy
    assert len(got) == 1 and b"to the postmaster" in read(got[0]), got


def test_duplicate_recipients_get_one_copy():
    before = maildir("bob")
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=10) as s:
        s.sendmail("x@other.test", ["bob@example.test", "BOB@example.test", "bob@EXAMPLE.TEST"], message("once"))
    got = wait_new("bob", before)
    time.sleep(0.2)
    assert len(maildir("bob")) == len(before) + 1, got


def test_relay_refused_without_auth():
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=10) as s:
        s.ehlo()
        s.mail("carol@other.test")
        code, text = s.rcpt("someone@far.test")
        assert code == 550 and b"5.7.1" in text, (code, text)
        code, text = s.rcpt("alice@example.test")   # local mail still fine
        assert code == 250


def test_relay_with_auth_goes_through_queue_to_smarthost():
    with smtplib.SMTP("127.0.0.1", atto.submission, timeout=10) as s:
        s.starttls(context=tls_context())
        s.login("alice", "secret")
        refused = s.sendmail("alice@example.test", ["far@remote.test", "bob@example.test"],
                             message("relay via smarthost", frm="alice@example.test", to="far@remote.test",
                                     body=".dotted first line\r\nend\r\n"))
        assert refused == {}, refused
    hit = SINK.wait_for(lambda m: b"relay via smarthost" in m[2])
    assert len(hit) == 1, SINK.messages
    frm, rcpts, data = hit[0]
    assert frm == "alice@example.test" and rcpts == ["far@remote.test"], (frm, rcpts)
    assert data.startswith(b"Received: from ") and b"ESMTPSA" in data[:300], data[:300]
    assert b"\r\n.dotted first line\r\n" in data, data   # stuffed by atto, unstuffed by the sink
    end = time.time() + 5
    while time.time() < end and glob.glob(os.path.join(SITE, ".atto", "queue", "*.msg")):
        time.sleep(0.1)
    assert not glob.glob(os.path.join(SITE, ".atto", "queue", "*.msg")), "queue file left after delivery"


def test_curl_smtp():
    before = maildir("alice")
    with tempfile.NamedTemporaryFile("wb", suffix=".eml", delete=False) as f:
        f.write(message("via curl", body="curl body\r\n..two dots\r\n").encode())
    try:
        rc, out, err = lib.curl("smtp://127.0.0.1:%d" % atto.smtp, "--mail-from", "curl@other.test",
                                "--mail-rcpt", "alice@example.test", "-T", f.name)
        assert rc == 0, err
    finally:
        os.unlink(f.name)
    got = wait_new("alice", before)
    assert len(got) == 1, got
    data = read(got[0])
    assert b"Subject: via curl" in data and b"\r\n..two dots\r\n" in data, data


# ---- commands and bad input ----------------------------------------------

def test_help_vrfy_noop_rset():
    r = Raw(atto.smtp)
    try:
        assert r.greeting[0] == 220 and b"ESMTP atto" in r.greeting[1]
        code, text = r.cmd("HELP\r\n")
        assert code == 214 and all(v in text for v in (b"EHLO", b"MAIL FROM", b"RCPT TO", b"DATA", b"VRFY", b"QUIT")), text
        code, text = r.cmd("HELP MAIL\r\n")
        assert code == 214 and b"SIZE=" in text, text
        code, text = r.cmd("VRFY alice\r\n")
        assert code == 252 and b"2.5.0" in text, text
        assert r.cmd("NOOP\r\n")[0] == 250
        assert r.cmd("EHLO c\r\n")[0] == 250
        assert r.cmd("MAIL FROM:<a@other.test>\r\n")[0] == 250
        assert r.cmd("RCPT TO:<alice@example.test>\r\n")[0] == 250
        assert r.cmd("RSET\r\n")[0] == 250
        code, text = r.cmd("DATA\r\n")     # RSET forgot the transaction
        assert code == 503, (code, text)
        code, text = r.cmd("EXPN staff\r\n")
        assert code == 502, (code, text)
        assert r.cmd("QUIT\r\n")[0] == 221
    finally:
        r.close()


def test_commands_out_of_order():
    r = Raw(atto.smtp)
    try:
        code, text = r.cmd("MAIL FROM:<a@other.test>\r\n")
        assert code == 503 and b"5.5.1" in text, text          # before HELO
        r.cmd("EHLO c\r\n")
        assert r.cmd("RCPT TO:<alice@example.test>\r\n")[0] == 503   # before MAIL
        assert r.cmd("DATA\r\n")[0] == 503                             # before MAIL
        assert r.cmd("MAIL FROM:<a@other.test>\r\n")[0] == 250
        code, text = r.cmd("MAIL FROM:<b@other.test>\r\n")
        assert code == 503 and b"Nested" in text, text
        code, text = r.cmd("DATA\r\n")                               # no recipient
        assert code == 554 and b"5.5.1" in text, text
        code, text = r.cmd("FROB\r\n")
        assert code == 500 and b"5.5.2" in text, text
        assert r.cmd("NOOP\r\n")[0] == 250                             # still in business
    finally:
        r.close()


def test_long_line_500():
    r = Raw(atto.smtp)
    try:
        r.cmd("EHLO c\r\n")
        code, text = r.cmd(b"NOOP " + b"x" * 10000 + b"\r\n")
        assert code == 500 and b"5.5.6" in text, (code, text)
        assert r.cmd("NOOP\r\n")[0] == 250     # the rest of the long line was dropped
        assert r.cmd("MAIL FROM:<a@other.test>\r\n")[0] == 250
        assert r.cmd("RCPT TO:<alice@example.test>\r\n")[0] == 250
        assert r.cmd("DATA\r\n")[0] == 354
        code, text = r.cmd(b"Subject: long\r\n\r\n" + b"y" * 10000 + b"\r\n.\r\n")
        assert code == 500 and b"5.5.6" in text, (code, text)   # a text line over 1000 bytes
    finally:
        r.close()


def test_binary_garbage():
    rnd = random.Random(7)
    garbage = bytes(rnd.randrange(256) for _ in range(8192))
    out = lib.raw(atto.smtp, garbage + b"\r\n", timeout=5)
    lines = [l for l in out.split(b"\r\n") if l]
    assert lines and lines[0].startswith(b"220 "), out[:200]
    for l in lines[1:]:
        assert l[:1] in (b"5", b"4"), l          # only errors, never a 250
    # the server is still there for the next client
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=10) as s:
        assert s.noop()[0] == 250


def test_nul_and_bare_lf_in_data():
    r = Raw(atto.smtp)
    try:
        r.cmd("EHLO c\r\n")
        r.cmd("MAIL FROM:<a@other.test>\r\n")
        r.cmd("RCPT TO:<alice@example.test>\r\n")
        assert r.cmd("DATA\r\n")[0] == 354
        before = maildir("alice")
        code, text = r.cmd(b"Subject: smuggle\r\n\r\nx\n.\nMAIL FROM:<evil@x>\r\n.\r\n")
        assert code == 554 and b"5.6.0" in text, (code, text)
        assert maildir("alice") == before
    finally:
        r.close()


def test_body_larger_than_size_552():
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=20) as s:
        s.ehlo()
        code, text = s.mail("big@other.test", ["SIZE=%d" % (MAX_SIZE + 1)])
        assert code == 552 and b"5.3.4" in text, (code, text)
    # A client that does not declare SIZE: the body is read to its end, then refused.
    before = maildir("alice")
    r = Raw(atto.smtp, timeout=20)
    try:
        r.cmd("EHLO c\r\n")
        assert r.cmd("MAIL FROM:<big@other.test>\r\n")[0] == 250
        assert r.cmd("RCPT TO:<alice@example.test>\r\n")[0] == 250
        assert r.cmd("DATA\r\n")[0] == 354
        big = message("too big", body=("z" * 998 + "\r\n") * (MAX_SIZE // 1000 + 50)).encode()
        code, text = r.cmd(big + b".\r\n")
        assert code == 552 and b"5.3.4" in text, (code, text)
        assert maildir("alice") == before
        assert r.cmd("NOOP\r\n")[0] == 250     # the session goes on after the refusal
    finally:
        r.close()


def test_dot_stuffing_round_trip():
    body = ".starts with a dot\r\n..two dots\r\n.\r\n. a dot and a space\r\nend\r\n"
    before = maildir("alice")
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=10) as s:
        s.sendmail("d@other.test", ["alice@example.test"], message("dots", body=body))
    got = wait_new("alice", before)
    assert len(got) == 1
    data = read(got[0])
    assert data.endswith(b"\r\n\r\n" + body.encode()), data[-200:]


# ---- durability -----------------------------------------------------------

def test_disconnect_mid_data_delivers_nothing():
    before = maildir("bob")
    r = Raw(atto.smtp)
    r.cmd("EHLO c\r\n")
    r.cmd("MAIL FROM:<a@other.test>\r\n")
    r.cmd("RCPT TO:<bob@example.test>\r\n")
    assert r.cmd("DATA\r\n")[0] == 354
    r.s.sendall(b"Subject: half\r\n\r\n" + b"half a message\r\n" * 500)
    r.close()
    time.sleep(0.5)
    assert maildir("bob") == before
    assert maildir("bob", sub=("tmp",)) == [], maildir("bob", sub=("tmp",))
    assert "client left during DATA" in atto.output()


def subjects_in(paths):
    out = []
    for p in paths:
        m = re.search(rb"\r\nSubject: (k9-[0-9]+-[0-9]+)\r\n", read(p))
        out.append(m.group(1).decode() if m else None)
    return out


def test_kill9_under_load_keeps_every_acknowledged_message():
    sink = Sink()
    site = make_site(sink.port, plaintext_auth=True)
    a = lib.Atto(site, enable=("smtp",), env=ENV).start()
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def sender(t):
        n = 0
        while not stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", a.smtp, timeout=10) as s:
                    while not stop.is_set():
                        subj = "k9-%d-%d" % (t, n)
                        n += 1
                        s.sendmail("load@other.test", ["alice@example.test", "bob@example.test"],
                                   message(subj, body=("x" * 99 + "\r\n") * 20))
                        with lock:
                            acked.append(subj)
            except (OSError, smtplib.SMTPException):
                if not a.alive():
                    return
    threads = [threading.Thread(target=sender, args=(t,), daemon=True) for t in range(20)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    a.stop(check=False, sig=signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(15)
    with lock:
        acked_now = list(acked)
    assert len(acked_now) >= 20, "too few messages before the kill: %d" % len(acked_now)
    # restart on the same folder: it must start cleanly
    b = lib.Atto(site, enable=("smtp", "imap"), env=ENV).start()
    try:
        for user in ("alice", "bob"):
            subj = subjects_in(maildir(user, site=site))
            assert None not in subj, "a delivered file without its subject (partial?)"
            dup = set(x for x in subj if subj.count(x) > 1)
            assert not dup, "duplicated in %s: %s" % (user, sorted(dup)[:5])
            missing = set(acked_now) - set(subj)
            assert not missing, "acknowledged but not in %s/new: %s" % (user, sorted(missing)[:5])
            # tmp/ leftovers are never shown as mail: IMAP counts new/ + cur/ only
            im = imaplib.IMAP4("127.0.0.1", b.imap)
            im.login(user, "secret" if user == "alice" else "secret-bob")
            typ, data = im.select("INBOX", readonly=True)
            assert typ == "OK" and int(data[0]) == len(subj), (data, len(subj))
            im.logout()
        with smtplib.SMTP("127.0.0.1", b.smtp, timeout=10) as s:
            s.sendmail("x@other.test", ["alice@example.test"], message("after restart"))
        tmp_left = sum(len(maildir(u, site=site, sub=("tmp",))) for u in ("alice", "bob"))
        print("# kill -9: %d acknowledged, %d in alice's INBOX, %d left in tmp/"
              % (len(acked_now), len(maildir("alice", site=site)) - 1, tmp_left))
        b.stop()
        out = b.output()
        assert "rror" not in out, out[-2000:]
    finally:
        b.stop(check=False)
        sink.close()
        shutil.rmtree(site, ignore_errors=True)


def test_queue_survives_restart_until_smarthost_is_up():
    port = lib.free_port()                 # nothing listens there yet
    site = make_site(port)
    qdir = os.path.join(site, ".atto", "queue")
    a = lib.Atto(site, enable=("submission",), env=ENV).start()
    try:
        with smtplib.SMTP("127.0.0.1", a.submission, timeout=10) as s:
            s.starttls(context=tls_context(site))
            s.login("alice", "secret")
            s.sendmail("alice@example.test", ["far@remote.test"], message("queued while down", frm="alice@example.test"))
        files = glob.glob(os.path.join(qdir, "*.msg"))
        assert len(files) == 1, files
        end = time.time() + 4              # wait for one failed attempt (attempts counter moves)
        while time.time() < end and b"attempts 0000000000" in read(files[0]):
            time.sleep(0.05)
        assert b"attempts 0000000000" not in read(files[0]), read(files[0])[:120]
    finally:
        a.stop()
    files = glob.glob(os.path.join(qdir, "*.msg"))
    assert len(files) == 1 and b"far@remote.test" in read(files[0]), files
    sink = Sink(port)
    b = lib.Atto(site, enable=("submission",), env=ENV).start()
    try:
        hit = sink.wait_for(lambda m: b"queued while down" in m[2], timeout=15)
        assert len(hit) == 1 and hit[0][1] == ["far@remote.test"], (hit, b.output()[-1000:])
        end = time.time() + 5
        while time.time() < end and glob.glob(os.path.join(qdir, "*.msg")):
            time.sleep(0.1)
        assert not glob.glob(os.path.join(qdir, "*.msg"))
        assert maildir("alice", site=site) == [], "a bounce came back although the mail went out"
    finally:
        b.stop()
        sink.close()
        shutil.rmtree(site, ignore_errors=True)


# ---- the sites/mailsite example ------------------------------------------

def test_mailsite_rules():
    site = tempfile.mkdtemp(prefix="atto-mailsite-")
    shutil.rmtree(site)
    shutil.copytree(os.path.join(lib.ROOT, "sites", "mailsite"), site,
                    ignore=shutil.ignore_patterns("mail", ".atto"))
    m = lib.Atto(site, enable=("smtp", "submission"), env=ENV).start()
    try:
        def send(frm, to, subject, port=None):
            with smtplib.SMTP("127.0.0.1", port or m.smtp, timeout=10) as s:
                return s.sendmail(frm, to, message(subject, frm=frm, to=", ".join(to)))
        # unknown user: the rcpt_to rule's text
        try:
            send("carol@other.test", ["zed@example.test"], "hi")
            raise AssertionError("mail for an unknown user accepted")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["zed@example.test"]
            assert code == 550 and b"no such user at example.test" in text, (code, text)
        send("carol@other.test", ["postmaster@example.test"], "abuse report")
        assert len(maildir("postmaster", site=site)) == 1
        # 1. spam folder
        send("carol@other.test", ["alice@example.test"], "[SPAM] cheap watches")
        junk = maildir("alice", "Junk", site=site)
        assert len(junk) == 1 and b"cheap watches" in read(junk[0]), junk
        assert maildir("alice", site=site) == []
        assert os.path.exists(os.path.join(site, "mail", "alice", ".Junk", "maildirfolder"))
        # 2. forward: alice keeps her copy, bob gets one
        send("carol@other.test", ["alice@example.test"], "Invoice 42")
        a_in, b_in = maildir("alice", site=site), maildir("bob", site=site)
        assert len(a_in) == 1 and len(b_in) == 1, (a_in, b_in)
        for p in a_in + b_in:
            assert b"Subject: Invoice 42" in read(p) and b"X-Forwarded-To: bob@example.test" in read(p)
        # 3. auto-reply: from bob to a local sender, once a day
        send("alice@example.test", ["bob@example.test"], "lunch")
        send("alice@example.test", ["bob@example.test"], "lunch again")
        replies = [p for p in maildir("alice", site=site) if b"Auto-Submitted: auto-replied" in read(p)]
        assert len(replies) == 1, replies
        r = read(replies[0])
        assert b"Subject: Away until Monday: lunch" in r and b"From: <bob@example.test>" in r, r[:400]
        assert len(maildir("bob", site=site)) == 3   # the invoice and both lunches
        send("dave@other.test", ["bob@example.test"], "Invoice 43")   # forward to himself: one copy
        assert len(maildir("bob", site=site)) == 4
        # to a remote sender the reply is queued for the smarthost
        send("carol@other.test", ["bob@example.test"], "question")
        q = [read(p) for p in glob.glob(os.path.join(site, ".atto", "queue", "*.msg"))]
        assert any(b"to carol@other.test" in x and b"Away until Monday: question" in x for x in q), q
        # demo passwords from the README work on submission
        with smtplib.SMTP("127.0.0.1", m.submission, timeout=10) as s:
            s.starttls(context=tls_context(site))
            assert s.login("bob", "bob-demo")[0] == 235
        with smtplib.SMTP("127.0.0.1", m.submission, timeout=10) as s:
            s.starttls(context=tls_context(site))
            assert s.login("alice", "alice-demo")[0] == 235
    finally:
        m.stop()
        shutil.rmtree(site, ignore_errors=True)


if __name__ == "__main__":
    atto = lib.Atto(SITE, enable=("smtp", "submission", "smtps"), env=ENV).start()
    try:
        failed = lib.main(globals())
    finally:
        try:
            atto.stop()
        except AssertionError as e:
            print("FAIL server_exit: %s" % e)
            failed = 1
        SINK.close()
        shutil.rmtree(SITE, ignore_errors=True)
    sys.exit(1 if failed else 0)
