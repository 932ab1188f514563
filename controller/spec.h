/*
 * Copyright (C) nginx-faas developers
 *
 * Function specs as nginx publishes them in <prefix>specs (one JSON value
 * per function, see docs/redis-schema.md), and the names in them.  Pure:
 * the text is passed in, nothing is read or logged here.
 */

#ifndef FAAS_SPEC_H
#define FAAS_SPEC_H


#include <stddef.h>
#include <stdint.h>

#include "runtime.h"


#define FAAS_SPEC_SCHEMA      1
#define FAAS_HEALTH_MAX       255


typedef struct {
    char          name[FAAS_NAME_MAX + 1];
    int           weight_pct;
    char         *exec;            /* NULL when not declared */
    char         *image;           /* NULL when not declared */
} faas_spec_revision_t;


typedef struct {
    char                   name[FAAS_NAME_MAX + 1];
    faas_spec_revision_t  *revisions;
    size_t                 nrevisions;
    char                 **env;            /* "K=V", NULL-terminated */
    int                    concurrency;
    int                    scale_min;
    int                    scale_max;      /* 0: no limit */
    int                    scale_target;
    long long              scale_idle_ms;
    int                    queue_size;
    long long              queue_timeout_ms;
    char                   health[FAAS_HEALTH_MAX + 1];  /* "": TCP */
} faas_spec_t;


/*
 * Parses the value of field `name` of the specs hash into spec.  Returns 0,
 * or -1 with one line in err when the text is not a spec this controller
 * can run safely (not JSON, another schema, a name that is not a DNS
 * label or differs from the field, a missing or out-of-range number, a
 * health path that does not belong in a request line, ...).  On success
 * the caller frees spec with faas_spec_free(); on failure nothing is held.
 */
int faas_spec_parse(const char *name, const char *json, size_t len,
    faas_spec_t *spec, char *err, size_t errlen);

void faas_spec_free(faas_spec_t *spec);

/* 1 if the two specs would run the same replicas the same way. */
int faas_spec_equal(const faas_spec_t *a, const faas_spec_t *b);

/* 1 if s (len bytes) is a DNS-1123 label of at most 63 characters. */
int faas_spec_valid_label(const char *s, size_t len);

/*
 * 1 if s is 1 to max characters of [A-Za-z0-9._-] starting with
 * [A-Za-z0-9]: safe in a file name, a URL path and a Redis message.
 */
int faas_spec_valid_token(const char *s, size_t max);

/* 1 if s is a replica id: a token of at most 64 characters. */
int faas_spec_valid_replica_id(const char *s);

/*
 * Writes a replica id for a revision into id (FAAS_REPLICA_ID_MAX + 1
 * bytes): "<fn>-<rev>-<8 hex of nonce>" when that fits, else both names
 * cut to 27 characters, so that it always fits; the nonce makes it unique.
 */
void faas_spec_replica_id(char *id, const char *function,
    const char *revision, uint32_t nonce);

/*
 * Splits "<fn>:<rev>" (a wake member or a metrics field) or "<fn> <rev>"
 * (a wake message) at sep into fn and rev (FAAS_NAME_MAX + 1 bytes each).
 * Returns 0 when both are labels, else -1.
 */
int faas_spec_split_names(const char *s, size_t len, char sep, char *fn,
    char *rev);


#endif /* FAAS_SPEC_H */
