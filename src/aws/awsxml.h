/*
 * awsxml: reading AWS Query-protocol XML responses with libxml2.
 *
 * Parsing never touches the network and never expands entities or loads a
 * DTD (XML_PARSE_NONET, no XML_PARSE_NOENT/DTDLOAD): a hostile endpoint
 * cannot make pgfleet fetch or inflate anything. Elements are matched by
 * local name, whatever their namespace.
 */
#ifndef PGFLEET_AWSXML_H
#define PGFLEET_AWSXML_H

#include <stddef.h>

#include <libxml/tree.h>

/* NULL when the text is not well-formed XML */
xmlDoc *awsxml_parse(const char *data, size_t len);
/* the first child element named name, or NULL */
xmlNode *awsxml_child(const xmlNode *parent, const char *name);
/* follows "A/B/C" from parent, or NULL */
xmlNode *awsxml_path(const xmlNode *parent, const char *path);
/* text of the element at path below parent as a new string, or NULL */
char *awsxml_text(const xmlNode *parent, const char *path);
/* the next sibling element named like node (for lists), or NULL */
xmlNode *awsxml_next(const xmlNode *node);

#endif
