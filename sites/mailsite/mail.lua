-- sites/mailsite/mail.lua — mail for example.test: two users (alice, bob, in
-- users.passwd), and three rules that show what mail.lua can do:
--
--   1. spam folder   a message a filter upstream tagged as spam goes into the
--                    recipient's Junk folder (Maildir++ .Junk, seen by IMAP)
--   2. forward       invoices are forwarded to bob, who does the books; the
--                    recipients keep their own copy
--   3. auto-reply    bob is on holiday: mail sent to him alone gets a
--                    vacation answer (at most once a day per sender)
--
-- The rules see the whole message (like a Sieve script), so a rule that
-- cancels the implicit "keep" (fileinto, redirect, discard) does so for every
-- recipient; msg:keep() brings it back.

mail.domains{ "example.test" }
mail.options{ max_message_size = 10 * 1024 * 1024 }
-- To send mail out (atto.mail.send, forwards to other domains, replies to
-- senders elsewhere), name a smarthost:
-- mail.smarthost{ host = "127.0.0.1", port = 2526 }

local function user_of(address)
  local user, domain = address:match("^(.*)@([^@]+)$")
  if domain and domain:lower() == "example.test" then return user:lower() end
end

-- Unknown local users are refused with a friendlier text than the built-in
-- one; postmaster must always be accepted (RFC 5321), and atto keeps its
-- mail in mail/postmaster/ (`atto passwd sites/mailsite postmaster` to read it).
mail.on("rcpt_to", function(tx, rcpt)
  if rcpt.is_local and rcpt.user ~= "postmaster" and not mail.user_exists(rcpt.user) then
    return tx:reject(550, "5.1.1 <" .. rcpt.address .. ">: no such user at example.test")
  end
end)

mail.on("message", function(msg)
  local subject = msg:header("subject") or ""

  -- 1. Spam folder.
  if subject:find("[SPAM]", 1, true) or (msg:header("x-spam-flag") or ""):upper() == "YES" then
    return msg:fileinto("Junk")
  end

  -- 2. Forward: invoices also go to bob; everyone addressed keeps a copy.
  if subject:lower():find("^invoice") then
    msg:redirect("bob@example.test")
    msg:keep()
    msg:add_header("X-Forwarded-To", "bob@example.test")
  end

  -- 3. Auto-reply: bob is away. Only for mail to bob alone, because the
  --    reply goes out from every local recipient of the message.
  if #msg.to == 1 and user_of(msg.to[1]) == "bob" then
    msg:reply{ subject = "Away until Monday: " .. subject,
               body = "Hello,\n\nI am on holiday until Monday and will read your message then.\n"
                   .. "For anything urgent, write to alice@example.test.\n\nBob" }
  end
end)
