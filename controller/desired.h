/*
 * Copyright (C) nginx-faas developers
 *
 * How many replicas a revision should have.  This is the seam where the
 * scaler policy (scaler/) plugs in: today the request comes from the
 * <prefix>desired:FN:REV hash (written by an operator, by a wake signal,
 * or later by the scaler); the bounds of the spec always apply.  Pure.
 */

#ifndef FAAS_DESIRED_H
#define FAAS_DESIRED_H


typedef struct {
    int  scale_min;
    int  scale_max;           /* 0: no limit */
    int  weight_pct;
    int  requested;           /* "replicas" of the desired hash; -1: none */
    int  requested_by_wake;   /* its "reason" is "wake" */
} faas_desired_input_t;


/*
 * Returns max(scale_min, requested), capped by scale_max when it is set.
 * A revision at weight 0 takes traffic only when a request pins it: it
 * keeps its minimum, and only a wake (a pinned request waiting for it)
 * raises it above that.
 */
int faas_desired_count(const faas_desired_input_t *in);


#endif /* FAAS_DESIRED_H */
