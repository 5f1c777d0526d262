/* Unit tests for agent/dlcurl.c: libcurl loaded on first use, and a clear
 * error when it cannot be (CAIRN_LIBCURL names the library to load).
 * The order matters: a successful load lasts for the process, so the
 * failures come first. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dlcurl.h"

/* Is a file whose name contains `needle` mapped into this process? */
static bool mapped(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    bool found = false;

    assert_non_null(f);
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void not_mapped_before_first_use(void **state)
{
    (void)state;
    assert_false(mapped("libcurl"));
    assert_null(dlcurl->easy_init);
}

static void missing_library_is_enoent_naming_it(void **state)
{
    char err[256] = "";
    (void)state;

    setenv(DLCURL_ENV, "/nonexistent/libcurl-missing.so.4", 1);
    assert_int_equal(dlcurl_acquire(err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "cannot load libcurl: "));
    assert_non_null(strstr(err, "/nonexistent/libcurl-missing.so.4"));
    assert_null(dlcurl->easy_init);
    /* NULL err is allowed */
    assert_int_equal(dlcurl_acquire(NULL, 0), -ENOENT);
    unsetenv(DLCURL_ENV);
}

static void library_without_curl_is_enosys_naming_the_function(void **state)
{
    char err[256] = "";
    (void)state;

    setenv(DLCURL_ENV, "libm.so.6", 1);
    assert_int_equal(dlcurl_acquire(err, sizeof err), -ENOSYS);
    assert_string_equal(
        err, "cannot load libcurl: libm.so.6 has no curl_global_init");
    assert_null(dlcurl->easy_init);
    unsetenv(DLCURL_ENV);
}

static void release_without_acquire_is_a_no_op(void **state)
{
    (void)state;
    dlcurl_release();
}

static void failure_is_not_remembered_and_real_libcurl_works(void **state)
{
    char err[256] = "";
    (void)state;

    assert_int_equal(dlcurl_acquire(err, sizeof err), 0);
    assert_true(mapped("libcurl"));
    CURL *e = dlcurl->easy_init();
    assert_non_null(e);
    assert_int_equal(dlcurl->easy_setopt(e, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
    assert_int_equal(dlcurl->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http"),
                     CURLE_OK);
    assert_string_equal(dlcurl->easy_strerror(CURLE_OK), "No error");
    struct curl_slist *l = dlcurl->slist_append(NULL, "X-A: b");
    assert_non_null(l);
    dlcurl->slist_free_all(l);
    dlcurl->easy_cleanup(e);

    /* Counted: a second user, then both leave. */
    assert_int_equal(dlcurl_acquire(err, sizeof err), 0);
    dlcurl_release();
    dlcurl_release();
    /* and it can start again (curl_global_init after cleanup) */
    assert_int_equal(dlcurl_acquire(err, sizeof err), 0);
    CURLM *m = dlcurl->multi_init();
    assert_non_null(m);
    assert_int_equal(dlcurl->multi_cleanup(m), CURLM_OK);
    dlcurl_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(not_mapped_before_first_use),
        cmocka_unit_test(missing_library_is_enoent_naming_it),
        cmocka_unit_test(library_without_curl_is_enosys_naming_the_function),
        cmocka_unit_test(release_without_acquire_is_a_no_op),
        cmocka_unit_test(failure_is_not_remembered_and_real_libcurl_works),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
