// The floor for health-cpu.sh: N TCP connect probes per second with nothing but the system calls
// (socket, non-blocking connect, epoll, SO_LINGER 0 close), against the same listener. On loopback
// the kernel runs both ends of each handshake in the prober's context, so this is what any prober
// costs here. Usage: probe-floor N PORT SECONDS; endpoint j is ADDRESS_BASE + 1 + (j / 250) * 256 + j % 250,
// the addresses health-cpu.sh gives Meridian.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef ADDRESS_BASE
#define ADDRESS_BASE 0x7f010000
#endif
static long now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000 + t.tv_nsec / 1000000; }
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int n = atoi(argv[1]), port = atoi(argv[2]), secs = atoi(argv[3]);
    int ep = epoll_create1(0);
    long start = now_ms(), ok = 0, fail = 0;
    long *next = calloc(n, sizeof(long));
    for (int i = 0; i < n; i++) next[i] = start + (i * 1000L) / n;
    int cursor = 0;
    while (now_ms() - start < secs * 1000L) {
        long t = now_ms();
        for (int k = 0; k < n; k++) {
            int j = (cursor + k) % n;
            if (next[j] > t) { cursor = j; break; }
            int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            struct sockaddr_in a = {0};
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            a.sin_addr.s_addr = htonl(ADDRESS_BASE + 1 + (j / 250) * 256 + j % 250);
            int r = connect(s, (void *)&a, sizeof a);
            struct epoll_event ev = {.events = EPOLLOUT, .data.fd = s};
            if (r == 0 || errno == EINPROGRESS) epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev); else { close(s); fail++; }
            next[j] += 1000;
        }
        struct epoll_event evs[256];
        int m = epoll_wait(ep, evs, 256, 1);
        for (int e = 0; e < m; e++) {
            int s = evs[e].data.fd, err = 0;
            socklen_t l = sizeof err;
            getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err == 0) ok++; else fail++;
            struct linger lg = {1, 0};
            setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(s);
        }
    }
    printf("probes ok %ld failed %ld\n", ok, fail);
    return 0;
}
