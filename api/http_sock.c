/*
 * http_sock — how much of a TCP socket's stream the application has read.
 * Its own file: the kernel's struct tcp_info (<linux/tcp.h>, which has
 * tcpi_bytes_received) clashes with glibc's <netinet/tcp.h>, which
 * libmicrohttpd's header includes.
 */
#include "http_sock.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/sockios.h>
#include <linux/tcp.h>

int64_t http__sock_read_bytes(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    int inq = 0;
    memset(&ti, 0, sizeof ti);
    /* tcpi_bytes_received: every in-order byte the kernel took (Linux
     * 4.1+); SIOCINQ: those still queued, unread. */
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) +
                  sizeof ti.tcpi_bytes_received)
        return -1;
    if (ioctl(fd, SIOCINQ, &inq) != 0 || inq < 0 ||
        (uint64_t)inq > ti.tcpi_bytes_received)
        return -1;
    return (int64_t)(ti.tcpi_bytes_received - (uint64_t)inq);
}
