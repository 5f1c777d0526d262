/*
 * util.c — small helpers of the gossip library: error and state names,
 * address parsing and formatting, CRC-32C for cleartext frames, ID and
 * incarnation comparisons.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

GOSSIP_API const char *gossip_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case GOSSIP_E_TRUNCATED:
        return "truncated input";
    case GOSSIP_E_OVERSIZE:
        return "length or count over its limit";
    case GOSSIP_E_INVALID:
        return "invalid or inconsistent field";
    case GOSSIP_E_VERSION:
        return "unsupported format or protocol version";
    case GOSSIP_E_CHECKSUM:
        return "checksum mismatch";
    case GOSSIP_E_LABEL:
        return "cluster label mismatch";
    case GOSSIP_E_KEY_UNKNOWN:
        return "encrypted with an unknown key (wrong key?)";
    case GOSSIP_E_AUTH:
        return "authentication failed (wrong key or cluster label)";
    case GOSSIP_E_REPLAY:
        return "replayed packet";
    case GOSSIP_E_STALE:
        return "sender time outside the replay window (clock skew?)";
    case GOSSIP_E_PLAINTEXT:
        return "unencrypted input refused: encryption is enabled";
    case GOSSIP_E_NO_KEY:
        return "encrypted input but no key is configured";
    case GOSSIP_E_KEY_SIZE:
        return "key must be 32 bytes";
    case GOSSIP_E_KEY_PRIMARY:
        return "the primary key cannot be removed";
    case GOSSIP_E_KEY_MISSING:
        return "key is not installed";
    case GOSSIP_E_KEYRING_FULL:
        return "keyring is full";
    case GOSSIP_E_CONFLICT:
        return "name is held by another live node";
    case GOSSIP_E_LEAVING:
        return "node is leaving";
    case GOSSIP_E_TIMEOUT:
        return "timed out";
    case GOSSIP_E_UNREACHABLE:
        return "peer unreachable";
    case GOSSIP_E_REJECTED:
        return "peer rejected the request";
    case GOSSIP_E_NOT_FOUND:
        return "no such member";
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

GOSSIP_API const char *gossip_state_name(enum gossip_state s)
{
    switch (s) {
    case GOSSIP_ALIVE:
        return "alive";
    case GOSSIP_SUSPECT:
        return "suspect";
    case GOSSIP_DEAD:
        return "failed";
    case GOSSIP_LEFT:
        return "left";
    }
    return "unknown";
}

GOSSIP_API const char *gossip_event_name(enum gossip_event_type t)
{
    static const char *const names[] = {"join", "alive",  "suspect", "failed",
                                        "left", "update", "reap"};
    if ((unsigned)t < sizeof(names) / sizeof(names[0]))
        return names[t];
    return "unknown";
}

GOSSIP_API int gossip_addr_parse(const char *s,
                                 uint16_t default_port,
                                 struct gossip_addr *out)
{
    char host[64];
    const char *port = NULL;
    size_t hl;

    if (!s || !*s)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end)
            return -EINVAL;
        hl = (size_t)(end - s - 1);
        if (hl >= sizeof(host))
            return -EINVAL;
        memcpy(host, s + 1, hl);
        host[hl] = 0;
        if (end[1] == ':')
            port = end + 2;
        else if (end[1] != 0)
            return -EINVAL;
    } else {
        const char *c = strchr(s, ':');
        if (c && strchr(c + 1, ':'))
            c = NULL; /* bare IPv6 */
        hl = c ? (size_t)(c - s) : strlen(s);
        if (hl >= sizeof(host))
            return -EINVAL;
        memcpy(host, s, hl);
        host[hl] = 0;
        if (c)
            port = c + 1;
    }
    if (inet_pton(AF_INET, host, out->ip) == 1) {
        out->family = 4;
    } else if (inet_pton(AF_INET6, host, out->ip) == 1) {
        out->family = 6;
    } else {
        return -EINVAL;
    }
    out->port = default_port;
    if (port) {
        char *e;
        unsigned long v;
        if (!*port)
            return -EINVAL;
        errno = 0;
        v = strtoul(port, &e, 10);
        if (errno || *e || v > 65535)
            return -EINVAL;
        out->port = (uint16_t)v;
    }
    return 0;
}

GOSSIP_API char *gossip_addr_format(const struct gossip_addr *a,
                                    char *buf,
                                    size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    if (!len)
        return buf;
    if (a->family == 4 && inet_ntop(AF_INET, a->ip, ip, sizeof(ip)))
        snprintf(buf, len, "%s:%u", ip, (unsigned)a->port);
    else if (a->family == 6 && inet_ntop(AF_INET6, a->ip, ip, sizeof(ip)))
        snprintf(buf, len, "[%s]:%u", ip, (unsigned)a->port);
    else
        snprintf(buf, len, "?:%u", (unsigned)a->port);
    return buf;
}

size_t gossip__addr_len(const struct gossip_addr *a)
{
    return a->family == 6 ? 16 : 4;
}

GOSSIP_API bool gossip_addr_equal(const struct gossip_addr *a,
                                  const struct gossip_addr *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->ip, b->ip, gossip__addr_len(a)) == 0;
}

bool gossip__id_zero(const struct gossip_id *a)
{
    static const struct gossip_id z;
    return gossip__id_eq(a, &z);
}

int gossip__inc_cmp(const struct gossip_inc *a, const struct gossip_inc *b)
{
    if (a->gen != b->gen)
        return a->gen < b->gen ? -1 : 1;
    if (a->ctr != b->ctr)
        return a->ctr < b->ctr ? -1 : 1;
    return 0;
}

void gossip__id_short(const struct gossip_id *id, char out[9])
{
    snprintf(out, 9, "%02x%02x%02x%02x", id->b[0], id->b[1], id->b[2],
             id->b[3]);
}

/* CRC-32C (Castagnoli), reflected, table-driven. */
static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = true;
}

#if defined(__x86_64__)
/* SSE4.2 has a CRC-32C instruction: about 20x the table. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc,
                                                         const uint8_t *p,
                                                         size_t n)
{
    uint64_t c = ~crc & 0xffffffffu;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    crc = (uint32_t)c;
    while (n--)
        crc = __builtin_ia32_crc32qi(crc, *p++);
    return ~crc;
}
static int crc_have_hw = -1;
#endif

uint32_t gossip__crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
#if defined(__x86_64__)
    if (crc_have_hw < 0)
        crc_have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    if (crc_have_hw)
        return crc_hw(crc, p, n);
#endif
    if (!crc_ready)
        crc_init();
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
