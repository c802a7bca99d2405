/*
 * A compiled load generator for the sixteen-octet exchange, to measure the
 * client's load mode against: one thread, epoll, C exchanges in flight,
 * each a full connect -> send 16 octets -> read 16 octets -> close, the
 * reply checked byte for byte. Prints one JSON object with the same keys as
 * `client.ts --json` (counts and rate; no latency).
 *
 *   gcc -O2 -o loadgen bench/c/loadgen.c
 *   ./loadgen HOST PORT CONCURRENCY SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char MESSAGE[16] = "Hi there, server";
static const char REPLY[16] = "Farewell, client";

enum state { CONNECTING, READING };
struct slot {
  int fd;
  enum state state;
  int got;
  char buf[16];
};

static struct sockaddr_in addr;
static int ep;
static long ok, failed;
static double end;

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
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s->fd < 0) { perror("socket"); exit(1); }
    s->state = CONNECTING;
    s->got = 0;
    if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) == 0 || errno == EINPROGRESS) {
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
  if (argc != 5) {
    fprintf(stderr, "usage: loadgen HOST PORT CONCURRENCY SECONDS\n");
    return 2;
  }
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "loadgen: HOST must be an IPv4 address\n");
    return 2;
  }
  int concurrency = atoi(argv[3]);
  double seconds = atof(argv[4]);
  if (concurrency < 1 || seconds <= 0) {
    fprintf(stderr, "loadgen: CONCURRENCY and SECONDS must be above 0\n");
    return 2;
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
          finish(s, memcmp(s->buf, REPLY, 16) == 0, more);
        }
      }
      if (s->fd < 0) open--;
    }
  }
  double elapsed = now() - begin;
  printf("{\"exchanges\":%ld,\"succeeded\":%ld,\"failed\":%ld,\"concurrency\":%d,"
         "\"elapsedMs\":%.3f,\"ratePerSecond\":%.2f}\n",
         ok + failed, ok, failed, concurrency, elapsed * 1000, ok / elapsed);
  return failed ? 1 : 0;
}
