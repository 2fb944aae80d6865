#!/bin/sh
# `cargo` as the local environment gives it to `cargo lambda watch` (through `$CARGO`).
#
# The watch starts each function instance with `cargo run --bin <function> …`. That cargo takes
# the package cache's and the build directory's locks, so under load (several stacks' instances
# starting at once beside a build) an instance waited its turn for tens of seconds, and the first
# press of a review page ran into API Gateway's 29 seconds. On Lambda an instance's start is the
# bootstrap binary's start: so here, once the deploy has compiled the functions, `run` starts the
# compiled binary; anything else (and a function not compiled yet) goes to cargo itself.
#
# And each instance reaches Lambda's Runtime API through the router, which passes its calls on to
# the watch and sees it take each invocation: Lambda's clock for an invocation starts there,
# after the instance's start (see `xtask/local/src/clock.rs`).
#
# HITL_CARGO: the cargo to run otherwise. HITL_BUILT: the directory of the compiled functions
# (copies the local environment makes, each replaced whole: see `publish_builds`).
# HITL_RUNTIME_PROXY: the router's address for the Runtime API, ending in `/`.
if [ -n "$HITL_RUNTIME_PROXY" ] && [ -n "$AWS_LAMBDA_RUNTIME_API" ]; then
    AWS_LAMBDA_RUNTIME_API="$HITL_RUNTIME_PROXY${AWS_LAMBDA_RUNTIME_API#http://}"
    export AWS_LAMBDA_RUNTIME_API
fi
unset HITL_RUNTIME_PROXY
if [ "$1" = run ] && [ -n "$HITL_BUILT" ]; then
    bin=
    previous=
    for arg in "$@"; do
        if [ "$previous" = --bin ]; then bin=$arg; fi
        previous=$arg
    done
    built="$HITL_BUILT/$bin"
    if [ -n "$bin" ] && [ -f "$built" ] && [ -x "$built" ]; then
        unset HITL_BUILT HITL_CARGO CARGO
        exec "$built"
    fi
fi
cargo=${HITL_CARGO:-cargo}
exec "$cargo" "$@"
