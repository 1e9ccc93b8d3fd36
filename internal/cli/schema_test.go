package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// validateScript checks YAML files against a JSON Schema with Python's
// jsonschema, an implementation independent of plinth: it prints one line
// per file, "ok PATH" or "bad PATH: reason".
const validateScript = `
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    errs = sorted(v.iter_errors(yaml.safe_load(open(path))), key=lambda e: list(e.path))
    print(("bad %s: %s" % (path, errs[0].message)) if errs else ("ok " + path))
`

func pythonWithJSONSchema(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if p, err := exec.LookPath(py); err == nil {
			if exec.Command(p, "-c", "import jsonschema, yaml; jsonschema.Draft202012Validator").Run() == nil {
				return p
			}
		}
	}
	t.Skip("no python3 with jsonschema and yaml (apt-get install python3-jsonschema python3-yaml)")
	return ""
}

func validateWithSchema(t *testing.T, py, schema string, files []string) map[string]string {
	t.Helper()
	out, err := exec.Command(py, append([]string{"-c", validateScript, schema}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	res := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		verdict, rest, _ := strings.Cut(l, " ")
		path, _, _ := strings.Cut(rest, ":")
		res[path] = verdict
	}
	return res
}

// The committed schemas accept every shipped board, base and recipe file, and
// reject the broken fixtures, as an editor using them would.
func TestSchemasAcceptShippedFilesAndRejectBadOnes(t *testing.T) {
	py := pythonWithJSONSchema(t)
	boardFiles, _ := filepath.Glob("../../boards/*.yaml")
	bases, _ := filepath.Glob("../../boards/base/*.yaml")
	boardFiles = append(boardFiles, bases...)
	bad := "testdata/bad-boards/mybrd.yaml"
	res := validateWithSchema(t, py, "../../schema/board.schema.json", append(boardFiles, bad))
	for _, f := range boardFiles {
		if res[f] != "ok" {
			t.Errorf("board schema rejects %s", f)
		}
	}
	if res[bad] != "bad" {
		t.Errorf("board schema accepts %s", bad)
	}
	if len(boardFiles) < 29 {
		t.Errorf("found only %d board files", len(boardFiles))
	}

	recipeFiles, _ := filepath.Glob("../../recipes/*/recipe.yaml")
	badRecipe := "testdata/bad-recipe/recipe.yaml"
	res = validateWithSchema(t, py, "../../schema/recipe.schema.json", append(recipeFiles, badRecipe))
	for _, f := range recipeFiles {
		if res[f] != "ok" {
			t.Errorf("recipe schema rejects %s", f)
		}
	}
	if res[badRecipe] != "bad" {
		t.Errorf("recipe schema accepts %s", badRecipe)
	}
	deployments, _ := filepath.Glob("../../deployments/*.yaml")
	badDeployment := "testdata/bad-deployment.yaml"
	res = validateWithSchema(t, py, "../../schema/deployment.schema.json", append(deployments, badDeployment))
	for _, f := range deployments {
		if res[f] != "ok" {
			t.Errorf("deployment schema rejects %s", f)
		}
	}
	if res[badDeployment] != "bad" || len(deployments) < 2 {
		t.Errorf("deployment schema accepts %s (or too few deployments: %d)", badDeployment, len(deployments))
	}
	releases, _ := filepath.Glob("../../releases/*.yaml")
	badRelease := "testdata/bad-release.yaml"
	res = validateWithSchema(t, py, "../../schema/release.schema.json", append(releases, badRelease))
	for _, f := range releases {
		if res[f] != "ok" {
			t.Errorf("release schema rejects %s", f)
		}
	}
	if res[badRelease] != "bad" || len(releases) < 1 {
		t.Errorf("release schema accepts %s (or no releases: %d)", badRelease, len(releases))
	}
	if _, err := os.Stat("../../schema/board.schema.json"); err != nil {
		t.Fatal(err)
	}
}
