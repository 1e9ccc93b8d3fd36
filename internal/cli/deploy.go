package cli

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/deployment"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/recipe"
	"go.yaml.in/yaml/v3"
)

// isDeployment says whether arg is a deployment file: a YAML file (not a
// recipe.yaml) whose top level names systems.
func isDeployment(arg string) bool { return yamlFileWith(arg, "systems") }

// yamlFileWith says whether arg is a YAML file (not a recipe.yaml) whose
// top level has key: how a deployment or release file is told from a
// recipe on a command line.
func yamlFileWith(arg, key string) bool {
	if ext := filepath.Ext(arg); (ext != ".yaml" && ext != ".yml") || filepath.Base(arg) == "recipe.yaml" {
		return false
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return false
	}
	var top map[string]any
	if yaml.Unmarshal(data, &top) != nil {
		return false
	}
	_, ok := top[key]
	return ok
}

// recipeIn is how a file (deployment, release) names a recipe: a
// directory relative to the file, or else a shipped recipe's name.
func recipeIn(file, ref string) string {
	if local := filepath.Join(filepath.Dir(file), ref); strings.Contains(ref, "/") || dirExists(local) {
		return local
	}
	return ref
}

// plannedSystem is a system of a deployment with its recipe loaded.
type plannedSystem struct {
	sys    *deployment.System
	recipe *recipe.Recipe
	board  *boards.Board
	config string
}

// planDeployment reads and checks a deployment and the recipe of each of
// its systems (the recipe for the system's board and configuration); all
// problems are printed.
func planDeployment(e *env, file string, bf *boardFlags) (*deployment.Deployment, []plannedSystem, bool) {
	var d diag.List
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, e.fail(err) == ExitOK
	}
	dep := deployment.Parse(file, data, &d)
	if dep == nil {
		d.Write(e.stderr)
		return nil, nil, false
	}
	deployment.Check(dep, &d)
	set, ok := bf.load(e)
	if !ok {
		return nil, nil, false
	}
	var plan []plannedSystem
	for _, s := range dep.Systems {
		if s == nil || s.Recipe == "" {
			continue
		}
		r, ok := loadCheckedRecipe(e, recipeIn(file, s.Recipe), bf)
		if !ok {
			d.Errorf(s.Meta.At("recipe"), "system %s: recipe %s has problems (above)", s.Name, s.Recipe)
			continue
		}
		b, known := set.Get(s.Board)
		switch {
		case !known:
			d.Errorf(s.Meta.At("board"), "system %s: %s", s.Name, set.UnknownError(s.Board))
			continue
		case !slices.Contains(r.Boards, s.Board):
			d.Errorf(s.Meta.At("board"), "system %s: recipe %s does not list board %s (it lists: %s)", s.Name, r.Name, s.Board, strings.Join(r.Boards, ", "))
			continue
		}
		config := s.Config
		if config == "" {
			config = r.Configs[0]
		} else if !slices.Contains(r.Configs, config) {
			d.Errorf(s.Meta.At("config"), "system %s: recipe %s does not list config %s (it lists: %s)", s.Name, r.Name, config, strings.Join(r.Configs, ", "))
			continue
		}
		instance(r, s)
		plan = append(plan, plannedSystem{sys: s, recipe: r, board: b, config: config})
	}
	d.Write(e.stderr)
	return dep, plan, !d.HasErrors()
}

func dirExists(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}

// buildDeployment builds every system of a deployment, each into
// OUT/deployments/NAME/SYSTEM/, then checks the code its absent rules
// forbid against every PD of the zones they name, and writes
// deployment.json.
func buildDeployment(e *env, ctx context.Context, file string, bf *boardFlags, ef *engineFlags, jobs int, out string, rep *builder.Reporter) int {
	dep, _, _, code := buildDeploymentSystems(e, ctx, file, bf, ef, jobs, out, rep)
	if code == ExitOK {
		fmt.Fprintf(e.stdout, "deployment %s: %d systems built; the Diode's links checked, and its absent-code rules against %d PD ELFs; %s\n",
			dep.Name, len(dep.Systems), dep.scanned, filepath.Join(out, "deployments", dep.Name, "deployment.json"))
	}
	return code
}

// builtDeployment is a deployment whose systems are built and checked.
type builtDeployment struct {
	*deployment.Deployment
	scanned int
}

func buildDeploymentSystems(e *env, ctx context.Context, file string, bf *boardFlags, ef *engineFlags, jobs int, out string, rep *builder.Reporter) (*builtDeployment, []plannedSystem, []deployment.Built, int) {
	dep, plan, ok := planDeployment(e, file, bf)
	if !ok {
		return nil, nil, nil, ExitFail
	}
	cache, fetcher, err := ef.open(e)
	if err != nil {
		return nil, nil, nil, e.fail(err)
	}
	attachFetchEvents(fetcher, rep)
	root := filepath.Join(out, "deployments", dep.Name)
	var built []deployment.Built
	for _, p := range plan {
		sysOut := filepath.Join(root, p.sys.Name)
		if !buildOne(e, ctx, p.recipe, p.board, p.config, cache, fetcher, jobs, sysOut, rep, ef) {
			return nil, nil, nil, ExitFail
		}
		dir := filepath.Join(sysOut, p.recipe.Name, p.board.Name, p.config)
		m, err := attest.ReadManifest(dir)
		if err != nil {
			return nil, nil, nil, e.fail(err)
		}
		built = append(built, deployment.Built{System: p.sys, Recipe: p.recipe.Name, Config: p.config, Dir: dir, Manifest: m})
	}
	rep.Close()
	var d diag.List
	scanned, err := deployment.CheckAbsent(dep, built, &d)
	if err != nil {
		return nil, nil, nil, e.fail(err)
	}
	if d.HasErrors() {
		d.Write(e.stderr)
		return nil, nil, nil, ExitFail
	}
	if _, err := deployment.WriteManifest(root, dep, built, scanned); err != nil {
		return nil, nil, nil, e.fail(err)
	}
	return &builtDeployment{dep, scanned}, plan, built, ExitOK
}

// instance gives a system its instance's configuration data: with an
// address, each network client of its recipe a MAC address made from it
// (02:NN:A:B:C:D, NN the client's index: locally administered, unicast),
// so instances of one recipe are told apart on the network. Only the
// configuration plinth writes into the image changes; the protection
// domains' programs are the same for every instance.
func instance(r *recipe.Recipe, s *deployment.System) {
	a, err := netip.ParseAddr(s.Address)
	if err != nil || !a.Is4() || r.SDDF == nil || r.SDDF.Network == nil {
		return
	}
	ip := a.As4()
	for i := range r.SDDF.Network.Clients {
		r.SDDF.Network.Clients[i].MAC = fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", i, ip[0], ip[1], ip[2], ip[3])
	}
}
