/* version — what cairn reports about itself. */
#ifndef CAIRN_VERSION_H
#define CAIRN_VERSION_H

#define CAIRN_VERSION "0.1.0"
/* The Consul version we report where clients parse a Consul version
 * (/v1/agent/self Config.Version, member tags): the API we match. */
#define CAIRN_CONSUL_VERSION "1.16.0"
#define CAIRN_REVISION "cairn"
#define CAIRN_PROTOCOL 2

#endif
