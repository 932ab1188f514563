/*
 * Copyright (C) nginx-faas developers
 *
 * Logging (see log.h).  Each line is formatted in full and written with a
 * single write(), so that lines from several threads never interleave.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"


static faas_log_level_t  faas_log_level = FAAS_LOG_INFO;


void
faas_log_set_level(faas_log_level_t level)
{
    faas_log_level = level;
}


void
faas_log(faas_log_level_t level, const char *fmt, ...)
{
    int             n, len;
    char            line[2048];
    va_list         args;
    struct tm       tm;
    struct timeval  tv;

    if (level > faas_log_level) {
        return;
    }

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);

    len = (int) strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    len += snprintf(line + len, sizeof(line) - len, ".%03dZ [%s] ",
                    (int) (tv.tv_usec / 1000), faas_config_level_name(level));

    va_start(args, fmt);
    n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, args);
    va_end(args);

    if (n < 0) {
        n = 0;
    }

    len += n;

    if (len > (int) sizeof(line) - 2) {
        len = (int) sizeof(line) - 2;
    }

    line[len++] = '\n';

    /* a failed log write has nowhere to be reported */
    if (write(STDERR_FILENO, line, (size_t) len) < 0) {
        return;
    }
}
