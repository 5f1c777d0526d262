/*
 * dlcurl — libcurl loaded at run time (dlopen) on first use.
 *
 * Linking libcurl maps it and its ~25 libraries (OpenSSL, Kerberos, LDAP,
 * libssh2, nghttp2, ...) into every process, and curl_global_init touches
 * OpenSSL's tables: about 7 MiB of resident memory that an agent without
 * HTTP checks never uses. So cairn does not link libcurl. The two users,
 * HTTP checks (check_http.c, multi interface on the loop) and the CLI's
 * client (api/client.c, easy interface), call dlcurl_acquire first and
 * then libcurl's real API through the table `dlcurl`, with the types and
 * constants of <curl/curl.h>:
 *
 *     if (dlcurl_acquire(err, sizeof err) < 0) ... report err ...
 *     CURL *e = dlcurl->easy_init();
 *     dlcurl->easy_setopt(e, CURLOPT_URL, url);
 *
 * The table has our own names on purpose: a function named curl_* in the
 * executable would interpose on libcurl's own symbol of that name.
 *
 * The library is "libcurl.so.4" (the soname of Debian's libcurl4 package,
 * which libcurl4-openssl-dev pulls in). The environment variable
 * CAIRN_LIBCURL overrides that name (a file name or a path, passed to
 * dlopen as is); it exists for the tests of the missing-library error and
 * is ignored in setuid programs (secure_getenv).
 *
 * Not thread-safe: call from one thread (the agent's loop thread, or the
 * CLI's only thread), as curl_global_init itself demands.
 */
#ifndef CAIRN_DLCURL_H
#define CAIRN_DLCURL_H

#include <stddef.h>

#include <curl/curl.h>

#define DLCURL_DEFAULT_NAME "libcurl.so.4"
#define DLCURL_ENV "CAIRN_LIBCURL"

/* Every libcurl function cairn calls: X(member, libcurl symbol). The member
 * has the symbol's own type (taken from <curl/curl.h> with __typeof__), so
 * a call through it is checked like a direct call. The variadic ones
 * (easy_setopt, easy_getinfo, multi_setopt) take the same arguments as
 * the curl_* functions, but without curl's compile-time option type check
 * (a macro around the direct call only): pass a long for CURLOPTTYPE_LONG
 * options, a curl_off_t for _OFF_T ones. */
#define DLCURL_FUNCS(X)                              \
    X(global_init, curl_global_init)                 \
    X(global_cleanup, curl_global_cleanup)           \
    X(free, curl_free)                               \
    X(slist_append, curl_slist_append)               \
    X(slist_free_all, curl_slist_free_all)           \
    X(easy_init, curl_easy_init)                     \
    X(easy_setopt, curl_easy_setopt)                 \
    X(easy_getinfo, curl_easy_getinfo)               \
    X(easy_perform, curl_easy_perform)               \
    X(easy_reset, curl_easy_reset)                   \
    X(easy_cleanup, curl_easy_cleanup)               \
    X(easy_strerror, curl_easy_strerror)             \
    X(url, curl_url)                                 \
    X(url_set, curl_url_set)                         \
    X(url_get, curl_url_get)                         \
    X(url_cleanup, curl_url_cleanup)                 \
    X(multi_init, curl_multi_init)                   \
    X(multi_setopt, curl_multi_setopt)               \
    X(multi_add_handle, curl_multi_add_handle)       \
    X(multi_remove_handle, curl_multi_remove_handle) \
    X(multi_assign, curl_multi_assign)               \
    X(multi_socket_action, curl_multi_socket_action) \
    X(multi_info_read, curl_multi_info_read)         \
    X(multi_cleanup, curl_multi_cleanup)             \
    X(multi_strerror, curl_multi_strerror)

struct dlcurl_api
{
#define DLCURL_MEMBER(member, sym) __typeof__(sym) *member;
    DLCURL_FUNCS(DLCURL_MEMBER)
#undef DLCURL_MEMBER
};

/* The resolved functions (read-only). Every member is NULL until the
 * first successful dlcurl_acquire; after it they stay valid for the life
 * of the process (the library is never unloaded). Calling them outside an
 * acquire/release pair is a bug, except curl_global_init/cleanup which
 * dlcurl itself calls. */
extern const struct dlcurl_api *const dlcurl;

/* Load libcurl if it is not loaded yet, resolve every function above and
 * call curl_global_init(CURL_GLOBAL_DEFAULT). Counted: pair each success
 * with one dlcurl_release.
 * Returns 0, or a negative code with a message naming the cause in `err`
 * (NULL allowed):
 *   -ENOENT  dlopen failed (libcurl not installed, or CAIRN_LIBCURL names
 *            a missing file): "cannot load libcurl: <dlerror text>";
 *   -ENOSYS  the library lacks one of the functions (not libcurl, or
 *            older than 7.62): "cannot load libcurl: <name> has no <sym>";
 *   -EIO     curl_global_init failed.
 * A failed load is not remembered: the next call tries again (so an agent
 * picks up libcurl installed after it started, for checks added later). */
int dlcurl_acquire(char *err, size_t errlen);

/* Undo one successful dlcurl_acquire; the last one calls
 * curl_global_cleanup (the library stays mapped). */
void dlcurl_release(void);

#endif
