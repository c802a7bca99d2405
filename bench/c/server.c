/*
 * A compiled server for the sixteen-octet exchange, so that a benchmark can
 * see what the load generators themselves cost: one thread, epoll; reads 16
 * octets, replies `Farewell, client`, closes. No deadlines, no cap: a
 * benchmark target, not a server to deploy.
 *
 * With `linger` it closes as the project's servers do by default: after the
 * reply it half-closes (FIN), reads and discards until the client's end of
 * stream, then closes: the same work, to compare them with.
 *
 *   gcc -O2 -o server bench/c/server.c
 *   ./server PORT [linger]  (0 picks a free one; prints "Listening at ...")
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
#include <unistd.h>

static const char REPLY[16] = "Farewell, client";

struct conn {
  int fd;
  int got;
  char buf[16];
};

static char discard[4096];

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int linger = argc > 2 && strcmp(argv[2], "linger") == 0;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4096)) {
    perror("server");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &len);
  printf("Listening at 127.0.0.1:%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  int ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          c = calloc(1, sizeof *c);
          c->fd = fd;
          struct epoll_event cev = { .events = EPOLLIN, .data.ptr = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      ssize_t r = c->got < 16 ? read(c->fd, c->buf + c->got, 16 - c->got)
                              : read(c->fd, discard, sizeof discard);
      if (r < 0 && errno == EAGAIN) continue;
      if (r > 0 && c->got == 16) continue; /* Lingering: discarded. */
      if (r > 0 && (c->got += r) < 16) continue;
      /* 16 octets always fit a fresh socket's send buffer. */
      if (r > 0 && write(c->fd, REPLY, 16) == 16 && linger) {
        shutdown(c->fd, SHUT_WR);
        continue; /* Until the client's end of stream (r == 0). */
      }
      close(c->fd);
      free(c);
    }
  }
}
