package provision

import (
	"strings"
	"testing"
	"time"
)

func validOptions() Options {
	return Options{
		Endpoint:      "abc-ats.iot.eu-west-1.amazonaws.com",
		RootCAPath:    "/ca.pem",
		ClaimCertPath: "/claim.pem",
		ClaimKeyPath:  "/claim.key",
		ClientID:      "device-1",
		TemplateName:  "FleetTemplate",
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name     string
		change   func(o *Options)
		wantText string // "" for valid
	}{
		{"valid", func(o *Options) {}, ""},
		{"ip-endpoint", func(o *Options) { o.Endpoint = "127.0.0.1" }, ""},
		{"keepalive-bounds", func(o *Options) { o.Keepalive = 1200 * time.Second }, ""},
		{"endpoint-missing", func(o *Options) { o.Endpoint = "" }, "endpoint is missing"},
		{"endpoint-with-port", func(o *Options) { o.Endpoint = "host:8883" },
			"without port or scheme"},
		{"port-out-of-range", func(o *Options) { o.Port = 70000 }, "port 70000"},
		{"client-id-dollar", func(o *Options) { o.ClientID = "$aws" }, "leading $"},
		{"client-id-long", func(o *Options) { o.ClientID = strings.Repeat("a", 129) },
			"129 bytes"},
		{"client-id-space", func(o *Options) { o.ClientID = "a b" }, "printable"},
		{"client-id-missing", func(o *Options) { o.ClientID = "" }, "client ID is missing"},
		{"template-space", func(o *Options) { o.TemplateName = "my template" },
			"template name"},
		{"template-long", func(o *Options) { o.TemplateName = strings.Repeat("t", 37) },
			"template name"},
		{"keepalive-short", func(o *Options) { o.Keepalive = 10 * time.Second },
			"keepalive"},
		{"keepalive-long", func(o *Options) { o.Keepalive = 1201 * time.Second },
			"keepalive"},
		{"keepalive-fraction", func(o *Options) { o.Keepalive = 45500 * time.Millisecond },
			"whole seconds"},
		{"key-type", func(o *Options) { o.KeyType = "dsa-1024" }, "key type"},
		{"claim-key-missing", func(o *Options) { o.ClaimKeyPath = "" },
			"claim key path is missing"},
		{"negative-timeout", func(o *Options) { o.ResponseTimeout = -time.Second },
			"response timeout"},
		{"negative-attempts", func(o *Options) { o.Retry.MaxAttempts = -1 },
			"max attempts"},
		{"negative-throttle-max", func(o *Options) { o.Retry.ThrottleMax = -time.Second },
			"throttle retry max delay"},
		{"negative-throttle-retries", func(o *Options) { o.Retry.ThrottleRetries = -1 },
			"throttle retries"},
		{"common-name-long", func(o *Options) { o.CSRCommonName = strings.Repeat("c", 65) },
			"common name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions()
			tt.change(&o)
			o = o.withDefaults()
			err := o.validate()
			if tt.wantText == "" {
				if err != nil {
					t.Fatalf("validate() error = %v; want nil", err)
				}
				return
			}
			if !IsLocalConfig(err) {
				t.Errorf("IsLocalConfig(%v) = false; want true", err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("validate() error = %v; want it to contain %q", err, tt.wantText)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := validOptions().withDefaults()
	checks := []struct {
		name      string
		got, want any
	}{
		{"Port", o.Port, DefaultPort},
		{"KeyType", o.KeyType, KeyECP256},
		{"CSRCommonName", o.CSRCommonName, "device-1"},
		{"ResponseTimeout", o.ResponseTimeout, 30 * time.Second},
		{"Keepalive", o.Keepalive, 60 * time.Second},
		{"TransientMax", o.Retry.TransientMax, 5 * time.Minute},
		{"RejectedMax", o.Retry.RejectedMax, time.Hour},
		{"MinReconnect", o.Retry.MinReconnect, 10 * time.Second},
		{"MaxAttempts", o.Retry.MaxAttempts, 0},
		{"ThrottleBase", o.Retry.ThrottleBase, 500 * time.Millisecond},
		{"ThrottleMax", o.Retry.ThrottleMax, 2 * time.Second},
		{"ThrottleRetries", o.Retry.ThrottleRetries, 2000},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default %s = %v; want %v", c.name, c.got, c.want)
		}
	}
}
