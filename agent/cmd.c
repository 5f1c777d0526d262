/*
 * cmd — Raft log entry codec (layout in cmd.h).
 *
 * Op headers are 36 bytes and follow variable-length data, so nothing is
 * aligned: every integer goes through the byte-wise get/put helpers.
 *
 * The decoder trusts nothing: it checks every length against what is left
 * of the buffer before touching the bytes, and bounds n_ops by the space
 * their headers would need before allocating. An accepted buffer is
 * canonical: re-encoding the decoded command gives the same bytes (an empty
 * session, value or payload decodes as NULL, which encodes as length 0).
 */
#include "cmd.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CMD_HEADER_SIZE 16
#define CMD_OP_HEADER_SIZE 36

static void cmd_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void cmd_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t cmd_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t cmd_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t cmd_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static size_t cmd_op_data_size(const struct kv_op *op)
{
    size_t klen = op->key != NULL ? strlen(op->key) : 0;
    size_t slen = op->session != NULL ? strlen(op->session) : 0;
    return klen + op->value_len + slen;
}

int cmd_has_payload(enum cmd_type type)
{
    return type == CMD_CATALOG_REGISTER || type == CMD_CATALOG_DEREGISTER;
}

size_t cmd_encoded_size(const struct cmd *c)
{
    size_t size = CMD_HEADER_SIZE;
    for (size_t i = 0; i < c->n_ops; i++)
        size += CMD_OP_HEADER_SIZE + cmd_op_data_size(&c->ops[i]);
    if (cmd_has_payload(c->type))
        size += 8 + c->payload_len;
    return (size + 7) & ~(size_t)7;
}

void cmd_encode(const struct cmd *c, void *buf)
{
    size_t size = cmd_encoded_size(c);
    uint8_t *p = buf;

    assert(c->type >= 1 && c->type <= CMD_TYPE_MAX);
    assert(c->n_ops <= UINT32_MAX);
    assert(c->n_ops == 0 || c->type == CMD_KV_TXN);
    assert(c->payload_len == 0 || cmd_has_payload(c->type));
    memset(p, 0, size); /* reserved fields and padding */
    p[0] = CMD_VERSION;
    p[1] = (uint8_t)c->type;
    cmd_put32(p + 4, (uint32_t)c->n_ops);
    cmd_put64(p + 8, c->arg);
    p += CMD_HEADER_SIZE;

    for (size_t i = 0; i < c->n_ops; i++) {
        const struct kv_op *op = &c->ops[i];
        const char *key = op->key != NULL ? op->key : "";
        size_t klen = strlen(key);
        size_t slen = op->session != NULL ? strlen(op->session) : 0;
        assert(op->verb >= 1 && op->verb <= KV_VERB_MAX);
        assert(klen <= UINT32_MAX && op->value_len <= UINT32_MAX &&
               slen <= UINT32_MAX);
        p[0] = (uint8_t)op->verb;
        cmd_put32(p + 4, (uint32_t)klen);
        cmd_put32(p + 8, (uint32_t)op->value_len);
        cmd_put32(p + 12, (uint32_t)slen);
        cmd_put64(p + 20, op->flags);
        cmd_put64(p + 28, op->index);
        p += CMD_OP_HEADER_SIZE;
        memcpy(p, key, klen);
        p += klen;
        if (op->value_len > 0)
            memcpy(p, op->value, op->value_len);
        p += op->value_len;
        if (slen > 0)
            memcpy(p, op->session, slen);
        p += slen;
    }
    if (cmd_has_payload(c->type)) {
        cmd_put64(p, c->payload_len);
        p += 8;
        if (c->payload_len > 0)
            memcpy(p, c->payload, c->payload_len);
        p += c->payload_len;
    }
    assert((size_t)(p - (uint8_t *)buf) <= size);
}

static bool cmd_all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

int cmd_decode(const void *buf, size_t len, struct cmd *out)
{
    const uint8_t *b = buf;
    memset(out, 0, sizeof *out);

    if (b == NULL || len < CMD_HEADER_SIZE || len % 8 != 0)
        return -EINVAL;
    unsigned type = b[1];
    uint32_t n_ops = cmd_get32(b + 4);
    if (b[0] != CMD_VERSION || type < 1 || type > CMD_TYPE_MAX ||
        cmd_get16(b + 2) != 0)
        return -EINVAL;
    if (type != CMD_KV_TXN && n_ops != 0)
        return -EINVAL;
    /* Every op needs at least its header: bound before allocating. */
    if (n_ops > (len - CMD_HEADER_SIZE) / CMD_OP_HEADER_SIZE)
        return -EINVAL;

    struct kv_op *ops = NULL;
    char *d = NULL;
    uint8_t *payload = NULL; /* before any goto err_invalid */
    uint64_t plen = 0;
    if (n_ops > 0) {
        /* Data bytes fit in what the headers leave, plus two NULs per op. */
        size_t data = len - CMD_HEADER_SIZE -
                      (size_t)n_ops * CMD_OP_HEADER_SIZE + 2 * (size_t)n_ops;
        ops = malloc((size_t)n_ops * sizeof *ops + data);
        if (ops == NULL)
            return -ENOMEM;
        d = (char *)(ops + n_ops);
    }

    size_t pos = CMD_HEADER_SIZE;
    for (uint32_t i = 0; i < n_ops; i++) {
        /* Invariant: the headers of ops i..n_ops-1 fit in what is left
         * (true for i = 0 by the n_ops bound), so the data of op i may use
         * only what they leave. That also keeps the copies within the
         * allocation above. */
        size_t later = (size_t)(n_ops - i - 1) * CMD_OP_HEADER_SIZE;
        assert(len - pos >= CMD_OP_HEADER_SIZE + later);
        const uint8_t *h = b + pos;
        unsigned verb = h[0];
        size_t klen = cmd_get32(h + 4);
        size_t vlen = cmd_get32(h + 8);
        size_t slen = cmd_get32(h + 12);
        if (verb < 1 || verb > KV_VERB_MAX || !cmd_all_zero(h + 1, 3) ||
            cmd_get32(h + 16) != 0)
            goto err_invalid;
        pos += CMD_OP_HEADER_SIZE;
        size_t left = len - pos - later;
        if (klen > left || vlen > left - klen || slen > left - klen - vlen)
            goto err_invalid;
        const uint8_t *key = b + pos, *value = key + klen,
                      *session = value + vlen;
        if (memchr(key, 0, klen) != NULL || memchr(session, 0, slen) != NULL)
            goto err_invalid;
        pos += klen + vlen + slen;

        struct kv_op *op = &ops[i];
        memset(op, 0, sizeof *op);
        op->verb = (enum kv_verb)verb;
        op->flags = cmd_get64(h + 20);
        op->index = cmd_get64(h + 28);
        memcpy(d, key, klen);
        d[klen] = '\0';
        op->key = d;
        d += klen + 1;
        if (vlen > 0) {
            memcpy(d, value, vlen);
            op->value = (const uint8_t *)d;
            op->value_len = vlen;
            d += vlen;
        }
        if (slen > 0) {
            memcpy(d, session, slen);
            d[slen] = '\0';
            op->session = d;
            d += slen + 1;
        }
    }

    if (cmd_has_payload((enum cmd_type)type)) {
        if (len - pos < 8)
            goto err_invalid;
        plen = cmd_get64(b + pos);
        pos += 8;
        if (plen > len - pos)
            goto err_invalid;
        if (plen > 0) {
            payload = malloc((size_t)plen + 1);
            if (payload == NULL) {
                free(ops);
                return -ENOMEM;
            }
            memcpy(payload, b + pos, (size_t)plen);
            payload[plen] = '\0';
            pos += (size_t)plen;
        }
    }

    /* Only the zero padding to the next multiple of 8 may remain. */
    if (len - pos >= 8 || !cmd_all_zero(b + pos, len - pos))
        goto err_invalid;

    out->type = (enum cmd_type)type;
    out->arg = cmd_get64(b + 8);
    out->ops = ops;
    out->n_ops = n_ops;
    out->payload = payload;
    out->payload_len = (size_t)plen;
    return 0;

err_invalid:
    free(payload);
    free(ops);
    return -EINVAL;
}

void cmd_clear(struct cmd *c)
{
    if (c == NULL)
        return;
    free(c->ops);
    /* Decoded payloads are our own copies (see cmd_decode). */
    free((void *)(uintptr_t)c->payload);
    memset(c, 0, sizeof *c);
}
