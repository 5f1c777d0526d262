/*
 * sbuf — a growable, always NUL-terminated byte buffer for building
 * strings (JSON output, messages, CLI tables).
 *
 * Zero-initialise (struct sbuf b = {0}) and append. An allocation failure
 * sets `oom` and turns further appends into no-ops, so callers check once
 * at the end. `p` is NULL until the first append.
 */
#ifndef CAIRN_SBUF_H
#define CAIRN_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf
{
    char *p;    /* the bytes, NUL-terminated (owned) */
    size_t len; /* bytes used, without the NUL */
    size_t cap;
    bool oom;   /* an append failed */
};

void sbuf_put(struct sbuf *b, const void *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand over the string (new; free()): "" when nothing was appended, NULL
 * (and the buffer freed) after an allocation failure. */
char *sbuf_take(struct sbuf *b);

#endif
