/*
 * api: the REST resources, one file per resource, and the route table.
 *
 * Handlers only: parse the request, call a service, answer. They receive the
 * Services (the composition root's view for handlers) as their app pointer
 * and hold no SQL, no timers and no state of their own. A service ends in a
 * DoneCb (common/failure.h); api_pending/api_done turn that into the answer:
 * the result with the given status, or the failure as the JSON error document
 * with its code's status.
 */
#ifndef PGFLEET_API_H
#define PGFLEET_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert/alert.h"
#include "auth/auth.h"
#include "aws/aws.h"
#include "cluster/cluster.h"
#include "common/config.h"
#include "common/failure.h"
#include "http/router.h"
#include "migrate/runs.h"
#include "model/validate.h"
#include "registry/registry.h"
#include "replication/replication.h"
#include "store/store.h"
#include "streams/streams.h"

typedef struct Services {
    const Config *cfg;
    Store *store;   /* readiness and the model round trip */
    AwsClient *aws; /* the live AWS check; may be NULL */
    Registry *registry;
    Replication *replication;
    Streams *streams;
    Runs *runs;
    Alert *alert;
    Auth *auth;
    Cluster *cluster;
    uint64_t started_ns;
} Services;

/* the route table (static; also the source of the OpenAPI document) */
const Route *api_routes(size_t *count);

/* a query parameter that must be an integer in [min, max] (absent: *out kept); false when
   answered 422 */
bool api_int_param(HttpRequest *req, const char *name, long min, long max, long *out);
/* holds req and returns the ud of a service call whose callback is api_done */
void *api_pending(HttpRequest *req, unsigned status);
/* answers result (stolen) with the pending status, or the failure; releases req */
void api_done(void *ud, json_t *result, const Failure *f);
/* the failure as the error document */
void api_respond_failure(HttpRequest *req, const Failure *f);
/* 422 with every field error of v (error.fields) */
void api_respond_validation(HttpRequest *req, const Validation *v);
/* seconds since the daemon started */
double api_uptime_seconds(const Services *s);

/* health.c */
void api_healthz(HttpRequest *req, void *app);
void api_readyz(HttpRequest *req, void *app);
void api_cluster(HttpRequest *req, void *app);
void api_ws_plain(HttpRequest *req, void *app);
/* auth.c */
void api_auth_methods(HttpRequest *req, void *app);
void api_auth_login(HttpRequest *req, void *app);
void api_auth_logout(HttpRequest *req, void *app);
void api_auth_status(HttpRequest *req, void *app);
void api_sessions_list(HttpRequest *req, void *app);
void api_sessions_revoke(HttpRequest *req, void *app);
void api_audit_list(HttpRequest *req, void *app);
/* alerts.c */
void api_alerts_active(HttpRequest *req, void *app);
void api_alerts_history(HttpRequest *req, void *app);
void api_alerts_ack(HttpRequest *req, void *app);
void api_alerts_deliveries(HttpRequest *req, void *app);
void api_alert_rules_list(HttpRequest *req, void *app);
void api_alert_rules_create(HttpRequest *req, void *app);
void api_alert_rules_update(HttpRequest *req, void *app);
void api_alert_rules_delete(HttpRequest *req, void *app);
void api_alert_channels_list(HttpRequest *req, void *app);
void api_alert_channels_create(HttpRequest *req, void *app);
void api_alert_channels_update(HttpRequest *req, void *app);
void api_alert_channels_delete(HttpRequest *req, void *app);
void api_alert_channels_test(HttpRequest *req, void *app);
void api_alert_silences_list(HttpRequest *req, void *app);
void api_alert_silences_create(HttpRequest *req, void *app);
void api_alert_silences_delete(HttpRequest *req, void *app);
/* sso.c */
void api_saml_metadata(HttpRequest *req, void *app);
void api_saml_login(HttpRequest *req, void *app);
void api_saml_acs(HttpRequest *req, void *app);
void api_oidc_login(HttpRequest *req, void *app);
void api_oidc_callback(HttpRequest *req, void *app);
/* the audit entry of a finished request whose route changes something (others: none) */
void api_audit_request(Services *s, const HttpRequest *req);
/* who acted, as recorded in applied_by / created_by: the user name */
const char *api_actor(const HttpRequest *req);
/* models.c */
void api_models_test(HttpRequest *req, void *app);
void api_models_validate(HttpRequest *req, void *app);
/* databases.c */
void api_databases_list(HttpRequest *req, void *app);
void api_databases_get(HttpRequest *req, void *app);
void api_databases_create(HttpRequest *req, void *app);
void api_databases_update(HttpRequest *req, void *app);
void api_databases_delete(HttpRequest *req, void *app);
void api_databases_test_one(HttpRequest *req, void *app);
void api_databases_test_all(HttpRequest *req, void *app);
/* replication.c */
void api_replication_discover(HttpRequest *req, void *app);
void api_replication_status(HttpRequest *req, void *app);
void api_replication_history(HttpRequest *req, void *app);
void api_replication_events(HttpRequest *req, void *app);
void api_metrics(HttpRequest *req, void *app);
/* migrations.c */
void api_migrations_execute(HttpRequest *req, void *app);
void api_migrations_list(HttpRequest *req, void *app);
void api_migrations_get(HttpRequest *req, void *app);
void api_migrations_cancel(HttpRequest *req, void *app);
/* streams.c */
void api_streams_validate(HttpRequest *req, void *app);
void api_streams_create(HttpRequest *req, void *app);
void api_streams_list(HttpRequest *req, void *app);
void api_streams_get(HttpRequest *req, void *app);
void api_streams_pause(HttpRequest *req, void *app);
void api_streams_resume(HttpRequest *req, void *app);
void api_streams_refresh(HttpRequest *req, void *app);
void api_streams_tables(HttpRequest *req, void *app);
void api_streams_drop(HttpRequest *req, void *app);
/* aws.c */
void api_aws_test(HttpRequest *req, void *app);
/* openapi.c */
void api_openapi(HttpRequest *req, void *app);
/* the OpenAPI 3 document for the route table (new reference) */
json_t *openapi_document(const Route *routes, size_t count);

#endif
