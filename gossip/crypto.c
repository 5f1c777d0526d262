/*
 * crypto.c — keyring, the packet/stream envelope and the replay cache
 * (spec/gossip.md 4.3), all on libsodium.
 *
 * Envelope v1, big-endian:
 *   off len
 *    0   1  0xA1 (family A, version 1)
 *    1   1  flags: bit1 stream (others reserved, must be 0)
 *    2   4  key_id = first 4 bytes of BLAKE2b-256(key || "gossip-key-id-v1")
 *    6   8  sender wall clock, unix ms
 *   14  24  nonce (random; XChaCha20 makes random nonces safe forever)
 *   38   n  ciphertext, then a 16-byte Poly1305 tag
 *   AAD = bytes[0..38) || cluster label (the label is never sent)
 * Datagrams and streams use different subkeys derived with crypto_kdf, so a
 * key never serves two purposes. The key ID selects the key in O(1) instead
 * of memberlist's trial decryption; on an ID collision every key with that
 * ID is tried.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define KDF_CTX "gossipv1"
#define KEY_ID_CTX "gossip-key-id-v1"

static void sodium_once(void)
{
    /* Idempotent and thread-safe; -1 only if no entropy source exists: we
     * must not run with weak nonces. */
    if (sodium_init() < 0)
        abort();
}

GOSSIP_API uint32_t gossip_key_id(const uint8_t key[GOSSIP_KEY_SIZE])
{
    crypto_generichash_state st;
    uint8_t h[32];
    uint32_t id;
    sodium_once();
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, key, GOSSIP_KEY_SIZE);
    crypto_generichash_update(&st, (const uint8_t *)KEY_ID_CTX,
                              strlen(KEY_ID_CTX));
    crypto_generichash_final(&st, h, sizeof(h));
    id = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) |
         ((uint32_t)h[2] << 8) | h[3];
    sodium_memzero(&st, sizeof(st));
    return id;
}

GOSSIP_API void gossip_keygen(uint8_t key[GOSSIP_KEY_SIZE])
{
    sodium_once();
    randombytes_buf(key, GOSSIP_KEY_SIZE);
}

GOSSIP_API int gossip_key_decode(const char *b64, uint8_t key[GOSSIP_KEY_SIZE])
{
    uint8_t tmp[64];
    size_t n = 0;
    const char *end = NULL;
    sodium_once();
    if (!b64)
        return -EINVAL;
    if (sodium_base642bin(tmp, sizeof(tmp), b64, strlen(b64), NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        (end && *end)) {
        sodium_memzero(tmp, sizeof(tmp));
        return -EINVAL;
    }
    if (n != GOSSIP_KEY_SIZE) {
        sodium_memzero(tmp, sizeof(tmp));
        return GOSSIP_E_KEY_SIZE;
    }
    memcpy(key, tmp, GOSSIP_KEY_SIZE);
    sodium_memzero(tmp, sizeof(tmp));
    return 0;
}

GOSSIP_API void gossip_key_encode(const uint8_t key[GOSSIP_KEY_SIZE],
                                  char out[48])
{
    sodium_bin2base64(out, 48, key, GOSSIP_KEY_SIZE,
                      sodium_base64_VARIANT_ORIGINAL);
}

/* ---- keyring ------------------------------------------------------------- */

void gossip__keyring_init(struct keyring *kr)
{
    sodium_once();
    memset(kr, 0, sizeof(*kr));
}

void gossip__keyring_wipe(struct keyring *kr)
{
    sodium_memzero(kr, sizeof(*kr));
}

static int keyring_find(const struct keyring *kr, const uint8_t *key)
{
    for (size_t i = 0; i < kr->n; i++)
        if (sodium_memcmp(kr->keys[i].key, key, GOSSIP_KEY_SIZE) == 0)
            return (int)i;
    return -1;
}

int gossip__keyring_install(struct keyring *kr, const uint8_t *key, size_t len)
{
    struct gkey *k;
    if (!key || len != GOSSIP_KEY_SIZE)
        return GOSSIP_E_KEY_SIZE;
    if (keyring_find(kr, key) >= 0)
        return 0;
    if (kr->n >= GOSSIP_KEYRING_MAX)
        return GOSSIP_E_KEYRING_FULL;
    k = &kr->keys[kr->n];
    memset(k, 0, sizeof(*k));
    memcpy(k->key, key, GOSSIP_KEY_SIZE);
    crypto_kdf_derive_from_key(k->pkt_key, sizeof(k->pkt_key), 1, KDF_CTX,
                               k->key);
    crypto_kdf_derive_from_key(k->stream_key, sizeof(k->stream_key), 2, KDF_CTX,
                               k->key);
    k->id = gossip_key_id(key);
    kr->n++;
    return 0;
}

int gossip__keyring_use(struct keyring *kr, const uint8_t *key, size_t len)
{
    int i;
    struct gkey tmp;
    if (!key || len != GOSSIP_KEY_SIZE)
        return GOSSIP_E_KEY_SIZE;
    i = keyring_find(kr, key);
    if (i < 0)
        return GOSSIP_E_KEY_MISSING;
    if (i == 0)
        return 0;
    /* Move to the front, keeping the order of the others. */
    tmp = kr->keys[i];
    memmove(&kr->keys[1], &kr->keys[0], (size_t)i * sizeof(struct gkey));
    kr->keys[0] = tmp;
    sodium_memzero(&tmp, sizeof(tmp));
    return 0;
}

int gossip__keyring_remove(struct keyring *kr, const uint8_t *key, size_t len)
{
    int i;
    if (!key || len != GOSSIP_KEY_SIZE)
        return GOSSIP_E_KEY_SIZE;
    i = keyring_find(kr, key);
    if (i < 0)
        return GOSSIP_E_KEY_MISSING;
    if (i == 0)
        return GOSSIP_E_KEY_PRIMARY;
    memmove(&kr->keys[i], &kr->keys[i + 1],
            (kr->n - (size_t)i - 1) * sizeof(struct gkey));
    kr->n--;
    sodium_memzero(&kr->keys[kr->n], sizeof(struct gkey));
    return 0;
}

int gossip__keyring_find_id(const struct keyring *kr, uint32_t id, size_t from)
{
    for (size_t i = from; i < kr->n; i++)
        if (kr->keys[i].id == id)
            return (int)i;
    return -1;
}

/* ---- replay cache -------------------------------------------------------- */

void gossip__replay_init(struct replay *r, uint32_t window_ms)
{
    memset(r, 0, sizeof(*r));
    r->window = window_ms ? window_ms : 60000;
    r->max_per_gen = 1u << 16;
}

static void nset_free(struct nonce_set *s)
{
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

void gossip__replay_free(struct replay *r)
{
    for (int i = 0; i < 3; i++)
        nset_free(&r->gen[i]);
}

static bool nset_has(const struct nonce_set *s, uint64_t v)
{
    if (!s->cap)
        return false;
    for (size_t i = v & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == v)
            return true;
        if (s->slots[i] == 0)
            return false;
    }
}

static void nset_put_raw(struct nonce_set *s, uint64_t v)
{
    size_t i = v & (s->cap - 1);
    while (s->slots[i] != 0)
        i = (i + 1) & (s->cap - 1);
    s->slots[i] = v;
    s->n++;
}

static int nset_add(struct nonce_set *s, uint64_t v, size_t max)
{
    if (s->n >= max)
        return GOSSIP_E_OVERSIZE;
    if ((s->n + 1) * 2 > s->cap) {
        struct nonce_set ns;
        ns.cap = s->cap ? s->cap * 2 : 256;
        ns.n = 0;
        ns.slots = calloc(ns.cap, sizeof(uint64_t));
        if (!ns.slots)
            return -ENOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i])
                nset_put_raw(&ns, s->slots[i]);
        free(s->slots);
        *s = ns;
    }
    nset_put_raw(s, v);
    return 0;
}

int gossip__replay_check(struct replay *r,
                         uint64_t now_ms,
                         const uint8_t nonce[24])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | nonce[i];
    if (v == 0)
        v = 1;
    if (r->gen_start == 0)
        r->gen_start = now_ms;
    while (now_ms >= r->gen_start + r->window) {
        if (now_ms >= r->gen_start + 4ull * r->window) {
            for (int i = 0; i < 3; i++)
                nset_free(&r->gen[i]);
            r->gen_start = now_ms;
            break;
        }
        nset_free(&r->gen[2]);
        r->gen[2] = r->gen[1];
        r->gen[1] = r->gen[0];
        memset(&r->gen[0], 0, sizeof(r->gen[0]));
        r->gen_start += r->window;
    }
    for (int i = 0; i < 3; i++)
        if (nset_has(&r->gen[i], v))
            return GOSSIP_E_REPLAY;
    return nset_add(&r->gen[0], v, r->max_per_gen);
}

/* ---- envelope ------------------------------------------------------------ */

/* Nonces come from a per-thread pool refilled 128 at a time, so sealing a
 * datagram costs no getrandom() system call. A forked child must never
 * reuse the parent's pool (same key + same nonce breaks the AEAD), so the
 * pool is emptied in the child. */
#define NONCE_POOL 128
static __thread uint8_t nonce_pool[NONCE_POOL * 24];
static __thread size_t nonce_left;
static pthread_once_t nonce_once = PTHREAD_ONCE_INIT;

static void nonce_child(void)
{
    sodium_memzero(nonce_pool, sizeof(nonce_pool));
    nonce_left = 0;
}

static void nonce_init(void)
{
    pthread_atfork(NULL, NULL, nonce_child);
}

static void next_nonce(uint8_t out[24])
{
    pthread_once(&nonce_once, nonce_init);
    if (nonce_left == 0) {
        randombytes_buf(nonce_pool, sizeof(nonce_pool));
        nonce_left = NONCE_POOL;
    }
    nonce_left--;
    memcpy(out, nonce_pool + nonce_left * 24, 24);
    sodium_memzero(nonce_pool + nonce_left * 24, 24);
}

void gossip__label_tag(const char *label, size_t len, uint8_t out[4])
{
    uint8_t h[16];
    sodium_once();
    crypto_generichash(h, sizeof(h), (const uint8_t *)label, len,
                       (const uint8_t *)"gossip-label-v1", 15);
    memcpy(out, h, 4);
}

static size_t make_aad(uint8_t *aad,
                       const uint8_t *hdr,
                       const char *label,
                       size_t label_len)
{
    memcpy(aad, hdr, ENV_HDR_LEN);
    if (label_len)
        memcpy(aad + ENV_HDR_LEN, label, label_len);
    return ENV_HDR_LEN + label_len;
}

int gossip__env_seal(const struct gkey *k,
                     bool stream,
                     const char *label,
                     size_t label_len,
                     uint64_t wall_ms,
                     const uint8_t *pt,
                     size_t len,
                     uint8_t *out,
                     size_t cap)
{
    uint8_t aad[ENV_HDR_LEN + GOSSIP_LABEL_MAX];
    unsigned long long clen = 0;
    if (label_len > GOSSIP_LABEL_MAX)
        return GOSSIP_E_OVERSIZE;
    if (cap < ENV_OVERHEAD || len > cap - ENV_OVERHEAD)
        return GOSSIP_E_OVERSIZE;
    sodium_once();
    out[0] = PROTO_ENV_MAGIC;
    out[1] = stream ? PROTO_FLAG_STREAM : 0;
    for (int i = 0; i < 4; i++)
        out[2 + i] = (uint8_t)(k->id >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        out[6 + i] = (uint8_t)(wall_ms >> (56 - 8 * i));
    next_nonce(out + 14);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + ENV_HDR_LEN, &clen, pt, len, aad,
        make_aad(aad, out, label, label_len), NULL, out + 14,
        stream ? k->stream_key : k->pkt_key);
    return (int)(ENV_HDR_LEN + clen);
}

int gossip__env_open(struct keyring *kr,
                     bool stream,
                     const char *label,
                     size_t label_len,
                     uint64_t wall_now,
                     uint32_t window,
                     struct replay *rc,
                     const uint8_t *in,
                     size_t len,
                     uint8_t *out,
                     size_t cap,
                     int *key_idx)
{
    uint8_t aad[ENV_HDR_LEN + GOSSIP_LABEL_MAX];
    size_t aad_len;
    uint32_t id = 0;
    uint64_t sent = 0;
    unsigned long long mlen = 0;
    int idx, rc_err;

    if (len < 1)
        return GOSSIP_E_TRUNCATED;
    if (in[0] != PROTO_ENV_MAGIC)
        return GOSSIP_E_VERSION;
    if (len < ENV_OVERHEAD)
        return GOSSIP_E_TRUNCATED;
    if (in[1] != (stream ? PROTO_FLAG_STREAM : 0))
        return GOSSIP_E_INVALID;
    if (label_len > GOSSIP_LABEL_MAX)
        return GOSSIP_E_OVERSIZE;
    if (cap < len - ENV_OVERHEAD)
        return GOSSIP_E_OVERSIZE;
    for (int i = 0; i < 4; i++)
        id = (id << 8) | in[2 + i];
    for (int i = 0; i < 8; i++)
        sent = (sent << 8) | in[6 + i];
    if (!kr || kr->n == 0)
        return GOSSIP_E_NO_KEY;
    idx = gossip__keyring_find_id(kr, id, 0);
    if (idx < 0)
        return GOSSIP_E_KEY_UNKNOWN;
    aad_len = make_aad(aad, in, label, label_len);
    for (;;) {
        const struct gkey *k = &kr->keys[idx];
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                out, &mlen, NULL, in + ENV_HDR_LEN, len - ENV_HDR_LEN, aad,
                aad_len, in + 14, stream ? k->stream_key : k->pkt_key) == 0)
            break;
        idx = gossip__keyring_find_id(kr, id, (size_t)idx + 1);
        if (idx < 0)
            return GOSSIP_E_AUTH;
    }
    /* Authentic; now the replay defences (the time is authenticated). */
    if (sent + window < wall_now || sent > wall_now + window)
        return GOSSIP_E_STALE;
    if (rc) {
        rc_err = gossip__replay_check(rc, wall_now, in + 14);
        if (rc_err)
            return rc_err;
    }
    *key_idx = idx;
    return (int)mlen;
}

/* ---- keyring file -------------------------------------------------------- */

GOSSIP_API int gossip_keyring_save(const char *path,
                                   const uint8_t (*keys)[GOSSIP_KEY_SIZE],
                                   size_t n)
{
    char tmp[4096];
    char b64[48];
    int fd, rc = 0;
    FILE *f;

    if (!path || n > GOSSIP_KEYRING_MAX || (n && !keys))
        return -EINVAL;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    (void)fchmod(fd, 0600);
    f = fdopen(fd, "w");
    if (!f) {
        rc = -errno;
        close(fd);
        unlink(tmp);
        return rc;
    }
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        gossip_key_encode(keys[i], b64);
        fprintf(f, "%s\"%s\"", i ? "," : "", b64);
    }
    fputs("]\n", f);
    sodium_memzero(b64, sizeof(b64));
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = -errno;
    if (fclose(f) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

GOSSIP_API int gossip_keyring_load(const char *path,
                                   uint8_t (*keys)[GOSSIP_KEY_SIZE],
                                   size_t max)
{
    char buf[8192];
    size_t len, n = 0;
    char *p;
    int rc = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    len = fread(buf, 1, sizeof(buf) - 1, f);
    if (!feof(f))
        rc = ferror(f) ? -EIO : -EFBIG;
    fclose(f);
    if (rc)
        return rc;
    buf[len] = 0;
    p = buf;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    if (*p++ != '[') {
        rc = -EINVAL;
        goto out;
    }
    for (;;) {
        char *q;
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ',')
            p++;
        if (*p == ']')
            break;
        if (*p != '"') {
            rc = -EINVAL;
            goto out;
        }
        q = strchr(++p, '"');
        if (!q) {
            rc = -EINVAL;
            goto out;
        }
        *q = 0;
        if (n >= max) {
            rc = -ENOSPC;
            goto out;
        }
        rc = gossip_key_decode(p, keys[n]);
        if (rc)
            goto out;
        n++;
        p = q + 1;
    }
out:
    sodium_memzero(buf, sizeof(buf));
    return rc ? rc : (int)n;
}
