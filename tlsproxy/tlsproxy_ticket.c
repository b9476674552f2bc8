/*
 * tlsproxy_ticket.c - session tickets (RFC 5077, TLS 1.3 resumption) under keys of our own
 * that rotate: a new key every smtpd_tls_session_cache_timeout, the one before it still
 * accepted (and its tickets renewed) for one more period, older tickets refused.
 *
 * Trusts: nothing in a ticket; OpenSSL checks its MAC with our key before it is used. The
 * keys live in this process only (one tlsproxy resumes the sessions it started) and come
 * from OpenSSL's random generator.
 */
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tlsproxy/tlsproxy.h"

struct tlsproxy_ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char mac[32];
    time_t born; /* 0: no key */
};

/* The process's keys: [0] encrypts new tickets, [1] is the one before it. */
static struct tlsproxy_ticket_key tlsproxy_keys[2];
static long tlsproxy_ticket_period;

/* tlsproxy_ticket_rotate - a fresh current key once the period is over; false if none */
static bool
tlsproxy_ticket_rotate(time_t now)
{
    struct tlsproxy_ticket_key fresh;

    if (tlsproxy_keys[0].born != 0 && now - tlsproxy_keys[0].born < tlsproxy_ticket_period)
        return true;
    if (RAND_bytes(fresh.name, sizeof(fresh.name)) != 1 ||
        RAND_bytes(fresh.aes, sizeof(fresh.aes)) != 1 ||
        RAND_bytes(fresh.mac, sizeof(fresh.mac)) != 1)
        return false;
    fresh.born = now;
    tlsproxy_keys[1] = tlsproxy_keys[0];
    tlsproxy_keys[0] = fresh;
    return true;
}

/* tlsproxy_ticket_mac - the HMAC-SHA256 key of a ticket key */
static bool
tlsproxy_ticket_mac(EVP_MAC_CTX *hctx, struct tlsproxy_ticket_key *k)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k->mac, sizeof(k->mac)),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

/*
 * tlsproxy_ticket_cb - OpenSSL's ticket callback: 1 use the key, 2 use it and issue a new
 * ticket (the key is the previous one), 0 no such key (a full handshake), -1 failure
 */
static int
tlsproxy_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ectx,
                   EVP_MAC_CTX *hctx, int enc)
{
    time_t now = time(NULL);

    if (enc) {
        struct tlsproxy_ticket_key *k = &tlsproxy_keys[0];
        if (!tlsproxy_ticket_rotate(now) || RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
            return -1;
        memcpy(name, k->name, sizeof(k->name));
        if (EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1 ||
            !tlsproxy_ticket_mac(hctx, k))
            return -1;
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        struct tlsproxy_ticket_key *k = &tlsproxy_keys[i];
        if (k->born == 0 || memcmp(name, k->name, sizeof(k->name)) != 0)
            continue;
        if (now - k->born >= 2 * tlsproxy_ticket_period)
            return 0;
        if (!tlsproxy_ticket_mac(hctx, k) ||
            EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
            return -1;
        return i == 0 ? 1 : 2;
    }
    return 0;
}

/* tlsproxy_ticket_setup - tickets under rotating keys, or none when period is 0 */
void
tlsproxy_ticket_setup(SSL_CTX *ctx, long period)
{
    if (period <= 0) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
        return;
    }
    tlsproxy_ticket_period = period;
    SSL_CTX_set_timeout(ctx, period);
    SSL_CTX_set_num_tickets(ctx, 1); /* one per session (OpenSSL sends two): one write less */
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tlsproxy_ticket_cb);
}
