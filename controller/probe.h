/*
 * Copyright (C) nginx-faas developers
 *
 * Readiness and liveness probes of a replica: an HTTP GET of the spec's
 * health path that must answer 2xx or 3xx, or a TCP connect when there is
 * no health path.  Blocking, bounded by a timeout: run on pool threads.
 */

#ifndef FAAS_PROBE_H
#define FAAS_PROBE_H


#include <stddef.h>


/*
 * Probes the replica at address ("127.0.0.1:8001" or "[::1]:8001") within
 * timeout_ms.  health is a path ("/healthz") or "" for a TCP connect.
 * Returns 0 when it answered as it should, else -1 with the reason in err
 * ("connection refused", "answered 503", "timed out").
 */
int faas_probe(const char *address, const char *health, int timeout_ms,
    char *err, size_t errlen);

/* A monotonic clock in milliseconds, for the deadlines of probe loops. */
long long faas_probe_clock_ms(void);


#endif /* FAAS_PROBE_H */
