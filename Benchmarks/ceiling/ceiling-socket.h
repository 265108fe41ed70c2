/* ceiling-socket.h -- the UDP socket of fixed-answer.c and fixed-answer-uring.c, set up as Meridian's
 * UDP worker sets up its own (Sources/CSocket/csocket.c): SO_REUSEPORT, a 4 MiB receive buffer,
 * bound to one IPv4 address. Returns the descriptor, or -1 after printing why. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static int ceiling_socket(const char *address, const char *port) {
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
    if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", address); return -1; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0), on = 1, rcvbuf = 4 << 20;
    if (fd < 0) { perror("socket"); return -1; }
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("bind"); return -1; }
    return fd;
}
