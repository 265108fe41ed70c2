/* fixed-answer-uring.c -- fixed-answer.c's loop through io_uring instead of recvmmsg/sendmmsg.
 *
 * One multishot IORING_OP_RECVMSG into a ring of 512 provided buffers (kernel 6.0+), one
 * IORING_OP_SENDMSG per reply, all submitted with one io_uring_enter per loop; ring set up with
 * SINGLE_ISSUER and DEFER_TASKRUN (completions run in the issuing thread, as recvmmsg's work does).
 * Each reply is the query with QR and AA set, as in fixed-answer.c. It answers whether io_uring
 * raises the ceiling of a socket server on this machine (Benchmarks/ceiling/ceiling.sh with
 * CEILING_VARIANTS=uring; needs liburing-dev). liburing 2.3 (Debian 12) lacks
 * io_uring_setup_buf_ring, so the buffer ring is mapped and registered here.
 *
 * usage: fixed-answer-uring ADDRESS PORT SECONDS   (exits after SECONDS; IPv4 only)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "ceiling-socket.h"
#include <sys/mman.h>
#define NBUF 512
#define BUFSZ 2048
#define NOUT 1024
static unsigned char bufs[NBUF][BUFSZ];
static unsigned char obuf[NOUT][1280];
static struct sockaddr_in oaddr[NOUT];
static struct iovec oiov[NOUT];
static struct msghdr omsg[NOUT];
int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s ADDRESS PORT SECONDS\n", argv[0]); return 2; }
    int fd = ceiling_socket(argv[1], argv[2]);
    if (fd < 0) return 2;
    struct io_uring ring;
    struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE, .cq_entries = 4096 };
    int r = io_uring_queue_init_params(1024, &ring, &p);
    if (r < 0) { fprintf(stderr, "init %s\n", strerror(-r)); return 2; }
    int err;
    struct io_uring_buf_ring *br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED) { perror("mmap"); return 2; }
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = 0 };
    err = io_uring_register_buf_ring(&ring, &reg, 0);
    if (err) { fprintf(stderr, "bufring %s\n", strerror(-err)); return 2; }
    for (int i = 0; i < NBUF; i++) io_uring_buf_ring_add(br, bufs[i], BUFSZ, i, io_uring_buf_ring_mask(NBUF), i);
    io_uring_buf_ring_advance(br, NBUF);
    struct msghdr tmpl = { .msg_namelen = sizeof(struct sockaddr_in) };
    for (int i = 0; i < NOUT; i++) {
        oiov[i].iov_base = obuf[i];
        omsg[i] = (struct msghdr){ .msg_name = &oaddr[i], .msg_namelen = sizeof oaddr[i], .msg_iov = &oiov[i], .msg_iovlen = 1 };
    }
    unsigned onext = 0, inflight = 0;
    int armed = 0;
    time_t stop = time(NULL) + atoi(argv[3]);
    unsigned long long answered = 0;
    struct __kernel_timespec ts = { .tv_sec = 1 };
    while (1) {
        if (!armed) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            io_uring_prep_recvmsg_multishot(sqe, fd, &tmpl, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT; sqe->buf_group = 0; sqe->user_data = 0;
            armed = 1;
        }
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
        if (time(NULL) >= stop) break; /* each wait returns within a second */
        unsigned head, seen = 0, returned = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            if (cqe->user_data == 0) {
                if (!(cqe->flags & IORING_CQE_F_MORE)) armed = 0;
                if (cqe->res <= 0 || !(cqe->flags & IORING_CQE_F_BUFFER)) continue;
                unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(bufs[bid], cqe->res, &tmpl);
                if (o && inflight < NOUT) {
                    unsigned len = io_uring_recvmsg_payload_length(o, cqe->res, &tmpl);
                    unsigned char *q = io_uring_recvmsg_payload(o, &tmpl);
                    if (len >= 12 && len <= 1232 && !(q[2] & 0x80)) {
                        unsigned k = onext++ % NOUT;
                        memcpy(obuf[k], q, len); obuf[k][2] |= 0x84; obuf[k][3] &= 0x70;
                        oiov[k].iov_len = len;
                        memcpy(&oaddr[k], io_uring_recvmsg_name(o), sizeof oaddr[k]);
                        struct io_uring_sqe *s = io_uring_get_sqe(&ring);
                        if (!s) { io_uring_submit(&ring); s = io_uring_get_sqe(&ring); }
                        io_uring_prep_sendmsg(s, fd, &omsg[k], 0);
                        s->user_data = 1; inflight++; answered++;
                    }
                }
                io_uring_buf_ring_add(br, bufs[bid], BUFSZ, bid, io_uring_buf_ring_mask(NBUF), returned++);
            } else inflight--;
        }
        io_uring_buf_ring_advance(br, returned);
        io_uring_cq_advance(&ring, seen);
    }
    printf("answered %llu\n", answered);
    return 0;
}
