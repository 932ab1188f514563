/*
 * Copyright (C) nginx-faas developers
 *
 * Pure decisions of the module: no nginx types, no I/O, no allocation.
 * Everything here is unit-tested by t/unit/ on its own, and used by the
 * module's glue.
 */

#ifndef _NGX_HTTP_FAAS_PURE_H_INCLUDED_
#define _NGX_HTTP_FAAS_PURE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>


#define NGX_HTTP_FAAS_NAME_MAX        63
#define NGX_HTTP_FAAS_REPLICA_ID_MAX  64
#define NGX_HTTP_FAAS_ADDR_TEXT_MAX   48    /* "[v6]:port" */


typedef struct {
    const unsigned char  *data;
    size_t                len;
} ngx_http_faas_slice_t;


typedef enum {
    NGX_HTTP_FAAS_ENDPOINT_UP = 1,
    NGX_HTTP_FAAS_ENDPOINT_DOWN
} ngx_http_faas_endpoint_op_e;


/* "up FN REV ID ADDR" or "down FN REV ID", as published by the controller */
typedef struct {
    ngx_http_faas_endpoint_op_e  op;
    ngx_http_faas_slice_t        function;
    ngx_http_faas_slice_t        revision;
    ngx_http_faas_slice_t        replica_id;
    ngx_http_faas_slice_t        address;     /* empty for "down" */
} ngx_http_faas_endpoint_msg_t;


/*
 * A function or revision name: a DNS-1123 label, [a-z0-9]([-a-z0-9]*[a-z0-9])?
 * of at most 63 characters.  Returns 1 when valid.
 */
int ngx_http_faas_valid_name(const unsigned char *p, size_t len);

/*
 * A replica id chosen by the controller: 1-64 characters of [A-Za-z0-9._-],
 * starting with a letter or digit.  Returns 1 when valid.
 */
int ngx_http_faas_valid_replica_id(const unsigned char *p, size_t len);

/*
 * An environment variable name for a function's env: [A-Za-z_][A-Za-z0-9_]*,
 * at most 128 characters.  Returns 1 when valid.
 */
int ngx_http_faas_valid_env_name(const unsigned char *p, size_t len);

/*
 * Picks a revision by weight.  weights_pct[i] is the share of revision i in
 * percent (they sum to 100); point is uniform in [0, 100).  Returns the index
 * of the revision whose cumulative range contains point, or -1 when no
 * revision has a weight (cannot happen for a validated configuration).
 */
int ngx_http_faas_split_pick(const unsigned *weights_pct, size_t n,
    unsigned point);

/*
 * The split point of a sticky key: a well-mixed 32-bit hash of the key,
 * reduced to [0, 100), so that one key always lands on the same revision
 * while keys spread over revisions in proportion to their weights.
 */
unsigned ngx_http_faas_sticky_point(const unsigned char *key, size_t len);

/*
 * Splits a request path for "faas_pass" without a name: path must start
 * with the location prefix (prefix_len bytes, already matched by nginx).
 * On return *name holds the first segment after the prefix and *rest the
 * remaining path starting at its "/" (empty when nothing follows the name).
 * Returns 0, or -1 when the path holds no name at all.
 */
int ngx_http_faas_split_path(const unsigned char *path, size_t len,
    size_t prefix_len, ngx_http_faas_slice_t *name,
    ngx_http_faas_slice_t *rest);

/*
 * Parses an endpoint event published on the endpoints channel.  Every field
 * is validated (names, replica id, address syntax).  Returns 0, or -1 with
 * *error pointing to a static description of what is wrong.
 */
int ngx_http_faas_parse_endpoint_msg(const unsigned char *p, size_t len,
    ngx_http_faas_endpoint_msg_t *msg, const char **error);

/*
 * Parses a replica address: "A.B.C.D:PORT" or "[IPv6]:PORT", numeric only
 * (the data plane never resolves names).  Fills *sa and *socklen.  Returns 0,
 * or -1 with *error set.
 */
int ngx_http_faas_parse_address(const unsigned char *p, size_t len,
    struct sockaddr_storage *sa, socklen_t *socklen, const char **error);

/*
 * Writes src as the inside of a JSON string: quote and backslash escaped,
 * control characters as \u00XX, well-formed UTF-8 as it is and any other
 * byte as \ufffd, so that the output is valid JSON whatever a client sent.
 * dst needs room for 6 * len bytes.  Returns the end of what was written.
 */
unsigned char *ngx_http_faas_json_escape(unsigned char *dst,
    const unsigned char *src, size_t len);


#endif /* _NGX_HTTP_FAAS_PURE_H_INCLUDED_ */
