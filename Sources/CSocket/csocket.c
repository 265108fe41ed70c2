#define _GNU_SOURCE
#include "csocket.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <malloc.h>
#include <pthread.h>

#define CONTROL_SIZE 64

struct msock_batch {
    unsigned count, bufsize;
    struct mmsghdr *in, *out;
    struct iovec *in_iov, *out_iov;
    struct sockaddr_storage *in_addr, *out_addr;
    unsigned char *in_buf, *out_buf;
    unsigned char *in_ctl, *out_ctl;
};

int msock_open_udp(const char *host, int port, char *err, size_t errlen) {
    struct addrinfo hints, *res = NULL;
    char service[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) { snprintf(err, errlen, "%s: %s", host, gai_strerror(rc)); return -1; }
    int fd = socket(res->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) { snprintf(err, errlen, "socket: %s", strerror(errno)); freeaddrinfo(res); return -1; }
    int on = 1, rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    // pktinfo only on wildcard binds: there the reply must leave from the address the query reached;
    // on a specific address the kernel already uses it, and pktinfo would cost a control message
    // and a source-address route lookup per packet.
    int wildcard = 0;
    if (res->ai_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)res->ai_addr;
        wildcard = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        if (wildcard) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)res->ai_addr;
        wildcard = s4->sin_addr.s_addr == htonl(INADDR_ANY);
        if (wildcard) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
    }
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        snprintf(err, errlen, "bind %s port %d: %s", host, port, strerror(errno));
        close(fd); freeaddrinfo(res); return -1;
    }
    freeaddrinfo(res);
    return fd;
}

msock_batch *msock_batch_new(unsigned count, unsigned bufsize) {
    msock_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->count = count; b->bufsize = bufsize;
    b->in = calloc(count, sizeof *b->in);
    b->out = calloc(count, sizeof *b->out);
    b->in_iov = calloc(count, sizeof *b->in_iov);
    b->out_iov = calloc(count, sizeof *b->out_iov);
    b->in_addr = calloc(count, sizeof *b->in_addr);
    b->out_addr = calloc(count, sizeof *b->out_addr);
    b->in_buf = calloc(count, bufsize);
    b->out_buf = calloc(count, bufsize);
    b->in_ctl = calloc(count, CONTROL_SIZE);
    b->out_ctl = calloc(count, CONTROL_SIZE);
    if (!b->in || !b->out || !b->in_iov || !b->out_iov || !b->in_addr || !b->out_addr || !b->in_buf ||
        !b->out_buf || !b->in_ctl || !b->out_ctl) { msock_batch_free(b); return NULL; }
    return b;
}

void msock_batch_free(msock_batch *b) {
    if (!b) return;
    free(b->in); free(b->out); free(b->in_iov); free(b->out_iov); free(b->in_addr); free(b->out_addr);
    free(b->in_buf); free(b->out_buf); free(b->in_ctl); free(b->out_ctl); free(b);
}

int msock_recv(int fd, msock_batch *b) {
    for (unsigned i = 0; i < b->count; i++) {
        b->in_iov[i].iov_base = b->in_buf + (size_t)i * b->bufsize;
        b->in_iov[i].iov_len = b->bufsize;
        struct msghdr *h = &b->in[i].msg_hdr;
        h->msg_name = &b->in_addr[i];
        h->msg_namelen = sizeof b->in_addr[i];
        h->msg_iov = &b->in_iov[i];
        h->msg_iovlen = 1;
        h->msg_control = b->in_ctl + (size_t)i * CONTROL_SIZE;
        h->msg_controllen = CONTROL_SIZE;
        h->msg_flags = 0;
        b->in[i].msg_len = 0;
    }
    return recvmmsg(fd, b->in, b->count, MSG_WAITFORONE, NULL);
}

const unsigned char *msock_packet(const msock_batch *b, unsigned i) { return b->in_buf + (size_t)i * b->bufsize; }

unsigned msock_packet_length(const msock_batch *b, unsigned i) {
    if (b->in[i].msg_hdr.msg_flags & MSG_TRUNC) return 0;
    return b->in[i].msg_len;
}

const void *msock_peer(const msock_batch *b, unsigned i) { return &b->in_addr[i]; }

unsigned char *msock_reply_buffer(msock_batch *b, unsigned j) { return b->out_buf + (size_t)j * b->bufsize; }
unsigned msock_buffer_size(const msock_batch *b) { return b->bufsize; }

void msock_set_reply(msock_batch *b, unsigned j, unsigned i, unsigned length) {
    b->out_addr[j] = b->in_addr[i];
    b->out_iov[j].iov_base = b->out_buf + (size_t)j * b->bufsize;
    b->out_iov[j].iov_len = length;
    struct msghdr *h = &b->out[j].msg_hdr;
    h->msg_name = &b->out_addr[j];
    h->msg_namelen = b->in[i].msg_hdr.msg_namelen;
    h->msg_iov = &b->out_iov[j];
    h->msg_iovlen = 1;
    h->msg_flags = 0;
    // Reply from the local address the query arrived on: copy its pktinfo, clearing the interface.
    unsigned char *ctl = b->out_ctl + (size_t)j * CONTROL_SIZE;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    struct msghdr *in = &b->in[i].msg_hdr;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR(in, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            memset(ctl, 0, CONTROL_SIZE);
            h->msg_control = ctl;
            h->msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
            struct cmsghdr *o = CMSG_FIRSTHDR(h);
            o->cmsg_level = IPPROTO_IP; o->cmsg_type = IP_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            pi.ipi_ifindex = 0;
            pi.ipi_spec_dst = pi.ipi_addr;
            memcpy(CMSG_DATA(o), &pi, sizeof pi);
            break;
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            memset(ctl, 0, CONTROL_SIZE);
            h->msg_control = ctl;
            h->msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
            struct cmsghdr *o = CMSG_FIRSTHDR(h);
            o->cmsg_level = IPPROTO_IPV6; o->cmsg_type = IPV6_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            pi.ipi6_ifindex = 0;
            memcpy(CMSG_DATA(o), &pi, sizeof pi);
            break;
        }
    }
}

int msock_send(int fd, msock_batch *b, unsigned n) {
    unsigned sent = 0;
    int tries = 0;
    while (sent < n && tries < 8) {
        int r = sendmmsg(fd, b->out + sent, n - sent, 0);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) { tries++; continue; }
            // a failing destination (e.g. unreachable): skip that one reply
            sent++; tries++;
            continue;
        }
        sent += (unsigned)r;
    }
    return (int)sent;
}

void msock_release_free_memory(void) { malloc_trim(0); }

void msock_name_this_thread(const char *name) {
    char shortened[16];
    snprintf(shortened, sizeof shortened, "%s", name);
    pthread_setname_np(pthread_self(), shortened);
}
