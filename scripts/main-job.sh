#!/bin/sh
# plinth's main job, what `make run` does: build Microkit's hello for
# qemu_virt_aarch64 from its pinned sources (from the network, or from the
# mirror map PLINTH_MIRRORS names), boot it in QEMU, sign it with a
# throw-away key and verify it. Where the sources cannot be had, say so and
# run the checks that need no sources instead, and fail.
set -u
plinth=${PLINTH:-bin/plinth}
recipe=microkit-hello
board=qemu_virt_aarch64
out=${PLINTH_OUT:-out}
build=$out/$recipe/$board/debug

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

offline_checks() {
	echo
	echo "== the checks that need no sources: boards, recipes, every shipped recipe checked"
	"$plinth" boards | tail -n 1
	for r in $("$plinth" recipes | awk 'NR>1 {print $1}'); do
		"$plinth" check "$r" | head -1 || return 1
	done
}

"$plinth" version
echo
echo "== plinth doctor --board $board"
if ! "$plinth" doctor --board "$board"; then
	echo
	echo "This machine lacks tools the build needs (above: install them, e.g. with the apt-get line)."
	offline_checks
	exit 1
fi

echo
echo "== plinth run $recipe --board $board"
if ! "$plinth" run "$recipe" --board "$board" -o "$out" 2>"$work/run.err"; then
	if grep -q "could not be had" "$work/run.err"; then
		sed -n '/could not be had/,$p' "$work/run.err"
		offline_checks
	else
		cat "$work/run.err"
	fi
	exit 1
fi
tail -n 1 "$work/run.err"

echo
echo "== plinth sign and verify, with a throw-away key"
PLINTH_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export PLINTH_PASSWORD
"$plinth" keygen -o "$work/throwaway" >/dev/null &&
	"$plinth" sign "$build" --key "$work/throwaway.key" >/dev/null &&
	"$plinth" verify "$build" --key "$work/throwaway.pub"
