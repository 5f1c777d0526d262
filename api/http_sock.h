/*
 * http_sock — socket facts the HTTP server needs that libmicrohttpd does
 * not give (api/http_sock.c). Internal to api/http*.c.
 */
#ifndef CAIRN_HTTP_SOCK_H
#define CAIRN_HTTP_SOCK_H

#include <stdint.h>

/* Bytes the application has read so far from TCP socket `fd` (received
 * minus still queued); -1 if the kernel cannot tell. */
int64_t http__sock_read_bytes(int fd);

#endif
