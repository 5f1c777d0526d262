#!/usr/bin/env bash
# Build and run the gossip simulator benchmark (bench/gossip-sim.c): the
# targets table of spec/gossip.md 6.3 at N=50, 100 and 500 over 20 seeds
# (about an hour on one core; -s 3 -n 50,100 takes two minutes).
#   bench/gossip-sim.sh [-s SEEDS] [-n 50,100,500] [-q]
set -eu
cd "$(dirname "$0")/.."
make --no-print-directory build/libgossip.a >/dev/null
mkdir -p build/bench
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Igossip -Itests/sim \
    -o build/bench/gossip-sim bench/gossip-sim.c tests/sim/sim.c \
    build/libgossip.a -lsodium -luv -lm -lpthread
exec build/bench/gossip-sim "$@"
