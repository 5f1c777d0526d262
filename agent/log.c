/* log — see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static enum log_level cur_level = LOG_INFO;
static bool json_lines;

static const char *const names[] = {"trace", "debug", "info", "warn", "error"};

int log_level_parse(const char *s, enum log_level *out)
{
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0 || strcasecmp(s, "err") == 0) {
        *out = strcasecmp(s, "err") == 0 ? LOG_ERROR : LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
    return names[level];
}

void log_set_level(enum log_level level)
{
    cur_level = level;
}

enum log_level log_get_level(void)
{
    return cur_level;
}

void log_set_json(bool on)
{
    json_lines = on;
}

/* Escape `s` as the inside of a JSON string. */
static void put_json_string(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
    if (level < cur_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

    if (json_lines) {
        fprintf(stderr, "{\"@timestamp\":\"%s\",\"@level\":\"%s\",\"@module\":\"",
                ts, names[level]);
        put_json_string(stderr, module);
        fputs("\",\"@message\":\"", stderr);
        put_json_string(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        char tag[10];
        snprintf(tag, sizeof tag, "[%s]", names[level]);
        for (char *p = tag; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        fprintf(stderr, "%s %-7s %s: %s\n", ts, tag, module, msg);
    }
}
