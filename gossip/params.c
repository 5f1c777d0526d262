/*
 * params.c — the LAN / WAN / local parameter profiles (memberlist's values,
 * spec/gossip.md section 3) plus our additions, and their validation.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

GOSSIP_API void gossip_params_profile(enum gossip_profile p,
                                      struct gossip_params *o)
{
    memset(o, 0, sizeof(*o));
    /* LAN */
    o->probe_interval_ms = 1000;
    o->probe_timeout_ms = 500;
    o->indirect_checks = 3;
    o->retransmit_mult = 4;
    o->suspicion_mult = 4;
    o->suspicion_max_timeout_mult = 6;
    o->push_pull_interval_ms = 30000;
    o->gossip_interval_ms = 200;
    o->gossip_nodes = 3;
    o->gossip_to_dead_ms = 30000;
    o->awareness_max = 8;
    o->tcp_timeout_ms = 10000;
    o->disable_tcp_pings = false;
    o->udp_buffer_size = 1400;
    o->dead_node_reclaim_ms = 0;
    o->reconnect_interval_ms = 30000;      /* Serf ReconnectInterval */
    o->dead_retention_ms = 72u * 3600000u; /* Serf ReconnectTimeout */
    o->left_retention_ms = 24u * 3600000u; /* Serf TombstoneTimeout */
    o->replay_window_ms = 60000;
    o->user_share_pct = 25;
    o->slice_records = 1;
    o->bcast_nines = 4;
    o->max_inbound_streams = 128;
    o->eager_gap_ms = 20;
    o->watch_ring = true;

    switch (p) {
    case GOSSIP_PROFILE_WAN:
        o->tcp_timeout_ms = 30000;
        o->suspicion_mult = 6;
        o->push_pull_interval_ms = 60000;
        o->probe_interval_ms = 5000;
        o->probe_timeout_ms = 3000;
        o->gossip_interval_ms = 500;
        o->gossip_nodes = 4;
        o->gossip_to_dead_ms = 60000;
        o->eager_gap_ms = 50;
        break;
    case GOSSIP_PROFILE_LOCAL:
        o->tcp_timeout_ms = 1000;
        o->indirect_checks = 1;
        o->retransmit_mult = 2;
        o->suspicion_mult = 3;
        o->push_pull_interval_ms = 15000;
        o->probe_interval_ms = 1000;
        o->probe_timeout_ms = 200;
        o->gossip_interval_ms = 100;
        o->gossip_nodes = 3;
        o->gossip_to_dead_ms = 15000;
        o->eager_gap_ms = 10;
        break;
    case GOSSIP_PROFILE_LAN:
    default:
        break;
    }
}

GOSSIP_API int gossip_profile_parse(const char *s, enum gossip_profile *out)
{
    if (!s)
        return -EINVAL;
    if (!strcasecmp(s, "lan"))
        *out = GOSSIP_PROFILE_LAN;
    else if (!strcasecmp(s, "wan"))
        *out = GOSSIP_PROFILE_WAN;
    else if (!strcasecmp(s, "local"))
        *out = GOSSIP_PROFILE_LOCAL;
    else
        return -EINVAL;
    return 0;
}

GOSSIP_API int gossip_params_validate(const struct gossip_params *p)
{
    if (!p->probe_interval_ms || !p->probe_timeout_ms ||
        p->probe_timeout_ms >= p->probe_interval_ms)
        return -EINVAL;
    if (p->indirect_checks > 16 || !p->retransmit_mult ||
        p->retransmit_mult > 64)
        return -EINVAL;
    if (p->suspicion_mult < 1 || p->suspicion_mult > 32 ||
        p->suspicion_max_timeout_mult < 1 ||
        p->suspicion_max_timeout_mult > 100)
        return -EINVAL;
    if (!p->push_pull_interval_ms || !p->gossip_interval_ms ||
        !p->gossip_nodes || p->gossip_nodes > 64)
        return -EINVAL;
    if (p->awareness_max < 1 || p->awareness_max > 64)
        return -EINVAL;
    if (!p->tcp_timeout_ms)
        return -EINVAL;
    if (p->udp_buffer_size < GOSSIP_UDP_MIN ||
        p->udp_buffer_size > GOSSIP_UDP_MAX)
        return -EINVAL;
    if (!p->reconnect_interval_ms || !p->replay_window_ms)
        return -EINVAL;
    if (p->user_share_pct > 90 || p->slice_records > 16 || p->bcast_nines > 12)
        return -EINVAL;
    if (!p->max_inbound_streams)
        return -EINVAL;
    return 0;
}
