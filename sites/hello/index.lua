-- sites/hello — the site `make run` serves: a page, a route with a
-- parameter, a small JSON API and a form. Static files live in public/.

site:get("/", function(req, res)
  res:html([[<!doctype html>
<html><head><meta charset="utf-8"><title>Hello from atto</title>
<link rel="stylesheet" href="/style.css"></head>
<body><h1>Hello World!</h1>
<p>This page comes from <code>sites/hello/index.lua</code>.</p>
<ul>
  <li><a href="/hello/world">/hello/{name}</a> — a route with a parameter</li>
  <li><a href="/api/time">/api/time</a> — a small JSON endpoint</li>
  <li><a href="/about.html">/about.html</a> — a static file from public/</li>
</ul>
<form method="post" action="/greet">
  <label>Your name <input name="name"></label> <button>Greet me</button>
</form>
</body></html>]])
end)

site:get("/hello/{name}", function(req, res)
  res:text("Hello " .. req.params.name)
end)

site:get("/api/time", function(req, res)
  return { now = atto.now(), protocol = req.protocol }   -- a table is sent as JSON
end)

site:post("/greet", function(req, res)
  local name = req.form.name
  if not name or name == "" then
    return res:status(400):html("<p>Please give a name. <a href='/'>Back</a></p>")
  end
  res:html("<p>Nice to meet you, " .. atto.escape(name) .. "!</p>")
end)
