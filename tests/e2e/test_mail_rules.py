"""Mail rules end to end: a site's mail.lua (SPEC §5) driving the SMTP
server, exercised with Python's smtplib and swaks; atto.mail.send from a web
route lands in the outbound queue."""
import glob, os, smtplib, subprocess, time, socket
import lib

MAIL_LUA = r'''
mail.domains{ "example.test" }
mail.options{ plaintext_auth = true }
mail.on("connect", function(s)
  if s.remote_addr == "10.9.9.9" then s:reject(554, "5.7.1 Go away") end
end)
mail.on("mail_from", function(tx, from)
  if from == "spammer@bad.test" then return tx:reject(550, "5.7.1 Not from you") end
  if from == "later@slow.test" then return tx:defer(451, "4.7.1 Come back later") end
end)
mail.on("rcpt_to", function(tx, rcpt)
  if not rcpt.is_local then return end
  if rcpt.user == "sales" then return end
  if not mail.user_exists(rcpt.user) then return tx:reject(550, "5.1.1 No such user here") end
end)
mail.on("message", function(msg)
  local subject = msg:header("subject") or ""
  if subject:find("[SPAM]", 1, true) then return msg:fileinto("Junk") end
  if subject == "crash" then error("rule bug") end
  if subject == "drop me" then return msg:discard() end
  if msg.to[1] == "sales@example.test" then return msg:redirect("alice@example.test") end
  msg:add_header("X-Rule", "seen " .. msg.size)
end)
'''

INDEX_LUA = r'''
site:post("/notify", function(req, res)
  local ok, err = atto.mail.send{ from = "web@example.test", to = "someone@else.test",
                                  subject = "Hello", body = "Line 1\nLine 2" }
  res:text(ok and "queued" or ("failed: " .. tostring(err)))
end)
'''


def make_site():
    d = lib.tmp_site({"mail.lua": MAIL_LUA, "index.lua": INDEX_LUA})
    for user in ("alice", "bob"):
        p = subprocess.run([lib.ATTO, "passwd", d, user], input=b"secret-" + user.encode() + b"\n",
                           capture_output=True, timeout=20)
        assert p.returncode == 0, p.stderr
    return d


SITE = make_site()
atto = None


def files(user, folder=""):
    base = os.path.join(SITE, "mail", user, folder)
    return sorted(glob.glob(os.path.join(base, "new", "*")) + glob.glob(os.path.join(base, "cur", "*")))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def send(to, subject, frm="carol@other.test", body="Hi there.\r\n"):
    msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s" % (frm, to, subject, body)
    with smtplib.SMTP("127.0.0.1", atto.smtp, timeout=10) as s:
        return s.sendmail(frm, [to], msg)


def test_local_delivery_gets_received_and_rule_header():
    before = len(files("alice"))
    send("alice@example.test", "plain")
    got = files("alice")
    assert len(got) == before + 1
    data = read(got[-1])
    assert data.startswith(b"Received: from "), data[:200]
    assert b"X-Rule: seen " in data
    assert data.index(b"X-Rule:") < data.index(b"Subject: plain")


def test_unknown_user_rejected_by_rule():
    try:
        send("nobody@example.test", "x")
        raise AssertionError("accepted mail for an unknown user")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients["nobody@example.test"]
        assert code == 550 and b"No such user here" in text, (code, text)


def test_sender_reject_and_defer():
    try:
        send("alice@example.test", "x", frm="spammer@bad.test")
        raise AssertionError("accepted a rejected sender")
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 550 and b"Not from you" in e.smtp_error
    try:
        send("alice@example.test", "x", frm="later@slow.test")
        raise AssertionError("accepted a deferred sender")
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 451


def test_fileinto_junk():
    send("bob@example.test", "[SPAM] cheap stuff")
    junk = files("bob", ".Junk")
    assert junk and b"cheap stuff" in read(junk[-1]), junk


def test_redirect_to_local_user():
    before = len(files("alice"))
    send("sales@example.test", "order")
    got = files("alice")
    assert len(got) == before + 1 and b"Subject: order" in read(got[-1])


def test_discard_accepts_and_drops():
    before = len(files("bob"))
    send("bob@example.test", "drop me")
    assert len(files("bob")) == before


def test_rule_error_defers_and_is_logged():
    before = len(files("bob"))
    try:
        send("bob@example.test", "crash")
        raise AssertionError("a crashing rule accepted the message")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 451, e
    assert len(files("bob")) == before
    assert "rule bug" in atto.output() and "mail.lua:" in atto.output(), atto.output()[-800:]


def test_swaks_delivery():
    p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(atto.smtp),
                        "--from", "dave@other.test", "--to", "alice@example.test",
                        "--header", "Subject: via swaks", "--body", "swaks body"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stdout.decode()[-1000:]
    assert b"via swaks" in read(files("alice")[-1])


def test_atto_mail_send_queues():
    rc, out, err = lib.curl("-X", "POST", "http://127.0.0.1:%d/notify" % atto.http)
    assert out == b"queued", out
    q = glob.glob(os.path.join(SITE, ".atto", "queue", "*"))
    q = [f for f in q if os.path.isfile(f)]
    assert q, "nothing in the queue"
    assert any(b"someone@else.test" in read(f) and b"Line 1\r\nLine 2" in read(f) for f in q)


def test_bad_mail_lua_is_reported_with_line():
    d = lib.tmp_site({"mail.lua": "mail.domains{ 'a.test' }\nmail.on('bogus', function() end)\n"})
    p = subprocess.run([lib.ATTO, "check", d], capture_output=True, timeout=10)
    out = (p.stdout + p.stderr).decode()
    assert p.returncode != 0 and "mail.lua:2:" in out and "bogus" in out, out


if __name__ == "__main__":
    import sys
    atto = lib.Atto(SITE, enable=("http", "smtp")).start()
    try:
        failed = lib.main(globals())
    finally:
        try:
            atto.stop()
        except AssertionError as e:
            print("FAIL server_exit: %s" % e)
            failed = 1
    sys.exit(1 if failed else 0)
