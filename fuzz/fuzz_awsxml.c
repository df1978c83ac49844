/* libFuzzer target: AWS Query-protocol XML answers (RDS instances, clusters, log files,
 * ElastiCache groups) as a hostile endpoint could send them (make fuzz) */
#include <stddef.h>
#include <stdint.h>

#include <libxml/parser.h>

#include "aws/awsxml.h"
#include "aws/elasticache.h"
#include "aws/rds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const xmlNode *n)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        json_decref(rds_parse_instance(n));
        json_decref(rds_parse_cluster(n));
        json_decref(rds_parse_log_file(n));
        json_decref(elasticache_parse_group(n));
        walk(n->children);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xmlDoc *doc = awsxml_parse((const char *)data, size);
    if (doc) {
        walk(xmlDocGetRootElement(doc));
        xmlFreeDoc(doc);
    }
    json_decref(rds_parse_log_portion((const char *)data, size));
    return 0;
}
