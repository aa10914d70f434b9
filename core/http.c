/*
 * http.c — small helpers shared by the HTTP/1.1 and HTTP/2 drivers and the
 * application: reason phrases, the cached Date header, header lookup, and
 * one-shot simple responses.
 */
#include "core/http.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default:  return status < 200 ? "Informational" : status < 300 ? "OK" :
                     status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

const char *http_date_now(void)
{
    static _Thread_local time_t last;
    static _Thread_local char text[32];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return text;
}

const http_hdr *http_find(const http_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name_len == n && memcmp(r->headers[i].name, name, n) == 0)
            return &r->headers[i];
    return NULL;
}

void http_respond_simple(http_req *r, int status, const char *ctype, const char *body, size_t len)
{
    http_hdr h = {"content-type", 12, ctype, strlen(ctype)};
    r->drv->start(r, status, &h, ctype[0] ? 1 : 0, (int64_t)len);
    r->drv->body(r, body, len, 1);
}
