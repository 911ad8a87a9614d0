package provision

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// proxyFor returns the HTTP proxy to reach host:port through, or nil for a
// direct connection. An empty proxyURL or noProxy falls back to the
// environment (HTTPS_PROXY, https_proxy, NO_PROXY, no_proxy).
//
// noProxy follows the matching rules of golang.org/x/net/http/httpproxy:
// comma-separated entries, "*" for all hosts, IP addresses, CIDR ranges, and
// host names with an optional ":port". "example.com" matches the name and its
// subdomains, ".example.com" only the subdomains. Unlike httpproxy, and like
// curl, localhost is not exempt by itself: list it in noProxy. That module is
// not used because its IDNA support needs golang.org/x/text.
func proxyFor(proxyURL, noProxy, host string, port int) (*url.URL, error) {
	if proxyURL == "" {
		proxyURL = envAny("HTTPS_PROXY", "https_proxy")
	}
	if noProxy == "" {
		noProxy = envAny("NO_PROXY", "no_proxy")
	}
	if proxyURL == "" || bypassProxy(noProxy, host, port) {
		return nil, nil
	}
	return parseProxyURL(proxyURL)
}

func envAny(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// parseProxyURL parses an http:// proxy URL; a bare "host:port" means http.
func parseProxyURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("proxy URL %q is invalid: want http://host:port",
			redactURL(raw))
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("proxy URL %q is invalid: only http:// proxies are supported",
			u.Redacted())
	}
	return u, nil
}

// redactURL returns raw with any password replaced, for messages and logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// bypassProxy reports whether host:port is reached directly under noProxy.
func bypassProxy(noProxy, host string, port int) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	ip := net.ParseIP(host)

	for _, entry := range strings.Split(noProxy, ",") {
		entry = strings.ToLower(strings.TrimSpace(entry))
		if entry != "" && noProxyEntryMatches(entry, host, ip, port) {
			return true
		}
	}
	return false
}

func noProxyEntryMatches(entry, host string, ip net.IP, port int) bool {
	if entry == "*" {
		return true
	}
	if _, cidr, err := net.ParseCIDR(entry); err == nil {
		return ip != nil && cidr.Contains(ip)
	}

	name, entryPort := entry, ""
	if h, p, err := net.SplitHostPort(entry); err == nil {
		name, entryPort = h, p
	}
	if entryPort != "" && entryPort != strconv.Itoa(port) {
		return false
	}

	if entryIP := net.ParseIP(name); entryIP != nil {
		return ip != nil && entryIP.Equal(ip)
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "*"), ".")
	if strings.HasPrefix(name, ".") {
		return strings.HasSuffix(host, name)
	}
	return host == name || strings.HasSuffix(host, "."+name)
}
