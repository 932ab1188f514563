/*
 * testfn: the function replica used by nginx-faas's tests and benchmarks.
 *
 * A small HTTP/1.1 server that follows the project's function contract: it
 * listens on the port the controller hands it in $PORT and answers in a way
 * that lets a test see what reached the replica (method, path, headers, a
 * hash of the body) and which replica answered (pid, port, revision).  It
 * is linked statically so that it runs unchanged in a FROM scratch image.
 *
 * Environment:
 *   PORT (or port)          port to listen on; required (exit 2 if
 *                           missing); 0 lets the kernel pick one, which the
 *                           "listening" line then shows
 *   FAAS_FUNCTION           reported in the echo route, default ""
 *   FAAS_REVISION           reported in the echo route and in the
 *                           X-Testfn-Revision header, default ""
 *   TESTFN_LISTEN_HOST      numeric IPv4/IPv6 address, default 127.0.0.1
 *   TESTFN_START_DELAY_MS   sleep this long before listening (slow start)
 *   TESTFN_EXIT_AFTER_MS    exit(3) this long after start (a crash)
 *
 * Once listening it prints "testfn listening on HOST:PORT pid=N" and stays
 * quiet on stdout from then on.  SIGTERM (or SIGINT) exits 0 at once.
 *
 * Routes:
 *   GET /healthz     200 "ok\n"
 *   GET /stats       200 {"requests":N,"in_flight":N,"max_in_flight":N,
 *                    "pid":N}; with ?reset=1 the request count goes back to
 *                    0 and the high-water mark to the current in_flight
 *                    first, and the answer shows the values after the reset
 *   GET /fast        200 "ok\n", as cheap as the server can make it
 *   Upgrade: websocket (any path; Sec-WebSocket-Key required)
 *                    101 with the right Sec-WebSocket-Accept, then every
 *                    byte received is echoed back raw until the peer closes
 *   anything else    200 application/json echo of the request:
 *                    {"function","revision","port","pid","method","path",
 *                    "query","body_len","body_fnv1a","in_flight","headers"}
 *                    and these query parameters:
 *                      sleep_ms=N  wait N ms before answering
 *                      status=N    answer with status N (200..599)
 *                      size=N      add "pad":"xxx..." of N (<= 16 MiB) bytes
 *
 * /healthz and /stats are probes: they are counted neither in "requests"
 * nor in "in_flight", so that the controller's health checks and a test's
 * own polling never disturb the figures a test asserts on (such as
 * max_in_flight <= the function's concurrency).  An upgraded WebSocket
 * connection counts as in flight until it closes.
 *
 * Every response carries X-Testfn-Pid, X-Testfn-Revision, X-Testfn-Port
 * and Content-Length (but a 204 or a 101, which must not).  A malformed
 * request gets 400, a header block over 64 KiB (or over 4096 header lines)
 * 431, and the connection is closed after either.
 *
 * One detached thread per connection, blocking I/O: simple, and quick
 * enough for benchmarks behind nginx over keep-alive connections.  Each
 * connection owns one input buffer; request bodies are hashed as they
 * stream through it and never stored whole.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TESTFN_HEAD_MAX      65536       /* a bigger header block gets 431 */
#define TESTFN_WORK_SIZE     32768       /* room for body bytes after it */
#define TESTFN_BUF_SIZE      (TESTFN_HEAD_MAX + TESTFN_WORK_SIZE)
#define TESTFN_HEADERS_MAX   4096
#define TESTFN_CHUNK_LINE    4096        /* chunk-size line with extensions */
#define TESTFN_TRAILER_LINE  8192
#define TESTFN_LENGTH_MAX    1000000000000000ULL    /* 1e15 bytes */
#define TESTFN_PAD_MAX       (16UL << 20)
#define TESTFN_SLEEP_MAX     3600000ULL  /* ms */
#define TESTFN_OUT_KEEP      (1UL << 20) /* larger echo buffers are freed */
#define TESTFN_STACK_SIZE    (256 * 1024)
#define TESTFN_DRAIN_MAX     (1UL << 20)

#define TESTFN_FNV_OFFSET    0xcbf29ce484222325ULL
#define TESTFN_FNV_PRIME     0x100000001b3ULL

#define TESTFN_WS_GUID       "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Results of the reading and parsing steps. */
enum {
    TESTFN_OK = 0,
    TESTFN_EOF = -1,        /* peer gone or I/O error: close quietly */
    TESTFN_BAD = -2,        /* answer 400 and close */
    TESTFN_TOO_BIG = -3     /* answer 431 and close */
};

/* What to do with a connection after a request. */
enum {
    TESTFN_NEXT,            /* keep-alive: read the next request */
    TESTFN_DONE,            /* close now */
    TESTFN_LINGER           /* we close: half-close, drain, then close */
};

/* The Connection header of a response, by index. */
enum {
    TESTFN_CONN_DEFAULT,    /* HTTP/1.1 keep-alive: nothing to say */
    TESTFN_CONN_CLOSE,
    TESTFN_CONN_KEEP_ALIVE  /* HTTP/1.0 client that asked for keep-alive */
};

static const char *const testfn_conn_header[] = {
    "", "Connection: close\r\n", "Connection: keep-alive\r\n"
};

typedef struct {
    const char  *name;
    size_t       name_len;
    const char  *value;
    size_t       value_len;
} testfn_header_t;

typedef struct {
    int              fd;

    /*
     * Input buffer.  A request's header block always starts at buf[0] and
     * ends at base; the parsed request points into it, so body reading
     * only uses the bytes from base on.  start..end is what was received
     * but not consumed yet.
     */
    char            *buf;
    size_t           base;
    size_t           start;
    size_t           end;

    testfn_header_t *headers;
    size_t           nheaders;
    size_t           headers_cap;

    char            *out;       /* the echo route's JSON body */
    size_t           out_len;
    size_t           out_cap;
} testfn_conn_t;

typedef struct {
    const char  *method;
    size_t       method_len;
    const char  *path;
    size_t       path_len;
    const char  *query;
    size_t       query_len;
    int          minor;             /* HTTP/1.minor */
    int          conn_mode;         /* TESTFN_CONN_* for the response */
    int          head_only;         /* HEAD: no body in the response */
    int          has_length;
    uint64_t     content_length;
    int          chunked;
    int          expect_continue;
    int          websocket;
    const char  *ws_key;
    size_t       ws_key_len;
    uint64_t     body_len;
    uint64_t     body_hash;
} testfn_req_t;

typedef struct {
    char        *data;
    size_t       len;
} testfn_canned_t;

static const char   *g_function = "";
static const char   *g_revision = "";
static unsigned      g_port;
static long          g_pid;

/* "X-Testfn-Pid: ..\r\nX-Testfn-Revision: ..\r\nX-Testfn-Port: ..\r\n" */
static char         *g_ident;
static size_t        g_ident_len;

/* Whole responses, one per TESTFN_CONN_* mode, built once at start. */
static testfn_canned_t g_fast[3];
static testfn_canned_t g_healthz[3];

static uint64_t      g_requests;
static uint64_t      g_in_flight;
static uint64_t      g_max_in_flight;


/* ---- small helpers ---------------------------------------------------- */

static int
testfn_ieq(const char *a, size_t n, const char *b)
{
    size_t i;

    if (strlen(b) != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char x = a[i], y = b[i];

        if (x >= 'A' && x <= 'Z') {
            x += 'a' - 'A';
        }
        if (y >= 'A' && y <= 'Z') {
            y += 'a' - 'A';
        }
        if (x != y) {
            return 0;
        }
    }
    return 1;
}

static int
testfn_eq(const char *a, size_t n, const char *b)
{
    return strlen(b) == n && memcmp(a, b, n) == 0;
}

/* Is tok one of the comma-separated elements of the list v? */
static int
testfn_list_has(const char *v, size_t n, const char *tok)
{
    size_t i = 0, s, e;

    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        s = i;
        while (i < n && v[i] != ',') {
            i++;
        }
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
            e--;
        }
        if (e > s && testfn_ieq(v + s, e - s, tok)) {
            return 1;
        }
    }
    return 0;
}

/* Decimal digits only, no sign, no spaces; -1 if not that or too big. */
static int
testfn_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0, d;
    size_t i;

    if (n == 0) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        d = (uint64_t) (s[i] - '0');
        if (d > max || v > (max - d) / 10) {
            return -1;          /* v * 10 + d > max, without overflowing */
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* The value of the last name=value in the query string, if any. */
static int
testfn_query_param(const char *q, size_t n, const char *name,
                   const char **val, size_t *val_len)
{
    size_t i = 0, s, eq, nlen = strlen(name);
    int found = 0;

    while (i <= n) {
        s = i;
        while (i < n && q[i] != '&') {
            i++;
        }
        for (eq = s; eq < i && q[eq] != '='; eq++) {
            /* find '=' */
        }
        if (eq - s == nlen && memcmp(q + s, name, nlen) == 0) {
            *val = eq < i ? q + eq + 1 : q + i;
            *val_len = eq < i ? i - eq - 1 : 0;
            found = 1;
        }
        i++;
    }
    return found;
}

/* A numeric query parameter; dflt if absent or not a number <= max. */
static uint64_t
testfn_query_u64(const testfn_req_t *r, const char *name, uint64_t max,
                 uint64_t dflt)
{
    const char *v = NULL;
    size_t len = 0;
    uint64_t out;

    if (!testfn_query_param(r->query, r->query_len, name, &v, &len)
        || testfn_parse_u64(v, len, max, &out) != 0)
    {
        return dflt;
    }
    return out;
}

static void
testfn_sleep_ms(uint64_t ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t) (ms / 1000);
    ts.tv_nsec = (long) (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* resume with what is left */
    }
}

static uint64_t
testfn_fnv1a(uint64_t h, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *) p;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= TESTFN_FNV_PRIME;
    }
    return h;
}

static const char *
testfn_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Status";
    }
}


/* ---- SHA-1 (FIPS 180-4) and base64, for Sec-WebSocket-Accept ---------- */

static uint32_t
testfn_rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void
testfn_sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80], a, b, c, d, e, f, k, t;
    int i;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16
               | (uint32_t) p[4 * i + 2] << 8 | (uint32_t) p[4 * i + 3];
    }
    for (i = 16; i < 80; i++) {
        w[i] = testfn_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }

    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];

    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        t = testfn_rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = testfn_rol(b, 30);
        b = a;
        a = t;
    }

    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void
testfn_sha1(const unsigned char *msg, size_t len, unsigned char out[20])
{
    uint32_t h[5] = {
        0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0
    };
    unsigned char tail[128];
    size_t i, full, rest, tail_len;
    uint64_t bits = (uint64_t) len * 8;

    full = len - len % 64;
    rest = len - full;
    for (i = 0; i < full; i += 64) {
        testfn_sha1_block(h, msg + i);
    }

    /* padding: 0x80, zeros, then the message length in bits, big-endian */
    memcpy(tail, msg + full, rest);
    tail[rest] = 0x80;
    tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    memset(tail + rest + 1, 0, tail_len - rest - 1);
    for (i = 0; i < 8; i++) {
        tail[tail_len - 1 - i] = (unsigned char) (bits >> (8 * i));
    }
    for (i = 0; i < tail_len; i += 64) {
        testfn_sha1_block(h, tail + i);
    }

    for (i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char) (h[i] >> 24);
        out[4 * i + 1] = (unsigned char) (h[i] >> 16);
        out[4 * i + 2] = (unsigned char) (h[i] >> 8);
        out[4 * i + 3] = (unsigned char) h[i];
    }
}

/* Standard base64 with padding; out needs 4 * ((len + 2) / 3) + 1 bytes. */
static size_t
testfn_base64(const unsigned char *in, size_t len, char *out)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;
    uint32_t v;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}


/* ---- counters ---------------------------------------------------------- */

static void
testfn_enter(void)
{
    uint64_t now, max;

    __atomic_add_fetch(&g_requests, 1, __ATOMIC_RELAXED);
    now = __atomic_add_fetch(&g_in_flight, 1, __ATOMIC_RELAXED);
    max = __atomic_load_n(&g_max_in_flight, __ATOMIC_RELAXED);
    while (now > max
           && !__atomic_compare_exchange_n(&g_max_in_flight, &max, now, 1,
                                           __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED))
    {
        /* max was reloaded by the failed exchange */
    }
}

static void
testfn_leave(void)
{
    __atomic_sub_fetch(&g_in_flight, 1, __ATOMIC_RELAXED);
}


/* ---- output ------------------------------------------------------------ */

/* writev until everything is sent; iov is consumed. */
static int
testfn_writev_all(int fd, struct iovec *iov, int cnt)
{
    ssize_t n;

    while (cnt > 0) {
        n = writev(fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        while (cnt > 0 && (size_t) n >= iov->iov_len) {
            n -= (ssize_t) iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *) iov->iov_base + n;
            iov->iov_len -= (size_t) n;
        }
    }
    return 0;
}

static int
testfn_write_all(int fd, const char *p, size_t n)
{
    struct iovec iov;

    iov.iov_base = (void *) p;
    iov.iov_len = n;
    return testfn_writev_all(fd, &iov, 1);
}

/* Head and body in one writev, so a response is one segment when small. */
static int
testfn_respond(testfn_conn_t *c, int status, const char *ctype,
               const char *body, size_t body_len, int conn_mode,
               int head_only)
{
    char head[256];
    struct iovec iov[5];
    int n;

    n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n",
                 status, testfn_reason(status), ctype);

    /* RFC 9110 8.6: a 204 must not carry Content-Length; 204 and 304 never
     * have a body, whatever was computed for one */
    if (status != 204) {
        n += snprintf(head + n, sizeof(head) - (size_t) n,
                      "Content-Length: %zu\r\n", body_len);
    }
    if (status == 204 || status == 304) {
        head_only = 1;
    }

    iov[0].iov_base = head;
    iov[0].iov_len = (size_t) n;
    iov[1].iov_base = g_ident;
    iov[1].iov_len = g_ident_len;
    iov[2].iov_base = (void *) testfn_conn_header[conn_mode];
    iov[2].iov_len = strlen(testfn_conn_header[conn_mode]);
    iov[3].iov_base = (void *) "\r\n";
    iov[3].iov_len = 2;
    iov[4].iov_base = (void *) body;
    iov[4].iov_len = head_only ? 0 : body_len;

    return testfn_writev_all(c->fd, iov, 5);
}

static int
testfn_send_canned(testfn_conn_t *c, const testfn_canned_t *canned,
                   int conn_mode)
{
    return testfn_write_all(c->fd, canned[conn_mode].data,
                            canned[conn_mode].len);
}

static void
testfn_send_error(testfn_conn_t *c, int status)
{
    const char *body = status == 431 ? "request header fields too large\n"
                                     : "bad request\n";

    (void) testfn_respond(c, status, "text/plain", body, strlen(body),
                          TESTFN_CONN_CLOSE, 0);
}

static int
testfn_out_reserve(testfn_conn_t *c, size_t n)
{
    size_t cap;
    char *p;

    if (c->out_cap - c->out_len >= n) {
        return 0;
    }
    cap = c->out_cap ? c->out_cap : 4096;
    while (cap - c->out_len < n) {
        cap *= 2;
    }
    p = realloc(c->out, cap);
    if (p == NULL) {
        return -1;
    }
    c->out = p;
    c->out_cap = cap;
    return 0;
}

static int
testfn_out_put(testfn_conn_t *c, const char *s, size_t n)
{
    if (testfn_out_reserve(c, n) != 0) {
        return -1;
    }
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    return 0;
}

static int
testfn_out_str(testfn_conn_t *c, const char *s)
{
    return testfn_out_put(c, s, strlen(s));
}

static int
testfn_out_u64(testfn_conn_t *c, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long) v);

    return testfn_out_put(c, num, (size_t) n);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if none. */
static size_t
testfn_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char b = s[0], lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        lo = b == 0xe0 ? 0xa0 : 0x80;   /* no overlong forms */
        hi = b == 0xed ? 0x9f : 0xbf;   /* no surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        lo = b == 0xf0 ? 0x90 : 0x80;
        hi = b == 0xf4 ? 0x8f : 0xbf;   /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

/*
 * The contents of a JSON string (no quotes).  Control characters become
 * \u00XX; so does any byte that is not part of valid UTF-8, read as
 * Latin-1, so that the output is always valid JSON whatever the client
 * sent.  lower lowercases ASCII letters (for header names).
 */
static int
testfn_out_json(testfn_conn_t *c, const char *s, size_t n, int lower)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) s;
    unsigned char b;
    size_t i = 0, k;
    char *o;

    if (testfn_out_reserve(c, n * 6) != 0) {
        return -1;
    }
    o = c->out + c->out_len;

    while (i < n) {
        b = p[i];
        if (b >= 0x80) {
            k = testfn_utf8_len(p + i, n - i);
            if (k > 0) {
                memcpy(o, p + i, k);
                o += k;
                i += k;
                continue;
            }
        } else if (b == '"' || b == '\\') {
            *o++ = '\\';
            *o++ = (char) b;
            i++;
            continue;
        } else if (b >= 0x20 && b != 0x7f) {
            *o++ = (char) (lower && b >= 'A' && b <= 'Z' ? b + 32 : b);
            i++;
            continue;
        }
        *o++ = '\\';
        *o++ = 'u';
        *o++ = '0';
        *o++ = '0';
        *o++ = hex[b >> 4];
        *o++ = hex[b & 15];
        i++;
    }

    c->out_len = (size_t) (o - c->out);
    return 0;
}


/* ---- input ------------------------------------------------------------- */

/* Read what is there into buf[end..]: bytes read, 0 at EOF, -1 on error. */
static ssize_t
testfn_fill(testfn_conn_t *c)
{
    ssize_t n;

    for (;;) {
        n = read(c->fd, c->buf + c->end, TESTFN_BUF_SIZE - c->end);
        if (n >= 0) {
            c->end += (size_t) n;
            return n;
        }
        if (errno != EINTR) {
            return -1;
        }
    }
}

/* Offset just past the blank line ending the head, 0 if not there yet. */
static size_t
testfn_head_end(const char *b, size_t from, size_t len)
{
    const char *p = b + from, *e = b + len;

    while ((p = memchr(p, '\n', (size_t) (e - p))) != NULL) {
        if (e - p >= 2 && p[1] == '\n') {
            return (size_t) (p + 2 - b);
        }
        if (e - p >= 3 && p[1] == '\r' && p[2] == '\n') {
            return (size_t) (p + 3 - b);
        }
        p++;
    }
    return 0;
}

/* Receive a whole header block into buf[0..*len). */
static int
testfn_read_head(testfn_conn_t *c, size_t *len)
{
    size_t n, skip, scan = 0;

    /* what the last request left (a pipelined request) starts this one */
    n = c->end - c->start;
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, n);
    }
    c->base = 0;
    c->start = 0;
    c->end = n;

    for (;;) {
        /* RFC 9112 2.2: empty lines before a request-line are ignored */
        for (skip = 0; skip < c->end; skip++) {
            if (c->buf[skip] != '\r' && c->buf[skip] != '\n') {
                break;
            }
        }
        if (skip > 0) {
            memmove(c->buf, c->buf + skip, c->end - skip);
            c->end -= skip;
        }

        *len = testfn_head_end(c->buf, scan, c->end);
        if (*len > 0) {
            return *len > TESTFN_HEAD_MAX ? TESTFN_TOO_BIG : TESTFN_OK;
        }
        if (c->end >= TESTFN_HEAD_MAX) {
            return TESTFN_TOO_BIG;
        }

        /* a '\n' two bytes from the end may still begin the blank line */
        scan = c->end > 2 ? c->end - 2 : 0;
        if (testfn_fill(c) <= 0) {
            return TESTFN_EOF;
        }
    }
}

static int
testfn_is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9')
           || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int
testfn_parse_request_line(testfn_req_t *r, const char *p, size_t n)
{
    const char *sp, *target, *q;
    size_t i, target_len;

    sp = memchr(p, ' ', n);
    if (sp == NULL || sp == p) {
        return TESTFN_BAD;
    }
    r->method = p;
    r->method_len = (size_t) (sp - p);
    for (i = 0; i < r->method_len; i++) {
        if (!testfn_is_tchar((unsigned char) p[i])) {
            return TESTFN_BAD;
        }
    }

    target = sp + 1;
    sp = memchr(target, ' ', n - (size_t) (target - p));
    if (sp == NULL || sp == target) {
        return TESTFN_BAD;
    }
    target_len = (size_t) (sp - target);
    for (i = 0; i < target_len; i++) {
        unsigned char ch = (unsigned char) target[i];

        if (ch <= 0x20 || ch == 0x7f) {
            return TESTFN_BAD;
        }
    }

    /* HTTP/1.0, HTTP/1.1; a later 1.x is served as 1.1 (RFC 9110 6.2) */
    if (p + n - (sp + 1) != 8 || memcmp(sp + 1, "HTTP/1.", 7) != 0
        || sp[8] < '0' || sp[8] > '9')
    {
        return TESTFN_BAD;
    }
    r->minor = sp[8] - '0';

    q = memchr(target, '?', target_len);
    r->path = target;
    r->path_len = q ? (size_t) (q - target) : target_len;
    r->query = q ? q + 1 : "";
    r->query_len = q ? target_len - r->path_len - 1 : 0;

    r->head_only = testfn_eq(r->method, r->method_len, "HEAD");
    return TESTFN_OK;
}

/* Note what the server itself needs from one header. */
static int
testfn_note_header(testfn_req_t *r, const testfn_header_t *h, int *close,
                   int *keep_alive)
{
    const char *v = h->value;
    size_t n = h->value_len;
    uint64_t len;

    if (testfn_ieq(h->name, h->name_len, "content-length")) {
        /* repeated with another value would make the framing ambiguous */
        if (testfn_parse_u64(v, n, TESTFN_LENGTH_MAX, &len) != 0
            || (r->has_length && len != r->content_length))
        {
            return TESTFN_BAD;
        }
        r->has_length = 1;
        r->content_length = len;

    } else if (testfn_ieq(h->name, h->name_len, "transfer-encoding")) {
        /* only plain "chunked" can be decoded here; RFC 9112 6.1 says to
         * reject a request whose final coding is not chunked */
        if (r->chunked || !testfn_ieq(v, n, "chunked")) {
            return TESTFN_BAD;
        }
        r->chunked = 1;

    } else if (testfn_ieq(h->name, h->name_len, "connection")) {
        *close |= testfn_list_has(v, n, "close");
        *keep_alive |= testfn_list_has(v, n, "keep-alive");

    } else if (testfn_ieq(h->name, h->name_len, "upgrade")) {
        r->websocket |= testfn_list_has(v, n, "websocket");

    } else if (testfn_ieq(h->name, h->name_len, "sec-websocket-key")) {
        r->ws_key = v;
        r->ws_key_len = n;

    } else if (testfn_ieq(h->name, h->name_len, "expect")) {
        r->expect_continue = testfn_ieq(v, n, "100-continue");
    }

    return TESTFN_OK;
}

static int
testfn_add_header(testfn_conn_t *c, const testfn_header_t *h)
{
    testfn_header_t *p;
    size_t cap;

    if (c->nheaders == c->headers_cap) {
        if (c->headers_cap == TESTFN_HEADERS_MAX) {
            return TESTFN_TOO_BIG;
        }
        cap = c->headers_cap ? c->headers_cap * 2 : 32;
        p = realloc(c->headers, cap * sizeof(*p));
        if (p == NULL) {
            return TESTFN_EOF;
        }
        c->headers = p;
        c->headers_cap = cap;
    }
    c->headers[c->nheaders++] = *h;
    return TESTFN_OK;
}

/* Parse the header block buf[0..len), which ends with a blank line. */
static int
testfn_parse_head(testfn_conn_t *c, testfn_req_t *r, size_t len)
{
    const char *p = c->buf, *end = c->buf + len, *eol, *colon, *v, *ve;
    size_t n, i;
    int rc, close = 0, keep_alive = 0;
    testfn_header_t h;

    eol = memchr(p, '\n', len);
    n = (size_t) (eol - p);
    if (n > 0 && p[n - 1] == '\r') {
        n--;
    }
    rc = testfn_parse_request_line(r, p, n);
    if (rc != TESTFN_OK) {
        return rc;
    }

    c->nheaders = 0;
    for (p = eol + 1; ; p = eol + 1) {
        eol = memchr(p, '\n', (size_t) (end - p));
        n = (size_t) (eol - p);
        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            break;          /* the blank line: it is the last one */
        }

        /* obs-fold and "name :" are both rejected (RFC 9112 5.1, 5.2) */
        colon = memchr(p, ':', n);
        if (colon == NULL || colon == p) {
            return TESTFN_BAD;
        }
        for (i = 0; i < (size_t) (colon - p); i++) {
            if (!testfn_is_tchar((unsigned char) p[i])) {
                return TESTFN_BAD;
            }
        }

        v = colon + 1;
        ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        for (i = 0; i < (size_t) (ve - v); i++) {
            unsigned char ch = (unsigned char) v[i];

            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                return TESTFN_BAD;
            }
        }

        h.name = p;
        h.name_len = (size_t) (colon - p);
        h.value = v;
        h.value_len = (size_t) (ve - v);

        rc = testfn_add_header(c, &h);
        if (rc == TESTFN_OK) {
            rc = testfn_note_header(r, &h, &close, &keep_alive);
        }
        if (rc != TESTFN_OK) {
            return rc;
        }
    }

    /* both at once is a request-smuggling classic (RFC 9112 6.3) */
    if (r->chunked && r->has_length) {
        return TESTFN_BAD;
    }

    if (close || (r->minor == 0 && !keep_alive)) {
        r->conn_mode = TESTFN_CONN_CLOSE;
    } else {
        r->conn_mode = r->minor == 0 ? TESTFN_CONN_KEEP_ALIVE
                                     : TESTFN_CONN_DEFAULT;
    }
    return TESTFN_OK;
}

/* Slide unconsumed bytes down to base, to make room for reading. */
static void
testfn_compact(testfn_conn_t *c)
{
    size_t n = c->end - c->start;

    if (c->start != c->base) {
        memmove(c->buf + c->base, c->buf + c->start, n);
        c->start = c->base;
        c->end = c->base + n;
    }
}

/* Consume n body bytes, hashing them. */
static int
testfn_body_bytes(testfn_conn_t *c, testfn_req_t *r, uint64_t n)
{
    size_t take;

    while (n > 0) {
        if (c->start == c->end) {
            c->start = c->base;
            c->end = c->base;
            if (testfn_fill(c) <= 0) {
                return TESTFN_EOF;
            }
        }
        take = c->end - c->start;
        if (take > n) {
            take = (size_t) n;
        }
        r->body_hash = testfn_fnv1a(r->body_hash, c->buf + c->start, take);
        r->body_len += take;
        c->start += take;
        n -= take;
    }
    return TESTFN_OK;
}

/* One line of the chunked framing, without its CRLF (or bare LF). */
static int
testfn_body_line(testfn_conn_t *c, const char **line, size_t *len,
                 size_t max)
{
    size_t seen = 0, n;
    char *nl;

    for (;;) {
        nl = memchr(c->buf + c->start + seen, '\n', c->end - c->start - seen);
        if (nl != NULL) {
            *line = c->buf + c->start;
            n = (size_t) (nl - *line);
            c->start += n + 1;
            if (n > 0 && (*line)[n - 1] == '\r') {
                n--;
            }
            *len = n;
            return TESTFN_OK;
        }

        seen = c->end - c->start;
        if (seen >= max) {
            return TESTFN_BAD;
        }
        testfn_compact(c);      /* max < TESTFN_WORK_SIZE: room is left */
        if (testfn_fill(c) <= 0) {
            return TESTFN_EOF;
        }
    }
}

/* chunk-size [ BWS ";" chunk-ext ] (RFC 9112 7.1) */
static int
testfn_chunk_size(const char *p, size_t n, uint64_t *size)
{
    uint64_t v = 0;
    size_t i;
    int d;

    for (i = 0; i < n; i++) {
        char ch = p[i];

        if (ch >= '0' && ch <= '9') {
            d = ch - '0';
        } else if (ch >= 'a' && ch <= 'f') {
            d = ch - 'a' + 10;
        } else if (ch >= 'A' && ch <= 'F') {
            d = ch - 'A' + 10;
        } else {
            break;
        }
        if (i >= 15) {
            return -1;          /* 2^60 bytes is enough for anyone */
        }
        v = v * 16 + (uint64_t) d;
    }
    if (i == 0) {
        return -1;
    }
    while (i < n && (p[i] == ' ' || p[i] == '\t')) {
        i++;
    }
    if (i < n && p[i] != ';') {
        return -1;
    }
    *size = v;
    return 0;
}

static int
testfn_body_chunked(testfn_conn_t *c, testfn_req_t *r)
{
    const char *line;
    size_t len, trailer = 0;
    uint64_t size;
    int rc;

    for (;;) {
        rc = testfn_body_line(c, &line, &len, TESTFN_CHUNK_LINE);
        if (rc != TESTFN_OK) {
            return rc;
        }
        if (testfn_chunk_size(line, len, &size) != 0) {
            return TESTFN_BAD;
        }
        if (size == 0) {
            break;
        }
        rc = testfn_body_bytes(c, r, size);
        if (rc != TESTFN_OK) {
            return rc;
        }
        rc = testfn_body_line(c, &line, &len, TESTFN_CHUNK_LINE);
        if (rc != TESTFN_OK) {
            return rc;
        }
        if (len != 0) {
            return TESTFN_BAD;  /* data longer than its chunk-size said */
        }
    }

    /* trailer fields are read and ignored, up to the blank line */
    for (;;) {
        rc = testfn_body_line(c, &line, &len, TESTFN_TRAILER_LINE);
        if (rc != TESTFN_OK) {
            return rc;
        }
        if (len == 0) {
            return TESTFN_OK;
        }
        trailer += len;
        if (trailer > TESTFN_HEAD_MAX) {
            return TESTFN_BAD;
        }
    }
}

static int
testfn_read_body(testfn_conn_t *c, testfn_req_t *r)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    /* curl waits a second for this before sending a large body */
    if (r->expect_continue && r->minor >= 1
        && (r->chunked || r->content_length > 0)
        && testfn_write_all(c->fd, cont, sizeof(cont) - 1) != 0)
    {
        return TESTFN_EOF;
    }

    if (r->chunked) {
        return testfn_body_chunked(c, r);
    }
    return testfn_body_bytes(c, r, r->content_length);
}


/* ---- routes ------------------------------------------------------------ */

static int
testfn_route_stats(testfn_conn_t *c, const testfn_req_t *r)
{
    char body[160];
    int n;

    if (testfn_query_u64(r, "reset", 1, 0) == 1) {
        __atomic_store_n(&g_requests, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&g_max_in_flight,
                         __atomic_load_n(&g_in_flight, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
    }

    n = snprintf(body, sizeof(body),
                 "{\"requests\":%llu,\"in_flight\":%llu,"
                 "\"max_in_flight\":%llu,\"pid\":%ld}",
                 (unsigned long long) __atomic_load_n(&g_requests,
                                                      __ATOMIC_RELAXED),
                 (unsigned long long) __atomic_load_n(&g_in_flight,
                                                      __ATOMIC_RELAXED),
                 (unsigned long long) __atomic_load_n(&g_max_in_flight,
                                                      __ATOMIC_RELAXED),
                 g_pid);

    return testfn_respond(c, 200, "application/json", body, (size_t) n,
                          r->conn_mode, 0);
}

/* The header object; repeated names are joined with ", " (RFC 9110 5.3). */
static int
testfn_echo_headers(testfn_conn_t *c)
{
    const testfn_header_t *h = c->headers, *o;
    size_t i, j, k;
    int rc = 0;

    rc |= testfn_out_str(c, "\"headers\":{");
    for (i = 0; i < c->nheaders; i++) {
        for (j = 0; j < i; j++) {
            if (h[j].name_len == h[i].name_len
                && strncasecmp(h[j].name, h[i].name, h[i].name_len) == 0)
            {
                break;
            }
        }
        if (j < i) {
            continue;       /* already printed with the first of its name */
        }

        rc |= testfn_out_str(c, i > 0 ? ",\"" : "\"");
        rc |= testfn_out_json(c, h[i].name, h[i].name_len, 1);
        rc |= testfn_out_str(c, "\":\"");
        rc |= testfn_out_json(c, h[i].value, h[i].value_len, 0);
        for (k = i + 1; k < c->nheaders; k++) {
            o = &h[k];
            if (o->name_len == h[i].name_len
                && strncasecmp(o->name, h[i].name, h[i].name_len) == 0)
            {
                rc |= testfn_out_str(c, ", ");
                rc |= testfn_out_json(c, o->value, o->value_len, 0);
            }
        }
        rc |= testfn_out_str(c, "\"");
    }
    rc |= testfn_out_str(c, "}");
    return rc;
}

static int
testfn_route_echo(testfn_conn_t *c, const testfn_req_t *r)
{
    uint64_t sleep_ms, status, size;
    char hash[17];
    int rc = 0;

    sleep_ms = testfn_query_u64(r, "sleep_ms", TESTFN_SLEEP_MAX, 0);
    status = testfn_query_u64(r, "status", 599, 200);
    size = testfn_query_u64(r, "size", UINT64_MAX, 0);
    if (status < 200) {
        status = 200;           /* a 1xx cannot be a final answer */
    }
    if (size > TESTFN_PAD_MAX) {
        size = TESTFN_PAD_MAX;
    }

    if (sleep_ms > 0) {
        testfn_sleep_ms(sleep_ms);
    }

    snprintf(hash, sizeof(hash), "%016llx",
             (unsigned long long) r->body_hash);

    c->out_len = 0;
    rc |= testfn_out_str(c, "{\"function\":\"");
    rc |= testfn_out_json(c, g_function, strlen(g_function), 0);
    rc |= testfn_out_str(c, "\",\"revision\":\"");
    rc |= testfn_out_json(c, g_revision, strlen(g_revision), 0);
    rc |= testfn_out_str(c, "\",\"port\":");
    rc |= testfn_out_u64(c, g_port);
    rc |= testfn_out_str(c, ",\"pid\":");
    rc |= testfn_out_u64(c, (uint64_t) g_pid);
    rc |= testfn_out_str(c, ",\"method\":\"");
    rc |= testfn_out_json(c, r->method, r->method_len, 0);
    rc |= testfn_out_str(c, "\",\"path\":\"");
    rc |= testfn_out_json(c, r->path, r->path_len, 0);
    rc |= testfn_out_str(c, "\",\"query\":\"");
    rc |= testfn_out_json(c, r->query, r->query_len, 0);
    rc |= testfn_out_str(c, "\",\"body_len\":");
    rc |= testfn_out_u64(c, r->body_len);
    rc |= testfn_out_str(c, ",\"body_fnv1a\":\"");
    rc |= testfn_out_str(c, hash);
    rc |= testfn_out_str(c, "\",\"in_flight\":");
    rc |= testfn_out_u64(c, __atomic_load_n(&g_in_flight, __ATOMIC_RELAXED));
    rc |= testfn_out_str(c, ",");
    rc |= testfn_echo_headers(c);
    if (size > 0) {
        rc |= testfn_out_str(c, ",\"pad\":\"");
        rc |= testfn_out_reserve(c, (size_t) size);
        if (rc == 0) {
            memset(c->out + c->out_len, 'x', (size_t) size);
            c->out_len += (size_t) size;
        }
        rc |= testfn_out_str(c, "\"");
    }
    rc |= testfn_out_str(c, "}");
    if (rc != 0) {
        return -1;              /* out of memory: drop the connection */
    }

    rc = testfn_respond(c, (int) status, "application/json", c->out,
                        c->out_len, r->conn_mode, r->head_only);

    /* a 16 MiB pad should not stay allocated on an idle connection */
    if (c->out_cap > TESTFN_OUT_KEEP) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
        c->out_len = 0;
    }
    return rc;
}

/* Handshake, then a raw echo: the test drives the framing itself. */
static void
testfn_route_websocket(testfn_conn_t *c, const testfn_req_t *r)
{
    unsigned char key[256 + sizeof(TESTFN_WS_GUID)], digest[20];
    char accept[32], head[160];
    struct iovec iov[3];
    ssize_t n;
    int len;

    /* RFC 6455 4.2.2: base64(SHA-1(key + GUID)) */
    memcpy(key, r->ws_key, r->ws_key_len);
    memcpy(key + r->ws_key_len, TESTFN_WS_GUID, sizeof(TESTFN_WS_GUID) - 1);
    testfn_sha1(key, r->ws_key_len + sizeof(TESTFN_WS_GUID) - 1, digest);
    testfn_base64(digest, sizeof(digest), accept);

    len = snprintf(head, sizeof(head),
                   "HTTP/1.1 101 Switching Protocols\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n", accept);

    iov[0].iov_base = head;
    iov[0].iov_len = (size_t) len;
    iov[1].iov_base = g_ident;
    iov[1].iov_len = g_ident_len;
    iov[2].iov_base = (void *) "\r\n";
    iov[2].iov_len = 2;
    if (testfn_writev_all(c->fd, iov, 3) != 0) {
        return;
    }

    /* bytes sent right behind the handshake are already buffered */
    if (c->end > c->start
        && testfn_write_all(c->fd, c->buf + c->start, c->end - c->start) != 0)
    {
        return;
    }

    for (;;) {
        n = read(c->fd, c->buf, TESTFN_BUF_SIZE);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || testfn_write_all(c->fd, c->buf, (size_t) n) != 0) {
            return;
        }
    }
}

/* A request whose head is parsed: read its body, answer it. */
static int
testfn_handle(testfn_conn_t *c, testfn_req_t *r)
{
    int rc, is_get;

    rc = testfn_read_body(c, r);
    if (rc == TESTFN_BAD) {
        testfn_send_error(c, 400);
        return TESTFN_LINGER;
    }
    if (rc != TESTFN_OK) {
        return TESTFN_DONE;
    }

    is_get = testfn_eq(r->method, r->method_len, "GET");
    if (is_get && testfn_eq(r->path, r->path_len, "/fast")) {
        rc = testfn_send_canned(c, g_fast, r->conn_mode);
    } else if (is_get && testfn_eq(r->path, r->path_len, "/healthz")) {
        rc = testfn_send_canned(c, g_healthz, r->conn_mode);
    } else if (is_get && testfn_eq(r->path, r->path_len, "/stats")) {
        rc = testfn_route_stats(c, r);
    } else {
        rc = testfn_route_echo(c, r);
    }

    if (rc != 0) {
        return TESTFN_DONE;
    }
    return r->conn_mode == TESTFN_CONN_CLOSE ? TESTFN_LINGER : TESTFN_NEXT;
}

static int
testfn_is_probe(const testfn_req_t *r)
{
    return testfn_eq(r->method, r->method_len, "GET")
           && (testfn_eq(r->path, r->path_len, "/healthz")
               || testfn_eq(r->path, r->path_len, "/stats"));
}

static int
testfn_serve_one(testfn_conn_t *c)
{
    testfn_req_t r;
    size_t head_len;
    int rc, probe;

    memset(&r, 0, sizeof(r));
    r.body_hash = TESTFN_FNV_OFFSET;

    rc = testfn_read_head(c, &head_len);
    if (rc == TESTFN_OK) {
        rc = testfn_parse_head(c, &r, head_len);
    }
    if (rc == TESTFN_BAD || rc == TESTFN_TOO_BIG) {
        testfn_send_error(c, rc == TESTFN_BAD ? 400 : 431);
        return TESTFN_LINGER;
    }
    if (rc != TESTFN_OK) {
        return TESTFN_DONE;
    }

    /* the head stays where it is while the body streams in behind it */
    c->base = head_len;
    c->start = head_len;

    if (r.websocket) {
        if (r.ws_key == NULL || r.ws_key_len == 0 || r.ws_key_len > 256) {
            testfn_send_error(c, 400);
            return TESTFN_LINGER;
        }
        testfn_enter();
        testfn_route_websocket(c, &r);
        testfn_leave();
        return TESTFN_DONE;
    }

    probe = testfn_is_probe(&r);
    if (!probe) {
        testfn_enter();
    }
    rc = testfn_handle(c, &r);
    if (!probe) {
        testfn_leave();
    }
    return rc;
}

/*
 * Closing with unread input makes the kernel send a RST, which can destroy
 * the response we just sent before the client reads it (a 431 sent while
 * the rest of a huge head is still arriving).  So: half-close, and read
 * for a little while before closing.
 */
static void
testfn_lingering_close(int fd)
{
    struct timeval tv = { 0, 500000 };
    char tmp[4096];
    size_t total = 0;
    ssize_t n;

    shutdown(fd, SHUT_WR);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (total < TESTFN_DRAIN_MAX) {
        n = read(fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        total += (size_t) n;
    }
    close(fd);
}

static void *
testfn_conn_main(void *arg)
{
    testfn_conn_t c;
    int rc = TESTFN_DONE;

    memset(&c, 0, sizeof(c));
    c.fd = (int) (intptr_t) arg;
    c.buf = malloc(TESTFN_BUF_SIZE);

    if (c.buf != NULL) {
        do {
            rc = testfn_serve_one(&c);
        } while (rc == TESTFN_NEXT);
    }

    if (rc == TESTFN_LINGER) {
        testfn_lingering_close(c.fd);
    } else {
        close(c.fd);
    }
    free(c.buf);
    free(c.headers);
    free(c.out);
    return NULL;
}


/* ---- start-up ---------------------------------------------------------- */

static void
testfn_on_term(int sig)
{
    (void) sig;
    _exit(0);
}

static void *
testfn_exit_timer(void *arg)
{
    static const char msg[] = "testfn: TESTFN_EXIT_AFTER_MS reached\n";

    testfn_sleep_ms((uint64_t) (uintptr_t) arg);
    if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        /* nothing better to do */
    }
    /* _exit, not exit: the other threads are still using the heap */
    _exit(3);
    return NULL;
}

static void testfn_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
testfn_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "testfn: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* Milliseconds from the environment: 1 if the variable is set, else 0. */
static int
testfn_env_ms(const char *name, uint64_t *ms)
{
    const char *v = getenv(name);

    *ms = 0;
    if (v == NULL || *v == '\0') {
        return 0;
    }
    if (testfn_parse_u64(v, strlen(v), 86400000ULL, ms) != 0) {
        testfn_die("bad %s=%s (milliseconds expected)", name, v);
    }
    return 1;
}

static char *testfn_format(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), nonnull(1)));

static char *
testfn_format(const char *fmt, ...)
{
    va_list ap;
    char one[1], *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(one, sizeof(one), fmt, ap);     /* measure */
    va_end(ap);
    s = malloc((size_t) n + 1);
    if (s == NULL) {
        testfn_die("out of memory");
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t) n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void
testfn_build_canned(testfn_canned_t *canned, const char *body)
{
    int mode;

    for (mode = 0; mode < 3; mode++) {
        canned[mode].data = testfn_format(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            "Content-Length: %zu\r\n%s%s\r\n%s",
            strlen(body), g_ident, testfn_conn_header[mode], body);
        canned[mode].len = strlen(canned[mode].data);
    }
}

static void
testfn_build_responses(void)
{
    char *rev = testfn_format("%s", g_revision);
    char *p;

    /* a revision with a newline in it must not split the header */
    for (p = rev; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    g_ident = testfn_format("X-Testfn-Pid: %ld\r\nX-Testfn-Revision: %s\r\n"
                            "X-Testfn-Port: %u\r\n", g_pid, rev, g_port);
    g_ident_len = strlen(g_ident);
    free(rev);

    testfn_build_canned(g_fast, "ok\n");
    testfn_build_canned(g_healthz, "ok\n");
}

static int
testfn_listen(const char *host, unsigned port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
    socklen_t sslen;
    int fd, on = 1;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        sslen = sizeof(*sin);
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        sslen = sizeof(*sin6);
    } else {
        /* no resolver: a static binary cannot use NSS */
        testfn_die("TESTFN_LISTEN_HOST %s is not a numeric address", host);
    }

    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        testfn_die("socket: %s", strerror(errno));
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *) &ss, sslen) != 0) {
        testfn_die("bind: %s", strerror(errno));
    }
    if (listen(fd, 4096) != 0) {
        testfn_die("listen: %s", strerror(errno));
    }

    /* with PORT=0 the kernel chose; report the real one everywhere */
    if (getsockname(fd, (struct sockaddr *) &ss, &sslen) == 0) {
        g_port = ntohs(ss.ss_family == AF_INET ? sin->sin_port
                                               : sin6->sin6_port);
    }
    return fd;
}

static void
testfn_accept_loop(int lfd)
{
    pthread_attr_t attr;
    pthread_t tid;
    int fd, on = 1;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, TESTFN_STACK_SIZE);

    for (;;) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                testfn_sleep_ms(10);    /* let some connections finish */
                continue;
            case EBADF:
            case EINVAL:
            case ENOTSOCK:
            case EOPNOTSUPP:
                fprintf(stderr, "testfn: accept: %s\n", strerror(errno));
                exit(1);
            default:
                continue;               /* EINTR, ECONNABORTED, ... */
            }
        }

        /* responses are written whole: nothing for Nagle to coalesce */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));

        if (pthread_create(&tid, &attr, testfn_conn_main,
                           (void *) (intptr_t) fd) != 0)
        {
            close(fd);
        }
    }
}

int
main(void)
{
    struct sigaction sa;
    const char *port, *host, *v;
    uint64_t n;
    pthread_t tid;
    int lfd;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = testfn_on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    port = getenv("PORT");
    if (port == NULL || *port == '\0') {
        port = getenv("port");
    }
    if (port == NULL || *port == '\0') {
        testfn_die("PORT (or port) must be set in the environment");
    }
    if (testfn_parse_u64(port, strlen(port), 65535, &n) != 0) {
        testfn_die("bad PORT %s", port);
    }
    g_port = (unsigned) n;

    v = getenv("FAAS_FUNCTION");
    g_function = v ? v : "";
    v = getenv("FAAS_REVISION");
    g_revision = v ? v : "";
    host = getenv("TESTFN_LISTEN_HOST");
    if (host == NULL || *host == '\0') {
        host = "127.0.0.1";
    }

    /* counted from start, so a crash can come before or after listening */
    if (testfn_env_ms("TESTFN_EXIT_AFTER_MS", &n)) {
        if (pthread_create(&tid, NULL, testfn_exit_timer,
                           (void *) (uintptr_t) n) != 0)
        {
            testfn_die("cannot start the exit timer");
        }
        pthread_detach(tid);
    }

    if (testfn_env_ms("TESTFN_START_DELAY_MS", &n)) {
        testfn_sleep_ms(n);
    }

    g_pid = (long) getpid();
    lfd = testfn_listen(host, g_port);
    testfn_build_responses();

    printf(strchr(host, ':') ? "testfn listening on [%s]:%u pid=%ld\n"
                             : "testfn listening on %s:%u pid=%ld\n",
           host, g_port, g_pid);
    fflush(stdout);

    testfn_accept_loop(lfd);
    return 0;
}
