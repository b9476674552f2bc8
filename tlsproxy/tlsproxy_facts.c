/*
 * tlsproxy_facts.c - what a finished handshake agreed on, in the words Postfix logs it:
 * "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519
 * server-signature RSA-PSS (2048 bits) server-digest SHA256".
 *
 * Trusts: OpenSSL. The peer certificate's names are the peer's text: anything but
 * printable ASCII becomes '?', so no certificate can break a log line or a header.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "tlsproxy/tlsproxy.h"

static void
tlsproxy_facts_clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            *s = '?';
}

/* tlsproxy_facts_sigalg - "RSA-PSS", "ECDSA", "ED25519": the kind of signature a nid is */
static const char *
tlsproxy_facts_sigalg(int nid)
{
    switch (nid) {
    case EVP_PKEY_RSA:
        return "RSA";
    case EVP_PKEY_RSA_PSS:
        return "RSA-PSS";
    case EVP_PKEY_EC:
        return "ECDSA";
    case EVP_PKEY_ED25519:
        return "ED25519";
    case EVP_PKEY_ED448:
        return "ED448";
    default:
        return OBJ_nid2sn(nid);
    }
}

/* tlsproxy_facts_key - "(2048 bits)" for RSA, "(P-256)" for EC keys */
static void
tlsproxy_facts_key(EVP_PKEY *key, char *out, size_t size)
{
    char group[64];
    size_t glen = 0;

    out[0] = 0;
    if (key == NULL)
        return;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
        EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &glen) == 1) {
        int nid = OBJ_sn2nid(group);
        const char *nist = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
        snprintf(out, size, " (%s)", nist ? nist : group);
        return;
    }
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA || EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS)
        snprintf(out, size, " (%d bits)", EVP_PKEY_get_bits(key));
}

/* tlsproxy_facts_sig - " NAME-signature KIND (key) NAME-digest MD" of one side, if known */
static void
tlsproxy_facts_sig(const char *side, int sig, int dig, EVP_PKEY *key, char *out, size_t size)
{
    char k[80];
    size_t len = strlen(out);

    tlsproxy_facts_key(key, k, sizeof(k));
    snprintf(out + len, size - len, " %s-signature %s%s", side, tlsproxy_facts_sigalg(sig), k);
    len = strlen(out);
    if (dig != NID_undef)
        snprintf(out + len, size - len, " %s-digest %s", side, OBJ_nid2sn(dig));
}

/* tlsproxy_facts_detail - key exchange, then the server's signature and digest, and a client
 * certificate's; client says which side we are */
static void
tlsproxy_facts_detail(SSL *ssl, X509 *peer, bool client, char *out, size_t size)
{
    int group = SSL_get_negotiated_group(ssl), sig = NID_undef, dig = NID_undef;
    const char *gname = group > 0 ? SSL_group_to_name(ssl, group) : NULL;

    snprintf(out, size, "key-exchange %s", gname ? gname : "unknown");
    if (client) {
        if (peer != NULL && SSL_get_peer_signature_type_nid(ssl, &sig) == 1) {
            if (SSL_get_peer_signature_nid(ssl, &dig) != 1)
                dig = NID_undef;
            tlsproxy_facts_sig("server", sig, dig, X509_get0_pubkey(peer), out, size);
        }
        return;
    }
    if (SSL_get_signature_type_nid(ssl, &sig) == 1) {
        if (SSL_get_signature_nid(ssl, &dig) != 1)
            dig = NID_undef;
        tlsproxy_facts_sig("server", sig, dig, SSL_get_privatekey(ssl), out, size);
    }
    if (peer != NULL && SSL_get_peer_signature_type_nid(ssl, &sig) == 1) {
        if (SSL_get_peer_signature_nid(ssl, &dig) != 1)
            dig = NID_undef;
        tlsproxy_facts_sig("client", sig, dig, X509_get0_pubkey(peer), out, size);
    }
}

/* tlsproxy_facts_cn - a name's common name, or "" */
static void
tlsproxy_facts_cn(X509_NAME *name, char *out, size_t size)
{
    out[0] = 0;
    if (name == NULL || X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)size) < 0)
        out[0] = 0;
    tlsproxy_facts_clean(out);
}

/* tlsproxy_facts_peer - the peer's certificate: names, SHA-256 fingerprint */
static void
tlsproxy_facts_peer(X509 *peer, struct tls_facts *f)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t len = 0;

    if (peer == NULL)
        return;
    tlsproxy_facts_cn(X509_get_subject_name(peer), f->subject, sizeof(f->subject));
    tlsproxy_facts_cn(X509_get_issuer_name(peer), f->issuer, sizeof(f->issuer));
    if (X509_digest(peer, EVP_sha256(), md, &mdlen) != 1)
        return;
    for (unsigned i = 0; i < mdlen && len + 4 <= sizeof(f->fingerprint); i++)
        len += (size_t)snprintf(f->fingerprint + len, sizeof(f->fingerprint) - len, "%s%02X",
                                i ? ":" : "", md[i]);
}

/* tlsproxy_facts - the facts of a finished handshake; for the client side (req->client) the
 * server's certificate is checked against req->match */
void
tlsproxy_facts(SSL *ssl, const struct tls_request *req, struct tls_facts *f)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    X509 *peer = SSL_get1_peer_certificate(ssl);
    int alg_bits = 0;

    memset(f, 0, sizeof(*f));
    snprintf(f->protocol, sizeof(f->protocol), "%s", SSL_get_version(ssl));
    snprintf(f->cipher, sizeof(f->cipher), "%s", c ? SSL_CIPHER_get_name(c) : "unknown");
    f->bits = c ? SSL_CIPHER_get_bits(c, &alg_bits) : 0;
    f->alg_bits = alg_bits;
    tlsproxy_facts_detail(ssl, peer, req->client, f->detail, sizeof(f->detail));
    tlsproxy_facts_peer(peer, f);
    if (req->client)
        f->trust = tlsproxy_client_trust(ssl, peer, req->match);
    else
        f->trust = peer == NULL                              ? TLS_TRUST_ANONYMOUS
                   : SSL_get_verify_result(ssl) == X509_V_OK ? TLS_TRUST_TRUSTED
                                                             : TLS_TRUST_UNTRUSTED;
    snprintf(f->sni, sizeof(f->sni), "%s", sni ? sni : "");
    tlsproxy_facts_clean(f->sni);
    X509_free(peer);
}
