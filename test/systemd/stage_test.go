package systemdtest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Paths inside the sandbox.
const (
	unitDir          = "/etc/systemd/system"
	unitName         = "ggl.gg_fleetprovisioning.service"
	stampPath        = "/var/lib/ggl-fleetd/stamp.json"
	credDir          = "/var/lib/greengrass/credentials"
	certPath         = credDir + "/certificate.pem"
	keyPath          = credDir + "/priv_key"
	dropInName       = "50-ggl-fleetd-provisioned.conf"
	greengrassTarget = "greengrass-lite.target"
)

// standIns are some of the Greengrass Lite services, replaced by shell
// services with the real units' restart settings.
var standIns = []string{
	"ggl.core.ggconfigd.service",
	"ggl.core.iotcored.service",
	"ggl.core.tesd.service",
}

// stage is a directory whose contents are copied over the sandbox's root.
type stage struct {
	t    *testing.T
	dir  string
	repo string
	uid  int // of ggcore
	gid  int
}

func newStage(t *testing.T) *stage {
	t.Helper()
	st := &stage{t: t, dir: t.TempDir(), repo: repoRoot(t)}
	st.addGreengrassUser()
	return st
}

// write creates path (inside the sandbox) in the stage with data and mode.
func (st *stage) write(path string, data []byte, mode os.FileMode) {
	st.t.Helper()
	full := filepath.Join(st.dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		st.t.Fatal(err)
	}
	if err := os.WriteFile(full, data, mode); err != nil {
		st.t.Fatal(err)
	}
	if err := os.Chmod(full, mode); err != nil {
		st.t.Fatal(err)
	}
}

// copyRepoFile stages a file of the repository at path.
func (st *stage) copyRepoFile(repoPath, path string, mode os.FileMode) {
	st.t.Helper()
	data, err := os.ReadFile(filepath.Join(st.repo, repoPath))
	if err != nil {
		st.t.Fatal(err)
	}
	st.write(path, data, mode)
}

// link stages a symbolic link, as `systemctl enable` would make it.
func (st *stage) link(target, path string) {
	st.t.Helper()
	full := filepath.Join(st.dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		st.t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		st.t.Fatal(err)
	}
}

// addGreengrassUser stages /etc/passwd and /etc/group with a ggcore user and
// group added, and /var/lib/greengrass owned by ggcore as the Greengrass Lite
// package installs it.
func (st *stage) addGreengrassUser() {
	st.t.Helper()
	st.uid = freeID(st.t, "/etc/passwd")
	st.gid = freeID(st.t, "/etc/group")
	passwd := fmt.Sprintf("ggcore:x:%d:%d:Greengrass Lite:/var/lib/greengrass:/usr/sbin/nologin\n",
		st.uid, st.gid)
	group := fmt.Sprintf("ggcore:x:%d:\n", st.gid)
	st.appendHostFile("/etc/passwd", passwd)
	st.appendHostFile("/etc/group", group)

	dir := filepath.Join(st.dir, "var/lib/greengrass")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		st.t.Fatal(err)
	}
	if err := os.Chown(dir, st.uid, st.gid); err != nil {
		st.t.Fatal(err)
	}
}

func (st *stage) appendHostFile(path, line string) {
	st.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		st.t.Fatal(err)
	}
	st.write(path, append(data, line...), 0o644)
}

// freeID returns a system ID below 1000 that no line of an /etc/passwd or
// /etc/group style file uses.
func freeID(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	used := map[int]bool{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Split(scanner.Text(), ":")
		if len(fields) > 2 {
			id, err := strconv.Atoi(fields[2])
			if err == nil {
				used[id] = true
			}
		}
	}
	for id := 990; id > 100; id-- {
		if !used[id] {
			return id
		}
	}
	t.Fatalf("no free system ID in %s", path)
	return 0
}

// addGreengrassUnits stages greengrass-lite.target and the stand-in services,
// enabled, each with the ggl-fleetd drop-in, and the tmpfiles.d entry that
// creates the credentials directory at boot.
func (st *stage) addGreengrassUnits() {
	st.t.Helper()
	target := "[Unit]\nDescription=Stand-in for the Greengrass Lite target\n\n" +
		"[Install]\nWantedBy=multi-user.target\n"
	st.write(unitDir+"/"+greengrassTarget, []byte(target), 0o644)
	st.link("../"+greengrassTarget, unitDir+"/multi-user.target.wants/"+greengrassTarget)

	for _, unit := range standIns {
		st.write(unitDir+"/"+unit, []byte(standInUnit(unit)), 0o644)
		st.link("../"+unit, unitDir+"/"+greengrassTarget+".wants/"+unit)
		st.copyRepoFile("systemd/ggl-fleetd-provisioned.conf",
			unitDir+"/"+unit+".d/"+dropInName, 0o644)
	}
	st.copyRepoFile("systemd/ggl-fleetd.tmpfiles", "/etc/tmpfiles.d/ggl-fleetd.conf", 0o644)
}

// standInUnit returns a service with the restart settings of the Greengrass
// Lite services that runs as ggcore, fails without a readable certificate
// and key, and runs until stopped with them.
func standInUnit(unit string) string {
	return fmt.Sprintf(`[Unit]
Description=Stand-in for %[1]s
PartOf=greengrass-lite.target
StartLimitBurst=10
StartLimitIntervalSec=20

[Service]
User=ggcore
Group=ggcore
ExecStart=/bin/sh -c 'if [ -s %[2]s ] && [ -r %[3]s ]; then exec sleep infinity; fi; echo "no certificate at %[2]s" >&2; exit 1'
Restart=always
RestartSec=1

[Install]
WantedBy=greengrass-lite.target
`, unit, certPath, keyPath)
}
