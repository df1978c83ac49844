/* libFuzzer target: JSON request bodies and Redis records through the models' validation
 * (database, stream, migration), and back to JSON (make fuzz) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/jsonutil.h"
#include "model/database.h"
#include "model/migration.h"
#include "model/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    json_t *j = jsonutil_parse((const char *)data, size, err, sizeof err);
    if (!j)
        return 0;
    Validation v;
    validation_init(&v);
    DatabaseConfig db;
    if (database_from_json(&db, j, &v))
        json_decref(database_to_json(&db));
    database_free(&db);
    validation_init(&v);
    ReplicationStream s;
    if (stream_from_json(&s, j, &v))
        json_decref(stream_to_json(&s));
    stream_free(&s);
    validation_init(&v);
    MigrationExecution m;
    if (migration_from_json(&m, j, &v))
        json_decref(migration_to_json(&m));
    migration_free(&m);
    json_decref(validation_to_json(&v));
    json_decref(j);
    return 0;
}
