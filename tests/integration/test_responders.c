/* The built-in solvers: the webroot writer, the http-01 responder (over
 * loopback with libcurl and raw sockets) and the tls-alpn-01 responder
 * (with an mbedTLS client). Challenges are built the way the library
 * builds them, and the solvers are called through their solver set.
 * With the argument "load" (under tests/harness/pebble_harness.py): each
 * responder while 1,000 slow clients hold connections to it, answering a
 * direct request and a real Pebble issuance within a few seconds. */
#include <acme.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mbedtls/asn1.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/file.h"
#include "net/json.h"
#include "base/mbedcompat.h"
#include "base/mem.h"
#include "base/rng.h"
#include "solvers/responder.h"
#include "solvers/solver.h"

#include "files.h"
#include "testutil.h"
#include "unit/unit.h"

/* Any base64url string does as the account key's thumbprint. */
#define THUMB "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
#define WK "/.well-known/acme-challenge/"

/* ---- helpers ------------------------------------------------------------ */

/* A challenge as the library builds it from the CA's JSON; NULL and *rc
 * set when acme__challenge_new refuses it. */
static acme_challenge *challenge_rc(const char *type, const char *ident_type, const char *value,
                                    const char *token, int *rc)
{
    acme__buf j = ACME__BUF_INIT;
    acme__buf_puts(&j, "{\"type\":");
    acme__json_put_string(&j, type);
    acme__buf_puts(&j, ",\"url\":\"https://ca.test/chall/1\",\"status\":\"pending\",\"token\":");
    acme__json_put_string(&j, token);
    acme__buf_puts(&j, "}");
    yajl_val v = NULL;
    acme__err err = { 0 };
    REQUIRE_OK(acme__json_parse_object(j.data, j.len, "challenge", &v, &err));
    acme_challenge *ch = NULL;
    *rc = acme__challenge_new(&ch, v, "https://ca.test/authz/1", ident_type, value, 0, THUMB,
                              NULL, &err);
    acme__json_free(v);
    acme__buf_free(&j);
    acme__err_clear(&err);
    return ch;
}

static acme_challenge *challenge(const char *type, const char *ident_type, const char *value,
                                 const char *token)
{
    int rc;
    acme_challenge *ch = challenge_rc(type, ident_type, value, token, &rc);
    CHECK_OK(rc);
    REQUIRE(ch != NULL);
    return ch;
}

static int present(acme_solvers *s, size_t i, const acme_challenge *ch)
{
    return acme__solver_present(&s->v[i], ch, NULL);
}

static void cleanup(acme_solvers *s, size_t i, const acme_challenge *ch)
{
    s->v[i].cleanup(ch, s->v[i].userdata);
}

/* A solver set holding only the responder given (http-01 or tls-alpn-01),
 * after a NULL responder was refused. */
static acme_solvers *responder_solvers(acme_http_responder *http, acme_tls_alpn_responder *tls)
{
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    if (http) {
        CHECK_RC(acme_solvers_add_http_responder(s, NULL), ACME_ERR_INVALID);
        REQUIRE_OK(acme_solvers_add_http_responder(s, http));
    } else {
        CHECK_RC(acme_solvers_add_tls_alpn_responder(s, NULL), ACME_ERR_INVALID);
        REQUIRE_OK(acme_solvers_add_tls_alpn_responder(s, tls));
    }
    REQUIRE(acme_solvers_count(s) == 1);
    CHECK_STR(s->v[0].type, http ? "http-01" : "tls-alpn-01");
    return s;
}

static char *path_join(const char *a, const char *b)
{
    acme__buf p = ACME__BUF_INIT;
    acme__buf_printf(&p, "%s%s", a, b);
    char *s = acme__buf_detach(&p);
    REQUIRE(s != NULL);
    return s;
}

/* Names in a directory, "." and ".." left out, joined by spaces. */
static char *dir_list(const char *dir)
{
    acme__buf b = ACME__BUF_INIT;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = test_readdir(d)) != NULL)
        acme__buf_printf(&b, "%s%s", b.len ? " " : "", de->d_name);
    if (d)
        closedir(d);
    acme__buf_puts(&b, "");
    return acme__buf_detach(&b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    acme__buf b = ACME__BUF_INIT;
    if (acme__file_read(path, 1 << 20, &b, NULL) != ACME_OK) {
        acme__buf_free(&b);
        return NULL;
    }
    acme__buf_puts(&b, "");
    return acme__buf_detach(&b);
}

/* A hand-made challenge, as if acme__challenge_new had let a bad token by. */
static acme_challenge *forged(const char *type, const char *token)
{
    acme_challenge *ch = calloc(1, sizeof(*ch));
    REQUIRE(ch != NULL);
    ch->type = acme__strdup(type);
    ch->url = acme__strdup("https://ca.test/chall/x");
    ch->authz_url = acme__strdup("https://ca.test/authz/x");
    ch->ident_type = acme__strdup("dns");
    ch->ident_value = acme__strdup("example.org");
    ch->token = acme__strdup(token);
    ch->key_authz = path_join(token, "." THUMB);
    ch->http_path = path_join(WK, token);
    return ch;
}

/* ---- webroot ------------------------------------------------------------ */

static void test_webroot(void)
{
    char root[] = "/tmp/libacme-test-webroot-XXXXXX";
    REQUIRE_ZERO(mkdtemp(root) == NULL);
    /* A strict umask: the modes must still come out as documented. */
    mode_t old_umask = umask(077);

    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    CHECK_RC(acme_solvers_add_webroot(s, NULL), ACME_ERR_INVALID);
    CHECK_RC(acme_solvers_add_webroot(s, ""), ACME_ERR_INVALID);
    CHECK_RC(acme_solvers_add_webroot(NULL, root), ACME_ERR_INVALID);
    CHECK(acme_solvers_count(s) == 0);
    char *root_slash = path_join(root, "/");
    REQUIRE_OK(acme_solvers_add_webroot(s, root_slash)); /* trailing slash as well */
    free(root_slash);
    REQUIRE(acme_solvers_count(s) == 1);
    CHECK_STR(s->v[0].type, "http-01");
    CHECK(s->v[0].cleanup != NULL);

    acme_challenge *ch = challenge("http-01", "dns", "example.org", "tok_EN-1234567890");
    char *wk = path_join(root, "/.well-known");
    char *dir = path_join(root, "/.well-known/acme-challenge");
    char *file = path_join(root, WK "tok_EN-1234567890");

    CHECK_OK(present(s, 0, ch));
    char *text = read_text(file);
    CHECK_STR(text, "tok_EN-1234567890." THUMB);
    CHECK_STR(text, acme_challenge_key_authorization(ch));
    free(text);
    CHECK_MSG(test_mode(file) == 0644, "file mode %o", test_mode(file));
    CHECK_MSG(test_mode(wk) == 0755, ".well-known mode %o", test_mode(wk));
    CHECK_MSG(test_mode(dir) == 0755, "acme-challenge mode %o", test_mode(dir));
    /* Written through a temporary and a rename: nothing else is left. */
    char *names = dir_list(dir);
    CHECK_STR(names, "tok_EN-1234567890");
    free(names);
    names = dir_list(root);
    CHECK_STR(names, ".well-known");
    free(names);
    /* Presenting again replaces the file. */
    CHECK_OK(present(s, 0, ch));
    names = dir_list(dir);
    CHECK_STR(names, "tok_EN-1234567890");
    free(names);

    cleanup(s, 0, ch);
    CHECK(!test_exists(file));
    CHECK(test_exists(dir)); /* directories stay */
    cleanup(s, 0, ch);  /* a second cleanup is harmless */
    CHECK(test_exists(dir));
    acme__challenge_free(ch);

    /* Tokens that would leave the directory never get that far... */
    const char *bad[] = { "../etc", "a/b", "..", "a b", "", "tok=" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = 0;
        acme_challenge *b = challenge_rc("http-01", "dns", "example.org", bad[i], &rc);
        CHECK_MSG(rc == ACME_ERR_PROTOCOL && b == NULL, "token \"%s\": rc %d", bad[i], rc);
        acme__challenge_free(b);
    }
    /* ...and the solver checks again before it builds a path. */
    char *victim = path_join(root, "/.well-known/etc");
    write_file(victim, "keep me");
    acme_challenge *evil = forged("http-01", "../etc");
    CHECK_RC(present(s, 0, evil), ACME_ERR_INVALID);
    text = read_text(victim);
    CHECK_STR(text, "keep me");
    free(text);
    cleanup(s, 0, evil);
    CHECK(test_exists(victim));
    acme__challenge_free(evil);
    evil = forged("http-01", "a/b");
    CHECK_RC(present(s, 0, evil), ACME_ERR_INVALID);
    char *sub = path_join(dir, "/a");
    CHECK(!test_exists(sub));
    free(sub);
    acme__challenge_free(evil);
    names = dir_list(dir);
    CHECK_STR(names, "");
    free(names);
    unlink(victim);
    free(victim);

    /* The webroot itself is never created. */
    acme_solvers *s2 = NULL;
    REQUIRE_OK(acme_solvers_new(&s2));
    char *missing = path_join(root, "/missing");
    REQUIRE_OK(acme_solvers_add_webroot(s2, missing));
    ch = challenge("http-01", "dns", "example.org", "tok2");
    CHECK_RC(present(s2, 0, ch), ACME_ERR_IO);
    CHECK_MSG(strstr(acme_last_error(), missing) != NULL, "message: %s", acme_last_error());
    CHECK(!test_exists(missing));
    cleanup(s2, 0, ch);
    /* A webroot that is a file is no webroot either. */
    char *plain = path_join(root, "/plain");
    write_file(plain, "x");
    acme_solvers *s3 = NULL;
    REQUIRE_OK(acme_solvers_new(&s3));
    REQUIRE_OK(acme_solvers_add_webroot(s3, plain));
    CHECK_RC(present(s3, 0, ch), ACME_ERR_IO);
    unlink(plain);
    free(plain);
    acme__challenge_free(ch);
    acme_solvers_free(s3);
    acme_solvers_free(s2);
    free(missing);
    acme_solvers_free(s);

    umask(old_umask);
    rmdir(dir);
    rmdir(wk);
    CHECK_MSG(rmdir(root) == 0, "webroot not empty at the end: %s", strerror(errno));
    free(dir);
    free(wk);
    free(file);
}

/* ---- HTTP client helpers ------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    acme__buf_append(ud, p, size * n);
    return size * n;
}

/* GET (or HEAD) with libcurl: the status, or -1 when there is none. */
static long http_get(const char *host, unsigned int port, const char *path, int head,
                     acme__buf *body, char **ctype)
{
    char url[512];
    snprintf(url, sizeof(url), "http://%s:%u%s", host, port, path);
    CURL *c = curl_easy_init();
    REQUIRE(c != NULL);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    if (head)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    long status = -1;
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        if (ctype)
            *ctype = acme__strdup(ct);
    } else {
        fprintf(stderr, "curl %s: %s\n", url, curl_easy_strerror(cc));
    }
    curl_easy_cleanup(c);
    acme__buf_puts(body, "");
    return status;
}

/* The status of a GET, the body compared with want (NULL: not checked). */
static long get_status(unsigned int port, const char *path, const char *want_body)
{
    acme__buf body = ACME__BUF_INIT;
    char *ctype = NULL;
    long st = http_get("127.0.0.1", port, path, 0, &body, &ctype);
    if (want_body) {
        CHECK_STR(acme__buf_str(&body), want_body);
        CHECK_MSG(body.len == strlen(want_body), "body length %zu", body.len);
        CHECK_STR(ctype, "text/plain");
    }
    free(ctype);
    acme__buf_free(&body);
    return st;
}

static int tcp_connect(const char *ip, unsigned int port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((unsigned short)port);
        REQUIRE_ZERO(inet_pton(AF_INET6, ip, &a->sin6_addr) != 1);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((unsigned short)port);
        REQUIRE_ZERO(inet_pton(AF_INET, ip, &a->sin_addr) != 1);
        sl = sizeof(*a);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        fprintf(stderr, "connect %s:%u: %s\n", ip, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Send req as it is and read the whole answer (the server closes). */
static char *raw_request(unsigned int port, const char *req, size_t len)
{
    int fd = tcp_connect("127.0.0.1", port);
    REQUIRE(fd >= 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    acme__buf b = ACME__BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
        acme__buf_append(&b, chunk, (size_t)n);
    close(fd);
    acme__buf_puts(&b, "");
    return acme__buf_detach(&b);
}

static int raw_status(unsigned int port, const char *req)
{
    char *resp = raw_request(port, req, strlen(req));
    int st = 0;
    if (resp && strncmp(resp, "HTTP/1.1 ", 9) == 0)
        st = atoi(resp + 9);
    CHECK_MSG(st != 0, "no status line for %s: \"%s\"", req, resp ? resp : "(null)");
    if (st)
        CHECK_MSG(strstr(resp, "\r\nConnection: close\r\n") != NULL, "%s", resp);
    free(resp);
    return st;
}

/* ---- HTTP responder ----------------------------------------------------- */

typedef struct churn_arg {
    acme_solvers *s;
    acme_challenge *ch;
    int rounds;
    int failures;
} churn_arg;

/* present/cleanup from another thread while requests are served (no
 * CHECKs here: their counters belong to the main thread). */
static void *churn(void *p)
{
    churn_arg *a = p;
    for (int i = 0; i < a->rounds; i++) {
        if (present(a->s, 0, a->ch) != ACME_OK)
            a->failures++;
        cleanup(a->s, 0, a->ch);
    }
    return NULL;
}

static void test_http_responder(void)
{
    acme_http_responder *r = NULL;
    CHECK_RC(acme_http_responder_start(NULL, "127.0.0.1", 0), ACME_ERR_INVALID);
    CHECK_RC(acme_http_responder_start(&r, "example.org", 0), ACME_ERR_INVALID);
    CHECK(r == NULL);
    CHECK_RC(acme_http_responder_start(&r, "999.0.0.1", 0), ACME_ERR_INVALID);
    CHECK_RC(acme_http_responder_start(&r, "127.0.0.1", 65536), ACME_ERR_INVALID);
    REQUIRE_OK(acme_http_responder_start(&r, "127.0.0.1", 0));
    unsigned int port = acme_http_responder_port(r);
    CHECK(port > 0 && port < 65536);
    CHECK(acme_http_responder_port(NULL) == 0);
    /* The port is taken now. */
    acme_http_responder *clash = NULL;
    CHECK_RC(acme_http_responder_start(&clash, "127.0.0.1", port), ACME_ERR_IO);
    CHECK(clash == NULL);

    acme_solvers *s = responder_solvers(r, NULL);

    acme_challenge *ch = challenge("http-01", "dns", "example.org", "evaGxfADs6pSRb2LAv9IZf17");
    const char *ka = acme_challenge_key_authorization(ch);
    const char *path = acme_challenge_http_path(ch);
    CHECK_STR(path, WK "evaGxfADs6pSRb2LAv9IZf17");

    CHECK(get_status(port, path, NULL) == 404);
    CHECK_OK(present(s, 0, ch));
    CHECK(get_status(port, path, ka) == 200);
    /* HEAD: the headers without the body. */
    acme__buf body = ACME__BUF_INIT;
    CHECK(http_get("127.0.0.1", port, path, 1, &body, NULL) == 200);
    CHECK(body.len == 0);
    acme__buf_free(&body);
    /* The raw answer. */
    char *resp = raw_request(port, "GET " WK "evaGxfADs6pSRb2LAv9IZf17 HTTP/1.0\r\n\r\n",
                             strlen("GET " WK "evaGxfADs6pSRb2LAv9IZf17 HTTP/1.0\r\n\r\n"));
    REQUIRE(resp != NULL);
    CHECK_MSG(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", resp);
    CHECK(strstr(resp, "\r\nContent-Type: text/plain\r\n") != NULL);
    char clen[64];
    snprintf(clen, sizeof(clen), "\r\nContent-Length: %zu\r\n", strlen(ka));
    CHECK(strstr(resp, clen) != NULL);
    const char *sep = strstr(resp, "\r\n\r\n");
    CHECK(sep && strcmp(sep + 4, ka) == 0);
    free(resp);
    /* absolute-form names the same resource; a bare LF ends lines too. */
    char req[512];
    snprintf(req, sizeof(req), "GET http://example.org%s HTTP/1.1\nHost: example.org\n\n", path);
    CHECK(raw_status(port, req) == 200);

    /* Not ours. */
    CHECK(get_status(port, "/", NULL) == 404);
    CHECK(get_status(port, WK, NULL) == 404);
    CHECK(get_status(port, WK "unknownToken", NULL) == 404);
    CHECK(get_status(port, WK "evaGxfADs6pSRb2LAv9IZf17/x", NULL) == 404);
    CHECK(get_status(port, WK "evaGxfADs6pSRb2LAv9IZf17?x=1", NULL) == 404);
    CHECK(get_status(port, WK "..%2Fetc", NULL) == 404);
    /* Not HTTP, or not a GET. */
    CHECK(raw_status(port, "garbage\r\n\r\n") == 400);
    CHECK(raw_status(port, "GET\r\n\r\n") == 400);
    CHECK(raw_status(port, "GET / HTTP/2.0\r\n\r\n") == 400);
    CHECK(raw_status(port, "GET  / HTTP/1.1\r\n\r\n") == 400);
    CHECK(raw_status(port, "GET / HTTP/1.1\r\nno colon here\r\n\r\n") == 400);
    CHECK(raw_status(port, "GET / HTTP/1.1\r\n folded: header\r\n\r\n") == 400);
    CHECK(raw_status(port, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n") == 405);
    const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    resp = raw_request(port, nul, sizeof(nul) - 1);
    CHECK_MSG(resp && strncmp(resp, "HTTP/1.1 400", 12) == 0, "%s", resp ? resp : "(null)");
    free(resp);
    /* A head larger than 8 KiB. */
    acme__buf big = ACME__BUF_INIT;
    acme__buf_printf(&big, "GET %s HTTP/1.1\r\n", path);
    while (big.len < 9000)
        acme__buf_puts(&big, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    acme__buf_puts(&big, "\r\n");
    resp = raw_request(port, big.data, big.len);
    CHECK_MSG(resp && strncmp(resp, "HTTP/1.1 400", 12) == 0, "%s", resp ? resp : "(null)");
    free(resp);
    acme__buf_free(&big);
    /* Still serving after all that. */
    CHECK(get_status(port, path, ka) == 200);

    /* A second responder runs beside the first, with its own tokens. */
    acme_http_responder *r2 = NULL;
    REQUIRE_OK(acme_http_responder_start(&r2, NULL, 0));
    unsigned int port2 = acme_http_responder_port(r2);
    CHECK(port2 != port);
    acme_solvers *s2 = NULL;
    REQUIRE_OK(acme_solvers_new(&s2));
    REQUIRE_OK(acme_solvers_add_http_responder(s2, r2));
    acme_challenge *ch2 = challenge("http-01", "dns", "example.net", "second-token");
    CHECK_OK(present(s2, 0, ch2));
    CHECK(get_status(port2, WK "second-token", acme_challenge_key_authorization(ch2)) == 200);
    CHECK(get_status(port, WK "second-token", NULL) == 404);
    CHECK(get_status(port2, path, NULL) == 404);
    CHECK(get_status(port, path, ka) == 200);

    /* A silent client holds neither the loop nor stop. */
    int silent = tcp_connect("127.0.0.1", port);
    CHECK(silent >= 0);
    int64_t t0 = acme__mono_ms(), t_silent = t0;
    CHECK(get_status(port, path, ka) == 200);
    CHECK_MSG(acme__mono_ms() - t0 < 1000, "a silent client delayed another by %lld ms",
              (long long)(acme__mono_ms() - t0));
    cleanup(s2, 0, ch2); /* (a responder is stopped after its orders are done) */
    acme__challenge_free(ch2);
    acme_solvers_free(s2);
    int silent2 = tcp_connect("127.0.0.1", port2);
    CHECK(silent2 >= 0);
    acme__sleep_ms(100); /* let the responder accept it */
    t0 = acme__mono_ms();
    acme_http_responder_stop(r2);
    int64_t took = acme__mono_ms() - t0;
    CHECK_MSG(took < 1000, "stop with a silent client took %lld ms", (long long)took);
    close(silent2);
    /* ...and it is dropped at its request deadline. */
    char c;
    ssize_t n = recv(silent, &c, 1, 0);
    took = acme__mono_ms() - t_silent;
    CHECK_MSG(n == 0 && took >= ACME__REQUEST_TIMEOUT_MS - 500 &&
                  took < ACME__REQUEST_TIMEOUT_MS + 4000,
              "silent client: recv %zd after %lld ms",
              n, (long long)took);
    close(silent);

    /* present/cleanup on other threads while the responder serves. */
    churn_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        char token[32];
        snprintf(token, sizeof(token), "churn-%d", i);
        args[i] = (churn_arg){ s, challenge("http-01", "dns", "example.org", token), 200, 0 };
    }
    for (int i = 0; i < 4; i++)
        REQUIRE_ZERO(pthread_create(&th[i], NULL, churn, &args[i]));
    int ok = 0;
    for (int i = 0; i < 20; i++)
        ok += get_status(port, path, NULL) == 200;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].failures == 0);
        acme__challenge_free(args[i].ch);
    }
    CHECK(ok == 20);
    CHECK(get_status(port, WK "churn-0", NULL) == 404);

    /* Cleanup takes the answer away. */
    cleanup(s, 0, ch);
    CHECK(get_status(port, path, NULL) == 404);
    /* A hand-made challenge with a bad token is refused. */
    acme_challenge *evil = forged("http-01", "../etc");
    CHECK_RC(present(s, 0, evil), ACME_ERR_INVALID);
    cleanup(s, 0, evil);
    acme__challenge_free(evil);

    acme__challenge_free(ch);
    acme_solvers_free(s);
    acme_http_responder_stop(r);
    acme_http_responder_stop(NULL);

    /* Nothing ever presented, stopped at once. */
    REQUIRE_OK(acme_http_responder_start(&r, "127.0.0.1", 0));
    acme_http_responder_stop(r);

    /* IPv6, when the host has it. */
    r = NULL;
    int rc = acme_http_responder_start(&r, "[::1]", 0);
    if (rc == ACME_ERR_IO) {
        fprintf(stderr, "no IPv6 loopback: IPv6 checks skipped\n");
    } else {
        CHECK_OK(rc);
        acme_solvers *s6 = NULL;
        REQUIRE_OK(acme_solvers_new(&s6));
        REQUIRE_OK(acme_solvers_add_http_responder(s6, r));
        ch = challenge("http-01", "ip", "::1", "v6token");
        CHECK_OK(present(s6, 0, ch));
        acme__buf b6 = ACME__BUF_INIT;
        CHECK(http_get("[::1]", acme_http_responder_port(r), WK "v6token", 0, &b6, NULL) == 200);
        CHECK_STR(acme__buf_str(&b6), acme_challenge_key_authorization(ch));
        acme__buf_free(&b6);
        cleanup(s6, 0, ch);
        acme__challenge_free(ch);
        acme_solvers_free(s6);
        acme_http_responder_stop(r);
    }
}

/* ---- TLS client helpers ------------------------------------------------- */

typedef struct tls_client {
    int fd;
    acme__buf wire; /* every byte the server sent */
} tls_client;

static int client_send(void *ctx, const unsigned char *buf, size_t len)
{
    tls_client *c = ctx;
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

static int client_recv(void *ctx, unsigned char *buf, size_t len)
{
    tls_client *c = ctx;
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n < 0)
        return MBEDTLS_ERR_SSL_TIMEOUT;
    acme__buf_append(&c->wire, buf, (size_t)n);
    return (int)n;
}

static size_t be24(const unsigned char *p)
{
    return ((size_t)p[0] << 16) | ((size_t)p[1] << 8) | p[2];
}

/* The next TLS record at *p (n bytes left) that is still in the clear:
 * its type and body; 0 at the end or at ChangeCipherSpec. */
static int next_record(const unsigned char **p, size_t *n, int *type, const unsigned char **body,
                       size_t *len)
{
    if (*n < 5)
        return 0;
    size_t l = ((size_t)(*p)[3] << 8) | (*p)[4];
    if (l > *n - 5 || (*p)[0] == MBEDTLS_SSL_MSG_CHANGE_CIPHER_SPEC)
        return 0;
    *type = (*p)[0];
    *body = *p + 5;
    *len = l;
    *p += 5 + l;
    *n -= 5 + l;
    return 1;
}

/* The server's first certificate, read from the TLS 1.2 Certificate
 * message on the wire: the mbedTLS client itself gives up on it, as it
 * refuses the critical acmeIdentifier extension it does not know. */
static int wire_certificate(const acme__buf *wire, acme__buf *der)
{
    acme__buf hs = ACME__BUF_INIT;
    const unsigned char *p = (const unsigned char *)wire->data;
    size_t n = wire->len, rlen;
    const unsigned char *body;
    int type;
    while (next_record(&p, &n, &type, &body, &rlen))
        if (type == MBEDTLS_SSL_MSG_HANDSHAKE)
            acme__buf_append(&hs, body, rlen);
    int found = 0;
    p = (const unsigned char *)hs.data;
    n = hs.len;
    while (n >= 4 && !found) {
        size_t len = be24(p + 1);
        if (len > n - 4)
            break;
        if (p[0] == MBEDTLS_SSL_HS_CERTIFICATE && len >= 6) {
            size_t first = be24(p + 7);
            if (first <= len - 6) {
                acme__buf_append(der, p + 10, first);
                found = 1;
            }
        }
        p += 4 + len;
        n -= 4 + len;
    }
    acme__buf_free(&hs);
    return found;
}

/* The description of the first alert the server sent in the clear, or -1. */
static int wire_alert(const acme__buf *wire)
{
    const unsigned char *p = (const unsigned char *)wire->data;
    size_t n = wire->len, len;
    const unsigned char *body;
    int type;
    while (next_record(&p, &n, &type, &body, &len))
        if (type == MBEDTLS_SSL_MSG_ALERT && len == 2)
            return body[1];
    return -1;
}

/* A handshake with ALPN `alpn` (NULL-terminated; NULL for none) and SNI
 * `sni` (NULL for none); the certificate received goes to der, the alert
 * received (or -1) to *alert. */
static int tls_try(const char *ip, unsigned int port, const char *sni, const char **alpn,
                   acme__buf *der, int *alert)
{
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    REQUIRE_ZERO(mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
                                             MBEDTLS_SSL_TRANSPORT_STREAM,
                                             MBEDTLS_SSL_PRESET_DEFAULT));
    mbedtls_ssl_conf_rng(&conf, acme__rng, NULL);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
    ACME__SSL_CONF_MAX_TLS12(&conf);
    if (alpn)
        REQUIRE_ZERO(mbedtls_ssl_conf_alpn_protocols(&conf, alpn));
    REQUIRE_ZERO(mbedtls_ssl_setup(&ssl, &conf));
    if (sni)
        REQUIRE_ZERO(mbedtls_ssl_set_hostname(&ssl, sni));
    /* Connected once the ClientHello is ready, as a validator's follows
     * its connect at once: the responder may give a client that stays
     * silent while others churn through the slots away to them. */
    tls_client c = { tcp_connect(ip, port), ACME__BUF_INIT };
    REQUIRE(c.fd >= 0);
    mbedtls_ssl_set_bio(&ssl, &c, client_send, client_recv, NULL);
    int ret = mbedtls_ssl_handshake(&ssl);
    if (ret == 0)
        mbedtls_ssl_close_notify(&ssl);
    wire_certificate(&c.wire, der);
    *alert = wire_alert(&c.wire);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    acme__buf_free(&c.wire);
    close(c.fd);
    return ret;
}

typedef struct ext_seen {
    int found;
    int critical;
    unsigned char value[64];
    size_t len;
} ext_seen;

static int on_ext(void *ctx, mbedtls_x509_crt const *crt, mbedtls_x509_buf const *oid,
                  int critical, const unsigned char *p, const unsigned char *end)
{
    (void)crt;
    ext_seen *seen = ctx;
    static const char acme_id[] = MBEDTLS_OID_PKIX "\x01\x1f";
    if (oid->len != sizeof(acme_id) - 1 || memcmp(oid->p, acme_id, oid->len) != 0)
        return critical ? MBEDTLS_ERR_X509_INVALID_EXTENSIONS : 0;
    seen->found++;
    seen->critical = critical;
    seen->len = (size_t)(end - p) < sizeof(seen->value) ? (size_t)(end - p) : 0;
    memcpy(seen->value, p, seen->len);
    return 0;
}

/* The certificate must be ch's: one SAN (the identifier) and the critical
 * acmeIdentifier holding OCTET STRING(SHA-256(key authorization)). */
static void check_alpn_cert(const acme__buf *der, const acme_challenge *ch)
{
    REQUIRE(der->len > 0);
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    ext_seen seen = { 0 };
    int ret = mbedtls_x509_crt_parse_der_with_ext_cb(&crt, (const unsigned char *)der->data,
                                                     der->len, 1, on_ext, &seen);
    CHECK_MSG(ret == 0, "certificate does not parse: -0x%04x", (unsigned)-ret);
    if (ret != 0) {
        mbedtls_x509_crt_free(&crt);
        return;
    }
    /* The SAN. */
    const mbedtls_x509_sequence *san = &crt.subject_alt_names;
    CHECK(san->next == NULL);
    const char *value = acme_challenge_identifier_value(ch);
    if (strcmp(acme_challenge_identifier_type(ch), "ip") == 0) {
        unsigned char ip[16];
        int len = inet_pton(strchr(value, ':') ? AF_INET6 : AF_INET, value, ip) == 1
                      ? (strchr(value, ':') ? 16 : 4)
                      : 0;
        CHECK(san->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
        CHECK(len > 0 && san->buf.len == (size_t)len && memcmp(san->buf.p, ip, (size_t)len) == 0);
    } else {
        CHECK(san->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));
        CHECK(san->buf.len == strlen(value) && memcmp(san->buf.p, value, san->buf.len) == 0);
    }
    /* acmeIdentifier. */
    CHECK(seen.found == 1);
    CHECK(seen.critical == 1);
    unsigned char *digest = NULL;
    size_t dlen = 0;
    const char *b64 = acme_challenge_tls_alpn_digest(ch);
    REQUIRE(b64 != NULL);
    CHECK_OK(acme__b64url_decode(b64, strlen(b64), &digest, &dlen));
    unsigned char sha[32];
    const char *ka = acme_challenge_key_authorization(ch);
    REQUIRE_ZERO(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                            (const unsigned char *)ka, strlen(ka), sha));
    CHECK(dlen == 32 && digest && memcmp(digest, sha, 32) == 0);
    CHECK(seen.len == 34 && seen.value[0] == MBEDTLS_ASN1_OCTET_STRING && seen.value[1] == 32 &&
          digest && memcmp(seen.value + 2, digest, 32) == 0);
    free(digest);
    mbedtls_x509_crt_free(&crt);
}

/* A handshake that must reach the certificate of ch. */
static void expect_cert(const char *ip, unsigned int port, const char *sni, const char **alpn,
                        const acme_challenge *ch, const char *what)
{
    acme__buf der = ACME__BUF_INIT;
    int alert;
    int ret = tls_try(ip, port, sni, alpn, &der, &alert);
    /* 0 only where mbedTLS is built to accept unknown critical extensions. */
    CHECK_MSG(der.len > 0, "%s: no certificate (handshake -0x%04x)", what, (unsigned)-ret);
    if (der.len > 0)
        check_alpn_cert(&der, ch);
    acme__buf_free(&der);
}

/* A handshake that must fail with a fatal alert `want` (a TLS alert
 * description) before any certificate is sent. */
static void expect_refused(const char *ip, unsigned int port, const char *sni, const char **alpn,
                           int want, const char *what)
{
    acme__buf der = ACME__BUF_INIT;
    int alert;
    int ret = tls_try(ip, port, sni, alpn, &der, &alert);
    CHECK_MSG(ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && der.len == 0,
              "%s: handshake -0x%04x, certificate of %zu bytes", what, (unsigned)-ret, der.len);
    CHECK_MSG(alert == want, "%s: alert %d, wanted %d", what, alert, want);
    acme__buf_free(&der);
}

/* openssl s_client, where installed, finishes the handshake that the
 * mbedTLS client gives up on: the responder's side must complete. */
static void openssl_handshake(unsigned int port, const char *sni)
{
    if (system("command -v openssl >/dev/null 2>&1") != 0) {
        fprintf(stderr, "no openssl command: full-handshake check skipped\n");
        return;
    }
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "openssl s_client -connect 127.0.0.1:%u -servername %s -alpn acme-tls/1 "
             "</dev/null 2>&1",
             port, sni);
    FILE *f = popen(cmd, "r");
    REQUIRE(f != NULL);
    acme__buf out = ACME__BUF_INIT;
    char line[512];
    while (fgets(line, sizeof(line), f))
        acme__buf_puts(&out, line);
    pclose(f);
    acme__buf_puts(&out, "");
    CHECK_MSG(strstr(acme__buf_str(&out), "ALPN protocol: acme-tls/1") != NULL &&
                  strstr(acme__buf_str(&out), "Cipher is (NONE)") == NULL,
              "openssl s_client:\n%s", acme__buf_str(&out));
    acme__buf_free(&out);
}

/* ---- TLS-ALPN responder ------------------------------------------------- */

/* The alerts a refused client gets. */
#define NO_NAME MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME
#define NO_ALPN MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL
#define NO_CERT MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE

static void test_tls_alpn_responder(void)
{
    static const char *acme_only[] = { "acme-tls/1", NULL };
    static const char *h2_only[] = { "h2", NULL };
    static const char *both[] = { "h2", "acme-tls/1", NULL };

    acme_tls_alpn_responder *r = NULL;
    CHECK_RC(acme_tls_alpn_responder_start(&r, "not an address", 0), ACME_ERR_INVALID);
    CHECK(r == NULL);
    REQUIRE_OK(acme_tls_alpn_responder_start(&r, "127.0.0.1", 0));
    unsigned int port = acme_tls_alpn_responder_port(r);
    CHECK(port > 0);
    CHECK(acme_tls_alpn_responder_port(NULL) == 0);

    acme_solvers *s = responder_solvers(NULL, r);

    /* Nothing presented: nothing to hand out. */
    expect_refused("127.0.0.1", port, "example.org", acme_only, NO_NAME, "nothing presented");

    acme_challenge *ch = challenge("tls-alpn-01", "dns", "example.org", "alpnToken_1");
    CHECK_OK(present(s, 0, ch));
    expect_cert("127.0.0.1", port, "example.org", acme_only, ch, "dns name");
    expect_cert("127.0.0.1", port, "EXAMPLE.org", acme_only, ch, "dns name, other case");
    expect_cert("127.0.0.1", port, "example.org", both, ch, "h2 and acme-tls/1");
    expect_refused("127.0.0.1", port, "example.org", h2_only, NO_ALPN, "ALPN h2 only");
    expect_refused("127.0.0.1", port, "example.org", NULL, NO_ALPN, "no ALPN");
    expect_refused("127.0.0.1", port, "other.example", acme_only, NO_NAME, "unknown SNI");
    expect_refused("127.0.0.1", port, "sub.example.org", acme_only, NO_NAME, "unknown SNI");
    expect_refused("127.0.0.1", port, NULL, acme_only, NO_CERT, "no SNI, no ip challenge");
    openssl_handshake(port, "example.org");

    /* RFC 8738: an ip identifier, by its reverse name or with no SNI. */
    acme_challenge *ip = challenge("tls-alpn-01", "ip", "127.0.0.1", "alpnToken_2");
    CHECK_OK(present(s, 0, ip));
    expect_cert("127.0.0.1", port, "1.0.0.127.in-addr.arpa", acme_only, ip, "ip by reverse name");
    expect_cert("127.0.0.1", port, NULL, acme_only, ip, "ip without SNI");
    expect_cert("127.0.0.1", port, "example.org", acme_only, ch, "dns beside ip");
    expect_refused("127.0.0.1", port, "2.0.0.127.in-addr.arpa", acme_only,
                   NO_NAME, "other reverse name");
    expect_refused("127.0.0.1", port, NULL, h2_only, NO_ALPN, "ip without SNI, h2");

    /* A stalled client holds back no other handshake. */
    int silent = tcp_connect("127.0.0.1", port);
    CHECK(silent >= 0);
    acme__sleep_ms(100); /* let the responder accept it first */
    int64_t t0 = acme__mono_ms();
    expect_cert("127.0.0.1", port, "example.org", acme_only, ch, "beside a stalled client");
    int64_t took = acme__mono_ms() - t0;
    CHECK_MSG(took < 1000, "waited %lld ms behind a stalled client", (long long)took);
    close(silent);

    /* Other threads present and clean up while handshakes run. */
    churn_arg churns[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        churns[i] = (churn_arg){ s, challenge("tls-alpn-01", "dns", i ? "b.example" : "a.example",
                                              i ? "churnB" : "churnA"),
                                 20, 0 };
    for (int i = 0; i < 2; i++)
        REQUIRE_ZERO(pthread_create(&th[i], NULL, churn, &churns[i]));
    for (int i = 0; i < 10; i++)
        expect_cert("127.0.0.1", port, "example.org", acme_only, ch, "while others churn");
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK(churns[i].failures == 0);
        acme__challenge_free(churns[i].ch);
    }
    expect_refused("127.0.0.1", port, "a.example", acme_only,
                   NO_NAME, "churned name after cleanup");

    /* Cleanup takes certificates away. */
    cleanup(s, 0, ch);
    expect_refused("127.0.0.1", port, "example.org", acme_only, NO_NAME, "dns after cleanup");
    expect_cert("127.0.0.1", port, NULL, acme_only, ip, "ip still there");
    cleanup(s, 0, ip);
    expect_refused("127.0.0.1", port, NULL, acme_only, NO_CERT, "ip after cleanup");

    /* Present twice, stop with certificates still loaded (freed by stop). */
    CHECK_OK(present(s, 0, ch));
    CHECK_OK(present(s, 0, ip));

    /* Stop returns promptly with a silent client in the handshake. */
    silent = tcp_connect("127.0.0.1", port);
    CHECK(silent >= 0);
    acme__sleep_ms(100);
    t0 = acme__mono_ms();
    acme_tls_alpn_responder_stop(r);
    took = acme__mono_ms() - t0;
    CHECK_MSG(took < 1000, "stop with a silent client took %lld ms", (long long)took);
    close(silent);
    acme_tls_alpn_responder_stop(NULL);
    acme_solvers_free(s);
    acme__challenge_free(ch);
    acme__challenge_free(ip);

    /* Nothing ever presented. */
    REQUIRE_OK(acme_tls_alpn_responder_start(&r, NULL, 0));
    acme_tls_alpn_responder_stop(r);

    /* IPv6: the ip6.arpa nibble name, and no SNI. */
    r = NULL;
    int rc = acme_tls_alpn_responder_start(&r, "::1", 0);
    if (rc == ACME_ERR_IO) {
        fprintf(stderr, "no IPv6 loopback: IPv6 checks skipped\n");
        return;
    }
    REQUIRE(rc == ACME_OK);
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add_tls_alpn_responder(s, r));
    ip = challenge("tls-alpn-01", "ip", "::1", "alpnToken_6");
    CHECK_OK(present(s, 0, ip));
    port = acme_tls_alpn_responder_port(r);
    expect_cert("::1", port,
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
                acme_only, ip, "::1 by ip6.arpa name");
    expect_cert("::1", port, NULL, acme_only, ip, "::1 without SNI");
    cleanup(s, 0, ip);
    acme__challenge_free(ip);
    acme_solvers_free(s);
    acme_tls_alpn_responder_stop(r);
}

/* A responder stopped while a solver set still holds it: the set keeps
 * it alive, present refuses with a clear error instead of using freed
 * memory, and cleanup and freeing the set are harmless. */
static void test_stop_while_in_a_set(void)
{
    acme_http_responder *h = NULL;
    acme_tls_alpn_responder *t = NULL;
    REQUIRE_OK(acme_http_responder_start(&h, "127.0.0.1", 0));
    REQUIRE_OK(acme_tls_alpn_responder_start(&t, "127.0.0.1", 0));
    acme_solvers *s = NULL;
    REQUIRE_OK(acme_solvers_new(&s));
    REQUIRE_OK(acme_solvers_add_http_responder(s, h));
    REQUIRE_OK(acme_solvers_add_tls_alpn_responder(s, t));

    /* Presented before the stop: the answers go with the stop. */
    acme_challenge *early = challenge("http-01", "dns", "example.com", "earlytoken");
    CHECK_OK(present(s, 0, early));
    acme_http_responder_stop(h);
    acme_tls_alpn_responder_stop(t);

    acme_challenge *hc = challenge("http-01", "dns", "example.com", "stoptoken");
    acme_challenge *tc = challenge("tls-alpn-01", "dns", "example.com", "stoptoken");
    acme__err err = { 0 };
    CHECK_RC(acme__solver_present(&s->v[0], hc, &err), ACME_ERR_STATE);
    CHECK_MSG(strstr(acme__err_msg(&err), "http-01 responder: stopped") != NULL, "%s",
              acme__err_msg(&err));
    acme__err_clear(&err);
    CHECK_RC(acme__solver_present(&s->v[1], tc, &err), ACME_ERR_STATE);
    CHECK_MSG(strstr(acme__err_msg(&err), "tls-alpn-01 responder: stopped") != NULL, "%s",
              acme__err_msg(&err));
    acme__err_clear(&err);
    cleanup(s, 0, early);
    cleanup(s, 0, hc);
    cleanup(s, 1, tc);
    acme__challenge_free(early);
    acme__challenge_free(hc);
    acme__challenge_free(tc);
    acme_solvers_free(s);
}


/* ---- under load: many slow clients (argument "load") -------------------- */

/* Slow clients held against one port: at any time SLOW_CLIENTS of them
 * (a client the responder closes connects again at once, as an attacker
 * would); every other one sends nothing, the rest one byte of an endless
 * request head (HTTP) or ClientHello record (TLS) every SLOW_DRIP_MS. */
#define SLOW_CLIENTS 1000
#define SLOW_DRIP_MS 2000
/* Legitimate requests measured while they hold, spaced so that the
 * measurements span the responders' deadlines. */
#define LEGIT_ROUNDS 20
#define LEGIT_GAP_MS 250
/* What a legitimate request may take with the slow clients in place (a
 * validator waits 10 s or more). */
#define LEGIT_BOUND_MS 5000
/* What a whole issuance through a loaded responder may take. */
#define ISSUE_BOUND_MS 15000

typedef struct slow_clients {
    unsigned int port;
    int tls;
    int fds[SLOW_CLIENTS];
    size_t sent[SLOW_CLIENTS]; /* bytes dripped on each */
    atomic_int stop;
    int connects; /* connections made in all (read after join) */
    int failed;   /* socket or connect failures */
    pthread_t thread;
} slow_clients;

static int slow_connect(slow_clients *sc)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        sc->failed++;
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)sc->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
        sc->failed++;
        close(fd);
        return -1;
    }
    sc->connects++;
    return fd;
}

/* The next byte a dripping client sends: an HTTP request line that never
 * ends, or a TLS handshake record header announcing 512 octets, then its
 * body. */
static char slow_byte(const slow_clients *sc, size_t i)
{
    static const char http[] = "GET /.well-known/acme-challenge/slowslowslowslow";
    static const char tls[] = "\x16\x03\x01\x02\x00";
    size_t k = sc->sent[i];
    if (sc->tls)
        return k < sizeof(tls) - 1 ? tls[k] : 'x';
    return k < sizeof(http) - 1 ? http[k] : 'w';
}

static void *slow_run(void *p)
{
    slow_clients *sc = p;
    struct pollfd pfd[SLOW_CLIENTS];
    int64_t next_drip = acme__mono_ms() + SLOW_DRIP_MS;
    while (!atomic_load(&sc->stop)) {
        for (size_t i = 0; i < SLOW_CLIENTS; i++) {
            if (sc->fds[i] < 0) {
                sc->fds[i] = slow_connect(sc);
                sc->sent[i] = 0;
            }
            pfd[i] = (struct pollfd){ sc->fds[i], POLLIN, 0 };
        }
        int64_t now = acme__mono_ms();
        if (now >= next_drip) {
            for (size_t i = 1; i < SLOW_CLIENTS; i += 2) {
                char b = slow_byte(sc, i);
                if (sc->fds[i] >= 0 && send(sc->fds[i], &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
                    sc->sent[i]++;
            }
            next_drip = now + SLOW_DRIP_MS;
            continue;
        }
        int64_t wait = next_drip - now;
        if (poll(pfd, SLOW_CLIENTS, wait > 100 ? 100 : (int)wait) <= 0)
            continue;
        for (size_t i = 0; i < SLOW_CLIENTS; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            char buf[512];
            ssize_t n = recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
                /* Dropped by the responder: back in line at once. */
                close(sc->fds[i]);
                sc->fds[i] = -1;
            }
        }
    }
    for (size_t i = 0; i < SLOW_CLIENTS; i++)
        if (sc->fds[i] >= 0)
            close(sc->fds[i]);
    return NULL;
}

static void slow_start(slow_clients *sc, unsigned int port, int tls)
{
    memset(sc, 0, sizeof(*sc));
    sc->port = port;
    sc->tls = tls;
    for (size_t i = 0; i < SLOW_CLIENTS; i++)
        sc->fds[i] = -1;
    atomic_init(&sc->stop, 0);
    REQUIRE_ZERO(pthread_create(&sc->thread, NULL, slow_run, sc));
    acme__sleep_ms(1000); /* all connected and accepted, the first bytes sent */
}

static void slow_stop(slow_clients *sc)
{
    atomic_store(&sc->stop, 1);
    pthread_join(sc->thread, NULL);
    fprintf(stderr, "  slow clients: %d connections made, %d failed\n", sc->connects,
            sc->failed);
    CHECK_MSG(sc->connects >= SLOW_CLIENTS && sc->failed == 0,
              "%d slow connections made, %d failed", sc->connects, sc->failed);
}

static int cmp_ms(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Print the median and the maximum of the times, and check the bound. */
static void report(const char *what, int64_t *ms, size_t n)
{
    qsort(ms, n, sizeof(*ms), cmp_ms);
    fprintf(stderr, "  %s with %d slow clients: median %lld ms, max %lld ms (%zu requests)\n",
            what, SLOW_CLIENTS, (long long)ms[n / 2], (long long)ms[n - 1], n);
    CHECK_MSG(ms[n - 1] < LEGIT_BOUND_MS, "%s: %lld ms at most", what, (long long)ms[n - 1]);
}

static acme_account *load_account(acme_provider **provider)
{
    *provider = test_provider(NULL);
    acme_key *key = test_key(ACME_KEY_EC256);
    acme_account *account = test_account(*provider, key);
    acme_key_free(key);
    return account;
}

/* A real issuance through the solver set s, with Pebble's validator
 * connecting to the loaded responder: its wall time. */
static int64_t issue_through(acme_account *account, const acme_solvers *s, const char *name)
{
    acme_key *cert_key = test_key(ACME_KEY_EC256);
    acme_order *o = NULL;
    REQUIRE_OK(acme_order_new(&o, account));
    CHECK_OK(acme_order_add_identifier(o, name));
    int64_t t0 = acme__mono_ms();
    int rc = acme_order_issue(o, s, cert_key);
    int64_t took = acme__mono_ms() - t0;
    CHECK_MSG(rc == ACME_OK, "issue %s: %d (%s): %s", name, rc, acme_strerror(rc),
              acme_order_last_error(o));
    if (rc == ACME_OK)
        CHECK(test_leaf_matches(acme_order_certificate_pem(o), cert_key, &name, 1) == 0);
    fprintf(stderr, "  issuance of %s with %d slow clients: %lld ms\n", name, SLOW_CLIENTS,
            (long long)took);
    CHECK_MSG(took < ISSUE_BOUND_MS, "issuance of %s took %lld ms", name, (long long)took);
    acme_order_free(o);
    acme_key_free(cert_key);
    return took;
}

/* With slow clients holding port: LEGIT_ROUNDS requests for ch (a GET of
 * its token, or a handshake for it), then an issuance of `name` through
 * s. */
static void under_load(acme_account *account, const acme_solvers *s, unsigned int port, int tls,
                       const acme_challenge *ch, const char *name)
{
    static const char *acme_only[] = { "acme-tls/1", NULL };
    slow_clients *sc = calloc(1, sizeof(*sc));
    REQUIRE(sc != NULL);
    slow_start(sc, port, tls);
    int64_t ms[LEGIT_ROUNDS];
    for (size_t i = 0; i < LEGIT_ROUNDS; i++) {
        int64_t t0 = acme__mono_ms();
        if (tls)
            expect_cert("127.0.0.1", port, "example.org", acme_only, ch, "beside slow clients");
        else
            CHECK(get_status(port, acme_challenge_http_path(ch),
                             acme_challenge_key_authorization(ch)) == 200);
        ms[i] = acme__mono_ms() - t0;
        acme__sleep_ms(LEGIT_GAP_MS);
    }
    report(tls ? "tls-alpn-01 handshake" : "GET of the token", ms, LEGIT_ROUNDS);
    issue_through(account, s, name);
    slow_stop(sc);
    free(sc);
}

/* One responder (tls-alpn-01 or http-01) on the harness's port, under
 * load. */
static void test_responder_load(acme_account *account, int tls)
{
    fprintf(stderr, "%s responder under load\n", tls ? "tls-alpn-01" : "http-01");
    unsigned int port = (unsigned int)atoi(test_env(tls ? "ACME_TEST_TLS_PORT"
                                                        : "ACME_TEST_HTTP_PORT"));
    acme_http_responder *http = NULL;
    acme_tls_alpn_responder *alpn = NULL;
    if (tls)
        REQUIRE_OK(acme_tls_alpn_responder_start(&alpn, "127.0.0.1", port));
    else
        REQUIRE_OK(acme_http_responder_start(&http, "127.0.0.1", port));
    acme_solvers *s = responder_solvers(http, alpn);
    acme_challenge *ch = challenge(tls ? "tls-alpn-01" : "http-01", "dns", "example.org",
                                   "loadToken_1");
    CHECK_OK(present(s, 0, ch));
    under_load(account, s, port, tls, ch, tls ? "load-tls.example.com" : "load-http.example.com");
    cleanup(s, 0, ch);
    acme__challenge_free(ch);
    acme_solvers_free(s);
    acme_http_responder_stop(http);
    acme_tls_alpn_responder_stop(alpn);
}

/* Both responders, each with SLOW_CLIENTS slow clients holding on, answer
 * a direct request and a Pebble issuance within a few seconds. */
static void test_load(void)
{
    /* Both ends of every slow connection are in this process. */
    struct rlimit rl;
    REQUIRE_ZERO(getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 3 * SLOW_CLIENTS) {
        fprintf(stderr, "RLIMIT_NOFILE %llu: too low for %d slow clients, load test skipped\n",
                (unsigned long long)rl.rlim_cur, SLOW_CLIENTS);
        exit(77);
    }
    acme_provider *provider = NULL;
    acme_account *account = load_account(&provider);
    test_responder_load(account, 0);
    test_responder_load(account, 1);
    acme_account_free(account);
    acme_provider_free(provider);
}

int main(int argc, char **argv)
{
    REQUIRE_ZERO(curl_global_init(CURL_GLOBAL_DEFAULT));
    if (argc > 1 && strcmp(argv[1], "load") == 0) {
        test_load();
        curl_global_cleanup();
        return check_done();
    }
    test_webroot();
    test_http_responder();
    test_tls_alpn_responder();
    test_stop_while_in_a_set();
    curl_global_cleanup();
    return check_done();
}
