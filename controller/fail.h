/*
 * Copyright (C) nginx-faas developers
 *
 * The controller's error convention: a function that fails returns -1 and
 * fills the caller's err buffer with one line saying why.
 */

#ifndef FAAS_FAIL_H
#define FAAS_FAIL_H


#include <stddef.h>


/*
 * Formats the reason into err (at most errlen bytes, always terminated;
 * err may be NULL) and returns -1, so that "return faas_fail(...)" both
 * reports and fails.
 */
int faas_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


#endif /* FAAS_FAIL_H */
