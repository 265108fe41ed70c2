// The floor for health-cpu.sh with CHECK=tcp-half-open: N half-open probes per second with nothing but
// the system calls (a SYN per probe from one raw socket, batched with sendmmsg; replies read with
// recvmmsg through a BPF port filter; the kernel resets each half-open connection), against the same
// listener and addresses as probe-floor.c. Usage: half-open-floor N PORT SECONDS (root: raw socket).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef ADDRESS_BASE
#define ADDRESS_BASE 0x7f010000
#endif
static long now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000 + t.tv_nsec / 1000000; }
static uint16_t csum(const void *data, size_t len, uint32_t sum) {
    const uint8_t *p = data;
    for (size_t i = 0; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
    if (len & 1) sum += p[len - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int n = atoi(argv[1]), port = atoi(argv[2]), secs = atoi(argv[3]);
    int raw = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_TCP);
    if (raw < 0) { perror("raw"); return 1; }
    int hold = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET};
    bind(hold, (void *)&me, sizeof me);
    socklen_t ml = sizeof me; getsockname(hold, (void *)&me, &ml);
    uint16_t myport = ntohs(me.sin_port);
    struct sock_filter code[] = {
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, myport, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffff),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = {5, code};
    if (setsockopt(raw, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) perror("filter");
    long start = now_ms(), ok = 0, rst = 0, sent = 0;
    long *next = calloc(n, sizeof(long));
    for (int i = 0; i < n; i++) next[i] = start + (i * 1000L) / n;
    int cursor = 0;
    enum { B = 64 };
    static uint8_t out[B][20]; static struct sockaddr_in dst[B]; struct mmsghdr mm[B]; struct iovec iov[B];
    static uint8_t in[B][128]; struct mmsghdr rm[B]; struct iovec riov[B];
    // the source address the kernel picks towards the endpoints (all share one route), for the checksum
    struct sockaddr_in probe = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ADDRESS_BASE + 1)}, local;
    socklen_t ll = sizeof local;
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(u, (void *)&probe, sizeof probe) != 0 || getsockname(u, (void *)&local, &ll) != 0) { perror("route"); return 1; }
    close(u);
    uint32_t src = local.sin_addr.s_addr;
    while (now_ms() - start < secs * 1000L) {
        long t = now_ms();
        int b = 0;
        for (int k = 0; k < n; k++) {
            int j = (cursor + k) % n;
            if (next[j] > t) { cursor = j; break; }
            uint32_t daddr = htonl(ADDRESS_BASE + 1 + (j / 250) * 256 + j % 250);
            struct tcphdr *h = (struct tcphdr *)out[b];
            memset(h, 0, 20);
            h->source = htons(myport); h->dest = htons(port); h->seq = htonl((uint32_t)j * 2654435761u);
            h->doff = 5; h->syn = 1; h->window = htons(1024);
            uint8_t pseudo[12]; memcpy(pseudo, &src, 4); memcpy(pseudo + 4, &daddr, 4); pseudo[8] = 0; pseudo[9] = 6; pseudo[10] = 0; pseudo[11] = 20;
            uint32_t s = 0; for (int i = 0; i < 12; i += 2) s += (pseudo[i] << 8) | pseudo[i + 1];
            h->check = htons(csum(h, 20, s));
            dst[b] = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = daddr};
            iov[b] = (struct iovec){out[b], 20};
            mm[b].msg_hdr = (struct msghdr){.msg_name = &dst[b], .msg_namelen = sizeof dst[b], .msg_iov = &iov[b], .msg_iovlen = 1};
            next[j] += 1000;
            if (++b == B) { sent += sendmmsg(raw, mm, b, 0); b = 0; }
        }
        if (b) sent += sendmmsg(raw, mm, b, 0);
        struct pollfd pfd = {raw, POLLIN, 0};
        poll(&pfd, 1, 1);
        for (;;) {
            for (int i = 0; i < B; i++) { riov[i] = (struct iovec){in[i], 128}; rm[i].msg_hdr = (struct msghdr){.msg_iov = &riov[i], .msg_iovlen = 1}; }
            int m = recvmmsg(raw, rm, B, MSG_DONTWAIT, NULL);
            if (m <= 0) break;
            for (int i = 0; i < m; i++) {
                struct iphdr *ip = (struct iphdr *)in[i];
                struct tcphdr *h = (struct tcphdr *)(in[i] + ip->ihl * 4);
                if (ntohs(h->dest) != myport) continue;
                if (h->syn && h->ack) ok++; else if (h->rst) rst++;
            }
        }
    }
    printf("sent %ld synack %ld rst %ld\n", sent, ok, rst);
    return 0;
}
