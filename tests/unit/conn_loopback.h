/*
 * conn_loopback.h — real conns over 127.0.0.1 for conn.c's unit tests: one
 * worker with its libuv loop in the test's own thread, one listener serving
 * the test's protocol, and a client thread the test supplies.
 *
 * Include after core/conn.h (or core/conn.c) and core/server_impl.h. The
 * worker (W, WI) and listener (L) are the test's to inspect; the protocol
 * calls lb_stop_listening() once the last conn it expects has closed, so
 * the loop runs dry and lb_run() returns.
 */
#ifndef ATTO_TEST_CONN_LOOPBACK_H
#define ATTO_TEST_CONN_LOOPBACK_H
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <uv.h>

static uv_tcp_t lb_server;
static worker W;
static worker_impl WI;
static listener L;

static void lb_on_connection(uv_stream_t *srv, int status)
{
    if (status == 0)
        conn_accept(&W, &L, srv);
}

/* A fresh worker and loop serving `proto` on 127.0.0.1; returns the port. */
static int lb_listen(const conn_proto *proto, int backlog)
{
    memset(&WI, 0, sizeof WI);
    uv_loop_init(&WI.loop);
    W = (worker){.loop = &WI.loop, .impl = &WI};
    L = (listener){.proto = proto};
    uv_tcp_init(&WI.loop, &lb_server);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&lb_server, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&lb_server, backlog, lb_on_connection);
    int len = sizeof a;
    uv_tcp_getsockname(&lb_server, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static void lb_stop_listening(void)
{
    uv_close((uv_handle_t *)&lb_server, NULL);
}

/* Run the loop until nothing is left open, `client(arg)` on a thread. */
static void lb_run(void *(*client)(void *), void *arg)
{
    pthread_t t;
    pthread_create(&t, NULL, client, arg);
    uv_run(&WI.loop, UV_RUN_DEFAULT);
    pthread_join(t, NULL);
}
#endif
