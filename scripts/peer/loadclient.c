// A WebSocket load client for side-by-side server benchmarks (scripts/bench-peer).
// One thread, epoll, non-blocking sockets, masked client frames; reads 7-, 16- and 64-bit
// length frames. Loopback only. Bounded: every phase has a deadline, and --timeout bounds
// the whole run. Prints one JSON line.
//
//   loadclient --mode echo    --port P --connections 100 --rate 20000 --duration 10
//   loadclient --mode fanout  --port P --connections 1000 --rate 100 --duration 10
//   loadclient --mode idle    --port P --connections 10000 --hold 3
//   loadclient --mode connect --port P --connections 5000 --concurrency 50
//
// echo: --rate messages/s in all, round robin over the connections (path /ws/echo);
// latency is receive time minus the send time written in the payload (CLOCK_MONOTONIC).
// fanout: --connections subscribers and one more connection, the publisher, on
// /ws/broadcast; the publisher sends --rate messages/s; every subscriber should receive
// each. The publisher's own copies (a server that sends them) are counted apart.
// A warm-up message reaches every subscriber before the clock and the CPU count start.
// idle: open --connections, hold --hold seconds; the server's VmRSS before and after.
// connect: open, upgrade and cleanly close --connections, --concurrency at a time.
// With --server-pid, the server's utime+stime (/proc/PID/stat) is read around the
// measured phase.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, UPGRADING, OPEN, CLOSING, DONE };
enum { M_ECHO, M_FANOUT, M_IDLE, M_CONNECT };

typedef struct {
    int fd, state, publisher, got_sync, wout;
    uint64_t started;
    char *rbuf; size_t rlen, rcap;
    char *wbuf; size_t wlen, wcap;
} Conn;

static struct {
    int mode, port, connections, concurrency, size, server_pid;
    double rate, duration, hold, drain, timeout;
    const char *host, *path;
} opt = { M_ECHO, 0, 100, 200, 200, 0, 1000, 10, 3, 10, 0, "127.0.0.1", NULL };

static struct {
    uint64_t opened, connect_failures, upgrade_failures, unexpected_closes, protocol_errors;
    uint64_t sent, send_blocked, received, own_copies, malformed, closed_cleanly, synced;
    uint64_t finished;  // connect mode: connections done (clean or not)
} st;

static int ep;
static Conn *conns;
static int nconns;
static struct sockaddr_in addr;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t deadline;

// Latency histogram: 1 µs buckets to 1 s, then 1 ms buckets to 120 s.
#define FINE 1000000
#define COARSE 120000
static uint32_t *fine, *coarse;
static uint64_t lat_count, lat_max_ns;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static void record_latency(uint64_t ns) {
    uint64_t us = ns / 1000;
    if (us < FINE) fine[us]++;
    else if (us / 1000 < COARSE) coarse[us / 1000]++;
    else coarse[COARSE - 1]++;
    lat_count++;
    if (ns > lat_max_ns) lat_max_ns = ns;
}

static double percentile_ms(double p) {
    if (lat_count == 0) return 0;
    uint64_t rank = (uint64_t)(p * (double)lat_count), seen = 0;
    if (rank >= lat_count) rank = lat_count - 1;
    for (uint64_t i = 0; i < FINE; i++) if ((seen += fine[i]) > rank) return (double)i / 1000.0;
    for (uint64_t i = 0; i < COARSE; i++) if ((seen += coarse[i]) > rank) return (double)i;
    return (double)lat_max_ns / 1e6;
}

// The server's user and system CPU seconds (utime, stime: every thread, live or gone).
static double server_cpu_split(double *user) {
    *user = 0;
    if (!opt.server_pid) return 0;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');  // the command name may hold spaces
    if (!p) return -1;
    unsigned long long ut = 0, stime = 0;
    // after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stime) != 2) return -1;
    *user = (double)ut / (double)sysconf(_SC_CLK_TCK);
    return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double user0, user1;
static double server_cpu(void) { return server_cpu_split(&user0); }
static double server_cpu_end(void) { return server_cpu_split(&user1); }

static long server_rss_kib(void) {
    if (!opt.server_pid) return 0;
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    fclose(f);
    return kib;
}

static void conn_close(Conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = DONE;
    free(c->rbuf); free(c->wbuf);
    c->rbuf = c->wbuf = NULL;
    c->rlen = c->rcap = c->wlen = c->wcap = 0;
}

static void lost(Conn *c) {  // the server closed or broke a connection we did not close
    if (c->state == CONNECTING) st.connect_failures++;
    else if (c->state == UPGRADING) st.upgrade_failures++;
    else if (c->state == OPEN) st.unexpected_closes++;
    if (opt.mode == M_CONNECT) st.finished++;
    conn_close(c);
}

static void want_write(Conn *c, int on) {
    c->wout = on;
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void flush(Conn *c) {
    size_t off = 0;
    while (off < c->wlen) {
        ssize_t n = write(c->fd, c->wbuf + off, c->wlen - off);
        if (n > 0) { off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        lost(c);
        return;
    }
    memmove(c->wbuf, c->wbuf + off, c->wlen - off);
    c->wlen -= off;
    if (c->wlen > 0 && !c->wout) want_write(c, 1);
    if (c->wlen == 0 && c->wout) want_write(c, 0);
}

// Queues a masked frame; returns 0 when the connection's queue (256 KiB) is full.
static int send_frame(Conn *c, int opcode, const char *payload, size_t len) {
    size_t need = 14 + len;
    if (c->wlen + need > 262144) return 0;
    if (c->wcap < c->wlen + need) {
        size_t cap = c->wcap ? c->wcap : 4096;
        while (cap < c->wlen + need) cap *= 2;
        c->wbuf = realloc(c->wbuf, cap);
        c->wcap = cap;
    }
    unsigned char *h = (unsigned char *)c->wbuf + c->wlen;
    size_t n = 0;
    h[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) h[n++] = (unsigned char)(0x80 | len);
    else if (len < 65536) { h[n++] = 0x80 | 126; h[n++] = (unsigned char)(len >> 8); h[n++] = (unsigned char)len; }
    else { h[n++] = 0x80 | 127; for (int i = 7; i >= 0; i--) h[n++] = (unsigned char)((uint64_t)len >> (8 * i)); }
    uint32_t key = (uint32_t)rnd();
    unsigned char mask[4] = { (unsigned char)key, (unsigned char)(key >> 8), (unsigned char)(key >> 16), (unsigned char)(key >> 24) };
    memcpy(h + n, mask, 4);
    n += 4;
    for (size_t i = 0; i < len; i++) h[n + i] = (unsigned char)payload[i] ^ mask[i & 3];
    int was = c->wlen > 0;
    c->wlen += n + len;
    if (!was) flush(c);
    return 1;
}

static void send_timed(Conn *c, uint64_t seq) {
    char p[65536];
    size_t len = (size_t)opt.size;
    int k = snprintf(p, sizeof p, "T%016llxS%08llx", (unsigned long long)now_ns(), (unsigned long long)seq);
    memset(p + k, 'x', len - (size_t)k);
    if (send_frame(c, 1, p, len)) st.sent++;
    else st.send_blocked++;
}

static void conn_start(Conn *c) {
    memset(c, 0, sizeof *c);
    c->started = now_ns();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) { st.connect_failures++; c->state = DONE; if (opt.mode == M_CONNECT) st.finished++; return; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = CONNECTING;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) lost(c);
}

static void on_connected(Conn *c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) { lost(c); return; }
    char req[512];
    int n = snprintf(req, sizeof req,
        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        opt.path, opt.host, opt.port);
    c->state = UPGRADING;
    c->rcap = 8192;
    c->rbuf = malloc(c->rcap);
    want_write(c, 0);
    if (write(c->fd, req, (size_t)n) != n) lost(c);
}

static void on_open(Conn *c) {
    st.opened++;
    if (opt.mode == M_CONNECT) {
        record_latency(now_ns() - c->started);
        static const char code[2] = { 0x03, (char)0xe8 };  // 1000
        c->state = CLOSING;
        send_frame(c, 8, code, 2);
    }
}

static void on_message(Conn *c, const char *p, size_t len) {
    if (len >= 1 && p[0] == 'W') { if (!c->publisher && !c->got_sync) { c->got_sync = 1; st.synced++; } return; }
    if (len < 26 || p[0] != 'T') { st.malformed++; return; }
    char hex[17];
    memcpy(hex, p + 1, 16);
    hex[16] = 0;
    uint64_t ts = strtoull(hex, NULL, 16), t = now_ns();
    if (c->publisher) { st.own_copies++; return; }
    st.received++;
    record_latency(t > ts ? t - ts : 0);
}

// Handles the complete frames in c->rbuf; returns 0 when the connection is gone.
static int parse_frames(Conn *c) {
    size_t off = 0;
    while (c->rlen - off >= 2) {
        unsigned char *b = (unsigned char *)c->rbuf + off;
        int op = b[0] & 0x0f;
        size_t avail = c->rlen - off, hdr = 2;
        uint64_t len = b[1] & 0x7f;
        if (b[1] & 0x80) { st.protocol_errors++; lost(c); return 0; }  // servers do not mask
        if (len == 126) { if (avail < 4) break; len = ((uint64_t)b[2] << 8) | b[3]; hdr = 4; }
        else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | b[2 + i];
            hdr = 10;
        }
        if (len > (64u << 20)) { st.protocol_errors++; lost(c); return 0; }
        if (avail < hdr + len) {
            if (hdr + len > c->rcap) {  // grow to hold the whole frame
                size_t cap = c->rcap;
                while (cap < hdr + len) cap *= 2;
                memmove(c->rbuf, c->rbuf + off, avail);
                c->rlen = avail;
                off = 0;
                c->rbuf = realloc(c->rbuf, cap);
                c->rcap = cap;
            }
            break;
        }
        const char *payload = (const char *)b + hdr;
        if (op == 1 || op == 2) { if (!(b[0] & 0x80)) st.malformed++; else on_message(c, payload, (size_t)len); }
        else if (op == 9) send_frame(c, 10, payload, (size_t)len);
        else if (op == 8) {
            if (c->state == CLOSING) { st.closed_cleanly++; st.finished++; conn_close(c); }
            else lost(c);
            return 0;
        } else if (op != 10) st.malformed++;
        off += hdr + (size_t)len;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    return 1;
}

static void on_readable(Conn *c) {
    for (int round = 0; round < 4; round++) {
        ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n == 0) { lost(c); return; }
        if (n < 0) { if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return; lost(c); return; }
        c->rlen += (size_t)n;
        if (c->state == UPGRADING) {
            char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
            if (!end) { if (c->rlen == c->rcap) lost(c); else continue; return; }
            if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.1 101", 12) != 0) { lost(c); return; }
            size_t head = (size_t)(end + 4 - c->rbuf);
            memmove(c->rbuf, c->rbuf + head, c->rlen - head);
            c->rlen -= head;
            c->state = OPEN;
            on_open(c);
        }
        if (c->state != OPEN && c->state != CLOSING) return;
        if (!parse_frames(c)) return;
        if ((size_t)n < 4096) return;  // probably drained; level-triggered epoll says if not
    }
}

static void poll_once(int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(ep, evs, 512, timeout_ms);
    for (int i = 0; i < n; i++) {
        Conn *c = evs[i].data.ptr;
        if (c->state == DONE) continue;
        if (c->state == CONNECTING) {
            if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
            continue;
        }
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
        if (c->state != DONE && (evs[i].events & EPOLLOUT) && c->wlen) flush(c);
    }
}

static int timed_out(void) { return now_ns() > deadline; }

static int in_flight(int upto) {
    int k = 0;
    for (int i = 0; i < upto; i++) if (conns[i].state == CONNECTING || conns[i].state == UPGRADING) k++;
    return k;
}

// Opens conns[0..n-1], opt.concurrency at a time; returns when all are open or failed.
static void open_all(int n) {
    int next = 0, pending = 0;
    uint64_t last_scan = 0;
    while (!timed_out()) {
        while (next < n && pending < opt.concurrency) { conn_start(&conns[next++]); pending++; }
        poll_once(5);
        uint64_t t = now_ns();
        if (t - last_scan > 2000000 || next == n) { pending = in_flight(next); last_scan = t; }
        if (next == n && pending == 0) return;
    }
}

static void run_connect(void) {
    int next = 0;
    while (st.finished < (uint64_t)opt.connections && !timed_out()) {
        while (next < opt.connections && (uint64_t)next - st.finished < (uint64_t)opt.concurrency) {
            Conn *c = &conns[next++];
            conn_start(c);
        }
        poll_once(5);
    }
}

static void print_json(double cpu, double seconds, long rss0, long rss1, uint64_t expected) {
    const char *modes[] = { "echo", "fanout", "idle", "connect" };
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double client_cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    uint64_t missing = expected > st.received ? expected - st.received : 0;
    uint64_t errors = st.connect_failures + st.upgrade_failures + st.unexpected_closes + st.protocol_errors + st.malformed + st.send_blocked;
    double per = 0, per_user = 0, user = user1 - user0;
    uint64_t units = opt.mode == M_CONNECT || opt.mode == M_IDLE ? st.opened : st.received;
    if (units) { per = cpu * 1e6 / (double)units; per_user = user * 1e6 / (double)units; }
    printf("{\"mode\": \"%s\", \"path\": \"%s\", \"connections\": %d, \"opened\": %llu, \"rate\": %g, \"duration\": %g, \"size\": %d, "
           "\"sent\": %llu, \"expected\": %llu, \"received\": %llu, \"own_copies\": %llu, \"missing\": %llu, "
           "\"latency_p50_ms\": %.3f, \"latency_p99_ms\": %.3f, \"latency_max_ms\": %.3f, "
           "\"server_cpu_seconds\": %.2f, \"server_user_cpu_seconds\": %.2f, \"server_cpu_us_per_unit\": %.3f, "
           "\"server_user_cpu_us_per_unit\": %.3f, \"seconds\": %.3f, "
           "\"server_rss_before_kib\": %ld, \"server_rss_after_kib\": %ld, \"server_rss_kib_per_connection\": %.3f, "
           "\"closed_cleanly\": %llu, \"client_cpu_seconds\": %.2f, \"errors\": %llu, "
           "\"connect_failures\": %llu, \"upgrade_failures\": %llu, \"unexpected_closes\": %llu, "
           "\"protocol_errors\": %llu, \"malformed\": %llu, \"send_blocked\": %llu, \"timed_out\": %s}\n",
           modes[opt.mode], opt.path, opt.connections, (unsigned long long)st.opened, opt.rate, opt.duration, opt.size,
           (unsigned long long)st.sent, (unsigned long long)expected, (unsigned long long)st.received,
           (unsigned long long)st.own_copies, (unsigned long long)missing,
           percentile_ms(0.50), percentile_ms(0.99), (double)lat_max_ns / 1e6,
           cpu, user, per, per_user, seconds, rss0, rss1,
           st.opened ? (double)(rss1 - rss0) / (double)st.opened : 0.0,
           (unsigned long long)st.closed_cleanly, client_cpu, (unsigned long long)errors,
           (unsigned long long)st.connect_failures, (unsigned long long)st.upgrade_failures,
           (unsigned long long)st.unexpected_closes, (unsigned long long)st.protocol_errors,
           (unsigned long long)st.malformed, (unsigned long long)st.send_blocked, timed_out() ? "true" : "false");
}

static void usage(void) {
    fprintf(stderr, "usage: loadclient --mode echo|fanout|idle|connect --port P [--host 127.0.0.1] [--path /ws/...]\n"
                    "  [--connections N] [--rate R] [--duration S] [--size B] [--concurrency C] [--hold S]\n"
                    "  [--drain S] [--timeout S] [--server-pid PID]\n");
    exit(2);
}

static void parse_args(int argc, char **argv) {
    static struct option lo[] = {
        {"mode", 1, 0, 'm'}, {"port", 1, 0, 'p'}, {"host", 1, 0, 'H'}, {"path", 1, 0, 'P'},
        {"connections", 1, 0, 'n'}, {"rate", 1, 0, 'r'}, {"duration", 1, 0, 'd'}, {"size", 1, 0, 's'},
        {"concurrency", 1, 0, 'c'}, {"hold", 1, 0, 'h'}, {"drain", 1, 0, 'D'}, {"timeout", 1, 0, 't'},
        {"server-pid", 1, 0, 'S'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'm':
            if (!strcmp(optarg, "echo")) opt.mode = M_ECHO;
            else if (!strcmp(optarg, "fanout")) opt.mode = M_FANOUT;
            else if (!strcmp(optarg, "idle")) opt.mode = M_IDLE;
            else if (!strcmp(optarg, "connect")) opt.mode = M_CONNECT;
            else usage();
            break;
        case 'p': opt.port = atoi(optarg); break;
        case 'H': opt.host = optarg; break;
        case 'P': opt.path = optarg; break;
        case 'n': opt.connections = atoi(optarg); break;
        case 'r': opt.rate = atof(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 's': opt.size = atoi(optarg); break;
        case 'c': opt.concurrency = atoi(optarg); break;
        case 'h': opt.hold = atof(optarg); break;
        case 'D': opt.drain = atof(optarg); break;
        case 't': opt.timeout = atof(optarg); break;
        case 'S': opt.server_pid = atoi(optarg); break;
        default: usage();
        }
    }
    if (opt.port <= 0 || opt.connections <= 0 || opt.concurrency <= 0 || opt.size < 32 || opt.size > 65000) usage();
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1 || (ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "loadclient: loopback addresses only (127.0.0.0/8)\n");
        exit(2);
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt.port);
    if (!opt.path) opt.path = opt.mode == M_FANOUT ? "/ws/broadcast" : "/ws/echo";
    if (opt.timeout <= 0) opt.timeout = opt.duration + opt.drain + opt.hold + 120;
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    fine = calloc(FINE, sizeof *fine);
    coarse = calloc(COARSE, sizeof *coarse);
    ep = epoll_create1(0);
    nconns = opt.connections + (opt.mode == M_FANOUT);
    conns = calloc((size_t)nconns, sizeof *conns);
    rng ^= now_ns() ^ ((uint64_t)getpid() << 32);
    uint64_t t0 = now_ns();
    deadline = t0 + (uint64_t)(opt.timeout * 1e9);
    double cpu0, cpu1, seconds;
    long rss0 = 0, rss1 = 0;
    uint64_t expected = 0;

    if (opt.mode == M_CONNECT) {
        cpu0 = server_cpu();
        run_connect();
        seconds = (double)(now_ns() - t0) / 1e9;
        cpu1 = server_cpu_end();
        print_json(cpu1 - cpu0, seconds, 0, 0, 0);
        return 0;
    }
    if (opt.mode == M_IDLE) {
        rss0 = server_rss_kib();
        cpu0 = server_cpu();
        open_all(nconns);
        uint64_t until = now_ns() + (uint64_t)(opt.hold * 1e9);
        while (now_ns() < until && !timed_out()) poll_once(50);
        rss1 = server_rss_kib();
        cpu1 = server_cpu_end();
        print_json(cpu1 - cpu0, (double)(now_ns() - t0) / 1e9, rss0, rss1, 0);
        return 0;
    }
    open_all(opt.connections);  // subscribers (fanout) or echo connections
    Conn *pub = NULL;
    int pub_opened = 0;
    if (opt.mode == M_FANOUT) {
        conn_start(&conns[nconns - 1]);
        conns[nconns - 1].publisher = 1;
        pub = &conns[nconns - 1];
        while (pub->state != OPEN && pub->state != DONE && !timed_out()) poll_once(5);
        pub_opened = pub->state == OPEN;
        if (pub->state == OPEN) {
            const char *w = "W warm-up";
            send_frame(pub, 1, w, strlen(w));
            uint64_t until = now_ns() + 10000000000ull;
            while (st.synced < st.opened - 1 && now_ns() < until && !timed_out()) poll_once(5);
        }
        memset(fine, 0, FINE * sizeof *fine);
        memset(coarse, 0, COARSE * sizeof *coarse);
        lat_count = lat_max_ns = 0;
        st.own_copies = 0;
    }
    cpu0 = server_cpu();
    uint64_t start = now_ns(), end = start + (uint64_t)(opt.duration * 1e9);
    uint64_t seq = 0, rr = 0;
    while (now_ns() < end && !timed_out()) {
        uint64_t due = (uint64_t)(opt.rate * (double)(now_ns() - start) / 1e9);
        while (seq < due) {
            if (opt.mode == M_FANOUT) {
                if (pub->state != OPEN) break;
                send_timed(pub, seq);
            } else {
                Conn *c = NULL;
                for (int k = 0; k < opt.connections && !c; k++) {
                    Conn *x = &conns[rr++ % (uint64_t)opt.connections];
                    if (x->state == OPEN) c = x;
                }
                if (!c) break;
                send_timed(c, seq);
            }
            seq++;
        }
        poll_once(1);
    }
    seconds = (double)(now_ns() - start) / 1e9;
    if (opt.mode == M_FANOUT) {
        expected = st.sent * (st.opened - (pub_opened ? 1 : 0));  // every subscriber that opened
    } else expected = st.sent;
    uint64_t until = now_ns() + (uint64_t)(opt.drain * 1e9);
    while (st.received < expected && now_ns() < until && !timed_out()) poll_once(5);
    cpu1 = server_cpu_end();
    print_json(cpu1 - cpu0, seconds, 0, 0, expected);
    return 0;
}
