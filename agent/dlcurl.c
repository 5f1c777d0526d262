/*
 * dlcurl — dlopen/dlsym of the libcurl functions cairn uses, and the
 * process-wide curl_global_init count. See dlcurl.h for why.
 *
 * The library is opened RTLD_LOCAL, so its symbols (and those of OpenSSL
 * and the rest it brings) stay out of the global scope, and RTLD_NOW, so
 * a broken install fails here rather than on some later call. Once every
 * function is resolved the handle is kept for good: unloading OpenSSL
 * under its atexit handlers is asking for trouble, and the pages are
 * already paid for.
 */
#include "dlcurl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static struct dlcurl_api dlcurl_fns;
const struct dlcurl_api *const dlcurl = &dlcurl_fns;

static void *dlcurl_handle;   /* set once every function is resolved */
static unsigned dlcurl_users; /* successful acquires not yet released */

static void dlcurl_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void dlcurl_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int dlcurl_load(char *err, size_t errlen)
{
    const char *name = secure_getenv(DLCURL_ENV);
    struct dlcurl_api fns;

    if (name == NULL || *name == '\0')
        name = DLCURL_DEFAULT_NAME;
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        dlcurl_err(err, errlen, "cannot load libcurl: %s", why ? why : name);
        return -ENOENT;
    }
    /* POSIX guarantees a function pointer survives the trip through the
     * void * dlsym returns. */
#define DLCURL_RESOLVE(member, sym)                                        \
    fns.member = (__typeof__(fns.member))dlsym(h, #sym);                   \
    if (fns.member == NULL) {                                              \
        dlcurl_err(err, errlen, "cannot load libcurl: %s has no %s", name, \
                   #sym);                                                  \
        goto err_after_open;                                               \
    }
    DLCURL_FUNCS(DLCURL_RESOLVE)
#undef DLCURL_RESOLVE
    dlcurl_fns = fns;
    dlcurl_handle = h;
    return 0;

err_after_open:
    dlclose(h);
    return -ENOSYS;
}

int dlcurl_acquire(char *err, size_t errlen)
{
    if (dlcurl_handle == NULL) {
        int rc = dlcurl_load(err, errlen);
        if (rc < 0)
            return rc;
    }
    /* curl counts its global inits itself (only the last
     * curl_global_cleanup cleans up), so every acquire calls it. */
    CURLcode cc = dlcurl_fns.global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK) {
        dlcurl_err(err, errlen, "curl_global_init: %s",
                   dlcurl_fns.easy_strerror(cc));
        return -EIO;
    }
    dlcurl_users++;
    return 0;
}

void dlcurl_release(void)
{
    if (dlcurl_users == 0)
        return;
    dlcurl_users--;
    dlcurl_fns.global_cleanup();
}
