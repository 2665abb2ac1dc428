/* Benchmark, not a test: what this machine's kernel charges a server
 * process for the exchanges any milter session is made of, with no milter
 * code at all: a request answered after the server slept (the CPU idle in
 * between, as between a transactional sender's SMTP steps), a TCP
 * connection accepted, answered once and closed, and the same when one
 * thread accepts and hands the connection to another (libmilter's
 * listener and worker pool).
 *
 * Usage: wakeup_bench [--rounds N] [--gap-us U]
 * Prints key=value lines with the server's CPU microseconds per exchange
 * (getrusage of the server process, so the client's cost does not count). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/fdio.h"

#define REQUEST 120 /* about a milter command burst */
#define REPLY   32

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static int listen_loopback(struct sockaddr_in *sa)
{
    socklen_t len = sizeof(*sa);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)sa, sizeof(*sa)) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)sa, &len))
        die("listen");
    return fd;
}

static int read_full(int fd, char *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static double cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

/* Answers the connection's requests (one only, per_conn) and closes it;
 * how many it answered. */
static long answer(int c, int per_conn)
{
    char req[REQUEST], rep[REPLY] = {0};
    long done = 0;

    while (read_full(c, req, sizeof(req)) == 0) {
        if (ps_fd_write_all(c, rep, sizeof(rep)) != 0)
            die("write");
        done++;
        if (per_conn)
            break;
    }
    close(c);
    return done;
}

/* The hand-off between an accepting thread and a worker thread. */
static pthread_mutex_t hand_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hand_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t hand_done_cond = PTHREAD_COND_INITIALIZER;
static int hand_fd = -1;
static long hand_done;

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        int c;

        pthread_mutex_lock(&hand_lock);
        while (hand_fd < 0)
            pthread_cond_wait(&hand_cond, &hand_lock);
        c = hand_fd;
        hand_fd = -1;
        pthread_mutex_unlock(&hand_lock);
        answer(c, 1);
        pthread_mutex_lock(&hand_lock);
        hand_done++;
        pthread_cond_signal(&hand_done_cond);
        pthread_mutex_unlock(&hand_lock);
    }
    return NULL;
}

/* The server: a connection at a time, answered by this thread or, with
 * handoff, by a worker thread. Writes its CPU per exchange to the pipe
 * once it has taken as many as the client makes. */
static void serve(int lfd, int per_conn, int handoff, long rounds, int out)
{
    double t0 = cpu_us();
    long done = 0;
    pthread_t t;

    if (handoff && pthread_create(&t, NULL, worker, NULL))
        die("pthread_create");
    while (done < rounds) {
        int c = accept(lfd, NULL, NULL);

        if (c < 0)
            die("accept");
        if (!handoff) {
            done += answer(c, per_conn);
            continue;
        }
        pthread_mutex_lock(&hand_lock);
        hand_fd = c;
        pthread_cond_signal(&hand_cond);
        pthread_mutex_unlock(&hand_lock);
        done++;
    }
    pthread_mutex_lock(&hand_lock);
    while (handoff && hand_done < rounds)
        pthread_cond_wait(&hand_done_cond, &hand_lock);
    pthread_mutex_unlock(&hand_lock);
    double per = (cpu_us() - t0) / (double)rounds;
    if (ps_fd_write_all(out, &per, sizeof(per)) != 0)
        die("pipe");
}

static int dial(const struct sockaddr_in *sa)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
        connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
        die("connect");
    return fd;
}

static void pause_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    nanosleep(&ts, NULL);
}

/* One run: the server's CPU per exchange, each after a gap. */
static double run(int per_conn, int handoff, long rounds, long gap_us)
{
    struct sockaddr_in sa;
    int lfd = listen_loopback(&sa), p[2], fd = -1;
    char req[REQUEST] = {0}, rep[REPLY];
    double per = 0;
    pid_t pid;

    if (pipe(p))
        die("pipe");
    if ((pid = fork()) < 0)
        die("fork");
    if (pid == 0) {
        close(p[0]);
        serve(lfd, per_conn, handoff, rounds, p[1]);
        _exit(0);
    }
    close(lfd);
    close(p[1]);
    for (long i = 0; i < rounds; i++) {
        if (fd < 0)
            fd = dial(&sa);
        pause_us(gap_us);
        if (ps_fd_write_all(fd, req, sizeof(req)) != 0 ||
            read_full(fd, rep, sizeof(rep)))
            die("exchange");
        if (per_conn || i == rounds - 1) {
            close(fd);
            fd = -1;
        }
    }
    if (read_full(p[0], (char *)&per, sizeof(per)))
        die("result");
    waitpid(pid, NULL, 0);
    return per;
}

int main(int argc, char **argv)
{
    long rounds = 3000, gap_us = 300;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atol(argv[++i]);
        else if (!strcmp(argv[i], "--gap-us") && i + 1 < argc)
            gap_us = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: wakeup_bench [--rounds N] [--gap-us U]\n");
            return 2;
        }
    }
    if (rounds < 1 || gap_us < 0) {
        fprintf(stderr, "wakeup_bench: --rounds >= 1, --gap-us >= 0\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("request_reply_us=%.1f connection_us=%.1f "
           "connection_handoff_us=%.1f rounds=%ld gap_us=%ld\n",
           run(0, 0, rounds, gap_us), run(1, 0, rounds, gap_us),
           run(1, 1, rounds, gap_us), rounds, gap_us);
    return 0;
}
