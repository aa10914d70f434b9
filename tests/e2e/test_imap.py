"""test_imap.py — IMAP and POP3 end to end with Python's imaplib and poplib
against a running atto, with mail delivered through its own SMTP listener."""
import os, socket, smtplib, subprocess, sys, time, imaplib, poplib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib

SITE = {"index.lua": "site:get('/', function(req, res) res:text('hi') end)\n",
        "mail.lua": "mail.domains{'example.test'}\nmail.options{plaintext_auth = true}\n"}


def make_site():
    site = lib.tmp_site(SITE)
    subprocess.run([lib.ATTO, "passwd", site, "alice"], input=b"secret\n", check=True,
                   capture_output=True)
    return site


def deliver(port, subject, body="hello\r\n"):
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.sendmail("x@y.test", ["alice@example.test"], "Subject: %s\r\n\r\n%s" % (subject, body))
    s.quit()


def test_imap_session_flow():
    with lib.Atto(make_site(), enable=("http", "smtp", "imap")) as a:
        deliver(a.smtp, "first")
        deliver(a.smtp, "second", "needle in here\r\n")
        m = imaplib.IMAP4("127.0.0.1", a.imap)
        assert m.login("alice", "secret")[0] == "OK"
        typ, data = m.select("INBOX")
        assert typ == "OK" and data == [b"2"], data
        typ, data = m.uid("SEARCH", None, "BODY", "needle")
        assert data == [b"2"], data
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODYSTRUCTURE ENVELOPE)")
        assert b"Subject: first" in data[0][1], data
        assert m.create("Archive")[0] == "OK"
        assert m.copy("1", "Archive")[0] == "OK"
        assert m.store("2", "+FLAGS", "(\\Deleted)")[0] == "OK"
        typ, data = m.expunge()
        assert data == [b"2"], data
        typ, data = m.append("Archive", "(\\Seen)", None, b"Subject: appended\r\n\r\nx\r\n")
        assert typ == "OK" and b"APPENDUID" in data[0], data
        typ, data = m.status("Archive", "(MESSAGES UNSEEN)")
        assert b"MESSAGES 2" in data[0] and b"UNSEEN 1" in data[0], data
        m.logout()


def test_idle_woken_by_smtp_delivery():
    with lib.Atto(make_site(), enable=("http", "smtp", "imap")) as a:
        deliver(a.smtp, "first")
        s = socket.create_connection(("127.0.0.1", a.imap), timeout=10)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"a LOGIN alice secret\r\nb SELECT INBOX\r\n")
        while not f.readline().startswith(b"b OK"):
            pass
        s.sendall(b"c IDLE\r\n")
        assert f.readline().startswith(b"+")
        t = time.time()
        deliver(a.smtp, "second")
        line = f.readline()
        assert line == b"* 2 EXISTS\r\n", line
        assert time.time() - t < 3, "EXISTS took too long"
        s.sendall(b"DONE\r\nd LOGOUT\r\n")
        s.close()


def test_pop3_deletes_only_on_quit():
    with lib.Atto(make_site(), enable=("http", "smtp", "pop3")) as a:
        deliver(a.smtp, "one")
        deliver(a.smtp, "two")
        p = poplib.POP3("127.0.0.1", a.pop3, timeout=10)
        p.user("alice")
        p.pass_("secret")
        assert p.stat()[0] == 2
        assert b"Subject: one" in b"\n".join(p.retr(1)[1])
        p.dele(1)
        p.sock.close()                      # vanish: nothing deleted
        p = poplib.POP3("127.0.0.1", a.pop3, timeout=10)
        p.user("alice")
        p.pass_("secret")
        assert p.stat()[0] == 2
        p.dele(1)
        p.quit()
        p = poplib.POP3("127.0.0.1", a.pop3, timeout=10)
        p.user("alice")
        p.pass_("secret")
        assert p.stat()[0] == 1
        p.quit()


lib.main(globals())
