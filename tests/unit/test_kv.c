/* Unit tests for agent/kv.c: ordered table, tombstones, transactions. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kv.h"

/* ---- Helpers ---- */

struct notes
{
    char keys[64][64];
    size_t n;
};

static void note_change(void *data, const char *key)
{
    struct notes *n = data;
    if (n->n < 64)
        snprintf(n->keys[n->n], sizeof n->keys[0], "%s", key);
    n->n++;
}

static bool noted(const struct notes *n, const char *key)
{
    for (size_t i = 0; i < n->n && i < 64; i++) {
        if (strcmp(n->keys[i], key) == 0)
            return true;
    }
    return false;
}

static struct kv_op op_set(const char *key, const char *value)
{
    return (struct kv_op){.verb = KV_SET,
                          .key = key,
                          .value = (const uint8_t *)value,
                          .value_len = value ? strlen(value) : 0};
}

static struct kv_op op_verb(enum kv_verb verb, const char *key, uint64_t index)
{
    return (struct kv_op){.verb = verb, .key = key, .index = index};
}

/* Runs a one-op txn; returns kv_txn's code and clears the result. */
static int run1(struct kv *kv, struct kv_op op, uint64_t index)
{
    struct kv_txn_result res;
    int rv = kv_txn(kv, &op, 1, index, &res);
    kv_txn_result_clear(&res);
    return rv;
}

static void put(struct kv *kv, const char *key, const char *value,
                uint64_t index)
{
    assert_int_equal(run1(kv, op_set(key, value), index), 0);
}

/* Runs a one-op txn expected to fail, checks the message. */
static void expect_error(struct kv *kv, struct kv_op op, uint64_t index,
                         const char *what)
{
    struct kv_txn_result res;
    assert_int_equal(kv_txn(kv, &op, 1, index, &res), 1);
    assert_int_equal(res.n_results, 0);
    assert_int_equal(res.n_errors, 1);
    assert_int_equal(res.errors[0].op_index, 0);
    assert_string_equal(res.errors[0].what, what);
    kv_txn_result_clear(&res);
}

static void assert_value(const struct kv_entry *e, const char *value)
{
    assert_non_null(e);
    assert_int_equal(e->value_len, strlen(value));
    if (e->value_len > 0)
        assert_memory_equal(e->value, value, e->value_len);
    else
        assert_null(e->value);
}

/* Keys of all entries (live and tombstones) under `prefix`, joined by ','. */
static void list_prefix(const struct kv *kv, const char *prefix, char *out,
                        size_t cap)
{
    size_t plen = strlen(prefix), len = 0;
    out[0] = '\0';
    for (const struct kv_entry *e = kv_seek(kv, prefix);
         e != NULL && strncmp(e->key, prefix, plen) == 0; e = kv_next(kv, e))
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "",
                                e->key);
}

/* ---- Ordering and listing ---- */

static void new_table_is_empty(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    assert_non_null(kv);
    assert_int_equal(kv_count(kv), 0);
    assert_int_equal(kv_tombstones(kv), 0);
    assert_int_equal(kv_index(kv), 0);
    assert_null(kv_get(kv, "foo"));
    assert_null(kv_seek(kv, ""));
    assert_int_equal(kv_prefix_index(kv, ""), 0);
    kv_free(kv);
    kv_free(NULL);
}

static void prefix_listing_is_string_prefix_in_bytewise_order(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    const char *keys[] = {"fop", "foobar", "foo/bar", "foo", "fo", "a",
                          "foo/baz/x", "\xc3\xa9t\xc3\xa9", "zz", "foo0"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put(kv, keys[i], "v", 10 + i);
    assert_int_equal(kv_count(kv), 10);

    char buf[256];
    list_prefix(kv, "foo", buf, sizeof buf);
    assert_string_equal(buf, "foo,foo/bar,foo/baz/x,foo0,foobar");
    list_prefix(kv, "foo/", buf, sizeof buf);
    assert_string_equal(buf, "foo/bar,foo/baz/x");
    list_prefix(kv, "", buf, sizeof buf);
    assert_string_equal(buf, "a,fo,foo,foo/bar,foo/baz/x,foo0,foobar,fop,zz,"
                             "\xc3\xa9t\xc3\xa9");
    list_prefix(kv, "fop", buf, sizeof buf);
    assert_string_equal(buf, "fop");
    list_prefix(kv, "nope", buf, sizeof buf);
    assert_string_equal(buf, "");

    assert_string_equal(kv_seek(kv, "fooa")->key, "foobar");
    assert_string_equal(kv_seek(kv, "foo")->key, "foo");
    assert_string_equal(kv_seek(kv, "b")->key, "fo");
    assert_string_equal(kv_seek(kv, "")->key, "a");
    assert_null(kv_seek(kv, "\xff"));
    assert_null(kv_next(kv, kv_seek(kv, "\xc3")));
    kv_free(kv);
}

static void get_returns_null_for_missing_and_deleted_keys(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "k", "v", 3);
    assert_value(kv_get(kv, "k"), "v");
    assert_null(kv_get(kv, "k2"));
    assert_null(kv_get(kv, "K"));
    assert_null(kv_get(kv, ""));
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "k", 0), 4), 0);
    assert_null(kv_get(kv, "k"));
    /* The tombstone is still visible to iteration. */
    const struct kv_entry *t = kv_seek(kv, "k");
    assert_non_null(t);
    assert_true(t->deleted);
    assert_int_equal(t->modify_index, 4);
    assert_int_equal(t->value_len, 0);
    assert_null(t->value);
    kv_free(kv);
}

/* ---- Writes ---- */

static void set_creates_then_updates_keeping_create_index(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "k", "one", 5);
    const struct kv_entry *e = kv_get(kv, "k");
    assert_value(e, "one");
    assert_int_equal(e->create_index, 5);
    assert_int_equal(e->modify_index, 5);
    assert_int_equal(e->lock_index, 0);
    assert_null(e->session);
    assert_false(e->deleted);
    assert_int_equal(e->key_len, 1);
    assert_int_equal(kv_index(kv), 5);

    /* Identical value still bumps modify_index. */
    put(kv, "k", "one", 9);
    e = kv_get(kv, "k");
    assert_value(e, "one");
    assert_int_equal(e->create_index, 5);
    assert_int_equal(e->modify_index, 9);
    assert_int_equal(kv_index(kv), 9);
    assert_int_equal(kv_count(kv), 1);
    kv_free(kv);
}

static void set_after_delete_starts_a_new_create_index(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "k", "a", 2);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "k", 0), 3), 0);
    assert_int_equal(kv_tombstones(kv), 1);
    put(kv, "k", "b", 7);
    const struct kv_entry *e = kv_get(kv, "k");
    assert_value(e, "b");
    assert_int_equal(e->create_index, 7);
    assert_int_equal(e->modify_index, 7);
    assert_int_equal(kv_tombstones(kv), 0);
    assert_int_equal(kv_count(kv), 1);
    kv_free(kv);
}

static void plain_set_keeps_session_and_lock_index(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    assert_int_equal(kv_restore_entry(kv, "locked", (const uint8_t *)"x", 1, 0,
                                      4, 6, 3, "sess-1", false),
                     0);
    put(kv, "locked", "y", 8);
    const struct kv_entry *e = kv_get(kv, "locked");
    assert_value(e, "y");
    assert_string_equal(e->session, "sess-1");
    assert_int_equal(e->lock_index, 3);
    assert_int_equal(e->create_index, 4);
    assert_int_equal(e->modify_index, 8);
    kv_free(kv);
}

static void cas_zero_creates_only_when_absent(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    struct kv_op cas = op_set("k", "v1");
    cas.verb = KV_CAS;
    cas.index = 0;
    assert_int_equal(run1(kv, cas, 3), 0);
    assert_value(kv_get(kv, "k"), "v1");
    assert_int_equal(kv_get(kv, "k")->create_index, 3);

    cas.value = (const uint8_t *)"v2";
    expect_error(kv, cas, 4, "failed to set key \"k\", index is stale");
    assert_value(kv_get(kv, "k"), "v1");
    assert_int_equal(kv_index(kv), 3);

    /* A tombstone counts as absent. */
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "k", 0), 5), 0);
    assert_int_equal(run1(kv, cas, 6), 0);
    assert_value(kv_get(kv, "k"), "v2");
    assert_int_equal(kv_get(kv, "k")->create_index, 6);
    kv_free(kv);
}

static void cas_index_updates_only_on_matching_modify_index(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "k", "v1", 3);
    struct kv_op cas = op_set("k", "v2");
    cas.verb = KV_CAS;

    cas.index = 2;
    expect_error(kv, cas, 4, "failed to set key \"k\", index is stale");
    cas.index = 3;
    assert_int_equal(run1(kv, cas, 4), 0);
    assert_value(kv_get(kv, "k"), "v2");
    assert_int_equal(kv_get(kv, "k")->modify_index, 4);
    assert_int_equal(kv_get(kv, "k")->create_index, 3);
    /* The same token is stale now. */
    expect_error(kv, cas, 5, "failed to set key \"k\", index is stale");
    /* Non-zero index on an absent key is stale too. */
    cas.key = "absent";
    expect_error(kv, cas, 5, "failed to set key \"absent\", index is stale");
    assert_null(kv_get(kv, "absent"));
    kv_free(kv);
}

static void delete_live_key_leaves_tombstone_and_advances_index(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "dir/a", "1", 3);
    put(kv, "dir/b", "2", 4);
    assert_int_equal(kv_prefix_index(kv, "dir/"), 4);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "dir/a", 0), 9), 0);
    assert_int_equal(kv_count(kv), 1);
    assert_int_equal(kv_tombstones(kv), 1);
    assert_int_equal(kv_index(kv), 9);
    /* The prefix index sees the delete through the tombstone. */
    assert_int_equal(kv_prefix_index(kv, "dir/"), 9);
    assert_int_equal(kv_prefix_index(kv, "dir/a"), 9);
    assert_int_equal(kv_prefix_index(kv, "dir/b"), 4);
    assert_int_equal(kv_prefix_index(kv, "other"), 0);
    kv_free(kv);
}

static void delete_absent_key_succeeds_without_change(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    struct notes notes = {0};
    kv_set_change_cb(kv, note_change, &notes);
    put(kv, "k", "v", 3);
    notes.n = 0;
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "nope", 0), 4), 0);
    assert_int_equal(kv_index(kv), 3);
    assert_int_equal(kv_tombstones(kv), 0);
    assert_null(kv_seek(kv, "nope"));
    /* Deleting a tombstone again changes nothing either. */
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "k", 0), 5), 0);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "k", 0), 6), 0);
    assert_int_equal(kv_index(kv), 5);
    assert_int_equal(kv_seek(kv, "k")->modify_index, 5);
    assert_int_equal(notes.n, 1);
    kv_free(kv);
}

static void delete_cas_semantics(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "k", "v", 3);
    expect_error(kv, op_verb(KV_DELETE_CAS, "k", 2), 4,
                 "failed to delete key \"k\", index is stale");
    /* Index 0 never deletes an existing key. */
    expect_error(kv, op_verb(KV_DELETE_CAS, "k", 0), 4,
                 "failed to delete key \"k\", index is stale");
    assert_non_null(kv_get(kv, "k"));
    assert_int_equal(kv_index(kv), 3);
    assert_int_equal(run1(kv, op_verb(KV_DELETE_CAS, "k", 3), 4), 0);
    assert_null(kv_get(kv, "k"));
    assert_int_equal(kv_tombstones(kv), 1);
    assert_int_equal(kv_index(kv), 4);
    /* Absent (or already deleted) key: success. */
    assert_int_equal(run1(kv, op_verb(KV_DELETE_CAS, "k", 3), 5), 0);
    assert_int_equal(run1(kv, op_verb(KV_DELETE_CAS, "never", 7), 5), 0);
    assert_int_equal(kv_index(kv), 4);
    kv_free(kv);
}

static void delete_tree_tombstones_every_live_key_under_prefix(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    struct notes notes = {0};
    put(kv, "foo", "1", 1);
    put(kv, "foo/bar", "2", 2);
    put(kv, "foobar", "3", 3);
    put(kv, "fop", "4", 4);
    put(kv, "fo", "5", 5);
    put(kv, "foo/x", "6", 6);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "foo/x", 0), 7), 0);
    kv_set_change_cb(kv, note_change, &notes);

    assert_int_equal(run1(kv, op_verb(KV_DELETE_TREE, "foo", 0), 10), 0);
    assert_null(kv_get(kv, "foo"));
    assert_null(kv_get(kv, "foo/bar"));
    assert_null(kv_get(kv, "foobar"));
    assert_value(kv_get(kv, "fop"), "4");
    assert_value(kv_get(kv, "fo"), "5");
    assert_int_equal(kv_count(kv), 2);
    assert_int_equal(kv_tombstones(kv), 4);
    assert_int_equal(kv_index(kv), 10);
    assert_int_equal(kv_prefix_index(kv, "foo"), 10);
    assert_int_equal(kv_prefix_index(kv, "fop"), 4);
    /* The earlier tombstone keeps its index. */
    assert_int_equal(kv_seek(kv, "foo/x")->modify_index, 7);
    assert_int_equal(notes.n, 3);
    assert_true(noted(&notes, "foo"));
    assert_true(noted(&notes, "foo/bar"));
    assert_true(noted(&notes, "foobar"));

    /* Nothing under the prefix: success, no index change. */
    assert_int_equal(run1(kv, op_verb(KV_DELETE_TREE, "foo", 0), 11), 0);
    assert_int_equal(kv_index(kv), 10);

    /* Empty prefix wipes the store. */
    assert_int_equal(run1(kv, op_verb(KV_DELETE_TREE, "", 0), 12), 0);
    assert_int_equal(kv_count(kv), 0);
    assert_int_equal(kv_tombstones(kv), 6);
    kv_free(kv);
}

static void reap_removes_old_tombstones_and_never_lowers_index(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    struct notes notes = {0};
    put(kv, "a", "1", 1);
    put(kv, "b", "2", 2);
    put(kv, "c", "3", 3);
    put(kv, "d", "4", 4);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "a", 0), 5), 0);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "b", 0), 6), 0);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "c", 0), 20), 0);
    kv_set_change_cb(kv, note_change, &notes);

    assert_int_equal(kv_reap(kv, 6, 21), 2);
    assert_int_equal(kv_tombstones(kv), 1);
    assert_int_equal(kv_count(kv), 1);
    assert_int_equal(kv_index(kv), 21);
    assert_string_equal(kv_seek(kv, "")->key, "c");
    assert_int_equal(notes.n, 2);
    assert_true(noted(&notes, "a"));
    assert_true(noted(&notes, "b"));

    /* Nothing to remove: index untouched. */
    assert_int_equal(kv_reap(kv, 6, 22), 0);
    assert_int_equal(kv_index(kv), 21);
    /* A reap carrying an older index does not move the index back. */
    assert_int_equal(kv_reap(kv, 100, 15), 1);
    assert_int_equal(kv_index(kv), 21);
    assert_int_equal(kv_tombstones(kv), 0);
    /* Live entries are never reaped. */
    assert_int_equal(kv_reap(kv, UINT64_MAX, 30), 0);
    assert_value(kv_get(kv, "d"), "4");
    kv_free(kv);
}

/* ---- Values and flags ---- */

static void large_flags_round_trip(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    struct kv_op op = op_set("f1", "x");
    op.flags = 0x2ddccbc058a50c18ULL;
    assert_int_equal(run1(kv, op, 2), 0);
    op.key = "f2";
    op.flags = UINT64_MAX;
    assert_int_equal(run1(kv, op, 3), 0);
    assert_true(kv_get(kv, "f1")->flags == 0x2ddccbc058a50c18ULL);
    assert_true(kv_get(kv, "f2")->flags == UINT64_MAX);
    kv_free(kv);
}

static void binary_and_empty_values_are_stored_exactly(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    const uint8_t bin[] = {0, 1, 0, 0xff, 'a', 0, 0x80};
    struct kv_op op = {.verb = KV_SET,
                       .key = "bin",
                       .value = bin,
                       .value_len = sizeof bin};
    assert_int_equal(run1(kv, op, 2), 0);
    const struct kv_entry *e = kv_get(kv, "bin");
    assert_int_equal(e->value_len, sizeof bin);
    assert_memory_equal(e->value, bin, sizeof bin);

    struct kv_op empty = {.verb = KV_SET, .key = "folder/"};
    assert_int_equal(run1(kv, empty, 3), 0);
    e = kv_get(kv, "folder/");
    assert_non_null(e);
    assert_int_equal(e->value_len, 0);
    assert_null(e->value);
    kv_free(kv);
}

static void entry_referenced_before_overwrite_stays_readable(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "k", "old", 2);
    struct kv_entry *held = kv_entry_ref(kv_get(kv, "k"));
    put(kv, "k", "new", 3);
    assert_value(kv_get(kv, "k"), "new");
    assert_value(held, "old");
    assert_int_equal(held->modify_index, 2);
    assert_string_equal(held->key, "k");

    struct kv_entry *held2 = kv_entry_ref(kv_get(kv, "k"));
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "k", 0), 4), 0);
    assert_int_equal(kv_reap(kv, 4, 5), 1);
    assert_value(held2, "new");
    kv_free(kv);
    /* The table is gone; held entries survive until unref'd. */
    assert_value(held, "old");
    kv_entry_unref(held);
    kv_entry_unref(held2);
    kv_entry_unref(NULL);
}

/* ---- Transactions ---- */

struct image
{
    char key[16];
    char value[16];
    bool deleted;
    uint64_t create, modify, lock;
};

/* Every entry of the table (tombstones too), for before/after comparisons. */
static size_t take_image(const struct kv *kv, struct image *img, size_t cap)
{
    size_t n = 0;
    for (const struct kv_entry *e = kv_seek(kv, ""); e; e = kv_next(kv, e)) {
        assert_true(n < cap);
        memset(&img[n], 0, sizeof img[n]);
        snprintf(img[n].key, sizeof img[n].key, "%s", e->key);
        if (e->value_len > 0)
            memcpy(img[n].value, e->value, e->value_len);
        img[n].deleted = e->deleted;
        img[n].create = e->create_index;
        img[n].modify = e->modify_index;
        img[n].lock = e->lock_index;
        n++;
    }
    return n;
}

static void txn_failure_undoes_every_kind_of_earlier_write(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    struct notes notes = {0};
    put(kv, "a", "a0", 3);
    put(kv, "b", "b0", 4);
    put(kv, "gone", "g", 5);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "gone", 0), 6), 0);
    struct image before[16], after[16];
    size_t nb = take_image(kv, before, 16);
    kv_set_change_cb(kv, note_change, &notes);

    struct kv_op ops[] = {
        op_set("a", "a1"),              /* overwrite */
        op_set("new", "n1"),            /* create */
        op_verb(KV_DELETE, "b", 0),     /* tombstone */
        op_set("gone", "back"),         /* resurrect */
        op_verb(KV_DELETE_TREE, "", 0), /* everything */
        op_verb(KV_GET, "a", 0),        /* fails: deleted by op 4 */
        op_set("never", "x"),
    };
    struct kv_txn_result res;
    assert_int_equal(kv_txn(kv, ops, 7, 10, &res), 1);
    assert_int_equal(res.n_results, 0);
    assert_null(res.results);
    assert_null(res.result_ops);
    assert_int_equal(res.n_errors, 1);
    assert_int_equal(res.errors[0].op_index, 5);
    assert_string_equal(res.errors[0].what, "key \"a\" doesn't exist");
    kv_txn_result_clear(&res);

    size_t na = take_image(kv, after, 16);
    assert_int_equal(na, nb);
    assert_memory_equal(after, before, nb * sizeof before[0]);
    assert_int_equal(kv_index(kv), 6);
    assert_int_equal(kv_count(kv), 2);
    assert_int_equal(kv_tombstones(kv), 1);
    const struct kv_entry *s = kv_seek(kv, "new");
    assert_true(s == NULL || strcmp(s->key, "new") != 0);
    assert_null(kv_get(kv, "never"));
    /* Every key touched was notified (rolled-back changes included). */
    assert_true(noted(&notes, "a"));
    assert_true(noted(&notes, "new"));
    assert_true(noted(&notes, "b"));
    assert_true(noted(&notes, "gone"));
    kv_free(kv);
}

static void txn_failing_third_op_undoes_the_first_two(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "x", "x0", 2);
    struct image before[8], after[8];
    size_t nb = take_image(kv, before, 8);
    struct kv_op cas = op_set("x", "x2");
    cas.verb = KV_CAS;
    cas.index = 2; /* stale once op 0 rewrote x */
    struct kv_op ops[] = {op_set("x", "x1"), op_set("y", "y1"), cas};
    struct kv_txn_result res;
    assert_int_equal(kv_txn(kv, ops, 3, 7, &res), 1);
    assert_int_equal(res.errors[0].op_index, 2);
    assert_string_equal(res.errors[0].what,
                        "failed to set key \"x\", index is stale");
    kv_txn_result_clear(&res);
    size_t na = take_image(kv, after, 8);
    assert_int_equal(na, nb);
    assert_memory_equal(after, before, nb * sizeof before[0]);
    assert_int_equal(kv_index(kv), 2);
    assert_int_equal(kv_count(kv), 1);
    assert_null(kv_get(kv, "y"));
    kv_free(kv);
}

static void txn_reads_see_earlier_writes(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "old", "o", 2);
    struct kv_op ops[] = {
        op_set("k", "v1"),
        op_verb(KV_GET, "k", 0),
        op_verb(KV_CHECK_INDEX, "k", 5),
        op_verb(KV_DELETE, "old", 0),
        op_verb(KV_CHECK_NOT_EXISTS, "old", 0),
        op_set("k", "v2"),
        op_verb(KV_GET_TREE, "", 0),
    };
    struct kv_txn_result res;
    assert_int_equal(kv_txn(kv, ops, 7, 5, &res), 0);
    assert_int_equal(res.n_errors, 0);
    /* set, get, check-index, set, get-tree (one live key). */
    assert_int_equal(res.n_results, 5);
    assert_value(res.results[0], "v1");
    assert_value(res.results[1], "v1");
    assert_int_equal(res.results[2]->modify_index, 5);
    assert_value(res.results[3], "v2");
    assert_value(res.results[4], "v2");
    assert_ptr_equal(res.results[4], kv_get(kv, "k"));
    assert_int_equal(res.results[3]->create_index, 5);
    const size_t want_ops[] = {0, 1, 2, 5, 6};
    assert_memory_equal(res.result_ops, want_ops, sizeof want_ops);
    kv_txn_result_clear(&res);
    assert_int_equal(kv_index(kv), 5);
    assert_int_equal(kv_count(kv), 1);
    assert_int_equal(kv_tombstones(kv), 1);
    kv_free(kv);
}

static void txn_results_follow_op_order_and_verbs(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "t/1", "1", 2);
    put(kv, "t/2", "2", 3);
    put(kv, "t3", "3", 4);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "t/2", 0), 5), 0);
    struct kv_op ops[] = {
        op_verb(KV_GET_OR_EMPTY, "missing", 0),
        op_verb(KV_GET_TREE, "t/", 0),
        op_verb(KV_GET_OR_EMPTY, "t3", 0),
        op_verb(KV_DELETE, "t3", 0),
        op_verb(KV_GET_TREE, "none/", 0),
        op_verb(KV_CHECK_SESSION, "t/1", 0),
    };
    struct kv_txn_result res;
    assert_int_equal(kv_txn(kv, ops, 6, 9, &res), 0);
    assert_int_equal(res.n_results, 4);
    assert_null(res.results[0]); /* get-or-empty on a missing key */
    assert_string_equal(res.results[1]->key, "t/1");
    assert_string_equal(res.results[2]->key, "t3");
    assert_string_equal(res.results[3]->key, "t/1"); /* check-session */
    const size_t want_ops[] = {0, 1, 2, 5};
    assert_non_null(res.result_ops);
    assert_memory_equal(res.result_ops, want_ops, sizeof want_ops);
    kv_txn_result_clear(&res);
    assert_int_equal(res.n_results, 0);
    assert_null(res.results);
    assert_null(res.result_ops);
    kv_free(kv);
}

static void txn_error_texts_match_consul(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "k", "v", 5);
    put(kv, "foo", "v", 6);
    assert_int_equal(run1(kv, op_verb(KV_DELETE, "foo", 0), 7), 0);

    expect_error(kv, op_verb(KV_GET, "foo", 0), 8, "key \"foo\" doesn't exist");
    expect_error(kv, op_verb(KV_CHECK_INDEX, "k", 4), 8,
                 "failed index check for key \"k\", current modify index 5 "
                 "!= 4");
    expect_error(kv, op_verb(KV_CHECK_INDEX, "foo", 4), 8,
                 "failed to check index, key \"foo\" doesn't exist");
    expect_error(kv, op_verb(KV_CHECK_NOT_EXISTS, "k", 0), 8,
                 "key \"k\" exists");
    struct kv_op cs = op_verb(KV_CHECK_SESSION, "k", 0);
    cs.session = "abc";
    expect_error(kv, cs, 8,
                 "failed session check for key \"k\", current session \"\" "
                 "!= \"abc\"");
    cs.key = "foo";
    expect_error(kv, cs, 8,
                 "failed to check session, key \"foo\" doesn't exist");
    struct kv_op cas = op_set("k", "x");
    cas.verb = KV_CAS;
    cas.index = 4;
    expect_error(kv, cas, 8, "failed to set key \"k\", index is stale");
    expect_error(kv, op_verb(KV_DELETE_CAS, "k", 4), 8,
                 "failed to delete key \"k\", index is stale");
    struct kv_op lock = op_set("k", "x");
    lock.verb = KV_LOCK;
    lock.session = "abc";
    expect_error(kv, lock, 8, "sessions not supported yet");
    lock.verb = KV_UNLOCK;
    expect_error(kv, lock, 8, "sessions not supported yet");
    /* Nothing above changed the table. */
    assert_int_equal(kv_index(kv), 7);
    assert_value(kv_get(kv, "k"), "v");
    assert_int_equal(kv_get(kv, "k")->modify_index, 5);
    kv_free(kv);
}

static void error_texts_quote_keys_like_go(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    expect_error(kv, op_verb(KV_GET, "a\"b\\c\n\t\x01\x7f", 0), 1,
                 "key \"a\\\"b\\\\c\\n\\t\\x01\\x7f\" doesn't exist");
    expect_error(kv, op_verb(KV_GET, "caf\xc3\xa9/\xff", 0), 1,
                 "key \"caf\xc3\xa9/\\xff\" doesn't exist");
    expect_error(kv, op_verb(KV_GET, "nb\xc2\xa0sp", 0), 1,
                 "key \"nb\\u00a0sp\" doesn't exist");
    assert_int_equal(kv_index(kv), 0);
    kv_free(kv);
}

static void txn_with_only_reads_changes_nothing(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    struct notes notes = {0};
    put(kv, "k", "v", 3);
    kv_set_change_cb(kv, note_change, &notes);
    struct kv_txn_result res;
    struct kv_op get = op_verb(KV_GET, "k", 0);
    assert_int_equal(kv_txn(kv, &get, 1, 9, &res), 0);
    assert_int_equal(res.n_results, 1);
    kv_txn_result_clear(&res);
    assert_int_equal(kv_txn(kv, NULL, 0, 10, &res), 0);
    assert_int_equal(res.n_results, 0);
    kv_txn_result_clear(&res);
    assert_int_equal(kv_index(kv), 3);
    assert_int_equal(notes.n, 0);
    kv_free(kv);
}

static void change_cb_runs_after_each_committed_write(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    struct notes notes = {0};
    kv_set_change_cb(kv, note_change, &notes);
    struct kv_op ops[] = {op_set("a", "1"), op_set("b", "2")};
    struct kv_txn_result res;
    assert_int_equal(kv_txn(kv, ops, 2, 4, &res), 0);
    kv_txn_result_clear(&res);
    assert_int_equal(notes.n, 2);
    assert_string_equal(notes.keys[0], "a");
    assert_string_equal(notes.keys[1], "b");
    kv_set_change_cb(kv, NULL, NULL);
    put(kv, "c", "3", 5);
    assert_int_equal(notes.n, 2);
    kv_free(kv);
}

static void restore_entry_replaces_and_set_index_sets(void **state)
{
    (void)state;
    struct kv *kv = kv_new();
    put(kv, "k", "live", 3);
    assert_int_equal(kv_restore_entry(kv, "k", (const uint8_t *)"\0r", 2,
                                      UINT64_MAX, 10, 12, 2, NULL, false),
                     0);
    assert_int_equal(kv_restore_entry(kv, "t", NULL, 0, 0, 1, 13, 0, NULL,
                                      true),
                     0);
    kv_set_index(kv, 13);
    const struct kv_entry *e = kv_get(kv, "k");
    assert_int_equal(e->value_len, 2);
    assert_memory_equal(e->value, "\0r", 2);
    assert_true(e->flags == UINT64_MAX);
    assert_int_equal(e->create_index, 10);
    assert_int_equal(e->modify_index, 12);
    assert_int_equal(e->lock_index, 2);
    assert_null(kv_get(kv, "t"));
    assert_true(kv_seek(kv, "t")->deleted);
    assert_int_equal(kv_count(kv), 1);
    assert_int_equal(kv_tombstones(kv), 1);
    assert_int_equal(kv_index(kv), 13);
    assert_int_equal(kv_prefix_index(kv, ""), 13);
    kv_free(kv);
}

static void verb_names_round_trip(void **state)
{
    (void)state;
    for (int v = 1; v <= KV_VERB_MAX; v++) {
        const char *name = kv_verb_name((enum kv_verb)v);
        assert_non_null(name);
        assert_int_equal(kv_verb_parse(name), v);
    }
    assert_string_equal(kv_verb_name(KV_GET_OR_EMPTY), "get-or-empty");
    assert_string_equal(kv_verb_name(KV_DELETE_CAS), "delete-cas");
    assert_int_equal(kv_verb_parse("check-not-exists"), KV_CHECK_NOT_EXISTS);
    assert_int_equal(kv_verb_parse("SET"), 0);
    assert_int_equal(kv_verb_parse(""), 0);
    assert_int_equal(kv_verb_parse("bogus"), 0);
    assert_null(kv_verb_name(0));
    assert_null(kv_verb_name((enum kv_verb)(KV_VERB_MAX + 1)));
}

/* Random writes, deletes, reaps and rolled-back txns against a plain array
 * model; checks order, counts and contents after every step. Exercises the
 * in-place node replacement and rollback paths on a tree of real depth. */
#define MODEL_KEYS 300
struct model
{
    bool present, deleted;
    uint64_t modify;
    unsigned value;
};

static void check_against_model(const struct kv *kv, const struct model *m,
                                unsigned seed)
{
    size_t live = 0, dead = 0, i = 0;
    char prev[16] = "";
    for (const struct kv_entry *e = kv_seek(kv, ""); e; e = kv_next(kv, e)) {
        if (i > 0 && strcmp(prev, e->key) >= 0)
            fail_msg("order broken at %s (seed %u)", e->key, seed);
        snprintf(prev, sizeof prev, "%s", e->key);
        unsigned k = (unsigned)atoi(e->key + 1);
        assert_true(k < MODEL_KEYS && m[k].present);
        assert_int_equal(e->deleted, m[k].deleted);
        assert_int_equal(e->modify_index, m[k].modify);
        if (!e->deleted) {
            char v[16];
            snprintf(v, sizeof v, "%u", m[k].value);
            assert_value(e, v);
            live++;
        } else {
            dead++;
        }
        i++;
    }
    assert_int_equal(live, kv_count(kv));
    assert_int_equal(dead, kv_tombstones(kv));
}

static void random_operations_match_a_simple_model(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("KV_TEST_SEED");
    if (env != NULL)
        seed = (unsigned)strtoul(env, NULL, 10);
    printf("random_operations_match_a_simple_model: seed %u\n", seed);
    srand(seed);
    struct kv *kv = kv_new();
    struct model m[MODEL_KEYS] = {{0}};
    uint64_t index = 1;
    for (int step = 0; step < 4000; step++, index++) {
        unsigned k = (unsigned)rand() % MODEL_KEYS;
        char key[16], val[16];
        snprintf(key, sizeof key, "k%03u", k);
        int what = rand() % 10;
        if (what < 5) {
            unsigned v = (unsigned)rand();
            snprintf(val, sizeof val, "%u", v);
            put(kv, key, val, index);
            m[k] = (struct model){true, false, index, v};
        } else if (what < 8) {
            assert_int_equal(run1(kv, op_verb(KV_DELETE, key, 0), index), 0);
            if (m[k].present && !m[k].deleted) {
                m[k].deleted = true;
                m[k].modify = index;
            }
        } else if (what < 9) {
            /* Several writes then a failing op: nothing may change. */
            char k2[16];
            snprintf(k2, sizeof k2, "k%03u", (k + 7) % MODEL_KEYS);
            struct kv_op ops[] = {op_set(key, "zz"),
                                  op_verb(KV_DELETE_TREE, "k1", 0),
                                  op_set(k2, "zz"),
                                  op_verb(KV_CHECK_INDEX, key, 0)};
            struct kv_txn_result res;
            uint64_t before = kv_index(kv);
            assert_int_equal(kv_txn(kv, ops, 4, index, &res), 1);
            kv_txn_result_clear(&res);
            assert_int_equal(kv_index(kv), before);
        } else {
            uint64_t upto = index - (uint64_t)(rand() % 200);
            kv_reap(kv, upto, index);
            for (unsigned j = 0; j < MODEL_KEYS; j++) {
                if (m[j].present && m[j].deleted && m[j].modify <= upto)
                    m[j].present = false;
            }
        }
        if (step % 50 == 0)
            check_against_model(kv, m, seed);
    }
    check_against_model(kv, m, seed);
    kv_free(kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_table_is_empty),
        cmocka_unit_test(prefix_listing_is_string_prefix_in_bytewise_order),
        cmocka_unit_test(get_returns_null_for_missing_and_deleted_keys),
        cmocka_unit_test(set_creates_then_updates_keeping_create_index),
        cmocka_unit_test(set_after_delete_starts_a_new_create_index),
        cmocka_unit_test(plain_set_keeps_session_and_lock_index),
        cmocka_unit_test(cas_zero_creates_only_when_absent),
        cmocka_unit_test(cas_index_updates_only_on_matching_modify_index),
        cmocka_unit_test(delete_live_key_leaves_tombstone_and_advances_index),
        cmocka_unit_test(delete_absent_key_succeeds_without_change),
        cmocka_unit_test(delete_cas_semantics),
        cmocka_unit_test(delete_tree_tombstones_every_live_key_under_prefix),
        cmocka_unit_test(reap_removes_old_tombstones_and_never_lowers_index),
        cmocka_unit_test(large_flags_round_trip),
        cmocka_unit_test(binary_and_empty_values_are_stored_exactly),
        cmocka_unit_test(entry_referenced_before_overwrite_stays_readable),
        cmocka_unit_test(txn_failure_undoes_every_kind_of_earlier_write),
        cmocka_unit_test(txn_failing_third_op_undoes_the_first_two),
        cmocka_unit_test(txn_reads_see_earlier_writes),
        cmocka_unit_test(txn_results_follow_op_order_and_verbs),
        cmocka_unit_test(txn_error_texts_match_consul),
        cmocka_unit_test(error_texts_quote_keys_like_go),
        cmocka_unit_test(txn_with_only_reads_changes_nothing),
        cmocka_unit_test(change_cb_runs_after_each_committed_write),
        cmocka_unit_test(restore_entry_replaces_and_set_index_sets),
        cmocka_unit_test(verb_names_round_trip),
        cmocka_unit_test(random_operations_match_a_simple_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
