package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// timerSystem is the recipe's own part of the system: the client. plinth
// adds the timer driver and wires it.
const timerSystem = `<?xml version="1.0" encoding="UTF-8"?>
<system>
    <protection_domain name="client" priority="1">
        <program_image path="client.elf" />
    </protection_domain>
</system>
`

// sddfTimerRecipe is the hello recipe's sources and SDK with sDDF 0.6.0
// (the release for Microkit 2.0.1) and its timer example's client.
func sddfTimerRecipe(t *testing.T) string {
	t.Helper()
	hello, err := os.ReadFile("../../recipes/microkit-hello/recipe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(hello)
	s = s[strings.Index(s, "configs:"):strings.Index(s, "components:")]
	s = strings.Replace(s, "sources:\n", `sources:
  sddf:
    git: https://github.com/au-ts/sddf
    ref: 0.6.0
    commit: 50c4eb17a7dfc65b4111e4770227c3919bdaa1c3
  app: {path: app}
`, 1)
	return `name: sddf-timer
description: sDDF's timer example composed by plinth
boards: [qemu_virt_aarch64]
` + s + `sddf:
  source: sddf
  release: 0.6.0
  timer: {clients: [client]}
components:
  - {name: client, lang: c, source: sddf, dir: examples/timer, srcs: [client.c], sddf_util: debug, cflags: [-O3, -Wall, -Wno-unused-function, -Werror]}
system: {source: app, sdf: timer.system}
expect:
  boot:
    timeout: 30s
    serial: ["PD 'timer_driver' is now passive", "CLIENT|INFO: starting", "CLIENT|INFO: Got a timeout!", "CLIENT|INFO: Got a timeout!"]
`
}

// sDDF's timer example on QEMU, its system composed by plinth from a
// recipe naming the client: the driver built from the pinned sDDF tree,
// the configs written into the ELFs, the timeouts arriving.
func TestSDDFTimerComposedAndBooted(t *testing.T) {
	mirrors := os.Getenv("PLINTH_MIRRORS")
	if mirrors == "" {
		t.Skip("PLINTH_MIRRORS not set: no mirrors of the upstream repositories to build from")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "timer.system"), []byte(timerSystem), 0o644)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(sddfTimerRecipe(t)), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := plinth(t, "run", dir, "--mirror", mirrors, "--offline", "--cache-dir", filepath.Join(t.TempDir(), "cache"), "-o", out)
	if code != 0 || !strings.Contains(stderr, "all 4 expected texts seen") {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	composed, _ := os.ReadFile(filepath.Join(out, "sddf-timer", "qemu_virt_aarch64", "debug", "image", "system.system"))
	if !regexp.MustCompile(`<protection_domain name="timer_driver" priority="254" passive="true"`).Match(composed) {
		t.Errorf("composed system:\n%s", composed)
	}
}

// The sddf section's mistakes, found before anything is fetched.
func TestSDDFRecipeMistakes(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "client.c"), []byte("void init(void) {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(`name: bad-sddf
description: sDDF mistakes
boards: [qemu_virt_aarch64, x86_64_generic]
configs: [debug]
sources:
  app: {path: app}
sdk: {version: 2.3.0, path: /nonexistent}
sddf:
  source: sdff
  release: 0.5.0
  timer: {clients: []}
components:
  - {name: client, lang: c, source: app, srcs: [client.c], sddf_util: verbose}
`), 0o644)
	_, stderr, code := plinth(t, "check", dir)
	for _, want := range []string{
		`sddf.source: no source named "sdff"`,
		"sddf.release: plinth knows the config layouts of sDDF 0.6.0 and 0.7.0, not 0.5.0",
		"sddf.timer.clients: list at least one protection domain",
		"components[0].sddf_util: \"verbose\" is neither debug nor serial",
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("missing %q (exit %d):\n%s", want, code, stderr)
		}
	}
}
