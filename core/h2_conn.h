/*
 * h2_conn.h — atto's HTTP/2 connection engine (RFC 9113), a conn_proto.
 *
 * It turns frames (core/h2_frame.h) and header blocks (core/hpack.h) into
 * protocol-neutral http_req objects for the worker's app (core/http.h) and
 * carries the answers back as HEADERS and flow-controlled DATA frames. It
 * never touches sockets: everything goes through core/conn.h.
 *
 * Three ways in:
 *   - TLS with ALPN "h2": conn.c calls h2_proto.open(c).
 *   - cleartext prior knowledge: the HTTP/1.1 driver sees the client preface
 *     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" and calls h2_conn_takeover() with the
 *     bytes received so far (starting with the preface).
 *   - "Upgrade: h2c": the HTTP/1.1 driver, having read the whole request
 *     (body included) and sent nothing, calls h2_conn_upgrade(). It sends the
 *     101, the server preface, applies HTTP2-Settings and serves the request
 *     as stream 1.
 * After takeover/upgrade returns 0 the HTTP/1.1 driver must free its own
 * state and never touch the conn's proto_data again (the conn may even be
 * closed by then). A negative return means nothing was sent or changed.
 */
#ifndef ATTO_H2_CONN_H
#define ATTO_H2_CONN_H
#include <stddef.h>
#include "core/conn.h"
#include "core/http.h"

extern const conn_proto h2_proto;

/* Prior knowledge: data/len = bytes received so far, starting with the
 * preface. Returns 0 (the conn now speaks h2) or <0. */
int h2_conn_takeover(conn *c, const char *data, size_t len);

/* h2c upgrade (RFC 7540 §3.2). settings_b64: the HTTP2-Settings value
 * (base64url). req: the complete HTTP/1.1 request (method, target, host,
 * headers, body are copied; connection-specific headers and HTTP2-Settings
 * are dropped). rest: bytes received after that request (normally none, or
 * the start of the client preface). Returns 0, or <0 when HTTP2-Settings is
 * invalid — nothing was written then, and the request should be served as
 * HTTP/1.1 as if no Upgrade had been asked. */
int h2_conn_upgrade(conn *c, const char *settings_b64, size_t settings_len,
                    const http_req *req, const char *rest, size_t rest_len);

/* Graceful stop (SIGTERM, reload): GOAWAY with the last stream id, finish
 * open streams, then close. Also h2_proto.drain. */
void h2_conn_shutdown(conn *c);
#endif
