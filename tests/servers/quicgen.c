/* quicgen.c: HTTP/3 test server whose connection IDs carry the QUIC cookie. */

/*
 * One thread, one UDP socket, a ppoll() loop, Debian's libngtcp2 (0.12)
 * with GnuTLS and libnghttp3 (0.8). Every request is answered with status
 * 200 and the body "gen=GEN pid=PID cookie=XX\n"; GET /slow?ms=N answers
 * after N ms, to hold a stream (and its connection) open.
 *
 * Every connection ID the server issues (the SCID of its first packets
 * and those of NEW_CONNECTION_ID frames) begins with the byte of
 * HANDOFF_QUIC_COOKIE (two hex digits): handoff's reuseport program reads
 * that byte in short-header and Handshake packets and sends them to the
 * generation that owns the connection. Without the variable the IDs are
 * wholly random.
 *
 *   quicgen --cert FILE --key FILE [--bind HOST:PORT] [--drain-timeout S]
 *
 * The socket is fd 3 when LISTEN_FDS is set, else one bound to --bind
 * (port 0: the kernel chooses; the address is printed on stdout). READY=1
 * goes to NOTIFY_SOCKET once the socket reads. SIGTERM: no new connection
 * is accepted (an Initial for an unknown connection is dropped); the
 * server exits 0 when its last connection ended, or after --drain-timeout
 * seconds (default 10), closing those left with CONNECTION_CLOSE.
 * Version Negotiation is not answered: the clients of the tests use v1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#define SCIDLEN 16
#define MAX_PKT 1500

struct stream {
    int64_t id;
    int64_t delay_ms;  /* from /slow?ms=N, else 0 */
    ngtcp2_tstamp due; /* when to answer; 0: not yet asked (no end) */
    int answered;
    char body[128]; /* kept until the stream closes: nghttp3 sends */
    size_t bodylen; /* from it until the peer acknowledged it */
    struct stream *next;
};

struct conn {
    ngtcp2_crypto_conn_ref ref;
    ngtcp2_conn *q;
    nghttp3_conn *h;
    gnutls_session_t tls;
    ngtcp2_cid odcid; /* the client's first DCID: its Initials carry it */
    struct sockaddr_storage local, peer;
    socklen_t locallen, peerlen;
    ngtcp2_connection_close_error err;
    ngtcp2_tstamp gone_at; /* closing or draining: delete then */
    uint8_t closebuf[MAX_PKT];
    size_t closelen; /* CONNECTION_CLOSE sent again when the peer talks */
    struct stream *streams;
    struct conn *next;
};

static int sock = -1;
static int have_cookie;
static uint8_t cookie;
static const char *generation = "0";
static gnutls_certificate_credentials_t cred;
static uint8_t reset_secret[32];
static struct conn *conns;
static volatile sig_atomic_t stopping;
static int verbose;

static ngtcp2_tstamp
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ngtcp2_tstamp)ts.tv_sec * NGTCP2_SECONDS +
           (ngtcp2_tstamp)ts.tv_nsec;
}

static void
on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

/* sd_notify(3) without libsystemd: one datagram to NOTIFY_SOCKET. */
static void
notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len;
    int s;

    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof(sa.sun_path))
        return;
    strcpy(sa.sun_path, path);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return;
    sendto(s, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
    close(s);
}

static void
log_printf(void *user_data, const char *fmt, ...)
{
    va_list ap;

    (void)user_data;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void
hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

/* A connection ID of ours: the cookie, then random bytes. */
static int
make_cid(ngtcp2_cid *cid, size_t len)
{
    if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, len) != 0)
        return -1;
    if (have_cookie)
        cid->data[0] = cookie;
    cid->datalen = len;
    return 0;
}

/* --- HTTP/3 --- */

static nghttp3_ssize
body_read(nghttp3_conn *h, int64_t id, nghttp3_vec *vec, size_t veccnt,
          uint32_t *pflags, void *conn_data, void *stream_data)
{
    struct stream *s = stream_data;

    (void)h, (void)id, (void)veccnt, (void)conn_data;
    vec[0].base = (uint8_t *)s->body;
    vec[0].len = s->bodylen;
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
    return 1;
}

static int
answer(struct conn *c, struct stream *s)
{
    char len[16];
    nghttp3_nv nva[3] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10,
         NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"content-length", (uint8_t *)len, 14, 0,
         NGHTTP3_NV_FLAG_NONE},
    };
    nghttp3_data_reader dr = {.read_data = body_read};
    int n = snprintf(s->body, sizeof(s->body),
                     "gen=%s pid=%d cookie=", generation, (int)getpid());

    if (have_cookie)
        n += snprintf(s->body + n, sizeof(s->body) - (size_t)n, "%02x\n",
                      cookie);
    else
        n += snprintf(s->body + n, sizeof(s->body) - (size_t)n, "none\n");
    s->bodylen = (size_t)n;
    nva[2].valuelen = (size_t)snprintf(len, sizeof(len), "%zu", s->bodylen);
    s->answered = 1;
    return nghttp3_conn_submit_response(c->h, s->id, nva, 3, &dr);
}

static int
h3_begin_headers(nghttp3_conn *h, int64_t id, void *conn_data,
                 void *stream_data)
{
    struct conn *c = conn_data;
    struct stream *s = calloc(1, sizeof(*s));

    (void)stream_data;
    if (s == NULL)
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    s->id = id;
    s->next = c->streams;
    c->streams = s;
    nghttp3_conn_set_stream_user_data(h, id, s);
    return 0;
}

static int
h3_recv_header(nghttp3_conn *h, int64_t id, int32_t token, nghttp3_rcbuf *name,
               nghttp3_rcbuf *value, uint8_t flags, void *conn_data,
               void *stream_data)
{
    struct stream *s = stream_data;
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);

    (void)h, (void)id, (void)name, (void)flags, (void)conn_data;
    /* /slow?ms=N, or /slowNAME?ms=N: a client that saves each answer
     * under its path's name (gtlsclient --download) asks several. */
    if (s != NULL && token == NGHTTP3_QPACK_TOKEN__PATH && v.len > 5 &&
        v.len < 256 && memcmp(v.base, "/slow", 5) == 0) {
        char path[256];
        const char *ms;

        memcpy(path, v.base, v.len);
        path[v.len] = '\0';
        if ((ms = strstr(path, "?ms=")) != NULL ||
            (ms = strstr(path, "&ms=")) != NULL)
            s->delay_ms = strtoll(ms + 4, NULL, 10);
        if (s->delay_ms < 0)
            s->delay_ms = 0;
    }
    return 0;
}

/* The request ended: answer now, or when its delay is over (the loop). */
static int
h3_end_stream(nghttp3_conn *h, int64_t id, void *conn_data, void *stream_data)
{
    struct conn *c = conn_data;
    struct stream *s = stream_data;

    (void)h, (void)id;
    if (s == NULL)
        return 0;
    s->due = now_ns() + (ngtcp2_tstamp)s->delay_ms * NGTCP2_MILLISECONDS;
    if (s->delay_ms == 0 && answer(c, s) != 0)
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    return 0;
}

static int
h3_stream_close(nghttp3_conn *h, int64_t id, uint64_t app_error_code,
                void *conn_data, void *stream_data)
{
    struct conn *c = conn_data;

    (void)h, (void)app_error_code, (void)stream_data;
    for (struct stream **p = &c->streams; *p != NULL; p = &(*p)->next) {
        if ((*p)->id == id) {
            struct stream *s = *p;
            *p = s->next;
            free(s);
            break;
        }
    }
    if (ngtcp2_is_bidi_stream(id))
        ngtcp2_conn_extend_max_streams_bidi(c->q, 1);
    return 0;
}

/* Request bodies are read and thrown away: give the credit back. */
static int
h3_consume(nghttp3_conn *h, int64_t id, size_t n, void *conn_data,
           void *stream_data)
{
    struct conn *c = conn_data;

    (void)h, (void)stream_data;
    ngtcp2_conn_extend_max_stream_offset(c->q, id, n);
    ngtcp2_conn_extend_max_offset(c->q, n);
    return 0;
}

static int
h3_recv_data(nghttp3_conn *h, int64_t id, const uint8_t *data, size_t len,
             void *conn_data, void *stream_data)
{
    (void)data;
    return h3_consume(h, id, len, conn_data, stream_data);
}

static int
h3_stop_sending(nghttp3_conn *h, int64_t id, uint64_t code, void *conn_data,
                void *stream_data)
{
    struct conn *c = conn_data;

    (void)h, (void)stream_data;
    return ngtcp2_conn_shutdown_stream_read(c->q, id, code) != 0
               ? NGHTTP3_ERR_CALLBACK_FAILURE
               : 0;
}

static int
h3_reset_stream(nghttp3_conn *h, int64_t id, uint64_t code, void *conn_data,
                void *stream_data)
{
    struct conn *c = conn_data;

    (void)h, (void)stream_data;
    return ngtcp2_conn_shutdown_stream_write(c->q, id, code) != 0
               ? NGHTTP3_ERR_CALLBACK_FAILURE
               : 0;
}

/* Once 1-RTT keys exist: the HTTP/3 layer and its three streams. */
static int
h3_setup(struct conn *c)
{
    nghttp3_callbacks cb = {
        .stream_close = h3_stream_close,
        .recv_data = h3_recv_data,
        .deferred_consume = h3_consume,
        .begin_headers = h3_begin_headers,
        .recv_header = h3_recv_header,
        .stop_sending = h3_stop_sending,
        .end_stream = h3_end_stream,
        .reset_stream = h3_reset_stream,
    };
    nghttp3_settings settings;
    int64_t ctrl, qenc, qdec;

    nghttp3_settings_default(&settings);
    if (nghttp3_conn_server_new(&c->h, &cb, &settings, nghttp3_mem_default(),
                                c) != 0)
        return -1;
    nghttp3_conn_set_max_client_streams_bidi(
        c->h,
        ngtcp2_conn_get_local_transport_params(c->q)->initial_max_streams_bidi);
    if (ngtcp2_conn_open_uni_stream(c->q, &ctrl, NULL) != 0 ||
        nghttp3_conn_bind_control_stream(c->h, ctrl) != 0 ||
        ngtcp2_conn_open_uni_stream(c->q, &qenc, NULL) != 0 ||
        ngtcp2_conn_open_uni_stream(c->q, &qdec, NULL) != 0 ||
        nghttp3_conn_bind_qpack_streams(c->h, qenc, qdec) != 0)
        return -1;
    return 0;
}

/* --- QUIC callbacks --- */

static int
q_recv_tx_key(ngtcp2_conn *q, ngtcp2_crypto_level level, void *user_data)
{
    (void)q;
    if (level != NGTCP2_CRYPTO_LEVEL_APPLICATION)
        return 0;
    return h3_setup(user_data) != 0 ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int
q_recv_stream_data(ngtcp2_conn *q, uint32_t flags, int64_t id, uint64_t offset,
                   const uint8_t *data, size_t len, void *user_data,
                   void *stream_data)
{
    struct conn *c = user_data;
    nghttp3_ssize n;

    (void)offset, (void)stream_data;
    if (c->h == NULL)
        return 0;
    n = nghttp3_conn_read_stream(c->h, id, data, len,
                                 (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
    if (n < 0) {
        ngtcp2_connection_close_error_set_application_error(
            &c->err, nghttp3_err_infer_quic_app_error_code((int)n), NULL, 0);
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    ngtcp2_conn_extend_max_stream_offset(q, id, (uint64_t)n);
    ngtcp2_conn_extend_max_offset(q, (uint64_t)n);
    return 0;
}

static int
q_acked(ngtcp2_conn *q, int64_t id, uint64_t offset, uint64_t len,
        void *user_data, void *stream_data)
{
    struct conn *c = user_data;

    (void)q, (void)offset, (void)stream_data;
    return c->h != NULL && nghttp3_conn_add_ack_offset(c->h, id, len) != 0
               ? NGTCP2_ERR_CALLBACK_FAILURE
               : 0;
}

static int
q_stream_close(ngtcp2_conn *q, uint32_t flags, int64_t id, uint64_t code,
               void *user_data, void *stream_data)
{
    struct conn *c = user_data;
    int rv;

    (void)stream_data;
    if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
        code = NGHTTP3_H3_NO_ERROR;
    if (c->h == NULL)
        return 0;
    rv = nghttp3_conn_close_stream(c->h, id, code);
    if (rv == NGHTTP3_ERR_STREAM_NOT_FOUND) {
        if (ngtcp2_is_bidi_stream(id))
            ngtcp2_conn_extend_max_streams_bidi(q, 1);
    } else if (rv != 0) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int
q_stream_reset(ngtcp2_conn *q, int64_t id, uint64_t final_size, uint64_t code,
               void *user_data, void *stream_data)
{
    struct conn *c = user_data;

    (void)q, (void)final_size, (void)code, (void)stream_data;
    return c->h != NULL && nghttp3_conn_shutdown_stream_read(c->h, id) != 0
               ? NGTCP2_ERR_CALLBACK_FAILURE
               : 0;
}

static int
q_stop_sending(ngtcp2_conn *q, int64_t id, uint64_t code, void *user_data,
               void *stream_data)
{
    return q_stream_reset(q, id, 0, code, user_data, stream_data);
}

static int
q_extend_max_remote_streams_bidi(ngtcp2_conn *q, uint64_t max, void *user_data)
{
    struct conn *c = user_data;

    (void)q;
    if (c->h != NULL)
        nghttp3_conn_set_max_client_streams_bidi(c->h, max);
    return 0;
}

static int
q_extend_max_stream_data(ngtcp2_conn *q, int64_t id, uint64_t max,
                         void *user_data, void *stream_data)
{
    struct conn *c = user_data;

    (void)q, (void)max, (void)stream_data;
    return c->h != NULL && nghttp3_conn_unblock_stream(c->h, id) != 0
               ? NGTCP2_ERR_CALLBACK_FAILURE
               : 0;
}

static void
q_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    (void)ctx;
    (void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

/* Every connection ID after the first: the cookie first, as in the first. */
static int
q_new_cid(ngtcp2_conn *q, ngtcp2_cid *cid, uint8_t *token, size_t len,
          void *user_data)
{
    char h[2 * NGTCP2_MAX_CIDLEN + 1];

    (void)q, (void)user_data;
    if (make_cid(cid, len) != 0 ||
        ngtcp2_crypto_generate_stateless_reset_token(
            token, reset_secret, sizeof(reset_secret), cid) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    if (verbose) {
        hex(h, cid->data, cid->datalen);
        fprintf(stderr, "quicgen: new cid %s\n", h);
    }
    return 0;
}

static ngtcp2_conn *
get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((struct conn *)ref->user_data)->q;
}

/* --- connections --- */

static void
conn_free(struct conn *c)
{
    while (c->streams != NULL) {
        struct stream *s = c->streams;
        c->streams = s->next;
        free(s);
    }
    nghttp3_conn_del(c->h);
    ngtcp2_conn_del(c->q);
    gnutls_deinit(c->tls);
    free(c);
}

static int
tls_new(struct conn *c)
{
    static const char prio[] =
        "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:"
        "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:"
        "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"
        "+GROUP-SECP521R1";
    gnutls_datum_t alpn = {(unsigned char *)"h3", 2};

    if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET |
                                 GNUTLS_NO_END_OF_EARLY_DATA) != 0)
        return -1;
    if (gnutls_priority_set_direct(c->tls, prio, NULL) != 0 ||
        ngtcp2_crypto_gnutls_configure_server_session(c->tls) != 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred) != 0 ||
        gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0)
        return -1;
    gnutls_session_set_ptr(c->tls, &c->ref);
    ngtcp2_conn_set_tls_native_handle(c->q, c->tls);
    return 0;
}

/* A connection for a client's first Initial (header in hd). */
static struct conn *
conn_new(const ngtcp2_pkt_hd *hd, const struct sockaddr *peer,
         socklen_t peerlen, const struct sockaddr *local, socklen_t locallen)
{
    ngtcp2_callbacks cb = {
        .recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
        .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
        .encrypt = ngtcp2_crypto_encrypt_cb,
        .decrypt = ngtcp2_crypto_decrypt_cb,
        .hp_mask = ngtcp2_crypto_hp_mask_cb,
        .recv_stream_data = q_recv_stream_data,
        .acked_stream_data_offset = q_acked,
        .stream_close = q_stream_close,
        .rand = q_rand,
        .get_new_connection_id = q_new_cid,
        .update_key = ngtcp2_crypto_update_key_cb,
        .stream_reset = q_stream_reset,
        .extend_max_remote_streams_bidi = q_extend_max_remote_streams_bidi,
        .extend_max_stream_data = q_extend_max_stream_data,
        .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
        .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
        .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
        .stream_stop_sending = q_stop_sending,
        .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
        .recv_tx_key = q_recv_tx_key,
    };
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
    ngtcp2_cid scid;
    ngtcp2_path path;
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL || make_cid(&scid, SCIDLEN) != 0)
        goto fail;
    c->ref = (ngtcp2_crypto_conn_ref){.get_conn = get_conn, .user_data = c};
    c->odcid = hd->dcid;
    memcpy(&c->peer, peer, peerlen);
    c->peerlen = peerlen;
    memcpy(&c->local, local, locallen);
    c->locallen = locallen;
    ngtcp2_connection_close_error_default(&c->err);

    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    if (verbose > 1)
        settings.log_printf = log_printf;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = 256 * 1024;
    params.initial_max_stream_data_bidi_remote = 256 * 1024;
    params.initial_max_stream_data_uni = 256 * 1024;
    params.initial_max_data = 1024 * 1024;
    params.initial_max_streams_bidi = 100;
    params.initial_max_streams_uni = 3;
    params.max_idle_timeout = 30 * NGTCP2_SECONDS;
    params.active_connection_id_limit = 7;
    params.original_dcid = hd->dcid;
    params.stateless_reset_token_present = 1;
    if (ngtcp2_crypto_generate_stateless_reset_token(
            params.stateless_reset_token, reset_secret, sizeof(reset_secret),
            &scid) != 0)
        goto fail;
    path = (ngtcp2_path){
        .local = {(struct sockaddr *)&c->local, c->locallen},
        .remote = {(struct sockaddr *)&c->peer, c->peerlen},
    };
    if (ngtcp2_conn_server_new(&c->q, &hd->scid, &scid, &path, hd->version, &cb,
                               &settings, &params, NULL, c) != 0)
        goto fail;
    if (tls_new(c) != 0)
        goto fail;
    c->next = conns;
    conns = c;
    if (verbose) {
        char h[2 * NGTCP2_MAX_CIDLEN + 1];
        hex(h, scid.data, scid.datalen);
        fprintf(stderr, "quicgen: accept scid %s\n", h);
    }
    return c;
fail:
    fprintf(stderr, "quicgen: cannot create a connection\n");
    if (c != NULL) {
        ngtcp2_conn_del(c->q);
        if (c->tls != NULL)
            gnutls_deinit(c->tls);
        free(c);
    }
    return NULL;
}

static int
cid_eq(const ngtcp2_cid *cid, const uint8_t *p, size_t n)
{
    return cid->datalen == n && memcmp(cid->data, p, n) == 0;
}

/* The connection a DCID belongs to: one of its SCIDs, or the DCID of the
 * client's first Initial (Initials sent again before our answer came). */
static struct conn *
conn_find(const uint8_t *dcid, size_t n)
{
    ngtcp2_cid ids[16];

    for (struct conn *c = conns; c != NULL; c = c->next) {
        size_t k = ngtcp2_conn_get_num_scid(c->q);

        if (cid_eq(&c->odcid, dcid, n))
            return c;
        if (k > sizeof(ids) / sizeof(ids[0]))
            continue;
        ngtcp2_conn_get_scid(c->q, ids);
        for (size_t i = 0; i < k; i++)
            if (cid_eq(&ids[i], dcid, n))
                return c;
    }
    return NULL;
}

static void
send_pkt(struct conn *c, const ngtcp2_path *path, const uint8_t *p, size_t n)
{
    const struct sockaddr *to =
        path != NULL ? path->remote.addr : (struct sockaddr *)&c->peer;
    socklen_t tolen = path != NULL ? path->remote.addrlen : c->peerlen;

    while (sendto(sock, p, n, 0, to, tolen) < 0 && errno == EINTR)
        ;
    /* EAGAIN and the like: the packet is lost; QUIC sends it again. */
}

/* Enter the closing period: one CONNECTION_CLOSE, sent again on demand. */
static void
conn_close(struct conn *c, ngtcp2_tstamp now)
{
    ngtcp2_path_storage ps;
    ngtcp2_pkt_info pi;
    ngtcp2_ssize n;

    if (c->gone_at != 0)
        return;
    c->gone_at = now + 3 * ngtcp2_conn_get_pto(c->q);
    if (ngtcp2_conn_is_in_closing_period(c->q) ||
        ngtcp2_conn_is_in_draining_period(c->q))
        return;
    ngtcp2_path_storage_zero(&ps);
    n = ngtcp2_conn_write_connection_close(c->q, &ps.path, &pi, c->closebuf,
                                           sizeof(c->closebuf), &c->err, now);
    if (n > 0) {
        c->closelen = (size_t)n;
        send_pkt(c, &ps.path, c->closebuf, c->closelen);
    }
}

static void
conn_fail(struct conn *c, int rv, ngtcp2_tstamp now)
{
    if (rv == NGTCP2_ERR_DRAINING) {
        c->gone_at = now + 3 * ngtcp2_conn_get_pto(c->q);
        return;
    }
    if (rv == NGTCP2_ERR_DROP_CONN || rv == NGTCP2_ERR_IDLE_CLOSE ||
        rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
        c->gone_at = now; /* silently */
        c->closelen = 0;
        return;
    }
    if (c->err.error_code == 0 &&
        c->err.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT) {
        if (rv == NGTCP2_ERR_CRYPTO)
            ngtcp2_connection_close_error_set_transport_error_tls_alert(
                &c->err, ngtcp2_conn_get_tls_alert(c->q), NULL, 0);
        else
            ngtcp2_connection_close_error_set_transport_error_liberr(
                &c->err, rv, NULL, 0);
    }
    conn_close(c, now);
}

/* Send what the connection has: HTTP/3 data first, then QUIC's own. */
static void
conn_write(struct conn *c, ngtcp2_tstamp now)
{
    uint8_t buf[MAX_PKT];
    size_t max = ngtcp2_conn_get_max_tx_udp_payload_size(c->q);
    ngtcp2_path_storage ps;
    ngtcp2_pkt_info pi;

    if (c->gone_at != 0)
        return;
    if (max > sizeof(buf))
        max = sizeof(buf);
    ngtcp2_path_storage_zero(&ps);
    for (;;) {
        int64_t sid = -1;
        int fin = 0;
        nghttp3_vec vec[16];
        nghttp3_ssize nv = 0;
        ngtcp2_ssize n, taken = -1;
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;

        if (c->h != NULL && ngtcp2_conn_get_max_data_left(c->q) > 0) {
            nv = nghttp3_conn_writev_stream(c->h, &sid, &fin, vec, 16);
            if (nv < 0) {
                ngtcp2_connection_close_error_set_application_error(
                    &c->err, nghttp3_err_infer_quic_app_error_code((int)nv),
                    NULL, 0);
                conn_close(c, now);
                return;
            }
        }
        if (fin)
            flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
        n = ngtcp2_conn_writev_stream(c->q, &ps.path, &pi, buf, max, &taken,
                                      flags, sid, (const ngtcp2_vec *)vec,
                                      (size_t)nv, now);
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
            nghttp3_conn_block_stream(c->h, sid);
            continue;
        }
        if (n == NGTCP2_ERR_STREAM_SHUT_WR) {
            nghttp3_conn_shutdown_stream_write(c->h, sid);
            continue;
        }
        if (taken >= 0 &&
            nghttp3_conn_add_write_offset(c->h, sid, (size_t)taken) != 0) {
            conn_fail(c, NGTCP2_ERR_INTERNAL, now);
            return;
        }
        if (n == NGTCP2_ERR_WRITE_MORE)
            continue;
        if (n < 0) {
            conn_fail(c, (int)n, now);
            return;
        }
        if (n == 0)
            break;
        send_pkt(c, &ps.path, buf, (size_t)n);
    }
    ngtcp2_conn_update_pkt_tx_time(c->q, now);
}

static void
conn_read(const uint8_t *pkt, size_t n, const struct sockaddr *peer,
          socklen_t peerlen, const struct sockaddr *local, socklen_t locallen)
{
    ngtcp2_version_cid vc;
    ngtcp2_pkt_hd hd;
    ngtcp2_pkt_info pi = {0};
    ngtcp2_path path;
    struct conn *c;
    ngtcp2_tstamp now = now_ns();
    int rv;

    if (ngtcp2_pkt_decode_version_cid(&vc, pkt, n, SCIDLEN) != 0)
        return; /* garbage, or a version to negotiate: see the top */
    c = conn_find(vc.dcid, vc.dcidlen);
    if (c == NULL) {
        /* After SIGTERM the plan gives new connections to another
         * generation; one that still reaches us is refused by silence. */
        if (ngtcp2_accept(&hd, pkt, n) != 0)
            return;
        if (stopping) {
            if (verbose)
                fprintf(stderr, "quicgen: stopping, Initial dropped\n");
            return;
        }
        if ((c = conn_new(&hd, peer, peerlen, local, locallen)) == NULL)
            return;
    }
    if (c->gone_at != 0) {
        if (c->closelen > 0)
            send_pkt(c, NULL, c->closebuf, c->closelen);
        return;
    }
    path = (ngtcp2_path){
        .local = {(struct sockaddr *)local, locallen},
        .remote = {(struct sockaddr *)peer, peerlen},
    };
    rv = ngtcp2_conn_read_pkt(c->q, &path, &pi, pkt, n, now);
    if (rv != 0)
        conn_fail(c, rv, now);
}

/* Timers of every connection, answers that were due, writes, deletes.
 * Returns the next deadline (0: none). */
static ngtcp2_tstamp
conns_run(ngtcp2_tstamp now)
{
    ngtcp2_tstamp next = 0;

    for (struct conn **p = &conns; *p != NULL;) {
        struct conn *c = *p;
        ngtcp2_tstamp t;

        if (c->gone_at == 0 && ngtcp2_conn_get_expiry(c->q) <= now) {
            int rv = ngtcp2_conn_handle_expiry(c->q, now);
            if (rv != 0)
                conn_fail(c, rv, now);
        }
        if (c->gone_at == 0 && c->h != NULL) {
            for (struct stream *s = c->streams; s != NULL; s = s->next) {
                if (s->answered || s->due == 0)
                    continue;
                if (s->due <= now) {
                    if (answer(c, s) != 0) {
                        conn_fail(c, NGTCP2_ERR_INTERNAL, now);
                        break;
                    }
                } else if (next == 0 || s->due < next) {
                    next = s->due;
                }
            }
        }
        conn_write(c, now);
        if (c->gone_at != 0 && c->gone_at <= now) {
            *p = c->next;
            conn_free(c);
            continue;
        }
        t = c->gone_at != 0 ? c->gone_at : ngtcp2_conn_get_expiry(c->q);
        if (next == 0 || t < next)
            next = t;
        p = &c->next;
    }
    return next;
}

/* Connections still serving (not closing, not draining). */
static int
conns_live(void)
{
    int n = 0;

    for (struct conn *c = conns; c != NULL; c = c->next)
        n += c->gone_at == 0;
    return n;
}

/* --- the socket, the loop --- */

static int
open_socket(const char *bind_to)
{
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM,
                             .ai_flags =
                                 AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai;
    char host[256];
    const char *port;
    int s, type, rv;
    socklen_t len = sizeof(type);

    if (fds != NULL && atoi(fds) >= 1 &&
        (pid == NULL || atoi(pid) == (int)getpid())) {
        if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
            type != SOCK_DGRAM) {
            fprintf(stderr, "quicgen: LISTEN_FDS: fd 3 is not a UDP socket\n");
            return -1;
        }
        return 3;
    }
    if (bind_to == NULL) {
        fprintf(stderr, "quicgen: no LISTEN_FDS and no --bind HOST:PORT\n");
        return -1;
    }
    port = strrchr(bind_to, ':');
    if (port == NULL || port == bind_to ||
        (size_t)(port - bind_to) >= sizeof(host)) {
        fprintf(stderr, "quicgen: --bind %s: expected HOST:PORT\n", bind_to);
        return -1;
    }
    memcpy(host, bind_to, (size_t)(port - bind_to));
    host[port - bind_to] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    if ((rv = getaddrinfo(host, port + 1, &hints, &ai)) != 0) {
        fprintf(stderr, "quicgen: --bind %s: %s\n", bind_to, gai_strerror(rv));
        return -1;
    }
    s = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "quicgen: --bind %s: %s\n", bind_to, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return s;
}

static int
usage(void)
{
    fprintf(stderr, "usage: quicgen --cert FILE --key FILE [--bind HOST:PORT] "
                    "[--drain-timeout S] [-v]\n");
    return 2;
}

int
main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *bind_to = NULL, *ck;
    double drain = 10;
    struct sockaddr_storage local;
    socklen_t locallen = sizeof(local);
    char name[NI_MAXHOST], serv[NI_MAXSERV];
    struct sigaction sa = {.sa_handler = on_term};
    sigset_t term, unblocked;
    ngtcp2_tstamp drain_end = 0;
    int left;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose++;
        } else if (i + 1 < argc && strcmp(argv[i], "--cert") == 0) {
            cert = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--key") == 0) {
            key = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--bind") == 0) {
            bind_to = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--drain-timeout") == 0) {
            char *end;
            drain = strtod(argv[++i], &end);
            if (*end != '\0' || drain < 0) {
                fprintf(stderr, "quicgen: --drain-timeout %s: not seconds\n",
                        argv[i]);
                return 2;
            }
        } else {
            return usage();
        }
    }
    if (cert == NULL || key == NULL)
        return usage();
    if ((ck = getenv("HANDOFF_QUIC_COOKIE")) != NULL && ck[0] != '\0') {
        char *end;
        unsigned long v = strtoul(ck, &end, 16);
        if (strlen(ck) != 2 || *end != '\0' || v > 255) {
            fprintf(
                stderr,
                "quicgen: HANDOFF_QUIC_COOKIE=%s: expected two hex digits\n",
                ck);
            return 2;
        }
        cookie = (uint8_t)v;
        have_cookie = 1;
    }
    if (getenv("HANDOFF_GENERATION") != NULL)
        generation = getenv("HANDOFF_GENERATION");

    if (gnutls_certificate_allocate_credentials(&cred) != 0 ||
        gnutls_certificate_set_x509_key_file(cred, cert, key,
                                             GNUTLS_X509_FMT_PEM) != 0) {
        fprintf(stderr, "quicgen: --cert %s --key %s: cannot load them\n", cert,
                key);
        return 1;
    }
    if (gnutls_rnd(GNUTLS_RND_RANDOM, reset_secret, sizeof(reset_secret)) != 0)
        return 1;
    if ((sock = open_socket(bind_to)) < 0)
        return 1;
    if (getsockname(sock, (struct sockaddr *)&local, &locallen) != 0 ||
        getnameinfo((struct sockaddr *)&local, locallen, name, sizeof(name),
                    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        perror("quicgen: getsockname");
        return 1;
    }
    printf("quicgen: listening on %s%s%s:%s pid=%d\n",
           local.ss_family == AF_INET6 ? "[" : "", name,
           local.ss_family == AF_INET6 ? "]" : "", serv, (int)getpid());
    fflush(stdout);

    /* SIGTERM is taken only inside ppoll(), so none is missed between a
     * test of stopping and the wait. */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &unblocked);
    sigdelset(&unblocked, SIGTERM);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    notify("READY=1\nSTATUS=serving");

    for (;;) {
        struct pollfd pfd = {.fd = sock, .events = POLLIN};
        ngtcp2_tstamp now = now_ns(), next = conns_run(now);
        struct timespec ts, *tsp = NULL;

        if (stopping) {
            if (drain_end == 0) {
                drain_end = now + (ngtcp2_tstamp)(drain * NGTCP2_SECONDS);
                notify("STOPPING=1");
            }
            if (conns_live() == 0 || now >= drain_end)
                break;
            if (next == 0 || drain_end < next)
                next = drain_end;
        }
        if (next != 0) {
            ngtcp2_tstamp d = next > now ? next - now : 0;
            ts.tv_sec = (time_t)(d / NGTCP2_SECONDS);
            ts.tv_nsec = (long)(d % NGTCP2_SECONDS);
            tsp = &ts;
        }
        if (ppoll(&pfd, 1, tsp, &unblocked) < 0 && errno != EINTR) {
            perror("quicgen: ppoll");
            return 1;
        }
        if (!(pfd.revents & POLLIN))
            continue;
        for (int k = 0; k < 64; k++) {
            uint8_t pkt[65536];
            struct sockaddr_storage peer;
            socklen_t peerlen = sizeof(peer);
            ssize_t n = recvfrom(sock, pkt, sizeof(pkt), MSG_DONTWAIT,
                                 (struct sockaddr *)&peer, &peerlen);
            if (n < 0)
                break;
            if (n > 0)
                conn_read(pkt, (size_t)n, (struct sockaddr *)&peer, peerlen,
                          (struct sockaddr *)&local, locallen);
        }
    }
    /* Those left at the drain's end are closed, not abandoned. */
    left = conns_live();
    for (struct conn *c = conns; c != NULL; c = c->next) {
        ngtcp2_connection_close_error_set_application_error(
            &c->err, NGHTTP3_H3_NO_ERROR, NULL, 0);
        conn_close(c, now_ns());
    }
    fprintf(stderr, "quicgen: pid=%d stopped, closed %d connections\n",
            (int)getpid(), left);
    while (conns != NULL) {
        struct conn *c = conns;
        conns = c->next;
        conn_free(c);
    }
    gnutls_certificate_free_credentials(cred);
    return 0;
}
