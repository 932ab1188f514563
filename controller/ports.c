/*
 * Copyright (C) nginx-faas developers
 *
 * Port allocation (see ports.h).
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ports.h"


int
faas_ports_init(faas_ports_t *ports, int lo, int hi,
    faas_ports_free_pt is_free, void *port_data)
{
    ports->lo = lo;
    ports->hi = hi;
    ports->next = lo;
    ports->is_free = is_free ? is_free : faas_ports_bindable;
    ports->port_data = port_data;
    ports->taken = calloc((size_t) (hi - lo + 1), 1);

    return ports->taken ? 0 : -1;
}


void
faas_ports_free(faas_ports_t *ports)
{
    free(ports->taken);
    ports->taken = NULL;
}


int
faas_ports_take(faas_ports_t *ports)
{
    int  i, n, port;

    n = ports->hi - ports->lo + 1;

    for (i = 0; i < n; i++) {
        port = ports->next;
        ports->next = (port == ports->hi) ? ports->lo : port + 1;

        if (ports->taken[port - ports->lo]
            || !ports->is_free(port, ports->port_data))
        {
            continue;
        }

        ports->taken[port - ports->lo] = 1;

        return port;
    }

    return -1;
}


void
faas_ports_mark(faas_ports_t *ports, int port)
{
    if (port >= ports->lo && port <= ports->hi) {
        ports->taken[port - ports->lo] = 1;
    }
}


void
faas_ports_release(faas_ports_t *ports, int port)
{
    if (port >= ports->lo && port <= ports->hi) {
        ports->taken[port - ports->lo] = 0;
    }
}


int
faas_ports_bindable(int port, void *port_data)
{
    int                 fd, ok, on;
    struct sockaddr_in  sin;

    (void) port_data;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1) {
        return 0;
    }

    /* a port whose old connections linger in TIME_WAIT (for a minute)
     * is free for a server that sets SO_REUSEADDR, as HTTP servers do:
     * skipping those would run a range dry after a burst of restarts */

    on = 1;
    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ok = (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);

    close(fd);

    return ok;
}
