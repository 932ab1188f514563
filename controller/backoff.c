/*
 * Copyright (C) nginx-faas developers
 *
 * Capped exponential backoff (see backoff.h).
 */

#include "backoff.h"


long long
faas_backoff_ms(int failures, long long base_ms, long long cap_ms)
{
    int        i;
    long long  ms;

    if (failures <= 0) {
        return 0;
    }

    ms = base_ms;

    for (i = 1; i < failures && ms < cap_ms; i++) {
        ms *= 2;
    }

    return ms < cap_ms ? ms : cap_ms;
}
