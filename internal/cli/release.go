package cli

import (
	"context"
	"crypto"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pointsav/plinth/channel"
	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/publish"
	"github.com/pointsav/plinth/sign"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func releaseCommand() *command {
	return &command{
		name:    "release",
		summary: "keep a release channel's TUF metadata in an OCI registry; assemble a release built in shards",
		help: `A channel (stable, canary, …) says which published bundles devices should
install, in TUF metadata kept in the registry beside the releases:
root (the keys of each role, and how many must sign), targets (each
bundle's length, sha256 and board, Microkit version, version, floor and
hardware ids), snapshot and timestamp. Devices check it with plinth update
fetch --channel: signatures, thresholds, rollback, expiry (freeze) and
mix-and-match.

Keys: --role ROLE=FILE names a key of a role (init, rotate); a private key
file (plinth keygen, or a TPM-held key) also signs, a public one (.pub)
only names a key held elsewhere. --sign FILE signs with a key besides.
When the keys at hand do not reach a role's threshold, --stage DIR writes
the set there: plinth release sign DIR --sign KEY on the machine that holds
the other keys, then plinth release push DIR.

plinth release assemble RELEASE.yaml -o DIR gathers a release built by
several runners (plinth build --shard) from their shared cache.`,
		sub: []*command{releaseInitCommand(), releaseAddCommand(), releaseTimestampCommand(), releaseRotateCommand(), releaseSignCommand(), releasePushCommand(), releaseShowCommand(), releaseAssembleCommand()},
	}
}

// releaseFlags are the flags every release verb that changes a channel
// takes.
type releaseFlags struct {
	to, channel, stage, issued *string
	plain                      *bool
	roles, signs, thresholds   multiFlag
	expires                    multiFlag
}

func addReleaseFlags(fs *flag.FlagSet, withRoles bool) *releaseFlags {
	f := &releaseFlags{
		to:      fs.String("to", "", "the repository: `REGISTRY/REPO` (required)"),
		channel: fs.String("channel", "", "the channel's `NAME` (required)"),
		stage:   fs.String("stage", "", "write the new metadata to `DIR` to be signed elsewhere, not to the registry"),
		issued:  fs.String("issued", "", "when the new metadata is made (`RFC3339`; default now): expiry counts from it"),
		plain:   fs.Bool("plain-http", false, "talk HTTP, not HTTPS (a registry on this machine)"),
	}
	fs.Var(&f.signs, "sign", "sign with this private or TPM-held key (`FILE`, repeatable)")
	fs.Var(&f.expires, "expires", "how long a role's new version is valid (`ROLE=DURATION`, e.g. timestamp=12h, targets=30d; repeatable)")
	if withRoles {
		fs.Var(&f.roles, "role", "a key of a role (`ROLE=FILE`, repeatable): root, targets, snapshot or timestamp")
		fs.Var(&f.thresholds, "threshold", "how many of a role's keys must sign (`ROLE=N`, repeatable; default 1)")
	}
	return f
}

// releaseJob is a release verb's parsed flags: the keys, by role, and the
// signers; the expiry; the channel in the registry.
type releaseJob struct {
	keys    channel.RoleKeys
	signers []crypto.Signer
	expiry  map[string]time.Duration
	now     time.Time
	repo    *publish.Repo
	remote  channel.Remote
}

func (f *releaseFlags) parse(e *env, needRepo bool) (*releaseJob, error) {
	j := &releaseJob{keys: channel.RoleKeys{Keys: map[string][]crypto.PublicKey{}, Thresholds: map[string]int{}}, expiry: map[string]time.Duration{}, now: time.Now()}
	if *f.issued != "" {
		t, err := time.Parse(time.RFC3339, *f.issued)
		if err != nil {
			return nil, fmt.Errorf("--issued %q: want an RFC 3339 time", *f.issued)
		}
		j.now = t
	}
	signing := map[string]bool{}
	addSigner := func(s crypto.Signer) {
		id, _ := channel.KeyID(s.Public())
		if !signing[id] {
			signing[id] = true
			j.signers = append(j.signers, s)
		}
	}
	for _, rv := range f.roles {
		role, file, err := roleValue(rv)
		if err != nil {
			return nil, fmt.Errorf("--role %s", err)
		}
		pub, signer, err := keyFile(e, file)
		if err != nil {
			return nil, fmt.Errorf("--role %s: %w", rv, err)
		}
		j.keys.Keys[role] = append(j.keys.Keys[role], pub)
		if signer != nil {
			addSigner(signer)
		}
	}
	for _, tv := range f.thresholds {
		role, n, err := roleValue(tv)
		if err != nil {
			return nil, fmt.Errorf("--threshold %s", err)
		}
		k, err := strconv.Atoi(n)
		if err != nil || k < 1 {
			return nil, fmt.Errorf("--threshold %s: want ROLE=N, N at least 1", tv)
		}
		j.keys.Thresholds[role] = k
	}
	for _, ev := range f.expires {
		role, d, err := roleValue(ev)
		if err != nil {
			return nil, fmt.Errorf("--expires %s", err)
		}
		dur, err := parseDays(d)
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("--expires %s: want ROLE=DURATION (12h, 30d), above zero", ev)
		}
		j.expiry[role] = dur
	}
	for _, file := range f.signs {
		signer, err := loadSigner(e, file)
		if err != nil {
			return nil, fmt.Errorf("--sign %s: %w", file, err)
		}
		addSigner(signer)
	}
	if needRepo {
		if *f.to == "" || *f.channel == "" {
			return nil, fmt.Errorf("give the repository with --to and the channel with --channel")
		}
		repo, err := publish.Open(registryTarget(e, *f.to, *f.plain))
		if err != nil {
			return nil, err
		}
		j.repo = repo
		if j.remote, err = channel.InRegistry(repo, *f.channel); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// registryTarget is a registry reference with the credentials and CA the
// environment gives.
func registryTarget(e *env, ref string, plain bool) publish.Target {
	return publish.Target{Reference: ref, PlainHTTP: plain, Username: e.getenv("PLINTH_REGISTRY_USERNAME"), Password: e.getenv("PLINTH_REGISTRY_PASSWORD"), CAFile: e.getenv("PLINTH_REGISTRY_CA")}
}

// roleValue splits ROLE=VALUE and checks the role.
func roleValue(v string) (string, string, error) {
	role, value, ok := strings.Cut(v, "=")
	if !ok || value == "" {
		return "", "", fmt.Errorf("%s: want ROLE=VALUE", v)
	}
	if !slices.Contains(channel.Roles, role) {
		return "", "", fmt.Errorf("%s: the roles are %s", v, strings.Join(channel.Roles, ", "))
	}
	return role, value, nil
}

// parseDays is time.ParseDuration that also takes whole days (30d).
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// keyFile reads a key file: a public key names a key, a private or
// TPM-held one names it and signs.
func keyFile(e *env, path string) (crypto.PublicKey, crypto.Signer, error) {
	if pub, err := sign.LoadPublicKey(path); err == nil {
		return pub, nil, nil
	}
	s, err := loadSigner(e, path)
	if err != nil {
		return nil, nil, err
	}
	return s.Public(), s, nil
}

// finish signs the set with the job's keys, then pushes it, or stages it.
func (j *releaseJob) finish(e *env, s *channel.Set, stage string, what string) int {
	for _, signer := range j.signers {
		if _, err := s.Sign(signer); err != nil {
			return e.fail(err)
		}
	}
	if stage != "" {
		if err := s.Stage(stage); err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "%s: staged in %s\n", what, stage)
		for _, m := range s.Missing() {
			fmt.Fprintf(e.stdout, "  still to sign: %s\n", m)
		}
		return ExitOK
	}
	pushed, err := s.Push(context.Background(), j.remote)
	if err != nil {
		return e.fail(fmt.Errorf("%w\n(with --stage DIR the set is written there to be signed elsewhere)", err))
	}
	fmt.Fprintf(e.stdout, "%s: pushed %s to %s\n", what, strings.Join(pushed, ", "), j.repo.Name())
	return ExitOK
}

// changeChannel is a release verb that loads the channel's metadata from
// the registry, changes it, signs it with the keys given and pushes (or
// stages) it; change says what it did.
func changeChannel(f *releaseFlags, verb string, change func(*releaseJob, *channel.Set) (string, error)) run {
	return func(e *env, args []string) int {
		if len(args) != 0 {
			return usageError(e, "release "+verb+" takes no arguments")
		}
		j, err := f.parse(e, true)
		if err != nil {
			return usageError(e, err.Error())
		}
		s, err := channel.Load(context.Background(), j.remote, j.now, j.expiry)
		if err != nil {
			return e.fail(err)
		}
		what, err := change(j, s)
		if err != nil {
			return e.fail(err)
		}
		return j.finish(e, s, *f.stage, what)
	}
}

func releaseInitCommand() *command {
	return &command{
		name:    "init",
		summary: "make a channel: its first root, targets, snapshot and timestamp",
		help: `Make version 1 of a channel's metadata with the keys --role names for each of
the four roles (and --threshold), and push it; a channel that exists is
left alone. --root-out writes the root devices are provisioned with
(plinth update trust).`,
		setup: func(fs *flag.FlagSet) run {
			f := addReleaseFlags(fs, true)
			rootOut := fs.String("root-out", "", "write the new root, which devices trust first, to `FILE`")
			return func(e *env, args []string) int {
				if len(args) != 0 {
					return usageError(e, "release init takes no arguments")
				}
				j, err := f.parse(e, true)
				if err != nil {
					return usageError(e, err.Error())
				}
				ctx := context.Background()
				if _, err := j.remote.Get(ctx, channel.FileName(metadata.ROOT, 1), 1<<20); err == nil {
					return e.fail(fmt.Errorf("channel %s in %s exists already: change its keys with plinth release rotate", *f.channel, j.repo.Name()))
				}
				s, err := channel.New(j.keys, j.now, j.expiry)
				if err != nil {
					return e.fail(err)
				}
				code := j.finish(e, s, *f.stage, "channel "+*f.channel)
				if code == ExitOK && *rootOut != "" {
					data, err := s.Root.ToBytes(true)
					if err == nil {
						err = atomicfile.Write(*rootOut, data, 0o644)
					}
					if err != nil {
						return e.fail(err)
					}
				}
				return code
			}
		},
	}
}

func releaseAddCommand() *command {
	return &command{
		name:    "add",
		summary: "put the bundles of a published release in a channel's targets",
		help: `Add the update bundles of the release published under --to REGISTRY/REPO:TAG
(a build with its bundles, or a bundle) to the channel's targets: each
bundle's length and sha256, and its boards, hardware ids (--hardware-id,
default the boards), Microkit version, version, floor, kind, a delta's base
and the release's digest. New targets, snapshot and timestamp versions are
signed with --sign keys and pushed.`,
		setup: func(fs *flag.FlagSet) run {
			f := addReleaseFlags(fs, false)
			var hw multiFlag
			fs.Var(&hw, "hardware-id", "a hardware id the bundles are for (`ID`, repeatable; default: their boards)")
			return changeChannel(f, "add", func(j *releaseJob, s *channel.Set) (string, error) {
				if j.repo.Tag == "" {
					return "", fmt.Errorf("give the release's tag: --to REGISTRY/REPO:TAG")
				}
				release, offers, err := j.repo.Offers(context.Background(), j.repo.Tag)
				if err != nil {
					return "", err
				}
				if len(offers) == 0 {
					return "", fmt.Errorf("%s:%s has no update bundles", j.repo.Name(), j.repo.Tag)
				}
				files := map[string]*metadata.TargetFiles{}
				var names []string
				for _, o := range offers {
					path, tf, err := channel.Target(o, release, j.repo.Tag, hw)
					if err != nil {
						return "", err
					}
					files[path] = tf
					names = append(names, path)
				}
				slices.Sort(names)
				s.AddTargets(files)
				return fmt.Sprintf("channel %s: targets version %d adds %s", *f.channel, s.Targets.Signed.Version, strings.Join(names, ", ")), nil
			})
		},
	}
}

func releaseTimestampCommand() *command {
	return &command{
		name:    "timestamp",
		summary: "sign the channel's timestamp again (a job runs this before it expires)",
		setup: func(fs *flag.FlagSet) run {
			f := addReleaseFlags(fs, false)
			return changeChannel(f, "timestamp", func(j *releaseJob, s *channel.Set) (string, error) {
				s.Bump(metadata.TIMESTAMP)
				return fmt.Sprintf("channel %s: timestamp version %d, expires %s", *f.channel, s.Timestamp.Signed.Version, s.Timestamp.Signed.Expires.Format(time.RFC3339)), nil
			})
		},
	}
}

func releaseRotateCommand() *command {
	return &command{
		name:    "rotate",
		summary: "change a channel's keys or thresholds: a new root, signed by the old root's keys and the new",
		help: `Make the next root with the keys --role gives (a role not named keeps its
keys; one named gets exactly those given, so a key left out is revoked) and
--threshold. The new root must be signed by enough of the old root's root
keys (--sign) and of its own. A role whose keys changed is signed again by
its new keys (give them as private keys with --role, or stage).`,
		setup: func(fs *flag.FlagSet) run {
			f := addReleaseFlags(fs, true)
			return changeChannel(f, "rotate", func(j *releaseJob, s *channel.Set) (string, error) {
				return fmt.Sprintf("channel %s: root version %d", *f.channel, s.Root.Signed.Version+1), s.Rotate(j.keys)
			})
		},
	}
}

func releaseSignCommand() *command {
	return &command{
		name:    "sign",
		args:    "DIR",
		summary: "add signatures to a staged channel set (where offline keys are)",
		setup: func(fs *flag.FlagSet) run {
			var signs multiFlag
			fs.Var(&signs, "sign", "sign with this private or TPM-held key (`FILE`, repeatable)")
			return func(e *env, args []string) int {
				if len(args) != 1 || len(signs) == 0 {
					return usageError(e, "give the staged directory and one or more --sign keys")
				}
				s, err := channel.LoadStage(args[0])
				if err != nil {
					return e.fail(err)
				}
				for _, file := range signs {
					signer, err := loadSigner(e, file)
					if err != nil {
						return e.fail(fmt.Errorf("--sign %s: %w", file, err))
					}
					roles, err := s.Sign(signer)
					if err != nil {
						return e.fail(err)
					}
					if len(roles) == 0 {
						return e.fail(fmt.Errorf("%s is not a key of any role this set changes", file))
					}
					fmt.Fprintf(e.stdout, "%s signed %s\n", file, strings.Join(roles, ", "))
				}
				if err := s.Stage(args[0]); err != nil {
					return e.fail(err)
				}
				for _, m := range s.Missing() {
					fmt.Fprintf(e.stdout, "  still to sign: %s\n", m)
				}
				return ExitOK
			}
		},
	}
}

func releasePushCommand() *command {
	return &command{
		name:    "push",
		args:    "DIR",
		summary: "push a staged channel set once it is signed",
		setup: func(fs *flag.FlagSet) run {
			f := addReleaseFlags(fs, false)
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give the staged directory")
				}
				j, err := f.parse(e, true)
				if err != nil {
					return usageError(e, err.Error())
				}
				s, err := channel.LoadStage(args[0])
				if err != nil {
					return e.fail(err)
				}
				return j.finish(e, s, "", "channel "+*f.channel)
			}
		},
	}
}

func releaseShowCommand() *command {
	return &command{
		name:    "show",
		summary: "show a channel's metadata: versions, expiry, keys and targets",
		setup: func(fs *flag.FlagSet) run {
			from := fs.String("from", "", "the repository: `REGISTRY/REPO` (required)")
			name := fs.String("channel", "", "the channel's `NAME` (required)")
			plain := fs.Bool("plain-http", false, "talk HTTP, not HTTPS (a registry on this machine)")
			return func(e *env, args []string) int {
				if len(args) != 0 || *from == "" || *name == "" {
					return usageError(e, "give --from REGISTRY/REPO and --channel NAME")
				}
				repo, err := publish.Open(registryTarget(e, *from, *plain))
				if err != nil {
					return e.fail(err)
				}
				remote, err := channel.InRegistry(repo, *name)
				if err != nil {
					return e.fail(err)
				}
				s, err := channel.Load(context.Background(), remote, time.Now(), nil)
				if err != nil {
					return e.fail(err)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "root\tversion %d\texpires %s\n", s.Root.Signed.Version, s.Root.Signed.Expires.Format(time.RFC3339))
				fmt.Fprintf(tw, "targets\tversion %d\texpires %s\n", s.Targets.Signed.Version, s.Targets.Signed.Expires.Format(time.RFC3339))
				fmt.Fprintf(tw, "snapshot\tversion %d\texpires %s\n", s.Snapshot.Signed.Version, s.Snapshot.Signed.Expires.Format(time.RFC3339))
				fmt.Fprintf(tw, "timestamp\tversion %d\texpires %s\n", s.Timestamp.Signed.Version, s.Timestamp.Signed.Expires.Format(time.RFC3339))
				for _, role := range channel.Roles {
					r := s.Root.Signed.Roles[role]
					fmt.Fprintf(tw, "%s keys\t%d of %s\t\n", role, r.Threshold, channel.ShortKeyIDs(r.KeyIDs))
				}
				offers := channel.Offers(s.Targets)
				slices.SortFunc(offers, func(a, b channel.Offer) int { return strings.Compare(a.Path, b.Path) })
				for _, o := range offers {
					fmt.Fprintf(tw, "target %s\t%d bytes\tversion %d %s for %s (Microkit %s)\n", o.Path, o.Layer.Size, o.Version, o.Kind, strings.Join(o.Boards, ","), o.Microkit)
				}
				tw.Flush()
				return ExitOK
			}
		},
	}
}
