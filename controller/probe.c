/*
 * Copyright (C) nginx-faas developers
 *
 * Probes (see probe.h).  One non-blocking socket per probe, every wait
 * bounded by what is left of the timeout; HTTP/1.1 with "Connection:
 * close", and only the status line is read.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"


long long
faas_probe_clock_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int
faas_probe_address(const char *address, struct sockaddr_storage *ss,
    socklen_t *len)
{
    long                  port;
    char                  host[64], *end;
    const char           *colon;
    size_t                hostlen;
    struct sockaddr_in   *sin;
    struct sockaddr_in6  *sin6;

    colon = strrchr(address, ':');

    if (colon == NULL) {
        return -1;
    }

    port = strtol(colon + 1, &end, 10);

    if (*end != '\0' || port < 1 || port > 65535) {
        return -1;
    }

    hostlen = (size_t) (colon - address);

    if (address[0] == '[' && hostlen > 2 && address[hostlen - 1] == ']') {
        address++;
        hostlen -= 2;
    }

    if (hostlen >= sizeof(host)) {
        return -1;
    }

    memcpy(host, address, hostlen);
    host[hostlen] = '\0';

    memset(ss, 0, sizeof(struct sockaddr_storage));

    sin = (struct sockaddr_in *) ss;
    sin6 = (struct sockaddr_in6 *) ss;

    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((unsigned short) port);
        *len = sizeof(struct sockaddr_in);
        return 0;
    }

    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((unsigned short) port);
        *len = sizeof(struct sockaddr_in6);
        return 0;
    }

    return -1;
}


/* Waits for events on fd until deadline; 0 when they came. */

static int
faas_probe_wait(int fd, short events, long long deadline_ms)
{
    int            rc;
    long long      left;
    struct pollfd  pfd;

    for ( ;; ) {
        left = deadline_ms - faas_probe_clock_ms();

        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }

        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;

        rc = poll(&pfd, 1, (int) left);

        if (rc > 0) {
            return 0;
        }

        if (rc == 0) {
            errno = ETIMEDOUT;
            return -1;
        }

        if (errno != EINTR) {
            return -1;
        }
    }
}


static int
faas_probe_connect(int fd, struct sockaddr_storage *ss, socklen_t len,
    long long deadline_ms)
{
    int        soerr;
    socklen_t  solen;

    if (connect(fd, (struct sockaddr *) ss, len) == 0) {
        return 0;
    }

    if (errno != EINPROGRESS) {
        return -1;
    }

    if (faas_probe_wait(fd, POLLOUT, deadline_ms) != 0) {
        return -1;
    }

    solen = sizeof(soerr);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &solen) != 0) {
        return -1;
    }

    if (soerr) {
        errno = soerr;
        return -1;
    }

    return 0;
}


static int
faas_probe_http(int fd, const char *address, const char *health,
    long long deadline_ms, char *err, size_t errlen)
{
    int       status;
    char      req[512], resp[64];
    size_t    got;
    ssize_t   n;

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s\r\n"
                 "User-Agent: faas-controller\r\n"
                 "Connection: close\r\n\r\n", health, address);

    if (n < 0 || (size_t) n >= sizeof(req)) {
        snprintf(err, errlen, "health path too long");
        return -1;
    }

    /* a fresh connection's send buffer takes the request whole */

    if (send(fd, req, (size_t) n, MSG_NOSIGNAL) != n) {
        goto failed;
    }

    /* "HTTP/1.1 200" is all that matters */

    got = 0;

    while (got < 12) {
        if (faas_probe_wait(fd, POLLIN, deadline_ms) != 0) {
            goto failed;
        }

        n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);

        if (n == 0) {
            snprintf(err, errlen, "connection closed before an answer");
            return -1;
        }

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }

            goto failed;
        }

        got += (size_t) n;
    }

    resp[got] = '\0';

    if (strncmp(resp, "HTTP/1.", 7) != 0 || resp[8] != ' '
        || sscanf(resp + 9, "%3d", &status) != 1)
    {
        snprintf(err, errlen, "not an HTTP answer");
        return -1;
    }

    if (status < 200 || status > 399) {
        snprintf(err, errlen, "GET %s answered %d", health, status);
        return -1;
    }

    return 0;

failed:

    snprintf(err, errlen, "GET %s: %s", health, strerror(errno));

    return -1;
}


int
faas_probe(const char *address, const char *health, int timeout_ms,
    char *err, size_t errlen)
{
    int                      fd, rc;
    long long                deadline_ms;
    socklen_t                len;
    struct sockaddr_storage  ss;

    if (faas_probe_address(address, &ss, &len) != 0) {
        snprintf(err, errlen, "bad address \"%s\"", address);
        return -1;
    }

    deadline_ms = faas_probe_clock_ms() + timeout_ms;

    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd == -1) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }

    if (faas_probe_connect(fd, &ss, len, deadline_ms) != 0) {
        snprintf(err, errlen, "connect to %s: %s", address, strerror(errno));
        close(fd);
        return -1;
    }

    rc = 0;

    if (health[0] != '\0') {
        rc = faas_probe_http(fd, address, health, deadline_ms, err, errlen);
    }

    close(fd);

    return rc;
}
