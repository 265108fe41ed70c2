// Batched UDP I/O for the fast path: recvmmsg/sendmmsg with IP_PKTINFO / IPV6_PKTINFO so that replies
// leave from the address the query was sent to (wildcard binds on multi-homed hosts). Wrapped once
// here; Sources/Server/UDPWorker.swift is the only caller.
#ifndef MERIDIAN_CSOCKET_H
#define MERIDIAN_CSOCKET_H
#include <stddef.h>
#include <stdint.h>

typedef struct msock_batch msock_batch;

/// Opens a UDP socket bound to host:port (SO_REUSEPORT so that each worker gets its own socket,
/// IPV6_V6ONLY for v6 addresses, pktinfo on). Returns the fd, or -1 with a message in err.
int msock_open_udp(const char *host, int port, char *err, size_t errlen);

/// A batch of `count` receive slots and `count` reply slots of `bufsize` octets each.
msock_batch *msock_batch_new(unsigned count, unsigned bufsize);
void msock_batch_free(msock_batch *b);

/// Blocks until at least one datagram arrives; returns how many were received, or -1 (errno set).
int msock_recv(int fd, msock_batch *b);
/// Datagram i: its bytes and length (0 when it was truncated on receipt: such packets are dropped).
const unsigned char *msock_packet(const msock_batch *b, unsigned i);
unsigned msock_packet_length(const msock_batch *b, unsigned i);
/// The sender of datagram i: its socket address as received (a sockaddr_storage; Swift's
/// `IPAddress(sockaddr:)` decodes it).
const void *msock_peer(const msock_batch *b, unsigned i);
/// Reply slot j's buffer (bufsize octets) and its capacity.
unsigned char *msock_reply_buffer(msock_batch *b, unsigned j);
unsigned msock_buffer_size(const msock_batch *b);
/// Makes reply slot j a reply of `length` octets to datagram i (same peer, same local address).
void msock_set_reply(msock_batch *b, unsigned j, unsigned i, unsigned length);
/// Sends reply slots 0..<n; returns how many were sent (retrying the rest on partial sends).
int msock_send(int fd, msock_batch *b, unsigned n);

/// Returns freed heap memory to the kernel after loading (glibc malloc_trim).
void msock_release_free_memory(void);

/// Names the calling thread (the kernel keeps the first 15 bytes; ps -L and top show it).
void msock_name_this_thread(const char *name);

#endif
