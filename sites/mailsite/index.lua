-- sites/mailsite/index.lua — a one-page web side for the mail example: it
-- says where to send mail and how to read it. The mail side is mail.lua.

site:get("/", function(req, res)
  res:html([[<!doctype html>
<html><head><meta charset="utf-8"><title>atto mail example</title></head>
<body><h1>Mail for example.test</h1>
<p>This site receives mail for <code>alice@example.test</code> and
<code>bob@example.test</code> over SMTP, and serves it over IMAP and POP3.</p>
<p>Rules live in <code>sites/mailsite/mail.lua</code>: a spam folder, a forward
and an auto-reply. See <code>sites/mailsite/README.md</code>.</p>
</body></html>]])
end)
