/*
 * Copyright (C) nginx-faas developers
 *
 * Capped exponential backoff, for replicas that keep failing and for the
 * Redis reconnection.  Pure.
 */

#ifndef FAAS_BACKOFF_H
#define FAAS_BACKOFF_H


/*
 * The wait before try number `failures` + 1, after `failures` failures in
 * a row: 0 after none, base_ms after the first, then doubling up to cap_ms.
 */
long long faas_backoff_ms(int failures, long long base_ms, long long cap_ms);


#endif /* FAAS_BACKOFF_H */
