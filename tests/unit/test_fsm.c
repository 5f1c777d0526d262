/* Unit tests for the FSM: applying encoded commands at Raft indexes,
 * skipping undecodable entries, waking watchers, and snapshot encode /
 * restore (including malformed snapshots, which must change nothing). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd.h"
#include "fsm.h"
#include "json.h"

static void apply_op(struct fsm *f, struct kv_op op, uint64_t index)
{
    struct cmd c = {.type = CMD_KV_TXN, .ops = &op, .n_ops = 1};
    size_t len = cmd_encoded_size(&c);
    void *buf = malloc(len);
    cmd_encode(&c, buf);
    assert_int_equal(fsm_apply_at(f, buf, len, index), 0);
    free(buf);
}

static void set(struct fsm *f, const char *k, const char *v, uint64_t index)
{
    apply_op(f,
             (struct kv_op){.verb = KV_SET,
                            .key = k,
                            .value = (const uint8_t *)v,
                            .value_len = strlen(v),
                            .flags = UINT64_MAX},
             index);
}

static void apply_uses_raft_index_as_consul_index(void **state)
{
    (void)state;
    struct fsm f;
    assert_int_equal(fsm_init(&f), 0);
    set(&f, "a", "1", 5);
    set(&f, "a", "2", 9);
    const struct kv_entry *e = kv_get(f.kv, "a");
    assert_non_null(e);
    assert_int_equal(e->create_index, 5);
    assert_int_equal(e->modify_index, 9);
    assert_int_equal(f.index, 9);
    assert_int_equal(f.last.index, 9);
    assert_int_equal(f.last.rc, 0);
    fsm_close(&f);
}

static void failed_cas_reports_rollback(void **state)
{
    (void)state;
    struct fsm f;
    fsm_init(&f);
    set(&f, "a", "1", 3);
    apply_op(&f, (struct kv_op){.verb = KV_CAS, .key = "a", .index = 2}, 4);
    assert_int_equal(f.last.rc, 1);
    assert_int_equal(f.last.txn.n_errors, 1);
    assert_int_equal(kv_get(f.kv, "a")->modify_index, 3);
    fsm_close(&f);
}

static void undecodable_entry_is_skipped(void **state)
{
    (void)state;
    struct fsm f;
    fsm_init(&f);
    uint8_t junk[16] = {0xff, 1, 2, 3};
    assert_int_equal(fsm_apply_at(&f, junk, sizeof junk, 7), -EINVAL);
    assert_int_equal(kv_count(f.kv), 0);
    set(&f, "b", "x", 8); /* the state machine goes on */
    assert_non_null(kv_get(f.kv, "b"));
    fsm_close(&f);
}

static int woke;
static void on_wake(struct watch_waiter *w)
{
    (void)w;
    woke++;
}

static void apply_wakes_watchers_of_changed_keys(void **state)
{
    (void)state;
    struct fsm f;
    fsm_init(&f);
    struct watch_waiter exact = {.cb = on_wake}, other = {.cb = on_wake};
    watch_add(f.kv_watch, "cfg/a", false, &exact);
    watch_add(f.kv_watch, "other/", true, &other);
    woke = 0;
    set(&f, "cfg/a", "1", 2);
    assert_int_equal(woke, 1);
    assert_int_equal(watch_count(f.kv_watch), 1); /* "other/" still parked */
    watch_remove(&other);
    fsm_close(&f);
}

static void snapshot_round_trip_keeps_everything(void **state)
{
    (void)state;
    struct fsm f, g;
    fsm_init(&f);
    fsm_init(&g);
    set(&f, "a", "1", 2);
    set(&f, "b/c", "", 3);
    apply_op(&f,
             (struct kv_op){.verb = KV_SET,
                            .key = "d",
                            .value = (const uint8_t *)"bin\0ary",
                            .value_len = 7,
                            .flags = UINT64_MAX},
             4);
    apply_op(&f, (struct kv_op){.verb = KV_DELETE, .key = "a"}, 5);

    size_t n = kv_count(f.kv) + kv_tombstones(f.kv);
    struct kv_entry **es = calloc(n, sizeof *es);
    size_t i = 0;
    for (const struct kv_entry *e = kv_seek(f.kv, ""); e; e = kv_next(f.kv, e))
        es[i++] = kv_entry_ref(e);
    assert_int_equal(i, n);
    void *buf;
    size_t len;
    struct catalog_pin *pin = catalog_pin(f.catalog);
    assert_non_null(pin);
    assert_int_equal(
        fsm_encode_snapshot(es, n, kv_index(f.kv), f.index, pin, &buf, &len),
        0);
    catalog_pin_free(pin);
    for (i = 0; i < n; i++)
        kv_entry_unref(es[i]);
    free(es);

    assert_int_equal(fsm_restore_buf(&g, buf, len), 0);
    assert_int_equal(kv_count(g.kv), 2);
    assert_int_equal(kv_tombstones(g.kv), 1);
    assert_int_equal(kv_index(g.kv), 5);
    assert_int_equal(g.index, 5);
    assert_null(kv_get(g.kv, "a"));
    const struct kv_entry *e = kv_get(g.kv, "d");
    assert_non_null(e);
    assert_int_equal(e->value_len, 7);
    assert_memory_equal(e->value, "bin\0ary", 7);
    assert_true(e->flags == UINT64_MAX);
    assert_int_equal(e->create_index, 4);
    assert_int_equal(kv_get(g.kv, "b/c")->value_len, 0);
    assert_int_equal(kv_prefix_index(g.kv, "a"), 5); /* tombstone kept */

    /* Every truncation is rejected and leaves the store as it was. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(fsm_restore_buf(&g, buf, cut), -EINVAL);
    assert_int_equal(kv_count(g.kv), 2);
    /* A corrupted magic or an entry length pointing past the end too. */
    ((uint8_t *)buf)[0] ^= 1;
    assert_int_equal(fsm_restore_buf(&g, buf, len), -EINVAL);
    ((uint8_t *)buf)[0] ^= 1;
    ((uint8_t *)buf)[32 + 4] = 0xff;
    assert_int_equal(fsm_restore_buf(&g, buf, len), -EINVAL);
    assert_int_equal(kv_count(g.kv), 2);
    free(buf);
    fsm_close(&f);
    fsm_close(&g);
}

static void raft_snapshot_callbacks_pin_entries(void **state)
{
    (void)state;
    struct fsm f, g;
    fsm_init(&f);
    fsm_init(&g);
    set(&f, "k", "old", 2);
    struct raft_buffer *bufs = NULL;
    unsigned n_bufs = 0;
    assert_int_equal(f.raft_fsm.snapshot(&f.raft_fsm, &bufs, &n_bufs), 0);
    set(&f, "k", "new", 3); /* a write while the snapshot is in progress */
    assert_int_equal(f.raft_fsm.snapshot_async(&f.raft_fsm, &bufs, &n_bufs),
                     0);
    assert_int_equal(n_bufs, 1);
    assert_int_equal(fsm_restore_buf(&g, bufs[0].base, bufs[0].len), 0);
    const struct kv_entry *e = kv_get(g.kv, "k");
    assert_int_equal(e->value_len, 3);
    assert_memory_equal(e->value, "old", 3); /* the state at snapshot time */
    assert_int_equal(f.raft_fsm.snapshot_finalize(&f.raft_fsm, &bufs, &n_bufs),
                     0);
    assert_null(bufs);
    fsm_close(&f);
    fsm_close(&g);
}

/* ---- Catalog commands ---- */

static void apply_catalog(struct fsm *f, enum cmd_type type, const char *body,
                          uint64_t index)
{
    struct cmd c = {.type = type,
                    .payload = (const uint8_t *)body,
                    .payload_len = strlen(body)};
    size_t len = cmd_encoded_size(&c);
    void *buf = malloc(len);
    cmd_encode(&c, buf);
    assert_int_equal(fsm_apply_at(f, buf, len, index), 0);
    free(buf);
}

static void catalog_commands_apply_and_wake_watchers(void **state)
{
    (void)state;
    struct fsm f;
    assert_int_equal(fsm_init(&f), 0);
    struct watch_waiter web = {.cb = on_wake}, db = {.cb = on_wake},
                        node = {.cb = on_wake};
    watch_add(f.catalog_watch, "svc:web", false, &web);
    watch_add(f.catalog_watch, "svc:db", false, &db);
    watch_add(f.catalog_watch, "node:n1", false, &node);
    woke = 0;
    apply_catalog(&f, CMD_CATALOG_REGISTER,
                  "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Service\":"
                  "{\"Service\":\"Web\",\"Port\":80}}",
                  4);
    assert_int_equal(f.last.rc, 0);
    assert_string_equal(f.last.err, "");
    assert_int_equal(f.last.index, 4);
    assert_int_equal(f.index, 4);
    assert_int_equal(woke, 2); /* svc:web and node:n1, not svc:db */
    assert_int_equal(watch_count(f.catalog_watch), 1);
    assert_int_equal(watch_count(f.kv_watch), 0);
    uint64_t ix;
    json_object *a = catalog_health_service(f.catalog, "web", &ix);
    assert_int_equal(json_object_array_length(a), 1);
    assert_int_equal(ix, 4);
    json_object_put(a);

    /* A request that fails validation is skipped with Consul's message. */
    apply_catalog(&f, CMD_CATALOG_REGISTER, "{\"Address\":\"1.2.3.4\"}", 5);
    assert_int_equal(f.last.rc, -EINVAL);
    assert_string_equal(f.last.err, "Must provide node");
    assert_int_equal(f.last.index, 5);
    apply_catalog(&f, CMD_CATALOG_REGISTER, "{\"Node\":", 6);
    assert_int_equal(f.last.rc, -EINVAL);
    assert_non_null(strstr(f.last.err, "Request decode failed"));
    apply_catalog(&f, CMD_CATALOG_DEREGISTER, "", 7);
    assert_int_equal(f.last.rc, -EINVAL);
    assert_int_equal(catalog_index(f.catalog), 4);
    assert_int_equal(woke, 2);

    /* The next command clears the error. */
    apply_catalog(&f, CMD_CATALOG_DEREGISTER, "{\"Node\":\"n1\"}", 8);
    assert_int_equal(f.last.rc, 0);
    assert_string_equal(f.last.err, "");
    assert_null(catalog_get_node(f.catalog, "n1"));
    watch_remove(&db);
    fsm_close(&f);
}

/* Encodes f's whole store as the raft snapshot callbacks would. */
static void *snapshot_of(struct fsm *f, size_t *len)
{
    struct raft_buffer *bufs = NULL;
    unsigned n_bufs = 0;
    assert_int_equal(f->raft_fsm.snapshot(&f->raft_fsm, &bufs, &n_bufs), 0);
    assert_int_equal(f->raft_fsm.snapshot_async(&f->raft_fsm, &bufs, &n_bufs),
                     0);
    void *copy = malloc(bufs[0].len);
    memcpy(copy, bufs[0].base, bufs[0].len);
    *len = bufs[0].len;
    assert_int_equal(f->raft_fsm.snapshot_finalize(&f->raft_fsm, &bufs,
                                                   &n_bufs),
                     0);
    return copy;
}

static char *catalog_dump(struct fsm *f)
{
    json_object *all = json_object_new_array();
    json_object_array_add(all, catalog_nodes(f->catalog, NULL));
    json_object_array_add(all, catalog_health_state(f->catalog, "any", NULL,
                                                    NULL));
    json_object_array_add(all, catalog_health_service(f->catalog, "web", NULL));
    json_object_array_add(all, catalog_services(f->catalog, NULL));
    char *s = json_dump(all, false, NULL);
    json_object_put(all);
    return s;
}

static void snapshot_round_trip_keeps_the_catalog(void **state)
{
    (void)state;
    struct fsm f, g;
    fsm_init(&f);
    fsm_init(&g);
    set(&f, "k", "v", 2);
    apply_catalog(&f, CMD_CATALOG_REGISTER,
                  "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Service\":"
                  "{\"Service\":\"web\",\"Tags\":[\"a\"]},\"Check\":"
                  "{\"Name\":\"ttl\",\"ServiceID\":\"web\"}}",
                  3);
    apply_catalog(&f, CMD_CATALOG_REGISTER,
                  "{\"Node\":\"n2\",\"Address\":\"10.0.0.2\",\"Service\":"
                  "{\"Service\":\"web\"}}",
                  5);
    char *want = catalog_dump(&f);

    /* A write after the pin is not in the snapshot. */
    struct raft_buffer *bufs = NULL;
    unsigned n_bufs = 0;
    assert_int_equal(f.raft_fsm.snapshot(&f.raft_fsm, &bufs, &n_bufs), 0);
    apply_catalog(&f, CMD_CATALOG_DEREGISTER, "{\"Node\":\"n1\"}", 6);
    assert_int_equal(f.raft_fsm.snapshot(&f.raft_fsm, &bufs, &n_bufs),
                     RAFT_BUSY);
    assert_int_equal(f.raft_fsm.snapshot_async(&f.raft_fsm, &bufs, &n_bufs),
                     0);
    assert_memory_equal(bufs[0].base, "CAIRNSN2", 8);

    struct watch_waiter w = {.cb = on_wake};
    watch_add(g.catalog_watch, "svc:web", false, &w);
    woke = 0;
    assert_int_equal(fsm_restore_buf(&g, bufs[0].base, bufs[0].len), 0);
    assert_int_equal(woke, 1);
    assert_int_equal(g.index, 5);
    assert_non_null(kv_get(g.kv, "k"));
    char *got = catalog_dump(&g);
    assert_string_equal(got, want);
    free(got);
    uint64_t ix;
    json_object_put(catalog_health_service(g.catalog, "web", &ix));
    assert_int_equal(ix, 5);
    assert_int_equal(f.raft_fsm.snapshot_finalize(&f.raft_fsm, &bufs, &n_bufs),
                     0);

    /* A second snapshot can be taken once the first is finalized. */
    size_t len;
    void *buf = snapshot_of(&f, &len);
    assert_int_equal(fsm_restore_buf(&g, buf, len), 0);
    assert_null(catalog_get_node(g.catalog, "n1"));
    assert_non_null(catalog_get_node(g.catalog, "n2"));
    free(buf);
    free(want);
    fsm_close(&f);
    fsm_close(&g);
}

static void malformed_catalog_section_is_rejected_with_no_change(void **state)
{
    (void)state;
    struct fsm f, g;
    fsm_init(&f);
    fsm_init(&g);
    set(&f, "k", "new", 2);
    apply_catalog(&f, CMD_CATALOG_REGISTER,
                  "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Service\":"
                  "{\"Service\":\"web\"}}",
                  3);
    size_t len;
    uint8_t *buf = snapshot_of(&f, &len);

    set(&g, "k", "old", 7);
    apply_catalog(&g, CMD_CATALOG_REGISTER,
                  "{\"Node\":\"g1\",\"Address\":\"10.0.0.9\"}", 8);
    char *want = catalog_dump(&g);

    /* Find the catalog section: it starts with {"Index". */
    const char *needle = "{\"Index\"";
    size_t at = 0;
    for (size_t i = 0; i + 8 <= len; i++) {
        if (memcmp(buf + i, needle, strlen(needle)) == 0) {
            at = i;
            break;
        }
    }
    assert_true(at > 8);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(fsm_restore_buf(&g, buf, cut), -EINVAL);
    /* Valid length, corrupted JSON. */
    buf[at + 1] = '!';
    assert_int_equal(fsm_restore_buf(&g, buf, len), -EINVAL);
    buf[at + 1] = '"';
    /* Length field off by one either way. */
    buf[at - 8]++;
    assert_int_equal(fsm_restore_buf(&g, buf, len), -EINVAL);
    buf[at - 8] -= 2;
    assert_int_equal(fsm_restore_buf(&g, buf, len), -EINVAL);
    buf[at - 8]++;
    /* Well-formed JSON of the wrong shape. */
    uint8_t *bad = malloc(len + 64);
    memcpy(bad, buf, at - 8);
    const char *doc = "{\"Index\":1}";
    uint8_t *q = bad + at - 8;
    uint64_t dl = strlen(doc);
    for (int b = 0; b < 8; b++)
        q[b] = (uint8_t)(dl >> (8 * b));
    memcpy(q + 8, doc, dl);
    assert_int_equal(fsm_restore_buf(&g, bad, at + dl), -EINVAL);
    free(bad);

    const struct kv_entry *e = kv_get(g.kv, "k");
    assert_memory_equal(e->value, "old", 3);
    assert_int_equal(g.index, 8);
    char *got = catalog_dump(&g);
    assert_string_equal(got, want);
    free(got);

    /* The untouched buffer still restores. */
    assert_int_equal(fsm_restore_buf(&g, buf, len), 0);
    assert_memory_equal(kv_get(g.kv, "k")->value, "new", 3);
    assert_non_null(catalog_get_node(g.catalog, "n1"));
    assert_null(catalog_get_node(g.catalog, "g1"));
    free(want);
    free(buf);
    fsm_close(&f);
    fsm_close(&g);
}

static void kv_only_snapshots_are_still_accepted(void **state)
{
    (void)state;
    struct fsm f, g;
    fsm_init(&f);
    fsm_init(&g);
    set(&f, "a", "1", 4);
    size_t len;
    uint8_t *buf = snapshot_of(&f, &len);
    /* CAIRNSN1 = the same without the catalog section: the KV section of
     * an empty-catalog snapshot ends where "{"Index" begins, 8 bytes
     * after its length. */
    const char *needle = "{\"Index\"";
    size_t at = 0;
    for (size_t i = 0; i + 8 <= len; i++) {
        if (memcmp(buf + i, needle, strlen(needle)) == 0) {
            at = i;
            break;
        }
    }
    assert_true(at > 8);
    memcpy(buf, "CAIRNSN1", 8);
    apply_catalog(&g, CMD_CATALOG_REGISTER,
                  "{\"Node\":\"g1\",\"Address\":\"10.0.0.9\"}", 2);
    /* A v1 buffer with a trailing catalog section is malformed. */
    assert_int_equal(fsm_restore_buf(&g, buf, len), -EINVAL);
    assert_int_equal(fsm_restore_buf(&g, buf, at - 8), 0);
    assert_non_null(kv_get(g.kv, "a"));
    assert_int_equal(g.index, 4);
    /* The state is the snapshot's: no catalog then. */
    assert_int_equal(catalog_count_nodes(g.catalog), 0);
    free(buf);
    fsm_close(&f);
    fsm_close(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apply_uses_raft_index_as_consul_index),
        cmocka_unit_test(failed_cas_reports_rollback),
        cmocka_unit_test(undecodable_entry_is_skipped),
        cmocka_unit_test(apply_wakes_watchers_of_changed_keys),
        cmocka_unit_test(snapshot_round_trip_keeps_everything),
        cmocka_unit_test(raft_snapshot_callbacks_pin_entries),
        cmocka_unit_test(catalog_commands_apply_and_wake_watchers),
        cmocka_unit_test(snapshot_round_trip_keeps_the_catalog),
        cmocka_unit_test(malformed_catalog_section_is_rejected_with_no_change),
        cmocka_unit_test(kv_only_snapshots_are_still_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
