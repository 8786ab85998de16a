/* HTTPS client on libcurl. Every request of a provider runs on one curl
 * multi handle. One multi handle means one connection cache (requests reuse
 * each other's connections, and concurrent ones share an HTTP/2 connection
 * when the CA speaks it) and one CA store, which OpenSSL takes tens of
 * milliseconds to build from a system bundle. A multi handle is not for
 * several threads at once, so one of the threads waiting for a reply drives
 * it at a time (a leader/followers scheme): a single-threaded user drives
 * its own requests with no hand-over, and threads that arrive while another
 * drives queue their transfer, wake the driver and wait; when the driver's
 * own reply is in, one of them takes over. */
#include "net/http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "acme/common.h"
#include "base/clock.h"
#include "base/mem.h"

/* Longest header line kept; longer ones are ignored (a hostile server
 * cannot make us allocate much through headers). */
#define MAX_HEADER_VALUE 8192
/* Idle easy handles kept for reuse. */
#define MAX_IDLE_HANDLES 64
/* The longest the driving thread sleeps in curl_multi_poll: a thread that
 * queued a transfer wakes it sooner, so this only bounds a missed wake-up. */
#define POLL_MAX_MS 1000

/* One request waiting for its turn on the shared multi handle. */
typedef struct job {
    CURL *easy;
    CURLcode result;
    int done;
    struct job *next;
} job;

struct acme__http {
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    CURL *idle[MAX_IDLE_HANDLES];
    size_t nidle;
    /* Only the driving thread touches `multi`, except curl_multi_wakeup,
     * which libcurl allows from any thread. q_lock guards the rest. */
    CURLM *multi;
    pthread_mutex_t q_lock;
    pthread_cond_t q_done;
    job *queued;
    int driving;
    char *ca_bundle;
    char *user_agent;
    char *client_cert;
    char *client_key;
    int allow_http;
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_body;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t connections;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)handle;
    (void)access;
    acme__http *h = ud;
    pthread_mutex_lock(&h->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *ud)
{
    (void)handle;
    acme__http *h = ud;
    pthread_mutex_unlock(&h->share_locks[data]);
}

/* ---- the shared multi handle ----------------------------------------------- */

static void job_finish(acme__http *h, job *j, CURLcode result)
{
    pthread_mutex_lock(&h->q_lock);
    j->result = result;
    j->done = 1;
    pthread_cond_broadcast(&h->q_done);
    pthread_mutex_unlock(&h->q_lock);
}

/* Drive every transfer of the multi handle until `mine` is done. Called by
 * the one thread that holds the `driving` role. */
static void drive(acme__http *h, job *mine)
{
    int running = 0;
    for (;;) {
        pthread_mutex_lock(&h->q_lock);
        job *take = h->queued;
        h->queued = NULL;
        pthread_mutex_unlock(&h->q_lock);
        for (job *j = take, *next; j; j = next) {
            next = j->next;
            curl_easy_setopt(j->easy, CURLOPT_PRIVATE, (char *)j);
            CURLMcode mrc = curl_multi_add_handle(h->multi, j->easy);
            if (mrc != CURLM_OK)
                job_finish(h, j, mrc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                                            : CURLE_FAILED_INIT);
        }
        CURLMcode prc = curl_multi_perform(h->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURL *easy = m->easy_handle;
            CURLcode result = m->data.result;
            char *priv = NULL;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
            curl_multi_remove_handle(h->multi, easy);
            job_finish(h, (job *)priv, result);
        }
        pthread_mutex_lock(&h->q_lock);
        int done = mine->done;
        pthread_mutex_unlock(&h->q_lock);
        if (done)
            return;
        /* Returns early for socket activity, libcurl's own timers and
         * curl_multi_wakeup from a thread that queued a transfer. */
        if (prc == CURLM_OK)
            prc = curl_multi_poll(h->multi, NULL, 0, POLL_MAX_MS, NULL);
        if (prc != CURLM_OK) {
            /* The multi handle itself failed (out of memory): give up this
             * transfer rather than spin; each waiting thread does the same
             * for its own when it drives. */
            curl_multi_remove_handle(h->multi, mine->easy);
            job_finish(h, mine, prc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                                           : CURLE_FAILED_INIT);
            return;
        }
    }
}

/* Run one transfer on the shared multi handle and wait for it. */
static CURLcode shared_perform(acme__http *h, CURL *easy)
{
    job j = { .easy = easy, .result = CURLE_OK, .done = 0, .next = NULL };
    int woke = 0;
    pthread_mutex_lock(&h->q_lock);
    j.next = h->queued;
    h->queued = &j;
    while (!j.done) {
        if (!h->driving) {
            h->driving = 1;
            pthread_mutex_unlock(&h->q_lock);
            drive(h, &j);
            pthread_mutex_lock(&h->q_lock);
            h->driving = 0;
            /* One of the waiting threads takes over its transfers. */
            pthread_cond_broadcast(&h->q_done);
        } else if (!woke) {
            woke = 1;
            pthread_mutex_unlock(&h->q_lock);
            curl_multi_wakeup(h->multi); /* the driver adds the new transfer */
            pthread_mutex_lock(&h->q_lock);
        } else {
            pthread_cond_wait(&h->q_done, &h->q_lock);
        }
    }
    pthread_mutex_unlock(&h->q_lock);
    return j.result;
}

int acme__http_new(acme__http **out, const acme__http_config *cfg, acme__err *err)
{
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return acme__fail(err, ACME_ERR_NETWORK, "libcurl initialisation failed: %s",
                          curl_easy_strerror(global_rc));
    acme__http *h = calloc(1, sizeof(*h));
    if (!h)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&h->share_locks[i], NULL);
    pthread_mutex_init(&h->pool_lock, NULL);
    pthread_mutex_init(&h->q_lock, NULL);
    pthread_cond_init(&h->q_done, NULL);
    h->ca_bundle = acme__strdup(cfg->ca_bundle);
    h->user_agent = acme__strdup(cfg->user_agent);
    h->client_cert = acme__strdup(cfg->client_cert);
    h->client_key = acme__strdup(cfg->client_key);
    h->allow_http = cfg->allow_http;
    h->connect_timeout_ms = cfg->connect_timeout_ms;
    h->timeout_ms = cfg->timeout_ms;
    h->max_body = cfg->max_body;
    h->share = curl_share_init();
    if (!h->share || (cfg->ca_bundle && !h->ca_bundle) || (cfg->user_agent && !h->user_agent) ||
        (cfg->client_cert && !h->client_cert) || (cfg->client_key && !h->client_key)) {
        acme__http_free(h);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    h->multi = curl_multi_init();
    if (!h->multi) {
        acme__http_free(h);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory (curl multi handle)");
    }
    curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *out = h;
    return ACME_OK;
}

void acme__http_free(acme__http *h)
{
    if (!h)
        return;
    /* No request is running: the provider is freed after its last one. */
    if (h->multi)
        curl_multi_cleanup(h->multi);
    pthread_cond_destroy(&h->q_done);
    pthread_mutex_destroy(&h->q_lock);
    for (size_t i = 0; i < h->nidle; i++)
        curl_easy_cleanup(h->idle[i]);
    if (h->share)
        curl_share_cleanup(h->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->share_locks[i]);
    pthread_mutex_destroy(&h->pool_lock);
    free(h->ca_bundle);
    free(h->user_agent);
    free(h->client_cert);
    free(h->client_key);
    free(h);
}

static CURL *handle_take(acme__http *h)
{
    CURL *c = NULL;
    pthread_mutex_lock(&h->pool_lock);
    if (h->nidle > 0)
        c = h->idle[--h->nidle];
    pthread_mutex_unlock(&h->pool_lock);
    if (c)
        return c;
    c = curl_easy_init();
    if (c)
        curl_easy_setopt(c, CURLOPT_SHARE, h->share);
    return c;
}

static void handle_give_back(acme__http *h, CURL *c)
{
    pthread_mutex_lock(&h->pool_lock);
    if (h->nidle < MAX_IDLE_HANDLES) {
        h->idle[h->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&h->pool_lock);
    if (c)
        curl_easy_cleanup(c);
}

/* Per-transfer state seen by the callbacks. */
typedef struct transfer {
    acme__response *res;
    size_t max_body;
    int too_large;
    /* Raw values; Location and Link are resolved once the URL is known. */
    char *location;
    char *links[ACME__HTTP_MAX_LINKS];
    size_t nlinks;
} transfer;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    if (t->res->body.len + n > t->max_body) {
        t->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (acme__buf_append(&t->res->body, ptr, n) != ACME_OK)
        return 0;
    return n;
}

static void transfer_reset_headers(transfer *t)
{
    acme__response *r = t->res;
    free(r->content_type);
    free(r->nonce);
    free(r->retry_after);
    free(t->location);
    r->content_type = r->nonce = r->retry_after = t->location = NULL;
    for (size_t i = 0; i < t->nlinks; i++)
        free(t->links[i]);
    t->nlinks = 0;
}

static void set_header(char **slot, const char *v, size_t n)
{
    free(*slot);
    *slot = acme__strndup(v, n);
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    transfer *t = ud;
    size_t n = size * nitems;
    /* A new status line starts a new response (e.g. after "100 Continue"). */
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        transfer_reset_headers(t);
        return n;
    }
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return n;
    size_t name_len = (size_t)(colon - line);
    const char *v = colon + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (vlen > MAX_HEADER_VALUE)
        return n;
#define IS(name) (name_len == sizeof(name) - 1 && strncasecmp(line, name, name_len) == 0)
    if (IS("Replay-Nonce")) {
        set_header(&t->res->nonce, v, vlen);
    } else if (IS("Location")) {
        set_header(&t->location, v, vlen);
    } else if (IS("Retry-After")) {
        set_header(&t->res->retry_after, v, vlen);
    } else if (IS("Content-Type")) {
        size_t mlen = 0;
        while (mlen < vlen && v[mlen] != ';' && v[mlen] != ' ')
            mlen++;
        set_header(&t->res->content_type, v, mlen);
        for (char *p = t->res->content_type; p && *p; p++)
            *p = (char)tolower((unsigned char)*p);
    } else if (IS("Link")) {
        if (t->nlinks < ACME__HTTP_MAX_LINKS) {
            char *copy = acme__strndup(v, vlen);
            if (copy)
                t->links[t->nlinks++] = copy;
        }
    }
#undef IS
    return n;
}

static int map_curl_error(CURLcode rc, const transfer *t, const char *url, const char *errbuf,
                          acme__err *err)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED)
            return acme__fail(err, ACME_ERR_TOO_LARGE, "%s: reply larger than %zu bytes", url,
                              t->max_body);
        return acme__fail(err, ACME_ERR_NOMEM, "%s: out of memory storing the reply", url);
    case CURLE_OUT_OF_MEMORY:
        return acme__fail(err, ACME_ERR_NOMEM, "%s: out of memory", url);
    case CURLE_OPERATION_TIMEDOUT:
        return acme__fail(err, ACME_ERR_TIMEOUT, "%s: timed out (%s)", url, why);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
        return acme__fail(err, ACME_ERR_TLS, "%s: TLS failure: %s", url, why);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return acme__fail(err, ACME_ERR_INVALID, "%s: not an https URL (%s)", url, why);
    case CURLE_PARTIAL_FILE:
        return acme__fail(err, ACME_ERR_NETWORK, "%s: connection closed mid-reply (%s)", url,
                          why);
    default:
        return acme__fail(err, ACME_ERR_NETWORK, "%s: %s", url, why);
    }
}

static void set_protocols(CURL *c, int allow_http)
{
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, allow_http ? "https,http" : "https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS,
                     allow_http ? (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP) : (long)CURLPROTO_HTTPS);
#endif
}

long acme__http_timeout_ms(const acme__http *h)
{
    return h->timeout_ms;
}

int acme__http_request(acme__http *h, const char *method, const char *url, const char *body,
                       size_t body_len, const char *content_type, const char *accept,
                       int64_t deadline_ms, acme__response *res, acme__err *err)
{
    return acme__http_request_hdr(h, method, url, body, body_len, content_type, accept, NULL,
                                  deadline_ms, res, err);
}

int acme__http_request_hdr(acme__http *h, const char *method, const char *url, const char *body,
                           size_t body_len, const char *content_type, const char *accept,
                           const char *header, int64_t deadline_ms, acme__response *res,
                           acme__err *err)
{
    memset(res, 0, sizeof(*res));
    long timeout_ms = h->timeout_ms;
    if (deadline_ms) {
        int64_t left = deadline_ms - acme__mono_ms();
        if (left <= 0)
            return acme__fail(err, ACME_ERR_TIMEOUT, "%s: timed out (the request's deadline "
                              "passed before it could be sent again)", url);
        if (left < timeout_ms)
            timeout_ms = (long)left;
    }
    CURL *c = handle_take(h);
    if (!c)
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory (curl handle)");
    curl_easy_reset(c);

    transfer t = { .res = res, .max_body = h->max_body };
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *tmp;
    char line[256];
    int rc = ACME_OK;

    /* "Expect:" off: a 100-continue round trip costs time for nothing. */
    headers = curl_slist_append(headers, "Expect:");
    if (content_type && headers) {
        snprintf(line, sizeof(line), "Content-Type: %s", content_type);
        tmp = curl_slist_append(headers, line);
        headers = tmp ? tmp : headers;
    }
    if (accept && headers) {
        snprintf(line, sizeof(line), "Accept: %s", accept);
        tmp = curl_slist_append(headers, line);
        headers = tmp ? tmp : headers;
    }
    if (header && headers) {
        tmp = curl_slist_append(headers, header);
        if (!tmp)
            curl_slist_free_all(headers);
        headers = tmp;
    }
    if (!headers) {
        handle_give_back(h, c);
        return acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }

    /* curl_easy_reset keeps the share and the handle's live connection. */
    curl_easy_setopt(c, CURLOPT_URL, url);
    set_protocols(c, h->allow_http);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_bundle)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle);
    if (h->client_cert)
        curl_easy_setopt(c, CURLOPT_SSLCERT, h->client_cert);
    if (h->client_key)
        curl_easy_setopt(c, CURLOPT_SSLKEY, h->client_key);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }

    atomic_fetch_add(&h->requests, 1);
    /* Several requests at once wait for one HTTP/2 connection rather than
     * each opening its own. */
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    CURLcode crc = shared_perform(h, c);
    long connects = 0;
    if (curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
        atomic_fetch_add(&h->connections, (uint_fast64_t)connects);
    if (crc != CURLE_OK) {
        rc = map_curl_error(crc, &t, url, errbuf, err);
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
        if (t.location && !(res->location = acme__http_resolve(url, t.location)))
            rc = acme__fail(err, ACME_ERR_PROTOCOL, "%s: unusable Location header", url);
        for (size_t i = 0; i < t.nlinks; i++)
            acme__http_parse_link(t.links[i], url, res);
        if (rc == ACME_OK && acme__buf_status(&res->body) != ACME_OK)
            rc = acme__fail(err, ACME_ERR_NOMEM, "out of memory");
    }
    free(t.location);
    for (size_t i = 0; i < t.nlinks; i++)
        free(t.links[i]);
    curl_slist_free_all(headers);
    /* Unhook the per-call buffers before the handle goes back to the pool. */
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    handle_give_back(h, c);
    return rc;
}

void acme__response_free(acme__response *res)
{
    acme__buf_free(&res->body);
    free(res->content_type);
    free(res->location);
    free(res->nonce);
    free(res->retry_after);
    for (size_t i = 0; i < res->nlinks; i++) {
        free(res->links[i].url);
        free(res->links[i].rel);
    }
    memset(res, 0, sizeof(*res));
}

/* rel may hold several space-separated relation types. */
static int rel_has(const char *rels, const char *rel)
{
    size_t n = strlen(rel);
    for (const char *p = rels; *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == n && strncasecmp(p, rel, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

const char *acme__response_link(const acme__response *res, const char *rel, size_t index)
{
    for (size_t i = 0; i < res->nlinks; i++)
        if (rel_has(res->links[i].rel, rel) && index-- == 0)
            return res->links[i].url;
    return NULL;
}

void acme__http_stats(const acme__http *h, uint64_t *requests, uint64_t *connections)
{
    if (requests)
        *requests = atomic_load(&((acme__http *)h)->requests);
    if (connections)
        *connections = atomic_load(&((acme__http *)h)->connections);
}

int acme__http_parse_retry_after(const char *value, int64_t now, int64_t *delay)
{
    if (!value)
        return ACME_ERR_INVALID;
    while (*value == ' ')
        value++;
    if (isdigit((unsigned char)*value)) {
        int64_t s = 0;
        const char *p = value;
        for (; isdigit((unsigned char)*p); p++) {
            if (s > INT64_MAX / 10 - 10)
                return ACME_ERR_INVALID;
            s = s * 10 + (*p - '0');
        }
        while (*p == ' ')
            p++;
        if (*p)
            return ACME_ERR_INVALID;
        *delay = s;
        return ACME_OK;
    }
    time_t when = curl_getdate(value, NULL);
    if (when == (time_t)-1)
        return ACME_ERR_INVALID;
    *delay = (int64_t)when > now ? (int64_t)when - now : 0;
    return ACME_OK;
}

/* scheme://host:port of url (port made explicit), or NULL. */
static char *origin_of(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        acme__buf b = ACME__BUF_INIT;
        acme__buf_printf(&b, "%s://%s:%s", scheme, host, port);
        for (char *p = b.data; p && *p; p++)
            *p = (char)tolower((unsigned char)*p);
        out = acme__buf_detach(&b);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

int acme__http_same_origin(const char *a, const char *b)
{
    char *oa = origin_of(a), *ob = origin_of(b);
    int same = oa && ob && strcmp(oa, ob) == 0;
    free(oa);
    free(ob);
    return same;
}

char *acme__http_resolve(const char *base, const char *ref)
{
    CURLU *u = curl_url();
    char *out = NULL, *s = NULL;
    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
        out = acme__strdup(s);
    }
    curl_free(s);
    curl_url_cleanup(u);
    return out;
}

/* Parse `<url>; rel="x"; other=y, <url2>; rel=z` (RFC 8288). */
void acme__http_parse_link(const char *value, const char *base, acme__response *res)
{
    const char *p = value;
    while (*p && res->nlinks < ACME__HTTP_MAX_LINKS) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (*p != '<')
            return; /* malformed: stop rather than guess */
        const char *ustart = ++p;
        const char *uend = strchr(p, '>');
        if (!uend)
            return;
        p = uend + 1;
        char *rel = NULL;
        /* Parameters up to the next top-level comma. */
        while (*p && *p != ',') {
            while (*p == ' ' || *p == ';' || *p == '\t')
                p++;
            const char *name = p;
            while (*p && *p != '=' && *p != ';' && *p != ',' && *p != ' ')
                p++;
            size_t name_len = (size_t)(p - name);
            while (*p == ' ')
                p++;
            const char *val = NULL;
            size_t val_len = 0;
            if (*p == '=') {
                p++;
                while (*p == ' ')
                    p++;
                if (*p == '"') {
                    val = ++p;
                    while (*p && *p != '"')
                        p++;
                    val_len = (size_t)(p - val);
                    if (*p == '"')
                        p++;
                } else {
                    val = p;
                    while (*p && *p != ';' && *p != ',' && *p != ' ')
                        p++;
                    val_len = (size_t)(p - val);
                }
            }
            if (name_len == 3 && strncasecmp(name, "rel", 3) == 0 && val && !rel)
                rel = acme__strndup(val, val_len);
            if (name_len == 0 && !val && *p && *p != ',')
                p++; /* skip a stray character */
        }
        if (rel) {
            char *ref = acme__strndup(ustart, (size_t)(uend - ustart));
            char *url = ref ? acme__http_resolve(base, ref) : NULL;
            free(ref);
            if (url) {
                res->links[res->nlinks].url = url;
                res->links[res->nlinks].rel = rel;
                res->nlinks++;
                rel = NULL;
            }
        }
        free(rel);
    }
}
