/* fixed-answer.c -- the ceiling of a UDP-socket DNS server on this machine.
 *
 * The same socket set-up and batching as Meridian's UDP worker (Sources/CSocket/csocket.c: SO_REUSEPORT,
 * 4 MiB receive buffer, recvmmsg(32, MSG_WAITFORONE) into one buffer set, replies built in a second
 * buffer set, one sendmmsg per batch) but no DNS work: each reply is the query copied with QR and AA
 * set (RFC 1035 4.1.1), so it is as long as the query (a real answer is 16-28 bytes longer). Any
 * server that reads, decides and writes a real answer through sockets costs at least this much per
 * query; Benchmarks/ceiling/ceiling.sh runs it beside gdnsd and Meridian.
 *
 * Built with -DSPIN it polls instead of sleeping (see below); fixed-answer-uring.c is the same loop
 * through io_uring. Both are CEILING_VARIANTS of ceiling.sh.
 *
 * usage: fixed-answer ADDRESS PORT SECONDS   (exits after SECONDS; IPv4 only)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "ceiling-socket.h"

#define BATCH 32
#define BUFSIZE 1232

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s ADDRESS PORT SECONDS\n", argv[0]); return 2; }
    int fd = ceiling_socket(argv[1], argv[2]);
    if (fd < 0) return 2;
    /* recvmmsg wakes at least once a second so the time limit holds on an idle socket. */
    struct timeval tick = { .tv_sec = 1 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);

    static unsigned char in_buf[BATCH][BUFSIZE], out_buf[BATCH][BUFSIZE];
    static struct sockaddr_in in_addr[BATCH], out_addr[BATCH];
    static struct iovec in_iov[BATCH], out_iov[BATCH];
    static struct mmsghdr in[BATCH], out[BATCH];
    for (int i = 0; i < BATCH; i++) {
        in_iov[i] = (struct iovec){ in_buf[i], BUFSIZE };
        in[i].msg_hdr = (struct msghdr){ .msg_name = &in_addr[i], .msg_iov = &in_iov[i], .msg_iovlen = 1 };
        out_iov[i].iov_base = out_buf[i];
        out[i].msg_hdr = (struct msghdr){ .msg_name = &out_addr[i], .msg_namelen = sizeof out_addr[i],
                                          .msg_iov = &out_iov[i], .msg_iovlen = 1 };
    }
    time_t stop = time(NULL) + atoi(argv[3]);
    unsigned long long answered = 0;
    while (time(NULL) < stop) {
        for (int i = 0; i < BATCH; i++) in[i].msg_hdr.msg_namelen = sizeof in_addr[i];
#ifdef SPIN
        /* variant (make ceiling CEILING_VARIANTS=spin): poll without sleeping, and block only after
           20,000 empty polls, so the server never pays to sleep and be woken while load is steady */
        static unsigned empty_polls;
        int n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0 && ++empty_polls >= 20000) { empty_polls = 0; n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL); }
#else
        int n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
#endif
        if (n <= 0) continue;
        int m = 0;
        for (int i = 0; i < n; i++) {
            unsigned len = in[i].msg_len;
            if (len < 12 || (in_buf[i][2] & 0x80)) continue;      /* not a query: drop */
            memcpy(out_buf[m], in_buf[i], len);
            out_buf[m][2] |= 0x84;                                 /* QR, AA */
            out_buf[m][3] &= 0x70;                                 /* RA=0, RCODE NOERROR */
            out_iov[m].iov_len = len;
            out_addr[m] = in_addr[i];
            m++;
        }
        for (int sent = 0; sent < m;) {
            int r = sendmmsg(fd, out + sent, m - sent, 0);
            if (r <= 0) break;
            sent += r;
        }
        answered += m;
    }
    printf("answered %llu\n", answered);
    return 0;
}
