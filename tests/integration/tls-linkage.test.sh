#!/bin/sh
# mcprelayd must not need OpenSSL: its DT_NEEDED entries (readelf -d) name
# no libssl, libcrypto or libevent_openssl, while the TLS module
# modules/tls.so needs libssl (docs/architecture.md).  Exits 0/1.
set -u

B=${top_builddir:-.}
failed=0
ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; failed=1; }

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

for f in "$B/mcprelayd" "$B/modules/tls.so"; do
	[ -f "$f" ] || { echo "not ok - no $f: build first"; exit 1; }
done
daemon=$(needed "$B/mcprelayd")
module=$(needed "$B/modules/tls.so")
echo "$daemon" | sed 's/^/# mcprelayd needs /'
echo "$module" | sed 's/^/# modules\/tls.so needs /'

# readelf worked: both need libc.
case "$daemon" in *libc.so*) ok "mcprelayd's NEEDED read" ;;
	*) not_ok "mcprelayd's NEEDED read" ;; esac
for lib in libssl libcrypto libevent_openssl; do
	if echo "$daemon" | grep -q "^$lib[.-]"; then
		not_ok "mcprelayd does not need $lib"
	else
		ok "mcprelayd does not need $lib"
	fi
done
for lib in libssl libevent_openssl; do
	if echo "$module" | grep -q "^$lib[.-]"; then
		ok "modules/tls.so needs $lib"
	else
		not_ok "modules/tls.so needs $lib"
	fi
done
# One exported symbol, the versioned table tls-load.c looks up.
syms=$(nm -D --defined-only "$B/modules/tls.so" | awk '{ print $3 }' |
    grep -v '^_' | sort | tr '\n' ' ')
if [ "$syms" = "mcprelay_tls_module_v1 " ]; then
	ok "modules/tls.so exports mcprelay_tls_module_v1 only"
else
	not_ok "modules/tls.so exports mcprelay_tls_module_v1 only (has: $syms)"
fi
exit $failed
