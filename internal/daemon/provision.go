package daemon

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/identity"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/notify"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/provision"
)

// ProvisionOptions maps the configuration and the device ID onto the
// options of the provisioning client, with progress sent to n as systemd
// status lines and n's watchdog kept alive. Benchmarks use it to run the
// client exactly as the daemon does.
func ProvisionOptions(cfg *ggconfig.Config, deviceID string, n *notify.Notifier, log *zap.Logger) provision.Options {
	f := cfg.Fleet
	return provision.Options{
		Endpoint:       cfg.DataEndpoint(),
		Port:           f.MQTTPort,
		ALPN:           f.ALPN,
		RootCAPath:     f.RootCAPath,
		UseSystemRoots: f.UseSystemRoots,
		ClaimCertPath:  f.ClaimCertPath,
		ClaimKeyPath:   f.ClaimKeyPath,
		ClientID:       deviceID,
		TemplateName:   f.TemplateName,
		Params:         cfg.Params(deviceID),
		CSRCommonName:  commonName(f.CSRCommonName, deviceID),
		KeyType:        provision.KeyType(f.KeyType),
		ProxyURL:       cfg.Nucleus.ProxyURL,
		NoProxy:        cfg.Nucleus.NoProxy,

		ResponseTimeout: f.ResponseTimeout,
		Retry: provision.RetryPolicy{
			TransientMax: f.RetryMaxDelay,
			RejectedMax:  f.RejectedRetryMaxDelay,
			MaxAttempts:  f.MaxAttempts,
		},
		Logger:        log,
		Progress:      func(ev provision.Event) { n.Status(statusLine(ev)) },
		Alive:         n.Alive,
		AliveInterval: n.AliveInterval(),
	}
}

func statusLine(ev provision.Event) string {
	s := fmt.Sprintf("%s, attempt %d", ev.Step, ev.Attempt)
	if ev.NextDelay > 0 {
		s += fmt.Sprintf(", next try in %s", ev.NextDelay.Round(time.Second))
	}
	if ev.Err != nil {
		s += fmt.Sprintf(", last error: %v", ev.Err)
	}
	return s
}

// provisionAndInstall obtains a new identity from the cloud and installs it.
func provisionAndInstall(ctx context.Context, cfg *ggconfig.Config, id identity.Result, o Options, log *zap.Logger) error {
	if err := Preflight(cfg, log); err != nil {
		return err
	}
	log.Info("provisioning started",
		zap.String("template", cfg.Fleet.TemplateName),
		zap.String("endpoint", cfg.DataEndpoint()))

	res, err := provision.Run(ctx, ProvisionOptions(cfg, id.ID, o.Notifier, log))
	if err != nil {
		return fmt.Errorf("fleet provisioning: %w", err)
	}
	log = log.With(zap.String("thing-name", res.ThingName))

	if err := installIdentity(ctx, cfg, id, res, o, log); err != nil {
		return err
	}
	return restartUnits(ctx, cfg, o, log)
}

// commonName returns the CSR's subject CN: the configured one, else the
// device ID cut to the 64 characters that X.509 allows in a CN. AWS IoT
// does not read the CN, so a cut ID is harmless.
func commonName(configured, deviceID string) string {
	if configured != "" || len(deviceID) <= 64 {
		return configured
	}
	return deviceID[:64]
}
