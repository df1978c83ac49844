#include "aws/awsxml.h"

#include <stdint.h>
#include <string.h>

#include <libxml/parser.h>

#include "common/strbuf.h"
#include "common/xalloc.h"

xmlDoc *awsxml_parse(const char *data, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return NULL;
    xmlDoc *doc = xmlReadMemory(data, (int)len, "aws.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    /* AWS never sends a DTD: one is refused outright (external entities, entity bombs) */
    if (doc && (doc->intSubset || doc->extSubset)) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

xmlNode *awsxml_child(const xmlNode *parent, const char *name)
{
    if (!parent)
        return NULL;
    for (xmlNode *n = parent->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
            return n;
    return NULL;
}

xmlNode *awsxml_path(const xmlNode *parent, const char *path)
{
    const xmlNode *cur = parent;
    char seg[128];
    const char *p = path;
    while (cur && *p) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (l >= sizeof seg)
            return NULL;
        memcpy(seg, p, l);
        seg[l] = '\0';
        cur = awsxml_child(cur, seg);
        p += l + (slash ? 1 : 0);
    }
    return (xmlNode *)(uintptr_t)cur;
}

char *awsxml_text(const xmlNode *parent, const char *path)
{
    xmlNode *n = awsxml_path(parent, path);
    if (!n)
        return NULL;
    /* only the element's own text and CDATA: never the content of entity references */
    StrBuf b = STRBUF_INIT;
    for (xmlNode *c = n->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            strbuf_puts(&b, (const char *)c->content);
    return strbuf_detach(&b);
}

xmlNode *awsxml_next(const xmlNode *node)
{
    for (xmlNode *n = node->next; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE &&
            strcmp((const char *)n->name, (const char *)node->name) == 0)
            return n;
    return NULL;
}
