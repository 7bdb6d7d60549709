/* main.c: mockllm's command line, listening sockets, worker threads and signals.
 *
 * Every worker gets its own listening socket bound with SO_REUSEPORT to the same address, so the
 * kernel spreads connections over the workers and no accept lock is shared. The sockets are
 * bound here, before any thread starts, so that a bind error is reported and `--port 0` works:
 * the first socket picks a free port and the others bind to that one. The main thread then only
 * waits for SIGINT or SIGTERM on its own loop. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "server.h"

struct mock_config mock_cfg = {
    .host = "127.0.0.1",
    .port = 4010,
    .threads = 1,
    .defaults = {.words = 12, .cut_after = -1},
    .aws_access_key = "AKIDMOCK",
    .aws_secret_key = "mocksecret",
};

static const char usage[] =
    "usage: mockllm [options]\n"
    "  --host H             address to listen on (default 127.0.0.1)\n"
    "  --port N             port (default 4010; 0 picks a free one)\n"
    "  --threads N          worker threads, each with its own loop and listener (default 1)\n"
    "  --latency-ms N       delay before the response headers\n"
    "  --ttft-ms N          streams: delay before the first content chunk\n"
    "  --chunk-delay-ms N   streams: delay between content chunks\n"
    "  --words N            words in each answer (default 12)\n"
    "  --status N           answer every request with this status and an error body\n"
    "  --retry-after N      seconds in retry-after on 429 answers (default 1)\n"
    "  --cut-after N        close streams after N content chunks (non-stream: half a body)\n"
    "  --malformed          invalid JSON bodies / one invalid stream event\n"
    "  --hang               never answer\n"
    "  --quiet              no log lines on stderr\n"
    "  --aws-access-key K   Bedrock: the access key requests must be signed with (AKIDMOCK)\n"
    "  --aws-secret-key S   Bedrock: its secret key (default mocksecret)\n"
    "Per-request headers x-mock-<flag> (e.g. x-mock-words: 40) override these. See "
    "tools/README.md.\n";

/* Parses a whole decimal number no larger than max; returns 0 or -1. */
static int parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
    unsigned long long v;
    if (str_to_u64(str_c(s), &v) != 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char name[32];
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (n >= sizeof(name)) {
            fprintf(stderr, "mockllm: unknown option %s\n%s", a, usage);
            return -1;
        }
        memcpy(name, a, n);
        name[n] = '\0';
        /* Flags without a value. */
        if (!eq) {
            if (strcmp(name, "--malformed") == 0) {
                mock_cfg.defaults.malformed = 1;
                continue;
            } else if (strcmp(name, "--hang") == 0) {
                mock_cfg.defaults.hang = 1;
                continue;
            } else if (strcmp(name, "--quiet") == 0 || strcmp(name, "-q") == 0) {
                mock_cfg.quiet = 1;
                continue;
            } else if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
                fputs(usage, stdout);
                exit(0);
            }
        }
        val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "mockllm: %s needs a value\n", name);
            return -1;
        }
        unsigned long long v = 0;
        int bad = 0;
        if (strcmp(name, "--host") == 0) {
            mock_cfg.host = val;
        } else if (strcmp(name, "--aws-access-key") == 0) {
            bad = !*val || strpbrk(val, "/ ,\t\r\n") != NULL;
            mock_cfg.aws_access_key = val;
        } else if (strcmp(name, "--aws-secret-key") == 0) {
            bad = !*val;
            mock_cfg.aws_secret_key = val;
        } else if (strcmp(name, "--port") == 0) {
            bad = parse_num(val, 65535, &v);
            mock_cfg.port = (int)v;
        } else if (strcmp(name, "--threads") == 0) {
            bad = parse_num(val, MOCK_MAX_THREADS, &v) || v == 0;
            mock_cfg.threads = (int)v;
        } else if (strcmp(name, "--latency-ms") == 0) {
            bad = parse_num(val, MOCK_MAX_DELAY_MS, &v);
            mock_cfg.defaults.latency_ms = (uint32_t)v;
        } else if (strcmp(name, "--ttft-ms") == 0) {
            bad = parse_num(val, MOCK_MAX_DELAY_MS, &v);
            mock_cfg.defaults.ttft_ms = (uint32_t)v;
        } else if (strcmp(name, "--chunk-delay-ms") == 0) {
            bad = parse_num(val, MOCK_MAX_DELAY_MS, &v);
            mock_cfg.defaults.chunk_delay_ms = (uint32_t)v;
        } else if (strcmp(name, "--words") == 0) {
            bad = parse_num(val, MOCK_MAX_WORDS, &v);
            mock_cfg.defaults.words = (uint32_t)v;
        } else if (strcmp(name, "--status") == 0) {
            bad = parse_num(val, 999, &v) || v < 100;
            mock_cfg.defaults.status = (int)v;
        } else if (strcmp(name, "--retry-after") == 0) {
            bad = parse_num(val, 86400, &v);
            mock_cfg.defaults.retry_after = (int)v;
        } else if (strcmp(name, "--cut-after") == 0) {
            bad = parse_num(val, 1000000000, &v);
            mock_cfg.defaults.cut_after = (long)v;
        } else {
            fprintf(stderr, "mockllm: unknown option %s\n%s", name, usage);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "mockllm: bad value for %s: %s\n", name, val);
            return -1;
        }
    }
    return 0;
}

/* Opens a listening socket with SO_REUSEPORT on host:port. Returns the fd and sets *bound to
 * the port it got, or returns -1 with errno set. */
static int listen_socket(const char *host, int port, int *bound)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0) {
        sl = sizeof(struct sockaddr_in);
    } else if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
        sl = sizeof(struct sockaddr_in6);
    } else {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0)
        goto fail;
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        goto fail;
    *bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                           : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static struct mock_worker *workers[MOCK_MAX_THREADS];
static uv_signal_t sig_int, sig_term;

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    for (int i = 0; i < mock_cfg.threads; i++)
        if (workers[i])
            mock_worker_stop(workers[i]);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
}

int main(int argc, char **argv)
{
    int result = 1, port = mock_cfg.port, started = 0;
    uv_loop_t loop;
    if (parse_args(argc, argv) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    /* Benchmarks hold thousands of connections: take every descriptor the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    mock_control_init(mock_cfg.threads);
    port = mock_cfg.port;
    for (int i = 0; i < mock_cfg.threads; i++) {
        int got = 0;
        int fd = listen_socket(mock_cfg.host, port, &got);
        if (fd < 0) {
            fprintf(stderr, "mockllm: cannot listen on %s:%d: %s\n", mock_cfg.host, port,
                    strerror(errno));
            goto out;
        }
        port = got; /* with --port 0, every later socket joins the first one's port */
        int rc = mock_worker_start(&workers[i], (unsigned)i, (unsigned)mock_cfg.threads, fd);
        if (rc < 0) {
            fprintf(stderr, "mockllm: cannot start worker %d: %s\n", i, uv_strerror(rc));
            goto out;
        }
        started++;
    }
    uv_loop_init(&loop);
    uv_signal_init(&loop, &sig_int);
    uv_signal_init(&loop, &sig_term);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    int v6 = strchr(mock_cfg.host, ':') != NULL;
    printf("mockllm listening on http://%s%s%s:%d\n", v6 ? "[" : "", mock_cfg.host, v6 ? "]" : "",
           port);
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    result = 0;
out:
    if (result != 0)
        for (int i = 0; i < started; i++)
            mock_worker_stop(workers[i]);
    for (int i = 0; i < started; i++)
        mock_worker_join(workers[i]);
    mock_control_free();
    return result;
}
