/*
 * A function for nginx-faas, in C: an HTTP server on 127.0.0.1:$PORT.
 *
 * The contract is the whole API: listen on the port given in $PORT and
 * answer HTTP.  FAAS_FUNCTION, FAAS_REVISION and the function's "env"
 * entries come in the environment.  It answers one request per connection
 * (nginx opens another), which keeps this example short.
 *
 *   cc -O2 -o hello docs/examples/hello.c
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


static const char *
env_or(const char *name, const char *fallback)
{
    const char  *value = getenv(name);

    return value ? value : fallback;
}


static void
answer(int fd)
{
    char     request[8192], path[1024], body[2048], response[4096];
    size_t   got = 0;
    ssize_t  n;
    int      len;

    /* read the request head; a GET has no body */

    while (got < sizeof(request) - 1) {
        n = read(fd, request + got, sizeof(request) - 1 - got);
        if (n <= 0) {
            return;
        }

        got += (size_t) n;
        request[got] = '\0';

        if (strstr(request, "\r\n\r\n")) {
            break;
        }
    }

    if (sscanf(request, "%*s %1023s", path) != 1) {
        strcpy(path, "/");
    }

    len = snprintf(body, sizeof(body),
                   "{\"greeting\":\"%s from C\",\"function\":\"%s\","
                   "\"revision\":\"%s\"}\n",
                   env_or("GREETING", "hello"), env_or("FAAS_FUNCTION", ""),
                   env_or("FAAS_REVISION", ""));

    if (strcmp(path, "/healthz") == 0) {
        len = snprintf(body, sizeof(body), "ok\n");
    }

    len = snprintf(response, sizeof(response),
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                   len, body);

    if (write(fd, response, (size_t) len) != len) {
        return;
    }
}


int
main(void)
{
    int                 listener, fd, on = 1;
    const char         *port = getenv("PORT");
    struct sockaddr_in  sin;

    if (port == NULL) {
        fprintf(stderr, "hello: PORT is not set\n");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short) atoi(port));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    listener = socket(AF_INET, SOCK_STREAM, 0);

    if (listener == -1
        || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on))
        || bind(listener, (struct sockaddr *) &sin, sizeof(sin))
        || listen(listener, 128))
    {
        perror("hello: listen");
        return 1;
    }

    for ( ;; ) {
        fd = accept(listener, NULL, NULL);
        if (fd == -1) {
            continue;
        }

        answer(fd);
        close(fd);
    }
}
