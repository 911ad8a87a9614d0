package restart

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

const dbusDaemon = "/usr/bin/dbus-daemon"

// busConfig is a private bus with EXTERNAL authentication and a policy that
// allows everything. A custom type keeps dbus-daemon from trying to
// auto-start services the way a session bus does.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>ggl-fleetd-test</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`

// startBus starts a private dbus-daemon, stops it by PID when the test ends,
// and returns its address.
func startBus(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(dbusDaemon); err != nil {
		t.Skipf("D-Bus tests need %s: %v", dbusDaemon, err)
	}

	dir := t.TempDir()
	config := filepath.Join(dir, "bus.conf")
	socket := filepath.Join(dir, "bus.sock")
	if err := os.WriteFile(config, fmt.Appendf(nil, busConfig, socket), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(dbusDaemon, "--config-file="+config, "--print-address", "--nofork")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", dbusDaemon, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	return readAddress(t, stdout)
}

// readAddress reads the first line dbus-daemon prints; the timeout only
// catches a hang.
func readAddress(t *testing.T, stdout interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()

	select {
	case addr := <-lines:
		if addr == "" {
			t.Fatalf("%s printed no address", dbusDaemon)
		}
		return addr
	case <-time.After(30 * time.Second):
		t.Fatalf("%s printed no address within 30s", dbusDaemon)
		return ""
	}
}

// fakeUnit is the state of one unit in fakeSystemd.
type fakeUnit struct {
	consistsOf []string
	// result is the job result JobRemoved reports; "" means "done".
	result string
	// hang leaves the restart job running: JobRemoved is never sent.
	hang bool
	// startLimitHit models a unit that reached StartLimitBurst. Real
	// systemd then fails every start job with result "failed" until
	// ResetFailedUnit clears the counter.
	startLimitHit bool
	// resetDenied makes ResetFailedUnit fail with AccessDenied, as it does
	// for a caller that polkit does not authorize.
	resetDenied bool
}

// fakeSystemd is a stand-in for org.freedesktop.systemd1 that implements the
// calls go-systemd makes for Units: Manager.RestartUnit with the JobRemoved
// signal, Manager.ResetFailedUnit, and Properties.Get on unit objects. It
// records every call in order.
type fakeSystemd struct {
	conn *dbus.Conn

	mu        sync.Mutex
	units     map[string]*fakeUnit
	calls     []string
	nextJob   uint32
	restarted chan string
}

func startFakeSystemd(t *testing.T, addr string, units map[string]*fakeUnit) *fakeSystemd {
	t.Helper()
	conn, err := dial(t.Context(), addr)
	if err != nil {
		t.Fatalf("dial %q: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })

	f := &fakeSystemd{conn: conn, units: units, restarted: make(chan string, 16)}
	manager := &fakeManager{f}
	if err := conn.Export(manager, "/org/freedesktop/systemd1",
		"org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	// Real systemd responds on every unit path and loads a unit on demand,
	// so the whole subtree is exported.
	if err := conn.ExportSubtree(&fakeProperties{f}, "/org/freedesktop/systemd1/unit",
		"org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}

	reply, err := conn.RequestName("org.freedesktop.systemd1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName = %v, %v; want primary owner", reply, err)
	}
	return f
}

func (f *fakeSystemd) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the calls received so far.
func (f *fakeSystemd) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func noSuchUnit(format, name string) *dbus.Error {
	return &dbus.Error{
		Name: "org.freedesktop.systemd1.NoSuchUnit",
		Body: []any{fmt.Sprintf(format, name)},
	}
}

type fakeManager struct{ f *fakeSystemd }

// RestartUnit queues a job and reports its result with JobRemoved from
// another goroutine, so the signal may reach the client before the reply.
func (m *fakeManager) RestartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	f := m.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RestartUnit %s %s", name, mode)

	u, ok := f.units[name]
	if !ok {
		return "", noSuchUnit("Unit %s not found.", name)
	}

	f.nextJob++
	id := f.nextJob
	job := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id))
	result := jobResult(u)
	f.restarted <- name

	if !u.hang {
		go func() {
			_ = f.conn.Emit("/org/freedesktop/systemd1",
				"org.freedesktop.systemd1.Manager.JobRemoved", id, job, name, result)
		}()
	}
	return job, nil
}

func jobResult(u *fakeUnit) string {
	switch {
	case u.startLimitHit:
		return "failed"
	case u.result == "":
		return "done"
	default:
		return u.result
	}
}

func (m *fakeManager) ResetFailedUnit(name string) *dbus.Error {
	f := m.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ResetFailedUnit %s", name)

	u, ok := f.units[name]
	if !ok {
		return noSuchUnit("Unit %s not loaded.", name)
	}
	if u.resetDenied {
		return &dbus.Error{
			Name: "org.freedesktop.DBus.Error.AccessDenied",
			Body: []any{"Access denied"},
		}
	}
	u.startLimitHit = false
	return nil
}

type fakeProperties struct{ f *fakeSystemd }

// Get returns the ConsistsOf property of a unit object. A unit that does not
// exist has an empty list: real systemd loads it as "not-found" on demand.
func (p *fakeProperties) Get(msg dbus.Message, iface, property string) (dbus.Variant, *dbus.Error) {
	f := p.f
	f.mu.Lock()
	defer f.mu.Unlock()

	objPath, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	name := unescapeUnit(path.Base(string(objPath)))
	f.record("Get %s %s.%s", name, iface, property)

	if iface != "org.freedesktop.systemd1.Unit" || property != "ConsistsOf" {
		return dbus.Variant{}, &dbus.Error{
			Name: "org.freedesktop.DBus.Error.UnknownProperty",
			Body: []any{"Unknown property " + property},
		}
	}

	members := []string{}
	if u, ok := f.units[name]; ok && u.consistsOf != nil {
		members = u.consistsOf
	}
	return dbus.MakeVariant(members), nil
}

// unescapeUnit reverses sd.PathBusEscape: "_2e" becomes ".".
func unescapeUnit(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && i+2 < len(s) {
			if c, err := hex.DecodeString(s[i+1 : i+3]); err == nil {
				b.Write(c)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestUnescapeUnit(t *testing.T) {
	for _, name := range []string{"greengrass-lite.target", "ggl.core.iotcored.service",
		"ggl.gg_fleetprovisioning.service", "getty@tty1.service"} {
		if got := unescapeUnit(sd.PathBusEscape(name)); got != name {
			t.Errorf("unescapeUnit(PathBusEscape(%q)) = %q; want %q", name, got, name)
		}
	}
}
