/* Unit tests for agent/cmd.c: the Raft log entry codec. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cmd.h"

/* ---- Helpers ---- */

/* Encodes `c` into a new buffer (caller frees), size in *len. */
static uint8_t *encode(const struct cmd *c, size_t *len)
{
    *len = cmd_encoded_size(c);
    assert_int_equal(*len % 8, 0);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    memset(buf, 0xa5, *len); /* the encoder must write every byte */
    cmd_encode(c, buf);
    return buf;
}

static void assert_same_op(const struct kv_op *a, const struct kv_op *b)
{
    assert_int_equal(a->verb, b->verb);
    assert_string_equal(a->key, b->key);
    assert_int_equal(a->value_len, b->value_len);
    if (a->value_len > 0)
        assert_memory_equal(a->value, b->value, a->value_len);
    else
        assert_null(b->value);
    assert_true(a->flags == b->flags);
    assert_true(a->index == b->index);
    if (a->session != NULL && a->session[0] != '\0')
        assert_string_equal(a->session, b->session);
    else
        assert_null(b->session);
}

/* Encodes, decodes from a copy that is freed first, compares. */
static void round_trip(const struct cmd *c)
{
    size_t len;
    uint8_t *buf = encode(c, &len);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    struct cmd d;
    assert_int_equal(cmd_decode(copy, len, &d), 0);
    memset(copy, 0xee, len);
    free(copy);
    assert_int_equal(d.type, c->type);
    assert_true(d.arg == c->arg);
    assert_int_equal(d.n_ops, c->n_ops);
    for (size_t i = 0; i < c->n_ops; i++)
        assert_same_op(&c->ops[i], &d.ops[i]);
    assert_int_equal(d.payload_len, c->payload_len);
    if (c->payload_len > 0) {
        assert_memory_equal(d.payload, c->payload, c->payload_len);
        assert_int_equal(d.payload[d.payload_len], 0); /* NUL-terminated */
    } else {
        assert_null(d.payload);
    }
    /* Re-encoding the decoded command gives the same bytes. */
    size_t len2;
    uint8_t *buf2 = encode(&d, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf2);
    cmd_clear(&d);
    assert_null(d.ops);
    assert_int_equal(d.n_ops, 0);
    assert_null(d.payload);
    assert_int_equal(d.payload_len, 0);
    free(buf);
}

static void expect_invalid(const uint8_t *buf, size_t len)
{
    struct cmd d;
    memset(&d, 0x5a, sizeof d);
    assert_int_equal(cmd_decode(buf, len, &d), -EINVAL);
    /* Output is left cleared, so cmd_clear is always safe. */
    assert_null(d.ops);
    assert_int_equal(d.n_ops, 0);
    assert_null(d.payload);
    assert_int_equal(d.payload_len, 0);
    cmd_clear(&d);
}

static const uint8_t bin_value[] = {0, 'a', 0, 0xff, 0x80, 0, 0, 7};

/* A two-op txn: op 0 header at 16, key "ab" at 52, value (3 bytes) at 54,
 * session "s" at 57; op 1 header at 58, key "k" at 94; 95 bytes -> 96. */
static const struct kv_op sample_ops[] = {
    {.verb = KV_CAS,
     .key = "ab",
     .value = (const uint8_t *)"\0x\0",
     .value_len = 3,
     .flags = 0x0102030405060708ULL,
     .index = 0x1112131415161718ULL,
     .session = "s"},
    {.verb = KV_DELETE, .key = "k"},
};
static const struct cmd sample = {
    .type = CMD_KV_TXN, .arg = 9, .ops = (struct kv_op *)sample_ops, .n_ops = 2};

/* ---- Layout and round trips ---- */

static void encoding_matches_the_documented_layout(void **state)
{
    (void)state;
    static const uint8_t want[96] = {
        /* header */
        1, CMD_KV_TXN, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0,
        /* op 0 */
        KV_CAS, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
        'a', 'b', 0, 'x', 0, 's',
        /* op 1 */
        KV_DELETE, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        'k',
        /* padding */
        0};
    size_t len;
    uint8_t *buf = encode(&sample, &len);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    free(buf);
}

static void commands_without_ops_round_trip(void **state)
{
    (void)state;
    struct cmd noop = {.type = CMD_NOOP};
    struct cmd reap = {.type = CMD_KV_REAP, .arg = UINT64_MAX};
    struct cmd empty_txn = {.type = CMD_KV_TXN, .arg = 0x2ddccbc058a50c18ULL};
    assert_int_equal(cmd_encoded_size(&noop), 16);
    round_trip(&noop);
    round_trip(&reap);
    round_trip(&empty_txn);
}

static void txn_with_binary_values_long_keys_and_sessions_round_trips(
    void **state)
{
    (void)state;
    size_t klen = 70000;
    char *long_key = malloc(klen + 1);
    assert_non_null(long_key);
    for (size_t i = 0; i < klen; i++)
        long_key[i] = (char)('a' + i % 26);
    long_key[klen] = '\0';
    struct kv_op ops[] = {
        {.verb = KV_SET,
         .key = "bin",
         .value = bin_value,
         .value_len = sizeof bin_value,
         .flags = UINT64_MAX},
        {.verb = KV_SET, .key = long_key, .value = (const uint8_t *)"v",
         .value_len = 1},
        {.verb = KV_LOCK,
         .key = "lock/\xc3\xa9",
         .session = "adf4238a-882b-9ddc-4a9d-5b6758e4159e"},
        {.verb = KV_GET_TREE, .key = ""},
        {.verb = KV_SET, .key = "empty-session", .session = ""},
        {.verb = KV_DELETE_CAS, .key = "x", .index = UINT64_MAX},
    };
    for (int v = 1; v <= KV_VERB_MAX; v++) {
        struct kv_op one = {.verb = (enum kv_verb)v, .key = "k", .index = 7};
        struct cmd c = {.type = CMD_KV_TXN, .ops = &one, .n_ops = 1};
        round_trip(&c);
    }
    struct cmd c = {.type = CMD_KV_TXN, .ops = ops, .n_ops = 6, .arg = 1};
    round_trip(&c);
    /* Every padding length 0..7 is produced and accepted. */
    for (size_t n = 0; n < 16; n++) {
        char key[17] = {0};
        memset(key, 'q', n);
        struct kv_op one = {.verb = KV_GET, .key = key};
        struct cmd c1 = {.type = CMD_KV_TXN, .ops = &one, .n_ops = 1};
        round_trip(&c1);
    }
    free(long_key);
}

/* ---- Catalog commands: a JSON payload ---- */

static const char reg_body[] =
    "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Service\":{\"Service\":"
    "\"web\"}}";

static void catalog_payload_matches_the_documented_layout(void **state)
{
    (void)state;
    struct cmd c = {.type = CMD_CATALOG_DEREGISTER,
                    .payload = (const uint8_t *)"{\"Node\":\"a\"}",
                    .payload_len = 12};
    static const uint8_t want[40] = {
        1, CMD_CATALOG_DEREGISTER, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        12, 0, 0, 0, 0, 0, 0, 0,
        '{', '"', 'N', 'o', 'd', 'e', '"', ':', '"', 'a', '"', '}',
        0, 0, 0, 0};
    size_t len;
    uint8_t *buf = encode(&c, &len);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    free(buf);
}

static void catalog_commands_round_trip(void **state)
{
    (void)state;
    struct cmd reg = {.type = CMD_CATALOG_REGISTER,
                      .payload = (const uint8_t *)reg_body,
                      .payload_len = strlen(reg_body)};
    round_trip(&reg);
    /* Every padding length, and an empty payload. */
    for (size_t n = 0; n < 17; n++) {
        struct cmd c = {.type = CMD_CATALOG_DEREGISTER,
                        .payload = (const uint8_t *)reg_body,
                        .payload_len = n};
        round_trip(&c);
    }
    /* Payload bytes are not interpreted: NULs and binary survive. */
    struct cmd bin = {.type = CMD_CATALOG_REGISTER,
                      .payload = bin_value,
                      .payload_len = sizeof bin_value,
                      .arg = 3};
    round_trip(&bin);
}

static void malformed_catalog_commands_are_rejected(void **state)
{
    (void)state;
    struct cmd reg = {.type = CMD_CATALOG_REGISTER,
                      .payload = (const uint8_t *)reg_body,
                      .payload_len = strlen(reg_body)};
    size_t len;
    uint8_t *buf = encode(&reg, &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *t = malloc(n ? n : 1);
        assert_non_null(t);
        memcpy(t, buf, n);
        expect_invalid(t, n);
        free(t);
    }
    /* Payload length past the end, or short of it (rest not padding). */
    const uint64_t lens[] = {strlen(reg_body) + 8, UINT64_MAX,
                             (uint64_t)1 << 32, strlen(reg_body) - 8, 0};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t saved[8];
        memcpy(saved, buf + 16, 8);
        for (int b = 0; b < 8; b++)
            buf[16 + b] = (uint8_t)(lens[i] >> (8 * b));
        expect_invalid(buf, len);
        memcpy(buf + 16, saved, 8);
    }
    /* Non-zero padding after the payload. */
    size_t pad_at = 16 + 8 + strlen(reg_body);
    assert_true(pad_at < len);
    buf[pad_at] = 1;
    expect_invalid(buf, len);
    buf[pad_at] = 0;
    /* Ops on a catalog command. */
    buf[4] = 1;
    expect_invalid(buf, len);
    buf[4] = 0;
    /* A payload type without its payload section. */
    uint8_t bare[16] = {1, CMD_CATALOG_DEREGISTER};
    expect_invalid(bare, sizeof bare);
    struct cmd d;
    assert_int_equal(cmd_decode(buf, len, &d), 0);
    cmd_clear(&d);
    free(buf);
}

/* ---- Rejections ---- */

static void every_truncation_is_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode(&sample, &len);
    for (size_t n = 0; n < len; n++) {
        /* Copy so ASan catches any read past the truncated length. */
        uint8_t *t = malloc(n ? n : 1);
        assert_non_null(t);
        memcpy(t, buf, n);
        expect_invalid(t, n);
        free(t);
    }
    expect_invalid(NULL, 0);
    free(buf);
}

static void length_not_a_multiple_of_8_is_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode(&sample, &len);
    uint8_t *big = calloc(1, len + 16);
    assert_non_null(big);
    memcpy(big, buf, len);
    for (size_t extra = 1; extra < 8; extra++)
        expect_invalid(big, len + extra);
    /* A whole extra zero word is not padding either. */
    expect_invalid(big, len + 8);
    struct cmd d;
    assert_int_equal(cmd_decode(big, len, &d), 0);
    cmd_clear(&d);
    free(big);
    free(buf);
}

static void nonzero_padding_is_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode(&sample, &len);
    assert_int_equal(buf[95], 0);
    buf[95] = 1;
    expect_invalid(buf, len);
    free(buf);
}

static void nonzero_reserved_bytes_are_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode(&sample, &len);
    /* Header u16 zero, op 0 zero[3] and u32 zero, op 1 the same. */
    const size_t reserved[] = {2, 3, 17, 18, 19, 32, 33, 34, 35,
                               59, 60, 61, 74, 75, 76, 77};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        assert_int_equal(buf[reserved[i]], 0);
        buf[reserved[i]] = 0x40;
        expect_invalid(buf, len);
        buf[reserved[i]] = 0;
    }
    struct cmd d;
    assert_int_equal(cmd_decode(buf, len, &d), 0);
    cmd_clear(&d);
    free(buf);
}

static void bad_version_type_or_verb_is_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode(&sample, &len);
    const uint8_t bad_versions[] = {0, 2, 255};
    for (size_t i = 0; i < sizeof bad_versions; i++) {
        buf[0] = bad_versions[i];
        expect_invalid(buf, len);
    }
    buf[0] = CMD_VERSION;
    const uint8_t bad_types[] = {0, CMD_TYPE_MAX + 1, 255};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        buf[1] = bad_types[i];
        expect_invalid(buf, len);
    }
    /* Ops only belong in a KV transaction. */
    buf[1] = CMD_NOOP;
    expect_invalid(buf, len);
    buf[1] = CMD_KV_REAP;
    expect_invalid(buf, len);
    buf[1] = CMD_KV_TXN;
    const uint8_t bad_verbs[] = {0, KV_VERB_MAX + 1, 255};
    for (size_t i = 0; i < sizeof bad_verbs; i++) {
        buf[16] = bad_verbs[i];
        expect_invalid(buf, len);
        buf[16] = KV_CAS;
        buf[58] = bad_verbs[i];
        expect_invalid(buf, len);
        buf[58] = KV_DELETE;
    }
    free(buf);
}

static void lengths_pointing_past_the_end_are_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode(&sample, &len);
    uint8_t saved[4];
    /* op 1 key_len at 62, op 0 key/value/session lengths at 20/24/28. */
    const size_t fields[] = {62, 20, 24, 28, 66, 70};
    const uint32_t values[] = {100, 0x7fffffff, 0xffffffff, 0xfffffff0};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        memcpy(saved, buf + fields[f], 4);
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            uint32_t x = values[v];
            uint8_t le[4] = {(uint8_t)x, (uint8_t)(x >> 8),
                             (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
            memcpy(buf + fields[f], le, 4);
            expect_invalid(buf, len);
        }
        memcpy(buf + fields[f], saved, 4);
    }
    /* op 1's key one byte longer ends one byte past the buffer. */
    buf[62] = 3;
    expect_invalid(buf, len);
    free(buf);
}

static void n_ops_larger_than_the_buffer_allows_is_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode(&sample, &len);
    const uint32_t counts[] = {3, 4, 1000, 0xffffffff};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        uint32_t x = counts[i];
        uint8_t le[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16),
                         (uint8_t)(x >> 24)};
        memcpy(buf + 4, le, 4);
        expect_invalid(buf, len);
    }
    /* Fewer ops than encoded: the rest is not padding. */
    buf[4] = 1;
    expect_invalid(buf, len);
    buf[4] = 0;
    expect_invalid(buf, len);
    free(buf);
}

static void nul_inside_key_or_session_is_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode(&sample, &len);
    buf[53] = 0; /* "ab" -> "a\0" */
    expect_invalid(buf, len);
    buf[53] = 'b';
    buf[57] = 0; /* session "s" -> "\0" */
    expect_invalid(buf, len);
    buf[57] = 's';
    buf[94] = 0; /* op 1 key */
    expect_invalid(buf, len);
    buf[94] = 'k';
    /* NULs in the value are fine. */
    struct cmd d;
    assert_int_equal(cmd_decode(buf, len, &d), 0);
    assert_int_equal(d.ops[0].value_len, 3);
    assert_memory_equal(d.ops[0].value, "\0x\0", 3);
    assert_string_equal(d.ops[0].session, "s");
    cmd_clear(&d);
    free(buf);
}

/* Random buffers and random mutations of valid encodings: decode must never
 * crash, and anything it accepts must re-encode to the same bytes. */
static void random_bytes_never_crash_the_decoder(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("CMD_FUZZ_SEED");
    if (env != NULL)
        seed = (unsigned)strtoul(env, NULL, 10);
    printf("random_bytes_never_crash_the_decoder: seed %u\n", seed);
    srand(seed);

    size_t slen;
    uint8_t *valid = encode(&sample, &slen);
    uint8_t buf[256];
    size_t accepted = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len;
        if (iter % 2 == 0) {
            /* Mutate a few bytes of the valid sample. */
            len = slen;
            memcpy(buf, valid, len);
            int flips = 1 + rand() % 3;
            for (int f = 0; f < flips; f++)
                buf[(size_t)rand() % len] = (uint8_t)rand();
        } else {
            /* Plausible header, random rest. */
            len = 8 * (size_t)(rand() % 24);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rand();
            if (len >= 16) {
                buf[0] = CMD_VERSION;
                buf[1] = (uint8_t)(1 + rand() % CMD_TYPE_MAX);
                buf[2] = buf[3] = 0;
                buf[4] = (uint8_t)(rand() % 4);
                buf[5] = buf[6] = buf[7] = 0;
            }
        }
        uint8_t *heap = malloc(len ? len : 1);
        assert_non_null(heap);
        memcpy(heap, buf, len);
        struct cmd d;
        int rv = cmd_decode(heap, len, &d);
        if (rv == 0) {
            accepted++;
            if (cmd_encoded_size(&d) != len)
                fail_msg("size mismatch (seed %u, iter %d)", seed, iter);
            uint8_t *re = malloc(len);
            assert_non_null(re);
            cmd_encode(&d, re);
            if (memcmp(re, heap, len) != 0)
                fail_msg("not canonical (seed %u, iter %d)", seed, iter);
            free(re);
            cmd_clear(&d);
        } else if (rv != -EINVAL) {
            fail_msg("unexpected rv %d (seed %u, iter %d)", rv, seed, iter);
        }
        free(heap);
    }
    printf("random_bytes_never_crash_the_decoder: %zu accepted\n", accepted);
    free(valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encoding_matches_the_documented_layout),
        cmocka_unit_test(commands_without_ops_round_trip),
        cmocka_unit_test(
            txn_with_binary_values_long_keys_and_sessions_round_trips),
        cmocka_unit_test(catalog_payload_matches_the_documented_layout),
        cmocka_unit_test(catalog_commands_round_trip),
        cmocka_unit_test(malformed_catalog_commands_are_rejected),
        cmocka_unit_test(every_truncation_is_rejected),
        cmocka_unit_test(length_not_a_multiple_of_8_is_rejected),
        cmocka_unit_test(nonzero_padding_is_rejected),
        cmocka_unit_test(nonzero_reserved_bytes_are_rejected),
        cmocka_unit_test(bad_version_type_or_verb_is_rejected),
        cmocka_unit_test(lengths_pointing_past_the_end_are_rejected),
        cmocka_unit_test(n_ops_larger_than_the_buffer_allows_is_rejected),
        cmocka_unit_test(nul_inside_key_or_session_is_rejected),
        cmocka_unit_test(random_bytes_never_crash_the_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
