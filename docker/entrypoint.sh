#!/bin/sh
# Entrypoint of the Shardis image, shaped like the official redis image's:
#   (no arguments)            the image's config, listening on every
#                             interface, protected mode off
#   --port 6380 ...           the same, with these directives on top
#   /path/redis.conf [...]    that config (protected mode off unless it
#                             says otherwise), directives on top
#   anything else             run as given (redis-cli, sh, ...)
# Started as root it makes /data uid 999's (shardis) and drops to it, as the
# official image does with gosu; started as any other user it runs as is.
set -e

conf=/etc/shardis/shardis.conf
case "$1" in
    '' | -*)
        # Only flags: keep the config; `bind` and `protected-mode` come
        # before the user's flags so that theirs win.
        set -- shardis-server "$conf" --bind '* -::*' --protected-mode no --dir /data "$@" ;;
    *.conf)
        # The user's config decides protected mode if it names it.
        mode=no
        while read -r key value _; do
            [ "$key" = protected-mode ] && mode=$value
        done < "$1" || true
        conf=$1
        shift
        set -- shardis-server "$conf" --protected-mode "$mode" "$@" ;;
esac
if [ "$1" = shardis-server ] && [ "$(id -u)" = 0 ]; then
    # Numeric ids: the image has no user database (docker/image.sh).
    chown -R 999:999 /data 2>/dev/null || true
    exec setpriv --reuid=999 --regid=999 --clear-groups --inh-caps=-all "$@"
fi
exec "$@"
