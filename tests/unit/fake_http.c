/*
 * fake_http — see fake_http.h. One thread accepts connections and, on each,
 * reads requests (head up to the blank line, then Content-Length bytes of
 * body) and writes the next queued answer, until the queue is used up.
 */
#include "fake_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

struct fake_http_resp
{
    int status;
    const char *headers; /* extra header lines, each ending in \r\n */
    const char *body;
};

struct fake_http
{
    int lfd;
    int port;
    pthread_t thread;
    const char *headers; /* sent with every answer */
    struct fake_http_resp resp[FAKE_HTTP_MAX];
    int nresp;
    /* Written by the server thread: req[i] is stored before served moves
     * past i, so a reader that sees served > i may read req[i]. */
    atomic_int served;
    char *req[FAKE_HTTP_MAX]; /* request head + body as received */
};

/* One request from fd into a new NUL-terminated buffer in *out; false on
 * EOF or error before the end of the head. */
static bool fake_http_read_request(int fd, char **out)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    char *end = NULL;

    assert_non_null(buf);
    while (end == NULL) {
        if (n + 1 >= cap) {
            free(buf);
            return false;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0) {
            free(buf);
            return false;
        }
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t clen = 0;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl && cl < end)
        clen = strtoul(cl + 17, NULL, 10);
    size_t want = (size_t)(end + 4 - buf) + clen;
    while (n < want && n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    return true;
}

static void *fake_http_main(void *data)
{
    struct fake_http *f = data;

    for (;;) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        for (int i; (i = atomic_load(&f->served)) < f->nresp;) {
            char *req;
            if (!fake_http_read_request(fd, &req))
                break;
            struct fake_http_resp *r = &f->resp[i];
            f->req[i] = req;
            atomic_store(&f->served, i + 1);
            char head[1024];
            size_t blen = r->body ? strlen(r->body) : 0;
            int hl =
                snprintf(head, sizeof(head),
                         "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s%s\r\n",
                         r->status, blen, f->headers ? f->headers : "",
                         r->headers ? r->headers : "");
            if (hl < 0 || (size_t)hl >= sizeof(head) ||
                write(fd, head, (size_t)hl) < 0 ||
                (blen && write(fd, r->body, blen) < 0))
                break;
        }
        close(fd);
    }
}

struct fake_http *fake_http_start(const char *headers)
{
    struct fake_http *f = calloc(1, sizeof(*f));
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);

    assert_non_null(f);
    f->headers = headers;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
    f->port = ntohs(sa.sin_port);
    return f;
}

void fake_http_add_headers(struct fake_http *f,
                           int status,
                           const char *headers,
                           const char *body)
{
    assert_true(f->nresp < FAKE_HTTP_MAX);
    f->resp[f->nresp++] = (struct fake_http_resp){status, headers, body};
}

void fake_http_add(struct fake_http *f, int status, const char *body)
{
    fake_http_add_headers(f, status, NULL, body);
}

void fake_http_go(struct fake_http *f)
{
    assert_int_equal(pthread_create(&f->thread, NULL, fake_http_main, f), 0);
}

void fake_http_stop(struct fake_http *f)
{
    /* Wakes the accept. A connection the client left open would keep the
     * thread in read: the clients under test close theirs before returning. */
    shutdown(f->lfd, SHUT_RDWR);
    pthread_join(f->thread, NULL);
    close(f->lfd);
    for (int i = 0; i < atomic_load(&f->served); i++)
        free(f->req[i]);
    free(f);
}

int fake_http_port(const struct fake_http *f)
{
    return f->port;
}

int fake_http_served(const struct fake_http *f)
{
    return atomic_load(&((struct fake_http *)f)->served);
}

const char *fake_http_request(const struct fake_http *f, int i)
{
    int served = fake_http_served(f);
    if (i < 0 || i >= served)
        fail_msg("request %d: not made (%d served)", i, served);
    return f->req[i];
}

const char *fake_http_body(const struct fake_http *f, int i)
{
    return strstr(fake_http_request(f, i), "\r\n\r\n") + 4;
}

void fake_http_assert_request_line(const struct fake_http *f,
                                   int i,
                                   const char *want)
{
    int served = fake_http_served(f);
    if (i < 0 || i >= served)
        fail_msg("request %d: not made (%d served), want \"%s\"", i, served,
                 want);
    size_t n = strcspn(f->req[i], "\r");
    if (strlen(want) != n || strncmp(f->req[i], want, n) != 0)
        fail_msg("request %d: got \"%.*s\", want \"%s\"", i, (int)n, f->req[i],
                 want);
}
