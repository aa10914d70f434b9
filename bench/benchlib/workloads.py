"""benchlib/workloads.py — the rows of the table: Workload (label, raw-file
slug, how it runs on one server, what a server must speak for it, and for the
ratio and fixed-rate rows the row they derive from), all_workloads (every row
in table order, with the tool command each runs) and selected_workloads (the
rows WORKLOADS picks, with the rows a ratio needs).
"""
from benchlib.config import SEED_REQS, WORKLOADS
from benchlib.servers import fetch
from benchlib.tools import ab, h2load, ratecli, wrk


def session_cookie(server):
    """An atto_sid cookie and whether the counter grows with it."""
    _, headers, body = fetch(server, "http", "/session")
    cookie = None
    for k, v in headers:
        if k.lower() == "set-cookie" and v.startswith("atto_sid="):
            cookie = v.split(";")[0]
    if not cookie:
        return None, "no session cookie set"
    _, _, body2 = fetch(server, "http", "/session", {"Cookie": cookie})
    if body2 == body:
        return cookie, "session not kept between requests"
    return cookie, None


class Workload:
    """One row of the table: its label, the slug of its raw files, how it runs on
    a server (returning that run's metrics), the protocol a server needs for it
    (a server without "lua" skips the row, one without h2/h2c gets n/a), for
    a ratio row, which Lua row it divides by atto's static 13 B rate, and for
    a fixed-rate row, the keep-alive row its rate comes from (its run then
    takes the rate as a fourth argument)."""

    def __init__(self, label, slug, run, needs=None, ratio_of=None, fixed_of=None):
        self.label, self.slug, self.run = label, slug, run
        self.needs, self.ratio_of, self.fixed_of = needs, ratio_of, fixed_of


STATIC_13B = "HTTP/1.1 keep-alive 13 B"


def lua_session(server, tag):
    cookie, why = session_cookie(server)
    r = wrk(server, tag, server.url("http", "/session"), ["Cookie: " + cookie] if cookie else [])
    if why:
        r["note"] = (r.get("note", "") + "; " if r.get("note") else "") + why
    return r


def all_workloads():
    wls = []
    for scheme, label in (("http", "HTTP/1.1"), ("https", "HTTP/1.1 TLS")):
        for path, size in (("/hello.txt", "13 B"), ("/100k.bin", "100 KB")):
            wls.append(Workload("%s keep-alive %s" % (label, size), scheme + "-" + path[1:],
                                lambda s, t, sc=scheme, p=path: wrk(s, t, s.url(sc, p))))
    for scheme, label in (("http", "HTTP/1.1"), ("https", "HTTP/1.1 TLS")):
        for path, size in (("/hello.txt", "13 B"), ("/100k.bin", "100 KB")):
            wls.append(Workload("%s %s at a fixed rate" % (label, size), "rate-%s-%s" % (scheme, path[1:]),
                                lambda s, t, rate, sc=scheme, p=path: ratecli(s, t, s.url(sc, p), rate),
                                fixed_of="%s keep-alive %s" % (label, size)))
            wls[-1].target = (scheme, path)
    wls.append(Workload("new TLS connection per request (ab -c16)", "tls-new-conn",
                        lambda s, t: ab(s, t, s.url("https", "/hello.txt"), [], True)))
    for scheme, label, proto in (("https", "HTTP/2 TLS", "h2"), ("http", "h2c", "h2c")):
        for m in (10, 100):
            wls.append(Workload("%s 13 B -c64 -m%d" % (label, m), "%s-m%d" % (proto, m),
                                lambda s, t, sc=scheme, m=m: h2load(s, t, s.url(sc, "/hello.txt"), m),
                                needs=proto))
    wls.append(Workload("seed: ab -n1000 -c10 TLS 1.2 (PHP: %.2f)" % SEED_REQS, "seed-tls12",
                        lambda s, t: ab(s, t, s.url("https", "/hello.txt"), ["-f", "TLS1.2"], False)))
    lua, sess = "Lua route, small page (atto only)", "Lua route, session + JSON (atto only)"
    wls.append(Workload(lua, "lua", lambda s, t: wrk(s, t, s.url("http", "/lua")), needs="lua"))
    wls.append(Workload("Lua route ÷ atto static 13 B (target ≥ 70%)", None, None, ratio_of=lua))
    wls.append(Workload(sess, "session", lua_session, needs="lua"))
    wls.append(Workload("Lua session ÷ atto static 13 B", None, None, ratio_of=sess))
    return wls


def wanted(label):
    return not WORKLOADS or any(x in label for x in WORKLOADS)


def selected_workloads():
    """The rows WORKLOADS picks (all when unset). A ratio row comes with its Lua
    row and the other way round, and both bring the static 13 B row the ratio
    divides by."""
    wls = all_workloads()
    pick = {w.label for w in wls if wanted(w.label)}
    for w in wls:
        if w.ratio_of and (w.label in pick or w.ratio_of in pick):
            pick |= {w.label, w.ratio_of, STATIC_13B}
    return [w for w in wls if w.label in pick]

