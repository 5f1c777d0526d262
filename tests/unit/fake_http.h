/*
 * fake_http — a tiny HTTP/1.1 server for unit tests of HTTP clients (the
 * CLI): it listens on an ephemeral 127.0.0.1 port, replays canned answers
 * in the order they were queued (one per request, over any number of
 * keep-alive connections) and records every request it answers, head and
 * body, for the test to inspect.
 *
 *     struct fake_http *f = fake_http_start(NULL);
 *     fake_http_add(f, 200, "true");
 *     fake_http_go(f);
 *     ... run the client against 127.0.0.1:fake_http_port(f) ...
 *     fake_http_assert_request_line(f, 0, "PUT /v1/kv/k HTTP/1.1");
 *     fake_http_stop(f);
 *
 * Failures to set up (socket, bind, thread) and out-of-range request
 * indexes fail the current cmocka test. Once the queued answers are used
 * up, further requests get no answer: the connection is closed.
 */
#ifndef CAIRN_TESTS_FAKE_HTTP_H
#define CAIRN_TESTS_FAKE_HTTP_H

/* How many answers one server can queue. */
#define FAKE_HTTP_MAX 32

struct fake_http;

/*
 * A new server, bound and listening, not yet serving. `headers` (borrowed,
 * valid until fake_http_stop; NULL for none) are extra header lines, each
 * ending in "\r\n", sent with every answer. Free with fake_http_stop.
 */
struct fake_http *fake_http_start(const char *headers);

/*
 * Queue the next answer: `status`, then `body` (borrowed until
 * fake_http_stop; NULL for an empty body) with a matching Content-Length.
 * Only before fake_http_go.
 */
void fake_http_add(struct fake_http *f, int status, const char *body);

/* As fake_http_add, with extra header lines (borrowed, each ending in
 * "\r\n") for this answer only, after the server-wide ones. */
void fake_http_add_headers(struct fake_http *f,
                           int status,
                           const char *headers,
                           const char *body);

/* Start answering, on a thread of its own. */
void fake_http_go(struct fake_http *f);

/* Stop the thread, close the socket, free the server and its records. */
void fake_http_stop(struct fake_http *f);

/* The port it listens on (127.0.0.1). */
int fake_http_port(const struct fake_http *f);

/* How many requests it has answered so far. */
int fake_http_served(const struct fake_http *f);

/* Request i (0-based) as received: head, blank line, body; borrowed until
 * fake_http_stop. Fails the test if request i was not made. */
const char *fake_http_request(const struct fake_http *f, int i);

/* The body of request i (after the blank line). */
const char *fake_http_body(const struct fake_http *f, int i);

/* Fail the test unless the request line of request i (without the CRLF)
 * is `want`, e.g. "GET /v1/kv/foo HTTP/1.1". */
void fake_http_assert_request_line(const struct fake_http *f,
                                   int i,
                                   const char *want);

#endif
