/* The few mbedTLS calls whose signatures differ between 2.28 and 3.x,
 * behind one spelling. Every mbedTLS version difference lives here. */
#ifndef ACME_LIB_MBEDCOMPAT_H
#define ACME_LIB_MBEDCOMPAT_H

#include <mbedtls/version.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>

/* The RNG the macros below hand to mbedTLS (base/rng.c). Declared here
 * rather than by including base/rng.h, because rng.c itself needs this
 * header (PSA start-up) and a module cycle would follow. */
int acme__rng(void *ctx, unsigned char *out, size_t len);

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define ACME__PK_PARSE_KEY(pk, der, len) \
    mbedtls_pk_parse_key((pk), (der), (len), NULL, 0, acme__rng, NULL)
#define ACME__PK_SIGN(pk, md, hash, hlen, sig, size, olen) \
    mbedtls_pk_sign((pk), (md), (hash), (hlen), (sig), (size), (olen), acme__rng, NULL)
#define ACME__PK_CHECK_PAIR(pub, prv) mbedtls_pk_check_pair((pub), (prv), acme__rng, NULL)
#define ACME__ECDSA_SIGN(ec, md, hash, hlen, sig, size, olen) \
    mbedtls_ecdsa_write_signature((ec), (md), (hash), (hlen), (sig), (size), (olen), acme__rng, NULL)
#define ACME__EC_GROUP_ID(keypair) ((keypair)->MBEDTLS_PRIVATE(grp).id)
#else
#define ACME__PK_PARSE_KEY(pk, der, len) mbedtls_pk_parse_key((pk), (der), (len), NULL, 0)
#define ACME__PK_SIGN(pk, md, hash, hlen, sig, size, olen) \
    mbedtls_pk_sign((pk), (md), (hash), (hlen), (sig), (olen), acme__rng, NULL)
#define ACME__PK_CHECK_PAIR(pub, prv) mbedtls_pk_check_pair((pub), (prv))
#define ACME__ECDSA_SIGN(ec, md, hash, hlen, sig, size, olen) \
    mbedtls_ecdsa_write_signature((ec), (md), (hash), (hlen), (sig), (olen), acme__rng, NULL)
#define ACME__EC_GROUP_ID(keypair) ((keypair)->grp.id)
#endif

/* TLS server handshakes (the tls-alpn-01 responder steps through them to
 * check ALPN as soon as the ClientHello is read). ACME__SSL_STATE is the
 * handshake state (MBEDTLS_SSL_HELLO_REQUEST, MBEDTLS_SSL_CLIENT_HELLO, ...);
 * ACME__SSL_HANDSHAKE_OVER is non-zero once the handshake is done (3.x has
 * states after MBEDTLS_SSL_HANDSHAKE_OVER, 2.28 has some that are not);
 * ACME__SSL_CONF_MIN_TLS12 refuses TLS 1.0 and 1.1 (3.x has none below 1.2);
 * ACME__SSL_CONF_MAX_TLS12 keeps to TLS 1.2 (tests read its plaintext
 * Certificate message; mbedtls_ssl_conf_max_tls_version is 3.2+);
 * ACME__PSA_INIT() readies PSA crypto, which 3.x TLS needs (0 on success). */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define ACME__SSL_STATE(ssl) ((ssl)->MBEDTLS_PRIVATE(state))
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
#define ACME__SSL_HANDSHAKE_OVER(ssl) mbedtls_ssl_is_handshake_over(ssl)
#else
#define ACME__SSL_HANDSHAKE_OVER(ssl) (ACME__SSL_STATE(ssl) == MBEDTLS_SSL_HANDSHAKE_OVER)
#endif
#define ACME__SSL_CONF_MIN_TLS12(conf) ((void)(conf))
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
#define ACME__SSL_CONF_MAX_TLS12(conf) \
    mbedtls_ssl_conf_max_tls_version((conf), MBEDTLS_SSL_VERSION_TLS1_2)
#else
#define ACME__SSL_CONF_MAX_TLS12(conf) \
    mbedtls_ssl_conf_max_version((conf), MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
#endif
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#define ACME__PSA_INIT() (psa_crypto_init() == PSA_SUCCESS ? 0 : -1)
#else
#define ACME__PSA_INIT() 0
#endif
#else
#define ACME__SSL_STATE(ssl) ((ssl)->state)
#define ACME__SSL_HANDSHAKE_OVER(ssl) ((ssl)->state == MBEDTLS_SSL_HANDSHAKE_OVER)
#define ACME__SSL_CONF_MIN_TLS12(conf) \
    mbedtls_ssl_conf_min_version((conf), MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
#define ACME__SSL_CONF_MAX_TLS12(conf) \
    mbedtls_ssl_conf_max_version((conf), MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
#define ACME__PSA_INIT() 0
#endif

/* ---- X.509 writing (CSR and certificate) ---- */
#include <mbedtls/bignum.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

/* 3.0 gave mbedtls_x509write_csr_set_extension a `critical` argument; 2.28
 * always writes CSR extensions non-critical (critical is ignored there). */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define ACME__CSR_SET_EXTENSION(w, oid, oid_len, critical, val, val_len) \
    mbedtls_x509write_csr_set_extension((w), (oid), (oid_len), (critical), (val), (val_len))
#else
#define ACME__CSR_SET_EXTENSION(w, oid, oid_len, critical, val, val_len) \
    ((void)(critical), mbedtls_x509write_csr_set_extension((w), (oid), (oid_len), (val), (val_len)))
#endif

/* A certificate's serial from big-endian octets without leading zeros (a
 * 0x00 is prepended in the DER when the high bit is set). 3.4 added
 * mbedtls_x509write_crt_set_serial_raw and deprecated the mbedtls_mpi
 * setter (4.0 removes it). */
static inline int acme__x509write_crt_set_serial(mbedtls_x509write_cert *w,
                                                 const unsigned char *serial, size_t len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
    return mbedtls_x509write_crt_set_serial_raw(w, (unsigned char *)serial, len);
#else
    mbedtls_mpi s;
    mbedtls_mpi_init(&s);
    int rc = mbedtls_mpi_read_binary(&s, serial, len);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_serial(w, &s);
    mbedtls_mpi_free(&s);
    return rc;
#endif
}

#endif
