/*
 * Unit tests of controller/ports.c: round robin over the range, taken
 * ports and ports held by something else skipped.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "ports.h"


/* a fake "is it free": ports listed in data are held by another program */

static int
not_in(int port, void *data)
{
    const int  *held;

    for (held = data; *held; held++) {
        if (*held == port) {
            return 0;
        }
    }

    return 1;
}


int
main(void)
{
    int                 fd, port, held[] = { 102, 0 };
    socklen_t           len;
    faas_ports_t        ports;
    struct sockaddr_in  sin;

    is_int(faas_ports_init(&ports, 100, 104, not_in, held), 0, "init");
    is_int(faas_ports_take(&ports), 100, "first port");
    is_int(faas_ports_take(&ports), 101, "next port");
    is_int(faas_ports_take(&ports), 103, "a port held elsewhere is skipped");
    faas_ports_release(&ports, 100);
    is_int(faas_ports_take(&ports), 104, "a port given back is not reused "
           "at once");
    is_int(faas_ports_take(&ports), 100, "round robin comes back to it");
    is_int(faas_ports_take(&ports), -1, "range exhausted");
    faas_ports_release(&ports, 101);
    faas_ports_release(&ports, 9999);
    is_int(faas_ports_take(&ports), 101, "released port reused");
    faas_ports_free(&ports);

    is_int(faas_ports_init(&ports, 200, 202, not_in, held + 1), 0, "init");
    faas_ports_mark(&ports, 200);
    faas_ports_mark(&ports, 5);
    is_int(faas_ports_take(&ports), 201, "a marked (adopted) port is taken");
    faas_ports_free(&ports);

    /* the real check: a listening socket makes its port unbindable */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sin);

    ok(fd >= 0 && bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0
       && listen(fd, 1) == 0
       && getsockname(fd, (struct sockaddr *) &sin, &len) == 0,
       "a listener on an ephemeral port");
    port = ntohs(sin.sin_port);
    is_int(faas_ports_bindable(port, NULL), 0, "its port is not bindable");
    close(fd);

    is_int(faas_ports_init(&ports, port, port, NULL, NULL), 0,
           "a range of one port");
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ok(bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0 && listen(fd, 1)
       == 0, "listening on it again");
    is_int(faas_ports_take(&ports), -1, "a port something listens on is "
           "never handed out");
    close(fd);
    faas_ports_free(&ports);

    is_str(faas_ports_bindable(0, NULL) ? "yes" : "no", "yes",
           "port 0 (any) is always bindable");

    return tap_done();
}
