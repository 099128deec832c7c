#!/bin/sh
# Installs the sensor from this unpacked tarball: the binary, the systemd
# unit and the configuration. An existing /etc/sensor/sensor.toml is kept.
#
#   sudo ./install.sh                       # /usr/bin/sensor
#   sudo ./install.sh --prefix /usr/local   # /usr/local/bin/sensor
#   DESTDIR=/tmp/stage ./install.sh         # everything under /tmp/stage
#
# No user is created: the unit runs the sensor as a systemd DynamicUser.
set -eu

usage() {
    cat <<'EOF'
usage: install.sh [--prefix DIR] [--destdir DIR]
  --prefix DIR   where bin/sensor and share/doc/sensor go (default /usr)
  --destdir DIR  install under DIR instead of / (or set DESTDIR), for
                 packaging and tests; systemd is then left alone
The unit goes to /etc/systemd/system, the config to /etc/sensor.
EOF
}

fail() {
    echo "install.sh: $*" >&2
    exit 2
}

prefix=/usr
destdir=${DESTDIR:-}
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) [ $# -ge 2 ] || fail "--prefix needs a directory"; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --destdir) [ $# -ge 2 ] || fail "--destdir needs a directory"; destdir=$2; shift 2 ;;
        --destdir=*) destdir=${1#--destdir=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; fail "unknown argument: $1" ;;
    esac
done
case $prefix in
    /*) ;;
    *) fail "--prefix must be an absolute path, not $prefix" ;;
esac
# The prefix is written into the unit with sed, and ends up on ExecStart=.
case $prefix in
    *[!A-Za-z0-9/._-]*) fail "--prefix may only hold letters, digits and / . _ -, not $prefix" ;;
esac
prefix=${prefix%/}

here=$(cd "$(dirname "$0")" && pwd)
bindir=$prefix/bin
docdir=$prefix/share/doc/sensor
unitdir=/etc/systemd/system
confdir=/etc/sensor

install -d -m 0755 "$destdir$bindir" "$destdir$docdir" "$destdir$unitdir" "$destdir$confdir"
install -m 0755 "$here/sensor" "$destdir$bindir/sensor"
install -m 0644 "$here/README.md" "$here/LICENSE" "$here/sensor.example.toml" "$destdir$docdir/"

# The unit names the binary by its path: point it at this prefix.
sed "s|/usr/bin/sensor|$bindir/sensor|g" "$here/sensor.service" >"$destdir$unitdir/sensor.service.new"
chmod 0644 "$destdir$unitdir/sensor.service.new"
mv "$destdir$unitdir/sensor.service.new" "$destdir$unitdir/sensor.service"

# Readable by all: the unit's DynamicUser reads it. Secrets belong in the
# files and environment variables the config names, not in it.
if [ -e "$destdir$confdir/sensor.toml" ]; then
    echo "kept the existing $confdir/sensor.toml; the new example is $docdir/sensor.example.toml"
else
    install -m 0644 "$here/sensor.example.toml" "$destdir$confdir/sensor.toml"
fi

if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi

echo "installed $bindir/sensor and $unitdir/sensor.service${destdir:+ under $destdir}"
if [ -z "$destdir" ]; then
    echo "review $confdir/sensor.toml, then: systemctl enable --now sensor"
fi
