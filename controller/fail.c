/*
 * Copyright (C) nginx-faas developers
 */


#include <stdarg.h>
#include <stdio.h>

#include "fail.h"


int
faas_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list  args;

    if (err != NULL && errlen > 0) {
        va_start(args, fmt);
        vsnprintf(err, errlen, fmt, args);
        va_end(args);
    }

    return -1;
}
