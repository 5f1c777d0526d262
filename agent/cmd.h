/*
 * cmd — the one codec for Raft log entries.
 *
 * Every change to replicated state is a command: a type plus a payload,
 * encoded here, appended to the Raft log by the leader and decoded by the FSM
 * on every server. The encoding is little-endian, versioned and padded with
 * zero bytes to a multiple of 8 bytes (c-raft 0.15 cannot read back entries
 * of other lengths after a restart).
 *
 * Layout (all integers little-endian):
 *   u8 version (1) | u8 type | u16 zero | u32 n_ops | u64 arg
 *   then n_ops times (CMD_KV_TXN only; n_ops is 0 for other types):
 *     u8 verb | u8 zero[3] | u32 key_len | u32 value_len | u32 session_len
 *     | u32 zero | u64 flags | u64 index | key | value | session
 *   then, for payload types only (cmd_has_payload: the catalog commands):
 *     u64 payload_len | payload bytes
 *   then 0..7 zero bytes so that the total is a multiple of 8.
 * Keys and sessions are stored without their NUL. The payload section was
 * added after version 1 shipped without bumping it: the types that carry
 * one are new, so every entry written before decodes as it did.
 */
#ifndef CAIRN_CMD_H
#define CAIRN_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "kv.h"

#define CMD_VERSION 1

enum cmd_type {
    CMD_KV_TXN = 1, /* ops: a KV transaction (a plain PUT is one op) */
    CMD_KV_REAP,    /* arg: reap tombstones with modify_index <= arg */
    CMD_NOOP,       /* nothing (leadership barrier, tests) */
    CMD_CATALOG_REGISTER,   /* payload: /v1/catalog/register body (JSON) */
    CMD_CATALOG_DEREGISTER, /* payload: /v1/catalog/deregister body (JSON) */
    CMD_TYPE_MAX = CMD_CATALOG_DEREGISTER
};

struct cmd
{
    enum cmd_type type;
    uint64_t arg;
    struct kv_op *ops; /* encode: borrowed; decode: new array (cmd_clear) */
    size_t n_ops;
    /* Payload types only (else NULL / 0). Encode: borrowed, may be NULL
     * when payload_len is 0. Decode: a private copy followed by a NUL (so
     * text payloads are C strings), freed by cmd_clear; NULL when the
     * payload is empty. */
    const uint8_t *payload;
    size_t payload_len;
};

/* Whether commands of `type` carry a payload section. */
int cmd_has_payload(enum cmd_type type);

/* Exact encoded size of `c`, a multiple of 8. */
size_t cmd_encoded_size(const struct cmd *c);

/* Encode `c` into `buf`, which has cmd_encoded_size(c) bytes. */
void cmd_encode(const struct cmd *c, void *buf);

/* Decode `len` bytes. On success returns 0 and fills *out; out->ops is a new
 * array whose key/value/session pointers point INTO a private copy kept with
 * the ops (so `buf` may be freed afterwards). Release with cmd_clear.
 * Returns -EINVAL for anything malformed: wrong version or type, truncated
 * or oversized fields, length not a multiple of 8, non-zero padding or
 * reserved bytes, a key or session containing NUL, unknown verb, ops on a
 * type other than CMD_KV_TXN, a missing payload section on a payload type.
 * Payload bytes are not interpreted. Never asserts on input. -ENOMEM on
 * allocation failure. */
int cmd_decode(const void *buf, size_t len, struct cmd *out);
void cmd_clear(struct cmd *c);

#endif
