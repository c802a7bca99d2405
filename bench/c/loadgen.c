/*
 * A compiled load generator for the sixteen-octet exchange, to measure the
 * client's load mode against: one thread, epoll, C exchanges in flight,
 * each a full connect -> send 16 octets -> read 16 octets -> close, the
 * reply checked byte for byte. Prints one JSON object with the keys of
 * `client.ts --json` (counts and rate) and the latency of the successful
 * exchanges (from connect() to the whole reply), p50 and p99 in µs.
 *
 * With IDLE, it first opens that many connections that never send, keeps
 * them open through the run, and reports how long opening them took: how a
 * good client fares beside idle ones. They are opened one at a time and at
 * most IDLE_RATE a second: as fast as the kernel completes handshakes, a
 * server that pauses to accept (a GC, a slow accept loop) lets its backlog
 * overflow, and each dropped SYN costs a second's retransmit.
 *
 * A HOST that is a path (it starts with /) is a Unix domain socket's; PORT
 * is then ignored (give -). A non-blocking connect to a Unix socket whose
 * backlog is full fails with EAGAIN instead of waiting, so those connects
 * block: the generator waits for the server as a TCP client's SYN does.
 *
 *   gcc -O2 -o loadgen bench/c/loadgen.c
 *   ./loadgen HOST PORT CONCURRENCY SECONDS [IDLE]
 *   ./loadgen /run/sixteen.sock - CONCURRENCY SECONDS [IDLE]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static const char MESSAGE[16] = "Hi there, server";
static const char REPLY[16] = "Farewell, client";

enum state { CONNECTING, READING };
struct slot {
  int fd;
  enum state state;
  int got;
  double began;
  char buf[16];
};

static struct sockaddr_storage addr;
static socklen_t addrlen;
static int ep;
static long ok, failed;
static double end;

/* Latencies: 1 µs buckets below 10 ms, 100 µs buckets up to 1 s, then one
 * bucket for the rest. */
#define IDLE_RATE 5000.0

#define FINE 10000
#define BUCKETS (FINE + 9900 + 1)
static long histogram[BUCKETS];

static void record(double seconds) {
  long us = (long)(seconds * 1e6);
  long b = us < FINE ? us : FINE + (us - FINE) / 100;
  histogram[b < BUCKETS ? b : BUCKETS - 1]++;
}

/* The latency (µs, the bucket's lower bound) at or below which a fraction
 * q of the recorded exchanges fall. */
static long percentile(double q) {
  long total = 0, seen = 0;
  for (int b = 0; b < BUCKETS; b++) total += histogram[b];
  if (total == 0) return -1;
  long rank = (long)(q * total + 0.999999);
  if (rank < 1) rank = 1;
  for (int b = 0; b < BUCKETS; b++) {
    if ((seen += histogram[b]) >= rank) return b < FINE ? b : FINE + (long)(b - FINE) * 100;
  }
  return -1;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Starts the slot's next exchange; a connect that fails at once counts as
 * a failure and is retried until the run's end. */
static void start(struct slot *s) {
  for (;;) {
    if (now() >= end) {
      s->fd = -1;
      return;
    }
    int unix_socket = addr.ss_family == AF_UNIX;
    s->fd = socket(addr.ss_family, SOCK_STREAM | (unix_socket ? 0 : SOCK_NONBLOCK), 0);
    if (s->fd < 0) { perror("socket"); exit(1); }
    s->state = CONNECTING;
    s->got = 0;
    s->began = now();
    int r = connect(s->fd, (struct sockaddr *)&addr, addrlen), err = errno;
    if (unix_socket) fcntl(s->fd, F_SETFL, O_NONBLOCK);
    if (r == 0 || err == EINPROGRESS) {
      struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = s };
      epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
      return;
    }
    failed++;
    close(s->fd);
  }
}

/* Ends the slot's exchange and, if the run goes on, starts the next. */
static void finish(struct slot *s, int success, int more) {
  if (success) ok++; else failed++;
  close(s->fd); /* Also removes it from the epoll set. */
  s->fd = -1;
  if (more) start(s);
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: loadgen HOST PORT|- CONCURRENCY SECONDS [IDLE]\n");
    return 2;
  }
  memset(&addr, 0, sizeof addr);
  if (argv[1][0] == '/') {
    struct sockaddr_un *un = (struct sockaddr_un *)&addr;
    if (strlen(argv[1]) >= sizeof un->sun_path) {
      fprintf(stderr, "loadgen: the socket's path is too long\n");
      return 2;
    }
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, argv[1]);
    addrlen = sizeof *un;
  } else {
    struct sockaddr_in *in = (struct sockaddr_in *)&addr;
    in->sin_family = AF_INET;
    in->sin_port = htons(atoi(argv[2]));
    addrlen = sizeof *in;
    if (inet_pton(AF_INET, argv[1], &in->sin_addr) != 1) {
      fprintf(stderr, "loadgen: HOST must be an IPv4 address or a socket's path\n");
      return 2;
    }
  }
  int concurrency = atoi(argv[3]);
  double seconds = atof(argv[4]);
  if (concurrency < 1 || seconds <= 0) {
    fprintf(stderr, "loadgen: CONCURRENCY and SECONDS must be above 0\n");
    return 2;
  }
  long idle = argc == 6 ? atol(argv[5]) : 0;
  double idleSeconds = 0;
  if (idle > 0) {
    /* One descriptor per idle connection, plus the exchanges in flight. */
    struct rlimit lim;
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    double t0 = now();
    for (long i = 0; i < idle; i++) {
      double due = t0 + i / IDLE_RATE;
      if (now() < due) usleep((useconds_t)((due - now()) * 1e6));
      int fd = socket(addr.ss_family, SOCK_STREAM, 0);
      if (fd < 0 || connect(fd, (struct sockaddr *)&addr, addrlen) != 0) {
        perror("loadgen: idle connection");
        return 1;
      }
    }
    idleSeconds = now() - t0;
    /* Let the server accept the last of them before timing anything. */
    usleep(500000);
  }
  ep = epoll_create1(0);
  struct slot *slots = calloc(concurrency, sizeof *slots);
  struct epoll_event *events = calloc(concurrency, sizeof *events);
  double begin = now();
  end = begin + seconds;
  int open = 0;
  for (int i = 0; i < concurrency; i++) {
    start(&slots[i]);
    if (slots[i].fd >= 0) open++;
  }
  while (open > 0) {
    int n = epoll_wait(ep, events, concurrency, 100);
    int more = now() < end;
    for (int i = 0; i < n; i++) {
      struct slot *s = events[i].data.ptr;
      if (s->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        /* 16 octets always fit a fresh socket's send buffer. */
        if (err || write(s->fd, MESSAGE, 16) != 16) {
          finish(s, 0, more);
        } else {
          s->state = READING;
          struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
          epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
        }
      } else {
        ssize_t r = read(s->fd, s->buf + s->got, 16 - s->got);
        if (r < 0 && errno == EAGAIN) continue;
        if (r <= 0) {
          finish(s, 0, more);
        } else if ((s->got += r) == 16) {
          int good = memcmp(s->buf, REPLY, 16) == 0;
          if (good) record(now() - s->began);
          finish(s, good, more);
        }
      }
      if (s->fd < 0) open--;
    }
  }
  double elapsed = now() - begin;
  printf("{\"exchanges\":%ld,\"succeeded\":%ld,\"failed\":%ld,\"concurrency\":%d,"
         "\"elapsedMs\":%.3f,\"ratePerSecond\":%.2f,\"p50Us\":%ld,\"p99Us\":%ld,"
         "\"idle\":%ld,\"idleOpenMs\":%.1f}\n",
         ok + failed, ok, failed, concurrency, elapsed * 1000, ok / elapsed, percentile(0.5),
         percentile(0.99), idle, idleSeconds * 1000);
  return failed ? 1 : 0;
}
