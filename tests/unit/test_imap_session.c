/*
 * test_imap_session.c — drives imap_proto through fake conn functions
 * against a temporary site: authentication rules, folders, SELECT, FETCH,
 * SEARCH, STORE, EXPUNGE, COPY/MOVE, APPEND (sync and LITERAL+), IDLE woken
 * by a delivery, two sessions on one mailbox, and bad input.
 */
#include "tests/unit/test.h"
#include "tests/unit/mail_fake_conn.h"
#include "mail/imap_session.h"
#include "mail/imap_internal.h"

static const char *MSG1 =
    "From: Alice Example <alice@example.test>\r\nTo: bob@example.test, \"Carol C\" <carol@example.test>\r\n"
    "Subject: Hello there\r\nDate: Tue, 1 Feb 2022 10:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n\r\n"
    "First line\r\nsecond line with needle\r\n";
static const char *MSG2 =
    "From: bob@example.test\nTo: alice@example.test\nSubject: =?UTF-8?B?Q2Fmw6k=?= menu\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XX\"\n\n"
    "preamble\n--XX\nContent-Type: text/plain; charset=utf-8\n\nplain body\n"
    "--XX\nContent-Type: application/octet-stream; name=\"a.bin\"\nContent-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=\"a.bin\"\n\naGlkZGVuIHRyZWFzdXJl\n--XX--\n";
static const char *MSG3 =
    "From: carol@example.test\r\nSubject: third\r\n\r\nshort\r\n";

static void feed(const char *s) { fake_feed(&imap_proto, s); }

static void start(int plaintext) { fake_start(&imap_proto, plaintext); }

static void stop(void)
{
    imap_proto.close(&fake_c);
    fake_site_teardown();
}

static void login_select(void)
{
    start(1);
    fake_deliver("1000.A.test", MSG1);
    fake_deliver("1001.B.test", MSG2);
    fake_deliver("1002.C.test", MSG3);
    feed("a LOGIN alice secret\r\n");
    feed("b SELECT INBOX\r\n");
}

TEST(greeting_and_logindisabled)
{
    start(0);
    fake_worker.tls = (struct tls_ctx *)&fake_worker;
    CHECK(out_has("* OK [CAPABILITY IMAP4rev1"));
    feed("a CAPABILITY\r\n");
    CHECK(out_has("STARTTLS") && out_has("LOGINDISABLED") && !out_has("AUTH=PLAIN"));
    feed("b LOGIN alice secret\r\n");
    CHECK(out_has("b NO [PRIVACYREQUIRED]"));
    feed("c STARTTLS\r\nd NOOP\r\n");
    CHECK(out_has("c OK") && !out_has("d OK"));
    fake_tls = 1;
    fake_tls_ready(&fake_c);
    feed("e CAPABILITY\r\n");
    CHECK(out_has("AUTH=PLAIN") && !out_has("STARTTLS"));
    feed("f LOGIN alice wrong\r\n");
    CHECK(out_has("f NO [AUTHENTICATIONFAILED]"));
    feed("g LOGIN alice secret\r\n");
    CHECK(out_has("g OK [CAPABILITY"));
    fake_worker.tls = NULL;
    stop();
}

TEST(authenticate_plain_both_forms)
{
    start(1);
    feed("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");   /* \0alice\0secret */
    CHECK(out_has("a OK"));
    stop();
    start(1);
    feed("a AUTHENTICATE PLAIN\r\n");
    CHECK(out_has("+ "));
    feed("AGFsaWNlAHdyb25n\r\n");
    CHECK(out_has("a NO [AUTHENTICATIONFAILED]"));
    feed("b AUTHENTICATE PLAIN\r\n*\r\n");
    CHECK(out_has("b BAD"));
    stop();
}

TEST(state_and_syntax_errors)
{
    start(1);
    feed("a SELECT INBOX\r\n");
    CHECK(out_has("a BAD"));
    feed("b FROB\r\n");
    CHECK(out_has("b BAD Unknown command"));
    feed("c LOGIN alice secret\r\n");
    feed("d FETCH 1 FLAGS\r\n");
    CHECK(out_has("d BAD"));
    feed("e LIST (\"\" \"*\"\r\n");
    CHECK(out_has("e BAD"));
    feed("f LOGIN {-5}\r\n");
    CHECK(out_has("f BAD") && !out_has("+ "));
    feed("g APPEND INBOX {99999999}\r\n");
    CHECK(out_has("g NO [TOOBIG]") && !out_has("+ "));
    feed("h NOOP\r\n");
    CHECK(out_has("h OK"));
    stop();
}

TEST(select_uids_persist)
{
    login_select();
    CHECK(out_has("* 3 EXISTS") && out_has("* 3 RECENT") && out_has("[UIDVALIDITY ") && out_has("b OK [READ-WRITE]"));
    CHECK_INT(fake_count("new"), 0);
    CHECK_INT(fake_count("cur"), 3);
    feed("c UID FETCH 1:* (UID)\r\n");
    CHECK(out_has("* 1 FETCH (UID 1)") && out_has("* 3 FETCH (UID 3)"));
    feed("d EXAMINE INBOX\r\n");
    CHECK(out_has("* 0 RECENT") && out_has("[READ-ONLY]"));
    feed("e FETCH 3 UID\r\n");
    CHECK(out_has("* 3 FETCH (UID 3)"));
    stop();
}

TEST(fetch_items)
{
    login_select();
    feed("c FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n");
    CHECK(out_has("FLAGS (\\Recent)") && out_has("RFC822.SIZE 226"));
    CHECK(out_has("BODY[HEADER.FIELDS (SUBJECT)] {24}\r\nSubject: Hello there\r\n\r\n"));
    feed("d FETCH 1 ENVELOPE\r\n");
    CHECK(out_has("ENVELOPE (\"Tue, 1 Feb 2022 10:00:00 +0000\" \"Hello there\" ((\"Alice Example\" NIL \"alice\" \"example.test\"))"));
    CHECK(out_has("((NIL NIL \"bob\" \"example.test\")(\"Carol C\" NIL \"carol\" \"example.test\")) NIL NIL NIL \"<m1@example.test>\")"));
    feed("e FETCH 2 BODYSTRUCTURE\r\n");
    CHECK(out_has("BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL)(\"application\" \"octet-stream\" (\"name\" \"a.bin\") NIL NIL \"base64\" 20 NIL (\"attachment\" (\"filename\" \"a.bin\")) NIL NIL) \"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)"));
    feed("f FETCH 2 (BODY[2] BODY[1]<0.5> BODY[1.MIME])\r\n");
    CHECK(out_has("BODY[2] {20}\r\naGlkZGVuIHRyZWFzdXJl BODY[1]"));
    CHECK(out_has("BODY[1]<0> {5}\r\nplain"));
    CHECK(out_has("BODY[1.MIME] {43}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"));
    CHECK(out_has("FLAGS (\\Seen \\Recent)"));
    feed("g FETCH 3 (BODY[TEXT])\r\n");
    CHECK(out_has("BODY[TEXT] {7}\r\nshort\r\n"));
    feed("h FETCH 1:* FAST\r\n");
    CHECK(out_has("* 3 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE \""));
    feed("i FETCH 4 FLAGS\r\n");
    CHECK(out_has("i BAD"));
    feed("j FETCH 1:4294967295 UID\r\n");
    CHECK(out_has("j BAD"));
    feed("k UID FETCH 1:4294967295 FLAGS\r\n");
    CHECK(out_has("* 3 FETCH") && out_has("k OK"));
    stop();
}

TEST(search_keys)
{
    login_select();
    feed("c SEARCH SUBJECT hello\r\n");
    CHECK(out_has("* SEARCH 1\r\n"));
    feed("d SEARCH SUBJECT caf\xc3\xa9\r\n");
    CHECK(out_has("* SEARCH 2\r\n"));
    feed("e SEARCH BODY treasure\r\n");
    CHECK(out_has("* SEARCH 2\r\n"));
    feed("f SEARCH OR FROM carol TO carol\r\n");
    CHECK(out_has("* SEARCH 1 3\r\n"));
    feed("g UID SEARCH NOT LARGER 100\r\n");
    CHECK(out_has("* SEARCH 3\r\n"));
    feed("h SEARCH CHARSET UTF-8 TEXT needle\r\n");
    CHECK(out_has("* SEARCH 1\r\n"));
    feed("i SEARCH SENTON 1-Feb-2022 UNSEEN\r\n");
    CHECK(out_has("* SEARCH 1\r\n"));
    feed("j SEARCH CHARSET KOI8-R ALL\r\n");
    CHECK(out_has("j NO [BADCHARSET"));
    feed("k SEARCH (UID 2:3 NOT 3) HEADER Message-ID \"\"\r\n");
    CHECK(out_has("* SEARCH\r\n"));
    feed("l SEARCH FROBNICATE\r\n");
    CHECK(out_has("l BAD"));
    stop();
}

TEST(store_expunge_copy_move)
{
    login_select();
    feed("c STORE 2 +FLAGS (\\Deleted \\Flagged)\r\n");
    CHECK(out_has("* 2 FETCH (FLAGS (\\Flagged \\Deleted \\Recent))"));
    feed("d STORE 1 FLAGS.SILENT (\\Seen)\r\n");
    CHECK(!out_has("FETCH") && out_has("d OK"));
    CHECK_INT(fake_count("cur/*:2,S"), 1);
    feed("e EXPUNGE\r\n");
    CHECK(out_has("* 2 EXPUNGE") && out_has("e OK"));
    feed("f CREATE Archive\r\n");
    feed("g COPY 1:2 Archive\r\n");
    CHECK(out_has("g OK [COPYUID ") && out_has(" 1,3 1:2]"));
    feed("h UID MOVE 3 Archive\r\n");
    CHECK(out_has("* OK [COPYUID ") && out_has("* 2 EXPUNGE") && out_has("h OK"));
    feed("i STATUS Archive (MESSAGES UIDNEXT UNSEEN)\r\n");
    CHECK(out_has("* STATUS \"Archive\" (MESSAGES 3 UIDNEXT 4 UNSEEN 2)"));
    feed("j COPY 1 Nowhere\r\n");
    CHECK(out_has("j NO [TRYCREATE]"));
    stop();
}

TEST(folders_list_rename_delete)
{
    start(1);
    feed("a LOGIN alice secret\r\n");
    feed("b CREATE Junk\r\nc CREATE Work.Projects\r\n");
    CHECK(out_has("b OK") && out_has("c OK"));
    feed("d LIST \"\" \"*\"\r\n");
    CHECK(out_has("* LIST (\\HasNoChildren) \".\" \"INBOX\""));
    CHECK(out_has("* LIST (\\HasNoChildren \\Junk) \".\" \"Junk\""));
    CHECK(out_has("* LIST (\\Noselect \\HasChildren) \".\" \"Work\""));
    feed("e LIST \"\" \"%\"\r\n");
    CHECK(!out_has("Work.Projects") && out_has("\"Work\""));
    feed("f RENAME Work.Projects Done\r\ng SUBSCRIBE Done\r\nh LSUB \"\" \"*\"\r\n");
    CHECK(out_has("f OK") && out_has("* LSUB (\\HasNoChildren) \".\" \"Done\""));
    feed("i DELETE Done\r\nj DELETE INBOX\r\nk CREATE ../evil\r\n");
    CHECK(out_has("i OK") && out_has("j NO") && out_has("k NO"));
    feed("l LIST \"\" \"\"\r\nm NAMESPACE\r\nn ID NIL\r\n");
    CHECK(out_has("* LIST (\\Noselect) \".\" \"\"") && out_has("* NAMESPACE ((\"\" \".\")) NIL NIL") && out_has("* ID ("));
    stop();
}

TEST(append_literals)
{
    start(1);
    feed("a LOGIN alice secret\r\n");
    feed("b APPEND INBOX (\\Seen) \" 7-Feb-2022 10:11:12 +0100\" {24}\r\n");
    CHECK(out_has("+ Ready"));
    feed("Subject: x\r\n\r\nbody here\r\n");
    CHECK(out_has("b OK [APPENDUID ") && out_has(" 1] APPEND completed"));
    feed("c APPEND INBOX {11+}\r\nSubject: y\r\n");
    CHECK(!out_has("+ Ready") && out_has("c OK [APPENDUID "));
    feed("d APPEND Nope {1+}\r\nx\r\n");
    CHECK(out_has("d NO [TRYCREATE]"));
    feed("e SELECT INBOX\r\nf FETCH 1 (FLAGS INTERNALDATE)\r\n");
    CHECK(out_has("* 2 EXISTS") && out_has("FLAGS (\\Seen) INTERNALDATE \"07-Feb-2022 09:11:12 +0000\""));
    /* a client that vanishes mid-literal leaves nothing behind */
    feed("g APPEND INBOX {100}\r\npartial data");
    stop();
    CHECK(1);
}

TEST(vanish_mid_append_saves_nothing)
{
    start(1);
    feed("a LOGIN alice secret\r\n");
    feed("g APPEND INBOX {100}\r\npartial data");
    CHECK(out_has("+ Ready"));
    imap_proto.close(&fake_c);
    CHECK_INT(fake_count("cur"), 0);
    CHECK_INT(fake_count("tmp"), 0);
    fake_site_teardown();
}

TEST(idle_sees_delivery_and_other_sessions)
{
    login_select();
    imap_sess *a = fake_c.proto_data;
    feed("c IDLE\r\n");
    CHECK(out_has("+ idling") && fake_timer_ms == IMAP_IDLE_POLL_MS);
    fake_deliver("2000.D.test", MSG3);
    buf_reset(&fake_out);
    imap_proto.timeout(&fake_c);
    CHECK(out_has("* 4 EXISTS") && out_has("* 4 RECENT"));
    feed("DONE\r\n");
    CHECK(out_has("c OK IDLE terminated"));
    /* a second session changes flags and expunges; the first sees it on NOOP */
    imap_proto.open(&fake_c);
    imap_sess *b = fake_c.proto_data;
    feed("a LOGIN alice secret\r\nb SELECT INBOX\r\nc STORE 1 +FLAGS (\\Answered)\r\n"
         "d STORE 4 +FLAGS (\\Deleted)\r\ne EXPUNGE\r\n");
    CHECK(out_has("* 4 EXPUNGE") && out_has("* 0 RECENT"));
    imap_proto.close(&fake_c);
    fake_c.proto_data = a;
    (void)b;
    feed("d NOOP\r\n");
    CHECK(out_has("* 4 EXPUNGE") && out_has("* 1 FETCH (FLAGS (\\Answered \\Recent) UID 1)") && out_has("d OK"));
    feed("e LOGOUT\r\n");
    CHECK(out_has("* BYE") && out_has("e OK") && fake_closed);
    stop();
}

int main(void)
{
    RUN(greeting_and_logindisabled);
    RUN(authenticate_plain_both_forms);
    RUN(state_and_syntax_errors);
    RUN(select_uids_persist);
    RUN(fetch_items);
    RUN(search_keys);
    RUN(store_expunge_copy_move);
    RUN(folders_list_rename_delete);
    RUN(append_literals);
    RUN(vanish_mid_append_saves_nothing);
    RUN(idle_sees_delivery_and_other_sessions);
    buf_free(&fake_out);
    return test_done();
}
