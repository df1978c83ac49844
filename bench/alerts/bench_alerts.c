/*
 * bench/alerts: what alert evaluation costs per collection. A synthetic snapshot
 * of 300 databases (300 edges, 300 slots, 2,000 log events in the window, 50
 * streams, 20 failed migrations) and 100 rules of every kind; each tick copies
 * the snapshot as the service does (alert_collected) and evaluates every rule on
 * it (engine_evaluate), with 10 % of the edges over their lag threshold and a
 * few slots growing. Prints the CPU time per tick (median, p90, max over TICKS),
 * what that is of one core at the default 10 s collection interval, the
 * transitions seen and the peak RSS.
 *
 *   bench-alerts [TICKS] [DATABASES] [RULES] [healthy]   defaults 300 300 100
 *
 * "healthy": no edge lags, every slot is active and flat, every database ok (the
 * common case, where most subjects cost only a hash).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "alert/engine.h"
#include "alert/rules.h"

static double cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool healthy;

static json_t *snapshot_status(int dbs, int tick)
{
    json_t *edges = json_array(), *slots = json_array();
    for (int i = 0; i < dbs; i++) {
        char from[64], to[64], slot[64], sub[64];
        snprintf(from, sizeof from, "10.0.%d.%d:5432", i / 100, i % 100);
        snprintf(to, sizeof to, "10.1.%d.%d:5432", i / 100, i % 100);
        snprintf(slot, sizeof slot, "slot_%03d", i);
        snprintf(sub, sizeof sub, "sub_%03d", i);
        bool logical = i % 3 == 0;
        bool lagging = !healthy && i % 10 == 0;
        long long lag = lagging ? 200LL * 1024 * 1024 : (long long)(i * 1000);
        json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:s}", "kind",
                              logical ? "logical" : "physical", "from", from, "to", to, "state",
                              "streaming", "lag_bytes", (json_int_t)lag, "lag_seconds",
                              (double)(lagging ? 120 : 1), "slot", slot);
        if (logical)
            json_object_set_new(e, "subscription", json_string(sub));
        json_array_append_new(edges, e);
        long long retained = (long long)(!healthy && i % 7 == 0 ? tick : 1) * 1024 * 1024 + i;
        json_array_append_new(
            slots, json_pack("{s:s, s:s, s:s, s:b, s:I, s:s, s:I}", "node", from, "name", slot,
                             "type", logical ? "logical" : "physical", "active", healthy || i % 11 != 0,
                             "retained_wal_bytes", (json_int_t)retained, "wal_status", "reserved",
                             "safe_wal_size", (json_int_t)(4LL << 30)));
    }
    return json_pack("{s:o, s:o}", "edges", edges, "slots", slots);
}

static json_t *make_rules_json(int n)
{
    static const char *const templates[] = {
        "{\"kind\":\"replication_lag\",\"for\":\"1m\",\"threshold_bytes\":104857600}",
        "{\"kind\":\"replication_lag\",\"for\":\"2m\",\"threshold_seconds\":60,"
        "\"match\":{\"from\":\"10.0.1.*\"}}",
        "{\"kind\":\"edge_down\",\"for\":\"1m\"}",
        "{\"kind\":\"slot_retention\",\"for\":\"5m\",\"threshold_bytes\":1073741824,"
        "\"inactive_for\":\"1h\"}",
        "{\"kind\":\"slot_forecast\",\"for\":\"10m\",\"forecast_hours\":6}",
        "{\"kind\":\"database_down\",\"for\":\"1m\"}",
        "{\"kind\":\"log_events\",\"threshold_count\":5,\"window\":\"10m\","
        "\"match\":{\"severity\":\"error\"}}",
        "{\"kind\":\"migration_failed\"}",
        "{\"kind\":\"stream_error\"}",
        "{\"kind\":\"collector_stale\",\"threshold_seconds\":120}",
    };
    /* roughly how teams write them: mostly lag, edges and slots */
    static const int weight[] = {20, 10, 15, 15, 10, 10, 10, 4, 4, 2};
    json_t *out = json_array();
    int made = 0;
    for (int t = 0; made < n; t = (t + 1) % 10) {
        for (int k = 0; k < weight[t] * n / 100 + 1 && made < n; k++, made++) {
            json_t *r = json_loads(templates[t], 0, NULL);
            char name[32];
            snprintf(name, sizeof name, "rule-%03d", made);
            json_object_set_new(r, "name", json_string(name));
            json_array_append_new(out, r);
        }
    }
    return out;
}

int main(int argc, char **argv)
{
    int ticks = argc > 1 ? atoi(argv[1]) : 300;
    int dbs = argc > 2 ? atoi(argv[2]) : 300;
    int nrules = argc > 3 ? atoi(argv[3]) : 100;
    healthy = argc > 4 && !strcmp(argv[4], "healthy");
    if (ticks < 1 || dbs < 1 || nrules < 1) {
        fprintf(stderr, "usage: bench-alerts [TICKS] [DATABASES] [RULES]\n");
        return 2;
    }
    json_t *rj = make_rules_json(nrules);
    Rule *rules = calloc((size_t)nrules, sizeof *rules);
    for (int i = 0; i < nrules; i++) {
        Validation v;
        validation_init(&v);
        if (!rule_from_json(&rules[i], json_array_get(rj, (size_t)i), &v)) {
            fprintf(stderr, "bench rule %d invalid: %s\n", i, v.count ? v.errors[0].message : "");
            return 1;
        }
    }
    json_t *databases = json_array();
    for (int i = 0; i < dbs; i++) {
        char id[32];
        snprintf(id, sizeof id, "db_%03d", i);
        json_array_append_new(databases, json_pack("{s:s, s:s}", "id", id, "health",
                                                   !healthy && i % 50 == 0 ? "unreachable" : "ok"));
    }
    double t0 = 1.8e9;
    json_t *events = json_array();
    for (int i = 0; i < 2000; i++)
        json_array_append_new(events,
                              json_pack("{s:s, s:s, s:s, s:f}", "node", i % 2 ? "10.0.0.1:5432" : "10.0.0.2:5432",
                                        "severity", i % 3 || healthy ? "warning" : "error", "kind",
                                        "slot_missing", "epoch", t0 - (double)(i % 500)));
    json_t *streams = json_object();
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "stream-%02d", i);
        json_object_set_new(streams, id,
                            json_pack("{s:s}", "state", !healthy && i == 7 ? "error" : "streaming"));
    }
    json_t *migrations = json_array();
    for (int i = 0; i < (healthy ? 0 : 20); i++)
        json_array_append_new(migrations, json_pack("{s:s, s:s, s:s, s:f}", "execution_id", "x",
                                                    "name", "m", "status", "failed", "epoch", t0));

    AlertEngine *e = engine_new();
    double *us = calloc((size_t)ticks, sizeof *us);
    size_t transitions = 0;
    for (int t = 0; t < ticks; t++) {
        json_t *collected = snapshot_status(dbs, t); /* what the collector hands over */
        double start = cpu_us();
        json_t *status = json_deep_copy(collected); /* alert_collected keeps a copy */
        AlertSnapshot s = {.status = status,
                           .databases = databases,
                           .events = events,
                           .streams = streams,
                           .migrations = migrations,
                           .collected_epoch = t0 + t * 10.0,
                           .started_epoch = t0,
                           .now = t0 + t * 10.0};
        json_t *out = json_array();
        engine_evaluate(e, rules, (size_t)nrules, &s, out);
        transitions += json_array_size(out);
        json_decref(out);
        json_decref(status);
        us[t] = cpu_us() - start;
        json_decref(collected);
    }
    qsort(us, (size_t)ticks, sizeof *us, cmp);
    json_t *active = engine_active(e);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double med = us[ticks / 2];
    printf("alert evaluation: %d rules x %d databases (%d edges, %d slots), %d ticks%s\n", nrules,
           dbs, dbs, dbs, ticks, healthy ? ", healthy fleet" : ", many firing");
    printf("  CPU per tick: median %.0f us, p90 %.0f us, max %.0f us\n", med,
           us[(int)(ticks * 0.9)], us[ticks - 1]);
    printf("  at a 10 s collection interval: %.3f %% of one core\n", med / 1e5);
    printf("  transitions %zu, active at the end %zu, peak RSS %ld MB\n", transitions,
           json_array_size(active), ru.ru_maxrss / 1024);
    json_decref(active);
    engine_free(e);
    for (int i = 0; i < nrules; i++)
        rule_free(&rules[i]);
    free(rules);
    free(us);
    json_decref(rj);
    json_decref(databases);
    json_decref(events);
    json_decref(streams);
    json_decref(migrations);
    return 0;
}
