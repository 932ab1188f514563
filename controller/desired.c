/*
 * Copyright (C) nginx-faas developers
 *
 * A revision's desired replica count from its spec and the count
 * requested for it (see desired.h).
 */

#include "desired.h"


int
faas_desired_count(const faas_desired_input_t *in)
{
    int  count;

    count = in->requested > 0 ? in->requested : 0;

    if (in->weight_pct == 0 && !in->demand) {
        count = 0;
    }

    if (count < in->scale_min) {
        count = in->scale_min;
    }

    if (in->scale_max > 0 && count > in->scale_max) {
        count = in->scale_max;
    }

    return count;
}
