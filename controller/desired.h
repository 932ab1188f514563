/*
 * Copyright (C) nginx-faas developers
 *
 * How many replicas a revision should have, from the count requested for
 * it (the scaler's decision, a wake, or a count written by hand in the
 * <prefix>desired:FN:REV hash) and the bounds of its spec, which always
 * apply.  Pure.
 */

#ifndef FAAS_DESIRED_H
#define FAAS_DESIRED_H


typedef struct {
    int  scale_min;
    int  scale_max;           /* 0: no limit */
    int  weight_pct;
    int  requested;           /* the count requested; -1: none */
    int  demand;              /* requested by measured demand (a wake or
                                 the scaler), not by hand */
} faas_desired_input_t;


/*
 * Returns max(scale_min, requested), capped by scale_max when it is set.
 * A revision at weight 0 takes traffic only when a request pins it: a
 * count by hand keeps it at its minimum, and only demand (a pinned request
 * waiting for it, or the load the scaler measured on it) raises it above.
 */
int faas_desired_count(const faas_desired_input_t *in);


#endif /* FAAS_DESIRED_H */
