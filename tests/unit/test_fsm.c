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
    assert_int_equal(
        fsm_encode_snapshot(es, n, kv_index(f.kv), f.index, &buf, &len), 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apply_uses_raft_index_as_consul_index),
        cmocka_unit_test(failed_cas_reports_rollback),
        cmocka_unit_test(undecodable_entry_is_skipped),
        cmocka_unit_test(apply_wakes_watchers_of_changed_keys),
        cmocka_unit_test(snapshot_round_trip_keeps_everything),
        cmocka_unit_test(raft_snapshot_callbacks_pin_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
