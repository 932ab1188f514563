/*
 * Copyright (C) nginx-faas developers
 *
 * A minimal TAP producer for the C unit tests, so that prove runs them with
 * the rest of the suite.
 */

#ifndef _FAAS_TAP_H_INCLUDED_
#define _FAAS_TAP_H_INCLUDED_


#include <stdio.h>
#include <string.h>


static int  tap_count;
static int  tap_failed;


#define ok(cond, name)                                                       \
    tap_ok(!!(cond), __FILE__, __LINE__, name)

#define is_int(got, want, name)                                              \
    tap_is_int((long long) (got), (long long) (want), __FILE__, __LINE__,    \
               name)

#define is_str(got, want, name)                                              \
    tap_is_str((got), (want), __FILE__, __LINE__, name)


static int
tap_ok(int pass, const char *file, int line, const char *name)
{
    tap_count++;

    printf("%s %d - %s\n", pass ? "ok" : "not ok", tap_count, name);

    if (!pass) {
        tap_failed++;
        printf("#   failed at %s line %d\n", file, line);
    }

    return pass;
}


static int
tap_is_int(long long got, long long want, const char *file, int line,
    const char *name)
{
    if (!tap_ok(got == want, file, line, name)) {
        printf("#          got: %lld\n#     expected: %lld\n", got, want);
        return 0;
    }

    return 1;
}


static int
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *name)
{
    int  pass;

    pass = (got == NULL && want == NULL)
           || (got != NULL && want != NULL && strcmp(got, want) == 0);

    if (!tap_ok(pass, file, line, name)) {
        printf("#          got: '%s'\n#     expected: '%s'\n",
               got ? got : "(null)", want ? want : "(null)");
        return 0;
    }

    return 1;
}


static int
tap_done(void)
{
    printf("1..%d\n", tap_count);

    return tap_failed ? 1 : 0;
}


#endif /* _FAAS_TAP_H_INCLUDED_ */
