package identity

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"sort"
	"strings"

	"go.uber.org/zap"
)

// maxAttrLen bounds a sysfs attribute read; the kernel never returns more
// than one page.
const maxAttrLen = 4096

// arphrdEther is ARPHRD_ETHER from <linux/if_arp.h>, the "type" of Ethernet
// and Wi-Fi interfaces.
const arphrdEther = "1"

// addrAssignTypes names the values of addr_assign_type (NET_ADDR_* in
// <linux/netdevice.h>). Only 0, a permanent address, identifies the device.
var addrAssignTypes = map[string]string{
	"1": "random",
	"2": "stolen from another device",
	"3": "set by software",
}

// nic is a physical network interface with a usable MAC.
type nic struct {
	name       string
	devicePath string // resolved path of the device link
	wireless   bool
	mac        net.HardwareAddr
}

// probeMAC returns the MAC of the first usable interface: wired before
// wireless, then by the path of the parent device, which does not change
// when udev or the kernel renames the interface (eth0 to end0), then by name.
func (p *Prober) probeMAC(t *tree) (candidate, error) {
	names, err := t.readDirNames("sys/class/net")
	if err != nil {
		return candidate{}, err
	}

	var nics []nic
	var rejected []string
	for _, name := range names {
		n, err := inspectNIC(t, name)
		if err != nil {
			p.logger().Debug("network interface skipped",
				zap.String("interface", name), zap.Error(err))
			rejected = append(rejected, name+": "+err.Error())
			continue
		}
		nics = append(nics, n)
	}
	if len(nics) == 0 {
		return candidate{}, noNICError(rejected)
	}

	sort.Slice(nics, func(i, j int) bool { return nicLess(nics[i], nics[j]) })
	id := hex.EncodeToString(nics[0].mac)
	return candidate{id: id, text: id}, nil
}

func noNICError(rejected []string) error {
	if len(rejected) == 0 {
		return absentf("no network interfaces")
	}
	return absentf("no physical interface with a permanent, globally "+
		"administered MAC (%s)", strings.Join(rejected, "; "))
}

func nicLess(a, b nic) bool {
	if a.wireless != b.wireless {
		return !a.wireless
	}
	if a.devicePath != b.devicePath {
		return a.devicePath < b.devicePath
	}
	return a.name < b.name
}

// inspectNIC returns interface name, or an absent error saying why it does
// not qualify.
func inspectNIC(t *tree, name string) (nic, error) {
	dir, err := t.resolve("sys/class/net/"+name, true)
	if err != nil {
		return nic{}, err
	}
	// Bridges, bonds, veth pairs, tunnels and loopback live here, with
	// addresses that are copied or change from boot to boot.
	if strings.HasPrefix(dir+"/", "sys/devices/virtual/") {
		return nic{}, absentf("virtual interface")
	}
	devicePath, err := t.resolve(dir+"/device", true)
	if err != nil {
		return nic{}, absentf("no parent device")
	}

	if err := checkEtherType(t, dir); err != nil {
		return nic{}, err
	}
	if err := checkAddrAssignType(t, dir); err != nil {
		return nic{}, err
	}
	mac, err := readMAC(t, dir+"/address")
	if err != nil {
		return nic{}, err
	}

	wireless := t.exists(dir+"/wireless", false) ||
		t.exists(dir+"/phy80211", false)
	return nic{name: name, devicePath: devicePath, wireless: wireless,
		mac: mac}, nil
}

func readAttr(t *tree, name string) (string, error) {
	data, err := t.readFile(name, maxAttrLen)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

func checkEtherType(t *tree, dir string) error {
	got, err := readAttr(t, dir+"/type")
	if err != nil {
		return err
	}
	if got != arphrdEther {
		return absentf("type %q is not Ethernet (%s)", got, arphrdEther)
	}
	return nil
}

// checkAddrAssignType accepts a permanent address. Kernels before 3.2 have
// no addr_assign_type file, so their address is taken as permanent.
//
// NOTE: a bonded port whose address the bond replaced reports 3 and is
// skipped. Its permanent address is only available through the
// ETHTOOL_GPERMADDR ioctl, which is not queried.
func checkAddrAssignType(t *tree, dir string) error {
	got, err := readAttr(t, dir+"/addr_assign_type")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if got == "0" {
		return nil
	}

	kind, ok := addrAssignTypes[got]
	if !ok {
		kind = "unknown kind"
	}
	return absentf("address is not permanent (addr_assign_type %q, %s)",
		got, kind)
}

func readMAC(t *tree, name string) (net.HardwareAddr, error) {
	text, err := readAttr(t, name)
	if err != nil {
		return nil, err
	}
	mac, err := net.ParseMAC(text)
	if err != nil || len(mac) != 6 {
		return nil, absentf("address %q is not a 48-bit MAC", text)
	}
	if err := checkMAC(mac); err != nil {
		return nil, err
	}
	return mac, nil
}

func checkMAC(mac net.HardwareAddr) error {
	switch {
	case bytes.Equal(mac, make([]byte, 6)):
		return absentf("address %s is all zeros", mac)
	case bytes.Equal(mac, bytes.Repeat([]byte{0xff}, 6)):
		return absentf("address %s is the broadcast address", mac)
	case mac[0]&1 != 0:
		return absentf("address %s is a multicast address", mac)
	case mac[0]&2 != 0:
		return absentf("address %s is locally administered", mac)
	}
	return nil
}
