/*
 * mhd_notls.c — the TLS entry points of Debian's static libmicrohttpd,
 * for an HTTP server that never serves TLS.
 *
 * Why: Debian builds libmicrohttpd with HTTPS support, so the shared
 * library pulls GnuTLS and its seven libraries (p11-kit, nettle, hogweed,
 * gmp, unistring, tasn1, idn2) into every process and initialises GnuTLS
 * from a constructor before main(): 2.7 MiB of resident memory in an agent
 * whose whole footprint is otherwise about 3.6 MiB. cairn serves plain HTTP
 * (api/http.c never passes MHD_USE_TLS), so it links Debian's
 * libmicrohttpd.a and resolves the archive's references to GnuTLS here.
 *
 * Contract: gnutls_global_init/deinit (run by libmicrohttpd's constructor
 * and destructor) do nothing and succeed; every other entry point is only
 * reachable from a TLS daemon or connection and aborts with a message if
 * it is ever reached. All symbols are hidden: they satisfy the static
 * archive at link time and are never exported, so a GnuTLS loaded later
 * (libcurl, dlopen'ed for HTTP checks, may bring it) is not interposed.
 *
 * The list is the output of
 *   nm -u /usr/lib/x86_64-linux-gnu/libmicrohttpd.a | grep gnutls
 * for Debian 12's libmicrohttpd 0.9.75; a new reference in another version
 * fails the link (undefined symbol), never silently.
 */
#include <stdio.h>
#include <stdlib.h>

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN int gnutls_global_init(void);
HIDDEN int gnutls_global_init(void)
{
    return 0;
}

HIDDEN void gnutls_global_deinit(void);
HIDDEN void gnutls_global_deinit(void) {}

/* A variable in GnuTLS (gnutls_alloc_function gnutls_malloc). */
HIDDEN void *(*gnutls_malloc)(size_t) = malloc;

__attribute__((noreturn)) static void no_tls(const char *fn)
{
    fprintf(stderr, "cairn: %s called, but cairn is built without TLS\n", fn);
    abort();
}

#define NO_TLS(name)                                                           \
    HIDDEN void name(void);                                                    \
    HIDDEN void name(void)                                                     \
    {                                                                          \
        no_tls(#name);                                                         \
    }

NO_TLS(gnutls_alpn_set_protocols)
NO_TLS(gnutls_bye)
NO_TLS(gnutls_certificate_allocate_credentials)
NO_TLS(gnutls_certificate_free_credentials)
NO_TLS(gnutls_certificate_server_set_request)
NO_TLS(gnutls_certificate_set_dh_params)
NO_TLS(gnutls_certificate_set_retrieve_function2)
NO_TLS(gnutls_certificate_set_retrieve_function3)
NO_TLS(gnutls_certificate_set_x509_key_mem)
NO_TLS(gnutls_certificate_set_x509_key_mem2)
NO_TLS(gnutls_certificate_set_x509_trust_mem)
NO_TLS(gnutls_cipher_get)
NO_TLS(gnutls_credentials_set)
NO_TLS(gnutls_deinit)
NO_TLS(gnutls_dh_params_deinit)
NO_TLS(gnutls_dh_params_import_pkcs3)
NO_TLS(gnutls_dh_params_init)
NO_TLS(gnutls_handshake)
NO_TLS(gnutls_init)
NO_TLS(gnutls_priority_deinit)
NO_TLS(gnutls_priority_init)
NO_TLS(gnutls_priority_set)
NO_TLS(gnutls_protocol_get_version)
NO_TLS(gnutls_psk_allocate_server_credentials)
NO_TLS(gnutls_psk_free_server_credentials)
NO_TLS(gnutls_psk_set_server_credentials_function)
NO_TLS(gnutls_record_check_pending)
NO_TLS(gnutls_record_get_direction)
NO_TLS(gnutls_record_recv)
NO_TLS(gnutls_record_send)
NO_TLS(gnutls_session_get_ptr)
NO_TLS(gnutls_session_set_ptr)
NO_TLS(gnutls_strerror)
NO_TLS(gnutls_transport_set_int2)
