package identity

import (
	"strings"
	"testing"
)

const pciDev = "pci0000:00/0000:00:1c.0/0000:01:00.0"

func TestProbeMACRejects(t *testing.T) {
	tests := []struct {
		name   string
		nic    iface
		reason string
	}{
		{name: "virtual-bridge",
			nic:    iface{name: "br0", typ: "1", assign: "3", addr: "00:1b:21:aa:bb:cc"},
			reason: "br0: virtual interface"},
		{name: "veth",
			nic:    iface{name: "veth9f3e", typ: "1", assign: "1", addr: "00:1b:21:aa:bb:cc"},
			reason: "veth9f3e: virtual interface"},
		{name: "not-ethernet",
			nic: iface{name: "ib0", dev: pciDev, typ: "32", assign: "0",
				addr: "00:1b:21:aa:bb:cc"},
			reason: `ib0: type "32" is not Ethernet (1)`},
		{name: "random",
			nic: iface{name: "eth0", dev: pciDev, typ: "1", assign: "1",
				addr: "00:1b:21:aa:bb:cc"},
			reason: `addr_assign_type "1", random`},
		{name: "stolen",
			nic: iface{name: "eth0", dev: pciDev, typ: "1", assign: "2",
				addr: "00:1b:21:aa:bb:cc"},
			reason: `addr_assign_type "2", stolen from another device`},
		{name: "set",
			nic: iface{name: "eth0", dev: pciDev, typ: "1", assign: "3",
				addr: "00:1b:21:aa:bb:cc"},
			reason: `addr_assign_type "3", set by software`},
		{name: "all-zero",
			nic: iface{name: "eth0", dev: pciDev, typ: "1", assign: "0",
				addr: "00:00:00:00:00:00"},
			reason: "00:00:00:00:00:00 is all zeros"},
		{name: "broadcast",
			nic: iface{name: "eth0", dev: pciDev, typ: "1", assign: "0",
				addr: "ff:ff:ff:ff:ff:ff"},
			reason: "is the broadcast address"},
		{name: "multicast",
			nic: iface{name: "eth0", dev: pciDev, typ: "1", assign: "0",
				addr: "01:00:5e:00:00:fb"},
			reason: "is a multicast address"},
		{name: "locally-administered",
			nic: iface{name: "eth0", dev: pciDev, typ: "1", assign: "0",
				addr: "02:42:ac:11:00:02"},
			reason: "is locally administered"},
		{name: "not-a-mac",
			nic: iface{name: "eth0", dev: pciDev, typ: "1", assign: "0",
				addr: "garbage"},
			reason: `address "garbage" is not a 48-bit MAC`},
		{name: "infiniband-length",
			nic: iface{name: "eth0", dev: pciDev, typ: "1", assign: "0",
				addr: "00:00:00:00:fe:80:00:00:00:00:00:00:00:00:00:00:00:00:00:00"},
			reason: "is not a 48-bit MAC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRoot(t)
			r.nic(tt.nic)
			p := &Prober{Root: r.dir, Sources: []Source{SourceMAC}}

			got, err := p.Probe()
			if err == nil {
				t.Fatalf("Probe() = %q; want no MAC", got.ID)
			}
			if len(got.Skipped) != 1 ||
				!strings.Contains(got.Skipped[0].Reason, tt.reason) {
				t.Errorf("Probe() skipped %+v; want a reason containing %q",
					got.Skipped, tt.reason)
			}
		})
	}
}

func TestProbeMACNoDeviceLink(t *testing.T) {
	r := newRoot(t)
	r.nic(iface{name: "tun0", dev: "platform/tun", typ: "1", assign: "0",
		addr: "00:1b:21:aa:bb:cd"})
	removeLink(t, r, "sys/devices/platform/tun/net/tun0/device")
	p := &Prober{Root: r.dir, Sources: []Source{SourceMAC}}

	got, err := p.Probe()
	if err == nil {
		t.Fatalf("Probe() = %q; want no MAC", got.ID)
	}
	want := "tun0: no parent device"
	if !strings.Contains(got.Skipped[0].Reason, want) {
		t.Errorf("Probe() skip reason = %q; want it to contain %q",
			got.Skipped[0].Reason, want)
	}
}

func TestProbeMACAssignTypeMissing(t *testing.T) {
	r := newRoot(t)
	r.nic(iface{name: "eth0", dev: pciDev, typ: "1", addr: "00:1B:21:AA:BB:CC"})
	p := &Prober{Root: r.dir, Sources: []Source{SourceMAC}}

	got, err := p.Probe()
	if err != nil {
		t.Fatalf("Probe() failed: %v", err)
	}
	if got.ID != "001b21aabbcc" {
		t.Errorf("Probe() = %q; want %q", got.ID, "001b21aabbcc")
	}
}

func TestProbeMACOrder(t *testing.T) {
	wifiA := iface{name: "wlan0", dev: "platform/soc/a.mmc", typ: "1",
		assign: "0", addr: "00:0a:00:00:00:01", wlan: "wireless"}
	wifiB := iface{name: "wlan0", dev: "platform/soc/a.mmc", typ: "1",
		assign: "0", addr: "00:0a:00:00:00:01", wlan: "phy80211"}
	wired := iface{name: "eth9", dev: "platform/soc/z.ethernet", typ: "1",
		assign: "0", addr: "00:0b:00:00:00:02"}
	low := iface{name: "eth1", dev: "platform/fe010000.ethernet", typ: "1",
		assign: "0", addr: "00:0c:00:00:00:03"}
	high := iface{name: "eth0", dev: "platform/fe2a0000.ethernet", typ: "1",
		assign: "0", addr: "00:0c:00:00:00:04"}
	tests := []struct {
		name string
		nics []iface
		want string
	}{
		{name: "wired-before-wireless-dir", nics: []iface{wifiA, wired},
			want: "000b00000002"},
		{name: "wired-before-phy80211", nics: []iface{wifiB, wired},
			want: "000b00000002"},
		{name: "wireless-alone", nics: []iface{wifiB}, want: "000a00000001"},
		{name: "device-path-before-name", nics: []iface{high, low},
			want: "000c00000003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRoot(t)
			for _, n := range tt.nics {
				r.nic(n)
			}
			p := &Prober{Root: r.dir, Sources: []Source{SourceMAC}}

			got, err := p.Probe()
			if err != nil {
				t.Fatalf("Probe() failed: %v", err)
			}
			if got.ID != tt.want {
				t.Errorf("Probe() = %q; want %q", got.ID, tt.want)
			}
		})
	}
}

func TestProbeMACSameDevicePath(t *testing.T) {
	// Two ports of one device share its path; the name decides.
	r := newRoot(t)
	r.nic(iface{name: "eth1", dev: "platform/soc/dsa", typ: "1", assign: "0",
		addr: "00:0d:00:00:00:02"})
	r.nic(iface{name: "eth0", dev: "platform/soc/dsa", typ: "1", assign: "0",
		addr: "00:0d:00:00:00:01"})
	// Both links point to the same device directory.
	p := &Prober{Root: r.dir, Sources: []Source{SourceMAC}}

	got, err := p.Probe()
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "000d00000001" {
		t.Errorf("Probe() = %q; want %q", got.ID, "000d00000001")
	}
}

func TestProbeMACRenames(t *testing.T) {
	tests := []struct {
		name    string
		board   string
		renames [][2]string
	}{
		{name: "eth0-to-end0", board: "imx8",
			renames: [][2]string{{"end0", "eth0"}}},
		{name: "swapped-names", board: "rk3568-dual-gmac",
			renames: [][2]string{{"eth0", "tmp"}, {"eth1", "eth0"},
				{"tmp", "eth1"}}},
		{name: "enx-name", board: "raspberry-pi-4",
			renames: [][2]string{{"eth0", "enxdca6324b7e10"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := (&Prober{Root: boardsDir + "/" + tt.board,
				Sources: []Source{SourceMAC}}).Probe()
			if err != nil {
				t.Fatal(err)
			}

			r := copyBoard(t, tt.board)
			for _, rn := range tt.renames {
				r.rename(rn[0], rn[1])
			}
			after, err := (&Prober{Root: r.dir,
				Sources: []Source{SourceMAC}}).Probe()
			if err != nil {
				t.Fatal(err)
			}
			if after.ID != before.ID {
				t.Errorf("Probe() after rename = %q; want %q", after.ID,
					before.ID)
			}
		})
	}
}

func TestProbeMACNoInterfaces(t *testing.T) {
	r := newRoot(t)
	r.mkdir("sys/class/net")
	p := &Prober{Root: r.dir, Sources: []Source{SourceMAC}}

	got, err := p.Probe()
	if err == nil {
		t.Fatalf("Probe() = %q; want an error", got.ID)
	}
	if got.ID != "" || got.Skipped[0].Reason != "no network interfaces" {
		t.Errorf("Probe() = %+v; want no ID, reason %q", got,
			"no network interfaces")
	}
}
