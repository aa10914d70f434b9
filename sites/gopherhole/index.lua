-- sites/gopherhole — the Atto Gopher story: the classic GopherSite example,
-- in Lua. Run it with `atto sites/gopherhole`, then
--   curl gopher://localhost:7070/1/        or   lynx gopher://localhost:7070/
-- Routes answer selectors; gopher/ holds static files, folders and a gophermap.

site:gopher("/", function(req, res)
  res:info("Welcome to the Atto gopherhole")
  res:info("==============================")
  res:info("")
  res:menu{
    { type = "0", text = "About this gopherhole", selector = "/about.txt" },
    { type = "1", text = "The library (a gophermap)", selector = "/library" },
    { type = "1", text = "Count with me", selector = "/addone/0" },
    { type = "7", text = "Ask the magic eight ball", selector = "/8ball" },
    { type = "0", text = "A slow answer (the handler sleeps)", selector = "/slow" },
    { type = "1", text = "A place that does not exist", selector = "/nowhere" },
    { type = "1", text = "Floodgap, the home of Gopher today", selector = "/",
      host = "gopher.floodgap.com", port = 70 },
  }
  res:link("https://www.lua.org/", "Lua, on the web")
end)

-- The counter: every page links to the next number.
site:gopher("/addone/{n}", function(req, res)
  local n = math.tointeger(tonumber(req.params.n))
  if not n then
    return res:error("not a number: " .. req.params.n)
  end
  res:info("The number is " .. n .. ".")
  res:menu{
    { type = "1", text = "Add one (" .. (n + 1) .. ")", selector = "/addone/" .. (n + 1) },
    { type = "1", text = "Back to the start", selector = "/" },
  }
end)

-- A search item (type 7): the client asks for a string and sends it after a TAB.
local answers = {
  "It is certain.", "Without a doubt.", "Yes, definitely.", "Most likely.",
  "Reply hazy, try again.", "Ask again later.", "Cannot predict now.",
  "Don't count on it.", "My sources say no.", "Very doubtful.",
}
site:gopher("/8ball", function(req, res)
  local q = req.query
  if not q or q:match("^%s*$") then
    return res:error("Ask the eight ball a question (it is a search item)")
  end
  local h = 0
  for i = 1, #q do h = (h * 31 + q:byte(i)) % 1000003 end
  res:info("You asked: " .. q)
  res:info("The eight ball says: " .. answers[h % #answers + 1])
  res:menu{ { type = "7", text = "Ask again", selector = "/8ball" } }
end)

-- Handlers are tasks: atto.sleep() lets the server answer others meanwhile.
site:gopher("/slow", function(req, res)
  atto.sleep(0.2)
  return "Sorry for the wait.\nThis text came from a handler that slept 200 ms.\n"
end)

-- Selectors nothing answers (no route, no file in gopher/).
site:gopher_error(function(req, res, message)
  res:error("Nothing at " .. req.selector .. " — the gophers looked everywhere")
  res:info("")
  res:menu{ { type = "1", text = "Back to the start", selector = "/" } }
end)

site:listen{ gopher = 7070 }
