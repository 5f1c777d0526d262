/* Unit tests for gossip/crypto.c: the envelope (round trip, wrong key,
 * wrong label, tampered bytes, replay, stale time, stream/packet subkeys),
 * the replay cache, the keyring (install/use/remove/list, validation), key
 * encoding and the keyring file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

#define T0 1700000000000ull

static void key(uint8_t *k, uint8_t v)
{
    for (int i = 0; i < GOSSIP_KEY_SIZE; i++)
        k[i] = (uint8_t)(v + i);
}

static struct keyring ring_with(uint8_t v)
{
    struct keyring kr;
    uint8_t k[GOSSIP_KEY_SIZE];
    gossip__keyring_init(&kr);
    key(k, v);
    assert_int_equal(gossip__keyring_install(&kr, k, sizeof(k)), 0);
    return kr;
}

static int seal(const struct keyring *kr,
                bool stream,
                const char *label,
                uint64_t t,
                const char *msg,
                uint8_t *out)
{
    return gossip__env_seal(&kr->keys[0], stream, label, strlen(label), t,
                            (const uint8_t *)msg, strlen(msg), out, 256);
}

static int open_(struct keyring *kr,
                 bool stream,
                 const char *label,
                 uint64_t now,
                 struct replay *rc,
                 const uint8_t *in,
                 size_t len,
                 uint8_t *out)
{
    int idx = -1;
    return gossip__env_open(kr, stream, label, strlen(label), now, 60000, rc,
                            in, len, out, 256, &idx);
}

static void envelope_round_trip(void **state)
{
    struct keyring kr = ring_with(1);
    struct replay rc;
    uint8_t ct[256], pt[256];
    int n, m, idx = -1;
    (void)state;
    gossip__replay_init(&rc, 60000);
    n = seal(&kr, false, "dc1", T0, "hello gossip", ct);
    assert_int_equal(n, 12 + ENV_OVERHEAD);
    assert_int_equal(ENV_OVERHEAD, 54);
    assert_int_equal(ct[0], 0xA1);
    assert_int_equal(ct[1], 0);
    /* key id in clear, big-endian */
    assert_int_equal(((uint32_t)ct[2] << 24 | (uint32_t)ct[3] << 16 |
                      (uint32_t)ct[4] << 8 | ct[5]),
                     kr.keys[0].id);
    m = gossip__env_open(&kr, false, "dc1", 3, T0 + 5, 60000, &rc, ct,
                         (size_t)n, pt, sizeof(pt), &idx);
    assert_int_equal(m, 12);
    assert_memory_equal(pt, "hello gossip", 12);
    assert_int_equal(idx, 0);
    gossip__replay_free(&rc);
    gossip__keyring_wipe(&kr);
}

static void envelope_wrong_key(void **state)
{
    struct keyring a = ring_with(1), b = ring_with(2), empty;
    uint8_t ct[256], pt[256];
    int n;
    (void)state;
    gossip__keyring_init(&empty);
    n = seal(&a, false, "", T0, "secret", ct);
    assert_int_equal(open_(&b, false, "", T0, NULL, ct, (size_t)n, pt),
                     GOSSIP_E_KEY_UNKNOWN);
    assert_int_equal(open_(&empty, false, "", T0, NULL, ct, (size_t)n, pt),
                     GOSSIP_E_NO_KEY);
    /* forged key ID: claims b's ID but was sealed with a's key */
    b.keys[0].id = a.keys[0].id;
    assert_int_equal(open_(&b, false, "", T0, NULL, ct, (size_t)n, pt),
                     GOSSIP_E_AUTH);
    gossip__keyring_wipe(&a);
    gossip__keyring_wipe(&b);
}

static void envelope_key_id_collision_tries_both(void **state)
{
    struct keyring kr = ring_with(1);
    uint8_t k2[GOSSIP_KEY_SIZE], ct[256], pt[256];
    int n, idx = -1;
    (void)state;
    key(k2, 2);
    assert_int_equal(gossip__keyring_install(&kr, k2, sizeof(k2)), 0);
    /* pretend both keys have the same ID; a packet sealed with the second
     * still opens */
    kr.keys[1].id = kr.keys[0].id;
    n = gossip__env_seal(&kr.keys[1], false, "", 0, T0, (const uint8_t *)"x", 1,
                         ct, sizeof(ct));
    assert_int_equal(gossip__env_open(&kr, false, "", 0, T0, 60000, NULL, ct,
                                      (size_t)n, pt, sizeof(pt), &idx),
                     1);
    assert_int_equal(idx, 1);
    gossip__keyring_wipe(&kr);
}

static void envelope_wrong_label(void **state)
{
    struct keyring kr = ring_with(3);
    uint8_t ct[256], pt[256];
    int n;
    (void)state;
    n = seal(&kr, false, "dc1", T0, "payload", ct);
    assert_int_equal(open_(&kr, false, "dc2", T0, NULL, ct, (size_t)n, pt),
                     GOSSIP_E_AUTH);
    assert_int_equal(open_(&kr, false, "", T0, NULL, ct, (size_t)n, pt),
                     GOSSIP_E_AUTH);
    assert_int_equal(open_(&kr, false, "dc1", T0, NULL, ct, (size_t)n, pt), 7);
    gossip__keyring_wipe(&kr);
}

static void envelope_tampered_bytes(void **state)
{
    struct keyring kr = ring_with(4);
    uint8_t ct[256], pt[256];
    int n;
    (void)state;
    n = seal(&kr, false, "", T0, "do not touch", ct);
    for (int i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            ct[i] ^= (uint8_t)(1u << bit);
            if (open_(&kr, false, "", T0, NULL, ct, (size_t)n, pt) >= 0)
                fail_msg("flip of byte %d bit %d accepted", i, bit);
            ct[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (int cut = 0; cut < n; cut++)
        assert_true(open_(&kr, false, "", T0, NULL, ct, (size_t)cut, pt) < 0);
    assert_true(open_(&kr, false, "", T0, NULL, ct, (size_t)n, pt) > 0);
    gossip__keyring_wipe(&kr);
}

static void envelope_replay_and_stale(void **state)
{
    struct keyring kr = ring_with(5);
    struct replay rc;
    uint8_t ct[256], pt[256];
    int n;
    (void)state;
    gossip__replay_init(&rc, 60000);
    n = seal(&kr, false, "", T0, "ack", ct);
    assert_int_equal(open_(&kr, false, "", T0 + 10, &rc, ct, (size_t)n, pt), 3);
    assert_int_equal(open_(&kr, false, "", T0 + 20, &rc, ct, (size_t)n, pt),
                     GOSSIP_E_REPLAY);
    /* still remembered near the end of the window */
    assert_int_equal(open_(&kr, false, "", T0 + 59000, &rc, ct, (size_t)n, pt),
                     GOSSIP_E_REPLAY);
    /* outside the window it is stale, whatever the cache says */
    assert_int_equal(open_(&kr, false, "", T0 + 61000, &rc, ct, (size_t)n, pt),
                     GOSSIP_E_STALE);
    /* from the future */
    n = seal(&kr, false, "", T0 + 120000, "late", ct);
    assert_int_equal(open_(&kr, false, "", T0, &rc, ct, (size_t)n, pt),
                     GOSSIP_E_STALE);
    gossip__replay_free(&rc);
    gossip__keyring_wipe(&kr);
}

static void envelope_stream_and_packet_keys_differ(void **state)
{
    struct keyring kr = ring_with(6);
    uint8_t ct[256], pt[256];
    int n;
    (void)state;
    n = seal(&kr, true, "", T0, "stream", ct);
    assert_int_equal(ct[1], PROTO_FLAG_STREAM);
    assert_int_equal(open_(&kr, false, "", T0, NULL, ct, (size_t)n, pt),
                     GOSSIP_E_INVALID);
    assert_int_equal(open_(&kr, true, "", T0, NULL, ct, (size_t)n, pt), 6);
    /* flag forced to "packet": the subkey differs, so it fails to
     * authenticate (the flag is also in the AAD) */
    ct[1] = 0;
    assert_int_equal(open_(&kr, false, "", T0, NULL, ct, (size_t)n, pt),
                     GOSSIP_E_AUTH);
    assert_memory_not_equal(kr.keys[0].pkt_key, kr.keys[0].stream_key, 32);
    assert_memory_not_equal(kr.keys[0].pkt_key, kr.keys[0].key, 32);
    gossip__keyring_wipe(&kr);
}

static void replay_cache_generations(void **state)
{
    struct replay rc;
    uint8_t nonce[24] = {1, 2, 3};
    (void)state;
    gossip__replay_init(&rc, 1000);
    assert_int_equal(gossip__replay_check(&rc, 5000, nonce), 0);
    assert_int_equal(gossip__replay_check(&rc, 6500, nonce), GOSSIP_E_REPLAY);
    assert_int_equal(gossip__replay_check(&rc, 7500, nonce), GOSSIP_E_REPLAY);
    /* forgotten after three windows */
    assert_int_equal(gossip__replay_check(&rc, 9100, nonce), 0);
    /* a full generation refuses instead of forgetting */
    rc.max_per_gen = 100;
    for (int i = 0; i < 99; i++) {
        nonce[5] = (uint8_t)i;
        nonce[6] = 0x55;
        assert_int_equal(gossip__replay_check(&rc, 9100, nonce), 0);
    }
    nonce[6] = 0x66;
    assert_int_equal(gossip__replay_check(&rc, 9100, nonce), GOSSIP_E_OVERSIZE);
    gossip__replay_free(&rc);
}

static void keyring_operations(void **state)
{
    struct keyring kr;
    uint8_t k1[32], k2[32], k3[32], big[GOSSIP_KEYRING_MAX + 1][32];
    (void)state;
    key(k1, 10);
    key(k2, 20);
    key(k3, 30);
    gossip__keyring_init(&kr);
    assert_int_equal(gossip__keyring_install(&kr, k1, 16), GOSSIP_E_KEY_SIZE);
    assert_int_equal(gossip__keyring_install(&kr, NULL, 32), GOSSIP_E_KEY_SIZE);
    assert_int_equal(gossip__keyring_use(&kr, k1, 32), GOSSIP_E_KEY_MISSING);
    assert_int_equal(gossip__keyring_install(&kr, k1, 32), 0);
    assert_int_equal(kr.n, 1);
    assert_memory_equal(kr.keys[0].key, k1, 32); /* first becomes primary */
    assert_int_equal(gossip__keyring_install(&kr, k1, 32), 0); /* no-op */
    assert_int_equal(kr.n, 1);
    assert_int_equal(gossip__keyring_install(&kr, k2, 32), 0);
    assert_int_equal(gossip__keyring_install(&kr, k3, 32), 0);
    assert_memory_equal(kr.keys[0].key, k1, 32); /* install != use */
    assert_int_equal(gossip__keyring_remove(&kr, k1, 32), GOSSIP_E_KEY_PRIMARY);
    assert_int_equal(gossip__keyring_use(&kr, k3, 32), 0);
    assert_memory_equal(kr.keys[0].key, k3, 32);
    assert_memory_equal(kr.keys[1].key, k1, 32);
    assert_memory_equal(kr.keys[2].key, k2, 32);
    assert_int_equal(kr.keys[0].id, gossip_key_id(k3));
    assert_int_equal(gossip__keyring_find_id(&kr, gossip_key_id(k2), 0), 2);
    assert_int_equal(gossip__keyring_find_id(&kr, 12345, 0), -1);
    assert_int_equal(gossip__keyring_remove(&kr, k1, 32), 0);
    assert_int_equal(kr.n, 2);
    assert_int_equal(gossip__keyring_remove(&kr, k1, 32), GOSSIP_E_KEY_MISSING);
    assert_memory_equal(kr.keys[1].key, k2, 32);
    /* the freed slot is wiped */
    {
        static const uint8_t zero[sizeof(struct gkey)];
        assert_memory_equal(&kr.keys[2], zero, sizeof(struct gkey));
    }
    gossip__keyring_wipe(&kr);
    assert_int_equal(kr.n, 0);
    /* capacity */
    gossip__keyring_init(&kr);
    for (int i = 0; i <= GOSSIP_KEYRING_MAX; i++) {
        key(big[i], (uint8_t)(100 + i));
        assert_int_equal(gossip__keyring_install(&kr, big[i], 32),
                         i < GOSSIP_KEYRING_MAX ? 0 : GOSSIP_E_KEYRING_FULL);
    }
    gossip__keyring_wipe(&kr);
}

static void key_encoding(void **state)
{
    uint8_t k[32], back[32];
    char b64[48];
    (void)state;
    gossip_keygen(k);
    gossip_key_encode(k, b64);
    assert_int_equal(strlen(b64), 44);
    assert_int_equal(gossip_key_decode(b64, back), 0);
    assert_memory_equal(k, back, 32);
    /* a 16-byte key (older Consul) is refused: we want 32 */
    assert_int_equal(gossip_key_decode("AAECAwQFBgcICQoLDA0ODw==", back),
                     GOSSIP_E_KEY_SIZE);
    assert_int_equal(gossip_key_decode("not base64!!", back), -EINVAL);
    assert_int_equal(gossip_key_decode("", back), GOSSIP_E_KEY_SIZE);
    assert_int_equal(gossip_key_decode(NULL, back), -EINVAL);
    /* known vector: 32 zero bytes */
    memset(k, 0, sizeof(k));
    gossip_key_encode(k, b64);
    assert_string_equal(b64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    {
        uint8_t a[32], b[32];
        gossip_keygen(a);
        gossip_keygen(b);
        assert_memory_not_equal(a, b, 32);
    }
}

static void keyring_file(void **state)
{
    char dir[] = "/tmp/gossip-keyring-XXXXXX", path[256];
    uint8_t keys[3][32], back[4][32];
    struct stat st;
    FILE *f;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/local.keyring", dir);
    for (int i = 0; i < 3; i++)
        gossip_keygen(keys[i]);
    assert_int_equal(gossip_keyring_save(path, (const uint8_t(*)[32])keys, 3),
                     0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(gossip_keyring_load(path, back, 4), 3);
    assert_memory_equal(back, keys, sizeof(keys));
    assert_int_equal(gossip_keyring_load(path, back, 2), -ENOSPC);
    /* junk and bad keys are refused */
    f = fopen(path, "w");
    fputs("[\"AAECAwQFBgcICQoLDA0ODw==\"]", f);
    fclose(f);
    assert_int_equal(gossip_keyring_load(path, back, 4), GOSSIP_E_KEY_SIZE);
    f = fopen(path, "w");
    fputs("{\"not\": \"an array\"}", f);
    fclose(f);
    assert_int_equal(gossip_keyring_load(path, back, 4), -EINVAL);
    f = fopen(path, "w");
    fputs("[]", f);
    fclose(f);
    assert_int_equal(gossip_keyring_load(path, back, 4), 0);
    assert_int_equal(gossip_keyring_load("/nonexistent/x", back, 4), -ENOENT);
    unlink(path);
    rmdir(dir);
}

/* The keyring through the public core API. */
static uint64_t env_now(void *d)
{
    (void)d;
    return 1;
}
static uint64_t env_random(void *d)
{
    (void)d;
    return 4;
}
static int env_send(void *d,
                    const struct gossip_addr *to,
                    const uint8_t *b,
                    size_t n)
{
    (void)d;
    (void)to;
    (void)b;
    (void)n;
    return 0;
}
static void env_timer_start(void *d, uint64_t at)
{
    (void)d;
    (void)at;
}
static void env_timer_stop(void *d)
{
    (void)d;
}

static void core_keyring_api(void **state)
{
    struct gossip_config cfg;
    struct gossip_env env = {.now = env_now,
                             .random = env_random,
                             .send = env_send,
                             .timer_start = env_timer_start,
                             .timer_stop = env_timer_stop};
    struct gossip *g;
    uint8_t k[2][32];
    struct gossip_key_info ki[4];
    (void)state;
    key(k[0], 50);
    key(k[1], 60);
    gossip_config_init(&cfg, GOSSIP_PROFILE_LAN);
    cfg.name = "k";
    assert_int_equal(gossip_addr_parse("127.0.0.1:1", 0, &cfg.addr), 0);
    cfg.keys = (const uint8_t(*)[32])k;
    cfg.nkeys = 1;
    assert_int_equal(gossip_new(&cfg, &env, &g), 0);
    assert_int_equal(gossip_keyring_list(g, ki, 4), 1);
    assert_true(ki[0].primary);
    assert_int_equal(ki[0].key_id, gossip_key_id(k[0]));
    assert_int_equal(gossip_keyring_use(g, k[1]), GOSSIP_E_KEY_MISSING);
    assert_int_equal(gossip_keyring_install(g, k[1]), 0);
    assert_int_equal(gossip_keyring_use(g, k[1]), 0);
    assert_int_equal(gossip_keyring_list(g, ki, 4), 2);
    assert_memory_equal(ki[0].key, k[1], 32);
    assert_true(ki[0].primary);
    assert_false(ki[1].primary);
    assert_int_equal(gossip_keyring_remove(g, k[1]), GOSSIP_E_KEY_PRIMARY);
    assert_int_equal(gossip_keyring_remove(g, k[0]), 0);
    assert_int_equal(gossip_keyring_list(g, ki, 4), 1);
    gossip_delete(g);
    /* a bad key in the config is refused */
    cfg.nkeys = GOSSIP_KEYRING_MAX + 1;
    assert_int_equal(gossip_new(&cfg, &env, &g), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envelope_round_trip),
        cmocka_unit_test(envelope_wrong_key),
        cmocka_unit_test(envelope_key_id_collision_tries_both),
        cmocka_unit_test(envelope_wrong_label),
        cmocka_unit_test(envelope_tampered_bytes),
        cmocka_unit_test(envelope_replay_and_stale),
        cmocka_unit_test(envelope_stream_and_packet_keys_differ),
        cmocka_unit_test(replay_cache_generations),
        cmocka_unit_test(keyring_operations),
        cmocka_unit_test(key_encoding),
        cmocka_unit_test(keyring_file),
        cmocka_unit_test(core_keyring_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
