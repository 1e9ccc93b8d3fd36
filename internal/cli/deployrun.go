package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/pipeline"
	"github.com/pointsav/plinth/recipe"
)

// runningSystem is one system's emulator in a deployment run.
type runningSystem struct {
	name    string
	command string
	args    []string
	image   string
	log     *os.File
	emu     *pipeline.Emulator
	from    int // where texts are looked for on its console: since the last input
}

func (s *runningSystem) start() error {
	emu, err := pipeline.StartEmulator(s.command, s.args, s.image, s.log)
	if err != nil {
		return err
	}
	s.emu, s.from = emu, 0
	return nil
}

// runDeployment builds a deployment, boots every system in its own
// emulator, their network devices joined by plinth's hub along the
// deployment's links only, and runs the deployment's script.
func runDeployment(e *env, ctx context.Context, file string, bf *boardFlags, ef *engineFlags, jobs int, out string, timeout time.Duration) int {
	rep := builder.NewReporter(e.stderr, false)
	dep, plan, built, code := buildDeploymentSystems(e, ctx, file, bf, ef, jobs, out, rep)
	if code != ExitOK {
		return code
	}
	if dep.Expect == nil || len(dep.Expect.Steps) == 0 {
		return e.fail(fmt.Errorf("%s says nothing to expect of a run (expect: steps)", file))
	}
	var names []string
	links := map[string][]string{}
	for _, l := range dep.Links {
		links[l.From] = append(links[l.From], l.To)
	}
	for _, p := range plan {
		names = append(names, p.sys.Name)
	}
	hub, err := pipeline.NewHub(names, links)
	if err != nil {
		return e.fail(err)
	}
	defer hub.Close()

	systems := map[string]*runningSystem{}
	defer func() {
		for _, s := range systems {
			if s.emu != nil {
				s.emu.Stop()
			}
			s.log.Close()
		}
	}()
	for i, p := range plan {
		if p.board.Emulator == nil {
			return e.fail(fmt.Errorf("system %s: board %s has no emulator", p.sys.Name, p.board.Name))
		}
		dir := built[i].Dir
		args, err := emulatorArgs(p.recipe, p.board, dir)
		if err != nil {
			return e.fail(fmt.Errorf("system %s: %w", p.sys.Name, err))
		}
		args = onHub(args, hub.Addr(p.sys.Name))
		image, _ := filepath.Abs(filepath.Join(dir, "image", p.recipe.Outputs.ImageName()))
		logPath := filepath.Join(dir, "logs", "run.log")
		os.MkdirAll(filepath.Dir(logPath), 0o755)
		log, err := os.Create(logPath)
		if err != nil {
			return e.fail(err)
		}
		s := &runningSystem{name: p.sys.Name, command: p.board.Emulator.Command, args: args, image: image, log: log}
		systems[s.name] = s
		fmt.Fprintf(e.stderr, "boot %s: %s %s\n", s.name, s.command, strings.Join(args, " "))
		if err := s.start(); err != nil {
			return e.fail(fmt.Errorf("system %s: %w", s.name, err))
		}
	}

	limit := time.Duration(dep.Expect.Timeout)
	if timeout > 0 {
		limit = timeout
	}
	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	for i, st := range dep.Expect.Steps {
		s := systems[st.System]
		var err error
		switch {
		case st.Reboot:
			s.emu.Stop()
			fmt.Fprintf(e.stdout, "%6.1fs %s: restarted (its disk kept)\n", time.Since(start).Seconds(), s.name)
			err = s.start()
		case st.Send != "":
			// What follows is looked for in what it prints from now on, in
			// any order: several systems answer at once.
			s.from = len(s.emu.Console())
			err = s.emu.Send(st.Send)
			fmt.Fprintf(e.stdout, "%6.1fs %s: typed %q\n", time.Since(start).Seconds(), s.name, st.Send)
		default:
			_, err = s.emu.WaitFor(runCtx, recipe.Pattern{Literal: st.Text}, s.from)
			if err == nil {
				fmt.Fprintf(e.stdout, "%6.1fs %s: %s\n", time.Since(start).Seconds(), s.name, st.Text)
			}
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %s: step %d of %d (%s, %s): %v\n", e.path, file, i+1, len(dep.Expect.Steps), st.System, st.Meta.Pos, err)
			fmt.Fprintf(e.stderr, "the network had carried %s\n", hub)
			for _, p := range plan {
				s := systems[p.sys.Name]
				fmt.Fprintf(e.stderr, "%s's console ended with:\n%s\n(full console in %s)\n", s.name, indentLines(builder.Tail(s.emu.Console(), 12)), s.log.Name())
			}
			return ExitFail
		}
	}
	fmt.Fprintf(e.stdout, "deployment %s: all %d steps passed in %s; the network carried %s\n", dep.Name, len(dep.Expect.Steps), time.Since(start).Round(time.Millisecond), hub)
	return ExitOK
}

// onHub points the emulator's network device at the hub: QEMU's user-mode
// network becomes a socket to the system's port.
func onHub(args []string, addr string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 1; i < len(out); i++ {
		if out[i-1] == "-netdev" && strings.HasPrefix(out[i], "user,") {
			id := "net0"
			for _, kv := range strings.Split(out[i], ",") {
				if v, ok := strings.CutPrefix(kv, "id="); ok {
					id = v
				}
			}
			out[i] = "socket,id=" + id + ",connect=" + addr
		}
	}
	return out
}
