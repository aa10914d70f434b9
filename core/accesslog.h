/*
 * accesslog.h — the access log (`--log FILE`, `-` for stdout), one line per
 * response in the combined format nginx and Apache write, so the usual log
 * tools read it. Both HTTP drivers call accesslog_request() when a response
 * ends. Lines are written with one write(2) to an O_APPEND file, so worker
 * threads never interleave within a line.
 */
#ifndef ATTO_ACCESSLOG_H
#define ATTO_ACCESSLOG_H
#include <stdint.h>
#include "core/http.h"
#include "core/server.h"

int  accesslog_open(const char *path, char *err, size_t errlen);  /* NULL: off */
void accesslog_request(const http_req *r, uint64_t body_bytes);
#endif
