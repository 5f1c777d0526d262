/* rbtree — the red-black tree macros of <bsd/sys/tree.h> (libbsd), made
 * usable here: libbsd's cdefs.h leaves __unused undefined (Debian bugs
 * #522773/#522774), which RB_GENERATE_STATIC needs. Include this instead of
 * <bsd/sys/tree.h>. */
#ifndef CAIRN_RBTREE_H
#define CAIRN_RBTREE_H

#ifndef __unused
#define __unused __attribute__((__unused__))
#define CAIRN_RBTREE_DEFINED_UNUSED
#endif
#include <bsd/sys/tree.h>

#endif
