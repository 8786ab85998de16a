/*
 * The smallest complete libacme program: register an account, prove
 * control of the names with the built-in http-01 responder, and print the
 * certificate chain and its key. Uses only the public API.
 *
 *   minimal DIRECTORY_URL HTTP_PORT NAME...
 *
 * ACME_CA_BUNDLE, when set, names the PEM file of trust anchors for the
 * CA's HTTPS (a test CA such as Pebble needs it).
 */
#include <stdio.h>
#include <stdlib.h>

#include <acme.h>

static int fail(const char *what)
{
    fprintf(stderr, "minimal: %s: %s\n", what, acme_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s DIRECTORY_URL HTTP_PORT NAME...\n", argv[0]);
        return 2;
    }
    acme_provider_options po;
    acme_provider_options_init(&po, ACME_PROVIDER_OPTIONS_VERSION);
    po.ca_bundle = getenv("ACME_CA_BUNDLE");
    acme_provider *ca = NULL;
    if (acme_provider_new(&ca, argv[1], &po) != ACME_OK)
        return fail("connecting to the CA");

    acme_key *account_key = NULL, *cert_key = NULL;
    if (acme_key_generate(&account_key, ACME_KEY_EC256) != ACME_OK ||
        acme_key_generate(&cert_key, ACME_KEY_EC256) != ACME_OK)
        return fail("generating keys");

    acme_account_options ao;
    acme_account_options_init(&ao, ACME_ACCOUNT_OPTIONS_VERSION);
    ao.agree_tos = 1; /* the CA's terms: acme_provider_terms_of_service(ca) */
    acme_account *account = NULL;
    if (acme_account_register(&account, ca, account_key, &ao) != ACME_OK)
        return fail("registering the account");

    acme_http_responder *http = NULL;
    acme_solvers *solvers = NULL;
    if (acme_http_responder_start(&http, NULL, (unsigned int)atoi(argv[2])) != ACME_OK ||
        acme_solvers_new(&solvers) != ACME_OK ||
        acme_solvers_add_http_responder(solvers, http) != ACME_OK)
        return fail("starting the http-01 responder");

    acme_order *order = NULL;
    if (acme_order_new(&order, account) != ACME_OK)
        return fail("creating the order");
    for (int i = 3; i < argc; i++)
        if (acme_order_add_identifier(order, argv[i]) != ACME_OK)
            return fail(argv[i]);
    int rc = acme_order_issue(order, solvers, cert_key);
    if (rc == ACME_OK) {
        char *key_pem = NULL;
        acme_key_to_pem(cert_key, &key_pem);
        fputs(acme_order_certificate_pem(order), stdout);
        fputs(key_pem, stdout);
        acme_free(key_pem);
    } else {
        fprintf(stderr, "minimal: issuing: %s\n", acme_order_last_error(order));
    }

    acme_order_free(order);
    acme_solvers_free(solvers);
    acme_http_responder_stop(http);
    acme_account_free(account);
    acme_key_free(cert_key);
    acme_key_free(account_key);
    acme_provider_free(ca);
    return rc == ACME_OK ? 0 : 1;
}
