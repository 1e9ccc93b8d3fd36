package cli

import (
	"flag"
	"github.com/pointsav/plinth/deployment"
	"github.com/pointsav/plinth/farm"
	"reflect"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/strictyaml"
	"github.com/pointsav/plinth/recipe"
)

// schemas are the JSON Schemas plinth derives from its file formats' Go types.
var schemas = map[string]func() ([]byte, error){
	"board": func() ([]byte, error) {
		return strictyaml.Schema(reflect.TypeFor[boards.Board](), "https://github.com/pointsav/plinth/schema/board.schema.json", "plinth board", map[string]any{
			// A base file, or one that inherits, need not hold every fact itself.
			"anyOf": []any{
				map[string]any{"required": []string{"inherits"}},
				map[string]any{"required": []string{"abstract"}, "properties": map[string]any{"abstract": map[string]any{"const": true}}},
			},
		})
	},
	"recipe": func() ([]byte, error) {
		return strictyaml.Schema(reflect.TypeFor[recipe.Recipe](), "https://github.com/pointsav/plinth/schema/recipe.schema.json", "plinth recipe", nil)
	},
	"deployment": func() ([]byte, error) {
		return strictyaml.Schema(reflect.TypeFor[deployment.Deployment](), "https://github.com/pointsav/plinth/schema/deployment.schema.json", "plinth deployment", nil)
	},
	"release": func() ([]byte, error) {
		return strictyaml.Schema(reflect.TypeFor[farm.Release](), "https://github.com/pointsav/plinth/schema/release.schema.json", "plinth release", nil)
	},
}

func schemaCommand() *command {
	return &command{
		name:     "schema",
		args:     "board|recipe|deployment|release",
		summary:  "print the JSON Schema of board, recipe, deployment or release files",
		complete: func(*env) []string { return []string{"board", "recipe", "deployment", "release"} },
		help: `Print the JSON Schema (draft 2020-12) of board, recipe, deployment or release
files, derived from
the same Go types plinth decodes them into. Editors use it to complete and
check these files; the copies under schema/ are kept current by 'make generate'.`,
		setup: func(fs *flag.FlagSet) run {
			return func(e *env, args []string) int {
				if len(args) != 1 || schemas[args[0]] == nil {
					return usageError(e, "give board, recipe, deployment or release")
				}
				b, err := schemas[args[0]]()
				if err != nil {
					return e.fail(err)
				}
				e.stdout.Write(b)
				return ExitOK
			}
		},
	}
}
